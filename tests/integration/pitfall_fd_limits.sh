#!/usr/bin/env bash
# PITFALLS 17 (fd limits): with a soft and hard RLIMIT_NOFILE of 2^30 the
# shim must not build a 2^30-entry table.  A program dup2s one file onto fd
# 1000000 (inside the table's reach of 1,048,576) and another onto fd
# 2000000 (beyond it) and reads through both: output as without the shim,
# VmRSS under 64 MB, the reads through fd 1000000 counted exactly, and the
# descriptor beyond the reach reported in process.unobserved (not as zero).
# Needs root to raise fs.nr_open (restored on exit); skips otherwise.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_bigfd
LIMIT=1073741824
OLD_NR_OPEN=$(cat /proc/sys/fs/nr_open 2>/dev/null) || { echo "SKIP: cannot read fs.nr_open"; exit 77; }
if [ "$OLD_NR_OPEN" -lt $LIMIT ]; then
  if ! echo $LIMIT > /proc/sys/fs/nr_open 2>/dev/null; then
    echo "SKIP: cannot raise fs.nr_open to $LIMIT (needs root outside a restricted container)"; exit 77
  fi
  trap 'echo "$OLD_NR_OPEN" > /proc/sys/fs/nr_open; rm -rf "$T"' EXIT
fi
command -v prlimit > /dev/null || { echo "SKIP: prlimit (util-linux) not installed"; exit 77; }
prlimit --nofile=$LIMIT:$LIMIT true 2>/dev/null ||
  { echo "SKIP: cannot set RLIMIT_NOFILE to $LIMIT (hard limit now $(ulimit -Hn); raising it needs CAP_SYS_RESOURCE, which this environment lacks)"; exit 77; }

A=$T/a.txt
B=$T/b.txt
seq 1 20000 > "$A"
seq 1 30000 > "$B"
timeout 30 prlimit --nofile=$LIMIT:$LIMIT "$PROGS/pit_bigfd" "$A" "$B" > "$T/plain" 2>&1 || fail "plain run failed: $(cat "$T/plain")"
timeout 30 prlimit --nofile=$LIMIT:$LIMIT env LD_PRELOAD="$LIB" MMHINT_STATS="$T/s.json" "$PROGS/pit_bigfd" "$A" "$B" \
  > "$T/shim" 2>&1
rc=$?
[ $rc -eq 124 ] && fail "hung under the shim"
[ $rc -eq 0 ] || fail "exit $rc under the shim: $(cat "$T/shim")"
cat "$T/shim"
grep -qx "nofile soft=$LIMIT hard=$LIMIT" "$T/plain" || fail "the limit did not reach the program: $(head -1 "$T/plain")"
grep -qx "read_low=3000 read_high=500 rss_under_64MB=yes" "$T/plain" || fail "plain run: unexpected output: $(cat "$T/plain")"
cmp -s "$T/plain" "$T/shim" && ok "output identical to the plain run (RSS under 64 MB)" || fail "output differs from the plain run (RSS?)"
if valid_stats "$T/s.json"; then
  got=$(stats_q "$T/s.json" "(c('$A','reads'), c('$A','bytes_read'))")
  [ "$got" = "(3, 3000)" ] && ok "reads through fd 1000000 counted: $got" || fail "file behind fd 1000000: (reads, bytes_read) = $got, want (3, 3000)"
  got=$(stats_q "$T/s.json" "(c('$B','reads'), c('$B','bytes_read'))")
  [ "$got" = "(0, 0)" ] || fail "file behind fd 2000000: (reads, bytes_read) = $got; the fd is beyond the table, want it unobserved, not (mis)counted"
  got=$(stats_q "$T/s.json" "any('1048576' in u or 'descriptor' in u for u in s['process']['unobserved'])")
  [ "$got" = True ] && ok "process.unobserved reports the descriptor beyond the table" ||
    fail "process.unobserved does not mention the untracked descriptor: $(stats_q "$T/s.json" "s['process']['unobserved']")"
else
  fail "stats file missing or invalid"
fi
finish
