#!/bin/bash
# A prefetch that fails stops, is counted and never turns into a retry storm,
# and the program is unharmed (issue 15, "Bad input"; docs/HINTS.md, "The job"):
#   1. EIO: a FUSE file (tests/programs/eio_fs.py, on Debian's python3-fusepy)
#      of 32 MiB whose reads fail with EIO in [24 MiB, 28 MiB), as a failing
#      disk's would.  A reader of random pages of its first 16 MiB gets the same
#      output and exit status as without the shim; under prefetch=whole the job
#      ends `incomplete` with the rest resident, it retried the bad range once,
#      and the server saw that range asked for at most twice (the bytes of its
#      failed requests are between 1 and 2 times the range, plus a request's
#      rounding at each end: the kernel keeps a failed page in the cache, not
#      up to date, and the retry's readahead may skip it); without the shim it
#      saw none;
#   2. memory pressure: a 192 MiB file read in a memory cgroup limited to
#      48 MiB (v1 or v2).  The default prefetch_max follows the cgroup's room,
#      not the machine's MemAvailable: too_large, nothing asked.  With
#      prefetch_max=1G forced, one pass and no retry (less than half of it
#      stayed: asking again would only push out what is there), `incomplete`,
#      and the reader's output as without the shim.
# The reader keeps the file open until the job has ended: the test polls the
# statistics snapshots (stats_interval=1) for the job's end, then lets it go.
# Nothing here checks a time.
set -u
. "$(dirname "$0")/lib.sh"
mh_init prefetch_failures
PROG=$MMHINT_BUILD_DIR/tests/programs/prefetch_reader
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build first)"; exit 1; }
[ "$(id -u)" = 0 ] || mh_skip "needs root (a FUSE mount, a memory cgroup)"
D=$MH_TMP
MNT=$D/mnt
CG=
cleanup() {
  if [ -n "${FS_PID:-}" ]; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
    wait "$FS_PID" 2>/dev/null
  fi
  [ -n "$CG" ] && [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
  chmod -R u+rwx "$MH_TMP" 2>/dev/null
  rm -rf "$MH_TMP"
}
trap cleanup EXIT
"$PROG" resident "$PROG" >/dev/null || mh_skip "cachestat(2) is not available here"

# pf STATS KEY: prefetch.KEY (or prefetch.fallbacks.KEY, or the file's counter KEY) of FILE in STATS.
pf() {
  "$MH_PYTHON" - "$1" "$2" "$3" <<'PYEOF'
import json, os, sys
try:
    d = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("NOSTATS")
    sys.exit(0)
want = os.path.realpath(sys.argv[2])
for f in d.get("files", []):
    if want in [os.path.realpath(p) for p in f.get("paths", [])]:
        p = f.get("prefetch") or {}
        k = sys.argv[3]
        v = f[k] if k in f else p.get(k, (p.get("fallbacks") or {}).get(k, "MISSING"))
        print(json.dumps(v))
        break
else:
    print("NOFILE")
PYEOF
}

# in_cg CG CMD...: runs CMD in the cgroup CG (empty: where the test runs); the shim only starts
# with CMD (the shell that moves itself into the cgroup runs without it).
in_cg() {
  local cg=$1
  shift
  if [ -n "$cg" ]; then
    sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg" "$@"
  else
    "$@"
  fi
}

# run_held CG DIR FILE LEN STATS ENV...: the reader (in cgroup CG, or here) under the shim with
# snapshots, let go once the snapshot says the file's job ended (completed, stopped or failed) or
# that no job was started (a fallback).
run_held() {
  local cg=$1 dir=$2 file=$3 len=$4 stats=$5 i v
  shift 5
  mkdir -p "$dir"
  rm -f "$dir/flag"
  in_cg "$cg" env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_STATS="$stats" MMHINT_STATS_INTERVAL=1 "$@" \
      "$PROG" hold "$file" 200 "$len" "$dir/flag" >"$dir/out" 2>"$dir/err" &
  local pid=$!
  for i in $(seq 600); do
    v=$(pf "$stats" "$file" prefetch 2>/dev/null)
    if [ -n "$v" ] && [ "$v" != NOSTATS ] && [ "$v" != NOFILE ] && "$MH_PYTHON" -c '
import json, sys
p = json.loads(sys.argv[1]) or {}
fb = p.get("fallbacks") or {}
ended = p.get("completed", 0) + p.get("stopped_close", 0) + p.get("stopped_exit", 0) + fb.get("error", 0)
sys.exit(0 if ended >= 1 or (p.get("jobs", 0) == 0 and sum(fb.values()) >= 1) else 1)' "$v"; then
      break
    fi
    sleep 0.1
  done
  [ "$i" -lt 600 ] || mh_fail "$dir: the job did not end within 60 s of snapshots ($v)"
  touch "$dir/flag"
  wait "$pid"
  echo $? >"$dir/rc"
}

# ---- 1. EIO ---------------------------------------------------------------------
if ! "$MH_PYTHON" -c 'import fusepy' 2>/dev/null; then
  mh_note "SKIP part 1: python3-fusepy is not installed (scripts/setup installs it)"
elif [ ! -e /dev/fuse ]; then
  mh_note "SKIP part 1: no /dev/fuse"
else
  SIZE=$((32 << 20)) BAD=$((24 << 20)) BADLEN=$((4 << 20))
  mkdir -p "$MNT"
  "$MH_PYTHON" "$MH_SRC/tests/programs/eio_fs.py" "$MNT" $SIZE $BAD $BADLEN "$D/fs.log" 2>"$D/fs.err" &
  FS_PID=$!
  for i in $(seq 100); do [ -e "$MNT/data" ] && break; sleep 0.1; done
  if [ ! -e "$MNT/data" ]; then
    mh_note "SKIP part 1: the FUSE file system did not mount: $(head -c 300 "$D/fs.err")"
    FS_PID=
  else
    # eio COUNT-FROM: the requests of the bad range in the server's log after line COUNT-FROM, and their bytes.
    eio() { tail -n +$(($1 + 1)) "$D/fs.log" | awk '$3 == "EIO" { n++; b += $2 } END { print n + 0, b + 0 }'; }
    touch "$D/plainflag"
    n0=$(wc -l <"$D/fs.log")
    mh_run "$D/p1" "$PROG" hold "$MNT/data" 200 $((16 << 20)) "$D/plainflag"
    mh_expect_eq "eio: plain exit status" "$(cat "$D/p1/rc")" 0
    mh_expect_eq "eio: plain asked nothing of the bad range" "$(eio "$n0")" "0 0"
    "$PROG" evict "$MNT/data" || mh_fail "eio: could not make the FUSE file cold"
    n1=$(wc -l <"$D/fs.log")
    run_held "" "$D/s1" "$MNT/data" $((16 << 20)) "$D/s1.json" MMHINT_PREFETCH=whole
    mh_expect_eq "eio: exit status" "$(cat "$D/s1/rc")" 0
    mh_expect_eq "eio: output as plain" "$(cat "$D/s1/out")" "$(cat "$D/p1/out")"
    mh_expect_eq "eio: jobs" "$(pf "$D/s1.json" "$MNT/data" jobs)" 1
    mh_expect_eq "eio: incomplete" "$(pf "$D/s1.json" "$MNT/data" incomplete)" 1
    mh_expect_eq "eio: error (a refused request)" "$(pf "$D/s1.json" "$MNT/data" error)" 0
    # All but the bad range resident, and the bad range retried once: give or take a few pages that the
    # kernel's reclaim (DAMON runs on this kind of machine) may take between the pass and the look.
    after=$(pf "$D/s1.json" "$MNT/data" resident_after_bytes)
    retried=$(pf "$D/s1.json" "$MNT/data" retried_bytes)
    case "$after $retried" in *[!0-9\ ]*) mh_fail "eio: resident_after_bytes '$after', retried_bytes '$retried': not numbers" ;; esac
    if [ "$after" -gt $((SIZE - BADLEN)) ] 2>/dev/null || [ "$after" -lt $(((SIZE - BADLEN) * 95 / 100)) ] 2>/dev/null; then
      mh_fail "eio: resident after: $after bytes, want all but the bad range ($((SIZE - BADLEN)), at least 95 % of it)"
    fi
    if [ "$retried" -lt $BADLEN ] 2>/dev/null || [ "$retried" -gt $((BADLEN + (1 << 20))) ] 2>/dev/null; then
      mh_fail "eio: retried $retried bytes, want the bad range once ($BADLEN, + at most 1 MiB of reclaimed pages)"
    fi
    read -r nreq nbytes <<<"$(eio "$n1")"
    mh_note "eio: the server saw $nreq failed requests, $nbytes bytes, for a $BADLEN-byte bad range"
    if [ "$nbytes" -lt $BADLEN ] || [ "$nbytes" -gt $((2 * BADLEN + 4 * (1 << 20))) ]; then
      mh_fail "eio: the bad range was asked for $nbytes bytes, want between $BADLEN and twice it (+ rounding): a retry storm or no retry"
    fi
    mh_expect_eq "eio: mmhint: lines" "$(mh_mmhint_lines "$D/s1/err")" ""
  fi
fi

# ---- 2. Memory pressure ---------------------------------------------------------------
if [ "$(stat -f -c %T "$D")" = tmpfs ]; then
  mh_note "SKIP part 2: $D is on tmpfs (its pages cannot be reclaimed: the cgroup would kill the reader)"
else
  LIMIT=$((48 << 20))
  if [ -w /sys/fs/cgroup/memory/cgroup.procs ] || { [ -d /sys/fs/cgroup/memory ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ]; }; then
    CG=/sys/fs/cgroup/memory/mmhint-pf.$$
    mkdir "$CG" 2>/dev/null && echo $LIMIT >"$CG/memory.limit_in_bytes" 2>/dev/null || CG=
  elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    CG=/sys/fs/cgroup/mmhint-pf.$$
    mkdir "$CG" 2>/dev/null && echo $LIMIT >"$CG/memory.max" 2>/dev/null || CG=
  fi
  if [ -z "$CG" ]; then
    mh_note "SKIP part 2: no memory cgroup could be made here (v1 /sys/fs/cgroup/memory, or v2 with memory in the root's subtree_control)"
  else
    mh_note "part 2 in $CG, limit $LIMIT bytes"
    head -c $((192 << 20)) /dev/urandom >"$D/big"
    touch "$D/plainflag"
    mh_run "$D/p2" in_cg "$CG" "$PROG" hold "$D/big" 200 $((16 << 20)) "$D/plainflag"
    mh_expect_eq "pressure: plain exit status" "$(cat "$D/p2/rc")" 0
    # The default limit: the cgroup's room (at most 48 MiB) halved, below the file.
    "$PROG" evict "$D/big" || mh_fail "pressure: could not make the file cold"
    run_held "$CG" "$D/s2" "$D/big" $((16 << 20)) "$D/s2.json" MMHINT_PREFETCH=whole
    mh_expect_eq "pressure, default limit: exit status" "$(cat "$D/s2/rc")" 0
    mh_expect_eq "pressure, default limit: output as plain" "$(cat "$D/s2/out")" "$(cat "$D/p2/out")"
    mh_expect_eq "pressure, default limit: too_large (the cgroup's room, not MemAvailable)" \
      "$(pf "$D/s2.json" "$D/big" too_large)" 1
    mh_expect_eq "pressure, default limit: jobs" "$(pf "$D/s2.json" "$D/big" jobs)" 0
    # Forced past the room.
    "$PROG" evict "$D/big" || mh_fail "pressure: could not make the file cold"
    run_held "$CG" "$D/s3" "$D/big" $((16 << 20)) "$D/s3.json" MMHINT_PREFETCH=whole MMHINT_PREFETCH_MAX=1G
    mh_expect_eq "pressure, forced: exit status (not killed)" "$(cat "$D/s3/rc")" 0
    mh_expect_eq "pressure, forced: output as plain" "$(cat "$D/s3/out")" "$(cat "$D/p2/out")"
    mh_expect_eq "pressure, forced: jobs" "$(pf "$D/s3.json" "$D/big" jobs)" 1
    mh_expect_eq "pressure, forced: incomplete" "$(pf "$D/s3.json" "$D/big" incomplete)" 1
    mh_expect_eq "pressure, forced: no retry" "$(pf "$D/s3.json" "$D/big" retried_bytes)" 0
    mh_expect_eq "pressure, forced: asked for once" "$(pf "$D/s3.json" "$D/big" prefetch_bytes)" $((192 << 20))
    after=$(pf "$D/s3.json" "$D/big" resident_after_bytes)
    mh_note "pressure, forced: $after bytes resident after the pass"
    [ "$after" -lt $((96 << 20)) ] 2>/dev/null || mh_fail "pressure, forced: resident after $after, want below half of the file"
    mh_expect_eq "pressure: mmhint: lines" "$(cat "$D/s2/err" "$D/s3/err" | mh_mmhint_lines /dev/stdin)" ""
  fi
fi
mh_done
