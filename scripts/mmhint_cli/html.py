"""`mmhint report --html`: one self-contained HTML page (inline CSS, inline
SVG drawn here; no scripts, no network)."""

import html

import shlex

from . import advise as adv
from . import effects, live
from . import stats as st
from .common import BYTES, COUNT, counter_unit, human, human_ns
from .report import FILE_HEADERS, file_row, sorted_files

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d5d9e0}
h3{font-size:15px;margin:18px 0 6px;font-family:ui-monospace,monospace}
table{border-collapse:collapse;margin:6px 0 12px} th,td{padding:3px 9px;border-bottom:1px solid #e6e8ec;text-align:right}
th{background:#f3f5f8} td.l,th.l{text-align:left;font-family:ui-monospace,monospace;max-width:520px;word-break:break-all}
.muted{color:#6b7280} .charts{display:flex;flex-wrap:wrap;gap:18px} .card{border:1px solid #e1e4ea;border-radius:6px;padding:8px}
svg text{font:11px system-ui,sans-serif;fill:#333}
tr.live td{background:#eef8f0} tr.gone td{background:#fdf0ee}
table.headline td.hv{font-family:system-ui,sans-serif;max-width:900px;word-break:normal}
pre{background:#f6f8fa;border:1px solid #e1e4ea;border-radius:6px;padding:8px;overflow-x:auto} pre.cmd{background:#eef4fb}
"""

COLORS = {"r": "#2b6cb0", "p": "#c05621", "s": "#2f855a", "m": "#805ad5",
          "w": "#c53030", "W": "#b7791f", "S": "#2c7a7b"}
OPS = {"r": "read", "p": "pread", "s": "stdio", "m": "mmap", "w": "write", "W": "pwrite", "S": "stdio write"}


def e(x):
    return html.escape(str(x), quote=True)


def hbar_chart(title, items, fmt, width=640, bar_h=18):
    """Horizontal bars: ITEMS is [(label, value)]."""
    if not items:
        return ""
    label_w = 260
    h = 28 + bar_h * len(items) + 6 * len(items)
    vmax = max(v for _, v in items) or 1
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
           % (width, h, e(title)), '<text x="0" y="14" font-weight="bold">%s</text>' % e(title)]
    y = 26
    for label, v in items:
        w = (width - label_w - 80) * v / vmax
        short = label if len(label) <= 40 else "…" + label[-39:]
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (label_w - 6, y + bar_h - 5, e(short)))
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="#2b6cb0"/>' % (label_w, y, max(w, 1), bar_h))
        out.append('<text x="%.1f" y="%d">%s</text>' % (label_w + max(w, 1) + 4, y + bar_h - 5, e(fmt(v))))
        y += bar_h + 6
    out.append("</svg>")
    return "\n".join(out)


def histogram_chart(f, width=380, height=190):
    hist = f["read_size_hist"]
    vals = [hist.get(n, 0) for n in st.HIST_NAMES]
    vmax = max(vals) or 1
    left, bottom, top = 48, 50, 22
    bw = (width - left - 10) / len(vals)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="read sizes">'
           % (width, height), '<text x="0" y="12" font-weight="bold">read sizes (calls per bucket)</text>']
    ph = height - bottom - top
    for i, (n, v) in enumerate(zip(st.HIST_NAMES, vals)):
        bh = ph * v / vmax
        x = left + i * bw
        out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2f855a"/>'
                   % (x + 2, top + ph - bh, bw - 4, bh))
        if v:
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>' % (x + bw / 2, top + ph - bh - 2,
                                                                                 e(human(v, COUNT))))
        out.append('<text x="%.1f" y="%d" text-anchor="end" transform="rotate(-40 %.1f %d)">%s</text>'
                   % (x + bw / 2 + 3, height - bottom + 14, x + bw / 2 + 3, height - bottom + 14, e(n)))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>' % (left, top + ph, width - 8, top + ph))
    out.append("</svg>")
    return "\n".join(out)


def scatter_chart(f, width=420, height=180):
    rows = f["samples"]
    left, bottom, top, right = 60, 30, 20, 10
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="offset over time">'
           % (width, height), '<text x="0" y="12" font-weight="bold">offset over time (%d sampled of %s accesses)</text>'
           % (len(rows), e(human(f["samples_seen"], COUNT)))]
    if not rows:
        out.append('<text x="%d" y="%d">no samples</text>' % (left, height // 2))
        out.append("</svg>")
        return "\n".join(out)
    t0 = min(r[0] for r in rows)
    t1 = max(r[0] for r in rows)
    omax = max(max(r[1] + r[2] for r in rows), f.get("size") or 0, 1)
    pw, ph = width - left - right, height - top - bottom
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#fafbfc" stroke="#ccc"/>' % (left, top, pw, ph))
    for r in rows:
        x = left + (pw * (r[0] - t0) / (t1 - t0) if t1 > t0 else pw / 2)
        y = top + ph - ph * r[1] / omax
        out.append('<circle cx="%.1f" cy="%.1f" r="2.2" fill="%s"/>' % (x, y, COLORS.get(r[3], "#444")))
    out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 4, top + 8, e(human(omax, BYTES))))
    out.append('<text x="%d" y="%d" text-anchor="end">0</text>' % (left - 4, top + ph))
    out.append('<text x="%d" y="%d">%s</text>' % (left, height - 10, e(human_ns(t0))))
    out.append('<text x="%d" y="%d" text-anchor="end">%s after start</text>' % (width - right, height - 10,
                                                                                e(human_ns(t1))))
    ops = sorted({r[3] for r in rows})
    lx = left + 90
    for op in ops:
        out.append('<circle cx="%d" cy="%d" r="4" fill="%s"/><text x="%d" y="%d">%s</text>'
                   % (lx, height - 14, COLORS.get(op, "#444"), lx + 7, height - 10, e(OPS.get(op, op))))
        lx += 56
    out.append("</svg>")
    return "\n".join(out)


def memory_section(merged):
    """What the memory policies did, in words (effects.memory_effects), and
    a requested-vs-obtained chart only when a huge page policy asked; every
    byte figure in binary units, as in the tables."""
    mem = merged["memory"]
    out = ["<p>%s</p>" % e(l) if not l.startswith("no memory policy") else "<p><b>%s</b></p>" % e(l)
           for l in effects.memory_effects(merged)]
    asked = [s for _, s in effects.memory_policy(merged)]
    hp = mem.get("huge_pages") or {}
    if any(s.startswith("hugepages=") for s in asked):
        items = [("requested", hp.get("requested_bytes") or 0), ("obtained", hp.get("obtained_bytes") or 0)]
        out.append(hbar_chart("huge pages: requested vs obtained", items, lambda v: human(v, BYTES)))
    if any(s.startswith("numa") for s in asked):
        nodes = mem.get("numa_pages") or {}
        items = [("node %s" % a, b * 4096) for a, b in sorted(nodes.items()) if isinstance(b, int)]
        if items:
            out.append(hbar_chart("pages per NUMA node", items, lambda v: human(v, BYTES)))
    classes = mem.get("size_classes")
    if isinstance(classes, dict) and classes:
        out.append(hbar_chart("allocations by size class", list(classes.items()), lambda v: human(v, COUNT)))
    return "\n".join(x for x in out if x)


def headline(merged):
    """The numbers a person needs first, as (label, value) pairs: the run
    time (the longest process), the time in I/O calls and its share of the
    summed process time, the three files that took the most time, what each
    policy did (and whether it took effect), and what was not observed."""
    procs = merged["processes"]
    walls = [p["wall_ns"] for p in procs if p.get("wall_ns")]
    run_ns = max(walls) if walls else 0
    io_ns = sum((f.get("read_time_ns") or 0) + (f.get("write_time_ns") or 0) for f in merged["files"])
    share = io_ns / sum(walls) if walls and sum(walls) else None
    calls = sum((f.get("reads") or 0) + (f.get("read_errors") or 0) + (f.get("writes") or 0) +
                (f.get("write_errors") or 0) for f in merged["files"])
    timed = [(f.get("timed_reads") or 0) + (f.get("timed_writes") or 0) for f in merged["files"]
             if "timed_reads" in f or "timed_writes" in f]
    sampled = ("; estimated from the %d of %d calls that were timed (docs/STATS.md, Timing)" % (sum(timed), calls)
               if timed and sum(timed) < calls else "")
    rows = [("run time", human_ns(run_ns) if run_ns else "-"),
            ("time in I/O calls", "%s (%s of the processes' time%s)" % (
                human_ns(io_ns), "%.0f%%" % (100 * share) if share is not None else "share unknown", sampled))]
    by_time = sorted((f for f in merged["files"] if (f.get("read_time_ns") or 0) + (f.get("write_time_ns") or 0)),
                     key=lambda f: -((f.get("read_time_ns") or 0) + (f.get("write_time_ns") or 0)))[:3]
    rows.append(("top files by time", "; ".join("%s %s" % (f["path"], human_ns((f.get("read_time_ns") or 0) +
                                                                                (f.get("write_time_ns") or 0)))
                                                 for f in by_time) or "none timed"))
    did = [(f["path"], effects.file_effects(f)) for f in merged["files"]]
    did = [(path, lines) for path, lines in did if lines]
    if did:
        for path, lines in did[:5]:
            rows.append(("policy on " + path, "; ".join(lines)))
        if len(did) > 5:
            rows.append(("policies", "%d more files in the table below" % (len(did) - 5)))
    else:
        rows.append(("file policies", "none in force: every file was read plainly"))
    rows.append(("memory policy", "; ".join(effects.memory_effects(merged))))
    unobs = merged.get("unobserved") or []
    stdio_only = effects.unobserved_files(merged)
    rows.append(("not observed", "%d kinds of call (listed at the end)%s" % (
        len(unobs), "; %d files read only through stdio (not timed)" % len(stdio_only) if stdio_only else "")))
    return rows


def what_to_try(merged):
    """advise's proposal for these statistics and the exact `mmhint ab`
    command that measures it against plain, or None when it proposes
    nothing."""
    conf = adv.advise(merged, merged.get("sources") or [])
    if not [l for l in conf.splitlines() if l and not l.startswith("#")]:
        return None
    argv = next((p["argv"] for p in merged["processes"] if p.get("argv")), None)
    cmd = "mmhint ab --plain-a --config-b advised.conf --runs 7 -- %s" % (
        " ".join(shlex.quote(str(a)) for a in argv) if argv else "CMD")
    return conf, cmd


def render_html(merged, sort="bytes", top=20, title="mmhint report"):
    files = sorted_files(merged, sort, top)
    p = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
         '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
         "<title>%s</title><style>%s</style></head><body>" % (e(title), CSS),
         "<h1>%s</h1>" % e(title),
         '<p class="muted">%d process(es), %d file(s), from %s</p>' % (
             len(merged["processes"]), len(merged["files"]), e(", ".join(merged["sources"][:5]) +
                                                              (" …" if len(merged["sources"]) > 5 else "")))]
    p.append('<h2>What matters</h2><table class="headline">')
    for label, value in headline(merged):
        p.append('<tr><th class=l>%s</th><td class="l hv">%s</td></tr>' % (e(label), e(value)))
    p.append("</table>")
    tried = what_to_try(merged)
    p.append("<h2>What to try</h2>")
    if tried:
        conf, cmd = tried
        p.append("<p>mmhint advise proposes this config; save it as <code>advised.conf</code> and measure it "
                 "against the program without the library:</p><pre class=cmd>%s</pre><pre>%s</pre>" % (
                     e(cmd), e(conf)))
    else:
        p.append("<p>mmhint advise proposes nothing for these statistics: no pattern here matches a policy "
                 "known to help.</p>")
    p.append("<h2>Processes</h2><table><tr><th>pid</th><th class=l>exe</th><th class=l>argv</th><th>wall</th>"
             "<th>files</th><th>bytes read</th><th class=l>end</th></tr>")
    for pr in merged["processes"]:
        p.append("<tr%s><td>%s</td><td class=l>%s</td><td class=l>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                 "<td class=l>%s</td></tr>" % (
                     ' class="%s"' % pr["state"] if pr.get("state") in ("live", "gone", "other_host") else "",
                     e(pr["pid"]), e(pr["exe"]), e(" ".join(str(a) for a in pr["argv"])[:200]),
                     e(human_ns(pr["wall_ns"]) if pr["wall_ns"] is not None else "-"), e(pr["files"]),
                     e(human(pr["bytes"], BYTES)), e(live.state_text(pr))))
    p.append("</table>")
    p.append("<h2>Files (%s by %s)</h2><table><tr>%s</tr>" % (
        "top %d of %d" % (len(files), len(merged["files"])) if len(files) < len(merged["files"]) else "all",
        e(sort), "".join('<th%s>%s</th>' % (" class=l" if h in ("path", "policy", "size bucket") else "", e(h))
                         for h in FILE_HEADERS)))
    for f in files:
        row = file_row(f)
        p.append("<tr>%s</tr>" % "".join('<td%s>%s</td>' % (" class=l" if i in (0, 6, len(row) - 1) else "", e(c))
                                         for i, c in enumerate(row)))
    p.append("</table>")
    p.append('<div class="charts"><div class="card">%s</div><div class="card">%s</div></div>' % (
        hbar_chart("bytes read per file", [(f["path"], st.total_bytes(f)) for f in files],
                   lambda v: human(v, counter_unit("bytes_read"))),
        hbar_chart("read time per file", [(f["path"], f.get("read_time_ns") or 0) for f in files],
                   lambda v: human(v, counter_unit("read_time_ns")))))
    p.append("<h2>Access patterns</h2>")
    for f in files:
        p.append("<h3>%s</h3>" % e(f["path"]))
        written = ("; %s writes, %s written" % (human(st.total_writes(f), counter_unit("writes")),
                                                 human(st.total_bytes_written(f), counter_unit("bytes_written")))
                   if st.total_writes(f) else "")
        p.append('<p class="muted">size %s; %s reads, %s%s; policy: %s; rule: %s</p>' % (
            e(human(f.get("size"), BYTES)), e(human(st.total_reads(f), counter_unit("reads"))),
            e(human(st.total_bytes(f), counter_unit("bytes_read"))), e(written),
            e(st.policy_text(f.get("policy"))), e(st.rule_text((f.get("policy") or {}).get("rule")))))
        p.append('<div class="charts"><div class="card">%s</div><div class="card">%s</div></div>' % (
            histogram_chart(f), scatter_chart(f)))
    p.append("<h2>Memory</h2>")
    p.append(memory_section(merged))
    p.append("<h2>Not observed</h2><ul>%s</ul>" % "".join("<li>%s</li>" % e(u) for u in merged["unobserved"]))
    if merged["warnings"]:
        p.append("<h2>Warnings from the library</h2><ul>%s</ul>" % "".join(
            "<li>%s</li>" % e(w) for w in merged["warnings"]))
    p.append("</body></html>\n")
    return "\n".join(p)
