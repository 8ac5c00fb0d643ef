#!/usr/bin/env python3
"""bench/readmap.py: the read->mmap benchmark (issue 3).  Not a test.

Every case runs whole processes, its variants interleaved round-robin (A B C
A B C ...) on the same machine, and prints each variant's median wall time
and its ratio to the case's anchor (> 1: the variant is faster than the
anchor).  The ratio of the medians is the figure; min-max of the per-round
ratios shows the noise.  Cold cases also print read_bytes from /proc/PID/io
(bytes the process caused to be read from storage).

  bench/readmap.py [--build DIR] [--runs N] [--size BYTES] [--dir DIR] [--only SUBSTR]
  bench/readmap.py --sweep          read sizes 4 KiB..1 MiB, plain vs read_mmap=on

How a file came into the page cache decides how fast a fresh mapping of it is:
a sequential reader leaves large folios (one fault maps many pages), 4 KiB
random reads leave one page per folio (~150 ns more per page on a first pass).
With root, the warm cases start from a defined layout (drop_caches, then one
sequential read), and the 4 KiB one-pass case also runs on the small-folio
layout.  Needs root for the cold cases and the layouts; without it they are
skipped.  The sqlite3 database (~410 MB) is built once in --dir.
"""
import argparse, atexit, os, shutil, statistics, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.environ.get("MMHINT_BUILD_DIR", "build"))
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--size", type=int, default=1 << 30)
ap.add_argument("--dir", default="/var/tmp")
ap.add_argument("--only", default="")
ap.add_argument("--sweep", action="store_true")
ap.add_argument("--db-rows", type=int, default=1_000_000)
ap.add_argument("--lookups", type=int, default=200_000)
args = ap.parse_args()

lib = os.path.abspath(os.path.join(args.build, "libmmhint.so"))
reader = os.path.abspath(os.path.join(args.build, "tests/programs/rm_reader"))
for p in (lib, reader):
    if not os.path.exists(p):
        sys.exit("missing %s: build first (--build DIR)" % p)
path = os.path.join(args.dir, "mmhint-readmap-bench.dat")
if not os.path.exists(path) or os.path.getsize(path) != args.size:
    with open(path, "wb") as f:
        left = args.size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n
root = os.geteuid() == 0
stats_dir = tempfile.mkdtemp(prefix="mmhint-bench-stats.")
atexit.register(shutil.rmtree, stats_dir, True)


def warm(p=path):
    subprocess.run(["cat", p], stdout=subprocess.DEVNULL, check=True)


def drop():
    os.sync()  # dirty pages survive drop_caches
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def shim(mode="on", **extra):
    env = {"LD_PRELOAD": lib, "MMHINT_CONFIG": "", "MMHINT_READ_MMAP": mode}
    env.update({"MMHINT_" + k.upper(): str(v) for k, v in extra.items()})
    return env


def run(cmd, env, before=None):
    e = dict(os.environ)
    e.pop("LD_PRELOAD", None)
    e.update(env)
    if before:
        before()
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out, _ = p.communicate()
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("%s exited %d" % (" ".join(cmd), p.returncode))
    return dt, out.decode()


def layout(kind):
    """Puts the whole file in the page cache in a known layout: 'large' as a sequential
    reader leaves it (readahead builds large folios, which a mapping maps many pages per
    fault), 'small' one 4 KiB page per folio (as 4 KiB random reads leave it)."""
    if not root:
        return False
    drop()
    if kind == "large":
        warm()
        return True
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    for off in range(0, os.fstat(fd).st_size, 4096):
        os.pread(fd, 4096, off)
    os.close(fd)
    return True


def case(name, variants, anchor=0, before=None, io=False, same=lambda o: o.split("read_bytes=")[0]):
    """variants: [(label, cmd, env)]; anchor: index of the variant the others are compared with."""
    if args.only and args.only not in name:
        return
    times = [[] for _ in variants]
    outs = [[] for _ in variants]
    for _ in range(args.runs):
        for i, (label, cmd, env) in enumerate(variants):
            t, o = run(cmd, env, before)
            times[i].append(t)
            outs[i].append(o)
    print(name)
    med = [statistics.median(t) for t in times]
    strip = same
    ref = strip(outs[anchor][0])
    for i, (label, cmd, env) in enumerate(variants):
        line = "  %-34s %8.3f s" % (label, med[i])
        if i != anchor:
            per = [times[anchor][k] / times[i][k] for k in range(args.runs)]
            line += "   %.2fx vs %s (rounds %.2f-%.2f)" % (med[anchor] / med[i], variants[anchor][0], min(per), max(per))
        if io:
            rb = statistics.median(int(o.split("read_bytes=")[1].split()[0]) for o in outs[i])
            line += "   read_bytes %.1f MiB" % (rb / 1048576)
        if any(strip(o) != ref for o in outs[i]):
            line += "   OUTPUT DIFFERS"
        print(line, flush=True)


def make_db(p, rows):
    stamp = p + ".rows"
    if os.path.exists(p) and os.path.exists(stamp) and open(stamp).read().strip() == str(rows):
        return p
    for q in (p, stamp):
        if os.path.exists(q):
            os.unlink(q)
    subprocess.run(["sqlite3", p,
                    "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                    "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); "
                    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<%d) "
                    "INSERT INTO t SELECT i, randomblob(360) FROM c;" % rows],
                   check=True, stdout=subprocess.DEVNULL)
    with open(stamp, "w") as f:
        f.write("%d\n" % rows)
    return p


def lookups(n, rows):
    # n primary-key lookups at pseudo-random ids (a Lehmer generator: every run asks for the same rows).
    return ("WITH RECURSIVE r(i,k) AS (SELECT 0, 1 UNION ALL SELECT i+1, (k*48271) %% 2147483647 FROM r "
            "WHERE i < %d) SELECT count(*), sum(length(v)) FROM r JOIN t ON t.id = 1 + (r.k %% %d);" % (n - 1, rows))


plain = {}
print("file %s, %d MiB; medians of %d interleaved rounds" % (path, args.size >> 20, args.runs), flush=True)
warm()

if args.sweep:
    layout("large")
    for bs in (4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1 << 20):
        for passes in (1, 3):
            cmd = [reader, "read", path, str(bs), str(passes)]
            case("read %d KiB x %d pass(es), cached" % (bs >> 10, passes),
                 [("plain", cmd, plain), ("read_mmap=on", cmd, shim("on"))], before=warm)
    sys.exit(0)

r4k1 = [reader, "read", path, "4096", "1"]
if layout("small"):
    case("read() 4 KiB loop, one pass over a cached 1 GiB file, cached in 4 KiB pieces (small folios)",
         [("plain", r4k1, plain), ("read_mmap=auto", r4k1, shim("auto"))], before=warm)
    layout("large")
case("read() 4 KiB loop, one pass over a cached 1 GiB file%s" % (", cached by a sequential reader" if root else ""),
     [("plain", r4k1, plain), ("read_mmap=auto", r4k1, shim("auto")),
      ("read_mmap=auto, statistics on", r4k1, shim("auto", stats=stats_dir + "/"))], before=warm)
r4k3 = [reader, "read", path, "4096", "3"]
case("read() 4 KiB loop, three passes (lseek to 0 between)",
     [("plain", r4k3, plain), ("read_mmap=auto", r4k3, shim("auto"))], before=warm)
dd = ["dd", "if=" + path, "of=/dev/null", "bs=4k"]
case("dd if=F of=/dev/null bs=4k", [("plain", dd, plain), ("read_mmap=auto", dd, shim("auto"))], before=warm)
r1m = [reader, "read", path, str(1 << 20), "1"]
case("read() 1 MiB loop (auto must decline)",
     [("plain", r1m, plain), ("read_mmap=auto", r1m, shim("auto"))], before=warm)
if root:
    pr = [reader, "prand", path, "4096", "20000", "5"]
    case("20,000 random 4 KiB preads, cold cache",
         [("plain", pr, plain), ("read_mmap=auto", pr, shim("auto"))], before=drop, io=True)
    layout("large")
else:
    print("cold cases skipped (need root for drop_caches)")

if subprocess.run(["sh", "-c", "command -v sqlite3"], stdout=subprocess.DEVNULL).returncode == 0:
    db = make_db(os.path.join(args.dir, "mmhint-readmap-bench.db"), args.db_rows)
    sql = lookups(args.lookups, args.db_rows)
    base = ["sqlite3", "-readonly", db, "PRAGMA cache_size=-2000;"]
    anchor = ["sqlite3", "-readonly", db, "PRAGMA mmap_size=%d;" % os.path.getsize(db), "PRAGMA cache_size=-2000;", sql]
    case("sqlite3 -readonly, %d random primary-key lookups, %d MB database (cached)"
         % (args.lookups, os.path.getsize(db) // 1000000),
         [("PRAGMA mmap_size (anchor)", anchor, plain), ("plain", base + [sql], plain),
          ("read_mmap=on", base + [sql], shim("on"))], before=lambda: warm(db),
         same=lambda o: o.strip().splitlines()[-1])  # the anchor also prints the mmap_size it set
else:
    print("sqlite3 missing: its case skipped")
