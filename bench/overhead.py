#!/usr/bin/env python3
"""bench/overhead.py: the shim's own cost with every policy off (statistics on).

A and B run interleaved (ABAB...) on the same machine in one invocation, so
that machine noise affects both alike; the result is the ratio of medians.

  A: the workload alone.
  B: the same workload with LD_PRELOAD=libmmhint.so and MMHINT_STATS set.

Workloads (bench/overhead.c):
  read   a read() loop of 4 KiB blocks over a cached file (default 1 GiB):
         whole-process wall time, B/A ratio (target: at most 1.03).
  malloc malloc(64)/free pairs: ns per pair measured inside the process,
         B-A difference (target: at most 5 ns).

Usage: bench/overhead.py [--build DIR] [--size BYTES] [--runs N] [--file PATH]
       bench/overhead.py --callgrind [--build DIR] [--base-lib OTHER/libmmhint.so]

--callgrind: instead of wall time, the instructions callgrind counts inside
the read() wrapper per 4 KiB read of a cached file (the difference between a
16 MiB and a 64 MiB file, over the 12,288 reads between them, so start-up and
exit cancel out), with statistics off, on, and on with stats_touched=0 (the
"touched" map's hook, docs/STATS.md); --base-lib adds the same for another
build, e.g. main's, to compare.  Repeatable under load, unlike wall time.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True, text=True).stdout
    wall = time.perf_counter() - t0
    fields = dict(kv.split("=", 1) for kv in out.split())
    return wall, float(fields["ns_per_op"])


def callgrind_read_ir(prog, lib, path, extra_env):
    """Instructions inside the read() wrapper (callgrind --toggle-collect=read) for one pass of 4 KiB reads of PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_")}
    env.update(extra_env, LD_PRELOAD=lib)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        if "MMHINT_STATS" in env:
            env["MMHINT_STATS"] = d + "/"
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=read", f"--callgrind-out-file={out}",
                        prog, "read", path, "4096"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True)
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def callgrind_main(args, prog, lib):
    files = []
    for size in (16 << 20, 64 << 20):
        path = f"{args.file}.{size >> 20}M"
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                for _ in range(size >> 20):
                    f.write(os.urandom(1 << 20))
        with open(path, "rb") as f:  # cached before counting
            while f.read(1 << 20):
                pass
        files.append(path)
    reads = ((64 << 20) - (16 << 20)) // 4096
    libs = [("this build", lib)] + ([("--base-lib", os.path.abspath(args.base_lib))] if args.base_lib else [])
    modes = [("statistics off", {}), ("statistics on", {"MMHINT_STATS": "x"}),
             ("statistics on, stats_touched=0", {"MMHINT_STATS": "x", "MMHINT_STATS_TOUCHED": "0"})]
    print(f"callgrind instructions inside read() per 4 KiB read of a cached file (load average "
          f"{os.getloadavg()[0]:.2f}; counts do not depend on it)")
    for lname, l in libs:
        for mname, env in modes:
            a = callgrind_read_ir(prog, l, files[0], env)
            b = callgrind_read_ir(prog, l, files[1], env)
            print(f"  {lname:12s} {mname:32s} {(b - a) / reads:7.1f}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--size", type=int, default=1 << 30)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--file", default=os.path.join(tempfile.gettempdir(), "mmhint-bench-overhead.dat"))
    ap.add_argument("--malloc-pairs", type=int, default=20_000_000)
    ap.add_argument("--callgrind", action="store_true", help="count instructions per read instead of timing")
    ap.add_argument("--base-lib", help="with --callgrind: another libmmhint.so to count too")
    args = ap.parse_args()

    lib = os.path.abspath(os.path.join(args.build, "libmmhint.so"))
    prog = os.path.abspath(os.path.join(args.build, "bench", "overhead"))
    for p in (lib, prog):
        if not os.path.exists(p):
            sys.exit(f"overhead: {p} is missing; build first (scripts/setup)")
    if args.callgrind:
        callgrind_main(args, prog, lib)
        return
    if not os.path.exists(args.file) or os.path.getsize(args.file) != args.size:
        with open(args.file, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(args.size >> 20):
                f.write(chunk)
    statsdir = tempfile.mkdtemp(prefix="mmhint-bench-")
    env_a = dict(os.environ)
    env_a.pop("LD_PRELOAD", None)
    env_b = dict(env_a, LD_PRELOAD=lib, MMHINT_STATS=statsdir + "/")

    results = {}
    for name, cmd in (("read", [prog, "read", args.file, "4096"]),
                      ("malloc", [prog, "malloc", str(args.malloc_pairs), "64"])):
        run(cmd, env_a)  # warm-up: page cache, CPU frequency
        run(cmd, env_b)
        a, b = [], []
        for _ in range(args.runs):
            a.append(run(cmd, env_a))
            b.append(run(cmd, env_b))
        results[name] = (a, b)

    wa = statistics.median(w for w, _ in results["read"][0])
    wb = statistics.median(w for w, _ in results["read"][1])
    na = statistics.median(n for _, n in results["read"][0])
    nb = statistics.median(n for _, n in results["read"][1])
    ma = statistics.median(n for _, n in results["malloc"][0])
    mb = statistics.median(n for _, n in results["malloc"][1])
    print(f"machine: {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M')}; runs per side: {args.runs}")
    print(f"read 4 KiB loop over {args.size >> 20} MiB, cached: plain {wa:.3f} s, shim {wb:.3f} s, "
          f"wall ratio shim/plain = {wb / wa:.4f} (target <= 1.03); per call {na:.1f} ns vs {nb:.1f} ns")
    print(f"malloc(64)+free pair: plain {ma:.2f} ns, shim {mb:.2f} ns, difference {mb - ma:+.2f} ns (target <= 5)")
    for f in os.listdir(statsdir):
        os.unlink(os.path.join(statsdir, f))
    os.rmdir(statsdir)


if __name__ == "__main__":
    main()
