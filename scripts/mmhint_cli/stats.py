"""Reading and merging stats files (format: docs/STATS.md, schema
mmhint-stats/1).

A loaded file is a dict as written by the library.  merge() adds the
processes of many files together: files are keyed by (dev, ino); counters are
combined by their kind from include/mmhint_counters.def (SUM added, MAX
largest, MIN smallest non-zero); the read-size histogram and fallbacks are
added; samples are put on one time axis (ns since the earliest process start).
"""

import json
import os
import re

from .common import BYTES, COUNT, UserError, load_counters, warn
from . import pmap

SCHEMA = "mmhint-stats/1"
HIST_NAMES = ["0-100", "100-1K", "1K-10K", "10K-100K", "100K-1M", "1M-4M", "4M-10M",
              "10M-100M", "100M-1G", "1G+"]
# Upper bound (exclusive, bytes) of each histogram bucket; None for the last.
HIST_BOUNDS = [100, 1000, 10000, 100000, 1000000, 4000000, 10000000, 100000000, 1000000000, None]
POLICY_DEFAULTS = {"read_mmap": "off", "advice": "none", "mmap_advice": "none", "drop_behind": False}
MERGED_SAMPLES_MAX = 4096


def _bad(path, why):
    return UserError("%s: not a valid mmhint stats file: %s" % (path, why))


def _check_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def load_file(path):
    """Reads and checks one stats file; raises UserError on any problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise UserError("cannot read %s: %s" % (path, e.strerror or e))
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _bad(path, "not UTF-8 text")
    except json.JSONDecodeError as e:
        raise _bad(path, "JSON error at line %d column %d: %s" % (e.lineno, e.colno, e.msg))
    if not isinstance(doc, dict):
        raise _bad(path, "the top level is not a JSON object")
    schema = doc.get("schema")
    if schema != SCHEMA:
        raise _bad(path, "schema is %s, this tool reads %s" % (json.dumps(schema), SCHEMA))
    proc = doc.get("process")
    if not isinstance(proc, dict):
        raise _bad(path, "'process' is missing or not an object")
    files = doc.get("files", [])
    if not isinstance(files, list):
        raise _bad(path, "'files' is not a list")
    for i, f in enumerate(files):
        if not isinstance(f, dict):
            raise _bad(path, "files[%d] is not an object" % i)
        for k in ("dev", "ino"):
            if not _check_int(f.get(k)):
                raise _bad(path, "files[%d].%s is missing or not an integer" % (i, k))
        if not isinstance(f.get("paths", []), list):
            raise _bad(path, "files[%d].paths is not a list" % i)
        for name in load_counters():
            if name in f and not _check_int(f[name]):
                raise _bad(path, "files[%d].%s is not an integer" % (i, name))
    mem = doc.get("memory", {})
    if mem is not None and not isinstance(mem, dict):
        raise _bad(path, "'memory' is not an object")
    doc["_source"] = path
    return doc


# A stats file's name: the writer appends .1, .2, ... when the name exists
# (docs/STATS.md), so "x.json.1" is as much a stats file as "x.json".
STATS_NAME = re.compile(r".*\.json(\.[0-9]+)?$")
# Other JSON documents mmhint writes (ab --json, report --json), which a
# directory of results may hold beside the stats files.
OTHER_SCHEMAS = ("mmhint-ab/", "mmhint-report/")


def expand_inputs(args):
    """Returns [(path, found_in_directory)] for the stats files named by ARGS:
    a file as it is, a directory as every *.json and *.json.N below it
    (sorted).  Raises UserError when an argument does not exist or a
    directory holds no stats files."""
    out = []
    if not args:
        raise UserError("no stats files given")
    for a in args:
        if os.path.isdir(a):
            found = []
            for root, dirs, names in os.walk(a):
                dirs.sort()
                for n in sorted(names):
                    if STATS_NAME.match(n):
                        found.append(os.path.join(root, n))
            if not found:
                raise UserError("%s: no *.json stats files in this directory" % a)
            out.extend((p, True) for p in found)
        elif os.path.exists(a):
            out.append((a, False))
        else:
            raise UserError("%s: no such file or directory" % a)
    return out


def _other_document(path):
    """True when PATH is a JSON document of another mmhint schema (ab.json)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    m = re.search(rb'"schema"\s*:\s*"([^"]*)"', head)
    return bool(m) and any(m.group(1).decode(errors="replace").startswith(s) for s in OTHER_SCHEMAS)


def load_inputs(args):
    """Loads the stats files named by ARGS.  A file named on the command
    line must be valid (UserError otherwise); a file found in a directory
    that is not valid is named on stderr and skipped, and the other files
    are still read.  JSON documents of other mmhint schemas in a directory
    (ab.json) are skipped without a word.  Returns (docs, skipped), skipped
    being the number of bad files left out; raises UserError when no file
    remains."""
    docs, skipped = [], 0
    for path, in_dir in expand_inputs(args):
        if in_dir and _other_document(path):
            continue
        try:
            docs.append(load_file(path))
        except UserError as e:
            if not in_dir:
                raise
            warn("skipping %s" % e)
            skipped += 1
    if not docs:
        raise UserError("no valid stats files in %s" % ", ".join(args))
    assign_process_ids(docs)
    return docs, skipped


def load_all(args):
    """The documents of load_inputs(ARGS), bad files of a directory skipped."""
    return load_inputs(args)[0]


def assign_process_ids(docs):
    """Gives each document a "_id", distinct across DOCS: the pid, with the
    writer's ".N" suffix when the file has one (an exec of the same program
    keeps the pid and the name), else ".N" in the order of start time when
    two documents share a pid."""
    seen = {}
    for d in sorted(docs, key=lambda d: (_proc_start(d), d["_source"])):
        pid = d["process"].get("pid")
        m = re.search(r"\.json\.([0-9]+)$", d["_source"])
        ident = "%s.%s" % (pid, m.group(1)) if m else str(pid)
        n = 0
        base = ident
        while ident in seen:
            n += 1
            ident = "%s.%d" % (base, n)
        seen[ident] = d
        d["_id"] = ident


# ---- Merging ---------------------------------------------------------------

def _merge_counter(kind, a, b):
    """Combines two values of a counter of KIND (SUM, MAX or MIN, from the
    counter table); None is a value not seen yet."""
    if a is None:
        return b
    if b is None:
        return a
    if kind == "SUM":
        return a + b
    if kind == "MAX":
        return max(a, b)
    # MIN: the smallest non-zero value.
    if a == 0:
        return b
    if b == 0:
        return a
    return min(a, b)


def _add_dict(dst, src):
    """Adds the numbers of SRC into DST recursively; other values: last wins."""
    for k, v in (src or {}).items():
        if isinstance(v, bool):
            dst[k] = v
        elif isinstance(v, (int, float)):
            dst[k] = dst.get(k, 0) + v if isinstance(dst.get(k, 0), (int, float)) else v
        elif isinstance(v, dict):
            sub = dst.get(k)
            if not isinstance(sub, dict):
                sub = dst[k] = {}
            _add_dict(sub, v)
        elif isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            cur = dst.get(k)
            if isinstance(cur, list) and len(cur) == len(v):
                dst[k] = [x + y for x, y in zip(cur, v)]
            else:
                dst[k] = list(v)
        else:
            dst[k] = v


# Hint figures that are not added across processes: the first residency at
# open, the last at close, the last pattern; logs are concatenated (bounded).
HINT_LOG_MAX = 256


def _merge_hints(dst, src):
    for k, v in src.items():
        if k == "residency_open":
            if dst.get(k) is None:
                dst[k] = v
        elif k in ("residency_close", "pattern", "dropped_bytes_exact", "est_hit_permille"):
            if v is not None:
                dst[k] = v
        elif isinstance(v, list):
            dst[k] = (dst.get(k) or []) + v[:max(0, HINT_LOG_MAX - len(dst.get(k) or []))]
        elif isinstance(v, dict):
            _add_dict(dst.setdefault(k, {}), v)
        elif _check_int(v):
            dst[k] = (dst.get(k) or 0) + v
        else:
            dst[k] = v


def _merge_prefetch(dst, src):
    """Counts add up; the mode, errno and residency flag are the last
    process's; auto_started is the first."""
    for k, v in src.items():
        if k == "auto_started":
            if dst.get(k) is None:
                dst[k] = v
        elif k in ("mode", "last_errno", "residency_measured"):
            dst[k] = v
        elif isinstance(v, dict):
            _add_dict(dst.setdefault(k, {}), v)
        elif _check_int(v):
            dst[k] = (dst.get(k) or 0) + v
        elif k not in dst:
            dst[k] = v


def _proc_start(doc):
    p = doc["process"]
    s = p.get("start_ns")
    return s if _check_int(s) else 0


def merge(docs):
    """Merges loaded stats documents.  Returns
    {"processes": [...], "files": [...], "memory": {...}, "unobserved": [...],
     "warnings": [...], "start_ns": N, "sources": [...]}.
    Each merged file has the counters, "paths", "type", "size" (largest
    size_at_open), "read_size_hist", "write_size_hist", "fallbacks", "open_modes" (added) and
    "residency_at_open" (of the earliest process) and "touched" (the union of
    the processes' maps, pmap.merge_touched) when the files have them,
    "policy" (from the process
    that ended last; "mixed" values where processes disagreed), "samples"
    (rows [t_ns since start_ns, offset, length, op, pid]) and "exes"."""
    counters = load_counters()
    starts = [_proc_start(d) for d in docs if _proc_start(d)]
    t0 = min(starts) if starts else 0
    files = {}
    processes = []
    memory = {}
    unobserved = []
    warnings = []
    order = sorted(docs, key=lambda d: (d["process"].get("end_ns") or 0, d["_source"]))
    for doc in order:
        p = doc["process"]
        exe = p.get("exe") or "?"
        pfiles = doc.get("files") or []
        pbytes = sum((f.get("bytes_read") or 0) + (f.get("stdio_bytes_read") or 0) for f in pfiles)
        processes.append({
            "pid": p.get("pid"), "process": doc.get("_id", str(p.get("pid"))), "ppid": p.get("ppid"), "exe": exe, "argv": p.get("argv") or [],
            "host": p.get("host"), "wall_ns": p.get("wall_ns"), "start_ns": p.get("start_ns"),
            "end_ns": p.get("end_ns"), "end_reason": p.get("end_reason"), "files": len(pfiles), "bytes": pbytes,
            "options": p.get("options") or {}, "source": doc["_source"],
            "memory": doc.get("memory") or {},
        })
        for u in p.get("unobserved") or []:
            if u not in unobserved:
                unobserved.append(u)
        for w in p.get("warnings") or []:
            if w not in warnings:
                warnings.append(w)
        _add_dict(memory, doc.get("memory") or {})
        shift = (_proc_start(doc) - t0) if t0 and _proc_start(doc) else 0
        for f in pfiles:
            key = (f["dev"], f["ino"])
            m = files.get(key)
            if m is None:
                m = files[key] = {"dev": f["dev"], "ino": f["ino"], "paths": [], "type": f.get("type", "other"),
                                  "size": 0, "read_size_hist": {n: 0 for n in HIST_NAMES},
                                  "write_size_hist": {n: 0 for n in HIST_NAMES},
                                  "fallbacks": {}, "policy": None, "samples": [], "samples_seen": 0,
                                  "exes": [], "processes": 0}
                for name in counters:
                    m[name] = None
            m["processes"] += 1
            for path in f.get("paths") or []:
                if path not in m["paths"]:
                    m["paths"].append(path)
            if exe not in m["exes"]:
                m["exes"].append(exe)
            if _check_int(f.get("size_at_open")):
                m["size"] = max(m["size"], f["size_at_open"])
            for name, c in counters.items():
                if _check_int(f.get(name)):
                    m[name] = _merge_counter(c["kind"], m[name], f[name])
            for k, v in (f.get("read_size_hist") or {}).items():
                if _check_int(v):
                    m["read_size_hist"][k] = m["read_size_hist"].get(k, 0) + v
            for k, v in (f.get("write_size_hist") or {}).items():
                if _check_int(v):
                    m["write_size_hist"][k] = m["write_size_hist"].get(k, 0) + v
            for k, v in (f.get("fallbacks") or {}).items():
                if _check_int(v):
                    m["fallbacks"][k] = m["fallbacks"].get(k, 0) + v
            # How the file was opened (added) and how much of it was cached
            # at the first open of the earliest process that measured it.
            if isinstance(f.get("open_modes"), dict):
                _add_dict(m.setdefault("open_modes", {}), f["open_modes"])
            r = f.get("residency_at_open")
            if isinstance(r, dict) and (m.get("residency_at_open") is None
                                        or _proc_start(doc) < m["_residency_start"]):
                m["residency_at_open"] = r
                m["_residency_start"] = _proc_start(doc)
            hints = f.get("hints")
            if isinstance(hints, dict):
                _merge_hints(m.setdefault("hints", {}), hints)
            pf = f.get("prefetch")
            if isinstance(pf, dict):
                _merge_prefetch(m.setdefault("prefetch", {}), pf)
            # The ranges reads and mappings touched: the union over processes (scripts/mmhint_cli/pmap.py).
            if "touched" in f:
                t = pmap.merge_touched(m.get("touched"), f["touched"])
                if t is not None:
                    m["touched"] = t
            pol = f.get("policy")
            if isinstance(pol, dict):
                if m["policy"] is None:
                    m["policy"] = dict(pol)
                else:
                    for k, v in pol.items():
                        if k in m["policy"] and m["policy"][k] != v and k != "rule":
                            m["policy"][k] = "mixed"
                        elif k == "rule" or k not in m["policy"]:
                            m["policy"][k] = v
            s = f.get("samples") or {}
            cols = s.get("columns") or ["t_ns", "offset", "length", "op"]
            try:
                it, io, il, iop = (cols.index(c) for c in ("t_ns", "offset", "length", "op"))
            except ValueError:
                it = None
            if it is not None:
                for row in s.get("rows") or []:
                    if isinstance(row, list) and len(row) >= len(cols):
                        m["samples"].append([row[it] + shift, row[io], row[il], row[iop], p.get("pid")])
            m["samples_seen"] += s.get("seen", 0) if _check_int(s.get("seen")) else 0
    out_files = []
    for m in files.values():
        for name in counters:
            if m[name] is None:
                m[name] = 0
        m["samples"].sort(key=lambda r: (r[0], r[1]))
        if len(m["samples"]) > MERGED_SAMPLES_MAX:
            step = len(m["samples"]) / MERGED_SAMPLES_MAX
            m["samples"] = [m["samples"][int(i * step)] for i in range(MERGED_SAMPLES_MAX)]
        if m["policy"] is None:
            m["policy"] = dict(POLICY_DEFAULTS, rule=None)
        m.pop("_residency_start", None)
        m["path"] = m["paths"][0] if m["paths"] else "dev %d ino %d" % (m["dev"], m["ino"])
        out_files.append(m)
    out_files.sort(key=lambda m: (m["path"], m["dev"], m["ino"]))
    return {"processes": processes, "files": out_files, "memory": memory, "unobserved": unobserved,
            "warnings": warnings, "start_ns": t0, "sources": [d["_source"] for d in order]}


# ---- Derived per-file figures ------------------------------------------------

def total_reads(f):
    return (f.get("reads") or 0) + (f.get("stdio_reads") or 0)


def total_bytes(f):
    return (f.get("bytes_read") or 0) + (f.get("stdio_bytes_read") or 0)


def total_writes(f):
    """Write-family and stdio-level write calls."""
    return (f.get("writes") or 0) + (f.get("stdio_writes") or 0)


def total_bytes_written(f):
    """Bytes written by write-family calls and taken by stdio-level writes."""
    return (f.get("bytes_written") or 0) + (f.get("stdio_bytes_written") or 0)


def mostly_written(f):
    """True when more bytes were written to the file than read from it."""
    return total_bytes_written(f) > total_bytes(f)


def seq_ratio(f):
    """Fraction of read-family calls that started at or after the previous
    read's end, or None when there were none."""
    r = f.get("reads") or 0
    return (f.get("seq_reads") or 0) / r if r else None


def memory_unit(key):
    """The unit of the memory section's counter KEY.  The memory counters
    are declared in policy/ (stats.h, memroute.c), not in a table this
    command reads, so the unit follows the names: every byte figure has
    "bytes" in its name."""
    return BYTES if "bytes" in key else COUNT


def bucket_of(n):
    """The name of the read-size histogram bucket of a read of N bytes."""
    for name, bound in zip(HIST_NAMES, HIST_BOUNDS):
        if bound is None or n < bound:
            return name
    return HIST_NAMES[-1]


def dominant_bucket(f, hist=None):
    hist = hist if hist is not None else (f.get("read_size_hist") or {})
    best = None
    for name in HIST_NAMES:
        v = hist.get(name, 0)
        if v and (best is None or v > hist[best]):
            best = name
    return best


def policy_text(pol):
    """Non-default policy settings as 'read_mmap=on advice=random', or '-'."""
    if not pol:
        return "-"
    parts = []
    for k in ("read_mmap", "advice", "mmap_advice", "drop_behind"):
        v = pol.get(k, POLICY_DEFAULTS[k])
        if v != POLICY_DEFAULTS[k]:
            parts.append("%s=%s" % (k, ("on" if v is True else v)))
    for k, v in pol.items():
        if k not in POLICY_DEFAULTS and k != "rule" and v not in (None, False, "none", "off", 0):
            parts.append("%s=%s" % (k, v))
    return " ".join(parts) if parts else "-"


def rule_text(rule):
    if isinstance(rule, dict) and rule.get("file"):
        return "%s:%s" % (rule.get("file"), rule.get("line"))
    return "-"
