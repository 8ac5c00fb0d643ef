"""`mmhint top [DIR]`: a live view of the processes whose statistics a
directory holds, like top or iotop but per file.

Processes started with stats_interval rewrite their statistics file while
they run (end_reason "snapshot", end_ns the snapshot's time; docs/STATS.md).
Every refresh reads the directory again; a process is tracked by (host, pid,
start_ns) and its two latest distinct snapshots give its rates: the
difference of each counter over the difference of end_ns.  Processes appear
when their file does and leave when it is gone or final (ended).  Write
counters (writes, bytes_written) count as 0 where a file does not carry them.
"""

import os
import shutil
import socket
import sys
import time

from . import live
from . import stats as st
from .common import BYTES, COUNT, UserError, human, table
from .parsing import Formatter

# Counters a rate is shown for: (name, function of one file of one snapshot).
RATE_COUNTERS = (
    ("read_bytes", st.total_bytes),
    ("reads", st.total_reads),
    ("write_bytes", lambda f: f.get("bytes_written") or 0),
    ("writes", lambda f: f.get("writes") or 0),
    ("converted_bytes", lambda f: f.get("converted_bytes") or 0),
    ("bytes_read", lambda f: f.get("bytes_read") or 0),
)

CLEAR = "\033[H\033[2J"


def default_dir():
    """The directory MMHINT_STATS names (its template's directory), else '.'."""
    tmpl = os.environ.get("MMHINT_STATS") or ""
    if tmpl:
        return tmpl if tmpl.endswith("/") else (os.path.dirname(tmpl) or ".")
    return "."


def _stats_paths(d):
    out = []
    for root, dirs, names in os.walk(d):
        dirs.sort()
        out.extend(os.path.join(root, n) for n in sorted(names) if st.STATS_NAME.match(n))
    return out


class Tracker:
    """The processes of a statistics directory across samples."""

    def __init__(self, directory):
        self.directory = directory
        self.procs = {}     # (host, pid, start_ns) -> {"new": doc, "old": doc or None}
        self._cache = {}    # path -> ((ino, size, mtime_ns), doc): a file is parsed again only when it changed

    def _load(self, path):
        try:
            s = os.stat(path)
        except OSError:
            return None
        sig = (s.st_ino, s.st_size, s.st_mtime_ns)
        hit = self._cache.get(path)
        if hit and hit[0] == sig:
            return hit[1]
        try:
            doc = st.load_file(path)
        except UserError:
            # Replaced between stat and open, or not a stats file: skipped
            # this time, looked at again next time.
            return None
        self._cache[path] = (sig, doc)
        return doc

    def sample(self):
        """Reads the directory once; keeps each process's two latest
        distinct snapshots.  Processes whose file is gone are dropped."""
        seen = set()
        paths = _stats_paths(self.directory)
        for path in set(self._cache) - set(paths):
            del self._cache[path]
        for path in paths:
            doc = self._load(path)
            if doc is None:
                continue
            p = doc["process"]
            key = (p.get("host"), p.get("pid"), p.get("start_ns"))
            seen.add(key)
            ent = self.procs.get(key)
            if ent is None:
                self.procs[key] = {"new": doc, "old": None}
            elif doc["process"].get("end_ns") != ent["new"]["process"].get("end_ns"):
                ent["old"], ent["new"] = ent["new"], doc
        for key in set(self.procs) - seen:
            del self.procs[key]


def file_rates(ent):
    """[(file, {counter: per-second rate}), ...] and the seconds between the
    two snapshots of the process entry ENT, or ([], None) with one snapshot."""
    new, old = ent["new"], ent["old"]
    if old is None:
        return [], None
    dt = ((new["process"].get("end_ns") or 0) - (old["process"].get("end_ns") or 0)) / 1e9
    if dt <= 0:
        return [], None
    before = {(f["dev"], f["ino"]): f for f in old.get("files") or []}
    out = []
    for f in new.get("files") or []:
        prev = before.get((f["dev"], f["ino"]), {})
        out.append((f, {name: max(0, fn(f) - (fn(prev) if prev else 0)) / dt for name, fn in RATE_COUNTERS}))
    return out, dt


def mapped_share(f, rate):
    """The share of the bytes read from mappings: over the interval when
    the file was read in it, else over the whole run; None without reads."""
    if rate and rate["bytes_read"] > 0:
        return min(1.0, rate["converted_bytes"] / rate["bytes_read"])
    if f.get("bytes_read"):
        return min(1.0, (f.get("converted_bytes") or 0) / f["bytes_read"])
    return None


def memory_outcome(doc):
    """(huge pages, NUMA) of a snapshot's memory section in a few words:
    'thp 12M/64M' (obtained of requested), 'node0 1.2k node1 30' (pages),
    '-' when the policy is off."""
    mem = doc.get("memory") or {}
    opts = doc["process"].get("options") or {}
    mpol = mem.get("policy") or {}

    def option(k):
        v = (opts.get(k) or {}).get("value") if isinstance(opts.get(k), dict) else None
        return mpol.get(k) if v is None else v

    hp = "-"
    if option("hugepages") not in (None, "off", ""):
        h = mem.get("huge_pages") or {}
        hp = "%s %s/%s" % (option("hugepages"), human(h.get("obtained_bytes") or 0, BYTES),
                           human(h.get("requested_bytes") or 0, BYTES))
    numa = "-"
    if any(option(k) not in (None, "off", "") for k in ("numa", "numa_process")):
        pages = mem.get("numa_pages") or {}
        numa = " ".join("node%s %s" % (n, human(v, COUNT)) for n, v in sorted(pages.items())
                        if isinstance(v, int)) or (option("numa") or option("numa_process"))
    return hp, numa


def _pct(x):
    return "-" if x is None else "%.0f%%" % (100 * x)


def _rate(v, unit):
    return "-" if v is None else human(v, unit)


def render(tracker, files_per_process=5, max_rows=None, now_ns=None, title=None):
    """The view of TRACKER's processes as text: a header, the processes
    (live or of another host) by byte rate, then their busiest files by
    byte rate (at most FILES_PER_PROCESS each, MAX_ROWS in all)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    host, boot = socket.gethostname(), live.boot_time_ns()
    counts = {s: 0 for s in live.STATES}
    procs, files = [], []
    for key, ent in tracker.procs.items():
        doc = ent["new"]
        state = live.process_state(doc["process"], now_ns, host, boot)
        counts[state["state"]] += 1
        if state["state"] not in ("live", "other_host"):
            continue
        rates, dt = file_rates(ent)
        tot = {name: sum(r[name] for _, r in rates) for name, _ in RATE_COUNTERS} if dt else None
        p = doc["process"]
        exe = os.path.basename(p.get("exe") or "?")
        hp, numa = memory_outcome(doc)
        procs.append((tot["read_bytes"] + tot["write_bytes"] if tot else -1, [
            p.get("pid"), exe, live.age_text(state["snapshot_age_ns"] or 0) + (
                "" if state["state"] == "live" else " @" + str(p.get("host"))),
            _rate(tot and tot["read_bytes"], BYTES), _rate(tot and tot["reads"], COUNT),
            _rate(tot and tot["write_bytes"], BYTES), _rate(tot and tot["writes"], COUNT),
            len(doc.get("files") or []), hp, numa]))
        busy = sorted(((r["read_bytes"] + r["write_bytes"], r["reads"] + r["writes"], f, r) for f, r in rates
                       if r["read_bytes"] + r["write_bytes"] + r["reads"] + r["writes"] > 0),
                      key=lambda x: (-x[0], -x[1]))[:files_per_process]
        for b, calls, f, r in busy:
            path = (f.get("paths") or ["dev %s ino %s" % (f["dev"], f["ino"])])[0]
            files.append((b, calls, [p.get("pid"), exe, path, human(r["read_bytes"], BYTES), human(r["reads"], COUNT),
                                     human(r["write_bytes"], BYTES), human(r["writes"], COUNT),
                                     _pct(mapped_share(f, r)), st.policy_text(f.get("policy"))]))
    procs.sort(key=lambda x: (-x[0], str(x[1][0])))
    files.sort(key=lambda x: (-x[0], -x[1], str(x[2][0]), x[2][2]))
    live_n = sum(1 for _ in procs)
    head = "mmhint top - %s - %s - %d live" % (
        tracker.directory, time.strftime("%H:%M:%S", time.localtime(now_ns / 1e9)), live_n)
    others = ["%d %s" % (counts[s], s.replace("_", " ")) for s in ("ended", "gone") if counts[s]]
    if others:
        head += ", " + ", ".join(others)
    out = [title + " - " + head if title else head, ""]
    if not procs:
        out.append("no live process: none of the statistics files is a snapshot of a running process "
                   "(start programs with stats_interval, e.g. MMHINT_STATS_INTERVAL=2s)")
        return "\n".join(out) + "\n"
    out.append(table(["pid", "exe", "snapshot", "read B/s", "reads/s", "write B/s", "writes/s", "files",
                      "huge pages", "numa"], [r for _, r in procs], align="rlrrrrrrll"))
    out.append("")
    if max_rows is not None:
        files = files[:max(1, max_rows - len(out) - 3)]
    if files:
        out.append(table(["pid", "exe", "file", "read B/s", "reads/s", "write B/s", "writes/s", "mapped", "policy"],
                         [r for _, _, r in files], align="rllrrrrrl", max_width=[None, None, 60] + [None] * 6))
    elif any(ent["old"] is None for ent in tracker.procs.values()):
        out.append("(rates need two snapshots of a process: they appear after its next one)")
    else:
        out.append("(no file was read or written since the previous snapshot)")
    return "\n".join(out) + "\n"


def cmd_top(args):
    if args.interval <= 0:
        raise UserError("top: --interval must be more than 0 seconds")
    if args.files < 1:
        raise UserError("top: --files must be at least 1")
    d = args.dir or default_dir()
    if not os.path.isdir(d):
        raise UserError("top: %s: not a directory (give the statistics directory, as in MMHINT_STATS=DIR/)" % d)
    tracker = Tracker(d)
    if args.once:
        tracker.sample()
        time.sleep(args.interval)
        tracker.sample()
        sys.stdout.write(render(tracker, args.files))
        return 0
    tty = sys.stdout.isatty()
    n = 0
    try:
        while True:
            tracker.sample()
            rows = shutil.get_terminal_size().lines if tty else None
            text = render(tracker, args.files, max_rows=rows)
            sys.stdout.write((CLEAR + text) if tty else (text + "\n"))
            sys.stdout.flush()
            n += 1
            if args.iterations and n >= args.iterations:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0


def add_parser(sub):
    """Adds `mmhint top` to SUB."""
    tp = sub.add_parser("top", help="a live view of the processes of a statistics directory, per file",
                        formatter_class=Formatter,
                        description="Reads the statistics directory DIR every --interval seconds and shows each "
                                    "live process (one started with stats_interval, whose file is a snapshot and "
                                    "which still runs) and its busiest files: read and write rates in bytes/s "
                                    "and calls/s between its two latest snapshots, the share of bytes served "
                                    "from mappings, the file's policy and the process's huge-page and NUMA "
                                    "outcome; sorted by bytes/s.  On a terminal the screen is redrawn; "
                                    "otherwise each refresh is printed after the previous one.",
                        epilog="examples:\n  mmhint run --set stats_interval=2s --stats /tmp/s -- ./server &\n"
                               "  mmhint top /tmp/s\n  mmhint top --once --interval 3 /var/lib/mmhint/nginx")
    tp.add_argument("dir", nargs="?", metavar="DIR",
                    help="the statistics directory (default: that of $MMHINT_STATS, else the current directory)")
    tp.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                    help="seconds between refreshes (default 2); with --once, between the two samples")
    tp.add_argument("--once", action="store_true",
                    help="take two samples --interval apart, print one view and exit (for scripts)")
    tp.add_argument("--iterations", "-n", type=int, metavar="N", help="stop after N refreshes")
    tp.add_argument("--files", type=int, default=5, metavar="N", help="busiest files shown per process (default 5)")
    tp.set_defaults(func=cmd_top)
    return tp
