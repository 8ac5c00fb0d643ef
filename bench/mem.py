#!/usr/bin/env python3
"""bench/mem.py: what hugepages=thp buys, and what the router costs below its window.

Every comparison runs its variants interleaved (A B C A B C ...) in one
invocation, so machine noise affects all alike; results are ratios of medians.
The programs are unmodified: examples/hugepage_chase and bench/mem_churn call
plain malloc.

  chase   pointer chasing over a SIZE (1 GiB) malloc'd array, ns per step:
          plain, LD_PRELOAD shim with MMHINT_HUGEPAGES=thp, and glibc's own
          GLIBC_TUNABLES=glibc.malloc.hugetlb=1.  Targets: thp >= 1.25x plain,
          >= 1.0x the tunable; peak RSS (ru_maxrss) of thp <= 1.05x plain.
  touch   first touch of a 2 GiB malloc (one write per 4 KiB), seconds inside
          the program: plain vs thp.  Target >= 4x.
  churn   PAIRS malloc/free pairs of 16-512 bytes (below the window), wall time:
          plain vs the shim with hugepages=thp.  Target overhead <= 2%.
          Plus instructions per malloc+free pair from callgrind, with and
          without the shim (difference of two run lengths, so start-up cancels).

Usage: bench/mem.py [--build DIR] [--runs N] [--only chase,touch,churn,callgrind]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    """Runs cmd; returns (fields of its 'result' line, wall seconds, peak RSS KiB)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"mem.py: {' '.join(cmd)} failed ({p.returncode}): {err.strip()[:300]}")
    line = [l for l in out.splitlines() if l.startswith("result ")][-1]
    fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    return fields, wall, ru.ru_maxrss


def interleave(variants, runs, cmd, key):
    res = {name: [] for name in variants}
    rss = {name: [] for name in variants}
    for _ in range(runs):
        for name, env in variants.items():
            f, wall, maxrss = run(cmd, env)
            res[name].append(wall if key == "wall" else float(f[key]))
            rss[name].append(maxrss)
    return {n: statistics.median(v) for n, v in res.items()}, {n: statistics.median(v) for n, v in rss.items()}


def callgrind_ir(cmd, env):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        with open(out) as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chase-size", default="1G")
    ap.add_argument("--chase-steps", type=int, default=8_000_000)
    ap.add_argument("--touch-size", default="2G")
    ap.add_argument("--pairs", type=int, default=20_000_000)
    ap.add_argument("--only", default="chase,touch,churn,callgrind")
    args = ap.parse_args()
    only = set(args.only.split(","))

    lib = os.path.abspath(os.path.join(args.build, "libmmhint.so"))
    chase = os.path.abspath(os.path.join(args.build, "examples", "hugepage_chase"))
    churn = os.path.abspath(os.path.join(args.build, "bench", "mem_churn"))
    for p in (lib, chase, churn):
        if not os.path.exists(p):
            sys.exit(f"mem.py: {p} is missing; build first")
    base = dict(os.environ)
    for k in list(base):
        if k.startswith("MMHINT_") or k in ("LD_PRELOAD", "GLIBC_TUNABLES"):
            del base[k]
    base["MMHINT_CONFIG"] = ""
    plain = dict(base)
    thp = dict(base, LD_PRELOAD=lib, MMHINT_HUGEPAGES="thp")
    tunable = dict(base, GLIBC_TUNABLES="glibc.malloc.hugetlb=1")
    thp_mode = open("/sys/kernel/mm/transparent_hugepage/enabled").read().strip()
    print(f"THP: {thp_mode}; runs per variant: {args.runs} (medians)")

    if "chase" in only:
        cmd = [chase, "chase", args.chase_size, "--steps", str(args.chase_steps)]
        med, rss = interleave({"plain": plain, "thp": thp, "tunable": tunable}, args.runs, cmd, "ns_per_step")
        print(f"chase {args.chase_size}: ns/step plain {med['plain']:.1f}  thp {med['thp']:.1f}  "
              f"glibc.malloc.hugetlb=1 {med['tunable']:.1f}")
        print(f"  speed-up thp/plain {med['plain'] / med['thp']:.2f}x (target >= 1.25)  "
              f"thp/tunable {med['tunable'] / med['thp']:.2f}x (target >= 1.0)")
        print(f"  peak RSS MiB plain {rss['plain'] / 1024:.0f}  thp {rss['thp'] / 1024:.0f}  "
              f"tunable {rss['tunable'] / 1024:.0f}: thp/plain {rss['thp'] / rss['plain']:.3f} (target <= 1.05)")
    if "touch" in only:
        cmd = [chase, "first-touch", args.touch_size]
        med, _ = interleave({"plain": plain, "thp": thp}, args.runs, cmd, "seconds")
        print(f"first touch {args.touch_size}: plain {med['plain']:.3f} s  thp {med['thp']:.3f} s  "
              f"speed-up {med['plain'] / med['thp']:.2f}x (target >= 4)")
    if "churn" in only:
        cmd = [churn, str(args.pairs)]
        med, _ = interleave({"plain": plain, "shim": thp}, max(args.runs, 5), cmd, "wall")
        print(f"churn {args.pairs} pairs 16-512 B: wall plain {med['plain']:.3f} s  shim(thp) {med['shim']:.3f} s  "
              f"ratio {med['shim'] / med['plain']:.4f} (target <= 1.02)")
    if "callgrind" in only:
        if subprocess.run(["which", "valgrind"], stdout=subprocess.DEVNULL).returncode != 0:
            print("callgrind: valgrind not installed, skipped")
        else:
            n1, n2 = 100_000, 300_000
            per = {}
            for name, env in (("plain", plain), ("shim", thp)):
                a = callgrind_ir([churn, str(n1)], env)
                b = callgrind_ir([churn, str(n2)], env)
                per[name] = (b - a) / (n2 - n1)
            print(f"callgrind instructions per malloc+free pair (incl. the loop): plain {per['plain']:.1f}  "
                  f"shim {per['shim']:.1f}  (+{per['shim'] - per['plain']:.1f})")


if __name__ == "__main__":
    main()
