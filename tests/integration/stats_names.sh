#!/bin/bash
# A process's statistics file keeps the name it started with, whatever the
# program does to its title, and a fork child's process section starts at
# the fork:
#   1. a program that rewrites its argv in place (a title with '/', spaces and
#      more bytes than argv[0], as nginx's master and PostgreSQL backends do)
#      writes DIR/<name at start-up>.<pid>.json, and says nothing on stderr;
#   2. a template whose name cannot be created (%e inside a name too long for
#      the filesystem) falls back to DIR/mmhint.<pid>.json with one mmhint: line;
#   3. a child forked after its parent ran for a while has start_ns at the
#      fork (wall_ns short), the parent's start as parent_start_ns.
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_names
PROG=$MMHINT_BUILD_DIR/tests/programs/title
[ -x "$PROG" ] || { echo "FAIL: $PROG is missing (build first)"; exit 1; }
D=$MH_TMP
head -c 65536 /dev/urandom > "$D/data"

# 1. The title rewrite.
mkdir -p "$D/s1"
MH_SHIM_ENV=("MMHINT_STATS=$D/s1/%e.%p.json")
mh_run_shim "$D/r1" "$PROG" rewrite "$D/data" padpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpadpad
mh_expect_eq "rewrite: exit status" "$(cat "$D/r1/rc")" 0
mh_expect_eq "rewrite: the title was rewritten" "$(cut -c1-20 "$D/r1/out")" "title: master proces"
files=$(cd "$D/s1" && ls)
case $files in
  title.[0-9]*.json) mh_note "rewrite: $files" ;;
  *) mh_fail "rewrite: statistics files '$files', want title.PID.json" ;;
esac
mh_expect_eq "rewrite: mmhint: lines" "$(mh_mmhint_lines "$D/r1/err")" ""
if [ -n "$files" ]; then
  mh_expect_eq "rewrite: bytes_read of the data file" "$(mh_counter "$D/s1/$files" "$D/data" bytes_read)" 65536
fi

# 2. A name the filesystem refuses (longer than NAME_MAX): the fallback name, and one line saying so.
mkdir -p "$D/s2"
long=$(printf 'n%.0s' $(seq 300))
MH_SHIM_ENV=("MMHINT_STATS=$D/s2/$long.%e.%p.json")
mh_run_shim "$D/r2" "$PROG" rewrite "$D/data" pad
files=$(cd "$D/s2" && ls)
case $files in
  mmhint.[0-9]*.json) mh_note "fallback: $files" ;;
  *) mh_fail "fallback: statistics files '$files', want mmhint.PID.json" ;;
esac
mh_expect_eq "fallback: mmhint: lines" "$(mh_mmhint_lines "$D/r2/err" | wc -l)" 1

# 3. The fork child.
mkdir -p "$D/s3"
MH_SHIM_ENV=("MMHINT_STATS=$D/s3/%e.%p.json")
mh_run_shim "$D/r3" "$PROG" fork "$D/data" 700
child=$(sed -n 's/^child //p' "$D/r3/out")
parent_file=$(cd "$D/s3" && ls | grep -v "\.$child\.json" | head -1)
child_file=title.$child.json
if [ ! -f "$D/s3/$child_file" ] || [ -z "$parent_file" ]; then
  mh_fail "fork: files $(ls "$D/s3" | tr '\n' ' '), child $child"
else
  ps=$(mh_json "$D/s3/$parent_file" 'd["process"]["start_ns"]')
  cs=$(mh_json "$D/s3/$child_file" 'd["process"]["start_ns"]')
  cp=$(mh_json "$D/s3/$child_file" 'd["process"].get("parent_start_ns")')
  cw=$(mh_json "$D/s3/$child_file" 'd["process"]["wall_ns"]')
  mh_expect_eq "fork: the child's parent_start_ns is the parent's start_ns" "$cp" "$ps"
  # The parent slept 700 ms before forking; the child ran for a few ms.
  [ $((cs - ps)) -ge 600000000 ] || mh_fail "fork: the child's start_ns is $(( (cs - ps) / 1000000 )) ms after the parent's, want >= 600"
  [ "$cw" -lt 500000000 ] || mh_fail "fork: the child's wall_ns is $((cw / 1000000)) ms, want < 500"
  mh_note "fork: child started $(( (cs - ps) / 1000000 )) ms after the parent, ran $((cw / 1000000)) ms"
fi
mh_done
