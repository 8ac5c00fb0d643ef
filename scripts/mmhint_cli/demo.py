"""`mmhint demo`: the end-to-end tour.  Builds if needed, makes a workload
file, runs the workload once with stats, asks advise for a policy, compares
the program without the library (A) against the advised policy (B), and
shows the report of the B runs."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import stats as st
from .common import BYTES, COMMAND, COUNT, REPO, UserError, find_library_or_none, human, parse_size
from .parsing import Formatter

SELF = COMMAND
# How long the demo takes with its defaults, measured on the 2-vCPU machine
# docs/CLI.md describes (README.md says the same).
DURATION = "10-20 s"


def say(msg):
    sys.stdout.write("\n==> %s\n" % msg)
    sys.stdout.flush()


def show_cmd(argv):
    sys.stdout.write("    $ %s\n" % " ".join(a if a and " " not in a else "'%s'" % a for a in argv))
    sys.stdout.flush()


def call(argv, **kw):
    show_cmd(argv)
    return subprocess.call(argv, **kw)


def ensure_library(explicit):
    lib = find_library_or_none(explicit)
    if lib:
        return lib
    say("libmmhint.so is not built yet: building it")
    setup = os.path.join(REPO, "scripts", "setup")
    if os.path.isfile(setup) and os.access(setup, os.X_OK):
        if call([setup]) != 0:
            raise UserError("demo: scripts/setup failed; fix what it reports and run the demo again")
    lib = find_library_or_none(explicit)
    if lib:
        return lib
    build = os.path.join(REPO, "build")
    if call(["cmake", "-S", REPO, "-B", build]) != 0 or call(["cmake", "--build", build, "-j2"]) != 0:
        raise UserError("demo: the build failed; see the messages above")
    lib = find_library_or_none(explicit)
    if not lib:
        raise UserError("demo: the build finished but libmmhint.so is still missing")
    return lib


# --size presets: the demo's own sizes per workload; "small" keeps every step
# but takes seconds.
SIZES = {"fileread": {"default": "256M", "small": "16M"},
         "wc": {"default": "256M", "small": "16M"}}
PASSES = 3            # fileread passes over the file per run
MAX_ROUNDS = 4        # ab rounds at most, the runs doubling each time


def demo_size(text, workload):
    preset = SIZES[workload].get(text or "default")
    size = parse_size(preset or text)
    if size < 1 << 20:
        raise UserError("demo: --size must be at least 1M (or 'small')")
    return size


def example(libdir, name):
    p = os.path.join(libdir, "examples", name)
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


def make_text_file(path, size, fileread):
    if os.path.isfile(path) and os.path.getsize(path) == size:
        sys.stdout.write("    reusing %s (%s)\n" % (path, human(size, BYTES)))
        return
    if fileread:
        if call([fileread, "--make", path, str(size)], stdout=subprocess.DEVNULL) == 0:
            return
    sys.stdout.write("    writing %s bytes of generated text to %s\n" % (size, path))
    line = b"".join(b"%08d the quick brown fox jumps over the lazy dog %s\n" % (i, b"x" * (i % 23))
                    for i in range(4096))
    with open(path, "wb") as f:
        left = size
        while left > 0:
            chunk = line[:left]
            f.write(chunk)
            left -= len(chunk)


def pick_workload(libdir, work, size_arg):
    """Returns (name, argv, data path, size, mask regexes, explanation, maker).
    The workload is build/examples/fileread reading a cached file in 4 KiB
    read() calls: read->mmap serves such reads from a mapping, a win that
    holds on a busy 2-core machine (1.3-2.4x here), unlike huge pages,
    whose first touch varies from run to run on a VM.  Without the examples
    it is wc -l, which reads in 16 KiB calls."""
    fileread = example(libdir, "fileread")
    data = os.path.join(work, "data.bin")
    if fileread:
        size = demo_size(size_arg, "fileread")
        argv = [fileread, "read", data, "4K", "--passes", str(PASSES)]
        why = ("fileread reads the file front to back with 4 KiB read() calls, %d passes, from the page cache, and "
               "prints a checksum of what it read (its timing fields are masked when outputs are compared)" % PASSES)
        return ("fileread", argv, data, size, ["seconds=[0-9.]+", "mib_per_s=[0-9.]+"], why,
                lambda: make_text_file(data, size, fileread))
    size = demo_size(size_arg, "wc")
    why = "wc -l reads the file front to back with 16 KiB read() calls (the examples are not built)"
    return ("wc", ["wc", "-l", data], data, size, [], why, lambda: make_text_file(data, size, None))


def decisive(summary):
    """True when ab's bootstrap interval of the B/A ratio excludes 1."""
    lo, hi = (summary.get("ci95") or [None, None])[:2]
    return lo is not None and hi is not None and not lo <= 1.0 <= hi


def b_run_summary(bdir):
    """Huge pages requested/obtained and the data file's policy in one B run's stats."""
    docs = []
    for n in sorted(os.listdir(bdir)):
        if n.endswith(".json"):
            try:
                docs.append(st.load_file(os.path.join(bdir, n)))
            except UserError:
                pass
    if not docs:
        return None
    hp = {"requested_bytes": 0, "obtained_bytes": 0}
    mode = None
    for d in docs:
        mem = d.get("memory") or {}
        h = mem.get("huge_pages") or {}
        for k in hp:
            if isinstance(h.get(k), int):
                hp[k] += h[k]
        mode = mode or (mem.get("policy") or {}).get("hugepages")
    return hp, mode, st.merge(docs)


def cmd_demo(args):
    if args.runs < 2:
        raise UserError("demo: --runs must be at least 2 (the confidence interval needs them)")
    t0 = time.time()
    say("step 1/6: find or build libmmhint.so")
    lib = ensure_library(args.lib)
    sys.stdout.write("    library: %s\n" % lib)
    libdir = os.path.dirname(lib)
    # A fresh directory of its own each time, unless --dir names one: a shared
    # fixed path would reuse another run's files.
    work = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="mmhint-demo-")
    os.makedirs(work, exist_ok=True)
    name, workload, data, size, masks, why, maker = pick_workload(libdir, work, args.size)
    stats1 = os.path.join(work, "stats-observe")
    abdir = os.path.join(work, "ab")
    conf = os.path.join(work, "advised.conf")
    abjson = os.path.join(work, "ab.json")
    for d in (stats1, abdir):
        shutil.rmtree(d, ignore_errors=True)
    for f in (abjson, conf):
        if os.path.exists(f):
            os.unlink(f)

    say("step 2/6: make a %s workload file" % human(size, BYTES))
    maker()
    sys.stdout.write("    workload: %s\n    %s\n" % (" ".join(workload), why))

    say("step 3/6: run the workload once under the library with default options, to collect evidence")
    sys.stdout.write("    (every option is off: the library only observes and writes stats into %s)\n" % stats1)
    sys.stdout.flush()
    rc = call([sys.executable, SELF, "run", "--lib", lib, "--stats", stats1, "--"] + workload,
              stdout=subprocess.DEVNULL)
    if rc != 0:
        raise UserError("demo: the workload failed under the library (status %d)" % rc)
    call([sys.executable, SELF, "report", "--top", "5", stats1])

    say("step 4/6: propose a policy from what was observed (mmhint advise)")
    with open(conf, "w") as f:
        rc = call([sys.executable, SELF, "advise", stats1], stdout=f)
    if rc != 0:
        raise UserError("demo: advise failed")
    sys.stdout.write("    wrote %s:\n" % conf)
    with open(conf) as f:
        advised = f.read()
    sys.stdout.write("".join("      | " + l for l in advised.splitlines(True)))
    settings = [l.strip() for l in advised.splitlines() if l.strip() and not l.startswith("#")
                and l.strip() != "[rule]" and not l.startswith("path")]

    say("step 5/6: compare A = the program without the library against B = the advised policy")
    sys.stdout.write("    measured runs per side alternate A B A B ... after one warm-up each; the file stays in the "
                     "page cache.  Starting with %d runs per side, the runs double until the 95%% interval of the "
                     "B/A ratio excludes 1 or %.0fs have passed\n" % (args.runs, args.max_time))
    runs, t5, ab_rc, summ = args.runs, time.time(), None, None
    for round_ in range(MAX_ROUNDS):
        shutil.rmtree(abdir, ignore_errors=True)
        ab = [sys.executable, SELF, "ab", "--lib", lib, "--plain-a", "--config-b", conf, "--runs", str(runs),
              "--warmup", "1", "--keep-stats", abdir, "--markdown", os.path.join(work, "ab.md"),
              "--json", abjson]
        for m in masks:
            ab += ["--mask", m]
        rc = call(ab + ["--"] + workload, stdin=subprocess.DEVNULL)
        if rc not in (0, 3):
            raise UserError("demo: ab failed (status %d)" % rc)
        ab_rc = rc
        try:
            with open(abjson) as f:
                summ = json.load(f)["summary"]
        except (OSError, ValueError, KeyError):
            summ = None
        spent = time.time() - t5
        if rc == 3 or summ is None or decisive(summ):
            break
        if round_ + 1 == MAX_ROUNDS or spent * 3 > args.max_time:
            sys.stdout.write("    the interval still contains 1 and another round would pass the %.0fs cap: "
                             "stopping here\n" % args.max_time)
            break
        runs *= 2
        sys.stdout.write("    the interval contains 1: again with %d runs per side\n" % runs)

    say("step 6/6: what the library saw and did in the B runs")
    bdirs = sorted((os.path.join(abdir, d) for d in os.listdir(abdir) if d.startswith("b-") and
                    "warmup" not in d and any(n.endswith(".json") for n in os.listdir(os.path.join(abdir, d)))),
                   key=lambda p: int(p.rsplit("-", 1)[1]))
    bsum = None
    if bdirs:
        call([sys.executable, SELF, "report", "--top", "5", bdirs[-1]])
        html = os.path.join(work, "report.html")
        call([sys.executable, SELF, "report", "--html", html, bdirs[-1]], stdout=subprocess.DEVNULL)
        sys.stdout.write("    HTML report: %s\n" % html)
        bsum = b_run_summary(bdirs[-1])
    else:
        sys.stdout.write("    the B runs wrote no stats files\n")

    # The summary: every figure below is read back from this run's files.
    sys.stdout.write("\n==> summary\n")
    sys.stdout.write("    workload: %s\n" % " ".join(os.path.basename(a) if a == workload[0] else a for a in workload))
    sys.stdout.write("    advised:  %s\n" % ("; ".join(settings) if settings else "nothing"))
    if summ:
        sys.stdout.write("    wall time: A %.3fs, B %.3fs (medians of %d runs each)\n"
                         % (summ["A"]["wall_s"]["median"], summ["B"]["wall_s"]["median"], runs))
        sys.stdout.write("    verdict:  %s\n" % summ["verdict"])
    else:
        sys.stdout.write("    verdict:  (ab wrote no summary)\n")
    if ab_rc == 3:
        sys.stdout.write("    WARNING: the outputs of A and B differ (see above)\n")
    if bsum:
        _, _, merged = bsum
        f = next((f for f in merged["files"] if data in f["paths"]), None)
        if f:
            sys.stdout.write("    %s in the last B run: %s in %s reads, %s of them served from a mapping, policy %s\n"
                             % (data, human(st.total_bytes(f), BYTES), human(st.total_reads(f), COUNT),
                                human(f.get("converted_bytes") or 0, BYTES), st.policy_text(f.get("policy"))))
    sys.stdout.write("    the whole directory: mmhint report %s\n" % work)
    sys.stdout.write("\ndone in %.0fs; everything is in %s (ab.md, ab.json, advised.conf, stats)\n"
                     % (time.time() - t0, work))
    return ab_rc


# ---- The command line -------------------------------------------------------

def add_parser(sub):
    """Adds `mmhint demo` to SUB."""
    d = sub.add_parser("demo", help="end-to-end demonstration (%s)" % DURATION, formatter_class=Formatter,
                       description="Build if needed, make a workload file, run a workload once with stats "
                                   "(build/examples/fileread: 4 KiB read() calls over a 256 MiB file in the page "
                                   "cache, 3 passes), propose a policy with 'advise' (read_mmap = auto), compare "
                                   "the program without the library against the advised policy with 'ab' (the "
                                   "runs double until the interval is decisive or --max-time passes), and show "
                                   "the report of the B runs.  Takes %s on a busy 2-core machine." % DURATION)
    d.add_argument("--size", default=None, metavar="SIZE|small",
                   help="workload file size (default 256M); 'small' is a quick run (16M) for tests")
    d.add_argument("--dir", metavar="DIR", help="where to put the workload and results (default: a new directory "
                                                "$TMPDIR/mmhint-demo-XXXXXX)")
    d.add_argument("--runs", type=int, default=5, metavar="N", help="ab runs per side to start with (default 5)")
    d.add_argument("--max-time", type=float, default=60, metavar="SECONDS",
                   help="no further ab round once the rounds so far would pass this (default 60)")
    d.add_argument("--lib", metavar="PATH", help="libmmhint.so to load")
    d.set_defaults(func=cmd_demo)
    return d
