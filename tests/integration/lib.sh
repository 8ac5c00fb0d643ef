#!/bin/bash
# tests/integration/lib.sh: helpers shared by the integration test scripts.
# Source it; it runs nothing by itself.  Every name starts with mh_ (functions)
# or MH_ (variables) so it does not collide with a test's own names.
#
#   mh_init NAME            Call first.  Sets MH_LIB (the preload library:
#                           $MMHINT_LIB, else $MMHINT_BUILD_DIR/libmmhint.so),
#                           MH_SRC (the source tree) and MH_TMP (a fresh temp
#                           directory removed at exit).  Fails the test when the
#                           library is missing: the build is a precondition.
#   mh_fail MSG...          Records a failure (printed at once, counted).
#   mh_note MSG...          Prints an informational line.
#   mh_expect_eq WHAT GOT WANT
#                           Fails with WHAT when GOT != WANT (string compare).
#   mh_skip REASON          Prints "SKIP: REASON" and exits 77.
#   mh_need_cmd CMD...      Skips the test when a command is not installed.
#   mh_done                 Prints a summary; exits 0 without failures, else 1.
#
#   mh_run DIR CMD...       Runs CMD WITHOUT the shim.  DIR receives out (stdout),
#                           err (stderr) and rc (exit status).  stdin is the
#                           caller's; redirect it at the call.  Returns 0.
#   mh_run_shim DIR CMD...  The same under LD_PRELOAD=$MH_LIB, with the extra
#                           environment in the array MH_SHIM_ENV ("VAR=value"
#                           words, e.g. MH_SHIM_ENV=(MMHINT_STATS=$MH_TMP/s/)).
#                           MMHINT_CONFIG is set empty (no config file is read)
#                           unless MH_SHIM_ENV sets it, so a config file on the
#                           machine cannot change the result.
#   mh_compare_runs WHAT A B
#                           Compares two mh_run directories: stdout bytes,
#                           exit status, and stderr exactly after removing
#                           lines that start with "mmhint:" from B.  Any such
#                           line in B is itself a failure unless
#                           MH_ALLOW_MMHINT_LINES=1.  Returns 1 on a difference.
#   mh_mmhint_lines FILE    Prints the lines of FILE that start with "mmhint:".
#
#   mh_json FILE EXPR       Loads the JSON FILE as d and prints the Python
#                           expression EXPR: strings raw, anything else as
#                           JSON.  Prints "ERROR: ..." and returns 1 when the
#                           file does not parse or EXPR fails.
#   mh_json_valid FILE      Returns 0 when FILE is a JSON object with schema
#                           "mmhint-stats/1".
#   mh_file_counters STATS PATH
#                           Prints "key=value" lines for every scalar of the
#                           entry in STATS.files whose paths contain PATH
#                           (resolved with realpath), plus "entries=N", the
#                           number of entries naming PATH (which must be 1).
#   mh_counter STATS PATH KEY
#                           Prints one value of that entry ("MISSING" if none).
#   mh_strace_file LOG PATH Reads an `strace -f -y` log and prints
#                           "opens=N reads=N bytes=N errors=N copied=N
#                           per_open=R:B,R:B...": successful open/openat/creat
#                           calls that returned a descriptor for PATH;
#                           read-family calls on a descriptor of PATH that
#                           returned >= 0, and the sum of what they returned;
#                           those that returned -1; bytes that sendfile and
#                           copy_file_range moved out of PATH; and reads:bytes
#                           per open, in the order of the opens (dup'd
#                           descriptors count with their open; reads on a
#                           descriptor the log never saw opened in that same
#                           process, e.g. one inherited across fork, are not in
#                           per_open).  Handles the "<unfinished ...>" and
#                           "resumed>" halves that -f produces.
#   MH_STRACE_READS         The -e trace= list that mh_strace_file understands.
#   mh_strace_writes LOG PATH
#                           The write side of mh_strace_file: prints "opens=N
#                           writes=N bytes=N errors=N fsyncs=N fdatasyncs=N
#                           syncranges=N truncates=N": successful opens of
#                           PATH; write-family calls (write, pwrite64, writev,
#                           pwritev, pwritev2) on a descriptor of PATH that
#                           returned >= 0 and the sum of what they returned;
#                           those that returned -1; successful fsync,
#                           fdatasync, sync_file_range and ftruncate on it,
#                           plus successful truncate calls naming PATH.
#   MH_STRACE_WRITES        The -e trace= list that mh_strace_writes understands.
#   mh_stats_files DIR      Prints the stats files (*.json, *.json.N) in DIR.
#   mh_sha FILE             Prints the sha256 of FILE.
#   MH_PYTHON               The Python to run UNDER TEST: /usr/bin/python3 when
#                           present (a pyenv shim on PATH is a bash script that
#                           would add a bash process to every run).

MH_FAILURES=0
MH_NAME=${MH_NAME:-test}
MH_SHIM_ENV=()
MH_ALLOW_MMHINT_LINES=0
MH_PYTHON=python3
[ -x /usr/bin/python3 ] && MH_PYTHON=/usr/bin/python3
MH_STRACE_READS='open,openat,openat2,creat,close,dup,dup2,dup3,fcntl,read,pread64,readv,preadv,preadv2,sendfile,copy_file_range'
MH_STRACE_WRITES='open,openat,openat2,creat,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,ftruncate,truncate'

mh_init() {
  MH_NAME=$1
  MH_SRC=${MMHINT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
  if [ -n "${MMHINT_LIB:-}" ]; then
    MH_LIB=$MMHINT_LIB
  elif [ -n "${MMHINT_BUILD_DIR:-}" ]; then
    MH_LIB=$MMHINT_BUILD_DIR/libmmhint.so
  else
    echo "FAIL: $MH_NAME: set MMHINT_BUILD_DIR to the cmake build directory (or MMHINT_LIB)" >&2
    exit 1
  fi
  case $MH_LIB in /*) ;; *) MH_LIB=$PWD/$MH_LIB ;; esac
  if [ ! -f "$MH_LIB" ]; then
    echo "FAIL: $MH_NAME: $MH_LIB is missing (build the project first)" >&2
    exit 1
  fi
  MH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmhint-$MH_NAME.XXXXXX") || exit 1
  # Stats files are 0600 and temp dirs may hold read-only directories: make
  # everything removable first.
  trap 'chmod -R u+rwx "$MH_TMP" 2>/dev/null; rm -rf "$MH_TMP"' EXIT
}

mh_fail() {
  echo "FAIL: $*"
  MH_FAILURES=$((MH_FAILURES + 1))
}

mh_note() { echo "  $*"; }

mh_expect_eq() {
  if [ "$2" != "$3" ]; then
    mh_fail "$1: got '$2', want '$3'"
    return 1
  fi
  return 0
}

mh_skip() {
  echo "SKIP: $*"
  exit 77
}

mh_need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || mh_skip "$c is not installed"
  done
}

mh_done() {
  if [ "$MH_FAILURES" -eq 0 ]; then
    echo "PASS: $MH_NAME"
    exit 0
  fi
  echo "FAILED: $MH_NAME: $MH_FAILURES failure(s)"
  exit 1
}

mh_run() {
  local dir=$1
  shift
  mkdir -p "$dir"
  "$@" >"$dir/out" 2>"$dir/err"
  echo $? >"$dir/rc"
  return 0
}

mh_run_shim() {
  local dir=$1
  shift
  mkdir -p "$dir"
  env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${MH_SHIM_ENV[@]+"${MH_SHIM_ENV[@]}"}" "$@" >"$dir/out" 2>"$dir/err"
  echo $? >"$dir/rc"
  return 0
}

mh_mmhint_lines() { grep -a '^mmhint:' "$1"; }

mh_compare_runs() {
  local what=$1 a=$2 b=$3 bad=0
  if ! cmp -s "$a/out" "$b/out"; then
    mh_fail "$what: stdout differs ($(wc -c <"$a/out") vs $(wc -c <"$b/out") bytes)"
    bad=1
  fi
  if [ "$(cat "$a/rc")" != "$(cat "$b/rc")" ]; then
    mh_fail "$what: exit status $(cat "$a/rc") without the shim, $(cat "$b/rc") with it"
    bad=1
  fi
  if ! grep -av '^mmhint:' "$b/err" | cmp -s "$a/err" -; then
    mh_fail "$what: stderr differs"
    diff <(cat "$a/err") <(grep -av '^mmhint:' "$b/err") | head -5 | sed 's/^/    /'
    bad=1
  fi
  if [ "$MH_ALLOW_MMHINT_LINES" != 1 ] && grep -aq '^mmhint:' "$b/err"; then
    mh_fail "$what: the shim printed on stderr: $(mh_mmhint_lines "$b/err" | head -1)"
    bad=1
  fi
  return $bad
}

mh_json() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
    v = eval(sys.argv[2])
except Exception as e:
    print("ERROR: %s: %s" % (sys.argv[1], e))
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}

mh_json_valid() {
  python3 - "$1" <<'EOF'
import json, sys
try:
    with open(sys.argv[1]) as f:
        d = json.load(f)
except Exception as e:
    print("invalid JSON in %s: %s" % (sys.argv[1], e))
    sys.exit(1)
if not isinstance(d, dict) or d.get("schema") != "mmhint-stats/1":
    print("%s: schema is not mmhint-stats/1" % sys.argv[1])
    sys.exit(1)
EOF
}

mh_file_counters() {
  python3 - "$1" "$2" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
want = os.path.realpath(sys.argv[2])
hits = [f for f in d.get("files", []) if want in [os.path.realpath(p) for p in f.get("paths", [])]]
print("entries=%d" % len(hits))
if hits:
    for k, v in hits[0].items():
        if isinstance(v, (int, float, str)) and not isinstance(v, bool):
            print("%s=%s" % (k, v))
EOF
}

mh_counter() {
  local v
  v=$(mh_file_counters "$1" "$2" | sed -n "s/^$3=//p")
  echo "${v:-MISSING}"
}

# The parser of `strace -f -y` logs both readers below share: it yields each
# completed call as (pid, name, args, return value, path of a returned
# descriptor, [(fd, path)] of the descriptors in its arguments), joining the
# "<unfinished ...>" and "resumed>" halves that -f produces.
MH_STRACE_CALLS='
import os, re, sys
def strace_calls(log):
    pending = {}
    line_re = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(.*)$")
    for raw in open(log, errors="replace"):
        m = line_re.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, rest = m.group(1), m.group(2)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        r = re.match(r"^<\.\.\. (\w+) resumed>(.*)$", rest)
        if r:
            rest = pending.pop(pid, r.group(1) + "(") + r.group(2)
        c = re.match(r"^(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<([^>]*)>)?", rest)
        if not c:
            continue
        args = c.group(2)
        yield pid, c.group(1), args, int(c.group(3)), c.group(4), re.findall(r"(?:^|, )(\d+)<([^>]*)>", args)
'

mh_strace_file() {
  { printf '%s\n' "$MH_STRACE_CALLS"; cat; } <<'EOF' | python3 - "$1" "$2"
log, want = sys.argv[1], os.path.realpath(sys.argv[2])
reads = ("read", "pread64", "readv", "preadv", "preadv2")
opens = ("open", "openat", "openat2", "creat")
inst = {}        # (pid, fd) -> index into per_open
per_open = []    # [reads, bytes] per successful open of want
n_open = n_read = n_bytes = n_err = n_copied = 0
def is_want(p):
    return p is not None and os.path.realpath(p) == want
for pid, name, args, ret, retpath, fds in strace_calls(log):
    if name in opens:
        if ret >= 0 and is_want(retpath):
            n_open += 1
            inst[(pid, ret)] = len(per_open)
            per_open.append([0, 0])
    elif name in ("dup", "dup2", "dup3", "fcntl") and ret >= 0 and fds and is_want(fds[0][1]):
        if name != "fcntl" or "F_DUPFD" in args:
            k = inst.get((pid, int(fds[0][0])))
            if k is not None:
                inst[(pid, ret)] = k
    elif name == "close" and fds:
        inst.pop((pid, int(fds[0][0])), None)
    elif name in reads and fds and is_want(fds[0][1]):
        if ret >= 0:
            n_read += 1
            n_bytes += ret
            k = inst.get((pid, int(fds[0][0])))
            if k is not None:
                per_open[k][0] += 1
                per_open[k][1] += ret
        else:
            n_err += 1
    elif name == "sendfile" and len(fds) >= 2 and is_want(fds[1][1]) and ret > 0:
        n_copied += ret
    elif name == "copy_file_range" and fds and is_want(fds[0][1]) and ret > 0:
        n_copied += ret
print("opens=%d reads=%d bytes=%d errors=%d copied=%d per_open=%s" % (
    n_open, n_read, n_bytes, n_err, n_copied, ",".join("%d:%d" % tuple(x) for x in per_open) or "-"))
EOF
}

mh_strace_writes() {
  { printf '%s\n' "$MH_STRACE_CALLS"; cat; } <<'EOF' | python3 - "$1" "$2"
log, want = sys.argv[1], os.path.realpath(sys.argv[2])
writes = ("write", "pwrite64", "writev", "pwritev", "pwritev2")
opens = ("open", "openat", "openat2", "creat")
syncs = {"fsync": "fsyncs", "fdatasync": "fdatasyncs", "sync_file_range": "syncranges", "ftruncate": "truncates"}
n = dict(opens=0, writes=0, bytes=0, errors=0, fsyncs=0, fdatasyncs=0, syncranges=0, truncates=0)
def is_want(p):
    return p is not None and os.path.realpath(p) == want
for pid, name, args, ret, retpath, fds in strace_calls(log):
    if name in opens:
        if ret >= 0 and is_want(retpath):
            n["opens"] += 1
    elif name in writes and fds and is_want(fds[0][1]):
        if ret >= 0:
            n["writes"] += 1
            n["bytes"] += ret
        else:
            n["errors"] += 1
    elif name in syncs and fds and is_want(fds[0][1]) and ret == 0:
        n[syncs[name]] += 1
    elif name == "truncate" and ret == 0:
        p = re.match(r'^"((?:[^"\\]|\\.)*)"', args)
        if p and is_want(p.group(1)):
            n["truncates"] += 1
print(" ".join("%s=%d" % kv for kv in n.items()))
EOF
}

mh_stats_files() {
  find "$1" -maxdepth 1 -type f \( -name '*.json' -o -name '*.json.[0-9]*' \) | sort
}

mh_sha() { sha256sum <"$1" | cut -d' ' -f1; }

# mh_tree_listing DIR [FIND-TESTS...]: one line per entry below DIR (type,
# mode, size, path, and a content hash for files), sorted; extra find tests
# (e.g. ! -path './x') leave entries out.  Two runs made the same files when
# their listings are equal.
mh_tree_listing() {
  local dir=$1
  shift
  (cd "$dir" && find . -mindepth 1 "$@" -printf '%y %m %s %P\n' | sort | while read -r t m s p; do
    if [ "$t" = f ]; then echo "$t $m $s $p $(mh_sha "$p")"; else echo "$t $m $s $p"; fi
  done)
}

# ---- Self-test ------------------------------------------------------------------
# tests/CMakeLists.txt registers every tests/integration/*.sh as a ctest test,
# this file included.  Run directly (not sourced), it checks its own helpers
# on synthetic input, so that registration tests something real.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  MH_NAME=lib_selftest
  MH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmhint-lib.XXXXXX") || exit 1
  trap 'rm -rf "$MH_TMP"' EXIT
  T=$MH_TMP
  : >"$T/f"
  cat >"$T/log" <<LOG
100   openat(AT_FDCWD</x>, "f", O_RDONLY) = 3<$T/f>
100   read(3<$T/f>, ""..., 131072) = 4096
100   read(3<$T/f>, "", 131072)  = 0
100   dup2(3<$T/f>, 0</dev/pts/0>) = 0<$T/f>
100   read(0<$T/f>, ""..., 10) = 10
101   pread64(3<$T/f> <unfinished ...>
100   read(4</other>, ""..., 10) = 10
101   <... pread64 resumed>""..., 100, 0) = 100
100   close(3<$T/f>) = 0
[pid   102] openat(AT_FDCWD</x>, "$T/f", O_RDONLY) = 5<$T/f>
102   readv(5<$T/f>, [{iov_base=""..., iov_len=8}], 1) = 8
102   read(5<$T/f>, 0x1, 8) = -1 EFAULT (Bad address)
102   copy_file_range(5<$T/f>, NULL, 1</out>, NULL, 1000, 0) = 1000
102   sendfile(1</out>, 5<$T/f>, NULL, 50) = 50
102   openat(AT_FDCWD</x>, "/missing", O_RDONLY) = -1 ENOENT (No such file or directory)
LOG
  mh_expect_eq "mh_strace_file" "$(mh_strace_file "$T/log" "$T/f")" \
    "opens=2 reads=5 bytes=4214 errors=1 copied=1050 per_open=3:4106,1:8"
  cat >"$T/wlog" <<LOG
100   openat(AT_FDCWD</x>, "$T/f", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3<$T/f>
100   write(3<$T/f>, ""..., 4096) = 4096
100   pwrite64(3<$T/f> <unfinished ...>
101   write(4</other>, ""..., 10) = 10
100   <... pwrite64 resumed>""..., 100, 0) = 100
100   writev(3<$T/f>, [{iov_base=""..., iov_len=8}], 1) = 8
100   write(3<$T/f>, 0x1, 8) = -1 EFAULT (Bad address)
100   fsync(3<$T/f>) = 0
100   fdatasync(3<$T/f>) = 0
100   ftruncate(3<$T/f>, 10) = 0
100   truncate("$T/f", 0) = 0
100   write(5<$T/s.json.tmp.100>, ""..., 900) = 900
LOG
  mh_expect_eq "mh_strace_writes" "$(mh_strace_writes "$T/wlog" "$T/f")" \
    "opens=1 writes=3 bytes=4204 errors=1 fsyncs=1 fdatasyncs=1 syncranges=0 truncates=2"
  mkdir -p "$T/a" "$T/b"
  printf 'out' >"$T/a/out"; printf 'out' >"$T/b/out"
  printf 'e1\n' >"$T/a/err"; printf 'e1\n' >"$T/b/err"
  echo 0 >"$T/a/rc"; echo 0 >"$T/b/rc"
  mh_compare_runs same "$T/a" "$T/b" >/dev/null || mh_fail "mh_compare_runs: equal runs reported different"
  n=$MH_FAILURES
  printf 'mmhint: hello\ne1\n' >"$T/b/err"
  mh_compare_runs mmhint-line "$T/a" "$T/b" >/dev/null && mh_fail "mh_compare_runs: a mmhint: line went unnoticed"
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs allowed "$T/a" "$T/b" >/dev/null || mh_fail "mh_compare_runs: allowed mmhint: line rejected"
  echo 1 >"$T/b/rc"
  mh_compare_runs rc "$T/a" "$T/b" >/dev/null && mh_fail "mh_compare_runs: exit status difference went unnoticed"
  echo 0 >"$T/b/rc"; printf 'out2' >"$T/b/out"
  mh_compare_runs out "$T/a" "$T/b" >/dev/null && mh_fail "mh_compare_runs: stdout difference went unnoticed"
  MH_FAILURES=$n
  echo '{"schema": "mmhint-stats/1", "files": [{"paths": ["'"$T"'/f"], "reads": 3, "policy": {}}]}' >"$T/s.json"
  mh_json_valid "$T/s.json" >/dev/null || mh_fail "mh_json_valid rejected a valid file"
  echo '{"schema": "mmhint-stats/1", ' >"$T/bad.json"
  mh_json_valid "$T/bad.json" >/dev/null && mh_fail "mh_json_valid accepted a truncated file"
  mh_expect_eq "mh_counter" "$(mh_counter "$T/s.json" "$T/f" reads)" 3
  mh_expect_eq "mh_counter missing" "$(mh_counter "$T/s.json" "$T/nope" reads)" MISSING
  mh_expect_eq "mh_json" "$(mh_json "$T/s.json" 'd["files"][0]["paths"]')" "[\"$T/f\"]"
  mh_done
fi
