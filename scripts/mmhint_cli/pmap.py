"""The prefetch map (docs/HINTS.md, "The prefetch map"): the statistics'
per-file `touched` maps merged across processes, and the map's text format
that `prefetch = learned` reads (the library's parser is policy/pmap.c).

    mmhint-pmap 1
    file SIZE GRANULE
    path /absolute/path
    OFFSET LENGTH
    ...
    end
"""

VERSION = 1
GRANULE_MIN = 4096
GRANULE_MAX = 1 << 30


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def union(ranges):
    """Sorted, merged [[offset, length]] of RANGES (overlapping and adjacent ones joined)."""
    out = []
    for off, length in sorted((o, n) for o, n in ranges if n > 0):
        if out and off <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], off + length - out[-1][0])
        else:
            out.append([off, length])
    return out


def aligned(ranges, granule, size):
    """RANGES widened to multiples of GRANULE (the last one may end at SIZE), clipped to SIZE, merged."""
    out = []
    for off, length in ranges:
        start = off - off % granule
        end = min(size, -(-(off + length) // granule) * granule)
        if end > start:
            out.append([start, end - start])
    return union(out)


def valid_touched(t):
    """The `touched` object T of one file's statistics when it is well formed, else None."""
    if not isinstance(t, dict):
        return None
    g, size, ranges = t.get("granule"), t.get("size"), t.get("ranges")
    if not (_is_int(g) and g >= GRANULE_MIN and g & (g - 1) == 0 and _is_int(size) and isinstance(ranges, list)):
        return None
    out = []
    for r in ranges:
        if not (isinstance(r, list) and len(r) == 2 and _is_int(r[0]) and _is_int(r[1])):
            return None
        out.append([r[0], r[1]])
    return {"granule": g, "size": size, "ranges": out, "from_mappings": bool(t.get("from_mappings"))}


def merge_touched(dst, t):
    """Merges one process's `touched` T into the merged file's DST (None at
    first) and returns it.  A map of another file size replaces what was
    merged: the file changed, and only the latest size is worth a prefetch
    (DST's processes are merged in the order they ended).  The coarser of the
    two granules is kept, ranges widened to it."""
    t = valid_touched(t)
    if t is None:
        return dst
    if dst is None or dst["size"] != t["size"]:
        return {"granule": t["granule"], "size": t["size"], "ranges": aligned(t["ranges"], t["granule"], t["size"]),
                "from_mappings": t["from_mappings"], "processes": 1}
    g = max(dst["granule"], t["granule"])
    return {"granule": g, "size": t["size"], "ranges": aligned(dst["ranges"] + t["ranges"], g, t["size"]),
            "from_mappings": dst["from_mappings"] or t["from_mappings"], "processes": dst["processes"] + 1}


def touched_bytes(t):
    return sum(n for _, n in t["ranges"])


def escape_path(path):
    """PATH as the map writes it: '%', control characters and DEL as %XX.
    Bytes that are not UTF-8 come through JSON as surrogate escapes and go
    back out as the same bytes (write the map with errors="surrogateescape")."""
    return "".join("%%%02X" % ord(ch) if ord(ch) < 0x20 or ch in "\x7f%" else ch for ch in path)


def format_map(entries, comments=()):
    """The map's text for ENTRIES, each {"paths": [...], "size": N, "granule": G,
    "ranges": [[off, len], ...]} with absolute paths.  Entries without an
    absolute path, or whose paths hold NUL, are left out.  COMMENTS go after
    the version line, each prefixed '# '."""
    lines = ["mmhint-pmap %d" % VERSION]
    for c in comments:
        lines.append("# " + c.replace("\n", " "))
    for e in entries:
        paths = [p for p in e["paths"] if p.startswith("/") and "\0" not in p]
        if not paths:
            continue
        g, size = e["granule"], e["size"]
        lines.append("file %d %d" % (size, g))
        lines.extend("path " + escape_path(p) for p in paths)
        lines.extend("%d %d" % (off, n) for off, n in aligned(e["ranges"], g, size))
    lines.append("end")
    return "\n".join(lines) + "\n"
