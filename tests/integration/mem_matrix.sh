#!/bin/bash
# The allocator matrix with routing on (PITFALLS 13, issue 8): every
# allocation function against free, realloc and malloc_usable_size, size 0,
# overflowing calloc, huge alignments, with hugepages=thp and a 4 KiB
# hugepage_min so that most allocations are served by the router.  Output must
# equal the run without the shim; once under valgrind memcheck; and stacked
# with jemalloc and tcmalloc in both LD_PRELOAD orders.
set -u
source "$(dirname "$0")/lib.sh"
mh_init mem_matrix
PROG=$MMHINT_BUILD_DIR/tests/programs/mem_matrix
[ -x "$PROG" ] || { echo "FAIL: $PROG not built"; exit 1; }
ROUTE=(MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=4K MMHINT_NUMA=local MMHINT_NUMA_MIN=64K)

mh_run "$MH_TMP/plain" "$PROG" matrix
mh_expect_eq "plain matrix" "$(cat "$MH_TMP/plain/out")" "matrix ok"
MH_SHIM_ENV=("${ROUTE[@]}" MMHINT_STATS="$MH_TMP/s.json")
mh_run_shim "$MH_TMP/shim" "$PROG" matrix
mh_compare_runs "matrix with routing" "$MH_TMP/plain" "$MH_TMP/shim"
routed=$(mh_json "$MH_TMP/s.json" "d['memory']['routed_allocs']")
frees=$(mh_json "$MH_TMP/s.json" "d['memory']['routed_frees']")
live=$(mh_json "$MH_TMP/s.json" "d['memory']['live_regions'] + d['memory']['packed_live_blocks']")
mh_note "routed_allocs=$routed routed_frees=$frees live (regions + packed blocks)=$live"
# 9 functions x 7 sizes >= 4 KiB... at least 100 routed, and all but stdio's buffer freed.
[ "${routed:-0}" -ge 100 ] 2>/dev/null || mh_fail "expected >= 100 routed allocations, got $routed"
[ "$((routed - frees))" = "$live" ] || mh_fail "routed $routed - freed $frees != live $live"
[ "${live:-9}" -le 1 ] || mh_fail "expected at most 1 live region at exit (stdout's buffer), got $live"

# valgrind memcheck replaces malloc itself: the shim still sees the program's
# anonymous mmaps and must not disturb memcheck's view of the heap.
if command -v valgrind >/dev/null; then
  # Small on purpose (memcheck is slow): the functions memcheck itself replaces.
  VG=(valgrind --tool=memcheck --error-exitcode=9 -q)
  mh_run "$MH_TMP/vga" "${VG[@]}" "$PROG" matrix malloc,calloc,realloc,posix_memalign
  mkdir -p "$MH_TMP/vgb"
  env "${ROUTE[@]}" MMHINT_CONFIG= LD_PRELOAD="$MH_LIB" "${VG[@]}" "$PROG" matrix malloc,calloc,realloc,posix_memalign \
    >"$MH_TMP/vgb/out" 2>"$MH_TMP/vgb/err"
  echo $? >"$MH_TMP/vgb/rc"
  mh_expect_eq "memcheck exit status with the shim: $(grep -v '^mmhint:' "$MH_TMP/vgb/err" | head -3)" \
    "$(cat "$MH_TMP/vgb/rc")" "$(cat "$MH_TMP/vga/rc")"
  cmp -s "$MH_TMP/vga/out" "$MH_TMP/vgb/out" || mh_fail "matrix output under memcheck differs with the shim"
  grep -q "Invalid\|uninitialised" "$MH_TMP/vgb/err" && mh_fail "memcheck errors with the shim: $(head -3 "$MH_TMP/vgb/err")"
  mh_note "memcheck: $(cat "$MH_TMP/vgb/out" | tail -1) (without the shim: $(tail -1 "$MH_TMP/vga/out"))"
else
  mh_note "valgrind not installed: memcheck run skipped"
fi

# Stacking: routing on, each allocator before and after the shim.
ALL=malloc,calloc,realloc,reallocarray,memalign,posix_memalign,aligned_alloc,valloc,pvalloc
for alloc in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4; do
  if [ ! -f "$alloc" ]; then mh_note "$alloc not installed: skipped"; continue; fi
  # Only the functions this allocator defines: the others would mix heaps even without the shim.
  funcs=""
  for f in ${ALL//,/ }; do
    nm -D --defined-only "$alloc" | awk '{print $3}' | grep -qx "$f" && funcs="$funcs,$f"
  done
  funcs=${funcs#,}
  mh_run "$MH_TMP/a" env LD_PRELOAD="$alloc" "$PROG" matrix "$funcs"
  for pre in "$alloc $MH_LIB" "$MH_LIB $alloc"; do
    rm -f "$MH_TMP/st.json"
    MH_SHIM_ENV=("${ROUTE[@]}" MMHINT_STATS="$MH_TMP/st.json")
    mkdir -p "$MH_TMP/b"
    timeout 60 env LD_PRELOAD="$pre" MMHINT_CONFIG= "${MH_SHIM_ENV[@]}" "$PROG" matrix "$funcs" \
      >"$MH_TMP/b/out" 2>"$MH_TMP/b/err"
    echo $? >"$MH_TMP/b/rc"
    label=$(echo "$pre" | sed "s#$MH_LIB#mmhint#; s#/usr/lib/x86_64-linux-gnu/##")
    mh_compare_runs "matrix under LD_PRELOAD=\"$label\" ($funcs)" "$MH_TMP/a" "$MH_TMP/b" &&
      mh_note "LD_PRELOAD=\"$label\": same output"
    if [ "${pre%% *}" = "$MH_LIB" ]; then
      # The shim comes first: it sees the allocations and routes them.
      r=$(mh_json "$MH_TMP/st.json" "d['memory']['routed_allocs']")
      [ "${r:-0}" -ge 50 ] 2>/dev/null || mh_fail "\"$label\": expected routed allocations, got $r"
    fi
  done
done
mh_done
