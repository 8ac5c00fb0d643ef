#!/usr/bin/env bash
# PITFALLS 12 (errno, EINTR, cancellation): errno after successful open,
# read, pread, lseek, mmap, close, malloc, fopen, fread, fgets, fclose ... is
# the sentinel set before; EBADF, EFAULT, ENOENT, EINVAL, ENOMEM are exact;
# a blocking pipe read interrupted by SIGALRM (no SA_RESTART) returns
# -1/EINTR; pthread_cancel of a thread blocked in read() cancels it.  The
# output must be the expected one, and identical with and without the shim
# (with statistics on, and with MMHINT_DISABLE=1).
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

need_prog pit_errno
DATA=$T/data.txt
seq 1 20000 > "$DATA"

cat > "$T/expected" <<'X'
open                     ok=1 errno=SENTINEL
read                     ok=1 errno=SENTINEL
pread                    ok=1 errno=SENTINEL
lseek                    ok=1 errno=SENTINEL
read_to_eof              ok=1 errno=SENTINEL
mmap                     ok=1 errno=SENTINEL
munmap                   ok=1 errno=SENTINEL
dup2                     ok=1 errno=SENTINEL
close_dup                ok=1 errno=SENTINEL
close                    ok=1 errno=SENTINEL
malloc                   ok=1 errno=SENTINEL
realloc                  ok=1 errno=SENTINEL
free                     ok=1 errno=SENTINEL
calloc                   ok=1 errno=SENTINEL
fopen                    ok=1 errno=SENTINEL
fread                    ok=1 errno=SENTINEL
fgets                    ok=1 errno=SENTINEL
fseek                    ok=1 errno=SENTINEL
fclose                   ok=1 errno=SENTINEL
read_closed_fd           r=-1 errno=EBADF
pread_closed_fd          r=-1 errno=EBADF
lseek_closed_fd          r=-1 errno=EBADF
close_closed_fd          r=-1 errno=EBADF
read_bad_pointer         r=-1 errno=EFAULT
pread_bad_pointer        r=-1 errno=EFAULT
lseek_bad_whence         r=-1 errno=EINVAL
open_missing             r=-1 errno=ENOENT
fopen_missing            r=0 errno=ENOENT
openat_missing           r=-1 errno=ENOENT
mmap_bad_fd              r=1 errno=EBADF
malloc_huge              r=0 errno=ENOMEM
calloc_overflow          r=0 errno=ENOMEM
read_interrupted         r=-1 errno=EINTR
cancel_blocked_read      join=0 canceled=1 cleanup=1
X

timeout 30 "$PROGS/pit_errno" "$DATA" > "$T/plain" 2>&1
rc=$?
[ $rc -eq 0 ] || fail "plain run exited $rc"
cmp -s "$T/expected" "$T/plain" || { fail "the plain run does not print what this test expects (libc changed?):"; diff "$T/expected" "$T/plain"; }

for setup in "stats" "disabled"; do
  if [ $setup = stats ]; then extra=(MMHINT_STATS="$T/s.json"); else extra=(MMHINT_DISABLE=1); fi
  timeout 30 env LD_PRELOAD="$LIB" "${extra[@]}" "$PROGS/pit_errno" "$DATA" > "$T/$setup" 2>&1
  rc=$?
  [ $rc -eq 124 ] && { fail "$setup: hung (a cancellation or EINTR that did not arrive?)"; continue; }
  [ $rc -eq 0 ] || fail "$setup: exited $rc under the shim"
  if cmp -s "$T/plain" "$T/$setup"; then ok "$setup: output identical to the plain run ($(wc -l < "$T/plain") checks)"; else
    fail "$setup: output differs from the plain run:"; diff "$T/plain" "$T/$setup"
  fi
done
if valid_stats "$T/s.json"; then
  got=$(stats_q "$T/s.json" "(c('$DATA','opens'), c('$DATA','stdio_opens'), c('$DATA','read_errors') >= 2)")
  [ "$got" = "(3, 1, True)" ] && ok "stats: 3 opens, 1 stdio open, failed reads counted as read_errors" ||
    fail "stats: (opens, stdio_opens, read_errors >= 2) of the data file = $got, want (3, 1, True)"
else
  fail "stats file missing or invalid"
fi
finish
