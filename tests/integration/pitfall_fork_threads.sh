#!/usr/bin/env bash
# PITFALLS 8 (fork while a lock is held): 16 threads loop over read, pread,
# malloc/free, mmap/munmap and fopen/fread while the main thread forks 300
# times; each child allocates, opens, reads and _exits.  No deadlock (a
# timeout is a failure), every child exits 0, and with MMHINT_STATS=dir/
# every process (parent and 300 children) leaves one valid stats file; each
# child's file counts its own open and read, and none of the parent's.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_forkstorm
DATA=$T/data.txt
CHILD=$T/child.txt
seq 1 20000 > "$DATA"
seq 1 9000 > "$CHILD"
mkdir "$T/stats"
FORKS=300

for round in 1 2; do
  rm -f "$T/stats"/*
  timeout 50 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/stats/" "$PROGS/pit_forkstorm" "$DATA" "$CHILD" 16 $FORKS \
    > "$T/out" 2> "$T/err"
  rc=$?
  if [ $rc -eq 124 ]; then fail "round $round: hung (killed after 50 s): a deadlock after fork"; break; fi
  [ $rc -eq 0 ] && ok "round $round: $(cat "$T/out")" || { fail "round $round: exit $rc: $(cat "$T/out") $(head -c 500 "$T/err")"; continue; }
  python3 - "$T/stats" "$CHILD" "$DATA" $FORKS <<'PY' || FAILS=$((FAILS + 1))
import json, os, sys
d, child, data, forks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
names = os.listdir(d)
bad = [n for n in names if ".tmp" in n]
docs = []
for n in names:
    try:
        docs.append(json.load(open(os.path.join(d, n))))
    except Exception as e:
        bad.append(f"{n} ({e})")
errs = [f"invalid or temporary stats files: {bad[:5]}"] if bad else []
pids = [s["process"]["pid"] for s in docs]
if len(set(pids)) != len(pids): errs.append("two files for one process")
parents = [s for s in docs if s["process"]["end_reason"] == "exit"]
children = [s for s in docs if s["process"]["end_reason"] == "_exit"]
if len(parents) != 1 or len(children) != forks:
    errs.append(f"{len(docs)} files: {len(parents)} ending in exit (want 1), {len(children)} in _exit (want {forks})")
def rec(s, p):
    return next((f for f in s["files"] if p in f["paths"]), {})
wrong = 0
for s in children:
    r, other = rec(s, child), rec(s, data)
    got = (r.get("opens"), r.get("reads"), r.get("bytes_read"), other.get("reads", 0), other.get("stdio_reads", 0))
    if got != (1, 1, 4096, 0, 0):
        wrong += 1
        if wrong <= 3: errs.append(f"child {s['process']['pid']}: (opens, reads, bytes_read) of its file and the parent's file reads = {got}, want (1, 1, 4096, 0, 0)")
if wrong: errs.append(f"{wrong} of {len(children)} children have wrong counts")
if parents and rec(parents[0], data).get("reads", 0) < 16:
    errs.append("the parent's threads' reads are not in the parent's file")
for e in errs: print("FAIL:", e)
if not errs: print(f"ok: {len(docs)} valid stats files: 1 parent + {len(children)} children, each child counts only its own open and read")
sys.exit(1 if errs else 0)
PY
done
finish
