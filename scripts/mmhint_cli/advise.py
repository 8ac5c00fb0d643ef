"""`mmhint advise`: proposes a config file from observed behaviour.

Each rule below is tested on its own and proposes its policy where the
statistics show that the policy both can take effect and was measured to help
(docs/CLI.md gives the measurement behind each rule); rules that fire on the
same file combine into one [rule].  Policies that cannot take effect are not
proposed, and an `# evidence:` line says why.

  small reads            most reads through the file's own descriptors <= 32 KiB,
                         file >= 64 KiB, >= 16 reads; >= 80% sequential, or the file
                         was >= 90% cached at open; opened read-only only
                         -> read_mmap = auto
  cold stream            file >= 64 MiB read once front to back (bytes read within
                         10% of its size, >= 90% sequential) through descriptors,
                         <= 10% of it cached at open (or --protect-cache)
                         -> drop_behind = on
  cold random            file >= 1 MiB read at random (< 70% sequential, < 30% of the
                         reads consecutive, >= 16 reads), <= 10% of it cached at open
                         -> prefetch = auto; with read_mmap = auto where most reads are
                         <= 32 KiB, there are >= 2 reads per 4 KiB page of the file and
                         read_mmap can take effect (read-only opens)
  learned prefetch       file >= 1 MiB read at random (< 70% sequential, >= 16 reads),
                         <= 10% of it cached at open, with a `touched` map in the
                         statistics that covers < 50% of it or a file larger than
                         prefetch_max (--prefetch-max, else the value the statistics
                         record); needs --out or --pmap for the map it writes
                         -> prefetch = learned, prefetch_map = the map

Not proposed, because they were measured to cost wall time here or to gain
nothing beyond noise (docs/CLI.md; `mmhint tune` tries them on your program):
advice = random (sqlite3 random lookups on a cold cache: 0.56x), advice =
sequential, mmap_advice = random, hugepages = thp.
A file that is mostly written (more bytes written to it than read from it)
gets no read policy, whatever its reads look like; nor does a file whose
reads took less than 4 ms per process that read it (a read policy cannot
repay the library's start-up there; docs/CLI.md).
"""

import argparse
import os
import re
import sys

from . import pmap
from . import stats as st
from .common import BYTES, UserError, human, parse_size
from .parsing import Formatter

KIB = 1024
MIB = 1024 * 1024
SMALL_READ = 32 * KIB
MIN_FILE = 64 * KIB
MIN_READS = 16
LARGE_FILE = 64 * MIB
COLD = 0.10   # at most this share of the file's pages cached at open: cold
WARM = 0.90   # at least this share: warm
LEARNED_MIN_FILE = 1 * MIB   # the library keeps no touched map below this (policy/cov.h)
LEARNED_SHARE = 0.50         # a touched share below this: prefetching the file whole would read mostly waste


def glob_escape(path):
    """Escapes the characters the library's glob matcher treats specially."""
    return re.sub(r"([\\*?\[\]])", r"\\\1", path)


def small_fraction(f):
    """Fraction of the file's descriptor reads (read, pread; not stdio, which
    read->mmap cannot convert) of at most 32 KiB: from the sampled read
    lengths when there are any, else from the histogram (the 10K-100K bucket
    counts as small when the average read is at most 32 KiB)."""
    lens = [r[2] for r in f["samples"] if r[3] in ("r", "p")]
    if lens:
        return sum(1 for n in lens if n <= SMALL_READ) / len(lens), "of %d sampled reads" % len(lens)
    reads = (f.get("reads") or 0) - (f.get("eof_reads") or 0)
    if reads <= 0:
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
    return sum(1 for a, b in zip(rows, rows[1:]) if b[1] > a[1]) / (len(rows) - 1)


def residency(f):
    """(share of the file's pages cached when it was first opened, text), or
    (None, why) when the statistics cannot tell: `residency_at_open`
    (written whenever statistics are on), else the hints' `residency_open`
    (written only when a hint was on)."""
    r = f.get("residency_at_open")
    src = "residency_at_open"
    if not isinstance(r, dict):
        r = (f.get("hints") or {}).get("residency_open")
        src = "hints.residency_open"
    if not isinstance(r, dict) or not r.get("pages"):
        return None, "these statistics do not say how much of it was cached at open (no residency_at_open)"
    share = (r.get("resident") or 0) / r["pages"]
    return share, "%.0f%% of its %d pages cached at open (%s%s)" % (
        100 * share, r["pages"], src, "" if r.get("exact", True) else ", sampled")


def open_modes_text(m):
    return "opened read-only %d, write-only %d, read-write %d times" % (
        m.get("read") or 0, m.get("write") or 0, m.get("rdwr") or 0)


# ---- Where a read policy cannot take effect ------------------------------------

def read_side_excluded(f):
    """Why no read policy (read_mmap, drop_behind, advice) is proposed for
    file F, or None.  One condition per reason."""
    if (f.get("bytes_written") or 0) > (f.get("bytes_read") or 0):
        return "mostly written (%s written, %s read): no read policy" % (
            human(f.get("bytes_written") or 0, BYTES), human(f.get("bytes_read") or 0, BYTES))
    if not f.get("reads") and f.get("stdio_reads"):
        return ("read only through stdio (%d fread/fgets-family calls): those reads happen inside libc, where "
                "read_mmap, drop_behind and advice=auto do not see them" % f["stdio_reads"])
    return None


def read_mmap_excluded(f):
    """Why read_mmap cannot take effect on F although its reads suit it, or None."""
    modes = f.get("open_modes")
    if isinstance(modes, dict) and ((modes.get("rdwr") or 0) + (modes.get("write") or 0)) > 0:
        return ("%s: read_mmap converts only read-only descriptions (it would fall back, reason open_flags); "
                "read_mmap_writable = on would allow it, with the caveats in docs/READMAP.md"
                % open_modes_text(modes))
    if (f.get("fallbacks") or {}).get("open_flags"):
        return "read_mmap fell back %d times for the open flags (open_flags)" % f["fallbacks"]["open_flags"]
    return None


# ---- Where a read policy cannot pay for itself ----------------------------------

# A process run under the library pays its start-up and exit once: with
# read_mmap = on and statistics (what `mmhint ab` and `tune` measure) a paired
# median of 0.7-1.0 ms over `cat` of a 6-byte file here, 0.3 ms without
# statistics.  A read policy saves only part of a file's time in reads (4 KiB
# reads of a cached file through read_mmap = auto: 1 MiB of reads (0.3 ms)
# 0.52x, 4 MiB (1.1 ms) 0.84x, 8 MiB (1.9 ms) 0.82x, 16 MiB (4.7 ms) 1.00x,
# 32 MiB (5.9 ms) 1.35x; docs/CLI.md), so below this much time in a file's
# reads per process that read it, no read policy is proposed.
MIN_READ_TIME_NS = 4_000_000


def read_time_excluded(f, min_ns=MIN_READ_TIME_NS):
    """Why no read policy is proposed for file F because its reads took too
    little time, per process that read it, to repay the library's start-up
    (MIN_READ_TIME_NS), or None.  Statistics without read_time_ns say
    nothing here, nor do those of a run whose reads of F were already served
    from a mapping (converted_reads): their time is not what plain reads
    take."""
    reads = f.get("reads") or 0   # read_time_ns times the descriptor reads only
    t = f.get("read_time_ns")
    if not reads or not isinstance(t, int) or t <= 0 or (f.get("converted_reads") or 0) > 0:
        return None
    procs = max(1, f.get("processes") or 1)
    per = t / procs
    if per >= min_ns:
        return None
    return ("its reads took %.2f ms%s, below the %.0f ms a read policy needs to repay the library's start-up "
            "(0.7-1.0 ms with read_mmap = on and statistics; 4 KiB reads of cached files broke even at 4.7 ms, "
            "docs/CLI.md): no read policy" % (per / 1e6, " per process (%d processes)" % procs if procs > 1 else "",
                                             min_ns / 1e6))


# ---- The rules -----------------------------------------------------------------
# Each takes (file, its common figures, the command-line options) and returns
# (options or None, evidence lines).  docs/CLI.md has the measurement of each.

def rule_small_reads(f, x, args):
    if x["size"] < MIN_FILE or (f.get("reads") or 0) < MIN_READS:
        return None, []
    frac, how = small_fraction(f)
    if frac is None or frac <= 0.5:
        return None, []
    ev = ["%.0f%% %s are <= 32K" % (100 * frac, how)]
    if x["seq"] < 0.8:
        if x["resident"] is None or x["resident"] < WARM:
            ev.append("small reads but %.0f%% sequential and the file was not known to be cached at open: "
                      "read_mmap of random reads of a cold file was slower here (0.61x for sqlite3); not proposed"
                      % (100 * x["seq"]))
            return None, ev
        ev.append("random small reads of a cached file")
    why = read_mmap_excluded(f)
    if why:
        ev.append(why + "; read_mmap not proposed")
        return None, ev
    modes = f.get("open_modes")
    ev.append("%s: serve the reads from a mapping" % (open_modes_text(modes) if isinstance(modes, dict)
                                                      else "open mode not recorded (older statistics)"))
    return {"read_mmap": "auto"}, ev


def rule_cold_stream(f, x, args):
    size, nbytes = x["size"], f.get("bytes_read") or 0
    if not (size >= LARGE_FILE and x["seq"] >= 0.9 and 0.9 * size <= nbytes <= 1.1 * size):
        return None, []
    ev = ["read once front to back (%.2f x its size)" % (nbytes / size)]
    if args.protect_cache:
        ev.append("--protect-cache: drop pages behind the reader so that the stream does not evict other "
                  "programs' cache (%s)" % x["resident_text"])
        return {"drop_behind": "on"}, ev
    if x["resident"] is None:
        ev.append(x["resident_text"] + ": cannot know whether drop_behind would help (on a cached file it "
                  "only costs); not proposed; --protect-cache proposes it anyway")
        return None, ev
    if x["resident"] > COLD:
        ev.append("%s: the file was cached, drop_behind would only cost (1.20x slower for grep here); "
                  "not proposed" % x["resident_text"])
        return None, ev
    ev.append("%s: a cold stream, drop pages behind the reader" % x["resident_text"])
    return {"drop_behind": "on"}, ev


PREFETCH_MIN = 1 * MIB  # the prefetch_min default: smaller files are left to kernel readahead


def rule_cold_random(f, x, args):
    """A file read at random that was not cached at open: the reads wait for
    one small random I/O each, where bringing the file in with large
    sequential requests first is faster (prefetch = auto: off until the
    classifier sees random reads, then the whole file if it fits
    prefetch_max; docs/HINTS.md, "Prefetch")."""
    reads = f.get("reads") or 0
    if x["size"] < PREFETCH_MIN or reads < MIN_READS:
        return None, []
    if not (x["seq"] < 0.7 and (f.get("consec_reads") or 0) < 0.3 * reads):
        return None, []
    if x["resident"] is None:
        return None, [x["resident_text"] + ": cannot tell whether the file was cold; prefetch not proposed"]
    if x["resident"] > COLD:
        return None, ["read at random, but %s: the cache served it; prefetch not proposed" % x["resident_text"]]
    ev = ["read at random (%.0f%% sequential, %d of %d reads consecutive) and %s: bring it in with large "
          "sequential requests once random reads start (a file above prefetch_max, by default half of "
          "MemAvailable or of the memory cgroup's room, falls back)" % (100 * x["seq"], f.get("consec_reads") or 0, reads, x["resident_text"])]
    opts = {"prefetch": "auto"}
    extra, why = prefetch_read_mmap(f, x)
    ev.append(why)
    opts.update(extra)
    return opts, ev


# Reads per page of the file above which, once prefetch has brought the file
# in, the reads' system calls outweigh what the cold start costs: at 2.58 reads
# a page (sqlite3, 200,000 cold lookups in a 392 MiB db) prefetch = auto alone
# was 0.69x of sqlite's own mmap_size and with read_mmap = auto 1.00x (the file
# comes in at the disk's rate either way; after that pread's system call and
# copy cost 1.31x sqlite's mapping, scripts/bench rows 3a, 3e, 3i); at 0.26
# reads a page (20,000 lookups) the conversion gained nothing (0.30 s against
# 0.33 s, within noise), so it is not proposed there.
PREFETCH_READS_PER_PAGE = 2.0


def prefetch_read_mmap(f, x):
    """With prefetch = auto proposed for F: ({"read_mmap": "auto"} or {}, the
    evidence line).  Proposed when most reads are small, the file is read so
    many times over that the reads of the cached file decide the run, and
    read_mmap can take effect on it."""
    reads = (f.get("reads") or 0) - (f.get("eof_reads") or 0)
    pages = max(1, x["size"] // 4096)
    per_page = reads / pages
    frac, how = small_fraction(f)
    if frac is None or frac <= 0.5:
        return {}, "reads mostly larger than 32K: read_mmap not proposed with the prefetch"
    if per_page < PREFETCH_READS_PER_PAGE:
        return {}, ("%.2f reads per page of the file: the cold start decides the run; read_mmap not proposed with "
                    "the prefetch (it pays from %.0f reads a page)" % (per_page, PREFETCH_READS_PER_PAGE))
    why = read_mmap_excluded(f)
    if why:
        return {}, why + "; read_mmap not proposed with the prefetch"
    return {"read_mmap": "auto"}, (
        "%.2f reads per page of the file, %.0f%% %s <= 32K: once the prefetch has brought it in, serve the reads "
        "from a mapping (prefetch alone was 0.69x of sqlite's own mmap_size at 2.58 reads a page, with "
        "read_mmap 1.00x)" % (per_page, 100 * frac, how))


def note_random_preads(f, x, args):
    """Random preads: advice = random was measured slower (sqlite3 random
    lookups on a cold cache, 0.56x: this disk reads 128 KiB nearly as fast
    as 4 KiB and neighbouring pages are often wanted next), so it is only
    noted, never proposed."""
    reads = f.get("reads") or 0
    if not (reads >= MIN_READS and x["seq"] < 0.7 and (f.get("consec_reads") or 0) < 0.3 * reads):
        return None, []
    preads = [r for r in f["samples"] if r[3] == "p"]
    sampled = [r for r in f["samples"] if r[3] in ("r", "p", "s")]
    if not sampled or len(preads) * 2 <= len(sampled):
        return None, []
    return None, ["%d consecutive; %d of %d sampled reads are preads: random access; advice = random not proposed "
                  "(measured 0.56x for cold random lookups here; try it with mmhint tune)"
                  % (f.get("consec_reads") or 0, len(preads), len(sampled))]


def prefetch_max_of(f, args):
    """(prefetch_max in bytes or None, where it came from): --prefetch-max,
    else the effective value the statistics' processes recorded."""
    if getattr(args, "prefetch_max", None):
        return parse_size(args.prefetch_max), "--prefetch-max"
    v = f.get("_prefetch_max")
    if v:
        return v, "the statistics' prefetch_max"
    return None, None


def rule_prefetch_learned(f, x, args):
    """Random reads of a cold file whose touched map is a small part of it,
    or which is too large for prefetch = auto to bring in whole: prefetch
    exactly the ranges this run touched (prefetch = learned).  Placed after
    the other rules so that, where a rule proposing prefetch = auto fires on
    the same file, learned wins: it reads less."""
    t = f.get("touched")
    reads = f.get("reads") or 0
    if not t or not t["ranges"] or t["size"] < LEARNED_MIN_FILE or reads < MIN_READS or x["seq"] >= 0.7:
        return None, []
    size = t["size"]
    got = pmap.touched_bytes(t)
    share = got / size if size else 1.0
    ev = ["touched map: %d ranges of %s granules, %s of %s (%.0f%%)%s"
          % (len(t["ranges"]), human(t["granule"], BYTES), human(got, BYTES), human(size, BYTES), 100 * share,
             ", pages of its mappings included" if t.get("from_mappings") else "")]
    if x["resident"] is None or x["resident"] > COLD:
        ev.append("%s: not cold at open, nothing to prefetch; prefetch = learned not proposed" % x["resident_text"])
        return None, ev
    pmax, src = prefetch_max_of(f, args)
    too_large = pmax is not None and size > pmax
    if not too_large and share >= LEARNED_SHARE:
        ev.append("random reads of a cold file that touched %.0f%% of it%s: learned would read nearly the whole "
                  "file; not proposed" % (100 * share, "" if pmax is None else ", which fits prefetch_max %s (%s)"
                                          % (human(pmax, BYTES), src)))
        return None, ev
    why = ("larger than prefetch_max %s (%s), which prefetch = auto would not bring in" % (human(pmax, BYTES), src)
           if too_large else "the touched %.0f%% is less than half of it" % (100 * share))
    path = getattr(args, "pmap_path", None)
    if not path:
        ev.append("random reads of a cold file, %s: prefetch = learned would fit; give --out FILE (or --pmap FILE) "
                  "to write its map" % why)
        return None, ev
    ev.append("random reads of a cold file, %s (%s): prefetch the touched ranges at open"
              % (why, x["resident_text"]))
    return {"prefetch": "learned", "prefetch_map": path}, ev


# The rules, in the order their evidence is printed.
RULES = [rule_small_reads, rule_cold_stream, rule_cold_random, note_random_preads, rule_prefetch_learned]


def classify(f, args):
    """Returns (options dict or None, evidence lines) for one merged file."""
    if f.get("type") not in (None, "regular"):
        return None, []
    size = f.get("size") or 0
    reads = f.get("reads") or 0
    nbytes = f.get("bytes_read") or 0
    seq = st.seq_ratio(f) or 0.0
    resident, resident_text = residency(f)
    x = {"size": size, "seq": seq, "resident": resident, "resident_text": resident_text}
    ev = []
    if reads:
        ev.append("%d reads, %s read, average %s, %.0f%% sequential; file size %s"
                  % (reads, human(nbytes, BYTES), human(nbytes / reads, BYTES), 100 * seq, human(size, BYTES)))
    elif f.get("stdio_reads"):
        ev.append("%d stdio reads, %s read; file size %s" % (f["stdio_reads"], human(f.get("stdio_bytes_read") or 0,
                                                                                     BYTES), human(size, BYTES)))
    opts = {}
    min_ns = MIN_READ_TIME_NS if getattr(args, "min_read_time", None) is None else int(args.min_read_time * 1e6)
    why = read_side_excluded(f) or read_time_excluded(f, min_ns)
    if why:
        if reads or f.get("stdio_reads"):
            ev.append(why)
    else:
        for rule in RULES:
            o, e = rule(f, x, args)
            ev.extend(e)
            if o:
                opts.update(o)
    if not opts:
        return None, ev
    return opts, ev


def learned_map(merged, args, sources):
    """The prefetch map's text for the files advise proposes prefetch = learned
    for, or None when there is none."""
    entries = []
    for f in merged["files"]:
        opts, _ = classify(f, args)
        if opts and opts.get("prefetch") == "learned":
            t = f["touched"]
            entries.append({"paths": f["paths"], "size": t["size"], "granule": t["granule"], "ranges": t["ranges"]})
    if not entries:
        return None
    return pmap.format_map(entries, ["written by 'mmhint advise' from %d stats file(s); read by prefetch = learned "
                                     "(docs/HINTS.md)" % len(sources)])


def with_prefetch_max(merged):
    """Notes on each merged file the largest prefetch_max its processes ran
    with (from their recorded options), for rule_prefetch_learned."""
    vals = []
    for p in merged["processes"]:
        o = (p.get("options") or {}).get("prefetch_max")
        v = o.get("value") if isinstance(o, dict) else None
        if isinstance(v, int) and not isinstance(v, bool):
            vals.append(v)
        elif isinstance(v, str):
            try:
                vals.append(parse_size(v))
            except UserError:
                pass
    for f in merged["files"]:
        f["_prefetch_max"] = max(vals) if vals else None
    return merged


def advise(merged, sources, args=None):
    args = args or argparse.Namespace(protect_cache=False)
    with_prefetch_max(merged)
    lines = ["# mmhint config proposed by 'mmhint advise' from %d stats file(s), %d process(es):"
             % (len(sources), len(merged["processes"]))]
    for s in sources[:10]:
        lines.append("#   %s" % s)
    if len(sources) > 10:
        lines.append("#   ... and %d more" % (len(sources) - 10))
    lines.append("# Review it, then use it with: mmhint run --config FILE -- CMD  (or MMHINT_CONFIG=FILE)")
    lines.append("")
    proposals = []
    maps = []
    for f in merged["files"]:
        opts, ev = classify(f, args)
        if opts:
            # prefetch_map is a process option (one map serves every file): it goes before the first [rule].
            m = opts.pop("prefetch_map", None)
            if m and m not in maps:
                maps.append(m)
            proposals.append((f, opts, ev))
    if maps:
        lines.append("# the prefetch map of prefetch = learned (one per process: every file's ranges are in it)")
        lines.append("prefetch_map = %s" % maps[0])
        lines.append("")
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
        for k in ("read_mmap", "advice", "mmap_advice", "drop_behind", "prefetch"):
            if k in opts:
                lines.append("%s = %s" % (k, opts[k]))
        lines.append("")
    # Files read a lot for which a rule was considered and declined: say why.
    declined = [(f, ev) for f in merged["files"] for o, ev in [classify(f, args)]
                if not o and len(ev) > 1 and st.total_bytes(f) >= MIN_FILE]
    for f, ev in declined[:20]:
        lines.append("# no policy for %s: %s" % (f["path"], "; ".join(ev)))
    if declined:
        lines.append("")
    if not proposals:
        lines.append("# nothing to propose: no file pattern here matches a policy measured to help")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- The command ------------------------------------------------------------

def map_path_of(args):
    """Where the prefetch map goes: --pmap, else --out's path + '.pmap', else
    nowhere (learned is then not proposed).  Absolute, because the config
    that names it may be used from any directory."""
    if args.pmap:
        return os.path.abspath(args.pmap)
    if args.out:
        return os.path.abspath(args.out) + ".pmap"
    return None


def write_text(path, text):
    """Writes TEXT to PATH through a temporary file renamed over it (a reader sees the old file or the new one)."""
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UserError("cannot write %s: %s" % (path, e.strerror or e))


def cmd_advise(args):
    docs, skipped = st.load_inputs(args.inputs)
    merged = st.merge(docs)
    sources = [d["_source"] for d in docs]
    args.pmap_path = map_path_of(args)
    text = advise(merged, sources, args)
    pm = learned_map(merged, args, sources) if args.pmap_path else None
    if pm is not None:
        write_text(args.pmap_path, pm)
    if args.out:
        write_text(args.out, text)
        sys.stderr.write("mmhint advise: wrote %s%s\n" % (args.out, " and " + args.pmap_path if pm else ""))
    else:
        sys.stdout.write(text)
        if pm is not None:
            sys.stderr.write("mmhint advise: wrote the prefetch map %s\n" % args.pmap_path)
    return 1 if skipped else 0


def add_parser(sub):
    """Adds `mmhint advise` to SUB; its help gives this module's heuristics."""
    ad = sub.add_parser("advise", help="propose a config file from stats", formatter_class=Formatter,
                        description="Read stats files and print a config file (to stdout) with one rule per file "
                                    "or directory whose observed pattern a policy is known to help, each preceded "
                                    "by '# evidence:' lines with the numbers.\n\n" + __doc__.split("\n\n", 1)[1],
                        epilog="example:\n  mmhint run --stats /tmp/s -- ./prog && mmhint advise /tmp/s > prog.conf\n"
                               "  mmhint ab --plain-a --config-b prog.conf -- ./prog")
    ad.add_argument("--protect-cache", action="store_true",
                    help="propose drop_behind for every large file read once, cached or not, so that streaming it "
                         "does not evict other programs' pages (costs time on a cached file)")
    ad.add_argument("--out", metavar="FILE",
                    help="write the config to FILE instead of stdout, and the prefetch map of any "
                         "prefetch = learned proposal to FILE.pmap")
    ad.add_argument("--pmap", metavar="FILE",
                    help="write the prefetch map to FILE (default with --out: FILE.pmap; without either, "
                         "prefetch = learned is not proposed)")
    ad.add_argument("--prefetch-max", metavar="SIZE",
                    help="the prefetch_max the advised config runs with (default: the value recorded in the "
                         "statistics, if any): a random reader of a cold file larger than this gets "
                         "prefetch = learned")
    ad.add_argument("--min-read-time", metavar="MS", type=float,
                    help="propose no read policy for a file whose reads took less than MS milliseconds per process "
                         "(default %g: what a policy needs to repay the library's start-up, docs/CLI.md; 0 judges "
                         "every file by its pattern alone, e.g. for a long-running service)" % (MIN_READ_TIME_NS / 1e6))
    ad.add_argument("inputs", nargs="*", metavar="STATS.json|DIR")
    ad.set_defaults(func=cmd_advise)
    return ad
