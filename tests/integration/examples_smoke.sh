#!/bin/bash
# Smoke test of the example workloads in $MMHINT_BUILD_DIR/examples/.
#
# Each example runs on small inputs made in a temporary directory and must exit
# 0 and print exactly one well-formed "result workload=NAME key=value ..." line.
# The examples share one position-aware checksum, so the same bytes obtained
# by read(), by a mapping, by madvise_patterns or by stream_window must give
# the same value; this checks the examples against each other.  Then, if
# $MMHINT_BUILD_DIR/libmmhint.so exists, every run is repeated under
# LD_PRELOAD (policies off, then a policy that fits the workload) and must
# print the same checksum as the plain run: the shim may change speed and
# placement, never what a program computes.
set -u

BUILD=${MMHINT_BUILD_DIR:?set MMHINT_BUILD_DIR to the build directory}
EX=$BUILD/examples
PY=${PYTHON:-python3}

for prog in fileread madvise_patterns hugepage_chase numa_place stream_window log_analyzer.py; do
  if [ ! -e "$EX/$prog" ]; then
    echo "FAIL: $EX/$prog is missing (build the project first)"
    exit 1
  fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmhint-examples.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run NAME CMD...: runs CMD with the environment in the array RUN_ENV, checks
# exit status 0 and exactly one well-formed result line on stdout, and leaves
# that line in LINE.  Returns non-zero (after recording a failure) otherwise.
RUN_ENV=()
LINE=
run() {
  local name=$1
  shift
  local out=$TMP/out err=$TMP/err rc
  env "${RUN_ENV[@]+"${RUN_ENV[@]}"}" "$@" >"$out" 2>"$err"
  rc=$?
  LINE=
  if [ $rc -ne 0 ]; then
    fail "$name: exit status $rc: $*"
    sed 's/^/    stderr: /' "$err" | head -5
    return 1
  fi
  if [ "$(wc -l <"$out")" -ne 1 ]; then
    fail "$name: expected exactly one line on stdout, got $(wc -l <"$out"): $*"
    sed 's/^/    stdout: /' "$out" | head -5
    return 1
  fi
  LINE=$(cat "$out")
  if ! [[ $LINE =~ ^result\ workload=[a-z_]+(\ [a-z0-9_]+=[^\ =]+)+$ ]]; then
    fail "$name: malformed result line: $LINE"
    return 1
  fi
  return 0
}

# field KEY: prints the value of KEY in LINE (empty if absent).
field() {
  local kv
  for kv in $LINE; do
    case $kv in "$1"=*) echo "${kv#*=}"; return ;; esac
  done
}

# expect_eq WHAT GOT WANT
expect_eq() {
  if [ "$2" != "$3" ]; then
    fail "$1: got '$2', expected '$3'"
  fi
}

# Each case is recorded so the preload pass can repeat it: its name, the
# policy environment that suits it, the command, and the plain checksum.
CASE_NAMES=()
CASE_POLICY=()
CASE_CMDS=()
CASE_SUMS=()
# case_run NAME POLICY CMD...: a plain run that is also repeated under the shim.
case_run() {
  local name=$1 policy=$2
  shift 2
  RUN_ENV=()
  run "$name" "$@" || return 1
  CASE_NAMES+=("$name")
  CASE_POLICY+=("$policy")
  CASE_CMDS+=("$(printf '%q ' "$@")")
  CASE_SUMS+=("$(field checksum)")
  return 0
}

# Checksums that later cases compare against; "none" until a case sets them.
SUM_WHOLE=none SUM_2PASS=none SUM_RAND=none SUM_LOG=none

# ---- Inputs ------------------------------------------------------------------
# An odd size, so the last block, record and word are all partial.
DATA=$TMP/data.bin
SIZE=$((1024 * 1024 + 4099))
RUN_ENV=()
run make "$EX/fileread" --make "$DATA" "$SIZE" || exit 1
[ "$(stat -c %s "$DATA")" -eq "$SIZE" ] || fail "fileread --make wrote the wrong size"
cp "$DATA" "$TMP/again.bin"
if run make2 "$EX/fileread" --make "$DATA" "$SIZE"; then
  cmp -s "$DATA" "$TMP/again.bin" || fail "fileread --make is not deterministic"
fi
LOG=$TMP/access.log
run make-log "$PY" "$EX/log_analyzer.py" --make "$LOG" 300K || exit 1
[ "$(stat -c %s "$LOG")" -eq $((300 * 1024)) ] || fail "log_analyzer --make wrote the wrong size"

# ---- fileread ------------------------------------------------------------------
RM='MMHINT_READ_MMAP=on'
case_run fileread-read "$RM" "$EX/fileread" read "$DATA" 4K && {
  expect_eq "fileread read bytes" "$(field bytes)" "$SIZE"
  SUM_WHOLE=$(field checksum)
}
case_run fileread-read-odd "$RM" "$EX/fileread" read "$DATA" 1001 &&
  expect_eq "fileread read with 1001-byte blocks" "$(field checksum)" "$SUM_WHOLE"
case_run fileread-mmap-seq "$RM" "$EX/fileread" mmap-seq "$DATA" 4K &&
  expect_eq "fileread mmap-seq vs read" "$(field checksum)" "$SUM_WHOLE"
case_run fileread-mmap-seq-odd "$RM" "$EX/fileread" mmap-seq "$DATA" 7 &&
  expect_eq "fileread mmap-seq with 7-byte blocks vs read" "$(field checksum)" "$SUM_WHOLE"
case_run fileread-read-2pass "$RM" "$EX/fileread" read "$DATA" 64K --passes 2 && {
  SUM_2PASS=$(field checksum)
  expect_eq "fileread read 2 passes bytes" "$(field bytes)" $((2 * SIZE))
}
case_run fileread-mmap-2pass "$RM" "$EX/fileread" mmap-seq "$DATA" 64K --passes 2 &&
  expect_eq "fileread mmap-seq 2 passes vs read 2 passes" "$(field checksum)" "$SUM_2PASS"
case_run fileread-pread "$RM" "$EX/fileread" pread-random "$DATA" 4K --count 500 --seed 7 && {
  SUM_RAND=$(field checksum)
  expect_eq "fileread pread-random ops" "$(field ops)" 500
}
case_run fileread-mmap-random "$RM" "$EX/fileread" mmap-random "$DATA" 4K --count 500 --seed 7 &&
  expect_eq "fileread mmap-random vs pread-random" "$(field checksum)" "$SUM_RAND"

# ---- madvise_patterns -----------------------------------------------------------
MA='MMHINT_MMAP_ADVICE=auto'
case_run madvise-sequential "$MA" "$EX/madvise_patterns" sequential "$DATA" && {
  expect_eq "madvise_patterns sequential vs fileread" "$(field checksum)" "$SUM_WHOLE"
  expect_eq "madvise_patterns sequential touched_bytes" "$(field touched_bytes)" "$SIZE"
}
case_run madvise-random "$MA" "$EX/madvise_patterns" random "$DATA" --count 100 --seed 3 --cold &&
  expect_eq "madvise_patterns random accesses" "$(field accesses)" 100
case_run madvise-strided "$MA" "$EX/madvise_patterns" strided "$DATA" --stride 64K &&
  expect_eq "madvise_patterns strided accesses" "$(field accesses)" $(((SIZE + 65535) / 65536))
case_run madvise-mixed "$MA" "$EX/madvise_patterns" mixed "$DATA" && {
  [ -n "$(field phase_read_bytes)" ] || fail "madvise_patterns mixed has no phase_read_bytes"
}

# ---- hugepage_chase ---------------------------------------------------------------
HP='MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=2M'
case_run chase "$HP" "$EX/hugepage_chase" chase 4M && {
  expect_eq "hugepage_chase checked the whole cycle" "$(field cycle_checked)" 1
  expect_eq "hugepage_chase steps" "$(field steps)" $((4 * 1024 * 1024 / 64))
}
case_run first-touch "$HP" "$EX/hugepage_chase" first-touch 4M &&
  expect_eq "hugepage_chase first-touch pages" "$(field pages_4k)" 1024

# ---- numa_place ---------------------------------------------------------------------
case_run numa "MMHINT_NUMA=bind:0 MMHINT_NUMA_MIN=1M" "$EX/numa_place" 4M && {
  placement=$(field pages_per_node)
  if [ "$placement" = unknown ]; then
    echo "note: move_pages is not available here; placement not checked"
  else
    total=0
    IFS=, read -ra pairs <<<"$placement"
    for pair in "${pairs[@]}"; do total=$((total + ${pair#*:})); done
    expect_eq "numa_place pages on nodes" "$total" "$(field sampled_pages)"
    expect_eq "numa_place pages not present after touching" "$(field not_present)" 0
  fi
}

# ---- stream_window --------------------------------------------------------------------
SW='MMHINT_DROP_BEHIND=on MMHINT_ADVICE=sequential'
case_run stream "$SW" "$EX/stream_window" "$DATA" --chunk 1000 --record 64 --window 64K && {
  expect_eq "stream_window vs fileread" "$(field checksum)" "$SUM_WHOLE"
  # Complete records minus the records of one window, plus one.
  expect_eq "stream_window windows" "$(field windows)" $((SIZE / 64 - 1024 + 1))
}

# ---- log_analyzer ------------------------------------------------------------------------
LA='MMHINT_READ_MMAP=auto'
case_run log-read "$LA" "$PY" "$EX/log_analyzer.py" read "$LOG" && {
  SUM_LOG=$(field checksum)
  LINES=$(field lines)
  [ "${LINES:-0}" -gt 1000 ] || fail "log_analyzer counted only '${LINES}' lines"
  expect_eq "log_analyzer line count vs wc -l" "$LINES" "$(wc -l <"$LOG")"
}
case_run log-mmap "$LA" "$PY" "$EX/log_analyzer.py" mmap "$LOG" &&
  expect_eq "log_analyzer mmap vs read" "$(field checksum)" "$SUM_LOG"

# ---- Errors go to stderr with a non-zero status -------------------------------------------
# expect_failure CMD...: CMD must fail, print nothing on stdout and say why on stderr.
expect_failure() {
  if "$@" >"$TMP/out" 2>"$TMP/err"; then
    fail "expected a failure from: $*"
  elif [ -s "$TMP/out" ] || [ ! -s "$TMP/err" ]; then
    fail "a failure must print to stderr only: $*"
  fi
}
expect_failure "$EX/fileread" bogus "$DATA"
expect_failure "$EX/fileread" read "$TMP/missing"
expect_failure "$EX/madvise_patterns" random "$DATA" --block 0
expect_failure "$EX/hugepage_chase" chase 10x
expect_failure "$EX/numa_place"
expect_failure "$EX/stream_window" "$TMP/missing"
expect_failure "$PY" "$EX/log_analyzer.py" read "$TMP/missing"

# ---- The same runs under the shim ---------------------------------------------------------
LIB=$BUILD/libmmhint.so
if [ ! -e "$LIB" ]; then
  echo "note: $LIB is missing; skipping the runs under LD_PRELOAD"
else
  mkdir -p "$TMP/stats"
  for i in "${!CASE_NAMES[@]}"; do
    for policy in "" "${CASE_POLICY[$i]}"; do
      read -ra policy_env <<<"$policy"
      RUN_ENV=(LD_PRELOAD="$LIB" MMHINT_STATS="$TMP/stats/" "${policy_env[@]+"${policy_env[@]}"}")
      eval "cmd=(${CASE_CMDS[$i]})"
      # shellcheck disable=SC2154
      run "${CASE_NAMES[$i]} under the shim${policy:+ with $policy}" "${cmd[@]}" &&
        expect_eq "${CASE_NAMES[$i]} checksum under the shim${policy:+ with $policy}" \
          "$(field checksum)" "${CASE_SUMS[$i]}"
    done
  done
fi

if [ $failures -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: ${#CASE_NAMES[@]} example runs agree"
exit 0
