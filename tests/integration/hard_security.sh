#!/bin/bash
# Hardening, security (DESIGN invariant 9), what stats_file_safety.sh does not
# already cover:
#   1. secure execution (AT_SECURE): the loader ignores LD_PRELOAD for a
#      setgid program, so a test program linked against libmmhint.so
#      (DT_NEEDED, absolute RPATH: loaded even when secure) is made setgid
#      'daemon' and run as nobody:nogroup (setpriv).  With MMHINT_STATS,
#      MMHINT_VERBOSE=1, MMHINT_READ_MMAP=on and MMHINT_CONFIG in its
#      environment, the shim must read none of them: no stats file, no
#      verbose lines, no config file opened.  The same binary without the
#      setgid bit (not secure) is the positive control: there the same
#      environment must write a stats file and print the verbose lines.
#   2. `scripts/mmhint run` with an LD_PRELOAD already set keeps the other
#      library (it appends) and the program sees both loaded.
#   3. Under AGGR (read_mmap=on, huge pages...) and umask 000, the stats
#      file is still 0600 and holds none of the contents read (through the
#      read->mmap path, which stats_file_safety.sh does not turn on).
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_security
mh_need_cmd gcc setpriv
D=$MH_TMP
chmod 755 "$D"
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K)

# ---- 1. AT_SECURE ----------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  mh_note "SKIP secure execution: needs root to make a setgid binary and switch to nobody"
elif [ "$(findmnt -no OPTIONS -T "$D" | grep -c nosuid)" != 0 ]; then
  mh_note "SKIP secure execution: $D is mounted nosuid"
else
  L=$D/lib
  mkdir -p "$L" "$D/st.secure" "$D/st.plain"
  cp "$MH_LIB" "$L/libmmhint.so"
  # The program names the library by its soname (NEEDED libmmhint.so.0).
  ln -s libmmhint.so "$L/libmmhint.so.0"
  chmod 755 "$L" && chmod 644 "$L/libmmhint.so"
  cat >"$D/sec.c" <<'EOF'
#include <fcntl.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <unistd.h>
const char *mmhint_version(void);
int main(int argc, char **argv) {
  char buf[4096];
  long n = 0, r;
  int fd = open(argv[1], O_RDONLY);
  while (fd >= 0 && (r = read(fd, buf, sizeof buf)) > 0) n += r;
  printf("secure=%lu read=%ld mmhint=%s\n", getauxval(AT_SECURE), n, mmhint_version());
  return 0;
}
EOF
  if gcc -O1 "$D/sec.c" -o "$D/sec" -L"$L" -lmmhint -Wl,-rpath,"$L" -Wl,--no-as-needed 2>"$D/sec.build"; then
    cp "$D/sec" "$D/sec.setgid"
    chgrp daemon "$D/sec.setgid" && chmod 2755 "$D/sec.setgid"
    chmod 755 "$D/sec"
    seq 1 3000 >"$D/input" && chmod 644 "$D/input"
    chmod 777 "$D/st.secure" "$D/st.plain"
    # A config file the secure run must not read (it would turn stats on too).
    printf 'stats = %s/st.secure/fromconf.%%p.json\nverbose = 1\n' "$D" >"$D/evil.conf"
    chmod 644 "$D/evil.conf"
    for kind in setgid plain; do
      st=$D/st.secure bin=$D/sec.setgid
      [ $kind = plain ] && st=$D/st.plain bin=$D/sec
      setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH=/usr/bin:/bin \
        MMHINT_STATS="$st/" MMHINT_VERBOSE=1 MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 \
        MMHINT_CONFIG="$D/evil.conf" "$bin" "$D/input" >"$D/$kind.out" 2>"$D/$kind.err"
      echo $? >"$D/$kind.rc"
    done
    mh_expect_eq "secure: exit status" "$(cat "$D/setgid.rc")" 0
    mh_expect_eq "secure: the loader ran it securely with the shim loaded" "$(head -1 "$D/setgid.out" | sed 's/mmhint=.*/mmhint=/')" "secure=1 read=$(wc -c <"$D/input") mmhint="
    mh_expect_eq "control: not secure, shim loaded" "$(head -1 "$D/plain.out" | sed 's/mmhint=.*/mmhint=/')" "secure=0 read=$(wc -c <"$D/input") mmhint="
    # The control proves the environment would have acted.
    [ -n "$(mh_stats_files "$D/st.plain")" ] || mh_fail "control: no stats file (the environment did not act; the secure case proves nothing)"
    grep -q '^mmhint' "$D/plain.err" || mh_fail "control: MMHINT_VERBOSE=1 printed nothing"
    # The secure run: nothing from the environment.
    left=$(ls -A "$D/st.secure")
    [ -z "$left" ] || mh_fail "secure: the shim wrote into MMHINT_STATS (or the config's stats path): $left"
    [ -s "$D/setgid.err" ] && mh_fail "secure: the shim printed (MMHINT_VERBOSE honoured?): $(head -2 "$D/setgid.err")"
    mh_note "secure run: $(head -1 "$D/setgid.out"); stats files: $(ls -A "$D/st.secure" | wc -l); stderr bytes: $(wc -c <"$D/setgid.err")"
    mh_note "control run: $(head -1 "$D/plain.out"); stats files: $(mh_stats_files "$D/st.plain" | wc -l); verbose lines: $(grep -c '^mmhint' "$D/plain.err")"
  else
    mh_fail "cannot link a program against libmmhint.so: $(head -3 "$D/sec.build")"
  fi
fi

# ---- 2. mmhint run keeps an existing LD_PRELOAD ---------------------------------------------
MM=$MH_SRC/scripts/mmhint
if [ -x "$MM" ] || [ -f "$MM" ]; then
  printf 'int hard_security_other_lib(void) { return 7; }\n' >"$D/other.c"
  gcc -shared -fPIC "$D/other.c" -o "$D/libother.so"
  mkdir -p "$D/st.run"
  out=$(cd "$D" && env LD_PRELOAD="$D/libother.so" MMHINT_LIB="$MH_LIB" "$MH_PYTHON" "$MM" run --stats "$D/st.run/" -- \
    bash -c 'echo "LD_PRELOAD=$LD_PRELOAD"; grep -c -e libother.so -e libmmhint.so /proc/$$/maps | head -1; grep -o "lib[a-z]*\.so" /proc/$$/maps | sort -u | grep -c -x -e libother.so -e libmmhint.so' 2>&1)
  pre=$(sed -n 's/^LD_PRELOAD=//p' <<<"$out")
  case " ${pre//:/ } " in
    *" $D/libother.so "*) ;;
    *) mh_fail "mmhint run dropped the existing LD_PRELOAD: '$pre'" ;;
  esac
  case " ${pre//:/ } " in
    *"libmmhint.so "*) ;;
    *) mh_fail "mmhint run did not add libmmhint.so: '$pre'" ;;
  esac
  [ "$(tail -1 <<<"$out")" = 2 ] || mh_fail "mmhint run: the program does not have both libraries mapped: $out"
  [ -n "$(mh_stats_files "$D/st.run")" ] || mh_fail "mmhint run: no stats file"
  mh_note "mmhint run: LD_PRELOAD=$pre"
else
  mh_note "SKIP mmhint run: $MM missing"
fi

# ---- 3. Stats file mode and contents under AGGR ----------------------------------------------
MARK=HARDSECMARKER$RANDOM$RANDOM
{ for i in $(seq 1 2000); do echo "$MARK line $i"; done; } >"$D/secret"
mkdir -p "$D/st.aggr"
for prog in cat sort md5sum; do
  (umask 000 && env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$D/st.aggr/" $prog "$D/secret" >/dev/null)
done
n=0
for f in $(mh_stats_files "$D/st.aggr"); do
  n=$((n + 1))
  mh_expect_eq "$(basename "$f"): mode" "$(stat -c %a "$f")" 600
  grep -q "$MARK" "$f" && mh_fail "$(basename "$f") holds file contents"
done
mh_expect_eq "stats files under AGGR" "$n" 3

mh_done
