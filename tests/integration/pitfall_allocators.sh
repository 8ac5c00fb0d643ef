#!/usr/bin/env bash
# PITFALLS 1 (bootstrap re-entry): jemalloc and tcmalloc-minimal preloaded
# before and after libmmhint.so.  A program that uses the whole malloc
# family, reads a file and runs threads must finish (a hang is a failure),
# print what it prints without the shim, and leave a valid stats file whose
# read counts equal the program's own; python3 and sort likewise.
set -u
. "$(dirname "$0")/pitlib.sh"

need_prog pit_alloc
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
ALL=malloc,calloc,realloc,reallocarray,memalign,posix_memalign,aligned_alloc,valloc,pvalloc,malloc_usable_size

# The functions of $ALL that allocator $1 itself defines: the others would go to
# glibc's heap and be freed into the other allocator, which breaks with no shim at all.
funcs_of() {
  local out="" f
  for f in ${ALL//,/ }; do
    nm -D --defined-only "$1" 2>/dev/null | awk '{print $3}' | grep -qx "$f" && out="$out,$f"
  done
  echo "${out#,}"
}

DATA=$T/data.txt
seq 1 30000 > "$DATA"

# run TAG PRELOAD CMD...: runs CMD with LD_PRELOAD=PRELOAD (empty: none) and stats to $T/TAG.json.
run() {
  local tag=$1 pre=$2
  shift 2
  rm -f "$T/$tag.json"
  if [ -n "$pre" ]; then
    # timeout and env stay outside the preload: only the program itself runs under it.
    timeout 30 env LD_PRELOAD="$pre" MMHINT_STATS="$T/$tag.json" "$@" > "$T/$tag.out" 2> "$T/$tag.err"
  else
    timeout 30 "$@" > "$T/$tag.out" 2> "$T/$tag.err"
  fi
  local rc=$?
  [ $rc -eq 124 ] && echo "  ($tag: killed by timeout 30 s: hang)"
  return $rc
}

for alloc in "$JEMALLOC" "$TCMALLOC"; do
  name=$(basename "$alloc" | cut -d. -f1)
  if [ ! -f "$alloc" ]; then fail "$alloc is not installed"; continue; fi
  F=$(funcs_of "$alloc")
  echo "== $name: functions exercised: $F"
  run "$name.plain" "" "$PROGS/pit_alloc" "$DATA" "$F" || fail "$name: plain run failed"
  run "$name.alone" "$alloc" "$PROGS/pit_alloc" "$DATA" "$F" || fail "$name: run with only $name preloaded failed"
  cmp -s "$T/$name.plain.out" "$T/$name.alone.out" || fail "$name alone: output differs from plain"
  want_calls=$(awk '/^read_calls/{print $2}' "$T/$name.plain.out")
  for order in first last; do
    if [ $order = first ]; then pre="$alloc $LIB"; else pre="$LIB $alloc"; fi
    tag="$name.$order"
    if run "$tag" "$pre" "$PROGS/pit_alloc" "$DATA" "$F"; then
      ok "$tag (LD_PRELOAD=\"$pre\") finished"
    else
      fail "$tag (LD_PRELOAD=\"$pre\") exited $?: $(head -c 300 "$T/$tag.err")"
      continue
    fi
    cmp -s "$T/$name.plain.out" "$T/$tag.out" || fail "$tag: output differs from the plain run"
    if ! valid_stats "$T/$tag.json"; then fail "$tag: stats file missing or invalid"; continue; fi
    got=$(stats_q "$T/$tag.json" "c('$DATA','reads')")
    [ "$got" = "$want_calls" ] && ok "$tag: stats reads $got = program's read+pread calls" ||
      fail "$tag: stats reads $got, program made $want_calls read/pread calls"
    got=$(stats_q "$T/$tag.json" "(c('$DATA','opens'), c('$DATA','stdio_opens'))")
    [ "$got" = "(5, 5)" ] || fail "$tag: (opens, stdio_opens) of the data file are $got, expected (5, 5)"
    got=$(stats_q "$T/$tag.json" "c('$DATA','bytes_read')")
    want=$(( $(stat -c %s "$DATA") * 10 ))
    [ "$got" = "$want" ] || fail "$tag: bytes_read $got, expected $want (5 threads x read + pread of the whole file)"
    if [ $order = last ]; then
      # Only when the shim comes first does it see the program's allocations.
      got=$(stats_q "$T/$tag.json" "s['memory']['malloc_calls'] >= 10000 and s['memory']['free_calls'] >= 10000")
      [ "$got" = True ] || fail "$tag: memory counters too small: $(stats_q "$T/$tag.json" "s['memory']")"
    fi
  done
done

# Exact counts: a loop of N malloc(64)/free pairs (bench/overhead) counts N more of each, N more in
# the 0-64 size class and 64 N more bytes_requested than the same loop with N = 1000.
# exact_pairs TAG PRELOAD LABEL: runs both loops under LD_PRELOAD=PRELOAD (stats in $T/TAG1000.json and
# $T/TAG101000.json) and checks the difference; returns nonzero when a run or its stats file failed.
OV=$BUILD/bench/overhead
exact_pairs() {
  local tag=$1 pre=$2 label=$3 n m0 f0 c0 b0 m1 f1 c1 b1 got
  local q="'%d %d %d %d' % (s['memory']['malloc_calls'], s['memory']['free_calls'], s['memory']['size_classes']['0-64'], s['memory']['bytes_requested'])"
  for n in 1000 101000; do
    run "$tag$n" "$pre" "$OV" malloc "$n" 64 ||
      { fail "$label: overhead malloc $n failed: $(head -c 300 "$T/$tag$n.err")"; return 1; }
    valid_stats "$T/$tag$n.json" || { fail "$label: overhead malloc $n left no valid stats file"; return 1; }
  done
  read -r m0 f0 c0 b0 <<< "$(stats_q "$T/${tag}1000.json" "$q")"
  read -r m1 f1 c1 b1 <<< "$(stats_q "$T/${tag}101000.json" "$q")"
  got="$((m1 - m0)) $((f1 - f0)) $((c1 - c0)) $((b1 - b0))"
  [ "$got" = "100000 100000 100000 6400000" ] && ok "$label: 100,000 more malloc/free pairs counted exactly ($got)" ||
    fail "$label: 100,000 more malloc(64)/free pairs: (malloc_calls, free_calls, 0-64, bytes_requested) grew by $got"
}
if [ -x "$OV" ]; then
  exact_pairs ov "$LIB" "the shim alone"
  # The same with the router's size windows on (malloc's counted path that also compares the size).
  export MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K
  exact_pairs ovr "$LIB" "with hugepages=thp,hugepage_min=64K" &&
    got=$(stats_q "$T/ovr1000.json" "(s['memory']['policy']['hugepages'], s['memory']['policy']['hugepage_min'])") &&
    { [ "$got" = "('thp', 65536)" ] || fail "the size-window runs did not have the window on: memory.policy says $got"; }
  unset MMHINT_HUGEPAGES MMHINT_HUGEPAGE_MIN
else
  fail "$OV not built"
fi

# The start-up arena.  glibc 2.36's dlsym does not allocate, so nothing here
# uses the arena on its own; glibc before 2.34 allocated in dlsym (its dlerror
# state, by calloc), which is what PITFALLS 1 is about.  A dlsym preloaded
# before the shim does that again: its calloc reaches the shim while the real
# calloc is still unknown, so the arena serves it.  It keeps those blocks and
# frees them only after start-up, from its constructor or destructor, where
# free must recognise them (glibc's free aborts on them).  It reports on
# stderr how many of its blocks lay in libmmhint.so's own image (the arena).
cat > "$T/dlsym_alloc.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void *(*real_dlsym)(void *, const char *);
static void *kept[64];
static int nkept, in_arena;
static void release(void) {
  for (int i = 0; i < nkept; i++) free(kept[i]);
  nkept = 0;
}
__attribute__((noinline)) static void allocate(void) {
  if (!real_dlsym) real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  void *p = calloc(1, 48);
  Dl_info i;
  if (p && dladdr(p, &i) && i.dli_fname && strstr(i.dli_fname, "libmmhint")) in_arena++;
  if (p && nkept < 64) kept[nkept++] = p; else free(p);
}
/* The real dlsym is reached by a tail call, so that RTLD_NEXT stays relative to the caller. */
void *dlsym(void *h, const char *name) {
  allocate();
  return real_dlsym(h, name);
}
__attribute__((constructor)) static void ctor(void) { release(); }
__attribute__((destructor)) static void dtor(void) {
  release();
  char line[64];
  int n = snprintf(line, sizeof line, "dlsym_alloc: %d blocks in the arena\n", in_arena);
  if (write(2, line, (size_t)n) < 0) return;
}
C
if ! cc -shared -fPIC -O2 -o "$T/libdlsym_alloc.so" "$T/dlsym_alloc.c" -ldl; then
  fail "cannot build the allocating dlsym"
elif ! objdump -d --no-show-raw-insn "$T/libdlsym_alloc.so" | awk '/<dlsym>:/,/^$/' | grep -q 'jmp *\*'; then
  fail "the allocating dlsym does not reach the real one by a tail call (RTLD_NEXT would be relative to it): $(objdump -d --no-show-raw-insn "$T/libdlsym_alloc.so" | awk '/<dlsym>:/,/^$/' | tr -s ' \t' ' ' | head -c 300)"
else
  DA=$T/libdlsym_alloc.so
  if [ -x "$OV" ]; then
    exact_pairs da "$DA $LIB" "with the arena in use"
    arena=$(sed -n 's/^dlsym_alloc: \([0-9]*\) blocks in the arena$/\1/p' "$T/da1000.err")
    [ "${arena:-0}" -ge 1 ] && ok "the allocating dlsym got $arena blocks from the start-up arena and freed them after start-up" ||
      fail "the allocating dlsym got no block from the start-up arena (stderr: $(head -c 300 "$T/da1000.err")): the test exercises nothing"
  fi
  PYDA='import json,zlib; print(len(json.dumps(list(range(20000)))), zlib.crc32(bytes(range(256))*99))'
  run py.plain0 "" /usr/bin/python3 -c "$PYDA" || fail "python3 plain run failed"
  run py.da "$DA $LIB" /usr/bin/python3 -c "$PYDA" && cmp -s "$T/py.plain0.out" "$T/py.da.out" &&
    ok "python3 with the allocating dlsym: same output" ||
    fail "python3 with the allocating dlsym: exit or output differs: $(head -c 300 "$T/py.da.err")"
fi

# Real programs under each stacking: python3 and sort.
PYPROG='import hashlib,sys; d=open(sys.argv[1],"rb").read(); l=[bytearray(4096) for _ in range(2000)]; print(hashlib.sha256(d).hexdigest(), len(l))'
# The real interpreter, not a wrapper script on PATH (pyenv shims spawn a dozen processes).
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
SHUF=$T/shuf.txt
seq 1 50000 | sort -R --random-source=<(yes) > "$SHUF"
run py.plain "" "$PY" -c "$PYPROG" "$DATA" || fail "python3 plain run failed"
run sort.plain "" sort -n "$SHUF" || fail "sort plain run failed"
for pre in "$LIB" "$JEMALLOC $LIB" "$LIB $JEMALLOC" "$TCMALLOC $LIB" "$LIB $TCMALLOC"; do
  label=$(echo "$pre" | sed "s#$LIB#mmhint#; s#/usr/lib/x86_64-linux-gnu/##g")
  for p in py sort; do
    if [ $p = py ]; then in=$DATA; cmd=("$PY" -c "$PYPROG" "$DATA"); else cmd=(sort -n "$SHUF"); in=$SHUF; fi
    if ! run $p.x "$pre" "${cmd[@]}"; then fail "$p under LD_PRELOAD=\"$label\" exited $?: $(head -c 300 "$T/$p.x.err")"; continue; fi
    cmp -s "$T/$p.plain.out" "$T/$p.x.out" || { fail "$p under \"$label\": output differs"; continue; }
    if ! valid_stats "$T/$p.x.json"; then fail "$p under \"$label\": stats missing or invalid"; continue; fi
    got=$(stats_q "$T/$p.x.json" "c('$in','bytes_read') + c('$in','stdio_bytes_read')")  # sort reads through stdio
    [ "$got" -ge "$(stat -c %s "$in")" ] && ok "$p under \"$label\": same output, input counted ($got bytes)" ||
      fail "$p under \"$label\": stats bytes_read + stdio_bytes_read of the input is $got"
  done
done
finish
