"""The argparse classes every subcommand's parser is built with.  Each
command module (run.py, explain.py, ab.py, report.py, advise.py, demo.py)
has add_parser(sub), which adds its subcommand to SUB (the subparsers of
main.build_parser) with set_defaults(func=cmd_...)."""

import argparse
import textwrap

from .common import UserError


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
    """CMD (an argparse.REMAINDER list) without its leading '--'."""
    return cmd[1:] if cmd and cmd[0] == "--" else cmd
