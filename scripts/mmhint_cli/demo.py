"""`mmhint demo`: the end-to-end tour.  Builds if needed, makes a workload
file, runs the workload once with stats, asks advise for a policy, compares
the program without the library (A) against the advised policy (B), and
shows the report of the B runs."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

from .common import REPO, UserError, find_library_or_none, parse_size, human_bytes

SELF = os.path.join(REPO, "scripts", "mmhint")


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


def make_file(path, size, fileread):
    if os.path.isfile(path) and os.path.getsize(path) == size:
        sys.stdout.write("    reusing %s (%s)\n" % (path, human_bytes(size)))
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


def cmd_demo(args):
    size = parse_size(args.size)
    if size < 1 << 20:
        raise UserError("demo: --size must be at least 1M")
    if args.runs < 2:
        raise UserError("demo: --runs must be at least 2 (the confidence interval needs them)")
    t0 = time.time()
    say("step 1/6: find or build libmmhint.so")
    lib = ensure_library(args.lib)
    sys.stdout.write("    library: %s\n" % lib)
    libdir = os.path.dirname(lib)
    fileread = os.path.join(libdir, "examples", "fileread")
    if not (os.path.isfile(fileread) and os.access(fileread, os.X_OK)):
        fileread = None
    work = os.path.abspath(args.dir or os.path.join(os.environ.get("TMPDIR") or tempfile.gettempdir(),
                                                    "mmhint-demo"))
    os.makedirs(work, exist_ok=True)
    data = os.path.join(work, "data.bin")
    stats1 = os.path.join(work, "stats-observe")
    abdir = os.path.join(work, "ab")
    conf = os.path.join(work, "advised.conf")
    for d in (stats1, abdir):
        shutil.rmtree(d, ignore_errors=True)

    say("step 2/6: make a %s workload file" % human_bytes(size))
    make_file(data, size, fileread)

    if fileread:
        workload = [fileread, "read", data, "4K", "--passes", "3"]
        masks = ["seconds=[0-9.]+", "mib_per_s=[0-9.]+"]
        why = ("fileread reads the file front to back with 4 KiB read() calls, 3 passes, and prints a checksum "
               "of what it read (its timing fields are masked when outputs are compared)")
    else:
        workload = ["wc", "-l", data]
        masks = []
        why = "wc -l reads the file front to back with 16 KiB read() calls (fileread is not built)"
    sys.stdout.write("    workload: %s\n    %s\n" % (" ".join(workload), why))

    say("step 3/6: run the workload once under the library with default options, to collect evidence")
    sys.stdout.write("    (every option is off: the library only observes and writes stats into %s)\n" % stats1)
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
        sys.stdout.write("".join("      | " + l for l in f))

    say("step 5/6: compare A = the program without the library against B = the advised policy")
    sys.stdout.write("    runs alternate A B A B ... after one warm-up each; the file stays in the page cache\n")
    ab = [sys.executable, SELF, "ab", "--lib", lib, "--plain-a", "--config-b", conf, "--runs", str(args.runs),
          "--warmup", "1", "--keep-stats", abdir, "--markdown", os.path.join(work, "ab.md"),
          "--json", os.path.join(work, "ab.json")]
    for m in masks:
        ab += ["--mask", m]
    rc = call(ab + ["--"] + workload)
    if rc not in (0, 3):
        raise UserError("demo: ab failed (status %d)" % rc)
    ab_rc = rc

    say("step 6/6: what the library saw and did in the B runs")
    bdirs = sorted(os.path.join(abdir, d) for d in os.listdir(abdir) if d.startswith("b-") and
                   "warmup" not in d and any(n.endswith(".json") for n in os.listdir(os.path.join(abdir, d))))
    if bdirs:
        call([sys.executable, SELF, "report", "--top", "5", bdirs[-1]])
        html = os.path.join(work, "report.html")
        call([sys.executable, SELF, "report", "--html", html, bdirs[-1]], stdout=subprocess.DEVNULL)
        sys.stdout.write("    HTML report: %s\n" % html)
    else:
        sys.stdout.write("    the B runs wrote no stats files\n")
    sys.stdout.write("\ndone in %.0fs; everything is in %s (ab.md, ab.json, advised.conf, stats)\n"
                     % (time.time() - t0, work))
    return ab_rc
