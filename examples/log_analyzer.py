#!/usr/bin/env python3
"""log_analyzer: count HTTP status codes and the busiest client addresses in an
access log, reading the file either line by line through Python's buffered
file object ("read": many small read() calls) or through Python's mmap module
("mmap": the program maps the file itself).  Both modes give the same counts
and the same checksum, so a run under a preload library can be compared with
a plain run.

    log_analyzer.py read FILE        analyse FILE with buffered reads
    log_analyzer.py mmap FILE        analyse FILE through a mapping
    log_analyzer.py --make FILE SIZE write a deterministic log of SIZE bytes

The last line on stdout is one machine-readable line:
    result workload=log_analyzer mode=read bytes=... lines=... checksum=0x...
"""

import argparse
import hashlib
import mmap
import os
import random
import sys
import time

PROG = "log_analyzer"


def parse_size(text):
    """Return the byte count TEXT names ("4096", "64K", "1M", "2G", "1T";
    binary multiples, optional "B"/"iB"), or raise ValueError."""
    t = text.strip().lower()
    for suffix in ("ib", "b"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t = t[: -len(suffix)]
            break
    scale = 1
    if t and t[-1] in "kmgt":
        scale = 1 << (10 * ("kmgt".index(t[-1]) + 1))
        t = t[:-1]
    if not t.isdigit():
        raise ValueError("bad size %r (expected e.g. 4096, 64K, 1M, 2G)" % text)
    return int(t) * scale


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_METHODS = [b"GET"] * 8 + [b"POST", b"HEAD"]
_STATUSES = [b"200"] * 80 + [b"304"] * 8 + [b"404"] * 6 + [b"301"] * 3 + [b"500"] * 2 + [b"403"]
_AGENTS = [b"Mozilla/5.0 (X11; Linux x86_64)", b"curl/7.88.1", b"Wget/1.21.3",
           b"python-requests/2.28.1", b"Googlebot/2.1"]


def make_log(path, size, seed):
    """Write exactly SIZE bytes of access-log lines to PATH, the same bytes for
    the same SIZE and SEED.  Client addresses follow a skewed distribution so
    the busiest ones stand out; the file ends with one padding comment line
    when the last log line would not fit."""
    rng = random.Random(seed)
    # A fixed population of clients, some much busier than others (weights
    # 1/rank), so "top IPs" has a clear answer.
    ips = [("%d.%d.%d.%d" % (10 + rng.randrange(200), rng.randrange(256), rng.randrange(256),
                             1 + rng.randrange(254))).encode() for _ in range(5000)]
    weights = [1.0 / (rank + 1) for rank in range(len(ips))]
    paths = [("/%s/%d" % (rng.choice(["api", "static", "img", "user", "search"]), rng.randrange(100000))).encode()
             for _ in range(2000)]
    start = 1700000000
    written = 0
    second = 0
    batch = 4096
    with open(path, "wb") as out:
        while written < size:
            # Lines are made a batch at a time because one rng.choices call per
            # field per batch is far cheaper than per-line calls.
            b_ips = rng.choices(ips, weights, k=batch)
            b_paths = rng.choices(paths, k=batch)
            b_methods = rng.choices(_METHODS, k=batch)
            b_status = rng.choices(_STATUSES, k=batch)
            b_agents = rng.choices(_AGENTS, k=batch)
            b_sizes = [rng.randrange(100, 50000) for _ in range(batch)]
            chunk = []
            for i in range(batch):
                if i % 64 == 0:
                    tm = time.gmtime(start + second)
                    second += 1
                    stamp = ("%02d/%s/%04d:%02d:%02d:%02d +0000" % (
                        tm.tm_mday, _MONTHS[tm.tm_mon - 1], tm.tm_year,
                        tm.tm_hour, tm.tm_min, tm.tm_sec)).encode()
                line = b'%s - - [%s] "%s %s HTTP/1.1" %s %d "-" "%s"\n' % (
                    b_ips[i], stamp, b_methods[i], b_paths[i], b_status[i], b_sizes[i], b_agents[i])
                if written + len(line) > size:
                    # Pad to the exact size with a comment line (or bare
                    # newlines when only one byte is left) and stop.
                    left = size - written
                    chunk.append(b"#" + b"-" * (left - 2) + b"\n" if left >= 2 else b"\n" * left)
                    written = size
                    break
                chunk.append(line)
                written += len(line)
            out.write(b"".join(chunk))
        out.flush()
        os.fsync(out.fileno())


# ---------------------------------------------------------------------------
# Analysis
# ---------------------------------------------------------------------------

class Tally:
    """Counts per status code and per client address, and lines that are not
    log lines (comments, truncated lines)."""

    def __init__(self):
        self.status = {}
        self.ips = {}
        self.lines = 0
        self.bad = 0

    def add(self, line):
        """Count one line (bytes, with or without its newline)."""
        self.lines += 1
        sp = line.find(b" ")
        q1 = line.find(b'"')
        q2 = line.find(b'" ', q1 + 1) if q1 >= 0 else -1
        code = line[q2 + 2:q2 + 5] if q2 >= 0 else b""
        if sp <= 0 or len(code) != 3 or not code.isdigit():
            self.bad += 1
            return
        ip = line[:sp]
        self.ips[ip] = self.ips.get(ip, 0) + 1
        self.status[code] = self.status.get(code, 0) + 1

    def checksum(self):
        """A 64-bit digest of every count, independent of reading order."""
        h = hashlib.sha256()
        h.update(b"lines=%d bad=%d\n" % (self.lines, self.bad))
        for code in sorted(self.status):
            h.update(b"s %s %d\n" % (code, self.status[code]))
        for ip in sorted(self.ips):
            h.update(b"i %s %d\n" % (ip, self.ips[ip]))
        return int.from_bytes(h.digest()[:8], "big")


def analyse_read(path, tally):
    """Iterate the lines of PATH through a normally opened binary file."""
    with open(path, "rb") as f:
        for line in f:
            tally.add(line)


def analyse_mmap(path, tally):
    """Iterate the lines of PATH through a read-only mapping of it."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return  # A zero-length mapping is invalid; there are no lines.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for line in iter(mm.readline, b""):
                tally.add(line)


def evict(path):
    """Drop PATH's pages from the page cache (a set-up step for cold runs)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main(argv):
    ap = argparse.ArgumentParser(
        prog="log_analyzer.py",
        description="Count status codes and top client addresses of an access log; "
                    "prints one 'result workload=log_analyzer ...' line.")
    ap.add_argument("mode", nargs="?", choices=["read", "mmap"],
                    help="read: buffered line iteration; mmap: Python's mmap module")
    ap.add_argument("file", nargs="?", help="the log file")
    ap.add_argument("--make", nargs=2, metavar=("FILE", "SIZE"),
                    help="write a deterministic synthetic log of SIZE bytes (K/M/G) and exit")
    ap.add_argument("--seed", type=int, default=1, help="content seed for --make (default 1)")
    ap.add_argument("--top", type=int, default=3, help="how many top addresses to report (default 3)")
    ap.add_argument("--cold", action="store_true", help="drop FILE from the page cache first")
    args = ap.parse_args(argv)

    try:
        if args.make:
            path, size_text = args.make
            size = parse_size(size_text)
            t0 = time.monotonic()
            make_log(path, size, args.seed)
            print("result workload=log_analyzer mode=make bytes=%d seconds=%.6f" % (size, time.monotonic() - t0))
            return 0
        if not args.mode or not args.file:
            ap.print_usage(sys.stderr)
            print("%s: need MODE and FILE, or --make FILE SIZE" % PROG, file=sys.stderr)
            return 2
        if args.cold:
            evict(args.file)
        tally = Tally()
        t0 = time.monotonic()
        if args.mode == "read":
            analyse_read(args.file, tally)
        else:
            analyse_mmap(args.file, tally)
        seconds = time.monotonic() - t0
        size = os.stat(args.file).st_size
    except (OSError, ValueError) as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1

    statuses = ",".join("%s:%d" % (c.decode(), n) for c, n in sorted(tally.status.items()))
    # Ties are broken by address so the list is the same on every run.
    top = sorted(tally.ips.items(), key=lambda kv: (-kv[1], kv[0]))[:max(args.top, 0)]
    top_ips = ",".join("%s:%d" % (ip.decode(errors="replace"), n) for ip, n in top)
    print("result workload=log_analyzer mode=%s bytes=%d lines=%d bad_lines=%d distinct_ips=%d "
          "statuses=%s top_ips=%s seconds=%.6f mib_per_s=%.1f checksum=0x%016x" % (
              args.mode, size, tally.lines, tally.bad, len(tally.ips), statuses or "none",
              top_ips or "none", seconds, size / 1048576.0 / seconds if seconds > 0 else 0.0,
              tally.checksum()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
