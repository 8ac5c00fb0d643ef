#!/bin/bash
# Hardening, real programs under the most aggressive policy combination
# (AGGR: read_mmap=on for files of any size, advice=auto, drop_behind,
# THP for allocations from 64K, statistics on).  A corpus of real programs
# (coreutils cat head tail wc sort md5sum sha256sum cp od split, grep, sed,
# mawk, gzip, xz, zstd, tar, sqlite3, python3, perl, and git on a scratch
# repository) runs over files from empty to HARD_BIG_MB (default 50) MB,
# once without the shim and once under it.  For every case: stdout bytes,
# exit status, stderr (no "mmhint:" line allowed), and the files created in
# the working directory (names, types, modes, sizes, contents) must be
# identical; every stats file must parse as mmhint-stats/1, and a
# single-process case must write exactly one.
#
#   HARD_BIG_MB    size of the largest input (default 50)
#   HARD_FULL=1    run every program on the largest input too (ctest runs
#                  only the fast ones there; scripts/reliability sets it)
#   HARD_ENV       extra "VAR=value ..." for the shimmed runs (replaces
#                  nothing: appended after AGGR, so it can override it)
#   HARD_SUMMARY   file that receives "cases N failures N"
set -u
. "$(dirname "$0")/lib.sh"
mh_init hard_programs
mh_need_cmd cat head tail wc sort md5sum sha256sum cp od split grep sed mawk gzip xz zstd tar sqlite3 perl git
BIG_MB=${HARD_BIG_MB:-50}
FULL=${HARD_FULL:-0}
AGGR=(MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0 MMHINT_READ_MMAP_WRITABLE=1 MMHINT_ADVICE=auto MMHINT_DROP_BEHIND=1
  MMHINT_HUGEPAGES=thp MMHINT_HUGEPAGE_MIN=64K ${HARD_ENV:-})
export LC_ALL=C TZ=UTC
# git: no user configuration, fixed identities and dates.
export HOME=$MH_TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
  GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org GIT_AUTHOR_DATE='2024-01-01T00:00:00Z' \
  GIT_COMMITTER_DATE='2024-01-01T00:00:00Z'
mkdir -p "$HOME"

# Inputs on the real disk when it is ext4 (read->mmap behaves differently on tmpfs).
D=$MH_TMP
for d in /var/tmp /tmp; do
  if [ "$(stat -f -c %T "$d" 2>/dev/null)" = ext2/ext3 ]; then
    D=$(mktemp -d "$d/hard_programs.XXXXXX")
    trap 'chmod -R u+rwx "$MH_TMP" "$D" 2>/dev/null; rm -rf "$MH_TMP" "$D"' EXIT
    break
  fi
done
IN=$D/in
mkdir -p "$IN" "$D/cases"
: >"$IN/empty"
printf a >"$IN/one"
"$MH_PYTHON" - "$IN" "$BIG_MB" <<'EOF'
import os, random, sys
d, big_mb = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "mmap", "read", "page", "huge", "zeta", "omega", "ünïcode"]
def lines(n):
    return "".join("%07d %s\n" % (r.randint(0, 9999999), " ".join(r.choice(words) for _ in range(r.randint(0, 8)))) for _ in range(n))
with open(os.path.join(d, "k4"), "w") as f:          # 4096 bytes, last line unterminated
    f.write(lines(200).encode()[:4096].decode("utf-8", "ignore"))
with open(os.path.join(d, "text"), "w") as f:        # about 1.3 MB of lines
    f.write(lines(30000))
with open(os.path.join(d, "bin"), "wb") as f:        # 5 MiB, half random, half runs
    for i in range(80):
        f.write(os.urandom(32768) if i % 2 else bytes([i]) * 65536)
with open(os.path.join(d, "big"), "w") as f:         # big_mb MB of lines: a 1 MB block, varied
    block = lines(25000)
    for i in range(big_mb):
        f.write(block.replace("alpha", "a%04d" % i)[: 1 << 20])
EOF
gzip -c "$IN/text" >"$D/text.gz"
xz -T1 -c "$IN/bin" >"$D/bin.xz"
zstd -q -c "$IN/big" -o "$D/big.zst"
tar cf "$D/all.tar" -C "$IN" empty one k4 text bin

MANIFEST=$D/manifest
: >"$MANIFEST"
CASES=0

# hcase NAME KIND CMD...: KIND single (one process: exactly one stats file) or shell.
hcase() {
  local name=$1 kind=$2
  shift 2
  local w=$D/cases/$name
  mkdir -p "$w/p.cwd" "$w/s.cwd" "$w/stats"
  CASES=$((CASES + 1))
  (cd "$w/p.cwd" && mh_run "$w/p" "$@" </dev/null)
  (cd "$w/s.cwd" && MH_SHIM_ENV=("${AGGR[@]}" MMHINT_STATS="$w/stats/") && mh_run_shim "$w/s" "$@" </dev/null)
  mh_compare_runs "$name" "$w/p" "$w/s"
  local a b
  a=$(mh_tree_listing "$w/p.cwd" ! -path './repo/.git/index')
  b=$(mh_tree_listing "$w/s.cwd" ! -path './repo/.git/index')
  if [ "$a" != "$b" ]; then
    mh_fail "$name: the files it created differ"
    diff <(echo "$a") <(echo "$b") | head -6 | sed 's/^/    /'
  fi
  echo "$kind $name $w/stats" >>"$MANIFEST"
  # Keep only what a failure needs: big outputs go.
  rm -rf "$w/p.cwd" "$w/s.cwd"
  [ "$(stat -c %s "$w/p/out")" -gt 1000000 ] && cmp -s "$w/p/out" "$w/s/out" && rm -f "$w/p/out" "$w/s/out"
  return 0
}

# ---- Small and medium files: every program ------------------------------------------
all_programs() {
  local f=$1 F=$2
  hcase "cat.$f" single cat "$F"
  hcase "head.$f" single head -c 1000 "$F"
  hcase "head-n.$f" single head -n 3 "$F"
  hcase "tail.$f" single tail -n 5 "$F"
  hcase "tail-c.$f" single tail -c 70000 "$F"
  hcase "wc.$f" single wc "$F"
  hcase "sort.$f" single sort "$F"
  hcase "sort-u.$f" single sort -u -k2 "$F"
  hcase "md5sum.$f" single md5sum "$F"
  hcase "sha256sum.$f" single sha256sum "$F"
  hcase "cp.$f" single cp "$F" copy
  hcase "od.$f" shell bash -c 'od -A d -t x1 "$1" | tail -n 3' sh "$F"
  hcase "split.$f" single split -b 300000 "$F" part.
  hcase "grep.$f" single grep -c -a mmap "$F"
  hcase "grep-o.$f" shell bash -c 'grep -a -o "g[a-z]*a" "$1" | sort | uniq -c' sh "$F"
  hcase "sed.$f" single sed -e 's/a/<A>/g' -e '5d' "$F"
  hcase "mawk.$f" single mawk '{ n += length($0); w += NF; s[$2]++ } END { print NR, n, w, length(s) }' "$F"
  hcase "gzip.$f" single gzip -c "$F"
  hcase "gzip-roundtrip.$f" shell bash -c 'gzip -c "$1" >z.gz && gzip -dc z.gz | cmp - "$1" && gzip -l z.gz' sh "$F"
  hcase "xz.$f" single xz -T1 -c "$F"
  hcase "zstd.$f" single zstd -q -c "$F"
  hcase "zstd-roundtrip.$f" shell bash -c 'zstd -q "$1" -o z.zst && zstd -q -dc z.zst | cmp - "$1"' sh "$F"
  hcase "tar.$f" single tar cf t.tar -C "$(dirname "$F")" "$(basename "$F")"
  hcase "python.$f" single "$MH_PYTHON" -c '
import hashlib, mmap, os, sys
p = sys.argv[1]
d = open(p, "rb").read()
n = 0
with open(p, "rb") as f:
    for line in f: n += 1
m = hashlib.sha256()
with open(p, "rb", buffering=0) as f:
    while True:
        b = f.read(8191)
        if not b: break
        m.update(b)
if d:
    with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        assert mm[:] == d
print(len(d), n, m.hexdigest(), os.path.getsize(p))' "$F"
  hcase "perl.$f" single perl -ne '$n++; $b += length; $w += () = /\S+/g; END { print "$n $b $w\n" }' "$F"
  hcase "perl-slurp.$f" single perl -e 'local $/; open my $h, "<", $ARGV[0] or die; my $d = <$h>; print length($d), " ", ($d =~ tr/a//), "\n"' "$F"
}
for f in empty one k4 text bin; do
  all_programs "$f" "$IN/$f"
done

# ---- The largest file ---------------------------------------------------------------------
B=$IN/big
if [ "$FULL" = 1 ]; then
  all_programs big "$B"
else
  hcase cat.big single cat "$B"
  hcase head.big single head -c 100000 "$B"
  hcase tail.big single tail -n 100 "$B"
  hcase wc.big single wc "$B"
  hcase md5sum.big single md5sum "$B"
  hcase cp.big single cp "$B" copy
  hcase split.big single split -b 7M "$B" part.
  hcase grep.big single grep -c a0042 "$B"
  hcase zstd.big single zstd -q -1 -c "$B"
  hcase unzstd.big single zstd -q -dc "$D/big.zst"
  hcase python.big single "$MH_PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$B"
  hcase tail-c.big single tail -c 3000000 "$B"
fi

# ---- Archives, databases, a git repository --------------------------------------------------
hcase gunzip.text single gzip -dc "$D/text.gz"
hcase unxz.bin single xz -dc "$D/bin.xz"
hcase tar-t single tar tvf "$D/all.tar"
hcase tar-x single tar xf "$D/all.tar"
hcase tar-cz shell bash -c 'tar cf - -C "$1" . | gzip -1 >a.tgz && tar xzf a.tgz && ls -l | wc -l' sh "$IN"
hcase sqlite shell bash -c '
sqlite3 db "create table t(a integer primary key, b text, c blob); create index tb on t(b);
  with recursive n(x) as (select 1 union all select x + 1 from n where x < 30000)
  insert into t select x, printf(\"row %d\", x * 7919 % 30000), zeroblob(100) from n;" &&
sqlite3 db "select count(*), max(b), sum(length(c)) from t; select a from t where b = \"row 12345\";" &&
sqlite3 db "delete from t where a % 3 = 0; vacuum; pragma integrity_check; select count(*) from t;" &&
sqlite3 db .dump | sqlite3 db2 && sqlite3 db2 "select count(*) from t"'
hcase sqlite-import shell bash -c 'sqlite3 db ".import --csv \"$1\" t" 2>&1; sqlite3 db "select count(*) from t"' sh "$IN/k4"
hcase git shell bash -c '
set -e
git init -q -b main repo && cd repo
cp "$1" text && cp "$2" bin && printf "x\n" >small
git add . && git commit -q -m first
sed -i "s/beta/BETA/g" text && head -c 100000 "$2" >bin && git rm -q small
git add -A && git commit -q -m second
git log --stat --format="%H %s"
git diff HEAD~1 --stat
git diff HEAD~1 -- text | md5sum
git gc -q --aggressive
git count-objects -v | grep -v size
git fsck --full --strict 2>&1
git cat-file -p HEAD:bin | md5sum
git archive --format=tar HEAD | md5sum' sh "$IN/text" "$IN/bin"

# Failures fail the same way.
hcase fail-cat single cat "$D/missing"
hcase fail-gzip single gzip -dc "$IN/text"
hcase fail-xz single xz -dc "$IN/bin"
hcase fail-sqlite single sqlite3 "$IN/text" 'select 1 from t'
hcase fail-git shell bash -c 'git -C "$1" log' sh "$IN"

# ---- Stats files ------------------------------------------------------------------------
problems=$("$MH_PYTHON" - "$MANIFEST" <<'EOF'
import json, os, re, sys
bad, total = [], 0
for line in open(sys.argv[1]):
    kind, name, d = line.split()
    names = os.listdir(d)
    files = [n for n in names if re.search(r"\.json(\.\d+)?$", n)]
    if len(files) != len(names):
        bad.append("%s: stray files in the stats directory: %s" % (name, sorted(set(names) - set(files))))
    for n in files:
        total += 1
        try:
            doc = json.load(open(os.path.join(d, n)))
            assert doc["schema"] == "mmhint-stats/1" and isinstance(doc["files"], list)
            assert doc["process"]["end_reason"] in ("exit", "_exit", "exec"), doc["process"]["end_reason"]
        except Exception as e:
            bad.append("%s: %s: %r" % (name, n, e))
    if kind == "single" and len(files) != 1:
        bad.append("%s: %d stats files, want 1" % (name, len(files)))
    if kind == "shell" and not files:
        bad.append("%s: no stats file" % name)
print("\n".join(bad[:20]))
print("stats files checked: %d" % total, file=sys.stderr)
EOF
)
[ -z "$problems" ] || while read -r l; do mh_fail "stats: $l"; done <<<"$problems"
mh_note "$CASES cases, largest input ${BIG_MB} MB, full=$FULL"
[ -n "${HARD_SUMMARY:-}" ] && echo "cases $CASES failures $MH_FAILURES" >"$HARD_SUMMARY"
mh_done
