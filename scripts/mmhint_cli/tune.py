"""`mmhint tune`: measures the policies a run's statistics make relevant
against the plain program and keeps the one that is faster beyond noise.

  1. CMD is run once without the library (it must succeed), then once under
     the library with statistics.
  2. Candidates from those statistics: advise's proposal; read_mmap on and
     auto where files are read in small reads (and auto with another
     read_mmap_max_read where reads are larger); advice = random for random
     readers; drop_behind and advice = sequential for streams; hugepages =
     thp (two values of hugepage_min) for large allocations; numa =
     interleave:all where the machine has more than one node.  A file whose
     reads took less than 4 ms per process makes no read policy relevant
     (advise's read_time_excluded: the library's start-up costs more than
     such a policy could save).
  3. Rounds of successive halving: every surviving candidate gets --runs
     pairs of runs with a plain run, plain first and the candidate first in
     turn (the interleaving of `mmhint ab`, with its run function and
     bootstrap interval), the candidates in turn (pair 1
     of each, then pair 2 of each...); after a round, candidates whose
     interval lies below 1, or below the best's median with their median
     outside the best's interval, are dropped, and of more than four the
     better half goes on; after the first round the winners of different
     families are combined.  A candidate whose output or exit status differs
     from plain's is disqualified.
  4. The winner is the candidate whose interval lies wholly above 1
     (speedup) with the highest lower bound (then the higher median);
     otherwise no policy beats plain within noise and the config written
     sets no policy.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

from . import ab as abmod
from . import advise as advmod
from . import stats as st
from .common import (UserError, child_env, find_library, load_options, option_env, parse_assignments,
                     preload_with, strip_option_env, table, warn)
from .parsing import Formatter, strip_dashdash

SMALL_READ = 32 * 1024
MAX_ROUNDS = 8


def parse_duration(text):
    """'90s', '5m', '1h', '120' (seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text or "")
    if not m:
        raise UserError("tune: --budget expects a duration such as 90s, 5m or 1h, got '%s'" % text)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


class Candidate:
    def __init__(self, name, family, pairs=(), config_text=None):
        self.name = name
        self.family = family
        self.pairs = list(pairs)
        self.config_text = config_text
        self.config = None          # path of config_text once written
        self.runs = []              # (plain wall s, candidate wall s)
        self.state = "measuring"    # measuring | dropped | disqualified | not measured
        self.note = ""

    def env(self, base, lib, stats_dir):
        env = dict(base)
        env["LD_PRELOAD"] = preload_with(env, lib)
        env.update(option_env(self.pairs))
        if self.config:
            env["MMHINT_CONFIG"] = self.config
        env["MMHINT_STATS"] = stats_dir.rstrip("/") + "/"
        return env

    def summary(self):
        if not self.runs:
            return None
        a = [p for p, _ in self.runs]
        b = [c for _, c in self.runs]
        ratio = statistics.median(b) / statistics.median(a)
        lo, hi = abmod.bootstrap_ratio(a, b) if len(self.runs) >= 2 else (None, None)
        return {"plain_median_s": statistics.median(a), "median_s": statistics.median(b), "ratio": ratio,
                "ci95": [lo, hi], "runs": len(self.runs)}


# ---- Candidates from the statistics ----------------------------------------

def numa_nodes():
    try:
        return len([n for n in os.listdir("/sys/devices/system/node") if re.fullmatch(r"node\d+", n)])
    except OSError:
        return 1


def candidates_from(merged, advised_text):
    """The candidates the statistics make relevant, advise's first."""
    out = []
    if advised_text and any(l.strip() and not l.startswith("#") for l in advised_text.splitlines()):
        out.append(Candidate("advise's proposal", "advise", config_text=advised_text))
    files = [f for f in merged["files"] if f.get("type") in (None, "regular")]
    small = large_reads = random_ = stream = False
    for f in files:
        reads = f.get("reads") or 0
        if reads < 16 or advmod.read_time_excluded(f):
            continue  # too few reads, or too little time in them to repay the library's start-up
        avg = (f.get("bytes_read") or 0) / max(1, reads - (f.get("eof_reads") or 0))
        seq = st.seq_ratio(f) or 0
        size = f.get("size") or 0
        if avg <= SMALL_READ:
            small = True
        elif avg <= 1024 * 1024:
            large_reads = True
        if seq < 0.7:
            random_ = True
        if seq >= 0.9 and size >= 1024 * 1024 and (f.get("bytes_read") or 0) >= 0.9 * size:
            stream = True
    if small or large_reads:
        out.append(Candidate("read_mmap=auto", "read_mmap", [("read_mmap", "auto")]))
        out.append(Candidate("read_mmap=on", "read_mmap", [("read_mmap", "on")]))
        if large_reads:
            out.append(Candidate("read_mmap=auto,read_mmap_max_read=1M", "read_mmap",
                                 [("read_mmap", "auto"), ("read_mmap_max_read", "1M")]))
        else:
            out.append(Candidate("read_mmap=auto,read_mmap_max_read=16K", "read_mmap",
                                 [("read_mmap", "auto"), ("read_mmap_max_read", "16K")]))
    if random_:
        out.append(Candidate("advice=random", "advice", [("advice", "random")]))
    if stream:
        out.append(Candidate("drop_behind=on", "drop_behind", [("drop_behind", "on")]))
        out.append(Candidate("advice=sequential", "advice", [("advice", "sequential")]))
    classes = merged["memory"].get("size_classes") or {}
    if (classes.get("1M-32M") or 0) + (classes.get("32M+") or 0) >= 4:
        out.append(Candidate("hugepages=thp", "hugepages", [("hugepages", "thp")]))
        out.append(Candidate("hugepages=thp,hugepage_min=32M", "hugepages",
                             [("hugepages", "thp"), ("hugepage_min", "32M")]))
    if numa_nodes() > 1:
        out.append(Candidate("numa=interleave:all", "numa", [("numa", "interleave:all")]))
    return out


def combine(winners):
    """Pairs of winners of different families whose options do not collide."""
    out = []
    for i, a in enumerate(winners):
        for b in winners[i + 1:]:
            if a.family == b.family or a.config_text or b.config_text:
                continue
            if {k for k, _ in a.pairs} & {k for k, _ in b.pairs}:
                continue
            out.append(Candidate(a.name + "," + b.name, "combination", a.pairs + b.pairs))
    return out


# ---- Measuring ---------------------------------------------------------------

class Tuner:
    def __init__(self, args, cmd, lib, masks, base, root):
        self.args, self.cmd, self.lib, self.masks, self.base, self.root = args, cmd, lib, masks, base, root
        self.ref = None          # stdout hash and exit status of the first plain run
        self.n = 0
        self.spent = 0.0
        self.t_start = time.perf_counter()
        self.planned = 0

    def one(self, env, tag):
        d = os.path.join(self.root, tag)
        os.makedirs(d, exist_ok=True)
        if self.args.cold:
            abmod.drop_caches()
        r = abmod.run_once(self.cmd, env, os.path.join(d, "stdout"), os.path.join(d, "stderr"), self.masks)
        shutil.rmtree(d, ignore_errors=True)
        self.n += 1
        return r

    def progress(self):
        if not sys.stderr.isatty():
            return
        el = time.perf_counter() - self.t_start
        left = max(0.0, self.args.budget_s - el)
        sys.stderr.write("\rmmhint: tune: %d runs, %.0fs spent, at most %.0fs left   " % (self.n, el, left))
        sys.stderr.flush()

    def pair(self, c, idx, warm):
        """One plain run and one run of candidate C, plain first in even pairs and C first in odd
        ones (as `mmhint ab` alternates: the second run of a pair can pay for what the first left)."""
        cand_env = c.env(self.base, self.lib, os.path.join(self.root, "stats"))
        if idx % 2 == 0:
            p = self.one(self.base, "plain")
            r = self.one(cand_env, "cand")
        else:
            r = self.one(cand_env, "cand")
            p = self.one(self.base, "plain")
        shutil.rmtree(os.path.join(self.root, "stats"), ignore_errors=True)
        self.progress()
        for run in (p, r):
            if (run["stdout_sha256"], run["exit"]) != self.ref:
                who = "plain" if run is p else c.name
                if who == "plain":
                    raise UserError("tune: plain runs of the command differ from each other (stdout or exit "
                                    "status); use --mask for what it prints that varies")
                c.state = "disqualified"
                c.note = "its %s differs from plain's" % ("stdout" if run["stdout_sha256"] != self.ref[0]
                                                          else "exit status")
                return
        if not warm:
            c.runs.append((p["wall_s"], r["wall_s"]))


def verdict(c):
    s = c.summary()
    if c.state == "disqualified":
        return "disqualified: " + c.note
    if c.state == "not measured":
        return "not measured: " + c.note
    if not s or s["ci95"][0] is None:
        return "not enough runs"
    lo, hi = s["ci95"]
    if hi < 1.0:
        v = "faster than plain"
    elif lo > 1.0:
        v = "slower than plain"
    else:
        v = "no difference within noise"
    if c.state == "dropped":
        v += "; dropped: " + c.note
    return v


def render(cands, winner):
    rows = []
    for c in cands:
        s = c.summary()
        if s and s["ci95"][0] is not None:
            rs = "%.2f× [%.2f–%.2f]" % (1 / s["ratio"], 1 / s["ci95"][1], 1 / s["ci95"][0])
        elif s:
            rs = "%.2f×" % (1 / s["ratio"])
        else:
            rs = "-"
        rows.append([("* " if c is winner else "  ") + c.name, "%.3fs" % s["median_s"] if s else "-",
                     "%.3fs" % s["plain_median_s"] if s else "-", rs, str(s["runs"]) if s else "0", verdict(c)])
    out = table(["candidate", "median", "plain median", "speedup [95% CI]", "runs", "verdict"], rows,
                align="lrrrrl")
    if winner:
        s = winner.summary()
        out += "\nwinner: %s, %.2f× faster than plain [%.2f–%.2f]\n" % (
            winner.name, 1 / s["ratio"], 1 / s["ci95"][1], 1 / s["ci95"][0])
    else:
        out += "\nno policy beats plain within noise\n"
    return out


def interval_key(c):
    """Sort key of a qualifying candidate, best first: the lower bound of its
    speedup interval (the upper bound of its time ratio), then its median.
    Candidates whose intervals overlap are not told apart by their medians,
    which are noise among themselves (read_mmap=auto and =on do the same
    system calls and instructions on a 4 KiB read loop, yet their medians
    differed by 0.2x between runs of tune): the one whose speedup is surest
    wins."""
    s = c.summary()
    return (s["ci95"][1], s["ratio"])


def pick_winner(cands):
    """The candidate whose interval lies wholly above 1 (speedup) with the
    highest lower bound (interval_key), among those that survived the
    rounds, else among those dropped; None when there is none."""
    for states in (("measuring",), ("dropped",)):
        ok = [c for c in cands if c.state in states and c.summary()
              and c.summary()["ci95"][1] is not None and c.summary()["ci95"][1] < 1.0]
        if ok:
            return min(ok, key=interval_key)
    return None


def config_for(winner, cmd):
    lines = ["# mmhint config chosen by 'mmhint tune' for: %s" % " ".join(cmd)]
    if not winner:
        lines += ["# evidence: no candidate was faster than plain beyond noise (see the table); this config sets "
                  "no policy", ""]
        return "\n".join(lines)
    s = winner.summary()
    lines.append("# evidence: %s: median %.3fs against plain %.3fs over %d interleaved pairs of runs: %.2f× faster "
                 "[95%% bootstrap interval %.2f–%.2f]" % (winner.name, s["median_s"], s["plain_median_s"], s["runs"],
                                                          1 / s["ratio"], 1 / s["ci95"][1], 1 / s["ci95"][0]))
    if winner.config_text:
        lines += [l for l in winner.config_text.splitlines() if not l.startswith("# Review")]
    else:
        opts = load_options()
        for k, v in winner.pairs:
            if opts[k]["scope"] == "PROCESS":
                lines.append("%s = %s" % (k, v))
        per_file = [(k, v) for k, v in winner.pairs if opts[k]["scope"] != "PROCESS"]
        if per_file:
            lines += ["", "[rule]", "path = **"] + ["%s = %s" % kv for kv in per_file]
    return "\n".join(lines) + "\n"


def cmd_tune(args):
    cmd = strip_dashdash(args.command)
    if not cmd:
        raise UserError("tune: no command given; usage: mmhint tune [--runs N] [--budget 2m] -- CMD...")
    if args.runs < 2:
        raise UserError("tune: --runs must be at least 2 (the interval needs them)")
    args.budget_s = parse_duration(args.budget)
    load_options()
    lib = find_library(args.lib)
    masks = abmod.compile_masks(args.mask, "tune")
    if args.cold:
        abmod.drop_caches_check()
    base = child_env()
    removed = strip_option_env(base)
    if removed:
        warn("tune: ignoring %s from the environment so that candidates differ only as listed" % ", ".join(removed))
    base.pop("MMHINT_CONFIG", None)
    root = tempfile.mkdtemp(prefix="mmhint-tune-")
    try:
        return tune(args, cmd, lib, masks, base, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def tune(args, cmd, lib, masks, base, root):
    T = Tuner(args, cmd, lib, masks, base, root)
    first = T.one(base, "plain-check")
    if first["exit"] != 0:
        raise UserError("tune: %s fails without the library (exit status %d); nothing measured"
                        % (cmd[0], first["exit"]))
    T.ref = (first["stdout_sha256"], first["exit"])
    sdir = os.path.join(root, "observe")
    os.makedirs(sdir, exist_ok=True)
    env = dict(base)
    env["LD_PRELOAD"] = preload_with(env, lib)
    env["MMHINT_STATS"] = sdir + "/"
    if args.cold:
        abmod.drop_caches()
    obs = abmod.run_once(cmd, env, os.path.join(root, "observe.out"), os.path.join(root, "observe.err"), masks)
    # The faster of the two: the first may have paid for bringing the file into the cache.
    t_run = min(first["wall_s"], obs["wall_s"])
    try:
        docs = st.load_all([sdir])
        merged = st.merge(docs)
        advised = advmod.advise(merged, [d["_source"] for d in docs], argparse.Namespace(protect_cache=False))
    except UserError:
        merged, advised = {"files": [], "memory": {}, "processes": []}, None
    cands = candidates_from(merged, advised)
    per_cand = 2 * (args.runs + 1) * t_run
    if not cands:
        sys.stdout.write("the statistics make no policy relevant (no file read in small or random reads, no "
                         "stream, no large allocation, one NUMA node)\n")
        return finish(args, cmd, [], None, merged, t_run)
    if per_cand > args.budget_s:
        raise UserError("tune: a budget of %gs cannot measure one candidate: each needs %d pairs of runs of "
                        "about %.2fs (%.0fs); --budget %.0fs would measure one, %.0fs all %d candidates"
                        % (args.budget_s, args.runs + 1, t_run, per_cand, per_cand * 1.2 + 1,
                           per_cand * len(cands) * 1.5 + 1, len(cands)))
    fit = int(args.budget_s / per_cand)
    for c in cands[fit:]:
        c.state, c.note = "not measured", "the budget covers %d candidates of %d" % (fit, len(cands))
    for c in cands:
        if c.config_text:
            c.config = os.path.join(root, "cand-%d.conf" % cands.index(c))
            with open(c.config, "w") as f:
                f.write(c.config_text)
    interrupted = False
    try:
        live = [c for c in cands if c.state == "measuring"]
        for rnd in range(MAX_ROUNDS):
            # The candidates the budget lets this round measure, in order.
            npairs = args.runs + (1 if rnd == 0 else 0)
            todo = []
            for c in live:
                if time.perf_counter() - T.t_start + 2 * npairs * t_run * (len(todo) + 1) > args.budget_s:
                    c.state, c.note = ("not measured", "no budget left") if not c.runs else (c.state, c.note)
                    continue
                todo.append(c)
            # Round robin: pair i of every candidate before pair i + 1 of any,
            # so that a spell of load on the machine falls on all of them
            # alike instead of on the one measured during it.
            for i in range(npairs):
                for c in todo:
                    if c.state != "disqualified":
                        T.pair(c, i, warm=(rnd == 0 and i == 0))
            live = [c for c in live if c.state == "measuring" and c.summary()]
            if rnd == 0:
                win = [c for c in live if c.summary()["ratio"] < 1.0 and c.summary()["ci95"][1] is not None
                       and c.summary()["ci95"][1] < 1.0]
                combos = combine(win)
                cands += combos
                live += combos
            # Drop what is clearly worse than plain (its interval lies below 1) or
            # than the best, the surest by interval_key (its interval lies below
            # the best's median and its median outside the best's interval: a
            # candidate whose median lies within the best's interval is as good
            # within noise, and goes on); of more than four, keep the better half.
            scored = [c for c in live if c.summary() and c.summary()["ci95"][0] is not None]
            if scored:
                best = min(scored, key=interval_key)
                b = best.summary()
                for c in scored:
                    s_ = c.summary()
                    if c is not best and (s_["ci95"][0] > 1.0 or (s_["ci95"][0] > b["ratio"] and
                                                                  s_["ratio"] > b["ci95"][1])):
                        c.state, c.note = "dropped", "clearly worse after round %d" % (rnd + 1)
                scored = sorted([c for c in scored if c.state == "measuring"], key=interval_key)
                if len(scored) > 4:
                    for c in scored[(len(scored) + 1) // 2:]:
                        c.state, c.note = "dropped", "in the worse half (by interval) after round %d" % (rnd + 1)
            live = [c for c in live if c.state == "measuring"]
            decisive = all(c.summary() and c.summary()["ci95"][0] is not None and
                           not c.summary()["ci95"][0] <= 1.0 <= c.summary()["ci95"][1] for c in live if c.summary())
            if not live or (decisive and rnd >= 1 and len(live) <= 2):
                break
    except KeyboardInterrupt:
        interrupted = True
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        warn("tune: interrupted; the table so far:")
    if sys.stderr.isatty() and not interrupted:
        sys.stderr.write("\r" + " " * 70 + "\r")
    winner = pick_winner(cands)
    rc = finish(args, cmd, cands, winner, merged, t_run)
    return 130 if interrupted else rc


def finish(args, cmd, cands, winner, merged, t_run):
    sys.stdout.write(render(cands, winner) if cands else "no policy beats plain within noise\n")
    for c in cands:
        if c.state == "disqualified":
            warn("tune: %s disqualified: %s" % (c.name, c.note))
    text = config_for(winner, cmd)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    if args.json:
        doc = {"schema": "mmhint-tune/1", "command": cmd, "runs_per_round": args.runs, "budget_s": args.budget_s,
               "cold": args.cold, "masks": args.mask or [], "run_s": t_run,
               "candidates": [{"name": c.name, "family": c.family, "options": dict(c.pairs),
                               "config": c.config_text, "state": c.state, "note": c.note, "verdict": verdict(c),
                               "summary": c.summary(), "pairs": c.runs} for c in cands],
               "winner": winner.name if winner else None, "config": text}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 0


def add_parser(sub):
    """Adds `mmhint tune` to SUB."""
    t = sub.add_parser("tune", help="measure the relevant policies against plain and keep the best",
                       formatter_class=Formatter, description=__doc__.split("\n\n", 1)[0] + "\n\n" +
                       __doc__.split("\n\n", 1)[1],
                       epilog="examples:\n  mmhint tune --budget 2m --out best.conf -- ./fileread read big.bin 4K\n"
                              "  mmhint tune --cold --json tune.json -- sqlite3 -readonly db.sqlite 'select ...'")
    t.add_argument("--runs", type=int, default=5, metavar="N", help="pairs of runs per candidate per round "
                                                                   "(default 5)")
    t.add_argument("--budget", default="3m", metavar="DURATION", help="time to spend in all (90s, 5m; default 3m)")
    t.add_argument("--cold", action="store_true", help="drop the page cache before every run (needs root)")
    t.add_argument("--out", metavar="F", help="write the winning config, with '# evidence:' lines")
    t.add_argument("--json", metavar="F", help="write everything measured as JSON")
    t.add_argument("--mask", metavar="REGEX", action="append", help="replace matches in stdout before comparing "
                                                                    "outputs (repeatable)")
    t.add_argument("--lib", metavar="PATH", help="libmmhint.so to load")
    t.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    t.set_defaults(func=cmd_tune)
    return t
