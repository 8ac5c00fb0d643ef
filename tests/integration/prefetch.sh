#!/bin/bash
# The prefetch policy (issue 15, docs/HINTS.md "Prefetch"), on real files of
# the disk (not tmpfs), each made cold alone with POSIX_FADV_DONTNEED (no
# global drop_caches: other tests run beside this one).  Every check is on
# behaviour and statistics, none on time:
#   1. prefetch=whole: a random reader of a cold file gets the same output and
#      exit status as without the shim, and the file becomes wholly resident
#      in the background while the program reads (the reader waits until
#      cachestat says so; without the shim it never does, nothing asked);
#      the statistics count what was asked, what was there, and the reads;
#   2. prefetch=auto stays off for a sequential reader (kernel readahead
#      keeps it) and turns on for a random reader, also with statistics off;
#   3. closing the last descriptor stops the prefetch (a 2 GiB sparse file
#      in 128 KiB steps: its job ends stopped_close, with less than the file asked);
#   4. a file above prefetch_max is a counted fallback, nothing asked;
#   5. a fork child: both processes finish with the same output as without
#      the shim, each with its own statistics; a main thread that calls
#      pthread_exit still ends the process (the helper thread ends when idle);
#   5b. prefetch=learned brings in the map's ranges only; a stale, truncated or
#      missing map is one line and auto;
#   6. bad input: prefetch=sometimes is one line with the choices and no
#      prefetch; drop_behind with prefetch is one line at open;
#   7. no mmhint: line in any normal run above.
set -u
. "$(dirname "$0")/lib.sh"
mh_init prefetch
PROG=$MMHINT_BUILD_DIR/tests/programs/prefetch_reader
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build first)"; exit 1; }
D=$MH_TMP
head -c $((32 << 20)) /dev/urandom > "$D/data"
"$PROG" resident "$D/data" >/dev/null || mh_skip "cachestat(2) is not available here"

# pf STATS KEY: the value of prefetch.KEY (or a top-level counter KEY) for $D/data in STATS.
pf() {
  python3 - "$1" "$D/data" "$2" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
want = os.path.realpath(sys.argv[2])
for f in d.get("files", []):
    if want in [os.path.realpath(p) for p in f.get("paths", [])]:
        p = f.get("prefetch") or {}
        k = sys.argv[3]
        if k == "prefetch":
            v = f.get("prefetch")
        else:
            v = f[k] if k in f else p.get(k, p.get("fallbacks", {}).get(k, 0 if not p else "MISSING"))
        print(json.dumps(v))
        break
else:
    print("NOFILE")
EOF
}

evict() { "$PROG" evict "$1" || mh_fail "could not make $1 cold"; }

# The file is wholly resident after a run that prefetched it: the reader waits for it (rand's WAIT).
# Between its exit and this look, the kernel may already reclaim a few of the pages nobody touched
# (DAMON reclaim runs on this kind of machine: a clean-clone run found 99 %), so at least 95 % and
# well above what plain random reads leave (a few per cent).
expect_whole() {
  res=$("$PROG" resident "$D/data")
  if [ "$res" -lt 95 ] || [ "$res" -le $((${plain_res:-0} + 50)) ]; then
    mh_fail "$1: resident after the run: $res %, want >= 95 % (plain left ${plain_res:-?} %)"
  fi
}

# 1. whole.
evict "$D/data"
mh_run "$D/p1" "$PROG" rand "$D/data" 400
plain_res=$("$PROG" resident "$D/data")
evict "$D/data"
MH_SHIM_ENV=("MMHINT_STATS=$D/s1.json" "MMHINT_PREFETCH=whole")
mh_run_shim "$D/r1" "$PROG" rand "$D/data" 400 60
mh_compare_runs "whole: random reader" "$D/p1" "$D/r1"
expect_whole "whole"
mh_note "plain left $plain_res% of the file resident, whole $res%"
mh_expect_eq "whole: jobs" "$(pf "$D/s1.json" jobs)" 1
asked=$(pf "$D/s1.json" prefetch_bytes)
[ "$asked" -gt 0 ] && [ "$asked" -le $((32 << 20)) ] || mh_fail "whole: prefetch_bytes $asked, want 1..32 MiB"
# The reader leaves once cachestat counts every page (pages still being read count); the
# thread's own check (mincore) waits for the reads to land, so the process may end first.
case "$(pf "$D/s1.json" completed) $(pf "$D/s1.json" stopped_exit)" in
  "1 0")
    mh_expect_eq "whole: prefetch_bytes" "$asked" $((32 << 20))
    mh_expect_eq "whole: resident_after_bytes" "$(pf "$D/s1.json" resident_after_bytes)" $((32 << 20)) ;;
  "0 1") mh_note "whole: the process ended while the job verified its last step (stopped_exit)" ;;
  *) mh_fail "whole: completed/stopped_exit '$(pf "$D/s1.json" completed) $(pf "$D/s1.json" stopped_exit)'" ;;
esac
# Cold before: only what the program's own 400 reads (and their readahead) brought in ahead of the thread.
before=$(pf "$D/s1.json" prefetch_resident_bytes)
[ "$before" -lt $((16 << 20)) ] || mh_fail "whole: prefetch_resident_bytes $before of a cold file"
reads=$(( $(pf "$D/s1.json" reads_before) + $(pf "$D/s1.json" reads_during) + $(pf "$D/s1.json" reads_after) ))
mh_expect_eq "whole: reads counted against the prefetch" "$reads" 400
mh_expect_eq "whole: fallbacks" "$(pf "$D/s1.json" prefetch_fallbacks)" 0

# The file is warm now: a second whole run finds it resident before asking.
MH_SHIM_ENV=("MMHINT_STATS=$D/s1b.json" "MMHINT_PREFETCH=whole")
mh_run_shim "$D/r1b" "$PROG" rand "$D/data" 400 60
mh_compare_runs "whole, warm: random reader" "$D/p1" "$D/r1b"
# What it asked for before the (short) run ended was resident already (all but the pages the
# first run's last requests had not landed, or the cache had let go of, meanwhile).
warm=$(pf "$D/s1b.json" prefetch_resident_bytes)
asked=$(pf "$D/s1b.json" prefetch_bytes)
[ "$warm" -ge $((asked * 9 / 10)) ] || mh_fail "whole, warm: $warm of $asked bytes asked were resident before"

# 2. auto: sequential keeps kernel readahead, random turns it on.
evict "$D/data"
mh_run "$D/p2" "$PROG" seq "$D/data"
evict "$D/data"
MH_SHIM_ENV=("MMHINT_STATS=$D/s2.json" "MMHINT_PREFETCH=auto")
mh_run_shim "$D/r2" "$PROG" seq "$D/data"
mh_compare_runs "auto: sequential reader" "$D/p2" "$D/r2"
mh_expect_eq "auto, sequential: jobs" "$(pf "$D/s2.json" jobs)" 0
mh_expect_eq "auto, sequential: prefetch_bytes" "$(pf "$D/s2.json" prefetch_bytes)" 0
mh_expect_eq "auto, sequential: auto_started" "$(pf "$D/s2.json" auto_started)" null
evict "$D/data"
MH_SHIM_ENV=("MMHINT_STATS=$D/s3.json" "MMHINT_PREFETCH=auto")
mh_run_shim "$D/r3" "$PROG" rand "$D/data" 400 60
mh_compare_runs "auto: random reader" "$D/p1" "$D/r3"
mh_expect_eq "auto, random: jobs" "$(pf "$D/s3.json" jobs)" 1
asked=$(pf "$D/s3.json" prefetch_bytes)
[ "$asked" -gt 0 ] && [ "$asked" -le $((32 << 20)) ] || mh_fail "auto, random: prefetch_bytes $asked, want 1..32 MiB"
before=$(pf "$D/s3.json" reads_before)
if [ "$before" -lt 12 ] || [ "$before" -gt 20 ]; then
  mh_fail "auto, random: $before reads before it started, want the classifier's window (12-17)"
fi
expect_whole "auto, random"

# Without statistics (MMHINT_STATS unset) auto still sees the reads and starts.
evict "$D/data"
MH_SHIM_ENV=("MMHINT_PREFETCH=auto")
mh_run_shim "$D/r3n" "$PROG" rand "$D/data" 400 60
mh_compare_runs "auto, no statistics: random reader" "$D/p1" "$D/r3n"
expect_whole "auto, no statistics"

# 3. close of the last descriptor stops it.
truncate -s 2G "$D/sparse"
evict "$D/sparse"
mh_run "$D/p4" "$PROG" close "$D/sparse"
MH_SHIM_ENV=("MMHINT_STATS=$D/s4.json" "MMHINT_PREFETCH=whole" "MMHINT_PREFETCH_STEP=128K")
mh_run_shim "$D/r4" "$PROG" close "$D/sparse"
mh_compare_runs "close: open, one read, close" "$D/p4" "$D/r4"
stopped=$(python3 - "$D/s4.json" "$D/sparse" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["files"] if os.path.realpath(sys.argv[2]) in [os.path.realpath(p) for p in f["paths"]]][0]
p = f["prefetch"]
print(p["stopped_close"], p["completed"], p["stopped_exit"], int(f["prefetch_bytes"] < (2 << 30)), f["prefetch_bytes"])
EOF
)
case $stopped in
  "1 0 0 1 "*) mh_note "close: stopped_close with ${stopped##* } bytes asked" ;;
  "0 1 0 "*) mh_note "close: not decided: the helper thread finished 2 GiB before the program's close returned (a very slow machine)" ;;
  *) mh_fail "close: stopped_close completed stopped_exit asked<size = '$stopped', want '1 0 0 1'" ;;
esac
evict "$D/sparse"

# 4. Larger than prefetch_max.
evict "$D/data"
MH_SHIM_ENV=("MMHINT_STATS=$D/s5.json" "MMHINT_PREFETCH=whole" "MMHINT_PREFETCH_MAX=1M")
mh_run_shim "$D/r5" "$PROG" rand "$D/data" 400
mh_compare_runs "too large: random reader" "$D/p1" "$D/r5"
mh_expect_eq "too large: fallback" "$(pf "$D/s5.json" too_large)" 1
mh_expect_eq "too large: prefetch_fallbacks" "$(pf "$D/s5.json" prefetch_fallbacks)" 1
mh_expect_eq "too large: prefetch_bytes" "$(pf "$D/s5.json" prefetch_bytes)" 0

# 5. fork.
evict "$D/data"
mh_run "$D/p6" "$PROG" fork "$D/data" 300
evict "$D/data"
mkdir -p "$D/s6"
MH_SHIM_ENV=("MMHINT_STATS=$D/s6/%p.json" "MMHINT_PREFETCH=whole")
mh_run_shim "$D/r6" "$PROG" fork "$D/data" 300
mh_compare_runs "fork: parent and child" "$D/p6" "$D/r6"
mh_expect_eq "fork: statistics files" "$(ls "$D/s6" | wc -l)" 2
jobs=0
for s in "$D"/s6/*.json; do jobs=$((jobs + $(pf "$s" jobs))); done
mh_expect_eq "fork: jobs in both files (the parent's only)" "$jobs" 1

# A program whose main thread calls pthread_exit ends with its last thread: the helper thread
# must not keep it alive (it ends when its queue is empty).
EXITP=$MMHINT_BUILD_DIR/tests/programs/pit_exitpath
if [ -x "$EXITP" ]; then
  evict "$D/data"
  mh_run "$D/p9" timeout 60 "$EXITP" keydtor "$D/data"
  MH_SHIM_ENV=("MMHINT_PREFETCH=whole")
  mh_run_shim "$D/r9" timeout 60 "$EXITP" keydtor "$D/data"
  mh_compare_runs "pthread_exit of main under whole" "$D/p9" "$D/r9"
fi

# 5b. learned: exactly the map's ranges (two 1 MiB ranges 31 MiB apart: no gap is filled), in
# the background, same output; a stale, truncated or missing map: one line, and auto.
mapf=$D/data.pmap
printf 'mmhint-pmap 1\nfile %d 65536\npath %s\n0 1048576\n16777216 1048576\nend\n' $((32 << 20)) "$D/data" > "$mapf"
evict "$D/data"
MH_SHIM_ENV=("MMHINT_STATS=$D/sl.json" "MMHINT_PREFETCH=learned" "MMHINT_PREFETCH_MAP=$mapf")
mh_run_shim "$D/rl" "$PROG" rand "$D/data" 400
mh_compare_runs "learned: random reader" "$D/p1" "$D/rl"
mh_expect_eq "learned: jobs" "$(pf "$D/sl.json" jobs)" 1
mh_expect_eq "learned: learned_map fallbacks" "$(pf "$D/sl.json" learned_map)" 0
asked=$(pf "$D/sl.json" prefetch_bytes)
[ "$asked" -le $((2 << 20)) ] || mh_fail "learned: prefetch_bytes $asked, more than the map's 2 MiB"
res=$("$PROG" resident "$D/data")
[ "$res" -lt 50 ] || mh_fail "learned: $res% of the file resident after the run, want about the map's 6% and the reads'"
printf 'mmhint-pmap 1\nfile %d 65536\npath %s\n0 1048576\nend\n' $((32 << 20) + 1) "$D/data" > "$D/stale.pmap"
printf 'mmhint-pmap 1\nfile %d 65536\npath %s\n0 1048576\n' $((32 << 20)) "$D/data" > "$D/cut.pmap"
for m in stale cut missing; do
  evict "$D/data"
  MH_SHIM_ENV=("MMHINT_STATS=$D/s$m.json" "MMHINT_PREFETCH=learned" "MMHINT_PREFETCH_MAP=$D/$m.pmap")
  mh_run_shim "$D/r$m" "$PROG" rand "$D/data" 400
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "learned, $m map" "$D/p1" "$D/r$m"
  mh_expect_eq "learned, $m map: mmhint: lines" "$(mh_mmhint_lines "$D/r$m/err" | wc -l)" 1
  mh_mmhint_lines "$D/r$m/err" | grep -q "using prefetch=auto" || mh_fail "learned, $m map: $(cat "$D/r$m/err")"
  mh_expect_eq "learned, $m map: ran as auto (jobs)" "$(pf "$D/s$m.json" jobs)" 1
  mh_expect_eq "learned, $m map: learned_map fallback" "$(pf "$D/s$m.json" learned_map)" 1
done

# 6. Bad input.
MH_SHIM_ENV=("MMHINT_STATS=$D/s7.json" "MMHINT_PREFETCH=sometimes")
mh_run_shim "$D/r7" "$PROG" rand "$D/data" 50
mh_expect_eq "sometimes: exit status" "$(cat "$D/r7/rc")" 0
mh_expect_eq "sometimes: mmhint: lines" "$(mh_mmhint_lines "$D/r7/err" | wc -l)" 1
mh_mmhint_lines "$D/r7/err" | grep -q "off|whole|auto|learned" || mh_fail "sometimes: the line does not list the choices: $(cat "$D/r7/err")"
mh_expect_eq "sometimes: no prefetch" "$(pf "$D/s7.json" prefetch)" null
MH_SHIM_ENV=("MMHINT_PREFETCH=whole" "MMHINT_DROP_BEHIND=1")
mh_run_shim "$D/r8" "$PROG" rand "$D/data" 50
mh_expect_eq "drop_behind+prefetch: exit status" "$(cat "$D/r8/rc")" 0
mh_expect_eq "drop_behind+prefetch: mmhint: lines" "$(mh_mmhint_lines "$D/r8/err" | wc -l)" 1
mh_mmhint_lines "$D/r8/err" | grep -q "prefetch wins" || mh_fail "drop_behind+prefetch: $(cat "$D/r8/err")"

evict "$D/data"
mh_done
