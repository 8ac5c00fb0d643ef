#!/bin/bash
# tests/integration/pitlib.sh: the helpers every pitfall_*.sh script shares.
# Source it after `set -u`; it runs nothing but setup.  Sets SRC, BUILD, LIB,
# PROGS and T (a temp dir removed at exit); skips (77) when MMHINT_BUILD_DIR
# is unset and fails when the library is missing.
#   fail MSG / ok MSG     record a failed / passed check
#   finish                exit 0 when nothing failed, else 1
#   need_prog NAME        fail unless tests/programs/NAME was built
#   stats_q FILE EXPR     evaluate a Python expression over a stats file
#   valid_stats FILE      nonzero unless FILE is a complete stats file
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
