#!/bin/bash
# Access hints end to end, on unmodified programs:
#  - drop_behind: `cat` of a cold file leaves (almost) none of it cached, while
#    a file that was cached before stays cached; plain cat caches all of it
#    (the control that shows the check can fail).
#  - mmap_advice=random: a program that maps a cold file and reads random
#    pages reads about what it asked from storage; plain reads many times more.
#  - advice=auto on a sequential reader records the sequential pattern.
# Needs ext4 (or any disk filesystem) under TMPDIR, fincore (util-linux).
set -u
. "$(dirname "$0")/lib.sh"
mh_init hints_e2e
command -v fincore >/dev/null || mh_skip "fincore (util-linux) is missing"
case "$(stat -f -c %T "$MH_TMP")" in tmpfs|ramfs) mh_skip "TMPDIR is $(stat -f -c %T "$MH_TMP"): page-cache effects need a disk filesystem";; esac
EX="$MMHINT_BUILD_DIR/examples"
F="$MH_TMP/stream.bin"; G="$MH_TMP/other.bin"; M="$MH_TMP/mapped.bin"
head -c $((64 << 20)) /dev/urandom > "$F"
head -c $((8 << 20)) /dev/urandom > "$G"
"$EX/madvise_patterns" --make "$M" 128M >/dev/null
sync

cached() { fincore --bytes --noheadings --output RES "$1" | tr -d ' '; }
cold() { dd if="$1" iflag=nocache count=0 status=none; }

# Control: plain cat caches the whole file.
cold "$F"; cat "$G" > /dev/null
cat "$F" > /dev/null
plain=$(cached "$F")
[ "$plain" -ge $((60 << 20)) ] || mh_skip "plain cat left only $plain bytes cached: this filesystem does not cache as expected"

# drop_behind: what cat brought in is released; the other file survives.
cold "$F"; cat "$G" > /dev/null
g_before=$(cached "$G")
MH_SHIM_ENV=(MMHINT_DROP_BEHIND=1 MMHINT_STATS="$MH_TMP/st-drop/")
mkdir -p "$MH_TMP/st-drop"
# Through a shell so that cat writes to /dev/null with read(): into a regular file it would copy_file_range.
mh_run_shim "$MH_TMP/r-drop" sh -c 'cat "$1" > /dev/null' sh "$F"
after=$(cached "$F"); g_after=$(cached "$G")
[ "$after" -le $((8 << 20)) ] || mh_fail "drop_behind: $after bytes of the streamed file still cached (plain: $plain)"
[ "$g_after" -eq "$g_before" ] || mh_fail "drop_behind: the other file lost cache ($g_before -> $g_after bytes)"
dropped=$(mh_json $(ls "$MH_TMP"/st-drop/cat.*.json) "sum(f.get('hints',{}).get('dropped_bytes',0) for f in d['files'])")
[ "$dropped" -ge $((56 << 20)) ] || mh_fail "drop_behind: stats report $dropped bytes dropped"

# mmap_advice=random: read_bytes close to the bytes asked.
ratio() { sed -n 's/.* io_ratio=\([0-9.]*\).*/\1/p' "$1"; }
"$EX/madvise_patterns" random "$M" --count 2000 --cold > "$MH_TMP/plain-rand.out"
MH_SHIM_ENV=(MMHINT_MMAP_ADVICE=random MMHINT_STATS="$MH_TMP/st-rand/")
mkdir -p "$MH_TMP/st-rand"
mh_run_shim "$MH_TMP/r-rand" "$EX/madvise_patterns" random "$M" --count 2000 --cold
p=$(ratio "$MH_TMP/plain-rand.out"); s=$(ratio "$MH_TMP/r-rand/out")
[ -n "$p" ] && [ -n "$s" ] || mh_fail "madvise_patterns printed no io_ratio"
awk -v p="$p" -v s="$s" 'BEGIN { exit !(s <= 1.1 && p > 2) }' ||
  mh_fail "mmap_advice=random: io_ratio $s under the shim (want <= 1.1), plain $p (want > 2)"
madv=$(mh_json $(ls "$MH_TMP"/st-rand/madvise_patterns.*.json) "sum(f.get('hints',{}).get('madvise_calls',0) for f in d['files'])")
[ "$madv" -ge 1 ] || mh_fail "mmap_advice=random: no madvise recorded in the stats"

# advice=auto on a sequential reader: the pattern is recorded as sequential.
MH_SHIM_ENV=(MMHINT_ADVICE=auto MMHINT_STATS="$MH_TMP/st-auto/")
mkdir -p "$MH_TMP/st-auto"
mh_run_shim "$MH_TMP/r-auto" "$EX/fileread" read "$F" 64K
pat=$(mh_json $(ls "$MH_TMP"/st-auto/fileread.*.json) "[f['hints']['pattern'] for f in d['files'] if f['paths'] and f['paths'][0].endswith('stream.bin')][0]")
[ "$pat" = sequential ] || mh_fail "advice=auto: pattern '$pat' for a sequential reader"

mh_done
