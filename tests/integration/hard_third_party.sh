#!/bin/bash
# Hardening, a test suite we did not write: CPython's own regression tests
# (Debian package libpython3.11-testsuite, /usr/lib/python3.11/test), run
# with `python3 -m test -j2 --junit-xml` once without the shim and once under
# the most aggressive policies (AGGR: read_mmap=on for every file, read-write too,
# advice=auto, drop_behind, THP for allocations from 64K, statistics on).
# Every test case (per unittest method, from the JUnit XML) that passes
# without the shim must pass under it; the case counts must match; every
# stats file the run left must parse.  Cases that fail without the shim are
# reported, not counted against the shim.
#
#   HARD_PY_MODULES  the test modules (default: a short I/O-heavy subset;
#                    scripts/reliability passes a long list)
#   HARD_SUMMARY     file that receives the per-run counts
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_third_party
PY=/usr/bin/python3
[ -x $PY ] || mh_skip "/usr/bin/python3 is missing"
PYVER=$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ -f /usr/lib/python$PYVER/test/test_fileio.py ] ||
  mh_skip "CPython's test suite is not installed (apt-get install libpython$PYVER-testsuite)"
MODULES=${HARD_PY_MODULES:-"test_fileio test_mmap test_csv test_json test_glob test_gzip test_tempfile test_shutil test_bz2 test_lzma test_tarfile test_zipfile test_fileinput test_filecmp test_linecache"}
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K)
D=$MH_TMP
# On the real disk when it is ext4: the suites make their temp files in the cwd.
for d in /var/tmp /tmp; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ]; then
    D=$(mktemp -d "$d/hard_third_party.XXXXXX")
    trap 'chmod -R u+rwx "$MH_TMP" "$D" 2>/dev/null; rm -rf "$MH_TMP" "$D"' EXIT
    break
  fi
done
mkdir -p "$D/plain" "$D/shim" "$D/stats"
# shellcheck disable=SC2086
(cd "$D/plain" && timeout 1500 env -u LD_PRELOAD $PY -m test -j2 --junit-xml "$D/plain.xml" $MODULES >"$D/plain.log" 2>&1)
echo $? >"$D/plain.rc"
(cd "$D/shim" && timeout 1500 env LD_PRELOAD="$MH_LIB" MMHINT_CONFIG= "${AGGR[@]}" MMHINT_STATS="$D/stats/" \
  $PY -m test -j2 --junit-xml "$D/shim.xml" $MODULES >"$D/shim.log" 2>&1)
echo $? >"$D/shim.rc"

report=$("$MH_PYTHON" - "$D/plain.xml" "$D/shim.xml" "$D/stats" <<'EOF'
import json, os, re, sys
import xml.etree.ElementTree as ET
def results(path):
    r = {}
    try:
        root = ET.parse(path).getroot()
    except Exception as e:
        return None
    for tc in root.iter("testcase"):
        name = tc.get("name")
        kids = {c.tag for c in tc}
        if "error" in kids or "failure" in kids:
            st = "fail"
        elif "skipped" in kids:
            st = "skip"
        else:
            st = "pass"
        r[name] = st
    return r
p, s = results(sys.argv[1]), results(sys.argv[2])
if p is None or s is None:
    print("ERROR no JUnit XML (%s)" % ("plain" if p is None else "shim"))
    sys.exit()
def counts(r):
    c = {"pass": 0, "fail": 0, "skip": 0}
    for v in r.values(): c[v] += 1
    return c
cp, cs = counts(p), counts(s)
lost = sorted(n for n, v in p.items() if v == "pass" and s.get(n) != "pass")
gained = sorted(n for n, v in s.items() if v == "pass" and p.get(n) != "pass")
plain_fail = sorted(n for n, v in p.items() if v == "fail")
d = sys.argv[3]
nstats, badstats = 0, []
for n in os.listdir(d):
    if not re.search(r"\.json(\.\d+)?$", n):
        badstats.append(n)
        continue
    nstats += 1
    try:
        assert json.load(open(os.path.join(d, n)))["schema"] == "mmhint-stats/1"
    except Exception as e:
        badstats.append("%s (%r)" % (n, e))
print("COUNTS plain cases %d pass %d fail %d skip %d; shim cases %d pass %d fail %d skip %d; stats files %d" % (
    len(p), cp["pass"], cp["fail"], cp["skip"], len(s), cs["pass"], cs["fail"], cs["skip"], nstats))
for n in lost: print("LOST " + n)
for n in gained: print("GAINED " + n)
for n in plain_fail[:20]: print("PLAINFAIL " + n)
for n in badstats[:10]: print("BADSTATS " + n)
if len(p) != len(s): print("NCASES %d %d" % (len(p), len(s)))
EOF
)
counts=$(grep '^COUNTS' <<<"$report" | sed 's/^COUNTS //')
if grep -q '^ERROR' <<<"$report"; then
  mh_fail "$(grep '^ERROR' <<<"$report"); tails: $(tail -3 "$D/plain.log" "$D/shim.log")"
else
  mh_note "modules: $MODULES"
  mh_note "$counts"
  mh_note "exit status without the shim $(cat "$D/plain.rc"), with it $(cat "$D/shim.rc")"
  while read -r l; do [ -n "$l" ] && mh_fail "passes without the shim, not under it: ${l#LOST }"; done < <(grep '^LOST' <<<"$report")
  while read -r l; do [ -n "$l" ] && mh_note "passes only under the shim (flaky?): ${l#GAINED }"; done < <(grep '^GAINED' <<<"$report")
  while read -r l; do [ -n "$l" ] && mh_note "fails without the shim too: ${l#PLAINFAIL }"; done < <(grep '^PLAINFAIL' <<<"$report")
  while read -r l; do [ -n "$l" ] && mh_fail "stats: ${l#BADSTATS }"; done < <(grep '^BADSTATS' <<<"$report")
  grep -q '^NCASES' <<<"$report" && mh_fail "different numbers of test cases: $(grep '^NCASES' <<<"$report")"
  [ "$(cat "$D/plain.rc")" = "$(cat "$D/shim.rc")" ] || mh_fail "exit status $(cat "$D/plain.rc") without the shim, $(cat "$D/shim.rc") with it"
  # Tests that drop privileges (setuid to an unprivileged user) cannot write
  # their statistics into the root-owned directory: that one line is the
  # documented answer to an unwritable stats path, and the only one allowed.
  # (Said at start-up when the process already runs unprivileged, at exit when it dropped them later.)
  denied='^mmhint: statistics not written to .*: permission denied|^mmhint: statistics will not be written: directory .* is missing or not writable'
  unexpected=$(grep '^mmhint:' "$D/shim.log" | grep -Ev "$denied")
  [ -n "$unexpected" ] && mh_fail "the shim printed: $(head -1 <<<"$unexpected")"
  n_denied=$(grep -Ec "$denied" "$D/shim.log")
  [ "$n_denied" -gt 0 ] && mh_note "processes that dropped privileges could not write their statistics: $n_denied"
  case $counts in *"pass 0 "*) mh_fail "no test passed: $(tail -3 "$D/plain.log")" ;; esac
fi
[ -n "${HARD_SUMMARY:-}" ] && { echo "python $PYVER modules: $MODULES"; echo "$counts"; echo "failures $MH_FAILURES"; grep -E '^(LOST|GAINED|PLAINFAIL)' <<<"$report"; } >"$HARD_SUMMARY"
mh_done
