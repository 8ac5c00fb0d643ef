"""In-process unit tests of the pure functions of scripts/mmhint_cli: the .def
table parser, number formatting, LD_PRELOAD composition, the merge of stats
documents and the bootstrap interval of `mmhint ab`."""

import os
import sys
import tempfile
import unittest
from unittest import mock

sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
from cli_helpers import SOURCE, run_tests

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from mmhint_cli import ab, common, deftable, stats  # noqa: E402
from mmhint_cli.common import BYTES, COUNT, TICKS, UserError  # noqa: E402


# ---- The .def parser ---------------------------------------------------------

SAMPLE = r'''/*
 * T(name, kind, doc)   <- the header comment is not an entry
 */
#define OTHER(T) T(not_this, SUM, "other table")
#define SAMPLE(T)                                                   \
  T(plain, SUM, "one literal")                                      \
  /* a comment between entries, T(skipped, MAX, "x") */             \
  T(split, MAX,                                                     \
    "two literals " "joined, with a comma")                         \
  T(expr, (1024LL * (2 + 2)), "parentheses keep their commas, (a, b)") \
  T(escaped, MIN, "quote \" backslash \\ tab\t")
#define AFTER(T) T(after, SUM, "not part of SAMPLE")
'''

FIELDS = ("name", "kind", "doc")


class DefTableTest(unittest.TestCase):
    def test_entries_and_fields(self):
        rows = deftable.parse_table(SAMPLE, "SAMPLE", FIELDS)
        self.assertEqual([r["name"] for r in rows], ["plain", "split", "expr", "escaped"])
        self.assertEqual(rows[0], {"name": "plain", "kind": "SUM", "doc": "one literal", "line": 6})
        self.assertEqual(rows[1]["doc"], "two literals joined, with a comma")
        self.assertEqual(rows[1]["line"], 8)
        self.assertEqual(rows[2]["kind"], "(1024LL * (2 + 2))")
        self.assertEqual(rows[2]["doc"], "parentheses keep their commas, (a, b)")
        self.assertEqual(rows[3]["doc"], 'quote " backslash \\ tab\t')

    def test_one_line_table(self):
        rows = deftable.parse_table(SAMPLE, "OTHER", FIELDS)
        self.assertEqual([r["name"] for r in rows], ["not_this"])

    def test_empty_string_field(self):
        rows = deftable.parse_table('#define L(X) X(a, "", "doc")\n', "L", FIELDS)
        self.assertEqual(rows[0]["kind"], "")

    def test_errors_name_the_line(self):
        with self.assertRaisesRegex(deftable.DefError, r"^t\.def: no '#define NOPE\(\.\.\.\)' table"):
            deftable.parse_table(SAMPLE, "NOPE", FIELDS, where="t.def")
        with self.assertRaisesRegex(deftable.DefError, r"^t\.def line 6: T\(\.\.\.\) has 3 fields, expected 4 "
                                                       r"\(name, kind, unit, doc\)"):
            deftable.parse_table(SAMPLE, "SAMPLE", ("name", "kind", "unit", "doc"), where="t.def")
        with self.assertRaisesRegex(deftable.DefError, r"line 2: X\( is not closed"):
            deftable.parse_table("\n#define L(X) X(a, b, \"c\"\n", "L", FIELDS)
        with self.assertRaisesRegex(deftable.DefError, r"has no entries"):
            deftable.parse_table("#define L(X)\n", "L", FIELDS)

    def test_read_table_of_the_repository(self):
        opts = deftable.read_table(os.path.join(SOURCE, "include", "mmhint_options.def"), "MMHINT_OPTIONS",
                                   common.OPTION_FIELDS)
        names = [o["name"] for o in opts]
        self.assertIn("read_mmap", names)
        self.assertEqual(len(names), len(set(names)))
        rm = opts[names.index("read_mmap")]
        self.assertEqual((rm["type"], rm["scope"], rm["default"], rm["choices"]),
                         ("ENUM", "FILE", "off", "off|on|auto"))


class TablesTest(unittest.TestCase):
    """The tables as the command loads them (load_options, load_counters)."""

    def test_counters_carry_kind_and_unit(self):
        c = common.load_counters()
        self.assertEqual(list(c)[:3], ["opens", "reads", "bytes_read"])
        self.assertEqual(c["read_time_ns"]["unit"], TICKS)
        self.assertEqual((c["first_access_ns"]["kind"], c["first_access_ns"]["unit"]), ("MIN", common.UNIX_NS))
        self.assertEqual((c["max_byte_read"]["kind"], c["max_byte_read"]["unit"]), ("MAX", BYTES))
        for name, v in c.items():
            self.assertIn(v["kind"], common.KINDS, name)
            self.assertIn(v["unit"], common.UNITS, name)
            self.assertTrue(v["doc"], name)
        self.assertEqual(common.counter_unit("reads"), COUNT)

    def test_options(self):
        o = common.load_options()
        self.assertEqual(o["advice"]["choices"][0], "none")
        self.assertEqual(common.check_option("MMHINT_READ-MMAP"), "read_mmap")


class FindDefFileTest(unittest.TestCase):
    def setUp(self):
        self.saved = common._counters_cache
        common._counters_cache = None

    def tearDown(self):
        common._counters_cache = self.saved

    def test_include_dir_from_the_environment(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "mmhint_counters.def"), "w") as f:
                f.write('#define MMHINT_FILE_COUNTERS(C) C(only, MAX, BYTES, "one counter")\n')
            with mock.patch.dict(os.environ, {"MMHINT_INCLUDE_DIR": d}):
                self.assertEqual(common.find_def_file("mmhint_counters.def"), os.path.join(d, "mmhint_counters.def"))
                self.assertEqual(common.load_counters(), {"only": {"kind": "MAX", "unit": BYTES, "doc": "one counter"}})

    def test_missing_table_is_one_user_error(self):
        if os.path.exists("/usr/local/share/mmhint/mmhint_counters.def"):
            self.skipTest("an installed table exists")
        with tempfile.TemporaryDirectory() as d, mock.patch.object(common, "REPO", d), \
                mock.patch.dict(os.environ, {"MMHINT_INCLUDE_DIR": os.path.join(d, "nowhere")}):
            with self.assertRaises(UserError) as cm:
                common.load_counters()
        msg = str(cm.exception)
        self.assertNotIn("\n", msg)
        self.assertTrue(msg.startswith("cannot find mmhint_counters.def (looked at "), msg)
        for place in (os.path.join(d, "nowhere"), os.path.join(d, "include"), "/usr/local/share/mmhint"):
            self.assertIn(place, msg)
        self.assertIn("set MMHINT_INCLUDE_DIR", msg)

    def test_bad_unit_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "mmhint_counters.def"), "w") as f:
                f.write('#define MMHINT_FILE_COUNTERS(C) \\\n  C(x, SUM, FURLONGS, "?")\n')
            with mock.patch.dict(os.environ, {"MMHINT_INCLUDE_DIR": d}):
                with self.assertRaisesRegex(UserError, r"line 2: counter x has unit FURLONGS, not one of "
                                                       r"COUNT\|BYTES\|TICKS\|UNIX_NS"):
                    common.load_counters()


# ---- Formatting ----------------------------------------------------------------

def reference_bytes(n):
    """The binary formatter the report's golden files were made with."""
    n = float(n)
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            if unit == "":
                return "%d" % n
            return ("%.1f%s" % (n, unit)) if abs(n) < 10 else ("%.0f%s" % (n, unit))
        n /= 1024.0


def reference_count(n):
    """The decimal formatter the report's golden files were made with."""
    n = float(n)
    for unit in ("", "k", "M", "G", "T"):
        if abs(n) < 1000 or unit == "T":
            if unit == "":
                return "%d" % n
            return ("%.1f%s" % (n, unit)) if abs(n) < 10 else ("%.0f%s" % (n, unit))
        n /= 1000.0


class HumanTest(unittest.TestCase):
    def test_examples(self):
        h = common.human
        self.assertEqual([h(v, BYTES) for v in (0, 1023, 1024, 1536, 10 * 1024, 1 << 20, 5 << 60)],
                         ["0", "1023", "1.0K", "1.5K", "10K", "1.0M", "5120P"])
        self.assertEqual([h(v, COUNT) for v in (0, 999, 1000, 1500, 12345, 10 ** 16)],
                         ["0", "999", "1.0k", "1.5k", "12k", "10000T"])
        self.assertEqual(h(1500), "1.5k")  # COUNT is the default unit
        self.assertEqual(h(2.5 * 1024, BYTES), "2.5K")
        for unit in (BYTES, COUNT, TICKS):
            self.assertEqual(h(None, unit), "-")

    def test_same_as_the_reference_formatters(self):
        values = [0, 1, -5, 9.99, 999, 1000, 1023, 1024, 1025, 10239, 10240, 999999, 10 ** 6, 2 ** 30 - 1,
                  123456789012, 2 ** 50, 2 ** 62, 10 ** 15, 10 ** 18, 0.5, 7.2e9]
        values += [int(1.37 ** k) for k in range(120)]
        for v in values:
            self.assertEqual(common.human(v, BYTES), reference_bytes(v), v)
            self.assertEqual(common.human(v, COUNT), reference_count(v), v)

    def test_durations(self):
        self.assertEqual([common.human(v, TICKS) for v in (870, 3100, 12_000_000, 1_500_000_000, 250e9)],
                         ["870ns", "3.1us", "12.0ms", "1.50s", "250s"])
        self.assertEqual(common.human_ns(None), "-")

    def test_unknown_unit(self):
        with self.assertRaises(KeyError):
            common.human(1, "FURLONGS")

    def test_memory_units(self):
        self.assertEqual(stats.memory_unit("huge_requested_bytes"), BYTES)
        self.assertEqual(stats.memory_unit("bytes_requested"), BYTES)
        self.assertEqual(stats.memory_unit("malloc_calls"), COUNT)


# ---- LD_PRELOAD ------------------------------------------------------------------

class PreloadWithTest(unittest.TestCase):
    LIB = "/nonexistent/libmmhint.so"

    def test_appends(self):
        self.assertEqual(common.preload_with({}, self.LIB), self.LIB)
        self.assertEqual(common.preload_with({"LD_PRELOAD": ""}, self.LIB), self.LIB)
        self.assertEqual(common.preload_with({"LD_PRELOAD": "a.so"}, self.LIB), "a.so:" + self.LIB)
        self.assertEqual(common.preload_with({"LD_PRELOAD": "a.so:b.so"}, self.LIB), "a.so:b.so:" + self.LIB)

    def test_keeps_a_space_separated_list_space_separated(self):
        self.assertEqual(common.preload_with({"LD_PRELOAD": "a.so b.so"}, self.LIB), "a.so b.so " + self.LIB)

    def test_never_twice(self):
        for cur in (self.LIB, "a.so:" + self.LIB, self.LIB + " b.so"):
            self.assertEqual(common.preload_with({"LD_PRELOAD": cur}, self.LIB), cur)

    def test_same_file_by_another_name(self):
        with tempfile.TemporaryDirectory() as d:
            lib = os.path.join(d, "libmmhint.so")
            open(lib, "w").close()
            link = os.path.join(d, "link.so")
            os.symlink(lib, link)
            self.assertEqual(common.preload_with({"LD_PRELOAD": link}, lib), link)

    def test_does_not_change_the_environment(self):
        env = {"LD_PRELOAD": "a.so"}
        common.preload_with(env, self.LIB)
        self.assertEqual(env, {"LD_PRELOAD": "a.so"})


# ---- Merging stats ---------------------------------------------------------------

class MergeCounterTest(unittest.TestCase):
    def test_kinds(self):
        m = stats._merge_counter
        self.assertEqual(m("SUM", 2, 3), 5)
        self.assertEqual(m("MAX", 2, 3), 3)
        self.assertEqual(m("MIN", 2, 3), 2)

    def test_min_ignores_zero(self):
        m = stats._merge_counter
        self.assertEqual(m("MIN", 0, 7), 7)
        self.assertEqual(m("MIN", 7, 0), 7)
        self.assertEqual(m("MIN", 0, 0), 0)

    def test_none_is_not_seen_yet(self):
        for kind in ("SUM", "MAX", "MIN"):
            self.assertEqual(stats._merge_counter(kind, None, 4), 4)
            self.assertEqual(stats._merge_counter(kind, 4, None), 4)
            self.assertIsNone(stats._merge_counter(kind, None, None))


def doc(pid, start, end, files, source, memory=None):
    return {"schema": stats.SCHEMA, "process": {"pid": pid, "exe": "/bin/prog%d" % pid, "start_ns": start,
                                                "end_ns": end, "wall_ns": end - start,
                                                "unobserved": ["raw syscalls"], "warnings": []},
            "files": files, "memory": memory or {}, "_source": source}


class MergeTest(unittest.TestCase):
    def setUp(self):
        f1 = {"dev": 1, "ino": 10, "paths": ["/d/a"], "type": "regular", "size_at_open": 100,
              "opens": 1, "reads": 4, "bytes_read": 400, "max_byte_read": 400, "first_access_ns": 5000,
              "last_access_ns": 6000, "read_size_hist": {"100-1K": 4},
              "samples": {"columns": ["t_ns", "offset", "length", "op"], "rows": [[10, 0, 100, "r"]], "seen": 4},
              "policy": {"read_mmap": "on", "advice": "none", "rule": None}, "fallbacks": {"too_small": 1}}
        f2 = {"dev": 1, "ino": 10, "paths": ["/d/a", "/d/link"], "type": "regular", "size_at_open": 300,
              "opens": 2, "reads": 1, "bytes_read": 50, "max_byte_read": 350, "first_access_ns": 0,
              "last_access_ns": 9000, "read_size_hist": {"100-1K": 1, "0-100": 2},
              "samples": {"columns": ["t_ns", "offset", "length", "op"], "rows": [[5, 200, 50, "p"]], "seen": 1},
              "policy": {"read_mmap": "off", "advice": "none", "rule": {"file": "c.conf", "line": 3}},
              "fallbacks": {"too_small": 2, "shared": 1}}
        other = {"dev": 2, "ino": 10, "paths": [], "reads": 1}
        self.docs = [doc(2, 2000, 9000, [f2, other], "b.json", {"malloc_calls": 5, "size_classes": {"0-64": 1}}),
                     doc(1, 1000, 8000, [f1], "a.json", {"malloc_calls": 3, "size_classes": {"0-64": 2}})]
        self.m = stats.merge(self.docs)

    def test_processes_in_end_order(self):
        self.assertEqual([p["pid"] for p in self.m["processes"]], [1, 2])
        self.assertEqual(self.m["sources"], ["a.json", "b.json"])
        self.assertEqual(self.m["start_ns"], 1000)
        self.assertEqual(self.m["processes"][1]["bytes"], 50)
        self.assertEqual(self.m["unobserved"], ["raw syscalls"])

    def test_files_keyed_by_device_and_inode(self):
        self.assertEqual([f["path"] for f in self.m["files"]], ["/d/a", "dev 2 ino 10"])
        a = self.m["files"][0]
        self.assertEqual(a["paths"], ["/d/a", "/d/link"])
        self.assertEqual((a["processes"], a["exes"]), (2, ["/bin/prog1", "/bin/prog2"]))
        self.assertEqual(a["size"], 300)

    def test_counters_by_kind(self):
        a = self.m["files"][0]
        self.assertEqual((a["opens"], a["reads"], a["bytes_read"]), (3, 5, 450))  # SUM
        self.assertEqual((a["max_byte_read"], a["last_access_ns"]), (400, 9000))  # MAX
        self.assertEqual(a["first_access_ns"], 5000)                               # MIN, zero ignored
        self.assertEqual(a["seeks"], 0)                                            # absent everywhere
        other = self.m["files"][1]
        self.assertEqual(other["reads"], 1)
        self.assertEqual(set(common.load_counters()) - set(other), set())

    def test_histogram_fallbacks_policy_samples(self):
        a = self.m["files"][0]
        self.assertEqual(a["read_size_hist"]["100-1K"], 5)
        self.assertEqual(a["read_size_hist"]["0-100"], 2)
        self.assertEqual(a["fallbacks"], {"too_small": 3, "shared": 1})
        self.assertEqual(a["policy"]["read_mmap"], "mixed")
        self.assertEqual(a["policy"]["advice"], "none")
        self.assertEqual(a["policy"]["rule"], {"file": "c.conf", "line": 3})
        # One time axis: pid 2 started 1000 ns after pid 1.
        self.assertEqual(a["samples"], [[10, 0, 100, "r", 1], [1005, 200, 50, "p", 2]])
        self.assertEqual(a["samples_seen"], 5)
        self.assertEqual(self.m["files"][1]["policy"]["read_mmap"], "off")

    def test_memory_added(self):
        self.assertEqual(self.m["memory"], {"malloc_calls": 8, "size_classes": {"0-64": 3}})

    def test_inputs_unchanged(self):
        self.assertEqual(self.docs[1]["files"][0]["reads"], 4)
        self.assertEqual(stats.merge(self.docs), self.m)


# ---- ab ------------------------------------------------------------------------

class BootstrapTest(unittest.TestCase):
    A = [1.00, 1.02, 0.98, 1.01, 0.99]

    def test_deterministic(self):
        b = [x * 0.5 for x in self.A]
        self.assertEqual(ab.bootstrap_ratio(self.A, b), ab.bootstrap_ratio(self.A, b))
        self.assertEqual(ab.bootstrap_ratio(self.A, b, iters=300, seed=7),
                         ab.bootstrap_ratio(self.A, b, iters=300, seed=7))

    def test_interval_holds_the_ratio(self):
        b = [x * 0.5 for x in self.A]
        lo, hi = ab.bootstrap_ratio(self.A, b)
        self.assertLessEqual(lo, hi)
        self.assertTrue(0.45 < lo <= 0.5 <= hi < 0.55, (lo, hi))
        lo, hi = ab.bootstrap_ratio(self.A, list(self.A), iters=200)
        self.assertTrue(lo <= 1.0 <= hi, (lo, hi))

    def test_identical_constant_runs(self):
        self.assertEqual(ab.bootstrap_ratio([2.0, 2.0], [3.0, 3.0]), (1.5, 1.5))

    def test_zero_baseline_gives_no_interval(self):
        self.assertEqual(ab.bootstrap_ratio([0.0, 0.0], [1.0, 1.0]), (None, None))

    def test_summary_records_the_resampling(self):
        runs = [{"side": s, "warmup": False, "wall_s": w, "user_s": 0.1, "sys_s": 0.1, "maxrss_kib": 1000,
                 "majflt": 0, "minflt": 10} for s, w in (("A", 1.0), ("B", 0.5), ("A", 1.1), ("B", 0.6))]
        s = ab.summarize(runs)
        self.assertEqual(s["bootstrap"]["iterations"], ab.BOOT_ITER)
        self.assertEqual(s["bootstrap"]["seed"], ab.BOOT_SEED)
        self.assertTrue(s["verdict"].startswith("B is "), s["verdict"])


if __name__ == "__main__":
    run_tests()
