#!/bin/bash
# Hardening, sanitizers and checkers:
#   asan   : policy/ and its unit tests (policy_tests) built with
#            -DMMHINT_SANITIZE=ON (ASan+UBSan) in a temporary build
#            directory; every test passes and no "runtime error" is printed;
#   tsan   : every policy/*.c with tests/sanitize/tsan_policy.c (threads on
#            the stats store, the fd table, the arena and read->mmap windows
#            under eviction) built -fsanitize=thread: no race reported;
#   valgrind: memcheck (--error-exitcode=99) on cat and
#            tests/programs/hard_exercise with the shim preloaded under AGGR
#            (a program with a known error is the positive control);
#   stacked: hard_exercise built with ASan, run with
#            LD_PRELOAD="libasan.so libmmhint.so" under AGGR, and cat the same.
# A missing toolchain piece skips that part with its reason (77 when all are
# skipped).  HARD_SAN_BUILD=DIR reuses an ASan build directory.
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_sanitizers
mh_need_cmd gcc cmake make
SRC=$MH_SRC
P=${MMHINT_BUILD_DIR:-$(dirname "$MH_LIB")}/tests/programs
D=$MH_TMP
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K)
RAN=0
seq 1 40000 >"$D/data.txt"

# can_build FLAGS: the compiler can link a program with FLAGS.
can_build() { echo 'int main(void){return 0;}' | gcc -x c - -o "$D/probe" "$@" >/dev/null 2>&1 && "$D/probe"; }

# ---- ASan + UBSan on the unit tests --------------------------------------------------
if can_build -fsanitize=address,undefined && [ -f /usr/include/gtest/gtest.h ]; then
  B=${HARD_SAN_BUILD:-$D/asan}
  mkdir -p "$B"
  if (cd "$B" && cmake -S "$SRC" -B . -DMMHINT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >cmake.log 2>&1 &&
    make -j2 policy_tests >make.log 2>&1); then
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
      timeout 300 "$B/tests/policy_tests" >"$D/asan.log" 2>&1
    rc=$?
    RAN=1
    mh_note "asan+ubsan policy_tests: rc $rc, $(grep -m1 -E '^\[  PASSED  \]' "$D/asan.log")"
    [ $rc -eq 0 ] || mh_fail "asan+ubsan policy_tests: rc $rc: $(grep -m3 -E 'FAILED|ERROR: AddressSanitizer|runtime error' "$D/asan.log")"
    grep -q 'runtime error' "$D/asan.log" && mh_fail "ubsan: $(grep -m3 'runtime error' "$D/asan.log")"
  else
    mh_fail "the ASan build failed: $(tail -5 "$B/make.log" "$B/cmake.log" 2>/dev/null)"
  fi
else
  mh_note "SKIP asan: gcc cannot link -fsanitize=address,undefined or GoogleTest is missing"
fi

# ---- TSan on the concurrent policy paths ----------------------------------------------------
if can_build -fsanitize=thread -pthread; then
  srcs=$(ls "$SRC"/policy/*.c "$SRC"/policy/os/*.c | grep -v '_main\.c$')
  # shellcheck disable=SC2086
  if gcc -O1 -g -fsanitize=thread -D_GNU_SOURCE -I"$SRC" -I"$SRC/include" -pthread $srcs \
    "$SRC/tests/sanitize/tsan_policy.c" -o "$D/tsan_policy" -lnuma >"$D/tsan.build" 2>&1; then
    "$P/hard_stress" mkfile "$D/tsan.data" 32
    # Some kernels randomise mmap too widely for TSan's shadow: setarch -R fixes that.
    TSAN_OPTIONS="halt_on_error=0 exitcode=66" timeout 300 setarch "$(uname -m)" -R "$D/tsan_policy" "$D/tsan.data" >"$D/tsan.log" 2>&1
    rc=$?
    RAN=1
    mh_note "tsan: rc $rc: $(grep -v '^$' "$D/tsan.log" | tail -1)"
    if [ $rc -ne 0 ]; then
      mh_fail "tsan: rc $rc; $(grep -c '^WARNING: ThreadSanitizer' "$D/tsan.log") report(s):"
      grep '^SUMMARY: ThreadSanitizer' "$D/tsan.log" | sort | uniq -c | sed 's/^/    /'
    fi
  else
    mh_fail "the TSan build failed: $(head -5 "$D/tsan.build")"
  fi
else
  mh_note "SKIP tsan: gcc cannot link -fsanitize=thread (libtsan)"
fi

# ---- valgrind memcheck with the shim preloaded -------------------------------------------------
if command -v valgrind >/dev/null && [ -x "$P/hard_exercise" ]; then
  VG=(valgrind --tool=memcheck --error-exitcode=99 -q)
  # Positive control: memcheck must catch a read of uninitialised memory.
  printf '#include <stdio.h>\n#include <stdlib.h>\nint main(void){int *p = malloc(64); if (p[3] == 42) puts("x"); free(p); return 0;}\n' >"$D/bad.c"
  gcc -O0 -g "$D/bad.c" -o "$D/bad"
  env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${VG[@]}" "$D/bad" >/dev/null 2>&1
  rc=$?
  if [ $rc -ne 99 ]; then
    mh_fail "valgrind: the positive control exited $rc, want 99 (memcheck is not checking)"
  else
    RAN=1
    for prog in cat exercise; do
      mkdir -p "$D/vg.$prog"
      if [ $prog = cat ]; then cmd=(cat "$D/data.txt"); else cmd=("$P/hard_exercise" "$D/data.txt"); fi
      "${cmd[@]}" >"$D/vg.$prog.want" 2>/dev/null
      env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$D/vg.$prog/" timeout 300 "${VG[@]}" "${cmd[@]}" \
        >"$D/vg.$prog.out" 2>"$D/vg.$prog.err"
      rc=$?
      mh_note "valgrind $prog: rc $rc"
      [ $rc -eq 0 ] || mh_fail "valgrind $prog: rc $rc: $(grep -m5 -E '==[0-9]+== [A-Z]' "$D/vg.$prog.err")"
      cmp -s "$D/vg.$prog.want" "$D/vg.$prog.out" || mh_fail "valgrind $prog: output differs"
      grep -q '^mmhint:' "$D/vg.$prog.err" && mh_fail "valgrind $prog: $(grep -m1 '^mmhint:' "$D/vg.$prog.err")"
    done
  fi
else
  mh_note "SKIP valgrind: not installed (apt-get install valgrind) or hard_exercise not built"
fi

# ---- The shim stacked after ASan ---------------------------------------------------------------
ASAN_LIB=$(gcc -print-file-name=libasan.so)
if [ -f "$ASAN_LIB" ] && gcc -O1 -g -fsanitize=address -fno-omit-frame-pointer -pthread \
  "$SRC/tests/programs/hard_exercise.c" -o "$D/exercise_asan" >"$D/xasan.build" 2>&1; then
  RAN=1
  "$D/exercise_asan" "$D/data.txt" >"$D/xasan.want" 2>&1 || mh_fail "the ASan-built hard_exercise fails without the shim"
  for prog in exercise cat; do
    if [ $prog = cat ]; then cmd=(cat "$D/data.txt"); cat "$D/data.txt" >"$D/xasan.want"; else cmd=("$D/exercise_asan" "$D/data.txt"); fi
    mkdir -p "$D/stk.$prog"
    env LD_PRELOAD="$ASAN_LIB $MH_LIB" ASAN_OPTIONS=detect_leaks=0 MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$D/stk.$prog/" \
      timeout 120 "${cmd[@]}" >"$D/stk.$prog.out" 2>"$D/stk.$prog.err"
    rc=$?
    mh_note "asan+shim $prog: rc $rc"
    [ $rc -eq 0 ] || mh_fail "LD_PRELOAD=\"libasan.so libmmhint.so\" $prog: rc $rc: $(head -c 300 "$D/stk.$prog.err")"
    cmp -s "$D/xasan.want" "$D/stk.$prog.out" || mh_fail "asan+shim $prog: output differs"
    grep -q 'AddressSanitizer' "$D/stk.$prog.err" && mh_fail "asan+shim $prog: $(grep -m1 'AddressSanitizer' "$D/stk.$prog.err")"
    [ -n "$(mh_stats_files "$D/stk.$prog")" ] || mh_fail "asan+shim $prog: no stats file"
  done
else
  mh_note "SKIP asan stacking: no libasan.so for gcc"
fi

[ $RAN = 1 ] || mh_skip "no sanitizer or checker available"
mh_done
