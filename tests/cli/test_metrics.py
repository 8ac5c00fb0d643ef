"""mmhint report --openmetrics and --format prometheus, checked by the real
readers: promtool check metrics (Debian package prometheus), the textfile
collector of node_exporter (prometheus-node-exporter, started on 127.0.0.1,
scraped, killed) and the OpenMetrics parser of prometheus_client
(python3-prometheus-client).  Each check skips when its tool is missing."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.dont_write_bytecode = True
from cli_helpers import FIXTURES, MMHINT, SOURCE, clean_env, fixture, mmhint, real_library, run_tests

SYSTEM_PYTHON = "/usr/bin/python3"  # where Debian's python3-prometheus-client is importable


def report(*args):
    r = mmhint("report", *args)
    if r.returncode != 0:
        raise AssertionError("mmhint report %s: status %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def pid_twice_dir(d):
    """A directory with two stats files of one pid (an exec of the same
    program: the writer names the second one .json.1)."""
    with open(os.path.join(FIXTURES, "batch", "wc.2101.json")) as f:
        doc = json.load(f)
    with open(os.path.join(d, "wc.2101.json"), "w") as f:
        json.dump(doc, f)
    doc["process"]["start_ns"] += 10 ** 9
    doc["process"]["end_ns"] += 10 ** 9
    doc["files"][0]["reads"] += 5
    with open(os.path.join(d, "wc.2101.json.1"), "w") as f:
        json.dump(doc, f)


def series(text):
    """The sample lines (name and labels) of an exposition, without values."""
    return [l.rsplit(" ", 1)[0] for l in text.splitlines() if l and not l.startswith("#")]


class PromtoolTest(unittest.TestCase):
    def setUp(self):
        self.promtool = shutil.which("promtool")
        if not self.promtool:
            self.skipTest("promtool is not installed (Debian package prometheus)")

    def check(self, text):
        p = subprocess.run([self.promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, "")

    def test_prometheus_format_passes_promtool(self):
        for src in (fixture("sqlite.3001.json"), fixture("batch")):
            self.check(report("--format", "prometheus", src))

    def test_two_processes_of_one_pid_stay_distinct(self):
        with tempfile.TemporaryDirectory() as d:
            pid_twice_dir(d)
            text = report("--format", "prometheus", d)
            self.check(text)
            s = series(text)
            self.assertEqual(len(s), len(set(s)), "duplicate series")
            self.assertIn('process="2101.1"', text)
            om = report("--openmetrics", d)
            s = series(om)
            self.assertEqual(len(s), len(set(s)), "duplicate series")


class NodeExporterTest(unittest.TestCase):
    def setUp(self):
        self.exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        if not self.exe:
            self.skipTest("node_exporter is not installed (Debian package prometheus-node-exporter)")

    def test_textfile_collector_keeps_the_types(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "mmhint.prom"), "w") as f:
                f.write(report("--format", "prometheus", fixture("sqlite.3001.json")))
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            p = subprocess.Popen([self.exe, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
                                  "--collector.textfile", "--collector.textfile.directory=" + d],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                body = None
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and p.poll() is None:
                    try:
                        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                            body = r.read().decode()
                        break
                    except OSError:
                        time.sleep(0.2)
                self.assertIsNotNone(body, "node_exporter did not answer: %s" % (
                    p.stderr.read().decode() if p.poll() is not None else "timeout"))
            finally:
                p.kill()
                p.wait(timeout=10)
            self.assertIn("node_textfile_scrape_error 0", body)
            types = {l.split()[2]: l.split()[3] for l in body.splitlines() if l.startswith("# TYPE mmhint_")}
            self.assertEqual(types.get("mmhint_file_opens_total"), "counter")
            self.assertEqual(types.get("mmhint_file_size_bytes"), "gauge")
            self.assertEqual(types.get("mmhint_memory_malloc_calls_total"), "counter")
            self.assertNotIn("untyped", set(types.values()), types)
            self.assertIn('mmhint_file_bytes_read_total{exe="/usr/bin/sqlite3"', body)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def scrape_textfiles(exe, directory):
    """Starts node_exporter on 127.0.0.1 with only the textfile collector on
    DIRECTORY, scrapes /metrics once, stops it; returns the body."""
    port = free_port()
    p = subprocess.Popen([exe, "--web.listen-address=127.0.0.1:%d" % port, "--collector.disable-defaults",
                          "--collector.textfile", "--collector.textfile.directory=" + directory],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                    return r.read().decode()
            except OSError:
                time.sleep(0.2)
        raise AssertionError("node_exporter did not answer: %s" % (
            p.stderr.read().decode() if p.poll() is not None else "timeout"))
    finally:
        p.kill()
        p.wait(timeout=10)
        p.stderr.close()


def unit_command(name):
    """The ExecStart= command line of examples/systemd/NAME, split."""
    with open(os.path.join(SOURCE, "examples", "systemd", name)) as f:
        for line in f:
            if line.startswith("ExecStart="):
                return line[len("ExecStart="):].split()
    raise AssertionError("%s has no ExecStart=" % name)


def sample_value(body, name, **labels):
    """The value of the sample NAME{LABELS...} in BODY (labels in any order)."""
    for line in body.splitlines():
        if not line.startswith(name + "{"):
            continue
        head, value = line.rsplit(" ", 1)
        got = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', head[len(name):]))
        if all(got.get(k) == str(v) for k, v in labels.items()):
            return float(value)
    return None


# A reader that reads its file every 20 ms, so that every snapshot differs.
LOOP = """
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
while True:
    os.pread(fd, 65536, 0)
    time.sleep(0.02)
"""


class LiveTextfileTest(unittest.TestCase):
    """A process under the library with stats_interval=1s; the command of
    examples/systemd/mmhint-textfile.service writes the textfile;
    node_exporter serves the values of the snapshot the report read."""

    def setUp(self):
        self.exe = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
        if not self.exe:
            self.skipTest("node_exporter is not installed (Debian package prometheus-node-exporter)")
        self.lib = real_library()
        if not self.lib:
            self.skipTest("the library is not built")

    def test_live_process_metrics_reach_node_exporter(self):
        with tempfile.TemporaryDirectory() as d:
            sd, textdir = os.path.join(d, "mmhint"), os.path.join(d, "node-exporter")
            os.mkdir(sd)
            os.mkdir(textdir)
            data = os.path.join(d, "data")
            with open(data, "wb") as f:
                f.write(os.urandom(1 << 20))
            cmd = unit_command("mmhint-textfile.service")
            self.assertEqual(cmd[:2], ["/usr/bin/mmhint", "report"])
            out = [a for a in cmd if a.endswith(".prom")][0]
            cmd = [sys.executable, MMHINT] + [os.path.join(textdir, os.path.basename(a)) if a == out else
                                              sd if a == "/var/lib/mmhint" else a for a in cmd[1:]]
            env = clean_env(LD_PRELOAD=self.lib, MMHINT_STATS=sd + "/", MMHINT_STATS_INTERVAL="1s")
            p = subprocess.Popen([SYSTEM_PYTHON, "-c", LOOP, data], env=env, stderr=subprocess.PIPE)
            snap = os.path.join(sd, "python3.%d.json" % p.pid)
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and not os.path.exists(snap):
                    time.sleep(0.1)
                time.sleep(1.2)   # a snapshot with reads in it
                # The report must have read the snapshot on disk before and after it ran.
                for attempt in range(10):
                    with open(snap) as f:
                        before = json.load(f)
                    r = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=60)
                    self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))
                    with open(snap) as f:
                        after = json.load(f)
                    if before["process"]["end_ns"] == after["process"]["end_ns"]:
                        break
                else:
                    self.fail("the snapshot changed during every report")
                body = scrape_textfiles(self.exe, textdir)
            finally:
                p.kill()
                err = p.communicate()[1].decode()
        self.assertNotIn("mmhint:", err)
        self.assertEqual(before["process"]["end_reason"], "snapshot")
        self.assertIn("node_textfile_scrape_error 0", body)
        types = {l.split()[2]: l.split()[3] for l in body.splitlines() if l.startswith("# TYPE mmhint_")}
        for name, typ in (("mmhint_file_bytes_read_total", "counter"), ("mmhint_file_reads_total", "counter"),
                          ("mmhint_process_live", "gauge"), ("mmhint_process_end_timestamp_seconds", "gauge"),
                          ("mmhint_memory_malloc_calls_total", "counter")):
            self.assertEqual(types.get(name), typ, name)
        f = [f for f in before["files"] if data in f["paths"]][0]
        pid = str(p.pid)
        self.assertGreater(f["reads"], 0)
        self.assertEqual(sample_value(body, "mmhint_file_reads_total", path=data, process=pid), f["reads"])
        self.assertEqual(sample_value(body, "mmhint_file_bytes_read_total", path=data, process=pid),
                         f["bytes_read"])
        self.assertEqual(sample_value(body, "mmhint_memory_malloc_calls_total", process=pid),
                         before["memory"]["malloc_calls"])
        self.assertEqual(sample_value(body, "mmhint_process_live", process=pid), 1)
        self.assertAlmostEqual(sample_value(body, "mmhint_process_end_timestamp_seconds", process=pid),
                               before["process"]["end_ns"] / 1e9, places=2)


class OpenMetricsParserTest(unittest.TestCase):
    def setUp(self):
        if subprocess.call([SYSTEM_PYTHON, "-c", "import prometheus_client.openmetrics.parser"],
                           stderr=subprocess.DEVNULL) != 0:
            self.skipTest("prometheus_client is not installed (Debian package python3-prometheus-client)")

    def parse(self, text):
        prog = ("import sys, json\n"
                "from prometheus_client.openmetrics.parser import text_string_to_metric_families as p\n"
                "print(json.dumps({f.name: [f.type, len(f.samples), sorted({s.name for s in f.samples})]"
                " for f in p(sys.stdin.read())}))\n")
        r = subprocess.run([SYSTEM_PYTHON, "-c", prog], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_openmetrics_parses_with_types(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(FIXTURES, "sqlite.3001.json")) as f:
                doc = json.load(f)
            doc["memory"].update({"live_bytes": 4096, "live_regions": 1, "numa_sample_limit_pages": 16384})
            with open(os.path.join(d, "sqlite.3001.json"), "w") as f:
                json.dump(doc, f)
            fams = self.parse(report("--openmetrics", d))
        self.assertEqual(fams["mmhint_file_opens"][0], "counter")
        self.assertEqual(fams["mmhint_file_opens"][2], ["mmhint_file_opens_total"])
        self.assertEqual(fams["mmhint_file_size_bytes"][0], "gauge")
        for g in ("live_bytes", "live_regions", "numa_sample_limit_pages"):
            self.assertEqual(fams["mmhint_memory_" + g][0], "gauge", g)
            self.assertEqual(fams["mmhint_memory_" + g][2], ["mmhint_memory_" + g])
        self.assertEqual(fams["mmhint_memory_malloc_calls"][0], "counter")

    def test_golden_openmetrics_parses(self):
        self.parse(report("--openmetrics", fixture("sqlite.3001.json"), fixture("batch")))


class ExclusiveOutputsTest(unittest.TestCase):
    def test_two_stdout_formats_are_refused(self):
        for args in (["--json", "--openmetrics"], ["--format", "prometheus", "--json"],
                     ["--format", "text", "--openmetrics"]):
            r = mmhint("report", *args, fixture("batch"))
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "")
            lines = r.stderr.splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("give one of them", lines[0])

    def test_html_beside_a_stdout_format_is_fine(self):
        with tempfile.TemporaryDirectory() as d:
            r = mmhint("report", "--json", "--html", os.path.join(d, "r.html"), fixture("batch"))
            self.assertEqual(r.returncode, 0, r.stderr)
            json.loads(r.stdout)
            self.assertTrue(os.path.getsize(os.path.join(d, "r.html")) > 0)


if __name__ == "__main__":
    run_tests()
