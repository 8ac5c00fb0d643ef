"""mmhint report: terminal, --json, --openmetrics against golden files, and
the merge rules."""

import json
import os
import re
import tempfile
import unittest

import sys

sys.dont_write_bytecode = True  # keep tests/cli free of __pycache__
from cli_helpers import HERE, fixture, golden, mmhint, run_tests

ALL = [fixture("batch"), fixture("sqlite.3001.json")]


class ReportTest(unittest.TestCase):
    def test_terminal_golden(self):
        r = mmhint("report", *ALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        golden(self, "report.txt", r.stdout)

    def test_sort_and_top(self):
        r = mmhint("report", "--sort", "time", "--top", "2", *ALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = r.stdout.split("== files")[1].split("\n\n")[0]
        self.assertIn("top 2 of 6, by time", files)
        rows = [l.split()[0] for l in files.splitlines()[3:] if l.startswith("/")]
        # dump.bin spent 41.8 ms reading, main.db 29.5 ms: the two slowest.
        self.assertEqual(rows, ["/data/archive/dump.bin", "/data/db/main.db"])
        r = mmhint("report", "--sort", "reads", "--top", "1", *ALL)
        self.assertIn("/data/db/main.db", r.stdout.split("== files")[1].split("== memory")[0])

    def test_json_golden_and_merge(self):
        r = mmhint("report", "--json", *ALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        golden(self, "report.json", r.stdout)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["processes"]), 3)
        app1 = [f for f in doc["files"] if f["path"] == "/data/logs/app-1.log"]
        self.assertEqual(len(app1), 1, "one file (same dev+ino) in two processes is merged")
        f = app1[0]
        self.assertEqual(f["opens"], 2)
        self.assertEqual(f["reads"], 257 + 33)
        self.assertEqual(f["bytes_read"], 8 * 1024 * 1024)
        self.assertEqual(f["max_byte_read"], 4 * 1024 * 1024)          # MAX, not a sum
        self.assertEqual(f["first_access_ns"], 1764000000001200000)     # MIN of the two
        self.assertEqual(f["last_access_ns"], 1764000000140100000)      # MAX of the two
        self.assertEqual(f["read_size_hist"]["10K-100K"], 256)
        self.assertEqual(f["read_size_hist"]["100K-1M"], 32)
        self.assertEqual(sorted(f["exes"]), ["/usr/bin/cat", "/usr/bin/wc"])
        # Samples of the later process are shifted onto the common time axis.
        self.assertEqual(f["samples"]["rows"][-1][0] >= 50000000, True)
        self.assertEqual(doc["memory"]["malloc_calls"], 41 + 22 + 18400)
        self.assertEqual(doc["memory"]["size_classes"]["32M+"], 8)

    def test_directory_is_recursive(self):
        r1 = mmhint("report", "--json", fixture("batch"))
        r2 = mmhint("report", "--json", fixture("batch", "wc.2101.json"), fixture("batch", "cat.2102.json"))
        self.assertEqual(json.loads(r1.stdout)["files"], json.loads(r2.stdout)["files"])

    def test_openmetrics_golden(self):
        r = mmhint("report", "--openmetrics", *ALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        golden(self, "report.openmetrics", r.stdout)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "# EOF")
        self.assertIn("# TYPE mmhint_file_bytes_read counter", lines)
        self.assertIn('mmhint_file_bytes_read_total{path="/data/logs/app-1.log",exe="/usr/bin/wc",process="2101"} '
                      '4194304', lines)
        sample = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? [0-9.e+-]+$')
        for l in lines:
            if not l.startswith("#"):
                self.assertRegex(l, sample)
        # Each family's samples follow its TYPE line and no family repeats.
        types = [l.split()[2] for l in lines if l.startswith("# TYPE")]
        self.assertEqual(len(types), len(set(types)))

    def test_openmetrics_escapes_labels(self):
        with open(os.path.join(HERE, fixture("batch", "wc.2101.json"))) as f:
            doc = json.load(f)
        doc["files"][1]["paths"] = ['/data/we"ird\\name\nx.log']
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "odd.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("report", "--openmetrics", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('path="/data/we\\"ird\\\\name\\nx.log"', r.stdout)
        self.assertEqual(len([l for l in r.stdout.splitlines() if "we\\\"ird" in l and l.startswith("mmhint_file_opens")]), 1)

    def test_unknown_keys_are_ignored(self):
        with open(os.path.join(HERE, fixture("sqlite.3001.json"))) as f:
            doc = json.load(f)
        doc["future_key"] = {"x": 1}
        doc["files"][0]["future_counter"] = 5
        doc["process"]["future"] = [1]
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "future.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("report", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/data/db/main.db", r.stdout)

    def test_html_written(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "r.html")
            r = mmhint("report", "--html", out, *ALL)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                page = f.read()
        for name in ("/data/logs/app-1.log", "/data/db/main.db", "/data/archive/dump.bin"):
            self.assertIn(name, page)
        self.assertNotIn("<script", page.lower())
        self.assertNotRegex(page, r'(src|href)="(https?:)?//')
        self.assertGreaterEqual(page.count("<svg"), 1 + 2 * 6)
        self.assertIn("no memory policy in force", page)


if __name__ == "__main__":
    run_tests()
