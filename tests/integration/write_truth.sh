#!/bin/bash
# Write statistics are true (DESIGN invariant 8), as stats_truth.sh checks
# the read side: on the same run, the per-file write counters the shim
# writes equal what strace -f -y sees.
#
# For each of dd (plain, and appending with oflag=append), cp, tar x, gzip
# (to a file it opens, and to an inherited stdout), sqlite3 inserts and a
# python program that writes, appends, pwrites, writevs, truncates, syncs
# and msyncs: prepare the same inputs in two fresh directories; run the
# command WITHOUT the shim in one (the reference output), and under strace
# WITH the shim in the other.  Checked: the output files are identical;
# per output file, opens, writes, bytes_written, write_errors, fsyncs,
# fdatasyncs, sync_file_ranges and truncates equal that run's strace log;
# for files written once from start to end, bytes_written and
# max_byte_written equal the file size and consec_writes = writes - 1.
# msync (which strace cannot attribute to a file) must equal the python
# program's own count.  Last, a C program writing through stdio: stdio_*
# equal its own counts, and its stdio-internal write(2) calls are not
# counted as writes (docs/STATS.md: unobserved).
set -u
. "$(dirname "$0")/lib.sh"
mh_init write_truth
mh_need_cmd strace sqlite3 gzip tar dd cp
if ! strace -o /dev/null true 2>/dev/null; then
  mh_skip "strace cannot trace here (ptrace not permitted)"
fi
D=$MH_TMP
TRACE=(strace -f -qq -y -s 0 -e trace="$MH_STRACE_WRITES,msync")
head -c 3000000 /dev/urandom >"$D/in.dat"
"$MH_PYTHON" -c "
import sys
with open(sys.argv[1], 'w') as f:
    for i in range(100000):
        f.write('line %d of the text file, abcdefghij\n' % i)
" "$D/in.txt"
mkdir -p "$D/tree/sub"
head -c 200000 /dev/urandom >"$D/tree/a.bin"
cp "$D/in.txt" "$D/tree/sub/b.txt"
head -c 10 /dev/urandom >"$D/tree/sub/c"
(cd "$D" && tar cf "$D/tree.tar" tree) || mh_fail "cannot make the tar file"
cat >"$D/w.py" <<'EOF'
import mmap, os, sys
d = os.path.abspath(sys.argv[1])
with open(d + "/py.txt", "w") as f:
    for i in range(20000):
        f.write("line %d of the python file\n" % i)
    f.flush()
    os.fsync(f.fileno())
with open(d + "/py.txt", "a") as f:
    f.write("appended\n" * 3000)
fd = os.open(d + "/py.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"a" * 70000)
os.pwrite(fd, b"b" * 100, 10)
os.writev(fd, [b"c" * 10, b"d" * 20])
os.ftruncate(fd, 65536)
os.fdatasync(fd)
m = mmap.mmap(fd, 65536, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0:5] = b"hello"
m.flush()
m.flush()
m.close()
os.close(fd)
os.truncate(d + "/py.bin", 4096)
EOF

# The counters of every stats entry naming PATH (or its device and inode),
# added up ("entries=N" too): sqlite's journal is a new file (maybe a reused
# inode) per transaction.
sum_counters() {
  python3 - "$1" "$2" <<'EOF'
import json, os, sys
d = json.load(open(sys.argv[1]))
want = os.path.realpath(sys.argv[2])
st = os.stat(want) if os.path.exists(want) else None  # sqlite's journal is gone at the end
# By path, or by device and inode: a descriptor the process inherited (a shell's redirection) has no path.
hits = [f for f in d.get("files", []) if want in [os.path.realpath(p) for p in f.get("paths", [])] or
        (st and (f.get("dev"), f.get("ino")) == (st.st_dev, st.st_ino))]
keys = ["opens", "writes", "bytes_written", "write_errors", "fsyncs", "fdatasyncs", "sync_file_ranges", "truncates",
        "msyncs", "seq_writes", "consec_writes", "max_byte_written", "stdio_opens", "stdio_writes",
        "stdio_bytes_written", "stdio_flushes"]
print("entries=%d" % len(hits))
for k in keys:
    vals = [f.get(k) for f in hits]
    if any(v is None for v in vals):
        print("%s=MISSING" % k)
    else:
        print("%s=%d" % (k, max(vals, default=0) if k == "max_byte_written" else sum(vals)))
EOF
}

# run_case NAME SETUP "FILE[:full] ..." CMD...
#   SETUP (a function) prepares the current directory; CMD runs there with
#   stdout to "stdout" in it.  Each FILE (relative to that directory) is
#   compared; ":full" marks a file written once from its start to its end.
run_case() {
  local name=$1 setup=$2 files=$3
  shift 3
  local w=$D/$name
  mkdir -p "$w/plain" "$w/traced" "$w/s"
  (cd "$w/plain" && $setup && "$@" >stdout 2>stderr)
  local rc_plain=$?
  (cd "$w/traced" && $setup &&
    "${TRACE[@]}" -o "$w/log" -E LD_PRELOAD="$MH_LIB" -E MMHINT_CONFIG= -E MMHINT_STATS="$w/s/" "$@" >stdout 2>stderr)
  local rc_traced=$?
  mh_expect_eq "$name: exit status with the shim under strace" "$rc_traced" "$rc_plain"
  cmp -s "$w/plain/stderr" "$w/traced/stderr" || mh_fail "$name: stderr differs: $(head -c 300 "$w/traced/stderr")"
  local stats
  stats=$(mh_stats_files "$w/s" | head -n 100)
  # Several processes (tar and gzip may fork): one stats file each; add them up per file.
  local spec file full
  for spec in $files stdout; do
    file=${spec%%:full}
    full=0
    [ "$spec" != "$file" ] && full=1
    if [ -e "$w/plain/$file" ] || [ -e "$w/traced/$file" ]; then
      cmp -s "$w/plain/$file" "$w/traced/$file" || mh_fail "$name: $file differs with the shim"
    fi
    [ "$file" = stdout ] && continue
    local path=$w/traced/$file
    local obs o_opens o_writes o_bytes o_errors o_fsyncs o_fdatasyncs o_syncranges o_truncates
    obs=$(mh_strace_writes "$w/log" "$path")
    eval "$(echo "$obs" | tr ' ' '\n' | sed 's/^/o_/')"
    local c_entries=0 c_opens=0 c_writes=0 c_bytes_written=0 c_write_errors=0 c_fsyncs=0 c_fdatasyncs=0 \
      c_sync_file_ranges=0 c_truncates=0 c_msyncs=0 c_stdio_writes=0 c_stdio_bytes_written=0 c_stdio_flushes=0 c_seq_writes=0 c_consec_writes=0 c_max_byte_written=0 c_stdio_opens=0 s
    for s in $stats; do
      local line k v
      while IFS== read -r k v; do
        case $v in MISSING) mh_fail "$name: $file: key $k missing in $s"; continue ;; esac
        if [ "$k" = max_byte_written ]; then
          [ "$v" -gt "$c_max_byte_written" ] && c_max_byte_written=$v
        else
          eval "c_$k=\$((c_$k + v))"
        fi
      done < <(sum_counters "$s" "$path")
    done
    local tag="$name: $file (strace: $obs)"
    [ "$c_entries" -ge 1 ] || { mh_fail "$tag: no stats entry names it"; continue; }
    mh_expect_eq "$tag: opens (+ stdio_opens)" "$((c_opens + c_stdio_opens))" "$o_opens"
    mh_expect_eq "$tag: writes" "$c_writes" "$o_writes"
    mh_expect_eq "$tag: bytes_written" "$c_bytes_written" "$o_bytes"
    mh_expect_eq "$tag: write_errors" "$c_write_errors" "$o_errors"
    mh_expect_eq "$tag: fsyncs" "$c_fsyncs" "$o_fsyncs"
    mh_expect_eq "$tag: fdatasyncs" "$c_fdatasyncs" "$o_fdatasyncs"
    mh_expect_eq "$tag: sync_file_ranges" "$c_sync_file_ranges" "$o_syncranges"
    mh_expect_eq "$tag: truncates" "$c_truncates" "$o_truncates"
    if [ "$full" = 1 ]; then
      local size
      size=$(stat -c %s "$path")
      mh_expect_eq "$tag: bytes_written = file size" "$c_bytes_written" "$size"
      mh_expect_eq "$tag: max_byte_written = file size" "$c_max_byte_written" "$size"
      mh_expect_eq "$tag: consec_writes = writes - 1" "$c_consec_writes" "$((c_writes - 1))"
      mh_expect_eq "$tag: seq_writes = writes - 1" "$c_seq_writes" "$((c_writes - 1))"
    fi
    [ "$o_writes" -ge 1 ] || [ "$name" = cp ] || mh_fail "$tag: strace saw no writes; the case is not testing"
  done
  LAST_STATS=$stats
}

none() { :; }
prefilled() { head -c 12345 "$D/in.txt" >out.dat; }
db() { sqlite3 t.db 'create table t(a, b);'; }

run_case dd none "out.dat:full" dd if="$D/in.dat" of=out.dat bs=4k conv=fsync status=none
# O_APPEND: every write lands at the end; the offsets come from the kernel.
run_case dd_append prefilled "out.dat" dd if="$D/in.dat" of=out.dat bs=64k oflag=append conv=notrunc status=none
s=$(mh_stats_files "$D/dd_append/s")
mh_expect_eq "dd_append: max_byte_written = the file's size" \
  "$(sum_counters "$s" "$D/dd_append/traced/out.dat" | sed -n 's/^max_byte_written=//p')" \
  "$(stat -c %s "$D/dd_append/traced/out.dat")"
mh_expect_eq "dd_append: consec_writes = writes - 1" \
  "$(sum_counters "$s" "$D/dd_append/traced/out.dat" | sed -n 's/^consec_writes=//p')" \
  "$(($(sum_counters "$s" "$D/dd_append/traced/out.dat" | sed -n 's/^writes=//p') - 1))"
# cp of a regular file may move the data with copy_file_range (not a write: docs/STATS.md); whatever it does, the counts agree.
run_case cp none "copy.dat" cp "$D/in.dat" copy.dat
run_case tar none "tree/a.bin:full tree/sub/b.txt:full tree/sub/c:full" tar xf "$D/tree.tar"
run_case gzip_file none "in.txt.gz:full" sh -c "cp '$D/in.txt' in.txt && exec gzip -n -f in.txt"
# stdout is a file the shell opened: the descriptor is adopted, its offsets asked of the kernel.
run_case gzip_stdout none "out.gz:full" sh -c "exec gzip -n -c '$D/in.txt' >out.gz"
run_case sqlite db "t.db t.db-journal" sqlite3 t.db "begin; insert into t values (1, zeroblob(5000)); commit;
  insert into t select a + 1, b from t; insert into t select a + 2, printf('%.3000c', 'x') from t;
  begin; insert into t select a + 4, b from t; update t set a = a + 1; commit; delete from t where a > 5; vacuum;"
run_case python none "py.txt py.bin" "$MH_PYTHON" "$D/w.py" .
s=$(mh_stats_files "$D/python/s")
mh_expect_eq "python: msyncs of py.bin = the program's m.flush() calls" \
  "$(sum_counters "$s" "$D/python/traced/py.bin" | sed -n 's/^msyncs=//p')" 2
mh_expect_eq "python: strace saw 2 msync calls" "$(grep -c 'msync(' "$D/python/log")" 2

# stdio: counted at the stdio level; its internal write(2) calls are not writes.
P=$(dirname "$MH_LIB")/tests/programs/write_stdio
if [ -x "$P" ]; then
  w=$D/stdio
  mkdir -p "$w/s"
  "${TRACE[@]}" -o "$w/log" -E LD_PRELOAD="$MH_LIB" -E MMHINT_CONFIG= -E MMHINT_STATS="$w/s/" "$P" "$w/out" >"$w/own"
  s=$(mh_stats_files "$w/s")
  c=$(sum_counters "$s" "$w/out")
  for pair in stdio_writes:stdio_writes stdio_bytes:stdio_bytes_written stdio_flushes:stdio_flushes; do
    mh_expect_eq "stdio: ${pair#*:} = the program's count" "$(echo "$c" | sed -n "s/^${pair#*:}=//p")" \
      "$(awk -v k="${pair%%:*}" '$1 == k {print $2}' "$w/own")"
  done
  mh_expect_eq "stdio: stdio_bytes_written = the file's size" "$(echo "$c" | sed -n 's/^stdio_bytes_written=//p')" \
    "$(stat -c %s "$w/out")"
  mh_expect_eq "stdio: its internal write(2) calls are not counted as writes" "$(echo "$c" | sed -n 's/^writes=//p')" 0
  obs=$(mh_strace_writes "$w/log" "$w/out")
  case $obs in *" writes=0 "*) mh_fail "stdio: strace saw no write(2) calls; the case is not testing" ;; esac
  mh_expect_eq "stdio: one stdio open, as strace saw" "$(echo "$c" | sed -n 's/^stdio_opens=//p')" \
    "$(echo "$obs" | sed 's/.*opens=\([0-9]*\).*/\1/')"
  mh_json "$s" 'd["process"]["unobserved"]' | grep -q "fputc/putc/fprintf" ||
    mh_fail "stdio: process.unobserved does not name the unwrapped character-level stdio calls"
  mh_json "$s" 'd["process"]["unobserved"]' | grep -q "writes are not observed" &&
    mh_fail "stdio: process.unobserved still says writes are not observed"
else
  mh_fail "tests/programs/write_stdio is not built"
fi

mh_done
