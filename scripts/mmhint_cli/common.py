"""Shared helpers of the mmhint command: errors, locating the build, the
option table parsed from include/mmhint_options.def, the counter table parsed
from include/mmhint_counters.def, number formatting and plain-text tables.

Python 3 standard library only."""

import difflib
import os
import re
import sys

from . import deftable

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
#
# Two layouts.  In a checkout this package is <repo>/scripts/mmhint_cli and
# the build is <repo>/build.  In an install (cmake --install, the Debian
# package) the install wrote installed.py beside this file: the version and
# where the library, the helper and the tables are, relative to the directory
# holding this package, so that a prefix moved as a whole still works and no
# environment variable is needed.

try:
    from . import installed as _installed
except ImportError:
    _installed = None

INSTALLED = _installed is not None

# The directory that holds this package (realpath: the command may be reached
# through a symlink).
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def install_path(rel):
    """The absolute path of REL (a path of installed.py, relative to the
    directory holding this package)."""
    return os.path.normpath(os.path.join(PACKAGE_PARENT, rel))


# The mmhint command itself (demo runs it for each step).
COMMAND = install_path(_installed.COMMAND) if INSTALLED else os.path.join(REPO, "scripts", "mmhint")


def command_version():
    """The version of this command: installed.py's, else the project version
    in the checkout's CMakeLists.txt, else "unknown"."""
    if INSTALLED:
        return _installed.VERSION
    try:
        with open(os.path.join(REPO, "CMakeLists.txt"), encoding="utf-8") as f:
            m = re.search(r"project\(\s*mmhint\s+VERSION\s+([0-9.]+)", f.read())
        return m.group(1) if m else "unknown"
    except OSError:
        return "unknown"


def installed_library_problem(path):
    """One line for an install whose library PATH is missing: what is in its
    directory instead (another version, or nothing) and how to fix it."""
    d = os.path.dirname(path)
    try:
        names = [os.path.join(d, n) for n in os.listdir(d) if n.startswith("libmmhint.so")]
        others = sorted({os.path.basename(os.path.realpath(n)) for n in names if os.path.exists(n)})
    except OSError:
        others = []
    found = ("; %s holds %s instead" % (d, ", ".join(others))) if others else ""
    return ("cannot find libmmhint.so %s of this mmhint (looked at %s%s); reinstall a matching library "
            "(apt-get install --reinstall mmhint, or cmake --install from the same source) or pass --lib PATH"
            % (_installed.VERSION, path, found))


def find_library(explicit=None):
    """Returns the path of libmmhint.so: EXPLICIT, else $MMHINT_LIB, else in
    an install the installed library of the same version
    (<libdir>/libmmhint.so.VERSION), else <repo>/build/libmmhint.so, else
    /usr/local/lib/libmmhint.so.  Raises UserError naming every place it
    looked at and the fix when none exists."""
    tried = []
    candidates = []
    if explicit:
        candidates.append(("--lib", explicit))
    elif os.environ.get("MMHINT_LIB"):
        candidates.append(("$MMHINT_LIB", os.environ["MMHINT_LIB"]))
    elif INSTALLED:
        path = install_path(_installed.LIBRARY)
        if os.path.isfile(path):
            return path
        raise UserError(installed_library_problem(path))
    else:
        candidates.append(("build", os.path.join(REPO, "build", "libmmhint.so")))
        candidates.append(("installed", "/usr/local/lib/libmmhint.so"))
    for _, path in candidates:
        if os.path.isfile(path):
            check_shared_library(path)
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
    Order: EXPLICIT, $MMHINT_EXPLAIN, next to $MMHINT_LIB, the installed
    helper (in an install), else <repo>/build, /usr/local/bin."""
    candidates = []
    if explicit:
        candidates.append(explicit)
    elif os.environ.get("MMHINT_EXPLAIN"):
        candidates.append(os.environ["MMHINT_EXPLAIN"])
    else:
        if os.environ.get("MMHINT_LIB"):
            candidates.append(os.path.join(os.path.dirname(os.environ["MMHINT_LIB"]), "mmhint-explain"))
        if INSTALLED:
            candidates.append(install_path(_installed.EXPLAIN))
        else:
            candidates.append(os.path.join(REPO, "build", "mmhint-explain"))
            candidates.append("/usr/local/bin/mmhint-explain")
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    fix = "reinstall mmhint" if INSTALLED else "build the project"
    raise UserError("cannot find the mmhint-explain helper (looked at %s); %s "
                    "or pass --explain-bin PATH" % (", ".join(candidates), fix))


def def_dirs():
    """The directories searched for the declared-once tables, in order:
    $MMHINT_INCLUDE_DIR, then in an install the installed tables, else the
    include/ directory of the checkout this package belongs to and
    /usr/local/share/mmhint."""
    env = os.environ.get("MMHINT_INCLUDE_DIR")
    if INSTALLED:
        return ([env] if env else []) + [install_path(_installed.TABLES)]
    return ([env] if env else []) + [os.path.join(REPO, "include"), "/usr/local/share/mmhint"]


def find_def_file(name):
    """Returns the path of the table NAME (e.g. mmhint_counters.def), the
    first of def_dirs() that holds it.  Raises UserError naming every place
    looked at and the fix when none does: the tables ship with the source
    and with an install, so a copy of the command outside both needs
    $MMHINT_INCLUDE_DIR."""
    tried = []
    for d in def_dirs():
        path = os.path.join(d, name)
        if os.path.isfile(path):
            return path
        tried.append(path)
    raise UserError("cannot find %s (looked at %s); set MMHINT_INCLUDE_DIR to the include/ directory "
                    "of an mmhint checkout" % (name, ", ".join(tried)))


def read_def_table(name, macro, fields):
    """The entries of the X-macro list MACRO in the table file NAME (see
    deftable.parse_table).  Raises UserError when the file is missing,
    unreadable or not a table of that shape."""
    path = find_def_file(name)
    try:
        return deftable.read_table(path, macro, fields)
    except OSError as e:
        raise UserError("cannot read %s: %s" % (path, e.strerror or e))
    except (deftable.DefError, UnicodeDecodeError) as e:
        raise UserError(str(e))


# ---- The option table ------------------------------------------------------

OPTION_FIELDS = ("name", "type", "scope", "default", "min", "max", "choices", "doc")

_options_cache = None


def load_options():
    """Parses include/mmhint_options.def.  Returns an ordered dict name ->
    {"type", "scope", "default", "choices", "doc"}; raises UserError when the
    table cannot be found or read."""
    global _options_cache
    if _options_cache is not None:
        return _options_cache
    table = {}
    for o in read_def_table("mmhint_options.def", "MMHINT_OPTIONS", OPTION_FIELDS):
        table[o["name"]] = {"type": o["type"], "scope": o["scope"], "default": o["default"],
                            "min": _bound(o["min"]), "max": _bound(o["max"]),
                            "choices": o["choices"].split("|") if o["choices"] else [], "doc": o["doc"]}
    _options_cache = table
    return table


_BOUND_UNITS = {"MMHINT_KIB": 1 << 10, "MMHINT_MIB": 1 << 20, "MMHINT_GIB": 1 << 30, "MMHINT_TIB": 1 << 40}


def _bound(text):
    """The value of a min/max field of the option table: a number, a unit
    macro (MMHINT_GIB) or a product of them ('MMHINT_TIB * 64'); None when
    it is something else."""
    v = 1
    for part in str(text).split("*"):
        part = part.strip()
        if re.fullmatch(r"-?\d+", part):
            v *= int(part)
        elif part in _BOUND_UNITS:
            v *= _BOUND_UNITS[part]
        else:
            return None
    return v


# The library's limit on a string option's length (MMHINT_STRING_MAX - 1, policy/options.h).
STRING_MAX = 4095
_SIZE_MULT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
LLONG_MAX = (1 << 63) - 1


def _lib_parse_size(s):
    """mmhint_parse_size of policy/options.c: digits, blanks, an optional
    K/M/G/T, then 'iB' after a unit or a bare 'B', blanks.  None when it
    does not parse."""
    m = re.fullmatch(r"[ \t]*([0-9]+)[ \t]*([kKmMgGtT]?)((?<=[kKmMgGtT])[iI][bB]|[bB])?[ \t]*", s)
    if not m:
        return None
    v, mult = int(m.group(1)), _SIZE_MULT[m.group(2).lower()]
    if v > LLONG_MAX or v > LLONG_MAX // mult:
        return None
    return v * mult


_DURATION_MS = {"ms": 1, "s": 1000, "": 1000, "m": 60000, "h": 3600000}


def _lib_parse_duration(s):
    """parse_duration of policy/options.c: digits, blanks, an optional ms, s,
    m or h (a bare number is seconds), blanks.  Milliseconds, or None."""
    m = re.fullmatch(r"[ \t]*([0-9]+)[ \t]*(ms|MS|mS|Ms|[sSmMhH]?)[ \t]*", s)
    if not m:
        return None
    v, mult = int(m.group(1)), _DURATION_MS[m.group(2).lower()]
    if v > LLONG_MAX // mult:
        return None
    return v * mult


def check_value(option, text):
    """Checks TEXT as a value of OPTION the way the library's parser does
    (mmhint__value_parse in policy/options.c; tests/cli/test_units.py checks
    that both agree).  Returns None when it is valid, else the reason, in
    the library's words."""
    o = load_options()[option]
    t = o["type"]
    if t == "STRING":
        return None if len(text.encode()) <= STRING_MAX else "value is %d bytes long; the limit is %d" % (
            len(text.encode()), STRING_MAX)
    s = text.strip(" \t")
    if t == "BOOL":
        if s.lower() in ("1", "on", "yes", "true", "0", "off", "no", "false"):
            return None
        return "expected on or off (or 1/0, yes/no, true/false), got '%s'" % text
    if t == "ENUM":
        if s.lower() in [c.lower() for c in o["choices"]]:
            return None
        return "expected one of %s, got '%s'" % ("|".join(o["choices"]), text)
    if t == "INT":
        if not re.fullmatch(r"[-+]?[0-9]+", s) or int(s.lstrip("+-")) > LLONG_MAX:
            return "expected a whole number, got '%s'" % text
        v = int(s)
    elif t == "SIZE":
        v = _lib_parse_size(s)
        if v is None:
            return "expected a size such as 64K or 2M, got '%s'" % text
    elif t == "DURATION":
        v = _lib_parse_duration(s)
        if v is None:
            return ("expected a duration such as 10s, 5m or 1h (a bare number is seconds; 0 is off), got '%s'"
                    % text)
    else:
        return None
    lo, hi = o.get("min"), o.get("max")
    if lo is not None and hi is not None and not lo <= v <= hi:
        return "%d is out of range; use %d to %d" % (v, lo, hi)
    return None


def check_assignment(key, value):
    """Returns (canonical option, VALUE) or raises UserError naming the
    option and what is wrong with the value."""
    name = check_option(key)
    why = check_value(name, value)
    if why:
        raise UserError("option %s: %s" % (name, why))
    return name, value


def check_shared_library(path):
    """Raises UserError unless PATH is an ELF shared object (ET_DYN): the
    dynamic loader only warns about a preloaded file it cannot load and
    runs the program without it, which would measure nothing."""
    try:
        with open(path, "rb") as f:
            head = f.read(18)
    except OSError as e:
        raise UserError("cannot read the library %s: %s" % (path, e.strerror or e))
    if len(head) < 18 or head[:4] != b"\x7fELF":
        raise UserError("%s is not a shared library (no ELF header); pass the path of libmmhint.so" % path)
    e_type = int.from_bytes(head[16:18], "little" if head[5] == 1 else "big")
    if e_type != 3:
        raise UserError("%s is an ELF file but not a shared library (e_type %d, not ET_DYN); pass the path of "
                        "libmmhint.so" % (path, e_type))
    if _elf_is_pie(path):
        raise UserError("%s is a program (a position-independent executable), not a shared library; pass the "
                        "path of libmmhint.so" % path)


DF_1_PIE = 0x08000000  # elf.h: the object is a position-independent executable
DT_FLAGS_1 = 0x6ffffffb
PT_DYNAMIC = 2


def _elf_is_pie(path):
    """True when the ELF file PATH carries DF_1_PIE in DT_FLAGS_1, which is
    how ld.so tells a PIE program (which it refuses to preload) from a
    shared library; False when it does not or cannot be read."""
    import struct
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            cls64, order = ident[4] == 2, "<" if ident[5] == 1 else ">"
            if cls64:
                phoff, = struct.unpack_from(order + "Q", ident, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
            else:
                phoff, = struct.unpack_from(order + "I", ident, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
            for i in range(min(phnum, 256)):
                f.seek(phoff + i * phentsize)
                ph = f.read(phentsize)
                if struct.unpack_from(order + "I", ph, 0)[0] != PT_DYNAMIC:
                    continue
                off, size = (struct.unpack_from(order + "QQ", ph, 8)[0], struct.unpack_from(order + "Q", ph, 32)[0]) \
                    if cls64 else (struct.unpack_from(order + "I", ph, 4)[0], struct.unpack_from(order + "I", ph, 16)[0])
                f.seek(off)
                dyn = f.read(min(size, 1 << 16))
                fmt, step = (order + "qQ", 16) if cls64 else (order + "iI", 8)
                for j in range(0, len(dyn) - step + 1, step):
                    tag, val = struct.unpack_from(fmt, dyn, j)
                    if tag == 0:
                        break
                    if tag == DT_FLAGS_1:
                        return bool(val & DF_1_PIE)
    except (OSError, struct.error, IndexError):
        return False
    return False


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
            out.append(check_assignment(k, v.strip()))
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

COUNTER_FIELDS = ("name", "kind", "unit", "doc")
KINDS = ("SUM", "MAX", "MIN")

# The units of the counter table, and how each is shown (human()).
COUNT, BYTES, TICKS, UNIX_NS = "COUNT", "BYTES", "TICKS", "UNIX_NS"
UNITS = (COUNT, BYTES, TICKS, UNIX_NS)

_counters_cache = None


def load_counters():
    """Parses include/mmhint_counters.def into an ordered dict name ->
    {"kind": SUM|MAX|MIN, "unit": COUNT|BYTES|TICKS|UNIX_NS, "doc"}.  The
    values in a stats file are in these units, except that TICKS and UNIX_NS
    counters are written as nanoseconds.  Raises UserError when the table
    cannot be found or read or has an unknown kind or unit."""
    global _counters_cache
    if _counters_cache is not None:
        return _counters_cache
    table = {}
    for c in read_def_table("mmhint_counters.def", "MMHINT_FILE_COUNTERS", COUNTER_FIELDS):
        for field, known in (("kind", KINDS), ("unit", UNITS)):
            if c[field] not in known:
                raise UserError("%s line %d: counter %s has %s %s, not one of %s"
                                % (find_def_file("mmhint_counters.def"), c["line"], c["name"], field, c[field],
                                   "|".join(known)))
        table[c["name"]] = {"kind": c["kind"], "unit": c["unit"], "doc": c["doc"]}
    _counters_cache = table
    return table


def counter_unit(name):
    """The unit of the per-file counter NAME (KeyError for another name)."""
    return load_counters()[name]["unit"]


# ---- Formatting ------------------------------------------------------------

_SCALES = {BYTES: (1024, ("", "K", "M", "G", "T", "P")),  # binary: 1536 -> '1.5K'
           COUNT: (1000, ("", "k", "M", "G", "T"))}       # decimal: 1500 -> '1.5k'


def human(n, unit=COUNT):
    """N in UNIT as at most 4 significant characters: BYTES in binary
    multiples (1536 -> '1.5K'), COUNT in decimal ones (1500 -> '1.5k'),
    TICKS (nanoseconds of duration) as human_ns() does; None is '-'."""
    if unit == TICKS:
        return human_ns(n)
    if n is None:
        return "-"
    step, prefixes = _SCALES[unit]
    n = float(n)
    for prefix in prefixes:
        if abs(n) < step or prefix == prefixes[-1]:
            if prefix == "":
                return "%d" % n
            return ("%.1f%s" % (n, prefix)) if abs(n) < 10 else ("%.0f%s" % (n, prefix))
        n /= step


def human_ns(ns):
    """A duration of NS nanoseconds: '1.50s', '12.0ms', '3.1us', '870ns'."""
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
