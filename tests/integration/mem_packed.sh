#!/bin/bash
# tests/integration/mem_packed.sh: routed allocations below the huge-page size
# share 2 MiB chunks instead of a mapping each (docs/MEMORY.md, "Packing").
#
#  1. 20,000 malloc/free pairs of 64 KiB + 33 bytes under hugepages=thp
#     hugepage_min=64K (a Python 64 KiB read loop's allocations): every one
#     routed and packed into at most two chunks, a handful of mmaps (strace)
#     instead of one per allocation, huge pages obtained (THP not never).
#  2. The allocator checks of tests/programs/mem_packed.c (contents, calloc
#     of a reused block, realloc across classes, usable sizes, alignments,
#     two threads, a fork child): the same output as a plain run, with
#     routing at 4 KiB and with NUMA placement at 64 KiB too.
#  3. A policy that obtains no huge pages says so: huge_pages.outcome.
source "$(dirname "$0")/lib.sh"
mh_init mem_packed
PROG=$MMHINT_BUILD_DIR/tests/programs/mem_packed
[ -x "$PROG" ] || { mh_fail "missing $PROG"; mh_done; }
THP=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
mem() { mh_json "$MH_TMP/$1.json" "d['memory']$2"; }

# ---- 1. churn ------------------------------------------------------------------------
MH_SHIM_ENV=(MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K MMHINT_STATS="$MH_TMP/churn.json")
mh_run "$MH_TMP/plain" "$PROG" churn 20000
mh_run_shim "$MH_TMP/shim" "$PROG" churn 20000
mh_compare_runs "churn" "$MH_TMP/plain" "$MH_TMP/shim"
mh_expect_eq "churn: packed_allocs" "$(mem churn "['packed_allocs']")" 20000
mh_expect_eq "churn: packed_frees" "$(mem churn "['packed_frees']")" 20000
chunks=$(mem churn "['packed_chunks']")
[ "${chunks:-9}" -le 2 ] || mh_fail "churn: $chunks chunks for one live block at a time"
mapped=$(mem churn "['routed_bytes_mapped']")
[ "${mapped:-0}" -le $((4 << 20)) ] || mh_fail "churn: $mapped bytes mapped for one live 64 KiB block"
if command -v strace >/dev/null; then
  env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K \
    strace -qq -e trace=mmap,munmap -o "$MH_TMP/strace" "$PROG" churn 20000 >/dev/null
  n=$(grep -c . "$MH_TMP/strace")
  mh_note "mmap+munmap calls for 20000 routed allocations: $n"
  [ "$n" -lt 200 ] || mh_fail "$n mmap/munmap calls: a mapping per allocation?"
fi
if [ "$THP" != never ] && [ -n "$THP" ]; then
  got=$(mem churn "['huge_pages']['obtained_bytes']")
  mh_note "huge pages obtained: $got bytes (outcome $(mem churn "['huge_pages']['outcome']"))"
  [ "${got:-0}" -gt 0 ] || mh_fail "churn: no huge page obtained for the packed chunk (THP $THP)"
  mh_expect_eq "churn: obtained_none" "$(mem churn "['huge_pages']['obtained_none']")" 0
fi

# ---- 2. allocator checks ------------------------------------------------------------------
mh_run "$MH_TMP/plainc" "$PROG" check
mh_expect_eq "plain check" "$(cat "$MH_TMP/plainc/out")" "packed ok"
MH_SHIM_ENV=(MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=4K MMHINT_STATS="$MH_TMP/check.json")
mh_run_shim "$MH_TMP/shimc" "$PROG" check
mh_compare_runs "check, hugepage_min=4K" "$MH_TMP/plainc" "$MH_TMP/shimc"
# The fork child writes check.json first (it exits first); the parent's file is check.json.1.
pa=$(for f in "$MH_TMP"/check.json*; do mh_json "$f" "d['memory']['packed_allocs']"; done | sort -n | tail -1)
mh_note "check: packed_allocs=$pa"
[ "${pa:-0}" -ge 2000 ] || mh_fail "check: expected >= 2000 packed allocations, got $pa"
MH_SHIM_ENV=(MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=4K MMHINT_NUMA=local MMHINT_NUMA_MIN=64K)
mh_run_shim "$MH_TMP/shimn" "$PROG" check
mh_compare_runs "check, with numa=local from 64K" "$MH_TMP/plainc" "$MH_TMP/shimn"

# ---- 3. outcome -------------------------------------------------------------------------
MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/off.json")
mh_run_shim "$MH_TMP/off" "$PROG" churn 10
mh_expect_eq "hugepages off: outcome" "$(mem off "['huge_pages']['outcome']")" off
MH_SHIM_ENV=(MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=1G MMHINT_STATS="$MH_TMP/none.json")
mh_run_shim "$MH_TMP/none" "$PROG" churn 10
mh_expect_eq "nothing in the window: outcome" "$(mem none "['huge_pages']['outcome']")" none_requested
mh_done
