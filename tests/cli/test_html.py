"""mmhint report --html rendered by headless Chromium: the DOM holds the
expected file names, and the screenshot shows the charts (pixels of the bar
and histogram colours, and a non-blank chart area).  Skips (77) when
chromium is not installed (Debian package: chromium)."""

import os
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

import sys

sys.dont_write_bytecode = True  # keep tests/cli free of __pycache__
from cli_helpers import fixture, mmhint, run_tests

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]
BAR_BLUE = (0x2b, 0x6c, 0xb0)
HIST_GREEN = (0x2f, 0x85, 0x5a)


def decode_png(data):
    """Returns (width, height, rows of (r, g, b) tuples) of an 8-bit RGB/RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError("unsupported PNG: depth %d colour type %d" % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ft, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 1:
                line[x] = (line[x] + a) & 255
            elif ft == 2:
                line[x] = (line[x] + b) & 255
            elif ft == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def near(px, ref, tol=40):
    return all(abs(p - r) <= tol for p, r in zip(px, ref))


class HeadlineTest(unittest.TestCase):
    """The headline's numbers, recomputed here from the statistics files themselves."""

    def test_headline_numbers_match_the_stats(self):
        import glob
        import json
        import re
        from cli_helpers import FIXTURES
        paths = sorted(glob.glob(os.path.join(FIXTURES, "batch", "*.json"))) + [os.path.join(FIXTURES, "sqlite.3001.json")]
        docs = [json.load(open(p)) for p in paths]
        walls = [d["process"]["wall_ns"] for d in docs]
        io = sum((f.get("read_time_ns") or 0) + (f.get("write_time_ns") or 0) for d in docs for f in d["files"])
        with tempfile.TemporaryDirectory() as tmp:
            page = os.path.join(tmp, "r.html")
            r = mmhint("report", "--html", page, fixture("batch"), fixture("sqlite.3001.json"))
            self.assertEqual(r.returncode, 0, r.stderr)
            text = open(page).read()
        head = text[text.index("<h2>What matters</h2>"):text.index("<h2>Processes</h2>")]
        cells = dict(re.findall(r"<tr><th class=l>(.*?)</th><td class=\"l hv\">(.*?)</td></tr>", head))
        from cli_helpers import SOURCE
        sys.path.insert(0, os.path.join(SOURCE, "scripts"))
        from mmhint_cli.common import human_ns
        self.assertEqual(cells["run time"], human_ns(max(walls)))
        self.assertTrue(cells["time in I/O calls"].startswith(human_ns(io) + " ("), cells["time in I/O calls"])
        self.assertIn("%.0f%%" % (100 * io / sum(walls)), cells["time in I/O calls"])
        # The file that took the most time is named first.
        top = max((f for d in docs for f in d["files"]), key=lambda f: f.get("read_time_ns") or 0)
        self.assertTrue(any(p in cells["top files by time"].split(" ")[0] for p in top["paths"]))
        self.assertIn("no memory policy in force", cells["memory policy"])
        # What to try: the fixtures' logs were read in under 4 ms per process, too little for a read policy
        # to repay the library's start-up, so advise proposes nothing...
        self.assertLess(text.index("<h2>What to try</h2>"), text.index("<h2>Files"))
        self.assertIn("mmhint advise proposes nothing", text)
        # ...with their reads four times as slow it proposes read_mmap, and the page gives the command that
        # verifies it, before the tables.
        with tempfile.TemporaryDirectory() as tmp:
            for p in paths:
                doc = json.load(open(p))
                for f in doc["files"]:
                    f["read_time_ns"] = 4 * (f.get("read_time_ns") or 0)
                with open(os.path.join(tmp, os.path.basename(p)), "w") as out:
                    json.dump(doc, out)
            page = os.path.join(tmp, "r.html")
            r = mmhint("report", "--html", page, *sorted(glob.glob(os.path.join(tmp, "*.json"))))
            self.assertEqual(r.returncode, 0, r.stderr)
            text = open(page).read()
        self.assertLess(text.index("<h2>What to try</h2>"), text.index("<h2>Files"))
        self.assertIn("mmhint ab --plain-a --config-b advised.conf", text)


class HtmlTest(unittest.TestCase):
    def setUp(self):
        self.chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.chromium:
            self.skipTest("chromium is not installed (apt-get install chromium)")
        self.tmp = tempfile.mkdtemp(prefix="mmhint-html-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def chrome(self, *args):
        profile = tempfile.mkdtemp(dir=self.tmp)
        return subprocess.run([self.chromium] + FLAGS + ["--user-data-dir=" + profile] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)

    def test_render(self):
        page = os.path.join(self.tmp, "report.html")
        r = mmhint("report", "--html", page, fixture("batch"), fixture("sqlite.3001.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        url = "file://" + page

        dom = self.chrome("--dump-dom", url)
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        text = dom.stdout.decode("utf-8", "replace")
        for name in ("/data/logs/app-1.log", "/data/logs/app-2.log", "/data/db/main.db", "/data/db/index.bin",
                     "/data/archive/dump.bin", "/usr/bin/sqlite3", "no memory policy in force", "What matters",
                     "What to try", "run time", "time in I/O calls"):
            self.assertIn(name, text)
        self.assertGreaterEqual(text.count("<svg"), 13)

        png = os.path.join(self.tmp, "shot.png")
        shot = self.chrome("--screenshot=" + png, "--window-size=1200,3200", url)
        self.assertTrue(os.path.isfile(png), shot.stderr[-2000:])
        with open(png, "rb") as f:
            width, height, rows = decode_png(f.read())
        self.assertEqual((width, height), (1200, 3200))
        # The first charts (bytes and read time per file) sit below the
        # headline, the proposal and the two tables; the lower two thirds of
        # the page is chart area.
        chart = rows[height // 3:]
        nonwhite = sum(1 for row in chart for px in row if min(px) < 235)
        blue = sum(1 for row in chart for px in row if near(px, BAR_BLUE))
        green = sum(1 for row in chart for px in row if near(px, HIST_GREEN))
        total = len(chart) * width
        self.assertGreater(nonwhite, total * 0.01, "chart area is blank")
        self.assertGreater(blue, 2000, "no bar chart pixels")
        self.assertGreater(green, 2000, "no histogram pixels")


if __name__ == "__main__":
    run_tests()
