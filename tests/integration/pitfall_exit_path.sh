#!/usr/bin/env bash
# PITFALLS 14 (exit path): atexit handlers, destructors and pthread key
# destructors that allocate and read; close_range(3, ~0U, 0) then more I/O;
# _exit from a thread; exit while threads are busy; abort(); SIGKILL.  The
# program behaves as without the shim (output, exit status); the stats file
# is complete JSON or absent, never half-written, and no temporary file is
# left; where a file is written, it counts the reads that came before it.
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

need_prog pit_exitpath
DATA=$T/data.txt
seq 1 20000 > "$DATA"

# mode  expected-stats: "-" absent-or-valid, else "end_reason reads opens"
while read -r mode want; do
  timeout 30 "$PROGS/pit_exitpath" $mode "$DATA" > "$T/$mode.plain" 2>/dev/null
  rc0=$?
  mkdir "$T/$mode"
  timeout 30 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/$mode/" "$PROGS/pit_exitpath" $mode "$DATA" > "$T/$mode.shim" 2> "$T/$mode.err"
  rc1=$?
  [ $rc1 -eq 124 ] && { fail "$mode: hung"; continue; }
  [ $rc1 -eq $rc0 ] || fail "$mode: exit status $rc1 under the shim, $rc0 without"
  cmp -s "$T/$mode.plain" "$T/$mode.shim" || fail "$mode: output differs: $(echo $(cat "$T/$mode.shim")) vs $(echo $(cat "$T/$mode.plain"))"
  tmp=$(ls -A "$T/$mode" | grep -F .tmp)
  [ -z "$tmp" ] || fail "$mode: temporary files left behind: $tmp"
  files=("$T/$mode"/*.json*)
  [ -e "${files[0]}" ] || files=()
  for f in "${files[@]}"; do valid_stats "$f" || fail "$mode: $(basename "$f") is not complete JSON (half-written?)"; done
  if [ "$want" = "-" ]; then
    ok "$mode (exit $rc1): ${#files[@]} stats file(s), all complete, no temporary file"
    continue
  fi
  [ ${#files[@]} -eq 1 ] || { fail "$mode: ${#files[@]} stats files, want 1"; continue; }
  got=$(stats_q "${files[0]}" "s['process']['end_reason'], c('$DATA','reads'), c('$DATA','opens')" | tr -d "(),'")
  [ "$got" = "$want" ] && ok "$mode: end_reason, reads, opens = $got" ||
    fail "$mode: (end_reason reads opens) = ($got), want ($want)"
done <<'M'
atexit exit 3 3
keydtor exit 2 2
close_range exit 2 2
thread_exit _exit 2 2
busy_exit -
abort -
sigkill -
M
finish
