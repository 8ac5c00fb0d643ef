#!/usr/bin/env bash
# PITFALLS 3 (doors you did not wrap), DESIGN invariant 7.
#  a) For every family libmmhint wraps, each sibling that libc exports (64
#     suffix, __*_chk, __*_2, _unlocked, __libc_*, __ prefix) must be wrapped
#     too, unless listed in ALLOW below with a reason.
#  b) libmmhint.so exports exactly shim/symbols.def plus the public API, and
#     every name in shim/symbols.def really is defined and exported.
#  c) A program built with -O2 -D_FORTIFY_SOURCE=3 and/or
#     -D_FILE_OFFSET_BITS=64 really calls __read_chk, __open_2, open64, ...
#     (checked with nm) and the statistics count every one of its calls.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_abi_reads
LIBC=$(ldd /bin/true | awk '$1 ~ /^libc\.so/ {print $3}')
[ -f "$LIBC" ] || LIBC=$(gcc -print-file-name=libc.so.6)
[ -f "$LIBC" ] || { echo "FAIL: cannot find the libc in use"; exit 1; }
echo "libc: $(readlink -f "$LIBC")"

# Public libc exports (GLIBC_PRIVATE ones cannot be linked against by programs).
nm -D --defined-only "$LIBC" | awk 'NF == 3 {print $3}' | grep -v '@GLIBC_PRIVATE' | sed 's/@.*//' | sort -u > "$T/libc.syms"
nm -D --defined-only "$LIB" | awk 'NF == 3 {print $3}' | sed 's/@.*//' | sort -u > "$T/shim.syms"
printf '#include "symbols.def"\n#define S(n) n\nMMHINT_SYMBOLS(S)\n' > "$T/syms.c"
cc -E -P -I"$SRC/shim" "$T/syms.c" | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u > "$T/def.syms"
[ "$(wc -l < "$T/def.syms")" -gt 50 ] || { echo "FAIL: could not read shim/symbols.def"; exit 1; }
printf '%s\n' mmhint_version mmhint_option_get mmhint_stats_flush mmhint_numa_supported | sort > "$T/api.syms"

# Siblings libc exports that are deliberately not wrapped, one reason each.
cat > "$T/allow.txt" <<'A'
__open     legacy internal alias; no public header declares it and compilers never emit it
__open64   legacy internal alias; no public header declares it and compilers never emit it
__read     legacy internal alias; no public header declares it and compilers never emit it
__pread64  legacy internal alias; no public header declares it and compilers never emit it
__lseek    legacy internal alias; no public header declares it and compilers never emit it
__close    legacy internal alias; close tracking is an optimisation, a missed close only leaves a stale entry until the fd is reused
__dup2     legacy internal alias; no public header declares it and compilers never emit it
__fcntl    legacy internal alias; no public header declares it and compilers never emit it
__fork     legacy alias kept for old libpthread-era binaries; the fork wrapper covers everything built against glibc >= 2.34
exit       not wrapped on purpose: exit() runs the destructors, and the library writes its statistics from its destructor
__pipe     legacy internal alias; no public header declares it and compilers never emit it
A

# a) Siblings.  A family is named by its root: the name without a leading
# __libc_/__, a trailing _chk/_2/_unlocked, and any "64".
python3 - "$T" <<'PY' || FAILS=$((FAILS + 1))
import re, sys
t = sys.argv[1]
def words(f): return set(open(f"{t}/{f}").read().split())
def root(n):
    n = re.sub(r'^__libc_', '', n).lstrip('_')
    for suffix in ('_chk', '_2', '_unlocked', '_unlocked'):
        if n.endswith(suffix): n = n[:-len(suffix)]
    return n.replace('64', '')
libc, shim = words("libc.syms"), words("shim.syms")
allow = {l.split()[0]: l.split(None, 1)[1].strip() for l in open(f"{t}/allow.txt") if l.strip()}
# The families the project promised to cover (PITFALLS 3 and the brief): each must be wrapped at all.
promised = ["open", "openat", "creat", "read", "pread", "readv", "preadv", "preadv2", "lseek", "mmap", "fopen",
            "freopen", "fread", "fgets", "getdelim", "getline", "fseeko", "ftello", "fsetpos", "fgetpos", "malloc",
            "calloc", "realloc", "reallocarray", "memalign", "aligned_alloc", "posix_memalign", "valloc", "pvalloc",
            "malloc_usable_size", "free", "sendfile", "copy_file_range", "dup", "dup2", "dup3", "close", "fork",
            "execve", "posix_spawn",
            # The write side: every write-family door, the syncs, truncation, stdio writes and msync.
            "write", "pwrite", "writev", "pwritev", "pwritev2", "fsync", "fdatasync", "sync_file_range",
            "truncate", "ftruncate", "fwrite", "fputs", "fflush", "msync"]
roots = {root(w) for w in shim}
bad = 0
for p in promised:
    if root(p) not in roots:
        print(f"FAIL: family '{p}' is not wrapped at all"); bad += 1
for n in sorted(libc):
    if root(n) in roots and n not in shim:
        if n in allow:
            print(f"  allowed: {n} ({allow[n]})")
        else:
            print(f"FAIL: libc exports {n} (family '{root(n)}') but libmmhint.so does not wrap it"); bad += 1
for n in sorted(allow):
    if n in shim: print(f"  note: allow-list entry {n} is wrapped now; remove it from the list")
    elif n not in libc: print(f"  note: allow-list entry {n} is not exported by this libc")
print(f"ok: {len(roots)} wrapped families checked against {len(libc)} libc exports" if not bad else f"{bad} sibling problem(s)")
sys.exit(1 if bad else 0)
PY

# b) The export list.
extra=$(comm -23 "$T/shim.syms" <(sort -u "$T/def.syms" "$T/api.syms"))
[ -z "$extra" ] && ok "libmmhint.so exports nothing beyond shim/symbols.def and the public API" ||
  fail "libmmhint.so exports names outside shim/symbols.def and the API: $(echo $extra)"
missing=$(comm -13 "$T/shim.syms" "$T/def.syms")
[ -z "$missing" ] && ok "every name in shim/symbols.def is exported" ||
  fail "shim/symbols.def lists names libmmhint.so does not define/export (no wrapper written?): $(echo $missing)"
notlibc=$(comm -23 "$T/def.syms" "$T/libc.syms")
[ -z "$notlibc" ] && ok "every wrapped name exists in libc" ||
  fail "wrapped names libc does not export (they would shadow other libraries): $(echo $notlibc)"

# c) Fortify and large-file builds: the doors they use are counted.
DATA=$T/data.txt
seq 1 20000 > "$DATA"
variant() { # TAG CFLAGS REQUIRED-UNDEFINED-SYMBOLS...
  local tag=$1 flags=$2 exe
  shift 2
  if [ "$tag" = plain ]; then exe=$PROGS/pit_abi_reads; else
    exe=$T/pit_abi_reads.$tag
    cc -Wall $flags -o "$exe" "$SRC/tests/programs/pit_abi_reads.c" || { fail "$tag: cannot compile with $flags"; return; }
  fi
  local undef s
  undef=$(nm -u "$exe" | awk '{print $2}' | sed 's/@.*//')
  for s in "$@"; do
    echo "$undef" | grep -qx "$s" || fail "$tag ($flags): the program does not reference $s, so this variant tests nothing"
  done
  timeout 30 "$exe" "$DATA" > "$T/$tag.plain" || { fail "$tag: plain run failed"; return; }
  rm -f "$T/$tag.json"
  timeout 30 env LD_PRELOAD="$LIB" MMHINT_STATS="$T/$tag.json" "$exe" "$DATA" > "$T/$tag.shim" ||
    { fail "$tag: run under the shim failed"; return; }
  cmp -s "$T/$tag.plain" "$T/$tag.shim" || fail "$tag: output differs under the shim"
  valid_stats "$T/$tag.json" || { fail "$tag: stats missing or invalid"; return; }
  local want got
  # program's name -> stats counter
  for pair in opens:opens stdio_opens:stdio_opens mmaps:mmaps read_calls:reads bytes_read:bytes_read seeks:seeks \
              stdio_reads:stdio_reads stdio_bytes:stdio_bytes_read stdio_seeks:stdio_seeks; do
    want=$(awk -v k="${pair%%:*}" '$1 == k {print $2}' "$T/$tag.plain")
    got=$(stats_q "$T/$tag.json" "c('$DATA','${pair#*:}')")
    [ "$got" = "$want" ] || fail "$tag ($flags): stats ${pair#*:} = $got, the program did $want"
  done
  ok "$tag ($flags): every counter equals the program's own count ($(echo $(cat "$T/$tag.plain")))"
}
variant plain "" open openat read pread readv preadv lseek mmap fopen fread fgets fgets_unlocked fread_unlocked getdelim fseeko ftello fgetpos fsetpos
variant fortify "-O2 -D_FORTIFY_SOURCE=3" __open_2 __openat_2 __read_chk __pread_chk __fread_chk __fgets_chk __fgets_unlocked_chk __fread_unlocked_chk __getdelim
variant lfs "-O2 -D_FILE_OFFSET_BITS=64" open64 openat64 pread64 preadv64 lseek64 mmap64 fopen64 fseeko64 ftello64 fgetpos64 fsetpos64
variant fortify_lfs "-O2 -D_FORTIFY_SOURCE=3 -D_FILE_OFFSET_BITS=64" __open64_2 __openat64_2 __read_chk __pread64_chk __fread_chk __fgets_chk lseek64 mmap64 fopen64
finish
