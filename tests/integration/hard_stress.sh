#!/bin/bash
# Hardening, stress (PITFALLS 8, 11, 17 under the most aggressive policies):
# tests/programs/hard_stress run under AGGR (read_mmap=on for every file, read-write too,
# advice=auto, drop_behind, THP for allocations from 64K) with statistics on:
#   threads   : threads reading one shared descriptor (every 4 KiB chunk must
#               arrive exactly once: the shared offset stays atomic under
#               read->mmap) and their own descriptors, others allocating,
#               while the main thread forks hundreds of times;
#   alarm     : a SIGALRM every 100 us whose handler preads the file (also the
#               descriptor the main loop is reading) and reads a pipe;
#   manyfiles : 10,000 files open at once, each read and checked.
# Every byte read is checked by the program itself.  Each run has a timeout
# (expiry = deadlock = failure); it must exit 0 with "ok", print no "mmhint:"
# line, and leave complete, valid stats files (one per process, end_reason
# exit or _exit, the files it read listed with the bytes it read).
# The same program runs without the shim first, as the control.
#   HARD_STRESS_THREADS (16) HARD_STRESS_FORKS (300) HARD_STRESS_ALARM_S (10)
#   HARD_STRESS_FILES (10000) HARD_STRESS_MIB (16) set the sizes
#   (scripts/reliability runs longer versions).
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_stress
P=${MMHINT_BUILD_DIR:-$(dirname "$MH_LIB")}/tests/programs/hard_stress
[ -x "$P" ] || { mh_fail "missing $P (build the project first)"; mh_done; }

THREADS=${HARD_STRESS_THREADS:-16}
FORKS=${HARD_STRESS_FORKS:-300}
ALARM_S=${HARD_STRESS_ALARM_S:-10}
NFILES=${HARD_STRESS_FILES:-10000}
MIB=${HARD_STRESS_MIB:-16}
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K)

# Files on the real disk (ext4), not tmpfs.
BASE=$MH_TMP
for d in /var/tmp /tmp; do
  [ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ] && { BASE=$(mktemp -d "$d/hard_stress.XXXXXX"); break; }
done
[ "$BASE" != "$MH_TMP" ] && trap 'chmod -R u+rwx "$MH_TMP" 2>/dev/null; rm -rf "$MH_TMP" "$BASE"' EXIT
F=$BASE/data
S=$BASE/small
"$P" mkfile "$F" "$MIB" || { mh_fail "mkfile"; mh_done; }
"$P" mkfile "$S" 1 || { mh_fail "mkfile"; mh_done; }

# stress NAME TIMEOUT ARGS...: control run, then the AGGR run with stats.
stress() {
  local name=$1 t=$2
  shift 2
  local w=$MH_TMP/$name
  mkdir -p "$w/stats" "$w/pwork" "$w/swork"
  local args=("$@")
  [ "${args[0]}" = manyfiles ] && args[1]=$w/pwork
  timeout -s KILL "$t" "$P" "${args[@]}" >"$w/plain.out" 2>"$w/plain.err"
  local rc=$?
  if [ $rc -ne 0 ] || ! grep -qx ok "$w/plain.out"; then
    mh_fail "$name: the control run without the shim failed (rc $rc): $(head -c 300 "$w/plain.out" "$w/plain.err")"
    return
  fi
  [ "${args[0]}" = manyfiles ] && args[1]=$w/swork
  timeout -s KILL "$t" env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$w/stats/" \
    "$P" "${args[@]}" >"$w/shim.out" 2>"$w/shim.err"
  rc=$?
  if [ $rc -eq 137 ]; then
    mh_fail "$name: no exit within ${t}s under the shim (deadlock?): $(head -c 300 "$w/shim.out")"
    return
  fi
  if [ $rc -ne 0 ] || ! grep -qx ok "$w/shim.out"; then
    mh_fail "$name: rc $rc under the shim: $(head -c 400 "$w/shim.out") $(head -c 300 "$w/shim.err")"
  fi
  grep -q '^mmhint:' "$w/shim.err" && mh_fail "$name: the shim printed: $(grep -m1 '^mmhint:' "$w/shim.err")"
  mh_note "$name: plain: $(head -1 "$w/plain.out")"
  mh_note "$name: shim:  $(head -1 "$w/shim.out")"
}

# check_stats NAME NFILES_WANT PATH_PREFIX MIN_ENTRIES MIN_BYTES: the stats
# directory holds exactly NFILES_WANT valid files, all ended by exit; the
# parent's (the one with the most entries, then bytes) lists at least MIN_ENTRIES files
# under PATH_PREFIX, which were read for at least MIN_BYTES in total.
check_stats() {
  local out
  out=$("$MH_PYTHON" - "$MH_TMP/$1/stats" "$2" "$3" "$4" "$5" <<'EOF'
import glob, json, os, re, sys
d, want, prefix, min_entries, min_bytes = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
names = os.listdir(d)
files = [n for n in names if re.search(r"\.json(\.\d+)?$", n)]
errs = []
if len(files) != len(names):
    errs.append("leftover files in the stats directory: %s" % sorted(set(names) - set(files))[:3])
if len(files) != want:
    errs.append("%d stats files, want %d" % (len(files), want))
best = None
for n in files:
    try:
        doc = json.load(open(os.path.join(d, n)))
        assert doc["schema"] == "mmhint-stats/1"
    except Exception as e:
        errs.append("%s does not parse: %r" % (n, e))
        continue
    if doc["process"].get("end_reason") not in ("exit", "_exit"):
        errs.append("%s: end_reason %r" % (n, doc["process"].get("end_reason")))
    mine = [f for f in doc["files"] if any(p.startswith(prefix) for p in f.get("paths", []))]
    key = lambda m: (len(m), sum(f.get("bytes_read", 0) for f in m))
    if best is None or key(mine) > key(best):
        best = mine
best = best or []
nbytes = sum(f.get("bytes_read", 0) for f in best)
if len(best) < min_entries:
    errs.append("the main process lists %d files under %s, want >= %d" % (len(best), prefix, min_entries))
if nbytes < min_bytes:
    errs.append("bytes_read %d for files under %s, want >= %d" % (nbytes, prefix, min_bytes))
print("; ".join(errs) if errs else "OK %d stats files, %d entries, %d bytes read" % (len(files), len(best), nbytes))
EOF
)
  case $out in
    OK*) mh_note "$1: stats: $out" ;;
    *) mh_fail "$1: stats: $out" ;;
  esac
}

stress threads 120 threads "$F" "$THREADS" "$FORKS"
# The parent and every child (each calls _exit after reading) write a file.
check_stats threads $((FORKS + 1)) "$F" 1 $((MIB << 20))

stress alarm $((ALARM_S * 3 + 30)) alarm "$S" "$ALARM_S"
check_stats alarm 1 "$S" 1 $((1 << 20))

stress manyfiles 120 manyfiles DIR "$NFILES"
check_stats manyfiles 1 "$MH_TMP/manyfiles/swork/" "$NFILES" 1

mh_done
