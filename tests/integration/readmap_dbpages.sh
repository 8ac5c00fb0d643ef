#!/bin/bash
# tests/integration/readmap_dbpages.sh: read->mmap converts a database's reads
# (docs/READMAP.md, "Files that change").  Database pages legitimately end in
# zero bytes; a converted copy that ends in a zero byte could also be the
# zeros of a page another process truncated the file into, and before the
# page probe each such copy cost an fstat and 64 of them stopped conversion
# (`zero_tail`), so a database was never converted.
#
#  1. 8 KiB pages that end in zeros, read at random with pread under
#     read_mmap=on: the same bytes as a plain run, nearly every read converted,
#     zero_tail 0, and (strace) no fstat per read.
#  2. Another process truncates the file to 100 bytes into the second half
#     of a page in the middle: the next pread of that page is short (4196
#     bytes) and the one after it 0, as in a plain run, never the zeros.
source "$(dirname "$0")/lib.sh"
mh_init readmap_dbpages
P=$MMHINT_BUILD_DIR/tests/programs/rm_dbpages
[ -x "$P" ] || { mh_fail "missing $P"; mh_done; }
BASE=
for d in /var/tmp /tmp; do
  if [ "$(df -T "$d" 2>/dev/null | awk 'NR==2 {print $2}')" != tmpfs ]; then BASE=$d; break; fi
done
[ -n "$BASE" ] || mh_skip "no disk-backed temp directory"
W=$(mktemp -d "$BASE/mmhint-rmdb.XXXXXX") || exit 1
trap 'rm -rf "$W"; rm -rf "$MH_TMP"' EXIT
shim() { env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= MMHINT_READ_MMAP=on "$@"; }
mkdb() { # 2048 pages of 8 KiB: 7936 random bytes, then 256 zero bytes
  python3 -c "
import random
r = random.Random(5)
with open('$1', 'wb') as f:
    for i in range(2048):
        f.write(r.randbytes(7936).replace(b'\\0', b'\\1') + bytes(256))
"
}

# ---- 1. zero-ended pages convert ---------------------------------------------------
mkdb "$W/db"
want=$("$P" "$W/db" 3)
mkdir -p "$W/st"
got=$(MMHINT_STATS="$W/st/" shim "$P" "$W/db" 3)
mh_expect_eq "pread of zero-ended pages: same bytes" "$got" "$want"
st=$(ls "$W"/st/rm_dbpages.*.json 2>/dev/null | head -1)
if [ -z "$st" ]; then
  mh_fail "no statistics file"
else
  reads=${want#reads=}; reads=${reads%% *}
  conv=$(mh_counter "$st" "$W/db" converted_reads)
  zt=$(mh_json "$st" "[f for f in d['files'] if any(p.endswith('/db') for p in f['paths'])][0].get('fallbacks', {}).get('zero_tail', 0)")
  mh_note "reads=$reads converted_reads=$conv zero_tail=$zt"
  [ "$conv" != MISSING ] && [ "$conv" -ge $((reads * 99 / 100)) ] ||
    mh_fail "converted_reads $conv of $reads reads (want >= 99%)"
  mh_expect_eq "zero_tail fallbacks" "$zt" 0
fi
if command -v strace >/dev/null; then
  shim strace -f -qq -e trace=fstat,newfstatat,statx -o "$W/strace" "$P" "$W/db" 3 >/dev/null
  n=$(grep -c . "$W/strace")
  mh_note "size checks under strace: $n for $reads reads"
  [ "$n" -lt 100 ] || mh_fail "$n fstat/statx calls for $reads reads (a size check per read?)"
fi

# ---- 2. a truncation into a middle page by another process ----------------------------
mkdb "$W/db"
want=$("$P" "$W/db" 1 1000)
mkdb "$W/db"
got=$(shim "$P" "$W/db" 1 1000)
mh_expect_eq "truncated into page 1000 by another process" "$got" "$want"
case "$want" in *"page 1000: 4196 bytes"*"page 1001: 0 bytes"*) ;; *) mh_fail "plain run: unexpected $want" ;; esac
mh_done
