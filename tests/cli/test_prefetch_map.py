"""In-process unit tests of the learned-prefetch data path of scripts/mmhint_cli:
the touched maps' merge across processes, the prefetch map's writer
(scripts/mmhint_cli/pmap.py), advise's prefetch = learned rule, and
`mmhint advise --out` writing a map that the library's own parser
(policy/pmap.c, through tests/programs/pmap_check) accepts."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
from cli_helpers import BUILD, SOURCE, clean_env, mmhint, run_tests

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from mmhint_cli import advise, pmap, stats  # noqa: E402

MIB = 1 << 20
PMAP_CHECK = os.path.join(BUILD, "tests", "programs", "pmap_check")


def doc(pid, end, files, source="s.json", options=None):
    return {"schema": stats.SCHEMA, "process": {"pid": pid, "exe": "/bin/db", "start_ns": 1000, "end_ns": end,
                                                "wall_ns": end - 1000, "options": options or {}},
            "files": files, "memory": {}, "_source": source}


def touched(size, ranges, granule=4096):
    return {"granule": granule, "map_granule": granule, "size": size, "bytes": sum(n for _, n in ranges),
            "from_mappings": False, "ranges": ranges}


def random_reader(size=64 * MIB, resident=0, ranges=None, reads=2000, path="/data/db"):
    """A file record of a random pread reader of a (by default cold) file."""
    ranges = [[i * 8 * MIB, 65536] for i in range(size // (8 * MIB))] if ranges is None else ranges
    rows = [[i, (i * 7919 * 4096) % size, 4096, "p"] for i in range(200)]
    return {"dev": 1, "ino": 7, "paths": [path], "type": "regular", "size_at_open": size, "opens": 1,
            "reads": reads, "bytes_read": reads * 4096, "seq_reads": reads // 10, "consec_reads": 5,
            "read_size_hist": {"1K-10K": reads}, "open_modes": {"read": 1, "write": 0, "rdwr": 0},
            "residency_at_open": {"t_ns": 1, "pages": size // 4096, "resident": resident, "exact": True},
            "samples": {"columns": ["t_ns", "offset", "length", "op"], "rows": rows, "seen": reads},
            "policy": {"read_mmap": "off", "advice": "none", "rule": None}, "fallbacks": {},
            "touched": touched(size, ranges)}


def args(**kw):
    a = {"protect_cache": False, "pmap_path": "/maps/db.conf.pmap", "prefetch_max": None}
    a.update(kw)
    return type("Args", (), a)()


class RangesTest(unittest.TestCase):
    def test_union_merges_overlaps_and_neighbours(self):
        self.assertEqual(pmap.union([[8192, 4096], [0, 4096], [4096, 4096], [100, 10], [20000, 0]]),
                         [[0, 12288]])
        self.assertEqual(pmap.union([[0, 4096], [8192, 4096]]), [[0, 4096], [8192, 4096]])

    def test_aligned_widens_to_the_granule_and_clips_to_the_size(self):
        self.assertEqual(pmap.aligned([[100, 10], [70000, 1]], 65536, 1 << 20), [[0, 131072]])
        self.assertEqual(pmap.aligned([[0, 4096], [1040000, 4096]], 65536, 1044000),
                         [[0, 65536], [983040, 1044000 - 983040]])

    def test_malformed_touched_is_ignored(self):
        for bad in (None, [], {"granule": 1000, "size": 10, "ranges": []}, {"granule": 4096, "size": -1, "ranges": []},
                    {"granule": 4096, "size": 10, "ranges": [[0]]}, {"granule": 4096, "size": 10, "ranges": [["a", 1]]},
                    {"granule": True, "size": 10, "ranges": []}):
            self.assertIsNone(pmap.valid_touched(bad), bad)
            self.assertIsNone(pmap.merge_touched(None, bad))


class MergeTouchedTest(unittest.TestCase):
    def test_processes_union_at_the_coarser_granule(self):
        a = random_reader(ranges=[[0, 4096]])
        b = random_reader(ranges=[[65536, 4096], [4096, 4096]])
        b["touched"]["granule"] = 65536
        m = stats.merge([doc(1, 2000, [a]), doc(2, 3000, [b])])
        t = m["files"][0]["touched"]
        self.assertEqual(t["granule"], 65536)
        self.assertEqual(t["ranges"], [[0, 131072]])
        self.assertEqual(t["processes"], 2)

    def test_a_later_size_replaces_the_map(self):
        a = random_reader(size=64 * MIB, ranges=[[0, 4096]])
        b = random_reader(size=32 * MIB, ranges=[[8192, 4096]])
        m = stats.merge([doc(2, 3000, [b]), doc(1, 2000, [a])])  # b ended last
        t = m["files"][0]["touched"]
        self.assertEqual((t["size"], t["ranges"], t["processes"]), (32 * MIB, [[8192, 4096]], 1))

    def test_files_without_a_map_have_none(self):
        a = random_reader()
        del a["touched"]
        self.assertNotIn("touched", stats.merge([doc(1, 2000, [a])])["files"][0])


class FormatTest(unittest.TestCase):
    def test_text(self):
        text = pmap.format_map([{"paths": ["/a b", "relative", "/p%\n"], "size": 10000, "granule": 4096,
                                 "ranges": [[4096, 4096], [0, 100], [8192, 1808]]},
                                {"paths": ["only/relative"], "size": 1, "granule": 4096, "ranges": [[0, 1]]}],
                               ["made\nhere"])
        self.assertEqual(text, "mmhint-pmap 1\n# made here\nfile 10000 4096\npath /a b\npath /p%25%0A\n0 10000\nend\n")

    def test_empty(self):
        self.assertEqual(pmap.format_map([]), "mmhint-pmap 1\nend\n")


class LearnedRuleTest(unittest.TestCase):
    def classify(self, f, **kw):
        m = advise.with_prefetch_max(stats.merge([doc(1, 2000, [f])]))
        return advise.classify(m["files"][0], args(**kw))

    def test_cold_random_reader_of_a_small_share(self):
        opts, ev = self.classify(random_reader())
        self.assertEqual(opts, {"prefetch": "learned", "prefetch_map": "/maps/db.conf.pmap"})
        text = "; ".join(ev)
        self.assertIn("touched map: 8 ranges of 4.0K granules, 512K of 64M (1%)", text)
        self.assertIn("less than half", text)

    def test_warm_file_gets_none(self):
        opts, ev = self.classify(random_reader(resident=16384 * 3))
        self.assertNotIn("prefetch", opts or {})
        self.assertIn("not cold at open", "; ".join(ev))

    def test_large_share_only_when_larger_than_prefetch_max(self):
        whole = random_reader(ranges=[[0, 48 * MIB]])
        opts, ev = self.classify(whole)
        self.assertEqual(opts, {"prefetch": "auto"})  # learned declines; the cold random reader gets auto
        self.assertIn("would read nearly the whole file", "; ".join(ev))
        opts, ev = self.classify(whole, prefetch_max="32M")
        self.assertEqual(opts["prefetch"], "learned")
        self.assertIn("larger than prefetch_max 32M (--prefetch-max)", "; ".join(ev))
        # The same from the value the statistics recorded.
        m = advise.with_prefetch_max(stats.merge([doc(1, 2000, [whole], options={
            "prefetch_max": {"value": "16M", "source": "env"}})]))
        opts, ev = advise.classify(m["files"][0], args())
        self.assertEqual(opts["prefetch"], "learned")
        self.assertIn("the statistics' prefetch_max", "; ".join(ev))

    def test_without_a_map_path_only_evidence(self):
        opts, ev = self.classify(random_reader(), pmap_path=None)
        self.assertEqual(opts, {"prefetch": "auto"})  # no map to write: auto, which needs none
        self.assertIn("give --out FILE", "; ".join(ev))

    def test_sequential_small_or_unmapped_files_are_left_alone(self):
        seq = random_reader()
        seq["seq_reads"] = seq["reads"]
        seq["samples"]["rows"] = [[i, i * 4096, 4096, "r"] for i in range(200)]
        self.assertNotIn("prefetch", self.classify(seq)[0] or {})
        small = random_reader(size=MIB // 2, ranges=[[0, 4096]])
        self.assertIsNone(self.classify(small)[0])
        none = random_reader()
        del none["touched"]
        self.assertEqual(self.classify(none)[0], {"prefetch": "auto"})  # no touched map: auto


class AdviseOutTest(unittest.TestCase):
    def test_out_writes_config_and_a_map_the_library_parses(self):
        with tempfile.TemporaryDirectory() as d:
            f = random_reader(path=os.path.join(d, "db file"))
            with open(os.path.join(d, "s.json"), "w") as out:
                json.dump(doc(1, 2000, [f]), out)
            conf = os.path.join(d, "db.conf")
            r = mmhint("advise", "--out", conf, os.path.join(d, "s.json"), env=clean_env())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertIn("wrote %s and %s.pmap" % (conf, conf), r.stderr)
            with open(conf) as c:
                text = c.read()
            # prefetch_map is a process option: before the first [rule], which sets prefetch = learned.
            self.assertIn("\nprefetch_map = %s.pmap\n" % conf, text)
            self.assertLess(text.index("prefetch_map = "), text.index("[rule]"))
            self.assertIn("prefetch = learned\n", text[text.index("[rule]"):])
            with open(conf + ".pmap") as p:
                mtext = p.read()
            self.assertTrue(mtext.startswith("mmhint-pmap 1\n# written by 'mmhint advise'"), mtext)
            self.assertIn("file %d 4096\npath %s\n0 65536\n" % (64 * MIB, f["paths"][0]), mtext)
            if not os.access(PMAP_CHECK, os.X_OK):
                self.skipTest("tests/programs/pmap_check is not built")
            r = subprocess.run([PMAP_CHECK, conf + ".pmap", f["paths"][0], str(64 * MIB), "0"],
                               stdout=subprocess.PIPE, text=True)
            self.assertEqual(r.returncode, 0, r.stdout)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "ok 1 1 8")
            self.assertEqual(lines[1], "found 8 %d" % (8 * 65536))
            self.assertEqual(lines[2:4], ["0 65536", "%d 65536" % (8 * MIB)])

    def test_without_out_the_config_goes_to_stdout_and_no_map(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "s.json"), "w") as out:
                json.dump(doc(1, 2000, [random_reader()]), out)
            r = mmhint("advise", os.path.join(d, "s.json"), env=clean_env())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("\nprefetch = learned\n", r.stdout)
            self.assertIn("give --out FILE", r.stdout)
            self.assertEqual(sorted(os.listdir(d)), ["s.json"])


if __name__ == "__main__":
    run_tests()
