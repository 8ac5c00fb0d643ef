"""mmhint advise: golden output on the fixtures, the heuristics one by one,
and the round trip advise -> config -> the library's own rule engine."""

import json
import os
import re
import subprocess
import tempfile
import unittest

import sys

sys.dont_write_bytecode = True  # keep tests/cli free of __pycache__
from cli_helpers import HERE, clean_env, explain_binary, fixture, golden, mmhint, run_tests

ALL = [fixture("batch"), fixture("sqlite.3001.json")]


def rules(text):
    """[(path glob, {option: value})] of a config text, plus the globals."""
    out, glob, cur = [], {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line == "[rule]":
            cur = {}
            out.append(cur)
            continue
        k, v = [x.strip() for x in line.split("=", 1)]
        (cur if cur is not None else glob)[k] = v
    return glob, out


class AdviseTest(unittest.TestCase):
    def test_golden(self):
        r = mmhint("advise", *ALL)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        golden(self, "advise.conf", r.stdout)

    def test_heuristics(self):
        r = mmhint("advise", *ALL)
        glob, rs = rules(r.stdout)
        self.assertEqual(glob, {"hugepages": "thp"})
        by_path = {x.pop("path"): x for x in rs}
        self.assertEqual(by_path, {
            "/data/archive/dump.bin": {"advice": "sequential", "drop_behind": "on"},  # 128M streamed once
            "/data/db/main.db": {"advice": "random"},                                   # random 4K preads
            "/data/db/index.bin": {"mmap_advice": "random"},                            # random mmaps
            "/data/logs/*": {"read_mmap": "auto"},                                      # 2 files, 16K seq reads
        })
        # /etc/ld.so.cache (one mmap, no reads) gets nothing.
        self.assertNotIn("ld.so.cache", r.stdout.split("[rule]", 1)[1])
        # Every rule is preceded by evidence with numbers.
        blocks = r.stdout.split("[rule]")
        for b in blocks[:-1]:
            ev = [l for l in b.splitlines() if l.startswith("# evidence:")]
            self.assertTrue(ev and all(re.search(r"\d", l) for l in ev), b)

    def test_mostly_written_files_get_no_read_policy(self):
        # main.db's random preads would get advice = random; written more than read, it gets nothing.
        with tempfile.TemporaryDirectory() as d:
            doc = json.load(open(os.path.join(HERE, "fixtures", "sqlite.3001.json")))
            for f in doc["files"]:
                if "/data/db/main.db" in f["paths"]:
                    f["writes"] = 9000
                    f["bytes_written"] = f["bytes_read"] + 1
            path = os.path.join(d, "written.json")
            with open(path, "w") as out:
                json.dump(doc, out)
            r = mmhint("advise", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            _, rs = rules(r.stdout)
            self.assertNotIn("/data/db/main.db", [x.get("path") for x in rs])

    def test_exact_path_when_directory_is_mixed(self):
        # wc alone: both logs read with 16K reads -> one directory glob.
        r = mmhint("advise", fixture("batch", "wc.2101.json"))
        self.assertIn("path = /data/logs/*\n", r.stdout)
        # Make app-2.log random: the directory no longer shares one pattern.
        with open(os.path.join(HERE, fixture("batch", "wc.2101.json"))) as f:
            doc = json.load(f)
        doc["files"][2]["seq_reads"] = 3
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "wc.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("advise", p)
        self.assertIn("path = /data/logs/app-1.log\n", r.stdout)
        self.assertNotIn("/data/logs/*", r.stdout)

    def test_glob_characters_are_escaped(self):
        with open(os.path.join(HERE, fixture("batch", "cat.2102.json"))) as f:
            doc = json.load(f)
        doc["files"][0]["paths"] = ["/data/archive/dump[1]*.bin"]
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "cat.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("advise", p)
        self.assertIn("path = /data/archive/dump\\[1\\]\\*.bin\n", r.stdout)

    def test_nothing_to_propose(self):
        with open(os.path.join(HERE, fixture("batch", "wc.2101.json"))) as f:
            doc = json.load(f)
        doc["files"] = doc["files"][:1]
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "wc.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("advise", p)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("nothing to propose", r.stdout)
        self.assertNotIn("[rule]", r.stdout)

    def test_round_trip_through_the_library(self):
        exe = explain_binary()
        if not exe:
            self.skipTest("mmhint-explain is not built in $MMHINT_BUILD_DIR")
        r = mmhint("advise", *ALL)
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "advised.conf")
            with open(conf, "w") as f:
                f.write(r.stdout)
            env = clean_env(MMHINT_EXPLAIN=exe)
            paths = ["/data/logs/app-9.log", "/data/db/main.db", "/data/db/index.bin", "/data/archive/dump.bin",
                     "/elsewhere/x"]
            # The helper's raw answer: the library parsed the config without a warning.
            raw = subprocess.run([exe, "--config", conf] + paths, stdout=subprocess.PIPE, text=True,
                                 env=clean_env(), timeout=60)
            self.assertEqual(raw.returncode, 0)
            lines = [json.loads(l) for l in raw.stdout.splitlines() if l.strip()]
            self.assertEqual(lines[0]["warnings"], [])
            self.assertEqual(lines[0]["process"]["hugepages"]["value"], "thp")
            got = {o["path"]: o for o in lines[1:]}
            self.assertEqual(got["/data/logs/app-9.log"]["options"]["read_mmap"]["value"], "auto")
            self.assertEqual(got["/data/db/main.db"]["options"]["advice"]["value"], "random")
            self.assertEqual(got["/data/db/index.bin"]["options"]["mmap_advice"]["value"], "random")
            self.assertEqual(got["/data/archive/dump.bin"]["options"]["drop_behind"]["value"], "on")
            self.assertEqual(got["/data/archive/dump.bin"]["options"]["advice"]["value"], "sequential")
            self.assertIsNone(got["/elsewhere/x"]["rule"])
            # And mmhint explain renders it: rule file:line and the option with its source.
            e = mmhint("explain", "--config", conf, "/data/db/main.db", "/elsewhere/x", env=env)
            self.assertEqual(e.returncode, 0, e.stderr)
            row = [l for l in e.stdout.splitlines() if l.startswith("/data/db/main.db")][0]
            self.assertRegex(row, re.escape(conf) + r":\d+ +advice=random \(rule:" + re.escape(conf) + r":\d+\)")
            row = [l for l in e.stdout.splitlines() if l.startswith("/elsewhere/x")][0]
            self.assertRegex(row, r"^/elsewhere/x +- +\(defaults\)$")
            # A stats file argument explains the files that run touched, for its program.
            e = mmhint("explain", "--config", conf, fixture("batch", "wc.2101.json"), env=env)
            self.assertEqual(e.returncode, 0, e.stderr)
            self.assertIn("program: wc", e.stdout)
            self.assertRegex(e.stdout, r"/data/logs/app-2.log +\S+:\d+ +read_mmap=auto")


if __name__ == "__main__":
    run_tests()
