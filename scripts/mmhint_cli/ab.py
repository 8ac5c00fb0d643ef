"""`mmhint ab`: runs one command under two policies, interleaved, and says
whether B is faster than A, by how much, and how sure that is."""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time

from . import stats as st
from .common import (BYTES, UserError, child_env, counter_unit, find_library, human, load_options, option_env,
                     parse_assignments, preload_with, strip_option_env, warn, table)
from .parsing import Formatter, strip_dashdash

BOOT_ITER = 2000      # bootstrap resamples of the B/A wall-time ratio
BOOT_SEED = 20240601  # fixed, so the same runs give the same interval
DROP_CACHES = "/proc/sys/vm/drop_caches"


class Side:
    def __init__(self, name, pairs, config, plain, lib):
        self.name = name
        self.pairs = pairs
        self.config = os.path.abspath(config) if config else None
        self.plain = plain
        self.lib = lib

    def describe(self):
        if self.plain:
            return "plain (no library)"
        parts = ["%s=%s" % kv for kv in self.pairs]
        if self.config:
            parts.append("config %s" % self.config)
        return ", ".join(parts) if parts else "library loaded, every option at its default"

    def env(self, base, stats_dir):
        env = dict(base)
        if self.plain:
            return env
        env["LD_PRELOAD"] = preload_with(env, self.lib)
        env.update(option_env(self.pairs))
        if self.config:
            env["MMHINT_CONFIG"] = self.config
        env["MMHINT_STATS"] = stats_dir.rstrip("/") + "/"
        return env


def drop_caches_check():
    try:
        with open(DROP_CACHES, "w"):
            pass
    except OSError as e:
        raise UserError("--cold needs to write %s (root, and /proc/sys writable): %s"
                        % (DROP_CACHES, e.strerror or e))


def drop_caches():
    os.sync()
    with open(DROP_CACHES, "w") as f:
        f.write("3\n")


def stdin_check(input_path):
    """Every run reads its stdin from INPUT_PATH, or from /dev/null without
    it (as hyperfine does).  Without --input, a stdin that carries data (a
    pipe, a file, a socket) is refused: the runs would not see it, and ab
    would measure the program doing nothing.  A terminal or /dev/null is
    fine: no data was meant for the program."""
    if input_path:
        if not os.path.isfile(input_path):
            raise UserError("ab: --input %s is not a regular file" % input_path)
        return os.path.abspath(input_path)
    try:
        st_ = os.fstat(0)
    except OSError:
        return os.devnull
    import stat as stat_
    if stat_.S_ISCHR(st_.st_mode):
        return os.devnull
    if stat_.S_ISFIFO(st_.st_mode) or stat_.S_ISREG(st_.st_mode) or stat_.S_ISSOCK(st_.st_mode):
        raise UserError("ab: stdin is a %s, but every run reads /dev/null; to give each run the same input use "
                        "--input FILE" % ("pipe" if stat_.S_ISFIFO(st_.st_mode) else
                                          "file" if stat_.S_ISREG(st_.st_mode) else "socket"))
    return os.devnull


def run_once(cmd, env, out_path, err_path, masks, input_path=os.devnull):
    """Runs CMD once with stdin from INPUT_PATH; returns the measurement dict."""
    with open(out_path, "wb") as out, open(err_path, "wb") as err, open(input_path, "rb") as nul:
        t0 = time.perf_counter()
        try:
            pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=[
                (os.POSIX_SPAWN_DUP2, nul.fileno(), 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2)])
        except OSError as e:
            raise UserError("cannot run %s: %s" % (cmd[0], e.strerror or e))
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
    with open(out_path, "rb") as f:
        data = f.read()
    for m in masks:
        data = m.sub(b"#", data)
    return {"wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime, "maxrss_kib": ru.ru_maxrss,
            "majflt": ru.ru_majflt, "minflt": ru.ru_minflt, "exit": os.waitstatus_to_exitcode(status),
            "stdout_sha256": hashlib.sha256(data).hexdigest(), "stdout_bytes": os.path.getsize(out_path)}


def spawn_rss_floor(root):
    """(max RSS in KiB, wall seconds) of a trivial command spawned from this
    process, the fastest of three: execve carries the spawning address
    space's peak into the child's ru_maxrss, so no run can report less than
    this RSS, and no run can take less than this time."""
    true = shutil.which("true")
    if not true:
        return None, None
    try:
        rs = [run_once([true], dict(os.environ), os.path.join(root, "floor.out"), os.path.join(root, "floor.err"),
                       []) for _ in range(3)]
    except UserError:
        return None, None
    return rs[0]["maxrss_kib"], min(r["wall_s"] for r in rs)


def run_stats(stats_dir):
    """Per-file summary of the stats files one run wrote."""
    if not os.path.isdir(stats_dir):
        return None
    paths = sorted(os.path.join(stats_dir, n) for n in os.listdir(stats_dir) if n.endswith(".json"))
    if not paths:
        return None
    docs = []
    for p in paths:
        try:
            docs.append(st.load_file(p))
        except UserError as e:
            warn("ignoring a stats file of this run: %s" % e)
    if not docs:
        return None
    m = st.merge(docs)
    # The run's own stdout and stderr (the files ab captures them in, a new pair each run) are not the
    # program's files: without this each run would add two "dev N ino M" rows to the per-file table.
    own = set()
    for name in ("stdout", "stderr"):
        try:
            s = os.stat(os.path.join(stats_dir, name))
            own.add((s.st_dev, s.st_ino))
        except OSError:
            pass
    return {"processes": len(m["processes"]),
            "files": {f["path"]: {"reads": st.total_reads(f), "bytes_read": st.total_bytes(f),
                                  "converted_bytes": f.get("converted_bytes", 0), "mmaps": f.get("mmaps", 0),
                                  "writes": st.total_writes(f), "bytes_written": st.total_bytes_written(f),
                                  "policy": st.policy_text(f.get("policy"))}
                      for f in m["files"] if (f.get("dev"), f.get("ino")) not in own}}


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def bootstrap_ratio(a, b, iters=BOOT_ITER, seed=BOOT_SEED):
    """95% CI of median(b)/median(a) by resampling each side's runs."""
    rnd = random.Random(seed)
    ratios = []
    for _ in range(iters):
        ma = statistics.median(rnd.choices(a, k=len(a)))
        mb = statistics.median(rnd.choices(b, k=len(b)))
        if ma > 0:
            ratios.append(mb / ma)
    ratios.sort()
    return percentile(ratios, 0.025), percentile(ratios, 0.975)


# A run is an outlier when its modified Z-score, 0.6745 (x - median) / MAD,
# is above this; hyperfine's threshold (src/outlier_detection.rs).
OUTLIER_Z = 14.0
# A command shorter than this many times the cost of spawning `true` is
# mostly process start-up (hyperfine warns below 5 ms for its shell).
SPAWN_FACTOR = 5


def outliers(vals):
    """The values of VALS far from their median, by the median absolute
    deviation (as hyperfine finds them); [] when the MAD is 0."""
    if len(vals) < 3:
        return []
    med = statistics.median(vals)
    mad = statistics.median([abs(v - med) for v in vals])
    if mad <= 0:
        return []
    return [v for v in vals if abs(0.6745 * (v - med) / mad) > OUTLIER_Z]


def quality_warnings(runs, spawn_s, resolution_s):
    """Lines warning that the measurements may mislead: outliers on a side,
    or a command shorter than the timer's resolution or than SPAWN_FACTOR times the
    cost of spawning and waiting for a trivial command (then most of what is
    measured is process start-up)."""
    out = []
    for side in ("A", "B"):
        vals = [r["wall_s"] for r in runs if r["side"] == side and not r["warmup"]]
        far = outliers(vals)
        if far:
            out.append("%s: %d of %d runs are statistical outliers (%s, median %s); another program may have "
                       "interfered: run again on a quiet system, or with more --runs and --warmup"
                       % (side, len(far), len(vals), ", ".join("%.3fs" % v for v in far),
                          "%.3fs" % statistics.median(vals)))
    for side in ("A", "B"):
        vals = [r["wall_s"] for r in runs if r["side"] == side and not r["warmup"]]
        med = statistics.median(vals)
        if resolution_s and med < 10 * resolution_s:
            out.append("%s: the command took %.6fs, close to the timer's resolution (%gs): the times are not "
                       "accurate" % (side, med, resolution_s))
        elif spawn_s and med < SPAWN_FACTOR * spawn_s:
            out.append("%s: the command took %.1f ms, less than %d times the %.1f ms it takes to start a trivial "
                       "command: much of what is measured is process start-up; give it more work"
                       % (side, med * 1e3, SPAWN_FACTOR, spawn_s * 1e3))
    return out


def verdict(ratio, lo, hi):
    """Plain words for the B/A wall-time ratio and its CI."""
    if lo is None or hi is None or ratio is None:
        return "not enough runs to judge"
    if lo <= 1.0 <= hi:
        return "no difference within noise (B/A wall time %.3f [%.3f–%.3f])" % (ratio, lo, hi)
    if ratio < 1.0:
        return "B is %.2f× faster than A [%.2f–%.2f]" % (1 / ratio, 1 / hi, 1 / lo)
    return "B is %.2f× slower than A [%.2f–%.2f]" % (ratio, lo, hi)


def _seconds(v):
    return "%.3fs" % v


def _integer(v):
    return "%d" % v


def _count(v):
    """A count (a median of counts may be x.5) as an integer, '-' for None."""
    return "-" if v is None else "%d" % round(v)


def _kib(v):
    return human(v * 1024, BYTES)


# What is measured of every run: (key of the run's dict, label, formatter).
METRICS = [("wall_s", "wall", _seconds), ("user_s", "user", _seconds), ("sys_s", "sys", _seconds),
           ("maxrss_kib", "max RSS", _kib), ("majflt", "major faults", _integer),
           ("minflt", "minor faults", _integer)]

# The per-file counters compared in the text table, with their column label.
FILE_COLUMNS = [("bytes_read", "bytes"), ("reads", "calls"), ("converted_bytes", "conv"),
                ("bytes_written", "written")]


def summarize(runs):
    out = {}
    for side in ("A", "B"):
        rs = [r for r in runs if r["side"] == side and not r["warmup"]]
        out[side] = {}
        for key, _, _ in METRICS:
            vals = [r[key] for r in rs]
            out[side][key] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals)}
    a = [r["wall_s"] for r in runs if r["side"] == "A" and not r["warmup"]]
    b = [r["wall_s"] for r in runs if r["side"] == "B" and not r["warmup"]]
    ratio = statistics.median(b) / statistics.median(a) if statistics.median(a) > 0 else None
    lo, hi = bootstrap_ratio(a, b) if len(a) >= 2 and len(b) >= 2 else (None, None)
    out["wall_ratio_b_over_a"] = ratio
    out["speedup_a_over_b"] = 1 / ratio if ratio else None
    out["ci95"] = [lo, hi]
    out["bootstrap"] = {"iterations": BOOT_ITER, "seed": BOOT_SEED, "statistic": "median(B)/median(A)"}
    out["verdict"] = verdict(ratio, lo, hi)
    return out


def file_deltas(runs):
    """Median per-file figures per side from the runs' stats."""
    per = {"A": {}, "B": {}}
    for r in runs:
        if r["warmup"] or not r.get("stats"):
            continue
        for path, v in r["stats"]["files"].items():
            per[r["side"]].setdefault(path, []).append(v)
    paths = sorted(set(per["A"]) | set(per["B"]))
    rows = []
    for p in paths:
        row = {"path": p}
        for side in ("A", "B"):
            vs = per[side].get(p)
            if vs:
                row[side] = {k: statistics.median([v.get(k, 0) for v in vs])
                             for k in ("reads", "bytes_read", "converted_bytes", "mmaps", "writes", "bytes_written")}
                row[side]["policy"] = vs[-1]["policy"]
            else:
                row[side] = None
        rows.append(row)
    rows.sort(key=lambda r: -max((r[s] or {}).get("bytes_read", 0) + (r[s] or {}).get("bytes_written", 0)
                                 for s in ("A", "B")))
    return rows


def render_text(a, b, summary, deltas, top=15):
    out = ["A: %s" % a.describe(), "B: %s" % b.describe(), ""]
    rows = []
    for key, label, fmt in METRICS:
        sa, sb = summary["A"][key], summary["B"][key]
        ratio = ("%.3f" % (sb["median"] / sa["median"])) if sa["median"] else "-"
        rows.append([label] + ["%s  [%s–%s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"])) for s in (sa, sb)]
                    + [ratio])
    out.append(table(["metric", "A median [min–max]", "B median [min–max]", "B/A"], rows, align="lrrr"))
    if deltas:
        out.append("")
        out.append("per file (medians of the runs' stats; '-' where that side wrote none):")
        drows = []
        for d in deltas[:top]:
            sides = (d["A"] or {}, d["B"] or {})
            drows.append([d["path"]]
                         + [human(s.get(key), counter_unit(key)) if s else "-"
                            for key, _ in FILE_COLUMNS for s in sides]
                         + [s.get("policy", "-") if s else "-" for s in sides])
        headers = (["path"] + ["%s %s" % (label, side) for _, label in FILE_COLUMNS for side in "AB"]
                   + ["policy A", "policy B"])
        out.append(table(headers, drows, align="l" + "r" * 2 * len(FILE_COLUMNS) + "ll",
                         max_width=[50] + [None] * (len(headers) - 1)))
    out.append("")
    out.append("verdict: %s" % summary["verdict"])
    return "\n".join(out) + "\n"


def render_markdown(a, b, summary, deltas, cmd):
    out = ["# mmhint ab", "", "Command: `%s`" % " ".join(cmd), "",
           "- A: %s" % a.describe(), "- B: %s" % b.describe(), "",
           "| metric | A median | A min | A max | B median | B min | B max | B/A |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, label, fmt in METRICS:
        sa, sb = summary["A"][key], summary["B"][key]
        ratio = ("%.3f" % (sb["median"] / sa["median"])) if sa["median"] else "-"
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            label, *(fmt(s[k]) for s in (sa, sb) for k in ("median", "min", "max")), ratio))
    if deltas:
        out += ["", "| file | bytes A | bytes B | calls A | calls B | converted A | converted B | written A "
                "| written B | policy B |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for d in deltas:
            A, B = d["A"] or {}, d["B"] or {}
            out.append("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                d["path"].replace("|", "\\|"),
                *(_count(s.get(k)) for k in ("bytes_read", "reads", "converted_bytes", "bytes_written")
                  for s in (A, B)), B.get("policy", "-")))
    out += ["", "**Verdict:** %s" % summary["verdict"], ""]
    return "\n".join(out)


def check_outputs(runs):
    """Compares every run's stdout hash and exit status with the first run of
    A.  Returns (reference run, [(run, [what differs])])."""
    ref = next(r for r in runs if r["side"] == "A")
    diffs = []
    for r in runs:
        if r is ref:
            continue
        what = []
        if r["stdout_sha256"] != ref["stdout_sha256"]:
            what.append("stdout")
        if r["exit"] != ref["exit"]:
            what.append("exit status")
        if what:
            diffs.append((r, what))
    return ref, diffs


def _run_name(r):
    return "%s %s%d" % (r["side"], "warm-up " if r["warmup"] else "run ", r["index"])


def describe_diffs(ref, diffs):
    """One line per side and kind of difference, e.g. 'A and B differ: stdout
    differs in 6 of 6 B runs (...)'."""
    lines = []
    for side in ("B", "A"):
        rs = [(r, w) for r, w in diffs if r["side"] == side]
        if not rs:
            continue
        head = "A and B differ" if side == "B" else "runs of A differ from each other"
        for kind in ("stdout", "exit status"):
            hit = [r for r, w in rs if kind in w]
            if not hit:
                continue
            first = hit[0]
            if kind == "stdout":
                detail = "sha256 %s… in %s vs %s… in %s" % (first["stdout_sha256"][:12], _run_name(first),
                                                            ref["stdout_sha256"][:12], _run_name(ref))
            else:
                detail = "status %d in %s vs %d in %s" % (first["exit"], _run_name(first), ref["exit"],
                                                          _run_name(ref))
            lines.append("%s: %s differs in %d %s run(s), warm-ups included (%s)" % (
                head, kind, len(hit), side, detail))
    return lines


def compile_masks(patterns, who):
    """The --mask regular expressions (applied to stdout bytes before it is
    compared); a bad one is a user error that names the command `who`."""
    masks = []
    for m in patterns or []:
        try:
            masks.append(re.compile(m.encode()))
        except re.error as e:
            raise UserError("%s: bad --mask regular expression '%s': %s" % (who, m, e))
    return masks


def cmd_ab(args):
    cmd = strip_dashdash(args.command)
    if not cmd:
        raise UserError("ab: no command given; usage: mmhint ab --a SPEC --b SPEC -- CMD...")
    if args.runs < 1 or args.warmup < 0:
        raise UserError("ab: --runs must be at least 1 and --warmup at least 0")
    if args.plain_a and (args.a or args.config_a):
        raise UserError("ab: --plain-a runs A without the library; it cannot take --a or --config-a")
    for c in (args.config_a, args.config_b):
        if c and not os.path.isfile(c):
            raise UserError("ab: config file %s does not exist" % c)
    load_options()
    pa = parse_assignments([args.a], "--a")
    pb = parse_assignments([args.b], "--b")
    lib = find_library(args.lib)
    masks = compile_masks(args.mask, "ab")
    if args.cold:
        drop_caches_check()
    input_path = stdin_check(args.input)
    A = Side("A", pa, args.config_a, args.plain_a, lib)
    B = Side("B", pb, args.config_b, False, lib)
    base = child_env()
    removed = strip_option_env(base)
    if removed:
        warn("ab: ignoring %s from the environment so that A and B differ only as specified"
             % ", ".join(removed))
    base.pop("MMHINT_CONFIG", None)
    keep = args.keep_stats
    root = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="mmhint-ab-")
    os.makedirs(root, exist_ok=True)
    schedule = []
    for i in range(args.warmup):
        schedule += [("A", i + 1, True), ("B", i + 1, True)]
    # Measured rounds alternate which side goes first (A B, B A, A B, ...): the second run of a pair can
    # pay for what the first left behind (a 256 MiB tmpfs write loop ran 100 ns a call slower second, in
    # either order), and the alternation cancels that out of the comparison.
    for i in range(args.runs):
        pair = [("A", i + 1, False), ("B", i + 1, False)]
        schedule += pair if i % 2 == 0 else pair[::-1]
    tty = sys.stderr.isatty()
    rss_floor, spawn_s = spawn_rss_floor(root)
    runs = []
    t_start = time.perf_counter()
    try:
        for n, (side_name, idx, warm) in enumerate(schedule):
            side = A if side_name == "A" else B
            tag = "%s-%s%d" % (side_name.lower(), "warmup-" if warm else "", idx)
            sdir = os.path.join(root, tag)
            os.makedirs(sdir, exist_ok=True)
            if tty:
                done = time.perf_counter() - t_start
                eta = (done / n * (len(schedule) - n)) if n else 0
                sys.stderr.write("\rmmhint: run %d of %d (%s%s)%s   " % (
                    n + 1, len(schedule), side_name, " warm-up" if warm else "",
                    ", about %.0fs left" % eta if n else ""))
                sys.stderr.flush()
            if args.cold:
                drop_caches()
            r = run_once(cmd, side.env(base, sdir), os.path.join(sdir, "stdout"), os.path.join(sdir, "stderr"), masks,
                         input_path)
            r.update({"side": side_name, "index": idx, "warmup": warm, "stats_dir": sdir})
            if n == 0 and r["exit"] != 0 and not args.ignore_failure:
                if tty:
                    sys.stderr.write("\r" + " " * 60 + "\r")
                with open(os.path.join(sdir, "stderr"), "rb") as f:
                    err = f.read()
                sys.stderr.buffer.write(err[-4000:])
                if err and not err.endswith(b"\n"):
                    sys.stderr.write("\n")
                raise UserError("ab: the command failed on A's first run (exit status %d; its stderr is above); "
                                "there is nothing to measure. Fix the command, or pass --ignore-failure to "
                                "measure a failing command on purpose" % r["exit"])
            r["stats"] = None if side.plain else run_stats(sdir)
            if args.show_output:
                with open(os.path.join(sdir, "stdout"), "rb") as f:
                    sys.stdout.write("--- %s run %d%s stdout ---\n" % (side_name, idx, " (warm-up)" if warm else ""))
                    sys.stdout.flush()
                    sys.stdout.buffer.write(f.read())
                with open(os.path.join(sdir, "stderr"), "rb") as f:
                    e = f.read()
                    if e:
                        sys.stdout.write("--- %s run %d stderr ---\n" % (side_name, idx))
                        sys.stdout.flush()
                        sys.stdout.buffer.write(e)
                sys.stdout.flush()
            runs.append(r)
        if tty:
            sys.stderr.write("\r" + " " * 60 + "\r")
        ref, diffs = check_outputs(runs)
        summary = summarize(runs)
        deltas = file_deltas(runs)
        if not B.plain and not any(r.get("stats") for r in runs if r["side"] == "B"):
            warn("ab: B wrote no stats files; is the library loading? (LD_PRELOAD=%s)" % lib)
        summary["maxrss_floor_kib"] = rss_floor
        summary["spawn_s"] = spawn_s
        summary["warnings"] = quality_warnings(runs, spawn_s, time.get_clock_info("perf_counter").resolution)
        sys.stdout.write(render_text(A, B, summary, deltas))
        for line in summary["warnings"]:
            warn("ab: warning: " + line)
        if rss_floor and min(summary[s]["maxrss_kib"]["median"] for s in ("A", "B")) <= rss_floor * 1.05:
            sys.stdout.write("note: max RSS is at the floor of %s that any command started from mmhint shows "
                             "(execve keeps the spawning process's peak); the program's own peak is lower\n"
                             % _kib(rss_floor))
        if ref["exit"] != 0 and not diffs:
            warn("ab: the command exited with status %d in every run" % ref["exit"])
        for line in describe_diffs(ref, diffs):
            warn("WARNING: " + line)
        if args.json:
            doc = {"schema": "mmhint-ab/1", "command": cmd, "input": args.input and input_path,
                   "runs_per_side": args.runs, "warmup": args.warmup,
                   "cold": args.cold, "masks": args.mask or [],
                   "a": {"options": dict(pa), "config": A.config, "plain": A.plain},
                   "b": {"options": dict(pb), "config": B.config, "plain": False},
                   "library": lib, "runs": runs, "summary": summary, "files": deltas,
                   "outputs_identical": not diffs}
            _write(args.json, json.dumps(doc, indent=1) + "\n")
        if args.markdown:
            _write(args.markdown, render_markdown(A, B, summary, deltas, cmd))
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 3 if diffs else 0


def _write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (path, e.strerror or e))


# ---- The command line -------------------------------------------------------

def add_parser(sub):
    """Adds `mmhint ab` to SUB."""
    a = sub.add_parser("ab", help="compare two policies on one command (interleaved runs)", formatter_class=Formatter,
                       description="Run CMD alternately under policy A and policy B (ABAB..., after warm-up runs "
                                   "that alternate too) and compare wall time (median, min, max; bootstrap 95%% CI "
                                   "of the B/A ratio, %d resamples, fixed seed), user and system time, max RSS and "
                                   "page faults, plus the library's per-file stats of every run.  Both sides run "
                                   "under the library: an empty spec means the library loaded with every option "
                                   "at its default, which is 'plain with stats'.  The true baseline, the program "
                                   "without the library, is --plain-a.  Inherited MMHINT_<option> variables are "
                                   "removed so that A and B differ only as given.  stdout is captured (shown with "
                                   "--show-output) and its hash and the exit status must agree between all runs; "
                                   "otherwise a 'mmhint: WARNING: A and B differ' line is printed and the exit "
                                   "status is 3." % BOOT_ITER,
                       epilog="examples:\n"
                              "  mmhint ab --plain-a --b read_mmap=auto --runs 7 -- wc -l big.log\n"
                              "  mmhint ab --a advice=none --b advice=random --cold -- sqlite3 db 'select ...'\n"
                              "  mmhint ab --plain-a --config-b advised.conf --mask 'seconds=\\S+' -- prog")
    a.add_argument("--a", metavar="SPEC", default="", help="options of A: 'KEY=VAL,KEY=VAL' (default: none)")
    a.add_argument("--b", metavar="SPEC", default="", help="options of B: 'KEY=VAL,KEY=VAL' (default: none)")
    a.add_argument("--config-a", metavar="FILE", help="config file for A")
    a.add_argument("--config-b", metavar="FILE", help="config file for B")
    a.add_argument("--plain-a", action="store_true", help="run A without the library at all (the true baseline)")
    a.add_argument("--runs", type=int, default=5, metavar="N", help="measured runs per side (default 5)")
    a.add_argument("--warmup", type=int, default=1, metavar="N", help="warm-up runs per side, not measured "
                                                                      "(default 1)")
    a.add_argument("--cold", action="store_true", help="drop the page cache before every run (needs root)")
    a.add_argument("--mask", metavar="REGEX", action="append",
                   help="replace matches of REGEX in stdout before comparing (e.g. timings the program prints); "
                        "repeatable")
    a.add_argument("--input", metavar="FILE", help="give every run FILE as its stdin, the same bytes each time "
                                                   "(default /dev/null; a pipe or file on ab's own stdin is refused)")
    a.add_argument("--ignore-failure", action="store_true",
                   help="measure the command even when it exits with a non-zero status (otherwise a failure of "
                        "A's first run stops ab with its stderr and status 2)")
    a.add_argument("--show-output", action="store_true", help="print each run's stdout and stderr")
    a.add_argument("--json", metavar="FILE", help="write every run's raw data and the summary as JSON")
    a.add_argument("--markdown", metavar="FILE", help="write the comparison as a Markdown table")
    a.add_argument("--keep-stats", metavar="DIR", help="keep each run's stats and output in DIR/<side>-<n>/")
    a.add_argument("--lib", metavar="PATH", help="libmmhint.so to load")
    a.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    a.set_defaults(func=cmd_ab)
    return a
