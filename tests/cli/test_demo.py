"""mmhint demo, and build/examples/index_lookup (its earlier workload).

A smoke test: `mmhint demo --size small --runs 2 --max-time 1` with the built
library must run its six steps, write an advised config with a read_mmap
rule for the data file, an ab.json whose outputs agree, and a B run whose stats
show the policy in force.  The verdict itself is NOT checked (two runs on a
busy machine decide nothing).  Skipped when the library or index_lookup is
not built."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep tests/cli free of __pycache__
from cli_helpers import BUILD, SOURCE, clean_env, mmhint, real_library, run_tests

sys.path.insert(0, os.path.join(SOURCE, "scripts"))


def index_lookup():
    p = os.path.join(BUILD, "examples", "index_lookup")
    return p if os.path.isfile(p) and os.access(p, os.X_OK) else None


def run(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120,
                          env=clean_env())


class IndexLookupTest(unittest.TestCase):
    def setUp(self):
        self.prog = index_lookup()
        if not self.prog:
            self.skipTest("build/examples/index_lookup is not built")

    def test_help_and_usage(self):
        r = run([self.prog, "--help"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: index_lookup FILE", r.stdout)
        self.assertEqual(run([self.prog]).returncode, 2)
        self.assertEqual(run([self.prog, "--lookups", "x1", "f"]).returncode, 2)

    def test_deterministic_result(self):
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "idx")
            self.assertEqual(run([self.prog, "--make", f, "1M"]).returncode, 0)
            self.assertEqual(os.path.getsize(f), 1 << 20)
            with open(f, "rb") as fh:
                self.assertEqual(fh.read(8), b"IDXLOOK1")
            outs = []
            for _ in range(2):
                r = run([self.prog, f, "--lookups", "100K"])
                self.assertEqual(r.returncode, 0, r.stderr)
                outs.append(r.stdout)
                self.assertIn("ns/lookup", r.stderr)            # timings go to stderr only
            self.assertEqual(outs[0], outs[1])
            self.assertRegex(outs[0], r"^result workload=index_lookup records=16383 table_slots=32768 "
                                      r"memory_bytes=\d+ lookups=102400 found=102400 checksum=0x[0-9a-f]{16}\n$")
            # Another seed gives other content, hence another checksum.
            g = os.path.join(d, "idx2")
            self.assertEqual(run([self.prog, "--make", g, "1M", "--seed", "2"]).returncode, 0)
            r = run([self.prog, g, "--lookups", "100K"])
            self.assertNotEqual(r.stdout, outs[0])
            # Not a data file: one message, status 1.
            with open(g, "wb") as fh:
                fh.write(b"x" * 4096)
            r = run([self.prog, g])
            self.assertEqual(r.returncode, 1)
            self.assertIn("not an index_lookup data file", r.stderr)


class DemoTest(unittest.TestCase):
    def setUp(self):
        self.lib = real_library()
        if not self.lib:
            self.skipTest("libmmhint.so is not built in $MMHINT_BUILD_DIR")
        if not index_lookup():
            self.skipTest("build/examples/index_lookup is not built")

    def test_bad_arguments(self):
        r = mmhint("demo", "--runs", "1", "--lib", self.lib)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--runs must be at least 2", r.stderr)
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("demo", "--size", "512K", "--dir", d, "--lib", self.lib)
            self.assertEqual(r.returncode, 2)
            self.assertIn("--size must be at least 1M", r.stderr)
            r = mmhint("demo", "--size", "huge", "--dir", d, "--lib", self.lib)
            self.assertEqual(r.returncode, 2)

    def test_small_demo(self):
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("demo", "--size", "small", "--runs", "2", "--max-time", "0", "--dir", d, "--lib", self.lib,
                       timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr)
            out = r.stdout
            # The six steps, in order, each showing the command it runs.
            pos = [out.find("==> step %d/6:" % i) for i in range(1, 7)]
            self.assertTrue(all(p >= 0 for p in pos), out[:2000])
            self.assertEqual(pos, sorted(pos))
            data = os.path.join(d, "data.bin")
            self.assertEqual(os.path.getsize(data), 16 << 20)
            self.assertRegex(out, r"\$ .*mmhint ab .*--plain-a --config-b %s" % re.escape(os.path.join(d, "advised.conf")))
            # advise proposed read->mmap for the data file read in 4 KiB calls.
            with open(os.path.join(d, "advised.conf")) as f:
                conf = f.read()
            self.assertRegex(conf, r"(?m)^path = %s$" % re.escape(data))
            self.assertRegex(conf, r"(?m)^read_mmap = auto$")
            with open(os.path.join(d, "ab.json")) as f:
                ab = json.load(f)
            self.assertEqual(ab["schema"], "mmhint-ab/1")
            self.assertTrue(ab["outputs_identical"])
            measured = [x for x in ab["runs"] if not x["warmup"]]
            self.assertEqual(sorted(x["side"] for x in measured), ["A", "A", "B", "B"], "--max-time 0: one round")
            self.assertIn("verdict", ab["summary"])
            self.assertTrue(os.path.isfile(os.path.join(d, "ab.md")))
            self.assertTrue(os.path.isfile(os.path.join(d, "report.html")))
            # The B run's stats: the advised policy was in force.
            rep = mmhint("report", "--json", os.path.join(d, "ab", "b-2"))
            self.assertEqual(rep.returncode, 0, rep.stderr)
            doc = json.loads(rep.stdout)
            f = [x for x in doc["files"] if data in x["paths"]][0]
            self.assertEqual(f["bytes_read"], 3 * (16 << 20))
            self.assertGreater(f["converted_bytes"], 0)
            # The report of the demo's own directory works (ab.json is not a stats file).
            rep = mmhint("report", d)
            self.assertEqual((rep.returncode, rep.stderr), (0, ""))
            # The summary at the end, read back from those files.
            tail = out[out.rfind("==> summary"):]
            self.assertRegex(tail, r"advised:  read_mmap = auto")
            self.assertRegex(tail, r"verdict:  (B is |no difference)")
            self.assertIn("%s in the last B run: 48M in" % data, tail)

    def test_fresh_directory_and_stated_duration(self):
        from mmhint_cli import demo
        with open(os.path.join(SOURCE, "README.md")) as f:
            self.assertIn("scripts/mmhint demo     # the main job (%s)" % demo.DURATION, f.read())
        r = mmhint("demo", "--help")
        self.assertIn(demo.DURATION, " ".join(r.stdout.split()))
        with tempfile.TemporaryDirectory() as t:
            r = mmhint("demo", "--size", "small", "--runs", "2", "--max-time", "0", "--lib", self.lib,
                       env=clean_env(TMPDIR=t), timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            made = os.listdir(t)
            self.assertEqual(len([m for m in made if m.startswith("mmhint-demo-")]), 1, made)
            self.assertNotIn("mmhint-demo", made)


if __name__ == "__main__":
    run_tests()
