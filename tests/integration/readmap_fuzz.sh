#!/bin/bash
# tests/integration/readmap_fuzz.sh: the differential fuzzer of read->mmap.
#
# Runs tests/programs/rm_fuzz for many seeds, each once without the shim and
# once under it with read_mmap=on (every eligible read converted, files of
# any size, read-write descriptions too), and compares the transcripts byte for byte: return values,
# errno, offsets (the shim's answer and, after fork/spawn/fdopen/sendfile,
# the kernel's own), data checksums.  Odd seeds run with statistics on,
# even seeds with them off; seeds 2 and 3 modulo 4 run with an idle second
# thread in the program (the multi-threaded paths, with locks).  The files live on the real disk (ext4
# here), not tmpfs, whose truncation behaviour differs.
#
#   RM_FUZZ_SEEDS   how many seeds (default 300)
#   RM_FUZZ_FIRST   first seed (default 1)
#   RM_FUZZ_OPS     operations per seed (default 200)
source "$(dirname "$0")/lib.sh"
mh_init readmap_fuzz

FUZZ=$MMHINT_BUILD_DIR/tests/programs/rm_fuzz
[ -x "$FUZZ" ] || { mh_fail "missing $FUZZ (build the project first)"; mh_done; }
SEEDS=${RM_FUZZ_SEEDS:-300}
FIRST=${RM_FUZZ_FIRST:-1}
OPS=${RM_FUZZ_OPS:-200}

# Files on a disk filesystem: /var/tmp, else /tmp, whichever is not tmpfs.
BASE=
for d in /var/tmp /tmp; do
  if [ "$(df -T "$d" 2>/dev/null | awk 'NR==2 {print $2}')" != tmpfs ]; then BASE=$d; break; fi
done
[ -n "$BASE" ] || mh_skip "no disk-backed temp directory (both /var/tmp and /tmp are tmpfs)"
WORK=$(mktemp -d "$BASE/mmhint-rmfuzz.XXXXXX") || exit 1
trap 'rm -rf "$WORK"; chmod -R u+rwx "$MH_TMP" 2>/dev/null; rm -rf "$MH_TMP"' EXIT
mh_note "files on $(df -T "$WORK" | awk 'NR==2 {print $2}') ($WORK)"

ran=0
bad=0
converted=0
with_stats=0
for ((seed = FIRST; seed < FIRST + SEEDS; seed++)); do
  mkdir -p "$WORK/a" "$WORK/b" "$WORK/s"
  export RM_FUZZ_THREAD=$(((seed / 2) % 2))
  (cd "$WORK/a" && "$FUZZ" "$seed" "$WORK/a" "$OPS" >"$WORK/plain.txt" 2>&1)
  stats=
  [ $((seed % 2)) -eq 1 ] && stats=$WORK/s/
  (cd "$WORK/b" && env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 \
      MMHINT_STATS="$stats" "$FUZZ" "$seed" "$WORK/b" "$OPS" >"$WORK/shim.txt" 2>&1)
  # The two runs name their own directory; make the transcripts comparable.
  sed -i "s#$WORK/b#DIR#g" "$WORK/shim.txt"
  sed -i "s#$WORK/a#DIR#g" "$WORK/plain.txt"
  ran=$((ran + 1))
  if ! cmp -s "$WORK/plain.txt" "$WORK/shim.txt"; then
    bad=$((bad + 1))
    if [ $bad -le 3 ]; then
      mh_fail "seed $seed: transcripts differ (first differences below)"
      diff "$WORK/plain.txt" "$WORK/shim.txt" | head -20
    fi
  fi
  # Count seeds in which the shim really converted reads (the test must exercise it).
  if [ -n "$stats" ]; then
    with_stats=$((with_stats + 1))
    if grep -qs '"converted_reads": *[1-9]' "$WORK"/s/rm_fuzz.*.json; then converted=$((converted + 1)); fi
  fi
  rm -rf "$WORK/a" "$WORK/b" "$WORK/s"
done
echo "readmap_fuzz: $ran seeds ran ($OPS operations each), $bad differed, reads converted in $converted of the $with_stats with statistics"
[ $bad -eq 0 ] || mh_fail "$bad of $ran seeds differ"
[ $converted -ge $((with_stats * 9 / 10)) ] || mh_fail "reads were converted in only $converted of $with_stats seeds"
mh_done
