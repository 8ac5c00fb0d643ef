#!/bin/bash
# Smoke test of the benchmark suite: `scripts/bench --quick` must run every
# workload and write a BENCHMARKS-style file whose table parses: one row per
# workload, every ratio cell a number ("1.23×", optionally with its interval)
# or an explicit "skipped: reason", and the commit and command it came from;
# its commands name paths relative to the checkout and $DATA, not this machine's.
# It checks that the suite ran, NOT the ratios (speed is shown by benchmarks,
# not by timed tests).
set -u
. "$(dirname "$0")/lib.sh"
mh_init bench_quick
mh_need_cmd sqlite3 xz mawk perl od dd nocache cc

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
out=$MH_TMP/B.md
t0=$(date +%s)
MMHINT_BUILD_DIR=$MMHINT_BUILD_DIR "$PY" "$MH_SRC/scripts/bench" --quick --out "$out" --dir "$MH_TMP/data" \
    >"$MH_TMP/bench.out" 2>"$MH_TMP/bench.err"
rc=$?
if [ "$rc" -ne 0 ]; then
  mh_fail "scripts/bench --quick failed (status $rc):"
  tail -n 30 "$MH_TMP/bench.err"
fi
mh_note "scripts/bench --quick took $(( $(date +%s) - t0 )) s"
if [ ! -s "$out" ]; then
  mh_fail "no output file $out"
  mh_done
fi

"$PY" - "$out" "$(cd "$MH_SRC" && pwd -P)" "$MH_TMP/data" <<'PYEOF' || mh_fail "the output does not parse (see above)"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
bad = []
for key in ("- Machine:", "- Date:", "- Commit:", "- Command: `scripts/bench --quick", "## Reading"):
    if key not in text:
        bad.append("missing %r" % key)
rows = [l for l in text.splitlines() if l.startswith("| ") and not l.startswith("| #")]
want = ["1a", "1b", "1c", "1d", "1e", "2", "2b", "2c", "3a", "3b", "3c", "3d", "3e", "3i", "3k", "3l", "3j", "3f", "3g", "3h", "4", "5a", "5b", "5c", "5d", "5e", "6a", "6b", "6c", "7", "8a", "8c", "8b", "9", "10"]
got = []
num = re.compile(r"^\d+\.\d+× \(\d+\.\d+–\d+\.\d+\)$|^\d+\.\d+×$")
for l in rows:
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", l)[1:-1]]
    if len(cells) != 9:
        bad.append("row with %d cells, not 9: %s" % (len(cells), l[:80]))
        continue
    got.append(cells[0])
    for c in cells[6:8]:
        if not (num.match(c) or re.match(r"^skipped: \S", c)):
            bad.append("row %s: ratio cell %r is neither a number nor 'skipped: reason'" % (cells[0], c))
        if c.startswith("skipped: failed"):
            bad.append("row %s failed: %s" % (cells[0], c))
if got != want:
    bad.append("rows %s, expected one per workload %s" % (got, want))
# The commands are written without this machine's paths (the checkout, the data directory).
commands = text.split("Commands run", 1)[-1]
for path in sys.argv[2:]:
    if path in commands:
        bad.append("the commands name this machine's path %s" % path)
if "DATA=" not in commands:
    bad.append("the commands do not say what $DATA is")
for b in bad:
    print("bench_quick: " + b)
sys.exit(1 if bad else 0)
PYEOF
mh_done
