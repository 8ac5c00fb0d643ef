#!/usr/bin/env bash
# PITFALLS 8 (fork while a lock is held): 16 threads loop over read, pread,
# malloc/free, mmap/munmap and fopen/fread while the main thread forks 300
# times; each child allocates, opens, reads and _exits.  No deadlock (a
# timeout is a failure), every child exits 0, and with MMHINT_STATS=dir/
# every process (parent and 300 children) leaves one valid stats file; each
# child's file counts its own open and read, and none of the parent's.
set -u
# ---- Common helpers (kept in each pitfall_* script so each runs on its own). ----
SRC=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${MMHINT_BUILD_DIR:-}
if [ -z "$BUILD" ]; then echo "SKIP: MMHINT_BUILD_DIR is not set (run through ctest)"; exit 77; fi
LIB=$BUILD/libmmhint.so
PROGS=$BUILD/tests/programs
[ -f "$LIB" ] || { echo "FAIL: $LIB not found (build the project first)"; exit 1; }
T=$(mktemp -d /tmp/mmhint-pit.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
finish() { if [ "$FAILS" -eq 0 ]; then echo "PASS"; exit 0; fi; echo "$FAILS check(s) failed"; exit 1; }
need_prog() { [ -x "$PROGS/$1" ] || { echo "FAIL: $PROGS/$1 not built (re-run cmake)"; exit 1; }; }
# stats_q FILE PYEXPR: evaluates a Python expression with `s` = the parsed stats
# file and helpers f(path) (the file record that has `path`, or {}) and
# c(path, counter) (that record's counter, 0 when absent); prints the result.
stats_q() {
  python3 - "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
def f(p):
    for r in s.get("files", []):
        if p in r.get("paths", []): return r
    return {}
def c(p, k): return f(p).get(k, 0)
print(eval(sys.argv[2]))
PY
}
# valid_stats FILE: nonzero unless FILE is complete JSON with the schema string.
valid_stats() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d.get("schema")=="mmhint-stats/1" and "files" in d and "memory" in d else 1)' "$1" 2>/dev/null
}

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
