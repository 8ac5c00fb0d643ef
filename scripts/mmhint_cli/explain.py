"""`mmhint explain`: asks the library's own rule engine (the mmhint-explain
helper) which rule and per-file options apply to paths, or to every file a
stats file names."""

import json
import os
import subprocess
import sys

from . import stats as st
from .common import UserError, child_env, find_explain, table, warn
from .parsing import Formatter


def is_stats_file(path):
    if not (os.path.isfile(path) and st.STATS_NAME.match(path)):
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
    stats_files = []
    for a in args.paths:
        if os.path.isdir(a):
            # A directory of statistics: explain every stats file in it, as for one file.
            found = [p for p, _ in st.expand_inputs([a]) if is_stats_file(p)]
            if not found:
                raise UserError("explain: %s is a directory without mmhint stats files; give paths of files, "
                                "or a stats file or directory" % a)
            stats_files += [(p, True) for p in found]
        elif is_stats_file(a):
            stats_files.append((a, False))
        else:
            plain.append(os.path.abspath(a))
    skipped = 0
    for a, in_dir in stats_files:
        try:
            doc = st.load_file(a)
        except UserError as e:
            if not in_dir:
                raise
            warn("explain: skipping %s" % e)
            skipped += 1
            continue
        prog = os.path.basename(doc["process"].get("exe") or "") or None
        for f in doc.get("files") or []:
            if f.get("type", "regular") == "regular" and f.get("paths"):
                groups.setdefault(args.program or prog, [])
                if f["paths"][0] not in groups[args.program or prog]:
                    groups[args.program or prog].append(f["paths"][0])
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
    return 1 if skipped else 0


def add_parser(sub):
    """Adds `mmhint explain` to SUB."""
    e = sub.add_parser("explain", help="show which rule and options apply to paths", formatter_class=Formatter,
                       description="Ask the library's own rule engine (the mmhint-explain helper) which rule "
                                   "matches each PATH and which per-file options differ from their defaults, with "
                                   "where each value came from.  A stats file argument (*.json written by the "
                                   "library) explains every regular file that run touched, for its program.",
                       epilog="examples:\n  mmhint explain --config advised.conf /data/db/main.db\n"
                              "  mmhint explain --config advised.conf /tmp/s/sqlite3.4242.json")
    e.add_argument("--config", metavar="FILE", help="config file to evaluate (default: as the library finds it)")
    e.add_argument("--program", metavar="NAME", help="program name that 'program =' globs match")
    e.add_argument("--explain-bin", metavar="PATH", help="the mmhint-explain helper (default: $MMHINT_EXPLAIN, "
                                                         "the installed one, <repo>/build/mmhint-explain)")
    e.add_argument("paths", nargs="*", metavar="PATH|STATS.json")
    e.set_defaults(func=cmd_explain)
    return e
