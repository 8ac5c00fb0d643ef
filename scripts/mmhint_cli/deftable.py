"""Reads the declared-once tables of include/*.def: X-macro lists such as

    #define MMHINT_OPTIONS(X)                                  \\
      X(disable, BOOL, PROCESS, "0", 0, 1, "", "make ...")     \\
      ...

parse_table() finds the macro's body (the #define line and its continuation
lines), drops C comments and splits every LETTER(...) entry into its fields
at the commas that are outside string literals and parentheses.  A field of
one or more string literals ("a" "b") is their decoded concatenation; any
other field is its C text with whitespace collapsed (SUM, MMHINT_TIB * 64).

The module knows nothing of what the fields mean: the caller names them.
Python 3 standard library only; it is imported by scripts/gen-options-doc as
well as by the mmhint command."""

import re

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0"}

# A C string literal on one line, escapes (\" \\ \n) included.
_STRING = r'"(?:[^"\\\n]|\\.)*"'
_STRING_RE = re.compile(_STRING)
_LITERALS_ONLY = re.compile(r"\s*(?:%s\s*)+" % _STRING)


class DefError(ValueError):
    """A table file that does not have the expected shape; the message names
    the file's line."""


def _decode(literals):
    """The concatenated value of the C string literals in TEXT."""
    out = []
    for lit in _STRING_RE.findall(literals):
        out.append(re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), lit[1:-1]))
    return "".join(out)


def _blank_comments(text):
    """TEXT with every /* */ and // comment replaced by spaces (newlines kept,
    so that offsets still give the right line numbers); string literals are
    left alone."""
    def blank(m):
        s = m.group(0)
        return s if s.startswith('"') else re.sub(r"[^\n]", " ", s)
    return re.sub(r'%s|/\*.*?\*/|//[^\n]*' % _STRING, blank, text, flags=re.S)


def _macro_body(text, macro):
    """Returns (offset, body, letter) of '#define MACRO(letter)' in TEXT: the
    body runs to the first line that does not end with a backslash."""
    m = re.search(r"^[ \t]*#[ \t]*define[ \t]+%s[ \t]*\([ \t]*(\w+)[ \t]*\)" % re.escape(macro), text, re.M)
    if not m:
        return None
    end = m.end()
    while True:
        nl = text.find("\n", end)
        if nl < 0:
            end = len(text)
            break
        if text[:nl].rstrip(" \t\r").endswith("\\"):
            end = nl + 1
            continue
        end = nl
        break
    return m.end(), text[m.end():end], m.group(1)


def _split_fields(body, start):
    """Splits BODY[start:] (just after 'LETTER(') at top-level commas up to the
    closing parenthesis.  Returns (fields as raw text, offset after ')'), or
    (None, offset) when the parenthesis is not closed."""
    fields = []
    depth = 0
    i = field_start = start
    while i < len(body):
        c = body[i]
        if c == '"':
            m = _STRING_RE.match(body, i)
            if not m:
                return None, i
            i = m.end()
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                fields.append(body[field_start:i])
                return fields, i + 1
            depth -= 1
        elif c == "," and depth == 0:
            fields.append(body[field_start:i])
            field_start = i + 1
        i += 1
    return None, i


def _field_value(raw):
    raw = raw.replace("\\\n", " ")
    if _LITERALS_ONLY.fullmatch(raw):
        return _decode(raw)
    return " ".join(raw.split())


def parse_table(text, macro, fields, where="<table>"):
    """Returns the entries of the X-macro list MACRO in TEXT (the contents of
    a .def file) as a list of dicts, one per entry in table order, keyed by
    the names in FIELDS (a sequence, one name per macro argument) plus
    "line", the entry's line number in TEXT.  Raises DefError, naming WHERE
    and the line, when MACRO is not defined, an entry has another number of
    fields, a parenthesis or string is not closed, or the list is empty."""
    found = _macro_body(text, macro)
    if found is None:
        raise DefError("%s: no '#define %s(...)' table" % (where, macro))
    offset, body, letter = found
    body = _blank_comments(body)
    entries = []
    for m in re.finditer(r"(?<![\w.])%s\s*\(" % re.escape(letter), body):
        if entries and m.start() < entries[-1][1]:
            continue  # the letter inside an entry's own text
        line = text.count("\n", 0, offset + m.start()) + 1
        raw, end = _split_fields(body, m.end())
        if raw is None:
            raise DefError("%s line %d: %s( is not closed" % (where, line, letter))
        if len(raw) != len(fields):
            raise DefError("%s line %d: %s(...) has %d fields, expected %d (%s)"
                           % (where, line, letter, len(raw), len(fields), ", ".join(fields)))
        entry = dict(zip(fields, (_field_value(r) for r in raw)))
        entry["line"] = line
        entries.append((entry, end))
    if not entries:
        raise DefError("%s: the table %s has no entries" % (where, macro))
    return [e for e, _ in entries]


def read_table(path, macro, fields):
    """parse_table() of the file PATH.  Raises OSError when it cannot be
    read, DefError when it is not a table of that shape."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return parse_table(text, macro, fields, where=path)
