#!/bin/bash
# tests/integration/readmap_read_sizes.sh: under read_mmap=on, reads larger
# than 1 MiB go to the kernel (fallback `on_large_read`: a copy out of a fresh
# mapping loses to read() there, docs/READMAP.md "Read sizes"), while smaller
# reads on the same description go on converting.
#
#  1. 2 MiB reads of a 16 MiB file: the same bytes as a plain run, none
#     converted, every one counted on_large_read.
#  2. 64 KiB reads: all converted, no on_large_read.
# The decision itself: ReadmapDecisions.OnSendsReadsAboveOneMiBToTheKernel.
source "$(dirname "$0")/lib.sh"
mh_init readmap_read_sizes
FR=$MMHINT_BUILD_DIR/examples/fileread
[ -x "$FR" ] || { mh_fail "missing $FR"; mh_done; }
BASE=
for d in /var/tmp /tmp; do
  if [ "$(df -T "$d" 2>/dev/null | awk 'NR==2 {print $2}')" != tmpfs ]; then BASE=$d; break; fi
done
[ -n "$BASE" ] || mh_skip "no disk-backed temp directory"
W=$(mktemp -d "$BASE/mmhint-rmsz.XXXXXX") || exit 1
trap 'rm -rf "$W"; rm -rf "$MH_TMP"' EXIT
head -c $((16 << 20)) /dev/urandom >"$W/f"
shim() { env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_READ_MMAP=on "$@"; }
sum() { sed -n 's/.*\(checksum=[0-9a-fx]*\).*/\1/p'; }
fb() { mh_json "$1" "[f for f in d['files'] if any(p.endswith('/f') for p in f['paths'])][0].get('fallbacks', {}).get('on_large_read', 0)"; }

want=$("$FR" read "$W/f" 2M | sum)
got=$(MMHINT_STATS="$W/a.json" shim "$FR" read "$W/f" 2M | sum)
mh_expect_eq "2 MiB reads: same bytes" "$got" "$want"
mh_expect_eq "2 MiB reads: converted_reads" "$(mh_counter "$W/a.json" "$W/f" converted_reads)" 0
n=$(fb "$W/a.json")
mh_note "2 MiB reads: on_large_read=$n"
[ "$n" -ge 8 ] 2>/dev/null || mh_fail "2 MiB reads: on_large_read $n, want >= 8"

want=$("$FR" read "$W/f" 64K | sum)
got=$(MMHINT_STATS="$W/b.json" shim "$FR" read "$W/f" 64K | sum)
mh_expect_eq "64 KiB reads: same bytes" "$got" "$want"
c=$(mh_counter "$W/b.json" "$W/f" converted_reads)
[ "$c" -ge 256 ] 2>/dev/null || mh_fail "64 KiB reads: converted_reads $c, want >= 256"
mh_expect_eq "64 KiB reads: on_large_read" "$(fb "$W/b.json")" 0
mh_done
