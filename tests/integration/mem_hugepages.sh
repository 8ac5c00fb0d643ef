#!/bin/bash
# Huge pages and NUMA placement take effect, and every failure falls back
# (issue 8; PITFALLS 15, 16):
#   thp on a 64 MiB malloc and a 64 MiB anonymous mmap: AnonHugePages > 0 in
#     /proc and in the stats, pointer 2 MiB aligned;
#   hugetlb with nr_hugepages=0: one warning, fallback counted, THP used;
#   hugetlb with 64 reserved pages: obtained (pool restored afterwards);
#   numa=bind:5 on this machine: one warning, the program runs;
#   fork, then copy-on-write of a routed region in the child.
set -u
source "$(dirname "$0")/lib.sh"
mh_init mem_hugepages
PROG=$MMHINT_BUILD_DIR/tests/programs/mem_matrix
[ -x "$PROG" ] || { echo "FAIL: $PROG not built"; exit 1; }
THP=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
M64=$((64 << 20))

# run_case NAME ENV... -- ARGS...: runs mem_matrix under the shim with stats; sets OUT, ERR, RC, S.
run_case() {
  local name=$1
  shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  S=$MH_TMP/$name.json
  MH_SHIM_ENV=("${envs[@]}" MMHINT_STATS="$S")
  mh_run_shim "$MH_TMP/$name" "$PROG" "$@"
  OUT=$(cat "$MH_TMP/$name/out")
  ERR=$(cat "$MH_TMP/$name/err")
  RC=$(cat "$MH_TMP/$name/rc")
  mh_expect_eq "$name: exit status ($ERR)" "$RC" 0
}
mem() { mh_json "$S" "d['memory']$1"; }

if [ "$THP" = never ]; then
  mh_note "THP is 'never' here: the THP checks expect the fallback instead"
fi
for how in touch mmap; do
  run_case thp_$how MMHINT_HUGEPAGES=thp -- $how $M64 hold
  proc_kb=$(echo "$OUT" | sed -n 's/.*anon_huge_kb=\([0-9]*\).*/\1/p')
  off=$(echo "$OUT" | sed -n 's/.*offset_in_2m=\([0-9]*\).*/\1/p')
  live=$(mem "['huge_pages']['thp_bytes_live']")
  mh_note "thp $how 64M: /proc AnonHugePages ${proc_kb} kB, stats thp_bytes_live $live, offset in 2M block $off"
  if [ "$THP" = never ]; then
    [ "$(mem "['fallbacks']['thp_unavailable']")" -ge 1 ] || mh_fail "thp $how: THP never but no fallback counted"
    continue
  fi
  mh_expect_eq "thp $how: pointer offset in its 2 MiB block" "$off" 0
  [ "${proc_kb:-0}" -gt 0 ] || mh_fail "thp $how: /proc AnonHugePages is ${proc_kb:-?} kB"
  [ "${live:-0}" -gt 0 ] || mh_fail "thp $how: stats thp_bytes_live is $live"
  # The shim's number cannot exceed the process's and must be most of the 64 MiB.
  [ "${live:-0}" -le $((proc_kb * 1024)) ] && [ "${live:-0}" -ge $((M64 / 2)) ] ||
    mh_fail "thp $how: thp_bytes_live $live not within [32 MiB, /proc $((proc_kb * 1024))]"
  pah=$(mem "['huge_pages']['process_anon_huge_bytes']")
  [ "${pah:-0}" -ge "${live:-1}" ] || mh_fail "thp $how: process_anon_huge_bytes $pah < thp_bytes_live $live"
done
if [ "$THP" != never ]; then
  # Freed before exit: measured at free time.
  run_case thp_freed MMHINT_HUGEPAGES=thp -- touch $M64
  got=$(mem "['huge_pages']['thp_bytes']")
  [ "${got:-0}" -ge $((M64 / 2)) ] || mh_fail "thp freed region: thp_bytes $got (measured at free) below 32 MiB"
  mh_expect_eq "thp freed region: live_regions" "$(mem "['live_regions']")" 0
fi

# hugetlb with an empty pool: MAP_HUGETLB fails at mmap (never a SIGBUS later), THP instead.
NR=/proc/sys/vm/nr_hugepages
saved=$(cat $NR 2>/dev/null || echo 0)
if [ "$saved" != 0 ]; then
  mh_note "nr_hugepages is $saved, not 0: the empty-pool case runs with the pool as it is"
fi
can_set=0
[ -w $NR ] && echo 0 >$NR 2>/dev/null && [ "$(cat $NR)" = 0 ] && can_set=1
if [ $can_set = 1 ] || [ "$saved" = 0 ]; then
  run_case hugetlb_empty MMHINT_HUGEPAGES=hugetlb -- touch $((16 << 20))
  warn=$(grep -c '^mmhint:.*MAP_HUGETLB failed' "$MH_TMP/hugetlb_empty/err")
  mh_expect_eq "hugetlb, empty pool: warnings" "$warn" 1
  [ "$(mem "['fallbacks']['hugetlb_pool']")" -ge 1 ] || mh_fail "hugetlb, empty pool: fallback not counted"
  mh_expect_eq "hugetlb, empty pool: hugetlb_bytes" "$(mem "['huge_pages']['hugetlb_bytes']")" 0
  [ "$THP" = never ] || [ "$(mem "['huge_pages']['thp_bytes']")" -gt 0 ] ||
    mh_fail "hugetlb, empty pool: THP fallback obtained no huge pages"
else
  mh_note "cannot empty the hugetlb pool (not root?): empty-pool case skipped"
fi
if [ -w $NR ] && echo 64 >$NR 2>/dev/null && [ "$(cat $NR)" -ge 16 ]; then
  run_case hugetlb_pool MMHINT_HUGEPAGES=hugetlb -- touch $((16 << 20))
  mh_expect_eq "hugetlb, 64 reserved: hugetlb_bytes" "$(mem "['huge_pages']['hugetlb_bytes']")" $((16 << 20))
  mh_expect_eq "hugetlb, 64 reserved: fallbacks" "$(mem "['fallbacks']['hugetlb_pool']")" 0
  run_case hugetlb_mmap MMHINT_HUGEPAGES=hugetlb -- mmap $((5 << 20))   # munmap of 5 MiB rounded to 6
  mh_expect_eq "hugetlb mmap of 5 MiB: hugetlb_bytes" "$(mem "['huge_pages']['hugetlb_bytes']")" $((6 << 20))
  mh_expect_eq "hugetlb mmap: live_regions after munmap" "$(mem "['live_regions']")" 0
  run_case hugetlb_fork MMHINT_HUGEPAGES=hugetlb -- fork $((8 << 20))
  mh_expect_eq "hugetlb fork+COW" "$OUT" "fork child=0 parent=ok"
  echo "$saved" >$NR
else
  mh_note "cannot reserve 64 huge pages: reserved-pool case skipped"
  [ -w $NR ] && echo "$saved" >$NR
fi

# NUMA: a node that does not exist.
run_case numa_bad MMHINT_NUMA=bind:5 MMHINT_NUMA_MIN=1M -- touch $((8 << 20))
mh_expect_eq "numa=bind:5: warnings" "$(grep -c '^mmhint:.*numa' "$MH_TMP/numa_bad/err")" 1
[ "$(mem "['fallbacks']['numa_nodes']")" -ge 2 ] || mh_fail "numa=bind:5: fallbacks not counted: $(mem "['fallbacks']")"
mh_expect_eq "numa=bind:5: policy in force" "$(mem "['policy']['numa']")" off
run_case numa_local MMHINT_NUMA=local MMHINT_NUMA_MIN=1M -- touch $((8 << 20)) hold
mh_expect_eq "numa=local: numa_regions" "$(mem "['numa_regions']")" 1
mh_expect_eq "numa=local: pages on node 0" "$(mem "['numa_pages'].get('0')")" 2048
mh_expect_eq "numa=local: sampled" "$(mem "['numa_pages_sampled']")" false

# fork, then copy-on-write in the child.
run_case fork_thp MMHINT_HUGEPAGES=thp -- fork $((32 << 20))
mh_expect_eq "thp fork+COW" "$OUT" "fork child=0 parent=ok"
mh_done
