"""Helpers shared by the tests of scripts/mmhint (tests/cli/test_*.py).

Each test file is run on its own by ctest (python3 FILE) with MMHINT_BUILD_DIR
and MMHINT_SOURCE_DIR set; exit status 77 means skipped.  Set
MMHINT_UPDATE_GOLDEN=1 to rewrite the golden files from the current output
(then review the diff)."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("MMHINT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("MMHINT_BUILD_DIR") or os.path.join(SOURCE, "build")
MMHINT = os.path.join(SOURCE, "scripts", "mmhint")
FIXTURES = os.path.join(HERE, "fixtures")
GOLDEN = os.path.join(HERE, "golden")


def clean_env(**extra):
    """The environment for a child mmhint: no inherited MMHINT_ variables
    (ctest's MMHINT_BUILD_DIR/SOURCE_DIR would reach the library), plus EXTRA."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMHINT_") and k != "LD_PRELOAD"}
    env.update(extra)
    return env


def mmhint(*args, env=None, input=None, timeout=300, cwd=HERE):
    """Runs scripts/mmhint ARGS in tests/cli (so that fixture paths are
    relative and golden files do not depend on the checkout's location);
    returns CompletedProcess with text stdout/stderr."""
    stdin = {} if input is not None else {"stdin": subprocess.DEVNULL}  # not the test runner's stdin
    return subprocess.run([sys.executable, MMHINT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env if env is not None else clean_env(), input=input, timeout=timeout, text=True,
                          cwd=cwd, **stdin)


def real_library():
    p = os.path.join(BUILD, "libmmhint.so")
    return p if os.path.isfile(p) else None


def explain_binary():
    p = os.path.join(BUILD, "mmhint-explain")
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


_standin = None


def standin_library():
    """An empty shared library compiled here, loaded in place of libmmhint.so
    where a test checks only what the command does around the library
    (environment, timing, output comparison).  None without a C compiler."""
    global _standin
    if _standin:
        return _standin
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    d = tempfile.mkdtemp(prefix="mmhint-cli-test-")
    src = os.path.join(d, "standin.c")
    with open(src, "w") as f:
        f.write("int mmhint_cli_test_standin;\n")
    out = os.path.join(d, "libstandin.so")
    if subprocess.call([cc, "-shared", "-fPIC", "-o", out, src]) != 0:
        return None
    _standin = out
    return out


def golden(testcase, name, actual):
    """Compares ACTUAL with golden/NAME (or rewrites it under MMHINT_UPDATE_GOLDEN=1)."""
    path = os.path.join(GOLDEN, name)
    if os.environ.get("MMHINT_UPDATE_GOLDEN") == "1":
        with open(path, "w", encoding="utf-8") as f:
            f.write(actual)
        return
    with open(path, encoding="utf-8") as f:
        expected = f.read()
    testcase.maxDiff = None
    testcase.assertEqual(expected, actual, "output differs from %s" % path)


def fixture(*parts):
    """A fixture path relative to tests/cli, where mmhint() runs."""
    return os.path.join("fixtures", *parts)


def run_tests():
    """unittest main that exits 77 when every test was skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun and len(r.skipped) == r.testsRun:
        sys.exit(77)
    sys.exit(0)
