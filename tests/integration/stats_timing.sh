#!/bin/bash
# How calls are timed (shim/shim.h, mmhint__untimed): fast calls are counted
# every time but timed about one in 16, each timed call standing for the
# calls since the previous one; slow calls are timed one by one; with
# stats_timing=every, every call is timed.  Behaviour only, never speed:
#   1. stats_timing=every: timed_reads == reads and timed_writes == writes;
#   2. sampled (the default), a 4 KiB read loop over a cached file: every call
#      counted (reads, bytes_read, the histogram and the sequence counts are
#      exact), timed_reads between reads/23 and reads, read_time_ns > 0;
#      first_access_ns <= last_access_ns; the same for a write loop;
#   3. a reader of a pipe that blocks between lines (each call slow): every
#      call timed;
#   4. stats_timing=sometimes: one mmhint: line naming the choices, the run
#      unharmed.
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_timing
OV=$MMHINT_BUILD_DIR/bench/overhead
[ -x "$OV" ] || { echo "FAIL: $OV is missing (build first)"; exit 1; }
D=$MH_TMP
head -c 8388608 /dev/urandom > "$D/data"
cat "$D/data" > /dev/null
calls=$((8388608 / 4096 + 1)) # the last read returns 0

c() { mh_counter "$1" "$2" "$3"; }

# 1. every
MH_SHIM_ENV=("MMHINT_STATS=$D/every.json" "MMHINT_STATS_TIMING=every")
mh_run_shim "$D/r1" "$OV" read "$D/data" 4096
mh_expect_eq "every: exit status" "$(cat "$D/r1/rc")" 0
mh_expect_eq "every: reads" "$(c "$D/every.json" "$D/data" reads)" "$calls"
mh_expect_eq "every: timed_reads" "$(c "$D/every.json" "$D/data" timed_reads)" "$calls"
MH_SHIM_ENV=("MMHINT_STATS=$D/everyw.json" "MMHINT_STATS_TIMING=every")
mh_run_shim "$D/r1w" "$OV" write "$D/out1" 4096 2000
mh_expect_eq "every: writes" "$(c "$D/everyw.json" "$D/out1" writes)" 2000
mh_expect_eq "every: timed_writes" "$(c "$D/everyw.json" "$D/out1" timed_writes)" 2000
mh_expect_eq "every: mmhint: lines" "$(cat "$D/r1/err" "$D/r1w/err" | mh_mmhint_lines /dev/stdin)" ""

# 2. sampled
MH_SHIM_ENV=("MMHINT_STATS=$D/sampled.json")
mh_run_shim "$D/r2" "$OV" read "$D/data" 4096
mh_expect_eq "sampled: exit status" "$(cat "$D/r2/rc")" 0
mh_expect_eq "sampled: output as plain" "$(cut -d' ' -f3- "$D/r2/out")" "ops=$calls bytes=8388608 $(sed -n 's/.*\(sum=[0-9]*\).*/\1/p' "$D/r2/out")"
mh_expect_eq "sampled: reads" "$(c "$D/sampled.json" "$D/data" reads)" "$calls"
mh_expect_eq "sampled: bytes_read" "$(c "$D/sampled.json" "$D/data" bytes_read)" 8388608
mh_expect_eq "sampled: consec_reads" "$(c "$D/sampled.json" "$D/data" consec_reads)" $((calls - 1))
mh_expect_eq "sampled: eof_reads" "$(c "$D/sampled.json" "$D/data" eof_reads)" 1
hist=$(mh_json "$D/sampled.json" '[f for f in d["files"] if any(p.endswith("/data") for p in f.get("paths", []))][0]["read_size_hist"]["1K-10K"]')
mh_expect_eq "sampled: 4 KiB reads in the histogram" "$hist" $((calls - 1))
t=$(c "$D/sampled.json" "$D/data" timed_reads)
rt=$(c "$D/sampled.json" "$D/data" read_time_ns)
if [ "$t" -gt "$calls" ] || [ "$t" -lt $((calls / 23)) ]; then
  mh_fail "sampled: timed_reads $t of $calls, want between 1/23 of them and all"
fi
[ "$rt" -gt 0 ] || mh_fail "sampled: read_time_ns $rt"
fa=$(c "$D/sampled.json" "$D/data" first_access_ns)
la=$(c "$D/sampled.json" "$D/data" last_access_ns)
[ "$fa" -gt 0 ] && [ "$fa" -le "$la" ] || mh_fail "sampled: first_access_ns $fa, last_access_ns $la"
mh_note "sampled: $t of $calls reads timed, read_time_ns $rt"
MH_SHIM_ENV=("MMHINT_STATS=$D/sampledw.json")
mh_run_shim "$D/r2w" "$OV" write "$D/out2" 4096 2000
mh_expect_eq "sampled: writes" "$(c "$D/sampledw.json" "$D/out2" writes)" 2000
mh_expect_eq "sampled: bytes_written" "$(c "$D/sampledw.json" "$D/out2" bytes_written)" 8192000
tw=$(c "$D/sampledw.json" "$D/out2" timed_writes)
if [ "$tw" -gt 2000 ] || [ "$tw" -lt $((2000 / 23)) ]; then
  mh_fail "sampled: timed_writes $tw of 2000"
fi
mh_expect_eq "sampled: mmhint: lines" "$(cat "$D/r2/err" "$D/r2w/err" | mh_mmhint_lines /dev/stdin)" ""

# 3. A pipe whose reads block (slow calls): each is timed.
mkfifo "$D/fifo"
( for i in $(seq 12); do echo "line $i"; sleep 0.02; done ) > "$D/fifo" &
MH_SHIM_ENV=("MMHINT_STATS=$D/pipe.json")
mh_run_shim "$D/r3" cat "$D/fifo"
wait
mh_expect_eq "pipe: output" "$(wc -l < "$D/r3/out")" 12
pr=$(c "$D/pipe.json" "$D/fifo" reads)
pt=$(c "$D/pipe.json" "$D/fifo" timed_reads)
[ "$pr" -ge 12 ] || mh_fail "pipe: reads $pr, want >= 12"
mh_expect_eq "pipe: every blocking read timed" "$pt" "$pr"

# 4. A bad value.
MH_SHIM_ENV=("MMHINT_STATS=$D/bad.json" "MMHINT_STATS_TIMING=sometimes")
mh_run_shim "$D/r4" "$OV" read "$D/data" 4096
mh_expect_eq "bad value: exit status" "$(cat "$D/r4/rc")" 0
lines=$(mh_mmhint_lines "$D/r4/err")
mh_expect_eq "bad value: one mmhint: line" "$(echo "$lines" | grep -c .)" 1
case $lines in *STATS_TIMING*sampled*every*) ;; *) mh_fail "bad value: line '$lines' does not name the option and its choices" ;; esac
mh_done
