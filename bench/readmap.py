#!/usr/bin/env python3
"""bench/readmap.py: A/B benchmark of read->mmap (issue 3).  Not a test.

Runs each workload as a whole process, alternately without the shim (A) and
under it with read_mmap=auto (B; read_mmap=on where noted), N times
interleaved, and prints the median wall times and the ratio A/B (> 1: the
shim is faster).  For cold random reads it also prints read_bytes from
/proc/self/io (bytes read from disk) of both.

  bench/readmap.py [--build DIR] [--runs N] [--size BYTES] [--dir DIR]

Needs root for the cold-cache case (echo 3 > /proc/sys/vm/drop_caches);
without it that case is skipped.
"""
import argparse, os, statistics, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.environ.get("MMHINT_BUILD_DIR", "build"))
ap.add_argument("--runs", type=int, default=7)
ap.add_argument("--size", type=int, default=1 << 30)
ap.add_argument("--dir", default="/var/tmp")
ap.add_argument("--only", default="")
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


def warm():
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)


def drop():
    os.sync()  # dirty pages survive drop_caches
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def run(cmd, shim, mode, before=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if shim:
        env.update(LD_PRELOAD=lib, MMHINT_CONFIG="", MMHINT_READ_MMAP=mode)
    if before:
        before()
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t, p.stdout.decode()


def case(name, cmd, mode="auto", before=None, io=False):
    if args.only and args.only not in name:
        return
    a, b, ao, bo = [], [], [], []
    for _ in range(args.runs):
        ta, oa = run(cmd, False, mode, before)
        tb, ob = run(cmd, True, mode, before)
        a.append(ta)
        b.append(tb)
        ao.append(oa)
        bo.append(ob)
    ma, mb = statistics.median(a), statistics.median(b)
    line = "%-44s plain %8.3f s  shim(%s) %8.3f s  ratio %.2fx" % (name, ma, mode, mb, ma / mb)
    if io:
        def rb(outs):
            return statistics.median(int(o.split("read_bytes=")[1].split()[0]) for o in outs)
        ra, rbb = rb(ao), rb(bo)
        line += "  read_bytes plain %d shim %d (%.2fx)" % (ra, rbb, rbb / ra if ra else float("nan"))
    same = all(x.split("read_bytes=")[0] == ao[0].split("read_bytes=")[0] for x in ao + bo)
    print(line + ("" if same else "  OUTPUT DIFFERS"), flush=True)


print("file %s, %d MiB; medians of %d interleaved runs (A = no shim, B = shim)" % (path, args.size >> 20, args.runs))
warm()
case("read 4 KiB, one pass (cached)", [reader, "read", path, "4096", "1"], before=warm)
case("read 4 KiB, three passes (cached)", [reader, "read", path, "4096", "3"], before=warm)
case("dd if=F of=/dev/null bs=4k (cached)", ["dd", "if=" + path, "of=/dev/null", "bs=4k"], before=warm)
case("read 64 KiB, one pass (cached), on", [reader, "read", path, "65536", "1"], mode="on", before=warm)
case("read 1 MiB, one pass (cached), auto", [reader, "read", path, "1048576", "1"], before=warm)
case("read 1 MiB, one pass (cached), on", [reader, "read", path, "1048576", "1"], mode="on", before=warm)
if os.geteuid() == 0:
    case("pread 4 KiB x 20000 random (cold cache)", [reader, "prand", path, "4096", "20000", "5"], before=drop, io=True)
else:
    print("cold-cache case skipped (needs root for drop_caches)")
