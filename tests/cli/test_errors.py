"""User errors: bad arguments and bad stats files give one line starting
'mmhint:' on stderr and exit status 2, never a traceback."""

import os
import tempfile
import unittest

import sys

sys.dont_write_bytecode = True  # keep tests/cli free of __pycache__
from cli_helpers import fixture, mmhint, run_tests


class ErrorsTest(unittest.TestCase):
    def one_line(self, args, contains=None):
        r = mmhint(*args)
        self.assertEqual(r.returncode, 2, "%s: %r %r" % (args, r.stdout, r.stderr))
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, "%s: %r" % (args, r.stderr))
        self.assertTrue(lines[0].startswith("mmhint: "), lines[0])
        self.assertNotIn("Traceback", r.stderr)
        if contains:
            self.assertIn(contains, lines[0])
        return lines[0]

    def test_bad_arguments(self):
        self.one_line(["nosuchcommand"], "invalid choice")
        self.one_line(["report", "--sort", "size", fixture("sqlite.3001.json")], "invalid choice")
        self.one_line(["report", "--top", "0", fixture("sqlite.3001.json")], "--top")
        self.one_line(["report", "--top", "x", fixture("sqlite.3001.json")], "invalid int")
        self.one_line(["report"], "no stats files")
        self.one_line(["advise"], "no stats files")
        self.one_line(["run"], "no command")
        self.one_line(["run", "--set", "noequals", "--", "true"], "KEY=VALUE")
        self.one_line(["ab", "--runs", "0", "--", "true"], "--runs")
        self.one_line(["ab", "--a", "read_mmap=on"], "no command")
        self.one_line(["ab", "--a", "read_mmap", "--", "true"], "KEY=VALUE")
        self.one_line(["ab", "--plain-a", "--a", "read_mmap=on", "--", "true"], "--plain-a")
        self.one_line(["ab", "--config-b", "/nonexistent/x.conf", "--", "true"], "/nonexistent/x.conf")
        self.one_line(["explain"], "PATH")

    def test_unknown_option_suggests(self):
        line = self.one_line(["run", "--set", "hugepage=thp", "--", "true"])
        self.assertEqual(line, "mmhint: unknown option 'hugepage' (did you mean 'hugepages'?)")
        line = self.one_line(["ab", "--a", "read_map=on", "--", "true"])
        self.assertEqual(line, "mmhint: unknown option 'read_map' (did you mean 'read_mmap'?)")
        line = self.one_line(["run", "--set", "zzzzzz=1", "--", "true"])
        self.assertEqual(line, "mmhint: unknown option 'zzzzzz'")

    def test_bad_stats_files(self):
        for name, why in [("truncated.json", "JSON error"), ("wrong-schema.json", "schema"),
                          ("bad-ino.json", "files[0].ino"), ("array.json", "not a JSON object")]:
            for sub in (["report"], ["report", "--json"], ["report", "--openmetrics"], ["advise"]):
                line = self.one_line(sub + [fixture("bad", name)], why)
                self.assertIn(name, line)
        self.one_line(["report", "/nonexistent/stats.json"], "no such file")
        with tempfile.TemporaryDirectory() as d:
            self.one_line(["report", d], "no *.json")
            p = os.path.join(d, "bin.json")
            with open(p, "wb") as f:
                f.write(b"\xff\xfe\x00garbage")
            self.one_line(["report", p], "not UTF-8")
        # One bad file among good ones still fails the whole command, naming it.
        self.one_line(["report", fixture("sqlite.3001.json"), fixture("bad", "truncated.json")], "truncated.json")

    def test_unwritable_outputs(self):
        self.one_line(["report", "--html", "/nonexistent/dir/r.html", fixture("sqlite.3001.json")], "cannot write")


if __name__ == "__main__":
    run_tests()
