"""mmhint report on a directory that mixes finished and live processes: each
process says whether it is live (a snapshot, stats_interval, of a process
still running on this host), gone (a snapshot whose process no longer runs)
or on another host, and how old its snapshot is, in text, JSON and HTML;
--out writes any format atomically.  The real-process tests run python3
under the built library with stats_interval=1s."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from cli_helpers import FIXTURES, clean_env, mmhint, real_library, run_tests

SYSTEM_PYTHON = "/usr/bin/python3"


def fixture_doc():
    with open(os.path.join(FIXTURES, "sqlite.3001.json")) as f:
        return json.load(f)


def snapshot_doc(pid, start_ns, end_ns, host=None):
    doc = fixture_doc()
    p = doc["process"]
    p.update(pid=pid, host=host or socket.gethostname(), start_ns=start_ns, end_ns=end_ns, end_reason="snapshot",
             wall_ns=end_ns - start_ns)
    return doc


def write(d, name, doc):
    with open(os.path.join(d, name), "w") as f:
        json.dump(doc, f)


def report_json(d):
    r = mmhint("report", "--json", d)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return {p["process"]: p for p in json.loads(r.stdout)["processes"]}


class MadeUpSnapshotsTest(unittest.TestCase):
    """Stats documents written here: the states follow /proc and the host."""

    def test_states_and_ages(self):
        now = time.time_ns()
        with tempfile.TemporaryDirectory() as d:
            write(d, "ended.json", fixture_doc())                                   # pid 3001, end_reason exit
            # This test's own process: running, started before the "shim" did.
            write(d, "live.json", snapshot_doc(os.getpid(), now - 10 ** 9, now - 3 * 10 ** 9))
            # pid 1 runs, but started (at this boot) long after this shim did (2001): the pid was reused.
            write(d, "reused.json", snapshot_doc(1, 10 ** 18, 10 ** 18 + 10 ** 9))
            # A pid that ran and has been reaped.
            p = subprocess.Popen(["true"])
            p.wait()
            write(d, "gone.json", snapshot_doc(p.pid, now - 10 ** 9, now - 10 ** 9 // 2))
            write(d, "far.json", snapshot_doc(os.getpid(), now - 10 ** 9, now - 125 * 10 ** 9,
                                              host=socket.gethostname() + "-elsewhere"))
            procs = report_json(d)
            states = {k: (v["state"], v["snapshot_age_ns"]) for k, v in procs.items()}
            self.assertEqual(states["3001"], ("ended", None))
            by_pid = {v["pid"]: v for v in procs.values() if v["state"] != "other_host"}
            self.assertEqual(by_pid[os.getpid()]["state"], "live")
            self.assertEqual(by_pid[1]["state"], "gone")
            self.assertEqual(by_pid[p.pid]["state"], "gone")
            far = [v for v in procs.values() if v["state"] == "other_host"]
            self.assertEqual(len(far), 1)
            age = by_pid[os.getpid()]["snapshot_age_ns"]
            self.assertTrue(3 * 10 ** 9 <= age < 60 * 10 ** 9, age)
            self.assertTrue(125 * 10 ** 9 <= far[0]["snapshot_age_ns"] < 200 * 10 ** 9)

            r = mmhint("report", d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("== processes (5: 1 live, 2 gone, 1 other host) ==", r.stdout)
            self.assertRegex(r.stdout, r"live, snapshot [3-9]s old")
            self.assertIn("gone without a final file, snapshot", r.stdout)
            self.assertRegex(r.stdout, r"snapshot 2m0[5-9]s old, on host \S+-elsewhere")
            self.assertRegex(r.stdout, r"3001 .* exit")

            html = os.path.join(d, "r.html")
            r = mmhint("report", "--html", html, d)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(html) as f:
                page = f.read()
            self.assertIn('<tr class="live">', page)
            self.assertRegex(page, r"live, snapshot [3-9]s old")
            self.assertIn("gone without a final file", page)


class RealProcessTest(unittest.TestCase):
    """A python3 loop under the library with stats_interval=1s."""

    def setUp(self):
        self.lib = real_library()
        if not self.lib:
            self.skipTest("the library is not built")

    def test_live_then_gone_beside_a_finished_one(self):
        with tempfile.TemporaryDirectory() as d:
            sd = os.path.join(d, "st")
            os.mkdir(sd)
            data = os.path.join(d, "data")
            with open(data, "wb") as f:
                f.write(os.urandom(1 << 20))
            env = clean_env(LD_PRELOAD=self.lib, MMHINT_STATS=sd + "/", MMHINT_STATS_INTERVAL="1s")
            subprocess.run(["true"], env=env, check=True)
            prog = "import time\nwhile True:\n    open(%r, 'rb').read()\n    time.sleep(0.05)\n" % data
            p = subprocess.Popen([SYSTEM_PYTHON, "-c", prog], env=env, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not os.path.exists(os.path.join(sd, "python3.%d.json" % p.pid)):
                    time.sleep(0.1)
                procs = report_json(sd)
                self.assertEqual(procs[str(p.pid)]["state"], "live", procs[str(p.pid)])
                self.assertLess(procs[str(p.pid)]["snapshot_age_ns"], 5 * 10 ** 9)
                ended = [v for k, v in procs.items() if k != str(p.pid)]
                self.assertEqual([(v["exe"], v["state"]) for v in ended], [("/usr/bin/true", "ended")])
                r = mmhint("report", sd)
                self.assertIn("== processes (2: 1 live) ==", r.stdout)
                self.assertRegex(r.stdout, r"%d .*live, snapshot [0-4]s old" % p.pid)
            finally:
                p.send_signal(signal.SIGKILL)    # leaves the last snapshot behind, as SIGKILL does
                err = p.communicate()[1].decode()
            self.assertNotIn("mmhint:", err)
            self.assertEqual(report_json(sd)[str(p.pid)]["state"], "gone")


class OutTest(unittest.TestCase):
    def test_out_replaces_the_file_whole_and_readable(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "mmhint.prom")
            with open(out, "w") as f:
                f.write("old\n")
            os.chmod(out, 0o600)
            before = os.stat(out).st_ino
            r = mmhint("report", "--format", "prometheus", "--out", out, os.path.join(FIXTURES, "batch"))
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
            st = os.stat(out)
            self.assertNotEqual(st.st_ino, before, "replaced by a rename, not rewritten in place")
            self.assertEqual(st.st_mode & 0o777, 0o644 & ~self.umask())
            with open(out) as f:
                text = f.read()
            self.assertTrue(text.startswith("# HELP mmhint_"), text[:80])
            self.assertEqual(sorted(os.listdir(d)), ["mmhint.prom"], "no temporary file left")
            r = mmhint("report", "--out", os.path.join(d, "r.txt"), os.path.join(FIXTURES, "batch"))
            with open(os.path.join(d, "r.txt")) as f:
                self.assertTrue(f.read().startswith("== processes (2) =="))

    def test_out_in_a_missing_directory_is_one_line(self):
        r = mmhint("report", "--json", "--out", "/nonexistent/dir/x.json", os.path.join(FIXTURES, "batch"))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("cannot write /nonexistent/dir/x.json", r.stderr)

    @staticmethod
    def umask():
        u = os.umask(0)
        os.umask(u)
        return u


if __name__ == "__main__":
    run_tests()
