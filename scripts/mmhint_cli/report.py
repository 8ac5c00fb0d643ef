"""`mmhint report`: terminal tables, merged JSON and OpenMetrics text from
one or many stats files."""

import json
import os
import re
import socket
import sys
import tempfile
import time

from . import effects, live
from . import stats as st
from .common import BYTES, COUNT, UserError, counter_unit, human, human_ns, table
from .parsing import Formatter

SORT_KEYS = {
    "bytes": lambda f: st.total_bytes(f),
    "time": lambda f: f.get("read_time_ns") or 0,
    "reads": lambda f: st.total_reads(f),
    "written": lambda f: st.total_bytes_written(f),
}


def sorted_files(merged, sort="bytes", top=None):
    key = SORT_KEYS[sort]
    files = sorted(merged["files"], key=lambda f: (-key(f), f["path"]))
    return files[:top] if top else files


def file_row(f):
    """One row of FILE_HEADERS for the merged file F; counters are shown in
    the unit the counter table gives them ('reads' and 'bytes' add the stdio
    level to the read family, in the units of reads and bytes_read; 'opens'
    adds fopen-family streams to open calls).  A file read only through
    stdio has no timed reads ("not timed") and its size bucket comes from
    the sampled stdio reads ("(stdio)").  Reads that returned 0 (end of
    file) do not count in the average or the bucket."""
    reads = st.total_reads(f)
    nbytes = st.total_bytes(f)
    seq = st.seq_ratio(f)
    sized = reads - (f.get("eof_reads") or 0)
    stdio_only = not (f.get("reads") or 0) and (f.get("stdio_reads") or 0)
    if stdio_only:
        bucket = st.dominant_bucket(f, effects.stdio_hist(f))
        bucket = "%s (stdio)" % bucket if bucket else "-"
    else:
        bucket = st.dominant_bucket(f) or "-"
    opens = (f.get("opens") or 0) + (f.get("stdio_opens") or 0)
    return [f["path"], human(opens, counter_unit("opens")), human(reads, counter_unit("reads")),
            human(nbytes, counter_unit("bytes_read")),
            "not timed" if stdio_only else
            (human(f.get("read_time_ns") or 0, counter_unit("read_time_ns")) if reads else "-"),
            human(nbytes / sized, counter_unit("bytes_read")) if sized > 0 else "-",
            bucket,
            ("%.0f%%" % (100 * seq)) if seq is not None else "-",
            human(f.get("converted_bytes"), counter_unit("converted_bytes")) if f.get("converted_bytes") else "-",
            human(st.total_writes(f), counter_unit("writes")) if st.total_writes(f) else "-",
            human(st.total_bytes_written(f), counter_unit("bytes_written")) if st.total_writes(f) else "-",
            st.policy_text(f.get("policy"))]


FILE_HEADERS = ["path", "opens", "reads", "bytes", "read time", "avg read", "size bucket",
                "seq", "converted", "writes", "written", "policy"]


def memory_lines(merged):
    """The memory section: allocations by size class, then what the memory
    policies did (or that none was in force).  Every raw counter is in
    --json."""
    mem = merged["memory"]
    if not mem:
        return ["(no memory section in these stats)"]
    lines = []
    calls = sum(mem.get(k) or 0 for k in ("malloc_calls", "calloc_calls", "realloc_calls", "aligned_calls")
                if isinstance(mem.get(k), int))
    lines.append("allocations: %s calls, %s requested; %s anonymous mmap calls (%s)" % (
        human(calls, COUNT), human(mem.get("bytes_requested") or 0, BYTES), human(mem.get("mmap_anon_calls") or 0,
                                                                                  COUNT),
        human(mem.get("mmap_anon_bytes") or 0, BYTES)))
    classes = mem.get("size_classes")
    if isinstance(classes, dict) and classes:
        lines.append("allocation size classes: "
                     + "  ".join("%s:%s" % (k, human(v, COUNT)) for k, v in classes.items()))
    lines.extend(effects.memory_effects(merged))
    return lines


def process_count(procs):
    """'5', or '5: 2 live, 1 gone' when some of PROCS are snapshots."""
    counts = [(n, sum(1 for p in procs if p.get("state") == n)) for n in ("live", "gone", "other_host")]
    counts = ["%d %s" % (k, n.replace("_", " ")) for n, k in counts if k]
    return "%d: %s" % (len(procs), ", ".join(counts)) if counts else "%d" % len(procs)


def render_text(merged, sort="bytes", top=20):
    out = []
    procs = merged["processes"]
    out.append("== processes (%s) ==" % process_count(procs))
    out.append(table(["pid", "exe", "wall", "files", "bytes read", "end"],
                     [[p["pid"], p["exe"], human_ns(p["wall_ns"]) if p["wall_ns"] is not None else "-",
                       p["files"], human(p["bytes"], BYTES), live.state_text(p)] for p in procs],
                     align="rlrrrl"))
    out.append("")
    files = sorted_files(merged, sort, top)
    total = len(merged["files"])
    shown = "top %d of %d" % (len(files), total) if len(files) < total else "%d" % total
    out.append("== files (%s, by %s) ==" % (shown, sort))
    out.append(table(FILE_HEADERS, [file_row(f) for f in files], align="lrrrrrlrrrrl",
                     max_width=[60] + [None] * 11))
    did = [(f["path"], effects.file_effects(f)) for f in files]
    did = [(p, lines) for p, lines in did if lines]
    if did:
        out.append("")
        out.append("== what the policies did, per file ==")
        for path, lines in did:
            out.append(path)
            out.extend("  " + l for l in lines)
    untimed = effects.unobserved_files({"files": files})
    if untimed:
        out.append("")
        out.append("read only through stdio (not timed; sizes from the samples): "
                   + ", ".join(f["path"] for f in untimed))
    rules = [(f["path"], st.rule_text(f["policy"].get("rule"))) for f in files
             if st.rule_text(f["policy"].get("rule")) != "-"]
    if rules:
        out.append("rules that matched: " + "; ".join("%s <- %s" % r for r in rules))
    out.append("")
    out.append("== memory ==")
    out.extend(memory_lines(merged))
    if merged["warnings"]:
        out.append("")
        out.append("== warnings from the library ==")
        out.extend("  " + w for w in merged["warnings"])
    out.append("")
    out.append("== not observed ==")
    out.extend(("  - " + u) for u in merged["unobserved"]) if merged["unobserved"] else out.append("  (nothing reported)")
    return "\n".join(out) + "\n"


def render_json(merged, sort="bytes", top=None):
    doc = {
        "schema": "mmhint-report/1",
        "sources": merged["sources"],
        "processes": [{k: v for k, v in p.items() if k not in ("memory",)} for p in merged["processes"]],
        "files": [],
        "memory": merged["memory"],
        "unobserved": merged["unobserved"],
        "warnings": merged["warnings"],
    }
    for f in sorted_files(merged, sort, top):
        g = dict(f)
        g["samples"] = {"columns": ["t_ns", "offset", "length", "op", "pid"], "rows": f["samples"],
                        "seen": f["samples_seen"]}
        del g["samples_seen"]
        doc["files"].append(g)
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


# ---- OpenMetrics and the Prometheus text format ------------------------------
#
# Two expositions of the same families.  OpenMetrics (application/openmetrics-
# text): "# TYPE mmhint_file_opens counter", samples "mmhint_file_opens_total",
# ends with "# EOF".  The Prometheus text format 0.0.4, which promtool and
# node_exporter's textfile collector read: the family is named like its
# samples ("mmhint_file_opens_total"), no "# EOF".  Every family has HELP.

def om_escape(v):
    """Escapes a label value per the OpenMetrics and Prometheus text formats."""
    return str(v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def om_labels(pairs):
    return "{" + ",".join('%s="%s"' % (k, om_escape(v)) for k, v in pairs) + "}"


def help_escape(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


FILE_METRICS = [
    # (metric family, type, help, function of one process's file)
    ("mmhint_file_opens", "counter", "open and fopen-family calls that returned a descriptor or stream for the file",
     lambda f: (f.get("opens") or 0) + (f.get("stdio_opens") or 0)),
    ("mmhint_file_reads", "counter", "read-family and stdio read calls that succeeded", st.total_reads),
    ("mmhint_file_eof_reads", "counter", "read-family calls that returned 0 (end of file)",
     lambda f: f.get("eof_reads") or 0),
    ("mmhint_file_bytes_read", "counter", "bytes returned by read-family and stdio read calls", st.total_bytes),
    ("mmhint_file_read_seconds", "counter", "wall time spent in read-family calls (stdio reads are not timed)",
     lambda f: (f.get("read_time_ns") or 0) / 1e9),
    ("mmhint_file_seq_reads", "counter", "reads that started at or after the end of the previous read",
     lambda f: f.get("seq_reads") or 0),
    ("mmhint_file_mmaps", "counter", "mmap calls of the program on the file", lambda f: f.get("mmaps") or 0),
    ("mmhint_file_converted_bytes", "counter", "bytes served from a mapping instead of a system call",
     lambda f: f.get("converted_bytes") or 0),
    ("mmhint_file_size_bytes", "gauge", "largest file size seen at open", lambda f: f.get("size") or 0),
    ("mmhint_file_writes", "counter", "write-family and stdio write calls", st.total_writes),
    ("mmhint_file_bytes_written", "counter", "bytes written by write-family and stdio write calls",
     st.total_bytes_written),
    ("mmhint_file_write_seconds", "counter", "wall time spent in write-family calls",
     lambda f: (f.get("write_time_ns") or 0) / 1e9),
    ("mmhint_file_syncs", "counter", "fsync, fdatasync, sync_file_range and msync calls on the file",
     lambda f: sum(f.get(k) or 0 for k in ("fsyncs", "fdatasyncs", "sync_file_ranges", "msyncs"))),
]

# Memory figures that are levels at the end of the run, not counts of events.
MEMORY_GAUGES = {"live_bytes", "live_regions", "numa_sample_limit_pages"}


def _num(v):
    if isinstance(v, float):
        return repr(round(v, 9))
    return str(v)


class _Families:
    """Collects metric families in order; renders them in either format."""

    def __init__(self):
        self.order = []
        self.fams = {}

    def add(self, name, typ, help_, labels, value):
        if name not in self.fams:
            self.fams[name] = (typ, help_, [])
            self.order.append(name)
        self.fams[name][2].append((labels, value))

    def render(self, fmt):
        out = []
        for name in self.order:
            typ, help_, samples = self.fams[name]
            suffix = "_total" if typ == "counter" else ""
            family = name if fmt == "openmetrics" else name + suffix
            out.append("# HELP %s %s" % (family, help_escape(help_)))
            out.append("# TYPE %s %s" % (family, typ))
            for labels, value in samples:
                out.append("%s%s%s %s" % (name, suffix, om_labels(labels), _num(value)))
        if fmt == "openmetrics":
            out.append("# EOF")
        return "\n".join(out) + "\n"


def _doc_key(d):
    return (str(d["process"].get("exe")), d["process"].get("pid") or 0, d.get("_id", ""))


def render_metrics(docs, fmt="openmetrics"):
    """The stats DOCS as OpenMetrics (FMT "openmetrics") or the Prometheus
    text format ("prometheus").  Every process is its own series: file
    metrics are labelled path, exe and process (the pid, with ".N" when
    several stats files have that pid, as the writer names them), process
    and memory metrics process, pid, exe and host."""
    if not all("_id" in d for d in docs):
        st.assign_process_ids(docs)
    fams = _Families()
    docs = sorted(docs, key=_doc_key)
    now, host, boot = time.time_ns(), socket.gethostname(), live.boot_time_ns()
    per_doc = [(d, st.merge([d])) for d in docs]
    for name, typ, help_, fn in FILE_METRICS:
        for d, m in per_doc:
            exe = d["process"].get("exe") or "?"
            for f in m["files"]:
                fams.add(name, typ, help_, [("path", f["path"]), ("exe", exe), ("process", d["_id"])], fn(f))

    def plabels(d):
        p = d["process"]
        return [("process", d["_id"]), ("pid", p.get("pid")), ("exe", p.get("exe")), ("host", p.get("host") or "")]

    for d in docs:
        fams.add("mmhint_process_wall_seconds", "gauge", "time from the shim's start to the end of the process",
                 plabels(d), (d["process"].get("wall_ns") or 0) / 1e9)
    states = {d["_id"]: live.process_state(d["process"], now, host, boot) for d in docs}
    for d in docs:
        fams.add("mmhint_process_live", "gauge", "1 while the stats are a snapshot of a process that runs on this host, "
                 "else 0 (ended, gone without a final file, or on another host)", plabels(d),
                 1 if states[d["_id"]]["state"] == "live" else 0)
    for d in docs:
        fams.add("mmhint_process_end_timestamp_seconds", "gauge", "unix time of the snapshot (end_reason snapshot) "
                 "or of the end of the process", plabels(d), (d["process"].get("end_ns") or 0) / 1e9)
    for d in docs:
        fams.add("mmhint_process_files", "gauge", "files the process touched", plabels(d), len(d.get("files") or []))
    mem_keys = []
    for d in docs:
        for k, v in (d.get("memory") or {}).items():
            if st._check_int(v) and k not in mem_keys:
                mem_keys.append(k)
    for k in mem_keys:
        name = "mmhint_memory_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)
        typ = "gauge" if k in MEMORY_GAUGES else "counter"
        for d in docs:
            v = (d.get("memory") or {}).get(k)
            if st._check_int(v):
                fams.add(name, typ, "the library's memory %s %s (docs/MEMORY.md)"
                         % ("level" if typ == "gauge" else "counter", k), plabels(d), v)
    return fams.render(fmt)


def render_openmetrics(docs):
    return render_metrics(docs, "openmetrics")


# ---- The command ------------------------------------------------------------

# The formats report can print on stdout; one at a time.
FORMATS = ("text", "json", "openmetrics", "prometheus")


def chosen_format(args):
    """The one stdout format ARGS ask for; UserError when two are asked."""
    asked = []
    if args.format:
        asked.append("--format %s" % args.format)
    if args.json:
        asked.append("--json")
    if args.openmetrics:
        asked.append("--openmetrics")
    if len(asked) > 1:
        raise UserError("report: %s print different formats on stdout; give one of them" % " and ".join(asked))
    if args.json:
        return "json"
    if args.openmetrics:
        return "openmetrics"
    return args.format


def cmd_report(args):
    if args.top is not None and args.top < 1:
        raise UserError("report: --top must be at least 1")
    fmt = chosen_format(args)
    docs, skipped = st.load_inputs(args.inputs)
    merged = st.merge(docs)
    live.annotate(merged["processes"])
    if args.html:
        from .html import render_html
        text = render_html(merged, args.sort, args.top or 20)
        try:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise UserError("report: cannot write %s: %s" % (args.html, e.strerror or e))
    if fmt in ("openmetrics", "prometheus"):
        text = render_metrics(docs, fmt)
    elif fmt == "json":
        text = render_json(merged, args.sort, args.top)
    elif fmt == "text" or not args.html or args.out:
        text = render_text(merged, args.sort, args.top or 20)
    else:
        text = "wrote %s\n" % args.html
    if args.out:
        write_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 1 if skipped else 0


def write_atomic(path, text):
    """Writes TEXT to PATH so that a reader (node_exporter's textfile
    collector, say) sees the old file or the new one, never a part: a
    temporary file in PATH's directory, named with a leading dot and a .tmp
    suffix so that no collector picks it up, flushed, then renamed over
    PATH.  The file gets the mode a new file would (0666 less the umask),
    not mkstemp's 0600, so that a collector running as another user can read
    it.  Raises UserError naming PATH when any step fails."""
    d, base = os.path.split(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix="." + base + ".", suffix=".tmp")
    except OSError as e:
        raise UserError("report: cannot write %s: %s" % (path, e.strerror or e))
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            fd = None
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UserError("report: cannot write %s: %s" % (path, e.strerror or e))


def add_parser(sub):
    """Adds `mmhint report` to SUB."""
    rp = sub.add_parser("report", help="tables, JSON, HTML or OpenMetrics from stats files",
                        formatter_class=Formatter,
                        description="Load stats files (a DIR means every *.json below it), merge their processes "
                                    "(files keyed by device and inode; counters added, max_byte_read and "
                                    "last_access the largest, first_access the smallest) and print per-process "
                                    "and per-file tables, the memory section and what the library could not "
                                    "observe.  'reads' and 'bytes' include stdio-level reads; 'seq' is the share "
                                    "of read-family calls that started at or after the previous read's end.",
                        epilog="examples:\n  mmhint report /tmp/s\n  mmhint report --sort time --top 5 run.json\n"
                               "  mmhint report /tmp/s --html report.html\n  mmhint report /tmp/s --openmetrics > "
                               "mmhint.om\n  mmhint report /tmp/s --format prometheus > "
                               "/var/lib/prometheus/node-exporter/mmhint.prom")
    rp.add_argument("inputs", nargs="*", metavar="STATS.json|DIR")
    rp.add_argument("--top", type=int, metavar="N", help="show the top N files (default 20; --json: all)")
    rp.add_argument("--sort", choices=["bytes", "time", "reads", "written"], default="bytes", help="sort files by (default bytes)")
    rp.add_argument("--format", choices=FORMATS, help="what to print on stdout: text (the default without --html), "
                                                      "json, openmetrics, or prometheus (the text format promtool "
                                                      "and node_exporter's textfile collector read)")
    rp.add_argument("--json", action="store_true", help="print the merged data as JSON (--format json)")
    rp.add_argument("--html", metavar="OUT.html", help="write one self-contained HTML page with charts")
    rp.add_argument("--openmetrics", action="store_true", help="print OpenMetrics text (--format openmetrics)")
    rp.add_argument("--out", metavar="FILE", help="write the output to FILE instead of stdout, atomically (a "
                                                   "temporary file in FILE's directory renamed over it), as a "
                                                   "timer feeding node_exporter's textfile collector needs")
    rp.set_defaults(func=cmd_report)
    return rp
