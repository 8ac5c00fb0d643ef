"""`mmhint run`: runs a command with libmmhint.so appended to LD_PRELOAD and
the options given set in its environment (the command replaces mmhint)."""

import argparse
import os
import sys

from .common import UserError, check_assignment, child_env, env_name, find_library, load_options, preload_with
from .parsing import Formatter, strip_dashdash


def cmd_run(args):
    cmd = strip_dashdash(args.command)
    if not cmd:
        raise UserError("run: no command given; usage: mmhint run [options] -- CMD...")
    pairs = []
    for s in args.set or []:
        if "=" not in s:
            raise UserError("run: --set expects KEY=VALUE, got '%s'" % s)
        k, v = s.split("=", 1)
        pairs.append(check_assignment(k, v))
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


def option_list_text():
    try:
        opts = load_options()
    except UserError:
        return ""
    lines = ["options (KEY for --set/--a/--b; environment MMHINT_<KEY>):"]
    for name, o in opts.items():
        lines.append("  %-22s %-7s default %-6s %s" % (name, o["scope"].lower(), o["default"] or '""', o["doc"]))
    return "\n".join(lines)


def add_parser(sub):
    """Adds `mmhint run` to SUB.  Its help lists every option of the table."""
    r = sub.add_parser("run", help="run a command under the library", formatter_class=Formatter,
                       description="Run CMD with libmmhint.so appended to LD_PRELOAD.  The exit status is the "
                                   "program's (the command replaces mmhint).",
                       epilog=option_list_text() + "\n\nexample:\n  mmhint run --set read_mmap=on --stats /tmp/s -- "
                                                   "wc -l big.log")
    r.add_argument("--config", metavar="FILE", help="config file (sets MMHINT_CONFIG)")
    r.add_argument("--set", metavar="KEY=VALUE", action="append",
                   help="set option KEY (sets MMHINT_<KEY>); repeatable; unknown keys are refused")
    r.add_argument("--stats", metavar="DIR", help="write stats files into DIR (created; sets MMHINT_STATS=DIR/)")
    r.add_argument("--lib", metavar="PATH", help="libmmhint.so to load (default: $MMHINT_LIB, the "
                                                 "installed one, <repo>/build/libmmhint.so)")
    r.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")
    r.set_defaults(func=cmd_run)
    return r
