"""The mmhint command: argument parsing and the small subcommands (run,
explain, report, advise).  ab lives in ab.py, demo in demo.py."""

import argparse
import json
import os
import subprocess
import sys
import textwrap

from . import advise as adv
from . import stats as st
from .common import (PROG, UserError, child_env, check_option, env_name, find_explain, find_library, load_options,
                     parse_assignments, preload_with, table, warn)

DESCRIPTION = """\
mmhint runs unmodified programs under libmmhint.so (LD_PRELOAD), compares two
policies on the same command, reports what the library saw and proposes a
policy from it.  See docs/CLI.md."""


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one 'mmhint: ...' line, exit 2."""

    def error(self, message):
        raise UserError("%s: %s (see '%s --help')" % (self.prog.replace("mmhint ", "", 1) if " " in self.prog
                                                       else "usage", message, self.prog))


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Fills prose paragraphs to the terminal width; keeps indented lines
    (tables, examples) as they are."""

    def _fill_text(self, text, width, indent):
        out = []
        for para in text.split("\n\n"):
            if para.startswith(" ") or "\n " in para:
                out.append("\n".join(indent + l for l in para.splitlines()))
            else:
                out.append(textwrap.fill(" ".join(para.split()), width, initial_indent=indent,
                                         subsequent_indent=indent))
        return "\n\n".join(out)


def strip_dashdash(cmd):
    return cmd[1:] if cmd and cmd[0] == "--" else cmd


# ---- run ---------------------------------------------------------------------

def cmd_run(args):
    cmd = strip_dashdash(args.command)
    if not cmd:
        raise UserError("run: no command given; usage: mmhint run [options] -- CMD...")
    pairs = []
    for s in args.set or []:
        if "=" not in s:
            raise UserError("run: --set expects KEY=VALUE, got '%s'" % s)
        k, v = s.split("=", 1)
        pairs.append((check_option(k), v))
    lib = find_library(args.lib)
    env = child_env()
    env["LD_PRELOAD"] = preload_with(env, lib)
    for k, v in pairs:
        env[env_name(k)] = v
    if args.config:
        if not os.path.isfile(args.config):
            raise UserError("run: config file %s does not exist" % args.config)
        env["MMHINT_CONFIG"] = os.path.abspath(args.config)
    if args.stats:
        try:
            os.makedirs(args.stats, exist_ok=True)
        except OSError as e:
            raise UserError("run: cannot create stats directory %s: %s" % (args.stats, e.strerror or e))
        env["MMHINT_STATS"] = os.path.abspath(args.stats).rstrip("/") + "/"
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(cmd[0], cmd, env)
    except OSError as e:
        raise UserError("run: cannot run %s: %s" % (cmd[0], e.strerror or e))


# ---- explain -----------------------------------------------------------------

def is_stats_file(path):
    if not (os.path.isfile(path) and path.endswith(".json")):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"mmhint-stats/" in head


def run_explain(binary, config, program, paths):
    argv = [binary]
    if config:
        argv += ["--config", config]
    if program:
        argv += ["--program", program]
    argv += paths
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                           env=child_env())
    except OSError as e:
        raise UserError("explain: cannot run %s: %s" % (binary, e.strerror or e))
    if p.returncode != 0:
        msg = p.stderr.decode(errors="replace").strip().splitlines()
        raise UserError("explain: %s failed (status %d)%s" % (binary, p.returncode,
                                                                ": " + msg[-1] if msg else ""))
    lines = [l for l in p.stdout.decode(errors="replace").splitlines() if l.strip()]
    try:
        objs = [json.loads(l) for l in lines]
    except json.JSONDecodeError as e:
        raise UserError("explain: cannot parse the output of %s: %s" % (binary, e))
    if not objs:
        raise UserError("explain: %s printed nothing" % binary)
    return objs[0], objs[1:]


def option_cell(name, o):
    src = o.get("source", "?") if isinstance(o, dict) else "?"
    val = o.get("value") if isinstance(o, dict) else o
    return "%s=%s (%s)" % (name, val, src)


def render_explain(head, results, program=None):
    out = []
    proc = head.get("process") or {}
    if program:
        out.append("program: %s" % program)
    nondef = [option_cell(k, v) for k, v in sorted(proc.items())
              if isinstance(v, dict) and v.get("source", "default") != "default"]
    out.append("process options: %s" % ("; ".join(nondef) if nondef else "all at their defaults"))
    for w in head.get("warnings") or []:
        out.append("warning: %s" % w)
    rows = []
    for r in results:
        rule = r.get("rule")
        rule_s = "%s:%s" % (rule.get("file"), rule.get("line")) if isinstance(rule, dict) else "-"
        opts = r.get("options") or {}
        nondef = [option_cell(k, v) for k, v in sorted(opts.items())
                  if isinstance(v, dict) and v.get("source", "default") != "default"]
        rows.append([r.get("path", "?"), rule_s, "; ".join(nondef) if nondef else "(defaults)"])
    out.append(table(["path", "rule", "per-file options not at their default (source)"], rows, align="lll"))
    return "\n".join(out) + "\n"


def cmd_explain(args):
    if not args.paths:
        raise UserError("explain: give at least one PATH or STATS.json")
    if args.config and not os.path.isfile(args.config):
        raise UserError("explain: config file %s does not exist" % args.config)
    binary = find_explain(args.explain_bin)
    plain = []
    groups = {}  # program name -> paths, from stats files
    for a in args.paths:
        if is_stats_file(a):
            doc = st.load_file(a)
            prog = os.path.basename(doc["process"].get("exe") or "") or None
            for f in doc.get("files") or []:
                if f.get("type", "regular") == "regular" and f.get("paths"):
                    groups.setdefault(args.program or prog, [])
                    if f["paths"][0] not in groups[args.program or prog]:
                        groups[args.program or prog].append(f["paths"][0])
        else:
            plain.append(os.path.abspath(a))
    if plain:
        groups.setdefault(args.program, [])
        groups[args.program] = plain + groups[args.program]
    first = True
    for prog, paths in groups.items():
        if not paths:
            continue
        head, results = run_explain(binary, args.config, prog, paths)
        if not first:
            sys.stdout.write("\n")
        first = False
        sys.stdout.write(render_explain(head, results, prog))
    return 0


# ---- report and advise ---------------------------------------------------------

def cmd_report(args):
    from . import report as rp
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
        sys.stdout.write(rp.render_openmetrics(docs))
    elif args.json:
        sys.stdout.write(rp.render_json(merged, args.sort, args.top))
    elif not args.html:
        sys.stdout.write(rp.render_text(merged, args.sort, args.top or 20))
    else:
        print("wrote %s" % args.html)
    return 0


def cmd_advise(args):
    paths = st.expand_inputs(args.inputs)
    docs = [st.load_file(p) for p in paths]
    merged = st.merge(docs)
    sys.stdout.write(adv.advise(merged, paths))
    return 0


# ---- argument parsing ------------------------------------------------------------

def option_list_text():
    try:
        opts = load_options()
    except UserError:
        return ""
    lines = ["options (KEY for --set/--a/--b; environment MMHINT_<KEY>):"]
    for name, o in opts.items():
        lines.append("  %-22s %-7s default %-6s %s" % (name, o["scope"].lower(), o["default"] or '""', o["doc"]))
    return "\n".join(lines)


def build_parser():
    fmt = Formatter
    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=fmt)
    sub = p.add_subparsers(dest="sub", metavar="SUBCOMMAND", parser_class=Parser)

    r = sub.add_parser("run", help="run a command under the library", formatter_class=fmt,
                       description="Run CMD with libmmhint.so appended to LD_PRELOAD.  The exit status is the "
                                   "program's (the command replaces mmhint).",
                       epilog=option_list_text() + "\n\nexample:\n  mmhint run --set read_mmap=on --stats /tmp/s -- "
                                                   "wc -l big.log")
    r.add_argument("--config", metavar="FILE", help="config file (sets MMHINT_CONFIG)")
    r.add_argument("--set", metavar="KEY=VALUE", action="append",
                   help="set option KEY (sets MMHINT_<KEY>); repeatable; unknown keys are refused")
    r.add_argument("--stats", metavar="DIR", help="write stats files into DIR (created; sets MMHINT_STATS=DIR/)")
    r.add_argument("--lib", metavar="PATH", help="libmmhint.so to load (default: $MMHINT_LIB, "
                                                 "<repo>/build/libmmhint.so, /usr/local/lib/libmmhint.so)")
    r.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")

    e = sub.add_parser("explain", help="show which rule and options apply to paths", formatter_class=fmt,
                       description="Ask the library's own rule engine (the mmhint-explain helper) which rule "
                                   "matches each PATH and which per-file options differ from their defaults, with "
                                   "where each value came from.  A stats file argument (*.json written by the "
                                   "library) explains every regular file that run touched, for its program.",
                       epilog="examples:\n  mmhint explain --config advised.conf /data/db/main.db\n"
                              "  mmhint explain --config advised.conf /tmp/s/sqlite3.4242.json")
    e.add_argument("--config", metavar="FILE", help="config file to evaluate (default: as the library finds it)")
    e.add_argument("--program", metavar="NAME", help="program name that 'program =' globs match")
    e.add_argument("--explain-bin", metavar="PATH", help="the mmhint-explain helper (default: $MMHINT_EXPLAIN, "
                                                         "<repo>/build/mmhint-explain)")
    e.add_argument("paths", nargs="*", metavar="PATH|STATS.json")

    a = sub.add_parser("ab", help="compare two policies on one command (interleaved runs)", formatter_class=fmt,
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
                                   "status is 3." % 2000,
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
    a.add_argument("--show-output", action="store_true", help="print each run's stdout and stderr")
    a.add_argument("--json", metavar="FILE", help="write every run's raw data and the summary as JSON")
    a.add_argument("--markdown", metavar="FILE", help="write the comparison as a Markdown table")
    a.add_argument("--keep-stats", metavar="DIR", help="keep each run's stats and output in DIR/<side>-<n>/")
    a.add_argument("--lib", metavar="PATH", help="libmmhint.so to load")
    a.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")

    rp = sub.add_parser("report", help="tables, JSON, HTML or OpenMetrics from stats files", formatter_class=fmt,
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
    rp.add_argument("--sort", choices=["bytes", "time", "reads"], default="bytes", help="sort files by (default bytes)")
    rp.add_argument("--json", action="store_true", help="print the merged data as JSON")
    rp.add_argument("--html", metavar="OUT.html", help="write one self-contained HTML page with charts")
    rp.add_argument("--openmetrics", action="store_true", help="print OpenMetrics (Prometheus) text")

    ad = sub.add_parser("advise", help="propose a config file from stats", formatter_class=fmt,
                        description="Read stats files and print a config file (to stdout) with one rule per file "
                                    "or directory whose observed pattern a policy is known to help, each preceded "
                                    "by '# evidence:' lines with the numbers.\n\n" + adv.__doc__.split("\n\n", 1)[1],
                        epilog="example:\n  mmhint run --stats /tmp/s -- ./prog && mmhint advise /tmp/s > prog.conf\n"
                               "  mmhint ab --plain-a --config-b prog.conf -- ./prog")
    ad.add_argument("inputs", nargs="*", metavar="STATS.json|DIR")

    d = sub.add_parser("demo", help="end-to-end demonstration (about a minute)", formatter_class=fmt,
                       description="Build if needed, make a workload file, run a workload once with stats "
                                   "(build/examples/index_lookup, a big in-memory index: 4 KiB reads, large "
                                   "mallocs, dependent random lookups), propose a policy with 'advise', compare "
                                   "the program without the library against the advised policy with 'ab', and "
                                   "show the report of the B runs.")
    d.add_argument("--size", default=None, metavar="SIZE|small",
                   help="workload file size (default 384M for index_lookup, about 640M of memory; 256M for the "
                        "fallback workloads); 'small' is a quick run (64M) for tests")
    d.add_argument("--dir", metavar="DIR", help="where to put the workload and results (default $TMPDIR/mmhint-demo)")
    d.add_argument("--runs", type=int, default=6, metavar="N", help="ab runs per side (default 6)")
    d.add_argument("--lib", metavar="PATH", help="libmmhint.so to load")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.sub:
            parser.print_help()
            return 2
        if args.sub == "run":
            return cmd_run(args)
        if args.sub == "explain":
            return cmd_explain(args)
        if args.sub == "ab":
            from .ab import cmd_ab
            return cmd_ab(args)
        if args.sub == "report":
            return cmd_report(args)
        if args.sub == "advise":
            return cmd_advise(args)
        if args.sub == "demo":
            from .demo import cmd_demo
            return cmd_demo(args)
    except UserError as e:
        warn(str(e))
        return 2
    except KeyboardInterrupt:
        warn("interrupted")
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = None
        except Exception:
            pass
        return 1
    return 0
