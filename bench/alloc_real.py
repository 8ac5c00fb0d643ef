#!/usr/bin/env python3
"""bench/alloc_real.py: the shim's cost on a real allocation-heavy program.

perl building a hash of 1.5 million small arrays makes millions of 16-512 B
allocations, all below the huge-page window.  Three sides run interleaved
(plain, then the shim with hugepages=thp and no statistics, then the same with
statistics on), RUNS times each; the medians and their ratios to plain are
printed.  bench/mem.py's churn row is the pure malloc/free microbenchmark;
this is the same cost seen from a program that does real work between calls.

Usage: bench/alloc_real.py [--build DIR] [--runs N]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time

PERL = ["/usr/bin/perl", "-e", 'my %h; for my $i (1..1500000) { $h{$i} = [$i, "x$i"] } print scalar(keys %h), "\\n"']


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    lib = os.path.abspath(os.path.join(args.build, "libmmhint.so"))
    stats = tempfile.mkdtemp(prefix="mmhint-alloc-")
    sides = {
        "plain": {},
        "hugepages=thp, stats off": {"LD_PRELOAD": lib, "MMHINT_HUGEPAGES": "thp"},
        "hugepages=thp, stats on": {"LD_PRELOAD": lib, "MMHINT_HUGEPAGES": "thp", "MMHINT_STATS": stats + "/"},
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}
    times = {k: [] for k in sides}
    outputs = {k: set() for k in sides}
    for _ in range(args.runs):
        for name, extra in sides.items():
            t0 = time.perf_counter()
            out = subprocess.run(PERL, env=dict(base, **extra), stdout=subprocess.PIPE, check=True).stdout
            times[name].append(time.perf_counter() - t0)
            outputs[name].add(out)
    shutil.rmtree(stats)
    if len(set().union(*outputs.values())) != 1:
        raise SystemExit("alloc_real: the sides printed different output")
    plain = statistics.median(times["plain"])
    print(f"perl, 1.5M small arrays, {args.runs} interleaved runs per side (medians):")
    for name in sides:
        m = statistics.median(times[name])
        print(f"  {name:26s} {m:7.3f} s   ratio to plain {m / plain:.3f}")


if __name__ == "__main__":
    main()
