"""The mmhint command: the top-level parser and the dispatch to the
subcommands.  Each subcommand lives in its own module, which builds its own
parser (add_parser) and names its function with set_defaults(func=...)."""

import sys

from . import ab, advise, demo, explain, report, run, top, tune, version
from .common import PROG, UserError, warn
from .parsing import Formatter, Parser

DESCRIPTION = """\
mmhint runs unmodified programs under libmmhint.so (LD_PRELOAD), compares two
policies on the same command, reports what the library saw, proposes a
policy from it and measures the relevant policies to keep the best.  See
docs/CLI.md."""

# The subcommands, in the order --help lists them.
COMMANDS = (run, explain, ab, report, top, advise, tune, demo)


def build_parser():
    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=Formatter)
    version.add_argument(p)
    sub = p.add_subparsers(dest="sub", metavar="SUBCOMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.add_parser(sub)
    return p


def main(argv=None):
    """Runs the command line ARGV (default sys.argv[1:]); returns the exit
    status: the subcommand's, 2 after a usage or user error (one 'mmhint:'
    line on stderr), 130 on Ctrl-C, 1 when stdout is closed early."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.sub:
            parser.print_help()
            return 2
        return args.func(args)
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
