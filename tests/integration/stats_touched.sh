#!/bin/bash
# The statistics' "touched" map (policy/cov.h, docs/STATS.md) on a real run:
#  - a program that reads a few known ranges of a 16 MiB file (pread, and
#    lseek + read) gets exactly those ranges, rounded out to the 4 KiB
#    granule, merged, the last one ending at the file's size;
#  - the same with read_mmap=on (reads served from the shim's mapping);
#  - pages the program touched through its own mapping (unmapped before
#    exit, and left mapped at exit) are in the map, marked from_mappings;
#  - a file below 1 MiB and a run with stats_touched=0 have no map;
#  - `mmhint advise --out` on the statistics of a random reader of a cold
#    file writes a config with prefetch = learned and a prefetch map that the
#    library's parser (policy/pmap.c, in pmap_check) accepts, with the same
#    ranges.
# Behaviour only: nothing here is timed.
set -u
. "$(dirname "$0")/lib.sh"
mh_init stats_touched
P="$MMHINT_BUILD_DIR/tests/programs"
[ -x "$P/cov_reader" ] && [ -x "$P/pmap_check" ] || mh_skip "cov_reader or pmap_check is not built"
MMHINT="$MH_SRC/scripts/mmhint"
F="$MH_TMP/data16"
head -c $((16 << 20)) /dev/urandom >"$F"
head -c $((512 << 10)) /dev/urandom >"$MH_TMP/small"
OPS="p:0:100 p:5000000:10000 r:8388608:65536 p:16777000:216 p:4096:4096 p:12288:1"
# 0..100 -> [0,4096); 5000000..5010000 -> [4997120,5013504); 8 MiB + 64 KiB;
# the last 216 bytes -> [16773120, 16777216); 4096..8192 joins the first; 12288 alone.
WANT='[[0, 8192], [12288, 4096], [4997120, 16384], [8388608, 65536], [16773120, 4096]]'

# touched STATS_DIR FILE: the file's "touched" object as JSON, or "none".
touched() {
  python3 - "$1" "$2" <<'EOF'
import glob, json, os, sys
for s in glob.glob(os.path.join(sys.argv[1], "*.json")):
    for f in json.load(open(s))["files"]:
        if os.path.realpath(sys.argv[2]) in [os.path.realpath(p) for p in f["paths"]]:
            print(json.dumps(f.get("touched", "none")))
            sys.exit()
print('"no record"')
EOF
}
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v.get(sys.argv[2]) if isinstance(v, dict) else v))' "$1" "$2"; }

for mode in plain read_mmap; do
  rm -rf "$MH_TMP/st-$mode"
  mkdir -p "$MH_TMP/st-$mode"
  MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/st-$mode/")
  [ $mode = read_mmap ] && MH_SHIM_ENV+=(MMHINT_READ_MMAP=on)
  mh_run_shim "$MH_TMP/r-$mode" "$P/cov_reader" "$F" $OPS
  [ "$(cat "$MH_TMP/r-$mode/rc")" = 0 ] || mh_fail "$mode: cov_reader failed: $(cat "$MH_TMP/r-$mode/err")"
  t=$(touched "$MH_TMP/st-$mode" "$F")
  mh_expect_eq "$mode: touched ranges" "$(field "$t" ranges)" "$WANT"
  mh_expect_eq "$mode: granule" "$(field "$t" granule)" 4096
  mh_expect_eq "$mode: size" "$(field "$t" size)" $((16 << 20))
  mh_expect_eq "$mode: bytes" "$(field "$t" bytes)" $((8192 + 4096 + 16384 + 65536 + 4096))
  mh_expect_eq "$mode: from_mappings" "$(field "$t" from_mappings)" false
  if [ $mode = read_mmap ]; then
    conv=$(python3 -c 'import glob,json,sys; print(sum(f.get("converted_reads",0) for s in glob.glob(sys.argv[1]+"/*.json") for f in json.load(open(s))["files"]))' "$MH_TMP/st-$mode")
    [ "$conv" -gt 0 ] || mh_fail "read_mmap: no read was converted ($conv): the test does not cover the mapping path"
  fi
done

# The program's own mappings: 64 KiB at 2 MiB, unmapped before exit; 8 KiB at
# 12 MiB, still mapped at exit.  The kernel maps more than the pages touched
# (fault-around, large folios), so each range must lie inside the map and
# nothing may be marked below 2 MiB.
rm -rf "$MH_TMP/st-map"; mkdir -p "$MH_TMP/st-map"
MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/st-map/")
mh_run_shim "$MH_TMP/r-map" "$P/cov_reader" "$F" m:2097152:65536 M:12582912:8192
t=$(touched "$MH_TMP/st-map" "$F")
python3 - "$t" <<'EOF' || mh_fail "mappings: $t"
import json, sys
t = json.loads(sys.argv[1])
r = t["ranges"]
def inside(off, n):
    return any(a <= off and off + n <= a + l for a, l in r)
assert t["from_mappings"] is True, "from_mappings"
assert inside(2097152, 65536), "the unmapped mapping's pages"
assert inside(12582912, 8192), "the pages of the mapping left at exit"
assert r[0][0] >= 2097152 - 2097152 % (2 << 20), "marked below the touched pages"
EOF

# No map below 1 MiB, nor with stats_touched=0.
rm -rf "$MH_TMP/st-small"; mkdir -p "$MH_TMP/st-small"
MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/st-small/")
mh_run_shim "$MH_TMP/r-small" "$P/cov_reader" "$MH_TMP/small" p:0:4096
mh_expect_eq "small file" "$(touched "$MH_TMP/st-small" "$MH_TMP/small")" '"none"'
rm -rf "$MH_TMP/st-off"; mkdir -p "$MH_TMP/st-off"
MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/st-off/" MMHINT_STATS_TOUCHED=0)
mh_run_shim "$MH_TMP/r-off" "$P/cov_reader" "$F" $OPS
mh_expect_eq "stats_touched=0" "$(touched "$MH_TMP/st-off" "$F")" '"none"'
grep -q '^mmhint:' "$MH_TMP/r-off/err" && mh_fail "stats_touched=0 printed: $(head -1 "$MH_TMP/r-off/err")"

# advise: a random reader of a cold file (64 preads spread over the file,
# from a cold page cache where the kernel lets us drop the file's pages).
# advise runs with --min-read-time 0: whether 64 cold reads take more than
# the default 4 ms depends on the disk and the load, not on what is tested here.
G="$MH_TMP/db16"
head -c $((16 << 20)) /dev/urandom >"$G"
sync "$G" 2>/dev/null
dd if="$G" iflag=nocache count=0 status=none 2>/dev/null
ROPS=()
for i in $(seq 0 63); do ROPS+=("p:$(( (i * 2654435761 % 4096) * 4096 )):4096"); done
rm -rf "$MH_TMP/st-adv"; mkdir -p "$MH_TMP/st-adv"
MH_SHIM_ENV=(MMHINT_STATS="$MH_TMP/st-adv/")
mh_run_shim "$MH_TMP/r-adv" "$P/cov_reader" "$G" "${ROPS[@]}"
resident=$(python3 -c 'import glob,json,sys; f=[f for s in glob.glob(sys.argv[1]+"/*.json") for f in json.load(open(s))["files"] if f["paths"]==[sys.argv[2]]][0]; r=f["residency_at_open"]; print(int(100*r["resident"]/r["pages"]))' "$MH_TMP/st-adv" "$G")
if [ "$resident" -gt 10 ]; then
  mh_note "the file stayed ${resident}% cached after dropping its pages: advise's cold-file rule cannot be checked here"
else
  env -u LD_PRELOAD python3 "$MMHINT" advise --min-read-time 0 --out "$MH_TMP/adv.conf" "$MH_TMP/st-adv" >"$MH_TMP/adv.out" 2>"$MH_TMP/adv.err" ||
    mh_fail "advise failed: $(cat "$MH_TMP/adv.err")"
  grep -qx 'prefetch = learned' "$MH_TMP/adv.conf" || mh_fail "advise proposed no prefetch = learned: $(grep -m1 'learned\|touched' "$MH_TMP/adv.conf")"
  grep -qx "prefetch_map = $MH_TMP/adv.conf.pmap" "$MH_TMP/adv.conf" || mh_fail "advise's prefetch_map is not $MH_TMP/adv.conf.pmap"
  out=$("$P/pmap_check" "$MH_TMP/adv.conf.pmap" "$G" $((16 << 20)) 0) || mh_fail "the library's parser refused advise's map: $out"
  # The map's ranges are the statistics' ranges.
  t=$(touched "$MH_TMP/st-adv" "$G")
  want=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1])["ranges"]; print("found %d %d" % (len(r), sum(n for _, n in r))); [print(a, n) for a, n in r]' "$t")
  mh_expect_eq "advise's map read back" "$(echo "$out" | tail -n +2)" "$want"
  stale=$("$P/pmap_check" "$MH_TMP/adv.conf.pmap" "$G" $(( (16 << 20) + 1 )))
  mh_expect_eq "a changed size is stale" "$(echo "$stale" | tail -1)" stale
fi

mh_done
