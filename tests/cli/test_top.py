"""mmhint top: rates from successive snapshots of one process (made-up
documents with exact counters, absent write counters; processes that come,
end and go) and a real python3 loop under the library with
stats_interval=1s, read by `top --once --interval 2.5`."""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
from cli_helpers import FIXTURES, SOURCE, clean_env, mmhint, real_library, run_tests

sys.path.insert(0, os.path.join(SOURCE, "scripts"))
from mmhint_cli import top  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
STARTED = time.time_ns()  # after this process started: a shim start /proc agrees with
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "k": 1000}


def number(text):
    """'5.0M' -> 5242880.0, '85k' -> 85000.0 (as common.human prints them)."""
    m = re.fullmatch(r"([0-9.]+)([KMGk]?)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def rows(text, pid):
    """The lines of the file table (the second table) of PID, split in columns."""
    tables = text.split("\n\n")
    out = []
    for line in tables[-1].splitlines()[2:]:
        cols = line.split()
        if cols and cols[0] == str(pid):
            out.append(cols)
    return out


def snapshot(pid, end_ns, files, reason="snapshot"):
    with open(os.path.join(FIXTURES, "sqlite.3001.json")) as f:
        doc = json.load(f)
    doc["process"].update(pid=pid, host=socket.gethostname(), start_ns=STARTED, end_ns=end_ns,
                          end_reason=reason)
    doc["files"] = files
    return doc


def write(path, doc):
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.replace(path + ".tmp", path)


class RatesTest(unittest.TestCase):
    def test_rates_between_two_snapshots(self):
        base = time.time_ns() - 10 ** 9
        pid = os.getpid()
        a = {"dev": 1, "ino": 2, "paths": ["/data/a"], "reads": 10, "bytes_read": 1000, "converted_bytes": 0,
             "policy": {"read_mmap": "auto"}}
        b = {"dev": 1, "ino": 3, "paths": ["/data/b"], "reads": 0, "bytes_read": 0, "writes": 4,
             "bytes_written": 400}
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "srv.%d.json" % pid)
            write(path, snapshot(pid, base - 2 * 10 ** 9, [a]))
            t = top.Tracker(d)
            t.sample()
            text = top.render(t)
            self.assertIn("1 live", text)
            self.assertIn("rates need two snapshots", text)
            a2 = dict(a, reads=30, bytes_read=9000, converted_bytes=6000)  # no write counters at all
            b2 = dict(b, writes=24, bytes_written=4400)                     # a file new in this snapshot
            write(path, snapshot(pid, base, [a2, dict(b2, dev=1)]))
            t.sample()
            (fa, ra), (fb, rb) = sorted(top.file_rates(t.procs[next(iter(t.procs))])[0],
                                        key=lambda x: x[0]["ino"])
            self.assertEqual((ra["read_bytes"], ra["reads"], ra["write_bytes"], ra["writes"]), (4000, 10, 0, 0))
            self.assertEqual((rb["read_bytes"], rb["write_bytes"], rb["writes"]), (0, 2200, 12))
            self.assertEqual(top.mapped_share(fa, ra), 0.75)
            text = top.render(t)
            ra_row, rb_row = rows(text, pid)
            self.assertEqual(ra_row[2:], ["/data/a", "3.9K", "10", "0", "0", "75%", "read_mmap=auto"])
            self.assertEqual(rb_row[2:8], ["/data/b", "0", "0", "2.1K", "12", "-"])

            # The final file: the process leaves the view; then the file goes.
            write(path, snapshot(pid, base + 10 ** 9, [a2], reason="exit"))
            t.sample()
            text = top.render(t)
            self.assertIn("0 live, 1 ended", text)
            self.assertIn("no live process", text)
            os.unlink(path)
            t.sample()
            self.assertEqual(t.procs, {})

    def test_command_errors_and_batch_mode(self):
        r = mmhint("top", "--once", "/nonexistent")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("not a directory", r.stderr)
        r = mmhint("top", "--interval", "0", FIXTURES)
        self.assertEqual(r.returncode, 2)
        r = mmhint("top", "-n", "2", "--interval", "0.1", os.path.join(FIXTURES, "batch"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("mmhint top - "), 2, r.stdout)
        self.assertNotIn("\033[", r.stdout, "no terminal control codes when stdout is not a terminal")
        self.assertIn("0 live, 2 ended", r.stdout)


# A reader that reads 256 KiB every 50 ms (5 MiB/s, 80 preads/s of 64 KiB),
# on a schedule that catches up when the machine is busy.
LOOP = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
t = time.monotonic()
while True:
    for i in range(4):
        os.pread(fd, 65536, i * 65536)
    t += 0.05
    time.sleep(max(0, t - time.monotonic()))
"""


class RealProcessTest(unittest.TestCase):
    def setUp(self):
        self.lib = real_library()
        if not self.lib:
            self.skipTest("the library is not built")

    def test_once_shows_the_read_rate_of_a_live_process(self):
        with tempfile.TemporaryDirectory() as d:
            sd = os.path.join(d, "st")
            os.mkdir(sd)
            data = os.path.join(d, "data")
            with open(data, "wb") as f:
                f.write(os.urandom(1 << 20))
            env = clean_env(LD_PRELOAD=self.lib, MMHINT_STATS=sd + "/", MMHINT_STATS_INTERVAL="1s")
            subprocess.run(["true"], env=env, check=True)        # a finished process beside it
            p = subprocess.Popen([SYSTEM_PYTHON, "-c", LOOP, data], env=env, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not any(n.startswith("python3.%d." % p.pid)
                                                              for n in os.listdir(sd)):
                    time.sleep(0.1)
                r = mmhint("top", "--once", "--interval", "2.5", sd)
            finally:
                p.kill()
                err = p.communicate()[1].decode()
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("1 live, 1 ended", r.stdout)
            mine = [c for c in rows(r.stdout, p.pid) if c[2] == data]
            self.assertEqual(len(mine), 1, r.stdout)
            rate, calls = number(mine[0][3]), number(mine[0][4])
            self.assertTrue(2.5 * (1 << 20) <= rate <= 7.5 * (1 << 20), r.stdout)
            self.assertTrue(40 <= calls <= 120, r.stdout)
            self.assertEqual(mine[0][5:7], ["0", "0"], "nothing written")
            self.assertNotIn("mmhint:", err)


if __name__ == "__main__":
    run_tests()
