#!/bin/bash
# Never take the program down (DESIGN invariant 2), end to end: bad config
# files and bad MMHINT_* variables.  In every case `cat F` under the shim gives
# the same stdout and exit status as a plain run, its stderr is the plain
# run's plus exactly one "mmhint:" line per problem (no more, no less), the
# stats file lists the same number of warnings, and the good lines of a bad
# file still apply.  MMHINT_VERBOSE=1 prints every option with its source:
# environment, the config file and line, or default.
set -u
. "$(dirname "$0")/lib.sh"
mh_init config_errors
mh_need_cmd cat

D=$MH_TMP
F=$D/input.txt
seq 1 50000 >"$F"
mh_run "$D/ref" cat "$F"
[ "$(cat "$D/ref/rc")" = 0 ] || mh_fail "plain cat failed"

# run_case NAME WANT_LINES [VAR=value...]: cat $F under the shim with the
# given environment (MMHINT_STATS is added); checks output, status, the
# number of mmhint: lines and the warnings in the stats file.  The mmhint:
# lines are left in $D/NAME/err.
run_case() {
  local name=$1 want=$2
  shift 2
  local w=$D/$name
  mkdir -p "$w/stats"
  MH_SHIM_ENV=(MMHINT_STATS="$w/stats/" "$@")
  mh_run_shim "$w" cat "$F"
  MH_SHIM_ENV=()
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "$name" "$D/ref" "$w"
  local got
  got=$(mh_mmhint_lines "$w/err" | wc -l)
  if [ "$got" != "$want" ]; then
    mh_fail "$name: $got mmhint: lines on stderr, want $want"
    sed 's/^/    /' "$w/err" | head -8
  fi
  local s
  s=$(mh_stats_files "$w/stats")
  if [ "$(echo "$s" | grep -c .)" != 1 ]; then
    mh_fail "$name: expected one stats file, got: $s"
  else
    mh_expect_eq "$name: warnings in the stats file" "$(mh_json "$s" 'len(d["process"]["warnings"])')" "$want"
    mh_expect_eq "$name: opens of the input" "$(mh_counter "$s" "$F" opens)" 1
  fi
}

# expect_line NAME REGEX: one of the mmhint: lines of case NAME matches REGEX.
expect_line() {
  mh_mmhint_lines "$D/$1/err" | grep -Eq -- "$2" || mh_fail "$1: no mmhint: line matches /$2/: $(mh_mmhint_lines "$D/$1/err" | head -3)"
}

# verbose_has NAME REGEX [VAR=value...]: under MMHINT_VERBOSE=1 with that
# environment, cat still behaves and some mmhint: line matches REGEX.
verbose_has() {
  local name=$1 re=$2
  shift 2
  MH_SHIM_ENV=(MMHINT_VERBOSE=1 "$@")
  mh_run_shim "$D/$name.v" cat "$F"
  MH_SHIM_ENV=()
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "$name (verbose)" "$D/ref" "$D/$name.v"
  mh_mmhint_lines "$D/$name.v/err" | grep -Eq -- "$re" || mh_fail "$name: under MMHINT_VERBOSE=1 no mmhint: line matches /$re/"
}

# ---- Good configurations print nothing ---------------------------------------------------
printf '# a comment\n\nstats_samples = 16   # trailing comment\n[rule]\npath = /nowhere/*\nadvice = random\n' >"$D/good.conf"
run_case good-config 0 MMHINT_CONFIG="$D/good.conf"
printf '\xef\xbb\xbfstats_samples = 16\r\nadvice = none\r\n' >"$D/crlf.conf"
run_case bom-crlf-config 0 MMHINT_CONFIG="$D/crlf.conf"
run_case no-config 0

# ---- Bad config files ----------------------------------------------------------------------
printf 'hugepage = thp\nstats_samples = 7\n' >"$D/unknown.conf"
run_case unknown-key 1 MMHINT_CONFIG="$D/unknown.conf"
expect_line unknown-key "^mmhint: .*unknown\.conf:1: .*'hugepage'.*hugepages"
# The good line after the bad one still applies (verbose dump shows it from line 2).
verbose_has unknown-key "^mmhint: stats_samples = 7 \(.*unknown\.conf:2\)$" MMHINT_CONFIG="$D/unknown.conf"

printf 'read_mmap = maybe\nstats_samples = -5\nreadahead_ahead = 1\nadvice = random\n' >"$D/badvalue.conf"
run_case bad-values 3 MMHINT_CONFIG="$D/badvalue.conf"
expect_line bad-values "^mmhint: .*badvalue\.conf:1: .*read_mmap"
expect_line bad-values "^mmhint: .*badvalue\.conf:2: .*stats_samples"
expect_line bad-values "^mmhint: .*badvalue\.conf:3: "

# One 10 MB line: larger than any config file may be.
head -c 10000000 /dev/zero | tr '\0' a >"$D/huge.conf"
run_case huge-line 1 MMHINT_CONFIG="$D/huge.conf"
# One 200 KB line inside an otherwise good file: that line is skipped, the rest applies.
{ echo "stats_samples = 5"; head -c 200000 /dev/zero | tr '\0' b; echo; echo "advice = random"; } >"$D/long.conf"
run_case long-line 1 MMHINT_CONFIG="$D/long.conf"
expect_line long-line "^mmhint: .*long\.conf:2: "
verbose_has long-line "^mmhint: advice = random \(.*long\.conf:3\)$" MMHINT_CONFIG="$D/long.conf"
verbose_has long-line "^mmhint: stats_samples = 5 \(.*long\.conf:1\)$" MMHINT_CONFIG="$D/long.conf"

head -c 20000 /dev/urandom >"$D/garbage.conf"
run_case binary-garbage 1 MMHINT_CONFIG="$D/garbage.conf"
printf 'stats_samples = 3\n\0\0\0\n' >"$D/nul.conf"
run_case nul-bytes 1 MMHINT_CONFIG="$D/nul.conf"

run_case missing-config 1 MMHINT_CONFIG="$D/does-not-exist.conf"
expect_line missing-config "does-not-exist\.conf"
run_case directory-config 1 MMHINT_CONFIG="$D"

# ---- Bad environment variables ---------------------------------------------------------------
run_case unknown-env 1 MMHINT_FOO=1
expect_line unknown-env "MMHINT_FOO"
run_case misspelt-env 1 MMHINT_HUGEPAGE=thp
expect_line misspelt-env "MMHINT_HUGEPAGE.*MMHINT_HUGEPAGES"
run_case bad-env-value 1 MMHINT_STATS_SAMPLES=lots
expect_line bad-env-value "MMHINT_STATS_SAMPLES"
run_case bad-env-enum 1 MMHINT_READ_MMAP=sometimes
run_case bad-env-size 1 MMHINT_READ_MMAP_MIN_FILE=12Q
# Problems add up: two in the file and two in the environment.
printf 'hugepage = thp\nread_mmap = maybe\n' >"$D/two.conf"
run_case everything 4 MMHINT_CONFIG="$D/two.conf" MMHINT_FOO=1 MMHINT_NUMA_MIN=-1

# ---- MMHINT_VERBOSE=1: effective options and their sources ------------------------------------
printf 'stats_samples = 100\nread_mmap_min_file = 1M\nadvice = random\n' >"$D/verbose.conf"
w=$D/verbose
mkdir "$D/vstats"
MH_SHIM_ENV=(MMHINT_CONFIG="$D/verbose.conf" MMHINT_VERBOSE=1 MMHINT_STATS_SAMPLES=9 MMHINT_DROP_BEHIND=1
  MMHINT_STATS="$D/vstats/")
mh_run_shim "$w" cat "$F"
MH_SHIM_ENV=()
MH_ALLOW_MMHINT_LINES=1 mh_compare_runs verbose "$D/ref" "$w"
# Set only in the environment.
mh_mmhint_lines "$w/err" | grep -Eq '^mmhint: drop_behind = (on|1|true) \(environment MMHINT_DROP_BEHIND\)$' ||
  mh_fail "verbose: drop_behind does not show its environment source"
# Set in both: the environment wins and says so.
mh_mmhint_lines "$w/err" | grep -Eq '^mmhint: stats_samples = 9 \(environment MMHINT_STATS_SAMPLES\)$' ||
  mh_fail "verbose: stats_samples from the environment does not win over the file"
# Set only in the file: the file and the line.
mh_mmhint_lines "$w/err" | grep -Eq "^mmhint: read_mmap_min_file = 1M \(.*verbose\.conf:2\)$" ||
  mh_fail "verbose: read_mmap_min_file does not show verbose.conf:2 as its source"
mh_mmhint_lines "$w/err" | grep -Eq "^mmhint: advice = random \(.*verbose\.conf:3\)$" ||
  mh_fail "verbose: advice does not show verbose.conf:3 as its source"
mh_mmhint_lines "$w/err" | grep -Eq '^mmhint: hugepages = off \(default\)$' ||
  mh_fail "verbose: an option nobody set does not show (default)"
# Every option in the table appears exactly once.
for opt in $(sed -n 's/^ *X(\([a-z_0-9]*\),.*/\1/p' "$MH_SRC/include/mmhint_options.def"); do
  n=$(mh_mmhint_lines "$w/err" | grep -c "^mmhint: $opt = ")
  [ "$n" = 1 ] || mh_fail "verbose: option $opt appears $n times in the dump"
done
[ -n "$(sed -n 's/^ *X(\([a-z_0-9]*\),.*/\1/p' "$MH_SRC/include/mmhint_options.def")" ] ||
  mh_fail "verbose: could not read the option names from mmhint_options.def"
# The stats file records the same sources (docs/STATS.md: default | env | config:FILE:LINE).
vs=$(mh_stats_files "$D/vstats")
mh_expect_eq "stats options sources" \
  "$(mh_json "$vs" '" ".join(d["process"]["options"][k]["source"] for k in ("drop_behind", "stats_samples", "read_mmap_min_file", "advice", "hugepages"))')" \
  "env env config:$D/verbose.conf:2 config:$D/verbose.conf:3 default"
mh_expect_eq "stats options values" \
  "$(mh_json "$vs" '" ".join(d["process"]["options"][k]["value"] for k in ("stats_samples", "read_mmap_min_file", "advice"))')" \
  "9 1M random"
# Without MMHINT_VERBOSE the same settings print nothing.
MH_SHIM_ENV=(MMHINT_CONFIG="$D/verbose.conf" MMHINT_STATS_SAMPLES=9)
mh_run_shim "$D/quiet" cat "$F"
MH_SHIM_ENV=()
mh_compare_runs "quiet with a good config" "$D/ref" "$D/quiet"

mh_done
