"""What every policy did, in words: per file (read->mmap and its fallbacks,
the fadvise/madvise hints, drop-behind, residency) and per run (huge pages,
NUMA placement).  report.py prints these lines, html.py puts them in the
page's headline and tables.

The reason names are declared once in the library (policy/readmap_fallbacks.h
MMHINT_FALLBACKS for read->mmap, docs/MEMORY.md for memory); the words here
say the same for a reader of the report, and tests/cli/test_report.py checks
that every declared reason has words."""

from . import stats as st
from .common import BYTES, COUNT, human, human_ns

# read->mmap fallbacks (policy/readmap_fallbacks.h MMHINT_FALLBACKS), in words.
FALLBACK_WORDS = {
    "not_regular": "not a regular file",
    "too_small": "smaller than read_mmap_min_file",
    "open_flags": "opened for writing (read-write or write-only), O_DIRECT, O_APPEND or O_PATH",
    "inherited": "a descriptor this process did not open",
    "shared": "a description shared with another process (fork, SCM_RIGHTS)",
    "large_read": "a read larger than read_mmap_max_read under read_mmap=auto",
    "flags": "preadv2 flags that a mapping cannot honour",
    "map_failed": "the file could not be mapped",
    "address_cap": "read_mmap_max_mapped was reached",
    "filesystem": "a filesystem that does not support mapping",
    "changed": "the file changed size or was truncated under a read",
    "fault": "a page faulted during the copy (the file shrank, or the buffer was not the program's)",
    "zero_tail": "reads kept ending in zero bytes, each of which costs a size check",
    "on_large_read": "a read larger than 1 MiB under read_mmap=on, done by the kernel (copying loses there)",
}

# Memory fallbacks (docs/MEMORY.md, memory.fallbacks), in words.
MEMORY_FALLBACK_WORDS = {
    "hugetlb_pool": "the hugetlbfs pool had no free huge pages",
    "thp_unavailable": "transparent huge pages are off (THP 'never') or madvise refused",
    "numa_nodes": "a NUMA node asked for does not exist here",
    "mbind_failed": "mbind refused the placement",
    "map_failed": "the huge page mapping failed",
    "registry_full": "too many routed regions to track",
    "numa_process": "the process-wide NUMA policy could not be set",
}


def fallback_words(reason):
    return FALLBACK_WORDS.get(reason, reason.replace("_", " "))


def _pages(n):
    return "%d pages (%s)" % (n, human(n * 4096, BYTES))


def file_effects(f):
    """Lines saying what each policy did to the merged file F; [] when no
    policy was on for it and nothing fell back."""
    pol = f.get("policy") or {}
    out = []
    rm = pol.get("read_mmap", "off")
    if rm not in ("off", None) or f.get("fallbacks"):
        reads = f.get("reads") or 0
        conv = f.get("converted_reads") or 0
        line = "read_mmap=%s: %s of %s reads served from a mapping (%s)" % (
            rm, human(conv, COUNT), human(reads, COUNT), human(f.get("converted_bytes") or 0, BYTES))
        if rm not in ("off", None) and not conv:
            line += ": it did not take effect"
        out.append(line)
        for reason, n in sorted((f.get("fallbacks") or {}).items(), key=lambda kv: -kv[1]):
            out.append("  fell back %s time%s: %s" % (human(n, COUNT), "" if n == 1 else "s", fallback_words(reason)))
    h = f.get("hints") or {}
    adv = pol.get("advice", "none")
    if adv not in ("none", None) or h.get("advice_calls"):
        errs = h.get("advice_errors") or 0
        out.append("advice=%s: posix_fadvise %s call%s, %s error%s%s" % (
            adv, human(h.get("advice_calls") or 0, COUNT), "" if h.get("advice_calls") == 1 else "s",
            human(errs, COUNT), "" if errs == 1 else "s", ": it did not take effect" if errs and
            errs >= (h.get("advice_calls") or 0) else ""))
    madv = pol.get("mmap_advice", "none")
    if madv not in ("none", None) or h.get("madvise_calls"):
        errs = h.get("madvise_errors") or 0
        out.append("mmap_advice=%s: madvise %s call%s on the program's mappings, %s error%s" % (
            madv, human(h.get("madvise_calls") or 0, COUNT), "" if h.get("madvise_calls") == 1 else "s",
            human(errs, COUNT), "" if errs == 1 else "s"))
    if h.get("willneed_calls"):
        out.append("willneed_ahead: %s WILLNEED requests for %s ahead of the reader" % (
            human(h["willneed_calls"], COUNT), human(h.get("willneed_bytes") or 0, BYTES)))
    if (pol.get("drop_behind") is True or h.get("drop_calls")) and not h.get("dropped_bytes"):
        out.append("drop_behind: nothing released (%s calls; it releases only pages the reader brought into the "
                   "page cache)" % human(h.get("drop_calls") or 0, COUNT))
    elif pol.get("drop_behind") is True or h.get("drop_calls"):
        out.append("drop_behind: %s of the %s asked released from the page cache in %s calls%s" % (
            human(h.get("dropped_bytes") or 0, BYTES), human(h.get("drop_asked_bytes") or 0, BYTES),
            human(h.get("drop_calls") or 0, COUNT),
            "" if h.get("dropped_bytes_exact", True) else " (estimated)"))
    ro, rc = h.get("residency_open"), h.get("residency_close")
    if isinstance(ro, dict) or isinstance(rc, dict):
        parts = []
        for label, r in (("at open", ro), ("at close", rc)):
            if isinstance(r, dict) and r.get("pages"):
                parts.append("%s %d of %s in the page cache (%.0f%%)" % (
                    label, r.get("resident") or 0, _pages(r["pages"]),
                    100.0 * (r.get("resident") or 0) / r["pages"]))
        if parts:
            out.append("residency: " + "; ".join(parts))
    if h.get("pattern") and h.get("pattern") != "unknown":
        out.append("access pattern seen by the hints: %s (%s switch%s)" % (
            h["pattern"], human(h.get("pattern_switches") or 0, COUNT),
            "" if h.get("pattern_switches") == 1 else "es"))
    out.extend(prefetch_effects(f))
    return out


PREFETCH_FALLBACK_WORDS = {
    "too_large": "the file was larger than prefetch_max",
    "busy": "too many files were being prefetched at once",
    "no_thread": "the helper thread could not be started",
    "reopen": "the shim could not open or map its own view of the file",
    "error": "a request was refused by the kernel; the prefetch stopped there",
    "incomplete": "pages were still missing after the one retry allowed (I/O errors or memory pressure)",
    "learned_map": "prefetch=learned had no usable map entry: it ran as auto",
}


def prefetch_effects(f):
    """Lines saying what the prefetch did to the merged file F (its "prefetch"
    section and the prefetch_* counters); [] when it never asked for one."""
    p = f.get("prefetch")
    if not isinstance(p, dict):
        return []
    out = []
    jobs = p.get("jobs") or 0
    asked = f.get("prefetch_bytes") or 0
    line = "prefetch=%s: " % p.get("mode", "?")
    if not jobs:
        line += "did not start" + (" (the file was only read sequentially: kernel readahead kept it)"
                                   if p.get("mode") in ("auto", "learned") and not p.get("auto_started") else "")
        out.append(line)
    else:
        ended = ", ".join("%s %s" % (human(p.get(k) or 0, COUNT), w) for k, w in (
            ("completed", "completed"), ("stopped_close", "stopped at close"), ("stopped_exit", "stopped at exit"))
            if p.get(k))
        line += "%s job%s (%s), %s asked in %s requests, %s of it already in the page cache, in %s" % (
            human(jobs, COUNT), "" if jobs == 1 else "s", ended or "still running", human(asked, BYTES),
            human(p.get("requests") or 0, COUNT), human(f.get("prefetch_resident_bytes") or 0, BYTES),
            human_ns(f.get("prefetch_time_ns") or 0))
        out.append(line)
        if p.get("residency_measured") and p.get("resident_after_bytes") is not None and p.get("completed"):
            out.append("  resident when it ended: %s%s" % (
                human(p["resident_after_bytes"], BYTES),
                " (%s asked once more after the first pass)" % human(p["retried_bytes"], BYTES)
                if p.get("retried_bytes") else ""))
        parts = []
        for k, label in (("reads_before", "before it started"), ("reads_during", "while it ran"),
                         ("reads_after", "after it completed")):
            n = p.get(k) or 0
            if not n:
                continue
            t = p.get("read_ns_" + k.split("_")[1])
            parts.append("%s %s%s" % (human(n, COUNT), label,
                                      " (average %s)" % human_ns(t / n) if isinstance(t, int) else ""))
        if parts:
            out.append("  reads: " + ", ".join(parts))
        if p.get("auto_started"):
            out.append("  auto started when the reads turned random, at offset %s" % p["auto_started"].get("offset"))
    for reason, n in sorted((p.get("fallbacks") or {}).items(), key=lambda kv: -kv[1]):
        if n:
            out.append("  fell back %s time%s: %s" % (human(n, COUNT), "" if n == 1 else "s",
                                                       PREFETCH_FALLBACK_WORDS.get(reason, reason)))
    return out


def memory_policy(merged):
    """The memory options in force, as [(process exe, "hugepages=thp")], from
    each process's options (or its memory.policy)."""
    out = []
    for p in merged["processes"]:
        o = p.get("options") or {}
        mpol = (p.get("memory") or {}).get("policy") or {}
        for k in ("hugepages", "numa", "numa_process"):
            v = (o.get(k) or {}).get("value") if isinstance(o.get(k), dict) else None
            if v is None:
                v = mpol.get(k)
            if v not in (None, "off", "", "0"):
                out.append((p["exe"], "%s=%s" % (k, v)))
    return out


def memory_effects(merged):
    """Lines saying what the memory policies did (requested vs obtained,
    pages per node, fallbacks), or the one line "no memory policy in force"."""
    asked = memory_policy(merged)
    if not asked:
        return ["no memory policy in force (hugepages, numa and numa_process are off)"]
    out = ["memory policy in force: " + ", ".join(sorted({"%s (%s)" % (s, exe) for exe, s in asked}))]
    mem = merged["memory"]
    hp = mem.get("huge_pages") or {}
    if any(s.startswith("hugepages=") for _, s in asked):
        req, got = hp.get("requested_bytes") or 0, hp.get("obtained_bytes") or 0
        line = "huge pages: %s obtained of %s requested" % (human(got, BYTES), human(req, BYTES))
        if req and not got:
            line += ": it did not take effect"
        elif not req:
            line += " (no allocation was in the size window)"
        out.append(line)
    if any(s.startswith("numa") for _, s in asked):
        nodes = mem.get("numa_pages") or {}
        if nodes:
            out.append("pages per NUMA node: " + ", ".join(
                "node %s %s" % (n, _pages(v)) for n, v in sorted(nodes.items()) if isinstance(v, int)))
    for k, v in sorted((mem.get("fallbacks") or {}).items()):
        if isinstance(v, int) and v:
            out.append("  fell back %s time%s: %s" % (human(v, COUNT), "" if v == 1 else "s",
                                                      MEMORY_FALLBACK_WORDS.get(k, k.replace("_", " "))))
    return out


def unobserved_files(merged):
    """Files whose reads could not be timed: read only through stdio."""
    return [f for f in merged["files"] if not (f.get("reads") or 0) and (f.get("stdio_reads") or 0)]


def stdio_hist(f):
    """A read-size histogram of the file's sampled stdio reads (the library
    counts stdio reads but keeps their sizes only in the samples)."""
    hist = {n: 0 for n in st.HIST_NAMES}
    for row in f.get("samples") or []:
        if row[3] == "s":
            hist[st.bucket_of(row[2])] += 1
    return hist
