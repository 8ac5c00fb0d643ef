"""`mmhint --version`: the command's version and the library's, which must
agree (the command knows the library's options and statistics of its own
version only).

The library's version is what its mmhint_version() returns, asked in a
separate Python process that loads it with ctypes under MMHINT_DISABLE=1 and
an otherwise empty MMHINT_ environment, so that loading it can neither write
statistics nor change this process."""

import argparse
import os
import subprocess
import sys

from .common import COMMAND, UserError, command_version, find_library, warn

_ASK = ("import ctypes, sys\n"
        "f = ctypes.CDLL(sys.argv[1]).mmhint_version\n"
        "f.restype = ctypes.c_char_p\n"
        "print(f().decode())\n")


def library_version(lib):
    """The version string libmmhint at LIB reports.  Raises UserError when it
    cannot be loaded or does not export mmhint_version."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}
    env["MMHINT_DISABLE"] = "1"
    try:
        r = subprocess.run([sys.executable, "-c", _ASK, lib], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError("cannot ask %s for its version: %s" % (lib, e))
    if r.returncode != 0 or not r.stdout.strip():
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError("cannot load %s to ask its version (%s); reinstall it or pass MMHINT_LIB=PATH" % (lib, last))
    return r.stdout.strip()


def print_version():
    """Prints both versions; returns 0 when they agree, 1 when they differ
    (with a warning), 2 when the library cannot be found or loaded."""
    mine = command_version()
    print("mmhint %s (%s)" % (mine, COMMAND))
    sys.stdout.flush()
    try:
        lib = find_library()
        theirs = library_version(lib)
    except UserError as e:
        warn(str(e))
        return 2
    print("libmmhint %s (%s)" % (theirs, lib))
    if theirs != mine:
        sys.stdout.flush()
        warn("WARNING: the command is version %s but the library is %s; install matching versions "
             "(or pass --lib/MMHINT_LIB for a library of this version)" % (mine, theirs))
        return 1
    return 0


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.exit(print_version())


def add_argument(parser):
    """Adds --version to PARSER (the top-level parser of main.py)."""
    parser.add_argument("--version", action=_VersionAction,
                        help="print the versions of the command and of the library it loads, and exit "
                             "(status 1 when they differ, 2 when the library is missing)")
