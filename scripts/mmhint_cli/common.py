"""Shared helpers of the mmhint command: errors, locating the build, the
option table parsed from include/mmhint_options.def, the counter table parsed
from include/mmhint_counters.def, number formatting and plain-text tables.

Python 3 standard library only."""

import difflib
import os
import re
import sys

PROG = "mmhint"

# The repository this script lives in: scripts/mmhint_cli/ -> repo root.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class UserError(Exception):
    """A mistake of the user's (bad argument, unreadable input).  main() prints
    it as one line "mmhint: MESSAGE" on stderr and exits with status 2."""


def warn(msg):
    """Prints one "mmhint: ..." line on stderr."""
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.stderr.flush()


# ---- Locating the library and the helpers ----------------------------------

def find_library(explicit=None):
    """Returns the path of libmmhint.so: EXPLICIT, else $MMHINT_LIB, else
    <repo>/build/libmmhint.so, else /usr/local/lib/libmmhint.so.  Raises
    UserError naming every place it looked when none exists."""
    tried = []
    candidates = []
    if explicit:
        candidates.append(("--lib", explicit))
    elif os.environ.get("MMHINT_LIB"):
        candidates.append(("$MMHINT_LIB", os.environ["MMHINT_LIB"]))
    else:
        candidates.append(("build", os.path.join(REPO, "build", "libmmhint.so")))
        candidates.append(("installed", "/usr/local/lib/libmmhint.so"))
    for _, path in candidates:
        if os.path.isfile(path):
            return os.path.abspath(path)
        tried.append(path)
    raise UserError("cannot find libmmhint.so (looked at %s); build it with "
                    "'cmake -S . -B build && cmake --build build', or pass --lib PATH"
                    % ", ".join(tried))


def find_library_or_none(explicit=None):
    try:
        return find_library(explicit)
    except UserError:
        return None


def find_explain(explicit=None):
    """Returns the path of the mmhint-explain helper or raises UserError.
    Order: EXPLICIT, $MMHINT_EXPLAIN, next to $MMHINT_LIB, <repo>/build,
    /usr/local/bin."""
    candidates = []
    if explicit:
        candidates.append(explicit)
    elif os.environ.get("MMHINT_EXPLAIN"):
        candidates.append(os.environ["MMHINT_EXPLAIN"])
    else:
        if os.environ.get("MMHINT_LIB"):
            candidates.append(os.path.join(os.path.dirname(os.environ["MMHINT_LIB"]), "mmhint-explain"))
        candidates.append(os.path.join(REPO, "build", "mmhint-explain"))
        candidates.append("/usr/local/bin/mmhint-explain")
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise UserError("cannot find the mmhint-explain helper (looked at %s); build the project "
                    "or pass --explain-bin PATH" % ", ".join(candidates))


def find_def_file(name):
    """Returns the path of include/NAME (the declared-once tables)."""
    env = os.environ.get("MMHINT_INCLUDE_DIR")
    for d in ([env] if env else []) + [os.path.join(REPO, "include"), "/usr/local/share/mmhint"]:
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
    raise UserError("cannot find %s (looked in %s/include); set MMHINT_INCLUDE_DIR" % (name, REPO))


# ---- The option table ------------------------------------------------------

_OPTION_RE = re.compile(
    r'X\(\s*(\w+)\s*,\s*(BOOL|INT|SIZE|ENUM|STRING)\s*,\s*(PROCESS|FILE)\s*,\s*"([^"]*)"\s*,'
    r'\s*([^,]+?)\s*,\s*([^,]+?)\s*,\s*"([^"]*)"\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)')

_options_cache = None


def load_options():
    """Parses include/mmhint_options.def.  Returns an ordered dict name ->
    {"type", "scope", "default", "choices", "doc"}."""
    global _options_cache
    if _options_cache is not None:
        return _options_cache
    path = find_def_file("mmhint_options.def")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    # Join the macro's continuation lines so one entry is one logical line.
    text = text.replace("\\\n", " ")
    table = {}
    for m in _OPTION_RE.finditer(text):
        name, typ, scope, default, _mn, _mx, choices, doc = m.groups()
        doc = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', doc))
        table[name] = {"type": typ, "scope": scope, "default": default,
                       "choices": choices.split("|") if choices else [], "doc": doc}
    if not table:
        raise UserError("no options found in %s" % path)
    _options_cache = table
    return table


def suggest(name, names):
    """Returns " (did you mean 'x'?)" for the closest of NAMES, or ""."""
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.5)
    return " (did you mean '%s'?)" % close[0] if close else ""


def check_option(key):
    """Returns the canonical option name for KEY (case-insensitive, '-' as
    '_') or raises UserError "unknown option 'x' (did you mean 'y'?)"."""
    opts = load_options()
    norm = key.strip().lower().replace("-", "_")
    if norm.startswith("mmhint_"):
        norm = norm[len("mmhint_"):]
    if norm in opts:
        return norm
    raise UserError("unknown option '%s'%s" % (key, suggest(norm, opts)))


def env_name(option):
    return "MMHINT_" + option.upper()


def parse_assignments(specs, what):
    """Parses KEY=VALUE items (a list of strings, each may hold several
    comma-separated items) into a list of (option, value)."""
    out = []
    for spec in specs:
        if spec is None:
            continue
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise UserError("%s: expected KEY=VALUE, got '%s'" % (what, item))
            k, v = item.split("=", 1)
            out.append((check_option(k), v.strip()))
    return out


def option_env(pairs):
    return {env_name(k): v for k, v in pairs}


# Variables the mmhint command itself reads.  They share the MMHINT_ prefix
# with the library's options, so they are removed from a child's environment
# (the library would warn about an unknown MMHINT_ variable).
CLI_ENV = ("MMHINT_LIB", "MMHINT_EXPLAIN", "MMHINT_INCLUDE_DIR")


def child_env(base=None):
    """A copy of the environment without the variables only mmhint reads."""
    env = dict(os.environ if base is None else base)
    for k in CLI_ENV:
        env.pop(k, None)
    return env


def strip_option_env(env):
    """Removes inherited MMHINT_<option> variables from ENV (a dict) and
    returns the names removed."""
    names = {env_name(o) for o in load_options()}
    removed = sorted(k for k in env if k in names)
    for k in removed:
        del env[k]
    return removed


def preload_with(env, lib):
    """Returns LD_PRELOAD of ENV with LIB appended (never replaced, never twice)."""
    cur = env.get("LD_PRELOAD", "")
    parts = [p for p in re.split(r"[:\s]+", cur) if p]
    for p in parts:
        if p == lib or (os.path.exists(p) and os.path.exists(lib) and os.path.samefile(p, lib)):
            return cur
    return " ".join(parts + [lib]) if parts and " " in cur else ":".join(parts + [lib])


# ---- The counter table -----------------------------------------------------

_counters_cache = None


def load_counters():
    """Parses include/mmhint_counters.def into an ordered dict name -> kind
    (SUM, MAX or MIN).  Falls back to the kinds docs/STATS.md implies when
    the file cannot be found, so that reading stats never needs a checkout."""
    global _counters_cache
    if _counters_cache is not None:
        return _counters_cache
    table = {}
    try:
        path = find_def_file("mmhint_counters.def")
        with open(path, encoding="utf-8") as f:
            for m in re.finditer(r'C\(\s*(\w+)\s*,\s*(SUM|MAX|MIN)\s*,\s*(?:\w+\s*,)?', f.read()):
                table[m.group(1)] = m.group(2)
    except (UserError, OSError):
        table = {}
    if not table:
        for n in ("opens reads bytes_read read_time_ns read_errors seq_reads consec_reads writes "
                  "bytes_written seeks mmaps mmap_bytes stdio_opens stdio_reads stdio_bytes_read "
                  "stdio_seeks sendfile_bytes copy_range_bytes splice_bytes converted_reads "
                  "converted_bytes offset_syncs").split():
            table[n] = "SUM"
        table["max_byte_read"] = "MAX"
        table["first_access_ns"] = "MIN"
        table["last_access_ns"] = "MAX"
    _counters_cache = table
    return table


# ---- Formatting ------------------------------------------------------------

def human_bytes(n):
    """1536 -> '1.5K', binary units, at most 4 significant characters."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("", "K", "M", "G", "T", "P"):
        if abs(n) < 1024 or unit == "P":
            if unit == "":
                return "%d" % n
            return ("%.1f%s" % (n, unit)) if abs(n) < 10 else ("%.0f%s" % (n, unit))
        n /= 1024.0
    return str(n)


def human_count(n):
    if n is None:
        return "-"
    n = float(n)
    for unit in ("", "k", "M", "G", "T"):
        if abs(n) < 1000 or unit == "T":
            if unit == "":
                return "%d" % n
            return ("%.1f%s" % (n, unit)) if abs(n) < 10 else ("%.0f%s" % (n, unit))
        n /= 1000.0
    return str(n)


def human_ns(ns):
    if ns is None:
        return "-"
    s = ns / 1e9
    if s >= 100:
        return "%.0fs" % s
    if s >= 1:
        return "%.2fs" % s
    if s >= 1e-3:
        return "%.1fms" % (s * 1e3)
    if s >= 1e-6:
        return "%.1fus" % (s * 1e6)
    return "%dns" % ns


def parse_size(text):
    """'64K' -> 65536; accepts K/M/G/T (binary) and a plain number."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise UserError("expected a size such as 64K or 256M, got '%s'" % text)
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(m.group(1)) * mult


def table(headers, rows, align=None, max_width=None):
    """Renders a plain-text table.  ALIGN is a string of 'l'/'r' per column
    (default: first column left, others right).  Cells longer than MAX_WIDTH
    (a per-column list, None = no limit) are shortened from the left with '…'."""
    ncol = len(headers)
    align = align or ("l" + "r" * (ncol - 1))
    cells = [[str(c) for c in headers]] + [[("-" if c is None else str(c)) for c in r] for r in rows]
    if max_width:
        for r in cells:
            for i, w in enumerate(max_width):
                if w and len(r[i]) > w:
                    r[i] = "…" + r[i][-(w - 1):]
    widths = [max(len(r[i]) for r in cells) for i in range(ncol)]
    out = []
    for k, r in enumerate(cells):
        parts = []
        for i, c in enumerate(r):
            parts.append(c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i]))
        out.append("  ".join(parts).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
