"""What report, advise, explain and run show and refuse: every stats file of a
directory (.json.N included) is read, a bad one is named and skipped (exit
1), every policy's effect on a file is shown in words, stdio-only files are
"not timed", end-of-file reads stay out of the average, explain takes a stats
directory, run checks option values with the library's parser and refuses a
--lib that is not a shared library."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
from cli_helpers import FIXTURES, SOURCE, clean_env, explain_binary, fixture, mmhint, real_library, run_tests

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from mmhint_cli import effects  # noqa: E402
from mmhint_cli.common import check_value  # noqa: E402


def load(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)


def write(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f)


def hinted_doc():
    """The sqlite fixture with the hints section, a read->mmap fallback of a
    read-write open, huge pages, and a file read only through stdio."""
    doc = load("sqlite.3001.json")
    f = doc["files"][0]
    f["policy"].update({"advice": "random", "drop_behind": True})
    f["fallbacks"] = {"open_flags": 2}
    f["hints"] = {"pattern": "random", "pattern_switches": 1, "advice_calls": 3, "advice_errors": 1,
                  "drop_calls": 4, "drop_asked_bytes": 8 << 20, "dropped_bytes": 6 << 20, "dropped_bytes_exact": True,
                  "madvise_calls": 0, "madvise_errors": 0, "willneed_calls": 0, "willneed_bytes": 0,
                  "residency_open": {"t_ns": 1, "pages": 1000, "resident": 250, "exact": True},
                  "residency_close": {"t_ns": 2, "pages": 1000, "resident": 900, "exact": True}}
    s = dict(doc["files"][1])
    s.update({"ino": 999, "paths": ["/data/conf.txt"], "opens": 0, "reads": 0, "bytes_read": 0, "read_time_ns": 0,
              "stdio_opens": 1, "stdio_reads": 10, "stdio_bytes_read": 40960,
              "read_size_hist": {k: 0 for k in s.get("read_size_hist", {})},
              "samples": {"kept": 2, "seen": 10, "columns": ["t_ns", "offset", "length", "op"],
                          "rows": [[5, -1, 4096, "s"], [6, -1, 4096, "s"]]}})
    e = dict(doc["files"][1])
    e.update({"ino": 1000, "paths": ["/data/small.txt"], "opens": 1, "reads": 2, "eof_reads": 1, "bytes_read": 80000,
              "read_time_ns": 1000, "read_size_hist": {"10K-100K": 1}})
    doc["files"] += [s, e]
    doc["memory"]["policy"] = {"hugepages": "thp"}
    doc["process"]["options"]["hugepages"] = {"value": "thp", "source": "env"}
    doc["memory"]["huge_pages"] = {"requested_bytes": 64 << 20, "obtained_bytes": 60 << 20}
    return doc


class DirectoryTest(unittest.TestCase):
    def test_numbered_stats_files_are_read(self):
        with tempfile.TemporaryDirectory() as d:
            doc = load("batch/wc.2101.json")
            write(os.path.join(d, "wc.2101.json"), doc)
            doc["process"]["start_ns"] += 1
            write(os.path.join(d, "wc.2101.json.1"), doc)
            r = mmhint("report", "--json", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            procs = json.loads(r.stdout)["processes"]
            self.assertEqual(sorted(p["process"] for p in procs), ["2101", "2101.1"])
            r = mmhint("advise", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("wc.2101.json.1", r.stdout)

    def test_a_bad_file_is_named_and_skipped(self):
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(os.path.join(FIXTURES, "batch", "wc.2101.json"), d)
            shutil.copy(os.path.join(FIXTURES, "bad", "truncated.json"), d)
            for sub in (["report"], ["report", "--openmetrics"], ["advise"]):
                r = mmhint(*sub, d)
                self.assertEqual(r.returncode, 1, sub)
                self.assertIn("truncated.json", r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
                self.assertTrue(r.stdout)
            self.assertIn("/data/logs/app-1.log", mmhint("report", d).stdout)

    def test_other_mmhint_documents_are_not_stats(self):
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(os.path.join(FIXTURES, "batch", "wc.2101.json"), d)
            write(os.path.join(d, "ab.json"), {"schema": "mmhint-ab/1", "runs": []})
            r = mmhint("report", d)
            self.assertEqual((r.returncode, r.stderr), (0, ""))


class EffectsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        write(os.path.join(self.dir, "sqlite.3001.json"), hinted_doc())

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_text_shows_what_every_policy_did(self):
        r = mmhint("report", self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("fell back 2 times: opened for writing", out)
        self.assertIn("advice=random: posix_fadvise 3 calls, 1 error", out)
        self.assertIn("drop_behind: 6.0M of the 8.0M asked released", out)
        self.assertIn("residency: at open 250 of 1000 pages", out)
        self.assertIn("at close 900 of 1000 pages", out)
        self.assertIn("huge pages: 60M obtained of 64M requested", out)
        self.assertNotIn("no memory policy in force", out)

    def test_stdio_only_file(self):
        out = mmhint("report", self.dir).stdout
        row = next(l for l in out.splitlines() if l.startswith("/data/conf.txt"))
        self.assertIn("not timed", row)
        self.assertNotIn("0ns", row)
        self.assertIn("1K-10K (stdio)", row)
        self.assertEqual(row.split()[1], "1", "an fopen'd file has 1 open, not 0")

    def test_eof_reads_stay_out_of_the_average(self):
        out = mmhint("report", self.dir).stdout
        row = next(l for l in out.splitlines() if l.startswith("/data/small.txt"))
        self.assertIn("78K", row.split())  # 80000 bytes in one read of data, the other was the end of the file
        self.assertIn("10K-100K", row)

    def test_every_fallback_reason_has_words(self):
        with open(os.path.join(SOURCE, "policy", "readmap_fallbacks.h")) as f:
            text = f.read()
        block = text[text.index("#define MMHINT_FALLBACKS"):]
        block = block[:block.index("\n\n")]
        reasons = re.findall(r"F\((\w+),", block)
        self.assertGreater(len(reasons), 10)
        self.assertEqual(sorted(reasons), sorted(effects.FALLBACK_WORDS))
        with open(os.path.join(SOURCE, "docs", "STATS.md")) as f:
            doc = f.read()
        for r in reasons:
            self.assertIn("`%s`" % r, doc, r)


class HtmlMemoryTest(unittest.TestCase):
    def page(self, doc):
        with tempfile.TemporaryDirectory() as d:
            write(os.path.join(d, "x.json"), doc)
            out = os.path.join(d, "r.html")
            r = mmhint("report", "--html", out, d)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                html = f.read()
        return html[html.index("<h2>Memory</h2>"):]

    def test_no_policy_means_no_outcome_chart(self):
        doc = load("sqlite.3001.json")
        doc["memory"].update({"huge_requested_bytes": 0, "hugetlb_bytes": 0, "huge_pages": {
            "requested_bytes": 0, "obtained_bytes": 0, "thp_bytes": 0}, "numa_pages": {"0": 0}})
        mem = self.page(doc)
        self.assertIn("no memory policy in force", mem)
        self.assertNotIn("requested vs obtained", mem)
        self.assertNotIn("malloc_calls", mem, "no dump of the raw counters")

    def test_requested_vs_obtained_in_binary_units(self):
        mem = self.page(hinted_doc())
        self.assertIn("huge pages: 60M obtained of 64M requested", mem)
        self.assertIn("requested vs obtained", mem)
        self.assertIn(">64M<", mem)
        self.assertIn(">60M<", mem)


class ExplainDirectoryTest(unittest.TestCase):
    def test_a_stats_directory_is_explained_file_by_file(self):
        binary = explain_binary()
        if not binary:
            self.skipTest("mmhint-explain is not built")
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "c.conf")
            with open(conf, "w") as f:
                f.write("[rule]\npath = /data/logs/*.log\nadvice = sequential\n")
            stats = os.path.join(d, "stats")
            shutil.copytree(os.path.join(FIXTURES, "batch"), stats)
            r = mmhint("explain", "--explain-bin", binary, "--config", conf, stats + "/")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("/data/logs/app-2.log", r.stdout)
            self.assertIn("advice=sequential (rule:", r.stdout)
            self.assertNotIn(stats, r.stdout.split("per-file options")[1])


class RunChecksTest(unittest.TestCase):
    CASES = [("read_mmap_min_file", v) for v in ("12Q", "64K", "64 K", "64KiB", "64KB", "4096B", "2T", "1T", "-1",
                                                 "1.5M", "")] + \
            [("read_mmap", v) for v in ("on", "AUTO", "maybe", " off ")] + \
            [("drop_behind", v) for v in ("yes", "TRUE", "2", "nope")] + \
            [("stats_samples", v) for v in ("16", "+16", "-1", "65537", "1e3")] + \
            [("hugepage_max", v) for v in ("64T", "65T")] + \
            [("stats_interval", v) for v in ("10s", "5m", "1h", "30", "500ms", " 2 s ", "0", "abc", "-5", "1.5s",
                                             "8d", "169h", "168h")]

    def test_values_are_refused_with_status_2(self):
        lib = real_library()
        if not lib:
            self.skipTest("libmmhint.so is not built")
        r = mmhint("run", "--lib", lib, "--set", "read_mmap_min_file=12Q", "--", "true")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("read_mmap_min_file", r.stderr)
        r = mmhint("run", "--lib", lib, "--set", "read_mmap_min_file=16K", "--", "true")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_parser_agrees_with_the_library(self):
        binary = explain_binary()
        if not binary:
            self.skipTest("mmhint-explain is not built")
        for key, value in self.CASES:
            env = clean_env(**{"MMHINT_" + key.upper(): value})
            p = subprocess.run([binary, "/x"], env=env, capture_output=True, text=True, timeout=30)
            lib_ok = not re.search(r"mmhint: .*%s" % key.upper(), p.stderr + p.stdout) and \
                "MMHINT_" + key.upper() not in json.dumps(json.loads(p.stdout.splitlines()[0]).get("warnings", []))
            self.assertEqual(check_value(key, value) is None, lib_ok, "%s=%r: library %s; %s" % (
                key, value, "accepts" if lib_ok else "refuses", p.stderr + p.stdout[:300]))

    def test_lib_must_be_a_shared_library(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "app.log")
            with open(log, "w") as f:
                f.write("not a library\n")
            for bad in (log, shutil.which("true")):
                r = mmhint("run", "--lib", bad, "--", "true")
                self.assertEqual(r.returncode, 2, bad)
                self.assertIn("not a shared library", r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)


if __name__ == "__main__":
    run_tests()
