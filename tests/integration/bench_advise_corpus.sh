#!/bin/bash
# `mmhint advise` on real programs, small files (bench/advise_corpus.py
# --small): grep, wc, dd bs=4k, sha256sum, gzip -d, a python3 line loop,
# sqlite3 -readonly and read-write, tar x, sort, a cold grep and a cold sqlite3, each run once
# with statistics, advised, then `mmhint ab --plain-a --config-b`.  Asserts
# only what holds on a busy machine (--check): every proposed read_mmap
# converted bytes, none for the database opened read-write, no drop_behind
# for a cached file, and outputs identical.  The advised configs' speed is
# printed but not judged here: beside other tests, on files of a few MiB, the
# library's start-up and the neighbours' load decide it.  The speed claims
# (no advised config slower than plain) are checked by the full-size run,
# `scripts/bench --advise-corpus`, whose table is in BENCHMARKS.md.
set -u
. "$(dirname "$0")/lib.sh"
mh_init bench_advise_corpus
mh_need_cmd grep wc dd sha256sum gzip sqlite3 tar sort python3

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
t0=$(date +%s)
"$PY" "$MH_SRC/bench/advise_corpus.py" --small --no-singles --runs 5 --check --lib "$MH_LIB" \
    --dir "$MH_TMP/data" --json "$MH_TMP/corpus.json" >"$MH_TMP/corpus.out" 2>"$MH_TMP/corpus.err"
rc=$?
cat "$MH_TMP/corpus.out"
if [ "$rc" -ne 0 ]; then
  mh_fail "bench/advise_corpus.py --check failed (status $rc):"
  grep -a 'FAIL\|Traceback\|Error' "$MH_TMP/corpus.err" | tail -n 20
fi
rows=$(grep -c '^| ' "$MH_TMP/corpus.out")
mh_expect_eq "table rows (header and 12 programs)" "$rows" 13
# The read-write database never gets read_mmap; the read-only one does.
"$PY" - "$MH_TMP/corpus.json" <<'PYEOF' || mh_fail "advised settings of the sqlite3 rows"
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["rows"]}
assert not any(s.startswith("read_mmap") for s in rows["sqlite3 rw"]["settings"]), rows["sqlite3 rw"]["config"]
assert "read-write 1 times" in rows["sqlite3 rw"]["config"], rows["sqlite3 rw"]["config"]
assert "read_mmap=auto" in rows["sqlite3 -readonly"]["settings"], rows["sqlite3 -readonly"]["config"]
assert "read_mmap=auto" in rows["dd bs=4k"]["settings"], rows["dd bs=4k"]["config"]
assert rows["sha256sum"]["settings"] == [], rows["sha256sum"]["config"]
PYEOF
mh_note "bench/advise_corpus.py --small took $(( $(date +%s) - t0 )) s"
mh_done
