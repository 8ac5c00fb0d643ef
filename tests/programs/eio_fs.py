#!/usr/bin/python3
"""eio_fs: a FUSE filesystem of one read-only file whose reads fail in a
range, for tests/integration/prefetch_failures.sh (Debian's python3-fusepy).

    eio_fs.py MOUNTPOINT SIZE BAD_OFF BAD_LEN LOG

The file MOUNTPOINT/data is SIZE bytes; byte i is
((i % 4096) * 131 + i // 4096) % 251, so any reader can check what it got.  A read that overlaps [BAD_OFF,
BAD_OFF + BAD_LEN) fails with EIO, as a failing disk's would.  Every read
request the kernel sends is appended to LOG as "OFFSET LENGTH OK|EIO", so the
test can count how often the bad range was asked for.  Runs in the
foreground until unmounted.
"""
import errno
import os
import stat
import sys
import time

import fusepy


PAGE = 4096
# Page p of the file is PAGES[p % 251]: its bytes depend on the offset in the page and on p.
PAGES = [bytes(((j * 131 + p) % 251) for j in range(PAGE)) for p in range(251)]


def content(off, n):
    out = []
    while n > 0:
        p, o = divmod(off, PAGE)
        k = min(n, PAGE - o)
        out.append(PAGES[p % 251][o:o + k])
        off, n = off + k, n - k
    return b"".join(out)


class EioFs(fusepy.Operations):
    def __init__(self, size, bad_off, bad_len, log):
        self.size, self.bad_off, self.bad_end = size, bad_off, bad_off + bad_len
        self.log = open(log, "a", buffering=1)
        self.now = time.time()

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2, "st_mtime": self.now, "st_ctime": self.now,
                    "st_atime": self.now}
        if path == "/data":
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": self.size, "st_mtime": self.now,
                    "st_ctime": self.now, "st_atime": self.now}
        raise fusepy.FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", "data"]

    def open(self, path, flags):
        if path != "/data":
            raise fusepy.FuseOSError(errno.ENOENT)
        if flags & os.O_ACCMODE != os.O_RDONLY:
            raise fusepy.FuseOSError(errno.EROFS)
        return 0

    def read(self, path, size, offset, fh):
        n = max(0, min(size, self.size - offset))
        bad = n > 0 and offset < self.bad_end and offset + n > self.bad_off
        self.log.write("%d %d %s\n" % (offset, n, "EIO" if bad else "OK"))
        if bad:
            raise fusepy.FuseOSError(errno.EIO)
        return content(offset, n)


def main():
    mnt, size, bad_off, bad_len, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    fusepy.FUSE(EioFs(size, bad_off, bad_len, log), mnt, foreground=True, ro=True, nothreads=True,
                kernel_cache=True)


if __name__ == "__main__":
    main()
