#!/bin/bash
# examples/systemd/mmhint.conf, the drop-in docs/SERVICES.md describes, is a
# valid drop-in: systemd-analyze verify accepts a service that uses it, and
# the environment it gives the service is the library's (LD_PRELOAD,
# MMHINT_CONFIG, MMHINT_STATS with the library's own %e.%p).  The timer and
# service that write the Prometheus textfile (mmhint-textfile.*) verify too,
# with the command pointed at this checkout's.  Skipped where
# systemd is not installed (it is not installed for this test).
source "$(dirname "$0")/lib.sh"
mh_init systemd_dropin
dpkg -s systemd >/dev/null 2>&1 || command -v systemd-analyze >/dev/null ||
  mh_skip "systemd is not installed (dpkg -s systemd), so systemd-analyze cannot check the drop-in"
mh_need_cmd systemd-analyze
dropin=$MH_SRC/examples/systemd/mmhint.conf
units=$MH_TMP/units
mkdir -p "$units/mmhint-check.service.d"
cat > "$units/mmhint-check.service" <<UNIT
[Unit]
Description=A service run under libmmhint (test of the drop-in)
[Service]
Type=oneshot
ExecStart=/bin/true
UNIT
cp "$dropin" "$units/mmhint-check.service.d/mmhint.conf"
if ! SYSTEMD_UNIT_PATH=$units: systemd-analyze verify --man=no "$units/mmhint-check.service" \
    >"$MH_TMP/verify.out" 2>&1; then
  mh_fail "systemd-analyze verify rejects the drop-in: $(head -5 "$MH_TMP/verify.out")"
fi
grep -i "mmhint.conf" "$MH_TMP/verify.out" && mh_fail "systemd-analyze verify warns about the drop-in"

# The textfile timer and its service; verify needs ExecStart's program to exist.
sed "s#/usr/bin/mmhint #$MH_SRC/scripts/mmhint #" "$MH_SRC/examples/systemd/mmhint-textfile.service" \
  > "$units/mmhint-textfile.service"
cp "$MH_SRC/examples/systemd/mmhint-textfile.timer" "$units/"
if ! SYSTEMD_UNIT_PATH=$units: systemd-analyze verify --man=no "$units/mmhint-textfile.timer" \
    "$units/mmhint-textfile.service" >"$MH_TMP/verify-timer.out" 2>&1 ||
    grep -q "mmhint-textfile" "$MH_TMP/verify-timer.out"; then
  mh_fail "systemd-analyze verify: mmhint-textfile units: $(head -5 "$MH_TMP/verify-timer.out")"
fi

# The settings docs/SERVICES.md explains, as the file has them.
settings=$(sed -n 's/^Environment=//p; /^StateDirectory=/p' "$dropin")
for want in "LD_PRELOAD=libmmhint.so.0" "MMHINT_CONFIG=/etc/mmhint/%N.conf" \
    "MMHINT_STATS=/var/lib/mmhint/%N/%%e.%%p.json" "StateDirectory=mmhint/%N"; do
  grep -qxF -- "$want" <<< "$settings" || mh_fail "the drop-in does not set $want"
done
mh_done
