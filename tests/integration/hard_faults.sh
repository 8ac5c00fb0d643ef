#!/bin/bash
# Hardening, faults (DESIGN invariants 2 and 4) under the most aggressive
# policies (AGGR: read_mmap=on for every file, read-write too, advice=auto, drop_behind, THP
# for allocations from 64K):
#   1. files that shrink and grow while read, on ext4: a deterministic
#      transcript (another process truncates/grows between reads) equal to the
#      run without the shim; then a writer process that truncates and regrows
#      a file at random while readers (read/pread/readv of random sizes) read
#      it: no signal, no failed call (bytes that differ from the pattern are
#      reported, not asserted: the kernel gives plain read() no such promise
#      against a concurrent truncate either);
#   2. ENOMEM in the shim's bookkeeping: a program that opens thousands of
#      files, exhausts its RLIMIT_AS with malloc and opens and reads thousands
#      more must print the same and exit the same as without the shim;
#   3. a full stats filesystem (tmpfs of 64 KiB) and RLIMIT_FSIZE: output and
#      exit status unchanged, at most one "mmhint:" line, no partial or
#      temporary stats file left;
#   4. hugepages=hugetlb with an empty pool and with a one-page pool (real
#      programs allocating more): same output, no signal (pool restored).
# Symlinks planted at the stats path and malformed configs are covered by
# stats_file_safety.sh and config_errors.sh.
#   HARD_FAULTS_SECONDS (4) sets the duration of the random truncation run.
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_faults
mh_need_cmd prlimit truncate mawk
P=${MMHINT_BUILD_DIR:-$(dirname "$MH_LIB")}/tests/programs/hard_faults
[ -x "$P" ] || { mh_fail "missing $P (build the project first)"; mh_done; }
SECS=${HARD_FAULTS_SECONDS:-4}
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K)
D=$MH_TMP
BASE=
for d in /var/tmp /tmp; do
  [ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ] && { BASE=$(mktemp -d "$d/hard_faults.XXXXXX"); break; }
done
MNT=
NR=/proc/sys/vm/nr_hugepages
NR_SAVED=$(cat $NR 2>/dev/null)
cleanup() {
  [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
  [ -n "$NR_SAVED" ] && [ "$(cat $NR 2>/dev/null)" != "$NR_SAVED" ] && echo "$NR_SAVED" >$NR 2>/dev/null
  chmod -R u+rwx "$MH_TMP" 2>/dev/null
  rm -rf "$MH_TMP" ${BASE:+"$BASE"}
}
trap cleanup EXIT

# shim ENV... -- CMD...: runs CMD under the shim with the extra environment.
shim() {
  local e=()
  while [ "$1" != -- ]; do e+=("$1"); shift; done
  shift
  env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${e[@]+"${e[@]}"}" "$@"
}

# leftovers DIR: prints anything in DIR that is not a complete stats file.
leftovers() {
  local f
  for f in "$1"/* "$1"/.[!.]*; do
    [ -e "$f" ] || continue
    case $f in
      *.json | *.json.[0-9]*) mh_json_valid "$f" >/dev/null || echo "invalid:$(basename "$f")" ;;
      *) echo "$(basename "$f")" ;;
    esac
  done
}

# ---- 1. Truncation and growth --------------------------------------------------
if [ -z "$BASE" ]; then
  mh_note "no ext4 directory (/var/tmp, /tmp): truncation cases skipped"
else
  "$P" seq "$BASE/seq.plain" >"$D/seq.plain" 2>&1
  shim "${AGGR[@]}" -- "$P" seq "$BASE/seq.shim" >"$D/seq.shim" 2>&1
  rc=$?
  mh_expect_eq "seq: exit status" "$rc" 0
  if ! cmp -s "$D/seq.plain" "$D/seq.shim"; then
    mh_fail "seq: transcript differs from the run without the shim"
    diff "$D/seq.plain" "$D/seq.shim" | head -8 | sed 's/^/    /'
  fi
  grep -q "WRONG" "$D/seq.plain" && mh_fail "seq: the plain run read wrong bytes (the test is broken)"

  # Random truncation and growth while three readers read.
  for mode in plain shim; do
    F=$BASE/rand.$mode
    : >"$F"
    "$P" writer "$F" "$SECS" 11 1024 >"$D/w.$mode" 2>&1 &
    wp=$!
    pids=()
    for r in 1 2 3; do
      if [ $mode = shim ]; then
        shim "${AGGR[@]}" MMHINT_STATS="$D/rand-stats/" -- "$P" reader "$F" "$SECS" $r >"$D/r$r.$mode" 2>&1 &
      else
        "$P" reader "$F" "$SECS" $r >"$D/r$r.$mode" 2>&1 &
      fi
      pids+=($!)
    done
    mkdir -p "$D/rand-stats"
    for r in 1 2 3; do
      wait "${pids[$((r - 1))]}"
      rc=$?
      line=$(head -1 "$D/r$r.$mode")
      if [ $rc -ge 128 ]; then
        mh_fail "truncate/grow: reader $r ($mode) killed by signal $((rc - 128)): $line"
      elif ! [[ $line =~ ^passes\ [0-9]+\ bytes\ [0-9]+\ wrong\ [0-9]+\ failed\ 0$ ]]; then
        mh_fail "truncate/grow: reader $r ($mode) exit $rc: $line $(sed -n 2p "$D/r$r.$mode")"
      fi
      mh_note "reader $r $mode: $line"
      [ $mode = shim ] && grep -q '^mmhint:' "$D/r$r.$mode" && mh_fail "reader $r: $(grep -m1 '^mmhint:' "$D/r$r.$mode")"
    done
    wait $wp || mh_fail "truncate/grow: the writer failed: $(cat "$D/w.$mode")"
    mh_note "writer $mode: $(cat "$D/w.$mode")"
  done
  bad=$(leftovers "$D/rand-stats")
  [ -z "$bad" ] || mh_fail "truncate/grow: stats directory: $bad"
  [ "$(mh_stats_files "$D/rand-stats" | wc -l)" = 3 ] || mh_fail "truncate/grow: want 3 stats files, got $(mh_stats_files "$D/rand-stats" | wc -l)"
fi

# ---- 2. ENOMEM under RLIMIT_AS ---------------------------------------------------
# enomem_case NAME AS_BYTES NFILES ENV...: the program exhausts RLIMIT_AS
# between two halves of NFILES opened files.
enomem_case() {
  local name=$1 as=$2 n=$3
  shift 3
  local w=$D/enomem.$name
  mkdir -p "$w/pdir" "$w/sdir" "$w/stats"
  prlimit --nofile=$((n + 100)) --as="$as" "$P" enomem "$w/pdir" "$n" >"$w/p.out" 2>"$w/p.err"
  echo $? >"$w/p.rc"
  if [ "$(cat "$w/p.rc")" != 0 ] || ! grep -q 'exhausted: yes' "$w/p.out"; then
    mh_fail "enomem $name: the run without the shim did not succeed with memory exhausted (rc $(cat "$w/p.rc")): $(head -c 300 "$w/p.out")"
    return
  fi
  prlimit --nofile=$((n + 100)) --as="$as" env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "$@" MMHINT_STATS="$w/stats/" \
    "$P" enomem "$w/sdir" "$n" >"$w/s.out" 2>"$w/s.err"
  echo $? >"$w/s.rc"
  mh_expect_eq "enomem $name: exit status (the same as without the shim)" "$(cat "$w/s.rc")" 0
  cmp -s "$w/p.out" "$w/s.out" || mh_fail "enomem $name: stdout differs: '$(tr '\n' '|' <"$w/p.out")' vs '$(tr '\n' '|' <"$w/s.out")'"
  local other
  other=$(grep -v '^mmhint:' "$w/s.err" | head -2)
  [ -z "$other" ] || mh_fail "enomem $name: stderr other than mmhint: lines: $other"
  local bad
  bad=$(leftovers "$w/stats")
  [ -z "$bad" ] || mh_fail "enomem $name: stats directory: $bad"
  mh_note "enomem $name: rc $(cat "$w/s.rc"), $(grep -c '^mmhint:' "$w/s.err") mmhint: line(s)$(grep -m1 '^mmhint:' "$w/s.err" | sed 's/^/: /'), $(mh_stats_files "$w/stats" | wc -l) stats file(s)"
}
AS=$((512 << 20))
enomem_case stats $AS 3000 MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K
enomem_case aggr $AS 3000 "${AGGR[@]}"

# ---- 3. Full stats filesystem, RLIMIT_FSIZE ---------------------------------------------
seq 1 200000 >"$D/input"
# full_case NAME STATSDIR PREFIX... -- CMD...: CMD (stdin: $D/input) with and
# without the shim under the same PREFIX (e.g. prlimit --fsize=2048), stats
# to STATSDIR.  WANT_LINE=1: the program keeps stderr open, so exactly one
# mmhint: line naming the cause is expected.  RM_OWN: the program's own output
# file, removed between the runs and allowed in STATSDIR.
full_case() {
  local name=$1 dir=$2
  shift 2
  local pre=()
  while [ "$1" != -- ]; do pre+=("$1"); shift; done
  shift
  local w=$D/full.$name
  mkdir -p "$w"
  "${pre[@]+"${pre[@]}"}" "$@" <"$D/input" >"$w/p.out" 2>"$w/p.err"
  echo $? >"$w/p.rc"
  [ -n "${RM_OWN:-}" ] && rm -f "$RM_OWN"
  "${pre[@]+"${pre[@]}"}" env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$dir/" "$@" <"$D/input" >"$w/s.out" 2>"$w/s.err"
  echo $? >"$w/s.rc"
  mh_expect_eq "$name: exit status" "$(cat "$w/s.rc")" "$(cat "$w/p.rc")"
  cmp -s "$w/p.out" "$w/s.out" || mh_fail "$name: stdout differs"
  grep -v '^mmhint:' "$w/s.err" | cmp -s - "$w/p.err" || mh_fail "$name: stderr differs: $(head -c 200 "$w/s.err")"
  local n
  n=$(grep -c '^mmhint:' "$w/s.err")
  [ "$n" -le 1 ] || mh_fail "$name: $n mmhint: lines, want at most one"
  if [ "${WANT_LINE:-0}" = 1 ]; then
    if [ "$n" != 1 ]; then
      mh_fail "$name: no mmhint: line says the statistics were not written"
    elif ! grep '^mmhint:' "$w/s.err" | grep -Eqi "space|full|too large|size limit|ENOSPC|EFBIG"; then
      # "Clear" means it names the cause; a full disk is not a missing directory.
      mh_fail "$name: the mmhint: line does not name the cause: $(grep -m1 '^mmhint:' "$w/s.err")"
    fi
  fi
  local bad
  bad=$(leftovers "$dir" | grep -v '^filler$' | grep -vx "$(basename "${RM_OWN:-/-}")")
  [ -z "$bad" ] || mh_fail "$name: stats directory holds: $bad"
  mh_note "$name: rc $(cat "$w/s.rc"); $(grep -m1 '^mmhint:' "$w/s.err" || echo 'no mmhint: line'); stats files: $(mh_stats_files "$dir" | wc -l)"
}
MNT=$D/tiny
mkdir -p "$MNT"
if mount -t tmpfs -o size=64k,mode=0777 tmpfs "$MNT" 2>/dev/null; then
  # Fill all but 4 KiB: the statistics (larger than that) cannot be written.
  head -c $((60 << 10)) /dev/zero >"$MNT/filler" 2>/dev/null
  # mawk and cat close stderr before exiting: nothing can be said there.
  full_case full.mawk "$MNT" -- mawk '{ n += $1 } END { print n }'
  WANT_LINE=1 full_case full.perl "$MNT" -- perl -ne '$n += $_; END { print "$n\n" }'
  WANT_LINE=1 full_case full.python "$MNT" -- "$MH_PYTHON" -c 'import sys; print(sum(1 for _ in sys.stdin))'
  full_case full.cat "$MNT" -- cat
  # A program that writes its own output to the full filesystem fails the same way.
  rm -f "$MNT/out"
  RM_OWN=$MNT/out full_case full.cp-own "$MNT" -- cp "$D/input" "$MNT/out"
  rm -f "$MNT/out"
  umount "$MNT" && MNT=
else
  mh_note "cannot mount a tmpfs: full-filesystem cases skipped"
fi
mkdir -p "$D/fsize.perl" "$D/fsize.md5sum"
# RLIMIT_FSIZE below the size of a stats file: writing past it raises SIGXFSZ,
# whose default action kills the process.
# (The programs' own output is small: stdout is a file under the same limit.)
WANT_LINE=1 full_case fsize.perl "$D/fsize.perl" prlimit --fsize=2048 -- perl -ne '$n += $_; END { print "$n\n" }'
full_case fsize.md5sum "$D/fsize.md5sum" prlimit --fsize=2048 -- md5sum

# ---- 4. hugetlb pool empty and exhausted ----------------------------------------------
if [ -w $NR ]; then
  for pool in 0 1; do
    echo $pool >$NR 2>/dev/null
    [ "$(cat $NR)" = $pool ] || { mh_note "cannot set nr_hugepages to $pool"; continue; }
    for prog in sort python; do
      w=$D/hugetlb.$pool.$prog
      if [ $prog = sort ]; then
        cmd=(sort -S 64M -r "$D/input")
      else
        cmd=("$MH_PYTHON" -c 'b = [bytearray(3 << 20) for _ in range(8)]; [x.__setitem__(slice(0, None, 4096), b"\1" * len(range(0, len(x), 4096))) for x in b]; print(sum(sum(x) for x in b))')
      fi
      mh_run "$w/p" "${cmd[@]}" </dev/null
      MH_SHIM_ENV=(MMHINT_HUGEPAGES=hugetlb MMHINT_HUGEPAGE_MIN=64K MMHINT_READ_MMAP=on MMHINT_STATS="$w/stats/")
      mkdir -p "$w/stats"
      MH_ALLOW_MMHINT_LINES=1 mh_run_shim "$w/s" "${cmd[@]}" </dev/null
      MH_SHIM_ENV=()
      MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "hugetlb pool $pool, $prog" "$w/p" "$w/s"
      n=$(grep -c '^mmhint:' "$w/s/err")
      [ "$n" -le 1 ] || mh_fail "hugetlb pool $pool, $prog: $n mmhint: lines, want at most one"
      f=$(mh_stats_files "$w/stats" | head -1)
      if [ -z "$f" ]; then
        mh_fail "hugetlb pool $pool, $prog: no stats file"
      else
        fb=$(mh_json "$f" 'd["memory"]["fallbacks"]["hugetlb_pool"]')
        mh_note "hugetlb pool $pool, $prog: rc $(cat "$w/s/rc"), hugetlb_pool fallbacks $fb, $(mh_mmhint_lines "$w/s/err" | head -1)"
        [ "$fb" -ge 1 ] 2>/dev/null || mh_fail "hugetlb pool $pool, $prog: no hugetlb_pool fallback counted ($fb)"
      fi
    done
  done
  echo "$NR_SAVED" >$NR
else
  mh_note "$NR is not writable: hugetlb cases skipped"
fi

mh_done
