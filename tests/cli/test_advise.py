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


def edited(d, src, change, name=None):
    """Writes fixture SRC into directory D with CHANGE(file) applied to every
    file record; returns the new path."""
    with open(os.path.join(HERE, src)) as f:
        doc = json.load(f)
    for rec in doc["files"]:
        change(rec)
    p = os.path.join(d, name or os.path.basename(src))
    with open(p, "w") as f:
        json.dump(doc, f)
    return p


def slow(f, factor=4):
    """Makes F's reads take FACTOR times as long: the fixtures' logs (1.4 and
    1.9 ms of reads per process) then pass the 4 ms below which no read
    policy is proposed (advise.MIN_READ_TIME_NS)."""
    f["read_time_ns"] = (f.get("read_time_ns") or 0) * factor


def slow_fixtures(d):
    """ALL with every file's reads taking four times as long (slow)."""
    os.makedirs(os.path.join(d, "batch"), exist_ok=True)
    return [edited(os.path.join(d, "batch"), fixture("batch", n), slow) for n in ("cat.2102.json", "wc.2101.json")] \
        + [edited(d, fixture("sqlite.3001.json"), slow)]


def cold_fixtures(d):
    """ALL with every file recorded as cold when opened (residency_at_open),
    its reads taking four times as long (slow)."""
    def cold(f):
        f["residency_at_open"] = {"t_ns": 1, "pages": max(1, (f.get("size_at_open") or 0) // 4096), "resident": 0,
                                  "exact": True}
        slow(f)
    os.makedirs(os.path.join(d, "batch"))
    return [edited(os.path.join(d, "batch"), fixture("batch", n), cold) for n in ("cat.2102.json", "wc.2101.json")] \
        + [edited(d, fixture("sqlite.3001.json"), cold)]


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
        # The fixtures' logs were read in 1.4-1.9 ms per process: too little
        # to repay the library's start-up, so nothing is proposed for them...
        r = mmhint("advise", *ALL)
        self.assertEqual(rules(r.stdout), ({}, []))
        self.assertRegex(r.stdout, r"# no policy for /data/logs/app-1.log: .*its reads took 1.54 ms per process "
                                   r"\(2 processes\), below the 4 ms a read policy needs")
        # ...with reads four times as slow they are.  The fixtures predate
        # open_modes and residency_at_open: only what needs neither is proposed.
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", *slow_fixtures(d))
        glob, rs = rules(r.stdout)
        self.assertEqual(glob, {})  # hugepages are never proposed (tune tries them)
        by_path = {x.pop("path"): x for x in rs}
        self.assertEqual(by_path, {
            "/data/logs/*": {"read_mmap": "auto"},                                      # 2 files, 16K seq reads
        })
        # The stream (dump.bin) and the random reader (main.db) say why not.
        self.assertRegex(r.stdout, r"# no policy for /data/archive/dump.bin: .*cannot know whether drop_behind")
        self.assertRegex(r.stdout, r"# no policy for /data/db/main.db: .*advice = random not proposed")
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

    def test_cold_stream_gets_drop_behind_and_random_reader_prefetch(self):
        with tempfile.TemporaryDirectory() as d:
            paths = cold_fixtures(d)
            r = mmhint("advise", *paths)
        _, rs = rules(r.stdout)
        by_path = {x.pop("path"): x for x in rs}
        self.assertEqual(by_path["/data/archive/dump.bin"], {"drop_behind": "on"})  # 128M cold, read once
        # Random 4K preads of a cold file: prefetch = auto (advice=random was measured slower, and is not proposed).
        self.assertEqual(by_path["/data/db/main.db"], {"prefetch": "auto"})
        self.assertRegex(r.stdout, r"main.db: .*read at random .* cached at open \(residency_at_open\): bring it in")
        self.assertIn("advice = random not proposed (measured 0.56x", r.stdout)
        self.assertRegex(r.stdout, r"dump.bin: .*0% of its 32768 pages cached at open \(residency_at_open\): a cold "
                                   r"stream")

    def test_a_random_reader_reading_its_file_many_times_over_gets_read_mmap_with_the_prefetch(self):
        # main.db (51,200 pages) read in 120,000 random 4K preads, cold at open: once the prefetch has
        # brought it in, the reads' system calls decide the run (scripts/bench rows 3e, 3i, 3j).
        def many(f, rdwr):
            f["residency_at_open"] = {"t_ns": 1, "pages": max(1, (f.get("size_at_open") or 0) // 4096), "resident": 0,
                                      "exact": True}
            slow(f)
            if "/data/db/main.db" in f["paths"]:
                f["reads"] = 120000
                f["bytes_read"] = 120000 * 4096
                f["open_modes"] = {"read": 0 if rdwr else 1, "write": 0, "rdwr": 1 if rdwr else 0}
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", edited(d, fixture("sqlite.3001.json"), lambda f: many(f, False), "ro.json"))
            self.assertEqual(r.returncode, 0, r.stderr)
            _, rs = rules(r.stdout)
            by_path = {x.pop("path"): x for x in rs}
            self.assertEqual(by_path["/data/db/main.db"], {"prefetch": "auto", "read_mmap": "auto"})
            self.assertIn("2.34 reads per page of the file", r.stdout)
            # Opened read-write, the conversion would fall back: the prefetch alone, and why.
            r = mmhint("advise", edited(d, fixture("sqlite.3001.json"), lambda f: many(f, True), "rw.json"))
        _, rs = rules(r.stdout)
        by_path = {x.pop("path"): x for x in rs}
        self.assertEqual(by_path["/data/db/main.db"], {"prefetch": "auto"})
        self.assertIn("read_mmap not proposed with the prefetch", r.stdout)

    def test_a_random_reader_of_a_few_pages_gets_the_prefetch_alone(self):
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", *cold_fixtures(d))
        self.assertIn("0.10 reads per page of the file: the cold start decides the run; read_mmap not proposed",
                      r.stdout)

    def test_a_cached_stream_gets_no_drop_behind_unless_asked(self):
        with tempfile.TemporaryDirectory() as d:
            p = edited(d, fixture("batch", "cat.2102.json"),
                       lambda f: f.update(residency_at_open={"t_ns": 1, "pages": 32768, "resident": 32768,
                                                             "exact": True}))
            r = mmhint("advise", p)
            self.assertNotIn("drop_behind", "".join(l for l in r.stdout.splitlines(True) if not l.startswith("#")))
            self.assertIn("the file was cached, drop_behind would only cost", r.stdout)
            r = mmhint("advise", "--protect-cache", p)
        self.assertIn("drop_behind = on", r.stdout)
        self.assertIn("--protect-cache: drop pages behind the reader", r.stdout)

    def test_no_read_mmap_for_read_write_opens(self):
        # main.db read in small preads: sequentially and cached it would get read_mmap...
        def seq_cached(f, rdwr):
            f.update(seq_reads=f["reads"], residency_at_open={"t_ns": 1, "pages": 51200, "resident": 51200,
                                                              "exact": True},
                     open_modes={"read": 0 if rdwr else 1, "write": 0, "rdwr": 1 if rdwr else 0})
        with tempfile.TemporaryDirectory() as d:
            p = edited(d, fixture("sqlite.3001.json"), lambda f: seq_cached(f, False), "ro.json")
            r = mmhint("advise", p)
            self.assertIn("read_mmap = auto", r.stdout)
            self.assertIn("opened read-only 1, write-only 0, read-write 0 times", r.stdout)
            # ...but not when sqlite3 opened it read-write: the conversion would fall back.
            p = edited(d, fixture("sqlite.3001.json"), lambda f: seq_cached(f, True), "rw.json")
            r = mmhint("advise", p)
        self.assertNotIn("read_mmap = auto", r.stdout)
        self.assertIn("read-write 1 times: read_mmap converts only read-only descriptions", r.stdout)

    def test_no_read_policy_for_files_mostly_written_or_read_through_stdio(self):
        with tempfile.TemporaryDirectory() as d:
            p = edited(d, fixture("batch", "wc.2101.json"),
                       lambda f: f.update(bytes_written=10 * (f.get("bytes_read") or 0) + 1), "w.json")
            r = mmhint("advise", p)
            self.assertNotIn("[rule]", r.stdout)
            self.assertIn("mostly written", r.stdout)
            p = edited(d, fixture("batch", "wc.2101.json"),
                       lambda f: f.update(stdio_reads=f.get("reads") or 0, stdio_bytes_read=f.get("bytes_read") or 0,
                                          reads=0, bytes_read=0), "s.json")
            r = mmhint("advise", p)
        self.assertNotIn("[rule]", r.stdout)
        self.assertIn("read only through stdio", r.stdout)

    def test_exact_path_when_directory_is_mixed(self):
        # wc alone: both logs read with 16K reads -> one directory glob.
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", edited(d, fixture("batch", "wc.2101.json"), slow))
        self.assertIn("path = /data/logs/*\n", r.stdout)
        # Make app-2.log random: the directory no longer shares one pattern.
        with open(os.path.join(HERE, fixture("batch", "wc.2101.json"))) as f:
            doc = json.load(f)
        for f in doc["files"]:
            slow(f)
        doc["files"][2]["seq_reads"] = 3
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "wc.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("advise", p)
        self.assertIn("path = /data/logs/app-1.log\n", r.stdout)
        self.assertNotIn("/data/logs/*", r.stdout)

    def test_reads_too_short_to_repay_the_start_up_get_no_read_policy(self):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "scripts"))
        from mmhint_cli import advise as adv
        ms = 1_000_000
        # Per process that read the file: 2 processes of 3 ms each are below 4 ms, 1 process of 4 ms is not.
        self.assertRegex(adv.read_time_excluded({"reads": 900, "read_time_ns": 6 * ms, "processes": 2}),
                         r"^its reads took 3.00 ms per process \(2 processes\), below the 4 ms")
        self.assertIsNone(adv.read_time_excluded({"reads": 900, "read_time_ns": 4 * ms, "processes": 1}))
        self.assertRegex(adv.read_time_excluded({"reads": 257, "read_time_ns": 270000, "processes": 1}),
                         r"^its reads took 0.27 ms, below")
        # Nothing read through descriptors, or no time recorded: this check says nothing.
        self.assertIsNone(adv.read_time_excluded({"reads": 0, "stdio_reads": 5, "read_time_ns": 0}))
        self.assertIsNone(adv.read_time_excluded({"reads": 40}))
        # Reads already served from a mapping took less than plain ones would: not judged by their time.
        self.assertIsNone(adv.read_time_excluded({"reads": 257, "read_time_ns": 270000, "converted_reads": 256}))
        # In the output: the wc fixture's logs (1.93 and 1.41 ms) get a '# no policy' line and no rule;
        # three times slower (5.8 and 4.2 ms) they get read_mmap.
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", fixture("batch", "wc.2101.json"))
            self.assertNotIn("[rule]", r.stdout)
            self.assertRegex(r.stdout, r"# no policy for /data/logs/app-1.log: 257 reads, .*its reads took 1.93 ms, "
                                       r"below the 4 ms a read policy needs to repay the library's start-up")
            self.assertRegex(r.stdout, r"# no policy for /data/logs/app-2.log: .*its reads took 1.41 ms")
            r = mmhint("advise", edited(d, fixture("batch", "wc.2101.json"), lambda f: slow(f, 3)))
        self.assertEqual(rules(r.stdout)[1], [{"path": "/data/logs/*", "read_mmap": "auto"}])
        self.assertNotIn("its reads took", r.stdout)

    def test_glob_characters_are_escaped(self):
        with open(os.path.join(HERE, fixture("batch", "cat.2102.json"))) as f:
            doc = json.load(f)
        doc["files"][0]["paths"] = ["/data/archive/dump[1]*.bin"]
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "cat.json")
            with open(p, "w") as f:
                json.dump(doc, f)
            r = mmhint("advise", "--protect-cache", p)
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
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("advise", *cold_fixtures(d))
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
            got = {o["path"]: o for o in lines[1:]}
            self.assertEqual(got["/data/logs/app-9.log"]["options"]["read_mmap"]["value"], "auto")
            self.assertEqual(got["/data/logs/app-9.log"]["rule"] is not None, True)
            self.assertEqual(got["/data/archive/dump.bin"]["options"]["drop_behind"]["value"], "on")
            self.assertIsNone(got["/elsewhere/x"]["rule"])
            # And mmhint explain renders it: rule file:line and the option with its source.
            e = mmhint("explain", "--config", conf, "/data/archive/dump.bin", "/elsewhere/x", env=env)
            self.assertEqual(e.returncode, 0, e.stderr)
            row = [l for l in e.stdout.splitlines() if l.startswith("/data/archive/dump.bin")][0]
            self.assertRegex(row, re.escape(conf) + r":\d+ +drop_behind=(on|1) \(rule:" + re.escape(conf) + r":\d+\)")
            row = [l for l in e.stdout.splitlines() if l.startswith("/elsewhere/x")][0]
            self.assertRegex(row, r"^/elsewhere/x +- +\(defaults\)$")
            # A stats file argument explains the files that run touched, for its program.
            e = mmhint("explain", "--config", conf, fixture("batch", "wc.2101.json"), env=env)
            self.assertEqual(e.returncode, 0, e.stderr)
            self.assertIn("program: wc", e.stdout)
            self.assertRegex(e.stdout, r"/data/logs/app-2.log +\S+:\d+ +read_mmap=auto")


if __name__ == "__main__":
    run_tests()
