#!/usr/bin/env python3
"""bench/advise_corpus.py: `mmhint advise` judged on real programs.

For each program of Debian's packages below (grep, wc, dd bs=4k, sha256sum,
gzip -d, a python3 line loop, sqlite3 -readonly and read-write, tar x, sort,
grep and sqlite3 -readonly on a cold cache) it

  1. runs the program once under the library with statistics
     (`mmhint run --stats`), from a cold page cache for the cold rows;
  2. writes `mmhint advise` of those statistics to advised.conf;
  3. measures `mmhint ab --plain-a --config-b advised.conf` (interleaved runs,
     bootstrap interval; `--cold` for the cold rows);
  4. unless --no-singles, measures each single policy of the option table
     that could apply (`mmhint ab --plain-a --b POLICY`), so that the advised
     config can be held against the best of them;

and prints a Markdown table (--markdown) and writes everything (--json).

  python3 bench/advise_corpus.py [--small] [--runs N] [--dir DIR] [--lib PATH]
                                  [--only NAME,...] [--no-singles] [--json F] [--markdown F]
                                  [--check]

--small: small files (a few MiB) for the ctest; --check: exit 1 unless every
advised config holds what is robust on a noisy machine: each proposed
read_mmap converted bytes in the B runs without an open_flags fallback, no
read_mmap for a database opened read-write, no drop_behind for a cached
file, and, at full size only, no interval wholly below 1 (speedup upper
bound >= 1; a row whose interval is below 1 is measured once more with twice
the runs, and that second measurement counts).  With --small the intervals
are printed but not judged: the ctest runs beside other tests, and speed is
shown by the benchmark.
"""
import argparse
import gzip
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
MMHINT = os.path.join(ROOT, "scripts", "mmhint")
WORDS = ["alpha", "beta", "gamma", "delta", "request", "served", "user", "cache", "disk", "page"]


def make_log(path, size):
    r = random.Random(1)
    with open(path, "w") as f:
        n = i = 0
        while n < size:
            lvl = "ERROR" if r.random() < 0.01 else ("WARN" if r.random() < 0.05 else "INFO")
            line = "2026-12-03T12:%02d:%02d.%06d %s [%d] %s\n" % (
                i // 60 % 60, i % 60, i % 1000000, lvl, r.randrange(10000), " ".join(r.choice(WORDS) for _ in range(8)))
            f.write(line)
            n += len(line)
            i += 1


def make_data(d, small):
    """Makes the inputs in D (once; kept between runs of the script)."""
    mib = 1024 * 1024
    # Small: each run still takes tens of milliseconds, so that the library's
    # fixed cost (loading, writing the statistics) does not decide the ratio.
    sizes = {"log": 48 * mib, "bin": 64 * mib, "sort": 4 * mib, "rows": 100000, "tar": 64} if small else \
            {"log": 200 * mib, "bin": 256 * mib, "sort": 24 * mib, "rows": 600000, "tar": 200}
    os.makedirs(d, exist_ok=True)
    stamp = os.path.join(d, "made-%s" % ("small" if small else "full"))
    if os.path.exists(stamp):
        return sizes
    make_log(os.path.join(d, "app.log"), sizes["log"])
    with open(os.path.join(d, "app.log"), "rb") as f, gzip.open(os.path.join(d, "app.log.gz"), "wb", 6) as g:
        shutil.copyfileobj(f, g)
    with open(os.path.join(d, "app.log"), "rb") as f, open(os.path.join(d, "sort.txt"), "wb") as g:
        g.write(f.read(sizes["sort"]))
    with open(os.path.join(d, "rand.bin"), "wb") as f:
        r = random.Random(2)
        left = sizes["bin"]
        while left > 0:
            n = min(left, mib)
            f.write(r.randbytes(n))
            left -= n
    db = os.path.join(d, "db.sqlite")
    if os.path.exists(db):
        os.unlink(db)
    con = sqlite3.connect(db)
    con.execute("create table t(id integer primary key, v text)")
    r = random.Random(3)
    con.executemany("insert into t values (?, ?)", ((i, "%0150x" % r.getrandbits(600)) for i in range(1, sizes["rows"] + 1)))
    con.commit()
    con.close()
    src = os.path.join(d, "tree")
    os.makedirs(src, exist_ok=True)
    for i in range(sizes["tar"]):
        with open(os.path.join(src, "f%04d" % i), "wb") as f:
            f.write(random.Random(i).randbytes(256 * 1024))
    with tarfile.open(os.path.join(d, "tree.tar"), "w") as t:
        t.add(src, arcname="tree")
    shutil.rmtree(src)
    open(stamp, "w").close()
    return sizes


def workloads(d, sizes, out):
    """(name, argv, cold, single policies worth comparing, what it shows)."""
    log, binf, db = os.path.join(d, "app.log"), os.path.join(d, "rand.bin"), os.path.join(d, "db.sqlite")
    n = sizes["rows"]
    lookups = max(2000, n // 10)
    q = ("with recursive r(i, x) as (select 0, 7 union all select i + 1, (x * 1103515245 + 12345) %% 2147483648 "
         "from r where i < %d) select count(*), sum(length(v)) from r join t on t.id = r.x %% %d + 1;" % (lookups, n))
    py = "import sys\nn = 0\nfor line in open(sys.argv[1]):\n    n += 'ERROR' in line\nprint(n)\n"
    stream = ["read_mmap=auto", "drop_behind=on"]
    return [
        ("grep", ["grep", "-c", "ERROR", log], False, stream, "96 KiB read() stream, cached"),
        ("wc -l", ["wc", "-l", log], False, stream, "16 KiB read() stream, cached"),
        ("dd bs=4k", ["dd", "if=" + binf, "of=/dev/null", "bs=4k", "status=none"], False, stream,
         "4 KiB read() stream, cached"),
        ("sha256sum", ["sha256sum", binf], False, stream, "fread() stream (stdio), cached"),
        ("gzip -d", ["gzip", "-dc", log + ".gz"], False, stream, "read() of a compressed stream, cached"),
        ("python3 loop", [sys.executable, "-c", py, log], False, stream, "buffered line reads, cached"),
        ("sqlite3 -readonly", ["sqlite3", "-readonly", db, q], False, ["read_mmap=on", "advice=random"],
         "random 4 KiB preads, read-only open, cached"),
        ("sqlite3 rw", ["sqlite3", db, q], False, ["read_mmap=on", "advice=random"],
         "random 4 KiB preads, read-write open, cached"),
        ("tar x", ["tar", "-xf", os.path.join(d, "tree.tar"), "-C", out], False, stream,
         "10 KiB read() of the archive, writes files"),
        ("sort", ["sort", os.path.join(d, "sort.txt")], False, stream, "stdio read, in-memory sort"),
        ("grep cold", ["grep", "-c", "ERROR", log], True, ["drop_behind=on", "read_mmap=auto", "advice=sequential"],
         "96 KiB read() stream from a cold cache"),
        ("sqlite3 -readonly cold", ["sqlite3", "-readonly", db, q], True, ["advice=random", "read_mmap=on"],
         "random 4 KiB preads, read-only open, cold cache"),
    ]


def warm(d, cmd):
    """Reads the inputs of CMD (the files of D it names) so that a cached row
    is observed cached: other work on the machine may have dropped them."""
    for a in cmd:
        a = a.split("=", 1)[1] if a.startswith("if=") else a
        if a.startswith(d) and os.path.isfile(a):
            with open(a, "rb") as f:
                while f.read(1 << 20):
                    pass


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def ab(lib, spec, cmd, runs, cold, work, tag, plain_a=True):
    """Runs mmhint ab (A plain unless PLAIN_A is false and SPEC names A);
    returns its JSON document (None when it failed) and its status."""
    js = os.path.join(work, "ab-%s.json" % tag)
    kst = os.path.join(work, "ab-%s-stats" % tag)
    argv = [sys.executable, MMHINT, "ab", "--lib", lib] + (["--plain-a"] if plain_a else []) + [
            "--runs", str(runs), "--warmup", "1",
            "--json", js, "--keep-stats", kst] + spec + (["--cold"] if cold else []) + ["--"] + cmd
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with open(js) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        sys.stderr.write(p.stdout + p.stderr)
        return None, p.returncode
    shutil.rmtree(kst, ignore_errors=True)
    return doc, p.returncode


def speedup(doc):
    s = doc["summary"]
    lo, hi = s["ci95"]
    return s["speedup_a_over_b"], (1 / hi if hi else None), (1 / lo if lo else None)


def config_settings(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and line != "[rule]" and not line.startswith("path"):
                out.append(line.replace(" ", ""))
    return out


def check(row, timed=True):
    """What is robust on a noisy machine; returns the list of failures.
    `timed`: the advised config's speed is judged too (the full-size bench);
    the small-file ctest runs beside other tests, where a few milliseconds of
    the library's start-up or a neighbour's load decide the interval, so
    there its speed is reported and not judged (speed is a benchmark's to
    show, not a test's)."""
    bad = []
    doc = row["advised"]
    if doc is None:
        return ["ab of the advised config failed"]
    settings = row["settings"]
    sp, lo, hi = speedup(doc)
    if timed and hi is not None and hi < 1.0:
        bad.append("advised config is slower than plain: %.2fx [%.2f-%.2f]" % (sp, lo, hi))
    if not doc.get("outputs_identical", True):
        bad.append("advised config changed the output")
    if any(s.startswith("read_mmap=") for s in settings):
        conv = max((f["B"] or {}).get("converted_bytes", 0) for f in doc["files"])
        if not conv:
            bad.append("read_mmap proposed but no byte was converted in the B runs")
    if row["name"] == "sqlite3 rw" and any(s.startswith("read_mmap=") for s in settings):
        bad.append("read_mmap proposed for a database opened read-write")
    if not row["cold"] and "drop_behind=on" in settings:
        bad.append("drop_behind proposed for a cached file")
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--lib", default=os.path.join(ROOT, "build", "libmmhint.so"))
    ap.add_argument("--only", default="")
    ap.add_argument("--no-singles", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--section", metavar="FILE", help="write the results as a section of FILE (BENCHMARKS.md), "
                                                      "between its advise-corpus markers")
    ap.add_argument("--from-json", metavar="F", help="render a saved --json instead of measuring")
    ap.add_argument("--note", help="a sentence for the section: what else ran on the machine")
    args = ap.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            doc = json.load(f)
        meta = doc.get("meta", {})
        if args.note:
            meta["note"] = args.note
        write_section(args.section, doc, meta)
        return 0
    meta = {"started": time.strftime("%Y-%m-%d %H:%M %Z"), "load_start": os.getloadavg()[0],
            "argv": ["bench/advise_corpus.py"] + (argv if argv is not None else sys.argv[1:]), "note": args.note}
    d = os.path.abspath(args.dir or os.path.join(tempfile.gettempdir(), "mmhint-corpus-%s" %
                                                 ("small" if args.small else "full")))
    sizes = make_data(d, args.small)
    work = tempfile.mkdtemp(prefix="mmhint-corpus-run-")
    out = os.path.join(work, "tar-out")
    os.makedirs(out)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    can_cold = os.access("/proc/sys/vm/drop_caches", os.W_OK)
    rows = []
    t0 = time.time()
    for i, (name, cmd, cold, singles, what) in enumerate(workloads(d, sizes, out)):
        if only and name not in only:
            continue
        if cold and not can_cold:
            rows.append({"name": name, "skipped": "needs root (drop_caches)"})
            continue
        tag = "w%d" % i
        sdir = os.path.join(work, tag + "-observe")
        if cold:
            drop_caches()
        else:
            warm(d, cmd)
        # stdout to a file, as in ab's runs: GNU grep stops at the first match when it is /dev/null.
        with open(os.path.join(work, tag + "-observe.out"), "w") as out_f:
            p = subprocess.run([sys.executable, MMHINT, "run", "--lib", args.lib, "--stats", sdir, "--"] + cmd,
                               stdin=subprocess.DEVNULL, stdout=out_f, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            rows.append({"name": name, "skipped": "failed under the library: %s" % p.stderr.strip()[-200:]})
            continue
        conf = os.path.join(work, tag + "-advised.conf")
        with open(conf, "w") as f:
            subprocess.run([sys.executable, MMHINT, "advise", sdir], stdout=f, check=True)
        settings = config_settings(conf)
        with open(conf) as f:
            conf_text = f.read()
        doc, _ = ab(args.lib, ["--config-b", conf], cmd, args.runs, cold, work, tag + "-advised")
        row = {"name": name, "what": what, "cmd": cmd, "cold": cold, "settings": settings, "config": conf_text,
               "advised": doc, "singles": {}}
        if not args.no_singles:
            for spec in singles:
                sdoc, _ = ab(args.lib, ["--b", spec], cmd, args.runs, cold, work, tag + "-" + spec.replace("=", "-"))
                row["singles"][spec] = sdoc
        best = best_single(row)
        if best:
            # The advised config against the best single policy, in one interleaved ab.
            row["direct"] = {"single": best, "doc": ab(args.lib, ["--config-a", conf, "--b", best], cmd, args.runs,
                                                       cold, work, tag + "-direct", plain_a=False)[0]}
        row["failures"] = check(row, timed=not args.small)
        if args.check and any(f.startswith("advised config is slower") for f in row["failures"]):
            # One interval wholly below 1 on a busy machine can be noise: measure once more, with twice the runs.
            doc, _ = ab(args.lib, ["--config-b", conf], cmd, 2 * args.runs, cold, work, tag + "-advised-again")
            row["advised_first"], row["advised"] = row["advised"], doc
            row["failures"] = check(row, timed=not args.small)
        rows.append(row)
        sys.stderr.write("corpus: %s done (%.0fs)\n" % (name, time.time() - t0))
    shutil.rmtree(work, ignore_errors=True)
    md = render(rows, args)
    sys.stdout.write(md)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(md)
    meta.update(load_end=os.getloadavg()[0], elapsed_s=time.time() - t0)
    doc = {"schema": "mmhint-advise-corpus/1", "small": args.small, "runs": args.runs, "rows": rows, "meta": meta}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    if args.section:
        write_section(args.section, doc, meta)
    fails = [(r["name"], x) for r in rows for x in r.get("failures", [])]
    for name, x in fails:
        sys.stderr.write("corpus: FAIL %s: %s\n" % (name, x))
    return 1 if args.check and fails else 0


def fmt_sp(doc):
    if doc is None:
        return "failed"
    sp, lo, hi = speedup(doc)
    mark = "" if doc.get("outputs_identical", True) else " (output differs)"
    return "%.2f× [%.2f–%.2f]%s" % (sp, lo, hi, mark)


BEGIN, END = "<!-- advise-corpus:begin -->", "<!-- advise-corpus:end -->"


def best_single(row):
    """The single policy that gave >= 1.2x beyond noise (interval above 1), the fastest such; or None."""
    best, bsp = None, 0
    for spec, doc in row["singles"].items():
        if doc and doc.get("outputs_identical", True):
            sp, lo, _ = speedup(doc)
            if sp >= 1.2 and lo > 1.0 and sp > bsp:
                best, bsp = spec, sp
    return best


def direct_share(row):
    """(share of the single policy's gain the advised config got, from the
    direct ab: s_adv = s_single * t_single / t_adv, and the share at the
    upper end of that ratio's interval), or None."""
    d = row.get("direct")
    if not d or not d.get("doc"):
        return None
    s_single = speedup(row["singles"][d["single"]])[0]
    summ = d["doc"]["summary"]
    q, (lo, hi) = summ["wall_ratio_b_over_a"], summ["ci95"]  # t_single / t_advised
    return ((s_single * q - 1) / (s_single - 1), (s_single * hi - 1) / (s_single - 1), q, lo, hi)


def claims(rows):
    """The two claims of the full-size run, judged per row: no advised config
    is slower than plain (its interval not wholly below 1), and where a
    single policy gave >= 1.2x the advised config got >= 80% of that gain."""
    out = []
    for r in rows:
        if "skipped" in r or not r.get("advised"):
            continue
        sp, lo, hi = speedup(r["advised"])
        if hi < 1.0:
            out.append("%s: the advised config is slower than plain (%.2f× [%.2f–%.2f])" % (r["name"], sp, lo, hi))
        ds = direct_share(r)
        if ds and ds[1] < 0.8:
            out.append("%s: the advised config got %.0f%% of the gain of `%s` (at most %.0f%% within the interval of "
                       "their direct comparison)" % (r["name"], 100 * ds[0], r["direct"]["single"], 100 * ds[1]))
    return out


def write_section(path, doc, meta):
    rows = doc["rows"]
    text = [BEGIN, "## `mmhint advise` on real programs", "",
            "Generated by `%s` (also `scripts/bench --advise-corpus`); %s; %d measured runs per side, one "
            "warm-up; load average (1 min) %.2f at the start, %.2f at the end: other engineers' builds and tests "
            "ran on the same 2 cores throughout, so the intervals are wide." % (
                " ".join(meta.get("argv", ["bench/advise_corpus.py"])), meta.get("started", "?"), doc["runs"],
                meta.get("load_start", 0), meta.get("load_end", 0))
            + ((" " + meta["note"]) if meta.get("note") else ""), "",
            "Each program ran once under the library with statistics (cold rows: after dropping the page cache), "
            "`mmhint advise` wrote a config from that, and `mmhint ab --plain-a --config-b` measured it; each "
            "single policy of the option table that could apply was measured the same way (`--b POLICY`). "
            "Speedups are plain / policy of median wall time, in brackets the 95% bootstrap interval.", "",
            render(rows, None).rstrip("\n"), ""]
    bad = claims(rows)
    if bad:
        text += ["Claims not met in this run:", ""] + ["- " + b for b in bad] + [""]
    else:
        text += ["In this run no advised config was slower than plain (no interval wholly below 1), and wherever a "
                 "single policy gave ≥ 1.2× beyond noise the advised config got ≥ 80% of that gain.", ""]
    text.append(END)
    section = "\n".join(text) + "\n"
    old = ""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + section + old[old.index(END) + len(END) + 1:]
    else:
        new = old.rstrip("\n") + "\n\n" + section
    with open(path, "w", encoding="utf-8") as f:
        f.write(new)


def render(rows, args):
    out = ["| program | reads | advised settings | advised vs plain | best single policy | single vs plain | "
           "share of the single's gain (direct ab) |", "|---|---|---|---:|---|---:|---:|"]
    for r in rows:
        if "skipped" in r:
            out.append("| %s | skipped: %s | | | | | |" % (r["name"], r["skipped"]))
            continue
        best, bdoc = None, None
        for spec, doc in r["singles"].items():
            if doc and doc.get("outputs_identical", True) and (bdoc is None or speedup(doc)[0] > speedup(bdoc)[0]):
                best, bdoc = spec, doc
        share = "(no single policy ≥ 1.2× beyond noise)"
        ds = direct_share(r)
        if ds:
            share = "%.0f%% (advised/single time %.2f [%.2f–%.2f])" % (100 * ds[0], 1 / ds[2], 1 / ds[4], 1 / ds[3])
        out.append("| %s%s | %s | %s | %s | %s | %s | %s |" % (
            r["name"], " (cold)" if r["cold"] else "", r["what"], ", ".join("`%s`" % s for s in r["settings"]) or
            "none", fmt_sp(r["advised"]), "`%s`" % best if best else "-", fmt_sp(bdoc) if bdoc else "-", share))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
