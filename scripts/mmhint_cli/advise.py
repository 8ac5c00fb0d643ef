"""`mmhint advise`: proposes a config file from observed behaviour.

Heuristics (each proposal is printed with the numbers that led to it):
  small sequential reads      most reads <= 32 KiB, >= 80% sequential, file >= 64 KiB
                              -> read_mmap = auto
  one large sequential stream file >= 64 MiB, bytes read within 10% of its size,
                              >= 90% sequential -> drop_behind = on, advice = sequential
  random preads               >= 16 reads, < 30% of them consecutive (starting where the
                              previous ended), < 70% sequential, most sampled reads
                              are preads -> advice = random
  random use of own mappings  mmaps > 0, >= 4 sampled mmap calls, fewer than 70% of
                              them at a higher offset than the one before (a stream
                              gives ~100%, random offsets ~50%) -> mmap_advice = random
  large allocations           >= 4 allocations in the 1M-32M and 32M+ size classes
                              -> hugepages = thp (process option)
A file that is mostly written (more bytes written to it than read from it)
gets no read policy, whatever its reads look like.
"""

import os
import re
import sys

from . import stats as st
from .common import BYTES, human
from .parsing import Formatter

KIB = 1024
MIB = 1024 * 1024
SMALL_READ = 32 * KIB
MIN_FILE = 64 * KIB
LARGE_FILE = 64 * MIB
MIN_LARGE_ALLOCS = 4


def glob_escape(path):
    """Escapes the characters the library's glob matcher treats specially."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", path)


def small_fraction(f):
    """Fraction of reads of at most 32 KiB: from the sampled read lengths when
    there are any, else from the histogram (the 10K-100K bucket counts as
    small when the average read is at most 32 KiB)."""
    lens = [r[2] for r in f["samples"] if r[3] in ("r", "p", "s")]
    if lens:
        return sum(1 for n in lens if n <= SMALL_READ) / len(lens), "of %d sampled reads" % len(lens)
    reads = f.get("reads") or 0
    if not reads:
        return None, ""
    h = f["read_size_hist"]
    small = h.get("0-100", 0) + h.get("100-1K", 0) + h.get("1K-10K", 0)
    if (f.get("bytes_read") or 0) / reads <= SMALL_READ:
        small += h.get("10K-100K", 0)
    return small / reads, "of %d reads (histogram)" % reads


def sample_seq(rows):
    """Fraction of sampled accesses that start at a higher offset than the
    previous sampled one (samples of a stream are ascending even when thinned)."""
    if len(rows) < 2:
        return None
    seq = 0
    for a, b in zip(rows, rows[1:]):
        if b[1] > a[1]:
            seq += 1
    return seq / (len(rows) - 1)


def classify(f):
    """Returns (options dict, evidence lines) for one merged file, or (None, ...)."""
    if f.get("type") not in (None, "regular"):
        return None, []
    if st.mostly_written(f):
        return None, ["%s written, %s read: mostly written, no read policy"
                      % (human(st.total_bytes_written(f), BYTES), human(st.total_bytes(f), BYTES))]
    size = f.get("size") or 0
    reads = f.get("reads") or 0
    nbytes = f.get("bytes_read") or 0
    seq = st.seq_ratio(f)
    opts = {}
    ev = []
    if reads:
        ev.append("%d reads, %s read, average %s, %.0f%% sequential; file size %s"
                  % (reads, human(nbytes, BYTES), human(nbytes / reads, BYTES), 100 * seq, human(size, BYTES)))
    if reads and size >= LARGE_FILE and seq >= 0.9 and 0.9 * size <= nbytes <= 1.1 * size:
        opts["drop_behind"] = "on"
        opts["advice"] = "sequential"
        ev.append("read once front to back (%.2f x its size): stream it, drop pages behind the reader"
                  % (nbytes / size))
    elif reads and size >= MIN_FILE and seq >= 0.8:
        frac, how = small_fraction(f)
        if frac is not None and frac > 0.5:
            opts["read_mmap"] = "auto"
            ev.append("%.0f%% %s are <= 32K: small sequential reads, serve them from a mapping"
                      % (100 * frac, how))
    elif reads >= 16 and seq < 0.7 and (f.get("consec_reads") or 0) < 0.3 * reads:
        preads = [r for r in f["samples"] if r[3] == "p"]
        sampled = [r for r in f["samples"] if r[3] in ("r", "p", "s")]
        if sampled and len(preads) * 2 > len(sampled):
            opts["advice"] = "random"
            ev.append("%d consecutive; %d of %d sampled reads are preads: random access, turn readahead off"
                      % (f.get("consec_reads") or 0, len(preads), len(sampled)))
    mm = [r for r in f["samples"] if r[3] == "m"]
    if (f.get("mmaps") or 0) > 0 and len(mm) >= 4:
        s = sample_seq(mm)
        if s is not None and s < 0.7:
            opts["mmap_advice"] = "random"
            ev.append("%d mmap calls (%s mapped); %d sampled mappings, %.0f%% in ascending order: random use"
                      % (f["mmaps"], human(f.get("mmap_bytes") or 0, BYTES), len(mm), 100 * s))
    if not opts:
        return None, ev
    return opts, ev


def memory_advice(merged):
    classes = merged["memory"].get("size_classes") or {}
    large = (classes.get("1M-32M") or 0) + (classes.get("32M+") or 0)
    if large >= MIN_LARGE_ALLOCS:
        return ["# evidence: %d allocations of at least 1 MiB (%d in 1M-32M, %d in 32M+), %s requested in all"
                % (large, classes.get("1M-32M") or 0, classes.get("32M+") or 0,
                   human(merged["memory"].get("bytes_requested") or 0, BYTES)),
                "# evidence: huge pages back allocations of hugepage_min (2M) and more",
                "hugepages = thp"]
    return None


def advise(merged, sources):
    lines = ["# mmhint config proposed by 'mmhint advise' from %d stats file(s), %d process(es):"
             % (len(sources), len(merged["processes"]))]
    for s in sources[:10]:
        lines.append("#   %s" % s)
    if len(sources) > 10:
        lines.append("#   ... and %d more" % (len(sources) - 10))
    lines.append("# Review it, then use it with: mmhint run --config FILE -- CMD  (or MMHINT_CONFIG=FILE)")
    lines.append("")
    mem = memory_advice(merged)
    if mem:
        lines.extend(mem)
        lines.append("")
    proposals = []
    for f in merged["files"]:
        opts, ev = classify(f)
        if opts:
            proposals.append((f, opts, ev))
    # Files of one directory that all get the same options share one glob,
    # provided every observed regular file read in that directory does.
    by_dir = {}
    for f in merged["files"]:
        if f.get("type") in (None, "regular") and f["paths"] and (st.total_reads(f) or f.get("mmaps")):
            by_dir.setdefault(os.path.dirname(f["path"]), []).append(f)
    emitted = set()
    for f, opts, ev in proposals:
        d = os.path.dirname(f["path"])
        same = [p for p in proposals if os.path.dirname(p[0]["path"]) == d and p[1] == opts]
        key = None
        if len(same) >= 2 and len(same) == len(by_dir.get(d, [])) and d != "/":
            key = ("dir", d, tuple(sorted(opts.items())))
        if key is not None:
            if key in emitted:
                continue
            emitted.add(key)
            lines.append("# %d files in %s show the same pattern:" % (len(same), d))
            for g, _, gev in same:
                lines.append("# evidence: %s: %s" % (g["path"], "; ".join(gev)))
            pattern = glob_escape(d) + "/*"
        else:
            lines.append("# evidence: %s: %s" % (f["path"], "; ".join(ev)))
            pattern = glob_escape(f["path"])
        lines.append("[rule]")
        lines.append("path = %s" % pattern)
        for k in ("read_mmap", "advice", "mmap_advice", "drop_behind"):
            if k in opts:
                lines.append("%s = %s" % (k, opts[k]))
        lines.append("")
    if not mem and not proposals:
        lines.append("# nothing to propose: no file or allocation pattern here matches a known policy")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- The command ------------------------------------------------------------

def cmd_advise(args):
    docs, skipped = st.load_inputs(args.inputs)
    merged = st.merge(docs)
    sys.stdout.write(advise(merged, [d["_source"] for d in docs]))
    return 1 if skipped else 0


def add_parser(sub):
    """Adds `mmhint advise` to SUB; its help gives this module's heuristics."""
    ad = sub.add_parser("advise", help="propose a config file from stats", formatter_class=Formatter,
                        description="Read stats files and print a config file (to stdout) with one rule per file "
                                    "or directory whose observed pattern a policy is known to help, each preceded "
                                    "by '# evidence:' lines with the numbers.\n\n" + __doc__.split("\n\n", 1)[1],
                        epilog="example:\n  mmhint run --stats /tmp/s -- ./prog && mmhint advise /tmp/s > prog.conf\n"
                               "  mmhint ab --plain-a --config-b prog.conf -- ./prog")
    ad.add_argument("inputs", nargs="*", metavar="STATS.json|DIR")
    ad.set_defaults(func=cmd_advise)
    return ad
