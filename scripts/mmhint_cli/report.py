"""`mmhint report`: terminal tables, merged JSON and OpenMetrics text from
one or many stats files."""

import json
import re
import sys

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
    level to the read family, in the units of reads and bytes_read)."""
    reads = st.total_reads(f)
    nbytes = st.total_bytes(f)
    seq = st.seq_ratio(f)
    return [f["path"], human(f.get("opens"), counter_unit("opens")), human(reads, counter_unit("reads")),
            human(nbytes, counter_unit("bytes_read")),
            human(f.get("read_time_ns") or 0, counter_unit("read_time_ns")) if reads else "-",
            human(nbytes / reads, counter_unit("bytes_read")) if reads else "-",
            st.dominant_bucket(f) or "-",
            ("%.0f%%" % (100 * seq)) if seq is not None else "-",
            human(f.get("converted_bytes"), counter_unit("converted_bytes")) if f.get("converted_bytes") else "-",
            human(st.total_writes(f), counter_unit("writes")) if st.total_writes(f) else "-",
            human(st.total_bytes_written(f), counter_unit("bytes_written")) if st.total_writes(f) else "-",
            st.policy_text(f.get("policy"))]


FILE_HEADERS = ["path", "opens", "reads", "bytes", "read time", "avg read", "size bucket",
                "seq", "converted", "writes", "written", "policy"]


def memory_lines(merged):
    mem = merged["memory"]
    if not mem:
        return ["(no memory section in these stats)"]
    lines = []
    flat = [(k, v) for k, v in mem.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    rows = [[k, human(v, st.memory_unit(k))] for k, v in flat]
    lines.append(table(["counter", "value"], rows, align="lr"))
    classes = mem.get("size_classes")
    if isinstance(classes, dict) and classes:
        lines.append("")
        lines.append("allocation size classes: "
                     + "  ".join("%s:%s" % (k, human(v, COUNT)) for k, v in classes.items()))
    for k, v in mem.items():
        if isinstance(v, dict) and k != "size_classes":
            lines.append("%s: %s" % (k, "  ".join("%s:%s" % (a, b) for a, b in v.items())))
        elif isinstance(v, list):
            lines.append("%s: %s" % (k, json.dumps(v)))
    return lines


def render_text(merged, sort="bytes", top=20):
    out = []
    procs = merged["processes"]
    out.append("== processes (%d) ==" % len(procs))
    out.append(table(["pid", "exe", "wall", "files", "bytes read", "end"],
                     [[p["pid"], p["exe"], human_ns(p["wall_ns"]) if p["wall_ns"] is not None else "-",
                       p["files"], human(p["bytes"], BYTES), p.get("end_reason") or "-"] for p in procs],
                     align="rlrrrl"))
    out.append("")
    files = sorted_files(merged, sort, top)
    total = len(merged["files"])
    shown = "top %d of %d" % (len(files), total) if len(files) < total else "%d" % total
    out.append("== files (%s, by %s) ==" % (shown, sort))
    out.append(table(FILE_HEADERS, [file_row(f) for f in files], align="lrrrrrlrrrrl",
                     max_width=[60] + [None] * 11))
    fb = [(f["path"], k, v) for f in files for k, v in sorted(f.get("fallbacks", {}).items())]
    if fb:
        out.append("")
        out.append("read_mmap fallbacks: " + "; ".join("%s: %s x%d" % x for x in fb))
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


# ---- OpenMetrics -------------------------------------------------------------

def om_escape(v):
    """Escapes a label value per the OpenMetrics text format."""
    return str(v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def om_labels(pairs):
    return "{" + ",".join('%s="%s"' % (k, om_escape(v)) for k, v in pairs) + "}"


FILE_METRICS = [
    # (metric family, type, help, function of the merged file, unit suffix handled in name)
    ("mmhint_file_opens", "counter", "open calls that returned a descriptor for the file", lambda f: f.get("opens", 0)),
    ("mmhint_file_reads", "counter", "read-family and stdio read calls that returned data", st.total_reads),
    ("mmhint_file_bytes_read", "counter", "bytes returned by read-family and stdio read calls", st.total_bytes),
    ("mmhint_file_read_seconds", "counter", "wall time spent in read-family calls",
     lambda f: (f.get("read_time_ns") or 0) / 1e9),
    ("mmhint_file_seq_reads", "counter", "reads that started at or after the end of the previous read",
     lambda f: f.get("seq_reads", 0)),
    ("mmhint_file_mmaps", "counter", "mmap calls of the program on the file", lambda f: f.get("mmaps", 0)),
    ("mmhint_file_converted_bytes", "counter", "bytes served from a mapping instead of a system call",
     lambda f: f.get("converted_bytes", 0)),
    ("mmhint_file_size_bytes", "gauge", "largest file size seen at open", lambda f: f.get("size", 0)),
    ("mmhint_file_writes", "counter", "write-family and stdio write calls", st.total_writes),
    ("mmhint_file_bytes_written", "counter", "bytes written by write-family and stdio write calls",
     st.total_bytes_written),
    ("mmhint_file_write_seconds", "counter", "wall time spent in write-family calls",
     lambda f: (f.get("write_time_ns") or 0) / 1e9),
    ("mmhint_file_syncs", "counter", "fsync, fdatasync, sync_file_range and msync calls on the file",
     lambda f: sum(f.get(k) or 0 for k in ("fsyncs", "fdatasyncs", "sync_file_ranges", "msyncs"))),
]


def _num(v):
    if isinstance(v, float):
        return repr(round(v, 9))
    return str(v)


def render_openmetrics(docs):
    """OpenMetrics text exposition.  File metrics are labelled path and exe
    (the processes of each executable merged); process metrics pid, exe and
    host."""
    by_exe = {}
    for d in docs:
        by_exe.setdefault(d["process"].get("exe") or "?", []).append(d)
    merged_by_exe = {exe: st.merge(ds) for exe, ds in sorted(by_exe.items())}
    out = []
    for name, typ, help_, fn in FILE_METRICS:
        out.append("# TYPE %s %s" % (name, typ))
        out.append("# HELP %s %s" % (name, help_))
        for exe, m in merged_by_exe.items():
            for f in m["files"]:
                suffix = "_total" if typ == "counter" else ""
                out.append("%s%s%s %s" % (name, suffix, om_labels([("path", f["path"]), ("exe", exe)]), _num(fn(f))))
    procs = sorted((d["process"] for d in docs), key=lambda p: (str(p.get("exe")), p.get("pid") or 0))
    out.append("# TYPE mmhint_process_wall_seconds gauge")
    out.append("# HELP mmhint_process_wall_seconds time from the shim's start to the end of the process")
    for p in procs:
        out.append("mmhint_process_wall_seconds%s %s" % (
            om_labels([("pid", p.get("pid")), ("exe", p.get("exe")), ("host", p.get("host") or "")]),
            _num((p.get("wall_ns") or 0) / 1e9)))
    out.append("# TYPE mmhint_process_files gauge")
    out.append("# HELP mmhint_process_files files the process touched")
    for d in sorted(docs, key=lambda d: (str(d["process"].get("exe")), d["process"].get("pid") or 0)):
        p = d["process"]
        out.append("mmhint_process_files%s %d" % (
            om_labels([("pid", p.get("pid")), ("exe", p.get("exe")), ("host", p.get("host") or "")]),
            len(d.get("files") or [])))
    mem_keys = []
    for d in docs:
        for k, v in (d.get("memory") or {}).items():
            if isinstance(v, int) and not isinstance(v, bool) and k not in mem_keys:
                mem_keys.append(k)
    for k in mem_keys:
        name = "mmhint_memory_" + re.sub(r"[^a-zA-Z0-9_]", "_", k)
        out.append("# TYPE %s counter" % name)
        out.append("# HELP %s the library's memory counter %s" % (name, k))
        for d in sorted(docs, key=lambda d: (str(d["process"].get("exe")), d["process"].get("pid") or 0)):
            p = d["process"]
            v = (d.get("memory") or {}).get(k)
            if isinstance(v, int):
                out.append("%s_total%s %d" % (name, om_labels([("pid", p.get("pid")), ("exe", p.get("exe")),
                                                                  ("host", p.get("host") or "")]), v))
    out.append("# EOF")
    return "\n".join(out) + "\n"


# ---- The command ------------------------------------------------------------

def cmd_report(args):
    if args.top is not None and args.top < 1:
        raise UserError("report: --top must be at least 1")
    docs = st.load_all(args.inputs)
    merged = st.merge(docs)
    if args.html:
        from .html import render_html
        text = render_html(merged, args.sort, args.top or 20)
        try:
            with open(args.html, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise UserError("report: cannot write %s: %s" % (args.html, e.strerror or e))
    if args.openmetrics:
        sys.stdout.write(render_openmetrics(docs))
    elif args.json:
        sys.stdout.write(render_json(merged, args.sort, args.top))
    elif not args.html:
        sys.stdout.write(render_text(merged, args.sort, args.top or 20))
    else:
        print("wrote %s" % args.html)
    return 0


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
                               "mmhint.prom")
    rp.add_argument("inputs", nargs="*", metavar="STATS.json|DIR")
    rp.add_argument("--top", type=int, metavar="N", help="show the top N files (default 20; --json: all)")
    rp.add_argument("--sort", choices=["bytes", "time", "reads", "written"], default="bytes", help="sort files by (default bytes)")
    rp.add_argument("--json", action="store_true", help="print the merged data as JSON")
    rp.add_argument("--html", metavar="OUT.html", help="write one self-contained HTML page with charts")
    rp.add_argument("--openmetrics", action="store_true", help="print OpenMetrics (Prometheus) text")
    rp.set_defaults(func=cmd_report)
    return rp
