#!/bin/bash
# Safe output (DESIGN invariant 9, docs/STATS.md): how and where the stats
# file is written.
#   - mode 0600 even under umask 000; a symlink planted at the stats path is
#     neither followed nor replaced (its target is unchanged, stats go to
#     PATH.1); an existing file is never replaced (PATH.1, PATH.2); concurrent
#     writers to one path each get their own name;
#   - a missing, unwritable or impossible directory: the program runs on with
#     the same output and exit status and exactly one "mmhint:" line;
#   - the template: %p %e %h %t %% and the trailing-/ directory form;
#   - MMHINT_DISABLE=1 writes nothing; no temporary files are left behind;
#   - the file never holds file contents (a marker read by several programs);
#   - _exit writes end_reason "_exit"; exec writes one file for the old image
#     (end_reason "exec") and one for the new.
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_file_safety
mh_need_cmd cat sed perl

D=$MH_TMP
F=$D/input.txt
seq 1 20000 >"$F"
WANT_OUT=$(mh_sha "$F")

# shim_cat STATS_PATH [VAR=value...]: cat $F under the shim with MMHINT_STATS
# set; output, status and stderr in $D/last.
shim_cat() {
  local s=$1
  shift
  MH_SHIM_ENV=(MMHINT_STATS="$s" "$@")
  mh_run_shim "$D/last" cat "$F"
  MH_SHIM_ENV=()
}

# expect_clean_run WHAT: the last shim_cat printed the file, exited 0 and said nothing.
expect_clean_run() {
  mh_expect_eq "$1: exit status" "$(cat "$D/last/rc")" 0
  mh_expect_eq "$1: stdout" "$(mh_sha "$D/last/out")" "$WANT_OUT"
  [ -s "$D/last/err" ] && mh_fail "$1: unexpected stderr: $(head -c 300 "$D/last/err")"
  return 0
}

# expect_stats WHAT FILE: FILE is a regular 0600 stats file of a cat that read $F.
expect_stats() {
  if [ ! -f "$2" ] || [ -L "$2" ]; then
    mh_fail "$1: $2 is not a regular file"
    return 1
  fi
  mh_expect_eq "$1: mode of $2" "$(stat -c %a "$2")" 600
  local v
  v=$(mh_json_valid "$2") || { mh_fail "$1: $v"; return 1; }
  # cat copies into a regular-file stdout with copy_file_range, so check the open, not the reads.
  mh_expect_eq "$1: opens of the input in $2" "$(mh_counter "$2" "$F" opens)" 1
  mh_expect_eq "$1: size_at_open of the input in $2" "$(mh_counter "$2" "$F" size_at_open)" "$(stat -c %s "$F")"
}

# ---- Mode 0600 under any umask -------------------------------------------------------
mkdir "$D/m"
(umask 000 && shim_cat "$D/m/s.json")
expect_clean_run "umask 000"
expect_stats "umask 000" "$D/m/s.json"

# ---- A planted symlink ----------------------------------------------------------------
mkdir "$D/l"
echo "precious contents" >"$D/l/target"
chmod 644 "$D/l/target"
ln -s "$D/l/target" "$D/l/s.json"
shim_cat "$D/l/s.json"
expect_clean_run "planted symlink"
mh_expect_eq "planted symlink: target contents" "$(cat "$D/l/target")" "precious contents"
mh_expect_eq "planted symlink: target mode" "$(stat -c %a "$D/l/target")" 644
[ -L "$D/l/s.json" ] && [ "$(readlink "$D/l/s.json")" = "$D/l/target" ] ||
  mh_fail "planted symlink: the symlink was replaced or changed"
expect_stats "planted symlink" "$D/l/s.json.1"
# A dangling symlink: its target must not be created.
ln -s "$D/l/created-through-link" "$D/l/d.json"
shim_cat "$D/l/d.json"
expect_clean_run "dangling symlink"
[ -e "$D/l/created-through-link" ] && mh_fail "dangling symlink: the shim created the symlink's target"
expect_stats "dangling symlink" "$D/l/d.json.1"

# ---- An existing file is never replaced ------------------------------------------------
mkdir "$D/e"
echo keep >"$D/e/s.json"
shim_cat "$D/e/s.json"
expect_clean_run "existing file"
shim_cat "$D/e/s.json"
mh_expect_eq "existing file: contents" "$(cat "$D/e/s.json")" keep
expect_stats "existing file, first run" "$D/e/s.json.1"
expect_stats "existing file, second run" "$D/e/s.json.2"
p1=$(mh_json "$D/e/s.json.1" 'd["process"]["pid"]')
p2=$(mh_json "$D/e/s.json.2" 'd["process"]["pid"]')
[ "$p1" != "$p2" ] || mh_fail "existing file: .1 and .2 hold the same process"

# Concurrent writers to one path: each process gets its own file.
mkdir "$D/c"
for i in 1 2 3 4 5 6; do
  env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_STATS="$D/c/s.json" cat "$F" >/dev/null 2>>"$D/c.err" &
done
wait
mh_expect_eq "concurrent writers: files" "$(cd "$D/c" && ls | sort | tr '\n' ' ')" \
  "s.json s.json.1 s.json.2 s.json.3 s.json.4 s.json.5 "
pids=$(for s in "$D"/c/*; do mh_json "$s" 'd["process"]["pid"]'; done | sort -u | wc -l)
mh_expect_eq "concurrent writers: distinct pids" "$pids" 6
[ -s "$D/c.err" ] && mh_fail "concurrent writers: stderr: $(head -c 300 "$D/c.err")"

# ---- Where the file cannot be written ---------------------------------------------------
# READER prints $F and, unlike coreutils (whose close_stdout closes fd 2 at
# exit), keeps stderr open to the end.
READER=("$MH_PYTHON" -c 'import sys; sys.stdout.write(open(sys.argv[1]).read())' "$F")
mh_run "$D/ref" "${READER[@]}"
mh_run "$D/refcat" cat "$F"
# bad_path WHAT PATH [CMD...]: under the shim with MMHINT_STATS=PATH, CMD
# (default READER) has the plain run's output and status, and stderr is
# exactly one line, starting mmhint:.
bad_path() {
  local what=$1 path=$2 ref=$D/ref
  shift 2
  [ $# -eq 0 ] && set -- "${READER[@]}"
  [ "$1" = cat ] && ref=$D/refcat
  MH_SHIM_ENV=(MMHINT_STATS="$path")
  mh_run_shim "$D/last" "$@"
  MH_SHIM_ENV=()
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "$what" "$ref" "$D/last"
  mh_expect_eq "$what: lines starting mmhint:" "$(mh_mmhint_lines "$D/last/err" | wc -l)" 1
  mh_expect_eq "$what: stderr lines" "$(wc -l <"$D/last/err")" 1
}
bad_path "missing directory" "$D/no/such/dir/s.json"
[ -e "$D/no" ] && mh_fail "missing directory: the shim created directories"
echo "not a directory" >"$D/plainfile"
bad_path "parent is a file" "$D/plainfile/s.json"
bad_path "directory in /proc" "/proc/mmhint-stats-test.json"
# The same for cat, which closes its stderr in an atexit handler (gnulib
# close_stdout), before the shim's destructor runs: a warning that is only
# written at exit is lost.
bad_path "missing directory, cat" "$D/no/such/dir/s.json" cat "$F"
# A program that closes fd 2 and reuses it for its own output file: the
# shim's warning must not land in that file (the files it makes must match).
mkdir "$D/fd2p" "$D/fd2s"
FD2=("$MH_PYTHON" -c 'import os; os.close(2); fd = os.open("out.dat", os.O_WRONLY | os.O_CREAT, 0o644); os.write(fd, b"program data\n")')
(cd "$D/fd2p" && "${FD2[@]}")
(cd "$D/fd2s" && env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_STATS="$D/no/such/dir/s.json" "${FD2[@]}")
mh_expect_eq "fd 2 reused for a data file: plain run's file" "$(cat "$D/fd2p/out.dat")" "program data"
mh_expect_eq "fd 2 reused for a data file: the file written under the shim" "$(cat "$D/fd2s/out.dat")" "program data"

# A directory path without a trailing slash names something that exists: .1 is used.
shim_cat "$D/m"
expect_clean_run "path names an existing directory"
[ -d "$D/m" ] && expect_stats "path names an existing directory" "$D/m.1"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  # As root no permission bits stop a write: run as nobody against a root-owned 0755 directory.
  chmod 755 "$D"
  chmod 644 "$F"
  mkdir -m 755 "$D/ro"
  # nobody must be able to load the library: the build tree may sit under a private directory.
  keep_lib=$MH_LIB
  cp "$MH_LIB" "$D/libmmhint.so" && chmod 755 "$D/libmmhint.so" && MH_LIB=$D/libmmhint.so
  MH_SHIM_ENV=(MMHINT_STATS="$D/ro/")
  mh_run_shim "$D/last" setpriv --reuid=65534 --regid=65534 --clear-groups "${READER[@]}"
  MH_SHIM_ENV=()
  MH_LIB=$keep_lib
  mh_run "$D/ref2" setpriv --reuid=65534 --regid=65534 --clear-groups "${READER[@]}"
  MH_ALLOW_MMHINT_LINES=1 mh_compare_runs "unwritable directory" "$D/ref2" "$D/last"
  mh_expect_eq "unwritable directory: lines starting mmhint:" "$(mh_mmhint_lines "$D/last/err" | wc -l)" 1
  # setpriv itself runs as root under the shim and writes its own file as it execs; python as nobody cannot.
  mh_expect_eq "unwritable directory: files written" "$(cd "$D/ro" && ls | sed 's/\.[0-9]*\.json$//')" setpriv
elif [ "$(id -u)" != 0 ]; then
  mkdir -m 555 "$D/ro"
  bad_path "unwritable directory" "$D/ro/s.json"
else
  mh_note "setpriv missing: the unwritable-directory case as another user is not run"
fi

# ---- Templates ----------------------------------------------------------------------
mkdir "$D/t"
t0=$(date +%s)
shim_cat "$D/t/x-%e-%p-%h-%t-%%-end.json"
t1=$(date +%s)
expect_clean_run "template"
made=$(cd "$D/t" && ls)
if [ "$(echo "$made" | grep -c .)" != 1 ]; then
  mh_fail "template: expected one file, got: $made"
else
  pid=$(mh_json "$D/t/$made" 'd["process"]["pid"]')
  host=$(mh_json "$D/t/$made" 'd["process"]["host"]')
  mh_expect_eq "template: host in stats" "$host" "$(uname -n)"
  if [[ $made =~ ^x-cat-([0-9]+)-(.+)-([0-9]+)-%-end\.json$ ]]; then
    mh_expect_eq "template: %p" "${BASH_REMATCH[1]}" "$pid"
    mh_expect_eq "template: %h" "${BASH_REMATCH[2]}" "$(uname -n)"
    t=${BASH_REMATCH[3]}
    [ "$t" -ge "$t0" ] && [ "$t" -le "$t1" ] || mh_fail "template: %t = $t is not within [$t0, $t1]"
  else
    mh_fail "template: $made does not match x-cat-PID-HOST-TIME-%-end.json"
  fi
  expect_stats "template" "$D/t/$made"
fi
# A lone % at the end and an unknown %q stay as they are.
shim_cat "$D/t/odd-%q-%"
expect_clean_run "template with %q and a trailing %"
[ -f "$D/t/odd-%q-%" ] || mh_fail "template: odd-%q-% not written as such (got: $(cd "$D/t" && ls | tr '\n' ' '))"
# %e is the program name as invoked, the basename of argv[0] (docs/STATS.md): what ps shows and
# what a multi-call binary such as busybox dispatches on, so it follows exec -a.
mkdir "$D/e0"
MH_SHIM_ENV=(MMHINT_STATS="$D/e0/%e.json")
mh_run_shim "$D/last" bash -c 'exec -a renamed-cat cat "$1"' sh "$F"
MH_SHIM_ENV=()
[ -f "$D/e0/renamed-cat.json" ] || mh_fail "template: %e for an exec -a renamed cat: want renamed-cat.json (argv[0]), got: $(cd "$D/e0" && ls | tr '\n' ' ')"
# The directory form.
mkdir "$D/dir"
shim_cat "$D/dir/"
expect_clean_run "directory form"
made=$(cd "$D/dir" && ls)
pid=$(mh_json "$D/dir/$made" 'd["process"]["pid"]' 2>/dev/null)
mh_expect_eq "directory form: file name" "$made" "cat.$pid.json"
[ -f "$D/dir/$made" ] && expect_stats "directory form" "$D/dir/$made"

# ---- MMHINT_DISABLE=1 ------------------------------------------------------------------
mkdir "$D/off"
shim_cat "$D/off/" MMHINT_DISABLE=1
expect_clean_run "MMHINT_DISABLE=1"
mh_expect_eq "MMHINT_DISABLE=1: files written" "$(ls -A "$D/off" | wc -l)" 0
shim_cat "$D/off/" MMHINT_DISABLE=0
mh_expect_eq "MMHINT_DISABLE=0: files written" "$(ls -A "$D/off" | wc -l)" 1

# ---- No file contents in the stats ------------------------------------------------------
marker="mmhint-secret-$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
mkdir "$D/sec"
{ seq 1 3000; echo "$marker"; seq 1 3000; } >"$D/secret.txt"
cp "$D/secret.txt" "$D/secret2.txt"
MH_SHIM_ENV=(MMHINT_STATS="$D/sec/")
mh_run_shim "$D/last" cat "$D/secret.txt"
mh_run_shim "$D/last" grep -c mmhint-secret "$D/secret.txt"
mh_run_shim "$D/last" sed -n '/mmhint-secret/p' "$D/secret.txt"
mh_run_shim "$D/last" perl -ne 'print if /mmhint-secret/' "$D/secret.txt"
mh_run_shim "$D/last" "$MH_PYTHON" -c 'import sys; print(open(sys.argv[1]).read().count("mmhint-secret"))' "$D/secret.txt"
mh_run_shim "$D/last" bash -c 'while read -r l; do :; done <"$1"; cat "$1" | cat >/dev/null' sh "$D/secret2.txt"
MH_SHIM_ENV=()
grep -q "$marker" "$D/last/out" "$D/secret.txt" || mh_fail "secret: the marker is not where it should be"
n=$(mh_stats_files "$D/sec" | wc -l)
[ "$n" -ge 8 ] || mh_fail "secret: only $n stats files were written"
leaks=$(grep -l -r -- "$marker" "$D/sec")
[ -n "$leaks" ] && mh_fail "secret: file contents appear in the stats: $leaks"
hits=$(grep -l -- "$D/secret.txt" "$D"/sec/* | wc -l)
[ "$hits" -ge 5 ] || mh_fail "secret: only $hits stats files name the secret file; the test would not see a leak"

# ---- _exit and exec -----------------------------------------------------------------------
mkdir "$D/x"
MH_SHIM_ENV=(MMHINT_STATS="$D/x/")
mh_run_shim "$D/last" "$MH_PYTHON" -c "import os; open('$F','rb').read(); os._exit(3)"
MH_SHIM_ENV=()
mh_expect_eq "_exit: exit status" "$(cat "$D/last/rc")" 3
made=$(mh_stats_files "$D/x")
if [ "$(echo "$made" | grep -c .)" = 1 ]; then
  mh_expect_eq "_exit: end_reason" "$(mh_json "$made" 'd["process"]["end_reason"]')" "_exit"
  mh_expect_eq "_exit: bytes_read" "$(mh_counter "$made" "$F" bytes_read)" "$(stat -c %s "$F")"
else
  mh_fail "_exit: expected one stats file, got: $made"
fi
mkdir "$D/ex"
MH_SHIM_ENV=(MMHINT_STATS="$D/ex/")
mh_run_shim "$D/last" sh -c "exec cat '$F'"
MH_SHIM_ENV=()
expect_clean_run "exec"
summary=$(for s in $(mh_stats_files "$D/ex"); do
  mh_json "$s" '"%s %s %d" % (d["process"]["exe"], d["process"]["end_reason"], d["process"]["pid"])'
done | sort)
shpid=$(echo "$summary" | awk '$1 == "'"$(readlink -f /bin/sh)"'" { print $3 }')
mh_expect_eq "exec: stats files (exe end_reason pid)" "$summary" \
  "$(printf '%s exit %s\n%s exec %s' /usr/bin/cat "$shpid" "$(readlink -f /bin/sh)" "$shpid" | sort)"
[ -n "$shpid" ] || mh_fail "exec: no stats file for sh"
catfile=$(grep -l '"/usr/bin/cat"' $(mh_stats_files "$D/ex") 2>/dev/null | head -1)
[ -n "$catfile" ] && expect_stats "exec: cat's file" "$catfile"
# A failed exec leaves no file behind for the image that goes on, and that image writes its own at exit.
mkdir "$D/fx"
MH_SHIM_ENV=(MMHINT_STATS="$D/fx/")
mh_run_shim "$D/last" "$MH_PYTHON" -c "
import os
try:
    os.execv('/nonexistent/program', ['x'])
except OSError:
    pass
print('still here')"
MH_SHIM_ENV=()
mh_expect_eq "failed exec: output" "$(cat "$D/last/out")" "still here"
made=$(mh_stats_files "$D/fx")
mh_expect_eq "failed exec: stats files" "$(echo "$made" | grep -c .)" 1
[ -n "$made" ] && mh_expect_eq "failed exec: end_reason" "$(mh_json "$(echo "$made" | head -1)" 'd["process"]["end_reason"]')" exit

# ---- No temporary files anywhere ----------------------------------------------------------
left=$(find "$D" -name '*.tmp*' 2>/dev/null)
[ -n "$left" ] && mh_fail "temporary files left behind: $left"

mh_done
