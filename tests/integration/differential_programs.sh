#!/bin/bash
# Invisible unless asked (DESIGN invariant 1): a corpus of real programs runs
# over generated files (empty, 1 byte, 4 KiB, ~1 MB text, ~5 MB binary) once
# without the shim and once under it with statistics on (MMHINT_STATS=DIR/).
# For every case: stdout bytes, exit status, stderr (exactly; and no line
# starting "mmhint:" at all), and the files the program created in its working
# directory (names, types, modes, sizes, contents) must be identical.
# Failing commands (a missing file, grep without a match) must fail the same
# way.  Every stats file written must parse as mmhint-stats/1 JSON, and each
# process that called exit must have written exactly one:
#   - a single program (no shell) writes exactly one file, whose argv is the
#     command's, with end_reason exit;
#   - for shell pipelines, a third run under strace counts the exit_group calls
#     and the execve calls made by already-shimmed images (each writes one
#     file, end_reason exec), and that run's stats directory must hold
#     exactly that many files.
#
# MH_DIFF_ENV="VAR=value ..." adds settings to every shimmed run, e.g.
#   MH_DIFF_ENV="MMHINT_READ_MMAP=on MMHINT_READ_MMAP_MIN_FILE=0" to run the
# same corpus with read->mmap conversion on (policies must stay invisible too).
set -u
. "$(dirname "$0")/lib.sh"
mh_init differential_programs
mh_need_cmd cat head tail wc sort md5sum sha256sum cp od grep sed mawk gzip gunzip xz zstd tar sqlite3 perl dd cmp
HAVE_STRACE=0
strace -o /dev/null true 2>/dev/null && HAVE_STRACE=1

D=$MH_TMP
IN=$D/in
mkdir -p "$IN" "$D/cases"
export LC_ALL=C

# ---- Inputs ------------------------------------------------------------------------
: >"$IN/empty"
printf a >"$IN/one"
"$MH_PYTHON" - "$IN" <<'EOF'
import os, random, sys
d = sys.argv[1]
r = random.Random(1234)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "xylophone", "mmap"]
with open(os.path.join(d, "k4"), "w") as f:   # exactly 4096 bytes of text, last line unterminated
    s = ""
    while len(s) < 4096:
        s += " ".join(r.choice(words) for _ in range(r.randint(1, 9))) + "\n"
    f.write(s[:4096])
with open(os.path.join(d, "text"), "w") as f:  # about 1 MB of lines
    for i in range(24000):
        f.write("%06d %s\n" % (r.randint(0, 999999), " ".join(r.choice(words) for _ in range(r.randint(1, 6)))))
with open(os.path.join(d, "bin"), "wb") as f:  # 5 MB of mixed binary (compressible in parts)
    for i in range(5 * 16):
        f.write(os.urandom(32768) if i % 2 else bytes([i]) * 32768 + bytes(r.getrandbits(8) for _ in range(32768)))
EOF
INPUTS="empty one k4 text bin"
# Compressed copies and an archive, made without the shim, for the readers.
for f in $INPUTS; do
  gzip -c "$IN/$f" >"$D/$f.gz"
  xz -c -T1 "$IN/$f" >"$D/$f.xz"
  zstd -q -c "$IN/$f" >"$D/$f.zst"
done
tar cf "$D/all.tar" -C "$IN" .
sqlite3 "$D/t.db" "create table t(a integer primary key, b text, c blob);
  with recursive n(x) as (select 1 union all select x + 1 from n where x < 20000)
  insert into t select x, 'row ' || x, randomblob(64) from n;
  create index tb on t(b);"

# ---- Running one case ----------------------------------------------------------------
MANIFEST=$D/manifest
: >"$MANIFEST"
CASES=0


# dcase NAME KIND CMD...: runs CMD (stdin /dev/null) in two fresh working
# directories, without and with the shim, and compares.  KIND is "single"
# (one process, one stats file expected) or "shell" (count with strace).
dcase() {
  local name=$1 kind=$2
  shift 2
  local w=$D/cases/$name
  mkdir -p "$w/p.cwd" "$w/s.cwd" "$w/stats"
  CASES=$((CASES + 1))
  (cd "$w/p.cwd" && mh_run "$w/p" "$@" </dev/null)
  (cd "$w/s.cwd" && MH_SHIM_ENV=(MMHINT_STATS="$w/stats/" ${MH_DIFF_ENV:-}) && mh_run_shim "$w/s" "$@" </dev/null)
  mh_compare_runs "$name" "$w/p" "$w/s"
  local a b
  a=$(mh_tree_listing "$w/p.cwd")
  b=$(mh_tree_listing "$w/s.cwd")
  if [ "$a" != "$b" ]; then
    mh_fail "$name: the files it created differ"
    diff <(echo "$a") <(echo "$b") | head -6 | sed 's/^/    /'
  fi
  if [ "$kind" = single ]; then
    echo "single $name $w/stats 1 $(command -v "$1")" >>"$MANIFEST"
  else
    echo "any $name $w/stats" >>"$MANIFEST"
    if [ "$HAVE_STRACE" = 1 ]; then
      mkdir -p "$w/t.cwd" "$w/tstats"
      (cd "$w/t.cwd" && strace -f -qq -e trace=execve,exit_group -o "$w/t.log" -E LD_PRELOAD="$MH_LIB" \
        -E MMHINT_CONFIG= -E MMHINT_STATS="$w/tstats/" $(for v in ${MH_DIFF_ENV:-}; do echo "-E $v"; done) "$@" </dev/null >/dev/null 2>&1)
      local exits execs
      exits=$(grep -c ' exit_group(' "$w/t.log")
      # Successful execs, whole or split by -f into "<unfinished ...>" and
      # "<... execve resumed>) = 0"; the first is strace starting the command,
      # before the shim is loaded.
      execs=$(($(grep -cE ' (execve\(|<\.\.\. execve resumed>).* = 0$' "$w/t.log") - 1))
      echo "count $name $w/tstats $((exits + execs))" >>"$MANIFEST"
    fi
  fi
}

# ---- The corpus ----------------------------------------------------------------------
for f in $INPUTS; do
  F=$IN/$f
  dcase "cat.$f" single cat "$F"
  dcase "head-c.$f" single head -c 1000 "$F"
  dcase "tail-n.$f" single tail -n 5 "$F"
  dcase "wc.$f" single wc "$F"
  dcase "sort.$f" single sort "$F"
  dcase "md5sum.$f" single md5sum "$F"
  dcase "sha256sum.$f" single sha256sum "$F"
  dcase "cp.$f" single cp "$F" copy
  dcase "od-head.$f" shell bash -c 'od -A d -c "$1" | head -n 20' sh "$F"
  dcase "grep-c.$f" single grep -c a "$F"
  dcase "sed.$f" single sed -e 's/a/<A>/g' -e '3d' "$F"
  dcase "mawk.$f" single mawk '{ n += length($0); w += NF } END { print NR, n, w }' "$F"
  dcase "gzip.$f" single gzip -c "$F"
  # gunzip is a shell script that execs gzip: two images, two stats files.
  dcase "gunzip.$f" shell gunzip -c "$D/$f.gz"
  dcase "xz.$f" single xz -c -T1 "$F"
  dcase "unxz.$f" single xz -dc "$D/$f.xz"
  dcase "zstd.$f" single zstd -q -c "$F"
  dcase "unzstd.$f" single zstd -q -dc "$D/$f.zst"
  dcase "python.$f" single "$MH_PYTHON" -c \
    'import hashlib, sys; d = open(sys.argv[1], "rb").read(); print(len(d), hashlib.sha256(d).hexdigest())' "$F"
  dcase "perl.$f" single perl -ne '$n++; $b += length; END { print "$n $b\n" }' "$F"
  # status=noxfer: dd's transfer-rate line holds the elapsed time, which differs between any two runs.
  dcase "dd.$f" single dd if="$F" of=G bs=4k status=noxfer
  dcase "dup-offset.$f" shell bash -c '{ head -n1 >/dev/null; cat; } <"$1"' sh "$F"
  # The shared-offset pair must also equal tail -n +2 (PITFALLS 4).
  if ! cmp -s "$D/cases/dup-offset.$f/s/out" <(tail -n +2 "$F"); then
    mh_fail "dup-offset.$f: { head -n1; cat; } under the shim differs from tail -n +2"
  fi
done
dcase "tar-c" single tar cf out.tar -C "$IN" .
dcase "tar-t" single tar tvf "$D/all.tar"
dcase "tar-x" single tar xf "$D/all.tar"
dcase "tar-xz" shell bash -c 'tar cf - -C "$1" . | xz -T1 -c >a.tar.xz && xz -dc a.tar.xz | tar xf -' sh "$IN"
dcase "sqlite-count" single sqlite3 "$D/t.db" 'select count(*), sum(length(c)), max(b) from t'
dcase "sqlite-index" single sqlite3 "$D/t.db" "select a from t where b = 'row 12345'"
dcase "sqlite-check" single sqlite3 "$D/t.db" 'pragma integrity_check'
dcase "sqlite-write" shell bash -c 'cp "$1" w.db && sqlite3 w.db "delete from t where a % 3 = 0; vacuum; select count(*) from t"' sh "$D/t.db"
dcase "sqlite-dump" shell bash -c 'sqlite3 "$1" .dump | sqlite3 new.db && sqlite3 new.db "select count(*) from t"' sh "$D/t.db"

# Failures must fail the same way.
dcase "fail-cat-missing" single cat "$D/does-not-exist"
dcase "fail-grep-nomatch" single grep -c 'no such line here' "$IN/text"
dcase "fail-sort-dir" single sort "$IN"
dcase "fail-gunzip-garbage" single gzip -dc "$IN/text"
dcase "fail-sqlite-bad-sql" single sqlite3 "$D/t.db" 'select * from no_such_table'
for n in fail-cat-missing fail-grep-nomatch fail-sort-dir fail-gunzip-garbage fail-sqlite-bad-sql; do
  [ "$(cat "$D/cases/$n/p/rc")" != 0 ] || mh_fail "$n: the plain run succeeded; this case tests nothing"
done
[ -s "$D/cases/fail-cat-missing/p/err" ] || mh_fail "fail-cat-missing: no error message in the plain run"

# ---- Stats files ---------------------------------------------------------------------
problems=$(python3 - "$MANIFEST" <<'EOF'
import glob, json, os, re, sys
bad = []
for line in open(sys.argv[1]):
    f = line.split()
    kind, name, d = f[0], f[1], f[2]
    files = sorted(p for p in glob.glob(os.path.join(d, "*")) if re.search(r"\.json(\.\d+)?$", p))
    others = sorted(set(glob.glob(os.path.join(d, "*")) + glob.glob(os.path.join(d, ".*"))) - set(files))
    if others:
        bad.append("%s: unexpected files in the stats directory: %s" % (name, others))
    docs = []
    for p in files:
        try:
            doc = json.load(open(p))
            assert doc.get("schema") == "mmhint-stats/1", "schema"
            assert isinstance(doc.get("files"), list), "files"
            assert isinstance(doc["process"]["pid"], int), "pid"
            docs.append(doc)
        except Exception as e:
            bad.append("%s: %s does not parse as mmhint-stats/1: %r" % (name, os.path.basename(p), e))
    if kind == "single":
        want = int(f[3])
        if len(files) != want:
            bad.append("%s: %d stats files, want %d" % (name, len(files), want))
        for doc in docs:
            if doc["process"].get("end_reason") != "exit":
                bad.append("%s: end_reason %r, want 'exit'" % (name, doc["process"].get("end_reason")))
            if os.path.realpath(doc["process"].get("exe", "")) != os.path.realpath(f[4]):
                bad.append("%s: exe %r, want %r" % (name, doc["process"].get("exe"), os.path.realpath(f[4])))
    elif kind == "count":
        want = int(f[3])
        if len(files) != want:
            bad.append("%s (strace run): %d stats files, strace saw %d exits + shimmed execs: %s"
                       % (name, len(files), want, [os.path.basename(p) for p in files]))
    elif kind == "any" and not files:
        bad.append("%s: no stats file at all" % name)
for b in bad:
    print(b)
EOF
)
if [ -n "$problems" ]; then
  while IFS= read -r line; do mh_fail "$line"; done <<<"$problems"
fi
mh_note "$CASES cases compared"
mh_done
