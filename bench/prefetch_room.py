#!/usr/bin/env python3
"""bench/prefetch_room.py: how large a file prefetch = whole may bring in,
measured against the memory there is (the default prefetch_max, issue 15).
Not a test.

A machine's memory is simulated by a memory cgroup's limit (v1 or v2; needs
root): for each limit, a cold random reader (`fileread pread-random F 4K
--count K`, K = 40,000 over a 256 MiB file by default) runs plain and under
`prefetch=whole` with prefetch_max forced past any limit, interleaved in a
random order per round, the file made cold (POSIX_FADV_DONTNEED) before each
run.  Before each run a second file (64 MiB: the rest of what the cgroup
caches, another file of the program's or another program's) is read into the
cache in the same cgroup; after the run, its resident share says what the
prefetch pushed out.  Prints, per limit, the median wall times, plain/prefetch
(> 1: the prefetch is faster) and the other file's median resident share
after each side.

  bench/prefetch_room.py [--build DIR] [--size BYTES] [--count K] [--rounds N]
                         [--limits MiB,MiB,...] [--dir DIR]
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default=os.environ.get("MMHINT_BUILD_DIR", "build"))
ap.add_argument("--size", type=int, default=256 << 20)
ap.add_argument("--count", type=int, default=40000)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--limits", default="1024,512,384,256,192")
ap.add_argument("--dir", default="/var/tmp")
args = ap.parse_args()

build = os.path.abspath(args.build)
lib = os.path.join(build, "libmmhint.so")
fileread = os.path.join(build, "examples", "fileread")
reader = os.path.join(build, "tests", "programs", "prefetch_reader")
if os.geteuid() != 0:
    sys.exit("prefetch_room: needs root (a memory cgroup)")
if os.path.isdir("/sys/fs/cgroup/memory"):
    cg, limit_file = "/sys/fs/cgroup/memory/mmhint-prefetch-room", "memory.limit_in_bytes"
elif "memory" in open("/sys/fs/cgroup/cgroup.subtree_control").read().split():
    cg, limit_file = "/sys/fs/cgroup/mmhint-prefetch-room", "memory.max"
else:
    sys.exit("prefetch_room: no memory cgroup here")
path = os.path.join(args.dir, "mmhint-prefetch-room-%d.dat" % args.size)
if not os.path.exists(path) or os.path.getsize(path) != args.size:
    subprocess.run([fileread, "--make", path, str(args.size)], check=True, stdout=subprocess.DEVNULL)
other = os.path.join(args.dir, "mmhint-prefetch-room-other.dat")
if not os.path.exists(other) or os.path.getsize(other) != 64 << 20:
    subprocess.run([fileread, "--make", other, str(64 << 20)], check=True, stdout=subprocess.DEVNULL)
limits = [int(x) for x in args.limits.split(",")]


def in_cg(cmd, env=None, out=subprocess.DEVNULL):
    return subprocess.run(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg] + cmd, env=env, check=True,
                          stdout=out, text=True)

os.makedirs(cg, exist_ok=True)
res = {}
try:
    for _ in range(args.rounds):
        for lim in limits:
            with open(os.path.join(cg, limit_file), "w") as f:
                f.write(str(lim << 20))
            sides = ["plain", "prefetch"]
            random.shuffle(sides)
            for side in sides:
                subprocess.run([reader, "evict", path], check=True)
                subprocess.run([reader, "evict", other], check=True)
                in_cg(["cat", other])
                env = dict(os.environ)
                env.pop("LD_PRELOAD", None)
                if side == "prefetch":
                    env.update(LD_PRELOAD=lib, MMHINT_CONFIG="", MMHINT_PREFETCH="whole", MMHINT_PREFETCH_MAX="64G")
                t = time.monotonic()
                in_cg([fileread, "pread-random", path, "4K", "--count", str(args.count)], env=env)
                res.setdefault((lim, side), []).append(time.monotonic() - t)
                kept = subprocess.run([reader, "resident", other], check=True, capture_output=True, text=True)
                res.setdefault((lim, side, "other"), []).append(int(kept.stdout.split()[0]))
finally:
    for _ in range(50):
        try:
            os.rmdir(cg)
            break
        except OSError:
            time.sleep(0.1)
print("file %d MiB, %d random 4 KiB preads, %d rounds" % (args.size >> 20, args.count, args.rounds))
for lim in limits:
    a, b = statistics.median(res[(lim, "plain")]), statistics.median(res[(lim, "prefetch")])
    print("limit %5d MiB (file/limit %.2f): plain %.3f s, prefetch=whole %.3f s, plain/prefetch %.2fx; "
          "the other 64 MiB file still %d%% resident after plain, %d%% after prefetch"
          % (lim, (args.size >> 20) / lim, a, b, a / b, statistics.median(res[(lim, "plain", "other")]),
             statistics.median(res[(lim, "prefetch", "other")])))
