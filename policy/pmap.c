/*
 * policy/pmap.c: the prefetch map's parser and lookup (policy/pmap.h,
 * docs/HINTS.md).  One pass over the buffer, line by line; nothing is
 * allocated and nothing outside the buffer and the caller's arrays is
 * written.
 */
#include "policy/pmap.h"

#include <string.h>

/* ---- Lines and fields -------------------------------------------------- */

typedef struct {
  char *p, *end; /* the rest of the input */
  unsigned long line;
} cursor_t;

/* Takes the next line (without its '\n') into [*s, *e); returns 0 at the end of the input, -1 when the line has no '\n'. */
static int next_line(cursor_t *c, char **s, char **e) {
  if (c->p >= c->end) return 0;
  char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
  c->line++;
  *s = c->p;
  if (!nl) {
    *e = c->end;
    c->p = c->end;
    return -1;
  }
  *e = nl;
  c->p = nl + 1;
  return 1;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* Skips blanks at *s. */
static void skip_blanks(char **s, char *e) {
  while (*s < e && is_blank(**s)) (*s)++;
}

/*
 * Reads a decimal number of at most INT64_MAX at *s, followed by a blank or
 * the end of the line; advances *s past it.  Returns 0, or MMHINT_PMAP_E_NUMBER.
 */
static mmhint_pmap_status_t number(char **s, char *e, uint64_t *out) {
  char *p = *s;
  uint64_t v = 0;
  if (p >= e || *p < '0' || *p > '9') return MMHINT_PMAP_E_NUMBER;
  for (; p < e && *p >= '0' && *p <= '9'; p++) {
    uint64_t d = (uint64_t)(*p - '0');
    if (v > ((uint64_t)INT64_MAX - d) / 10) return MMHINT_PMAP_E_NUMBER;
    v = v * 10 + d;
  }
  if (p < e && !is_blank(*p)) return MMHINT_PMAP_E_NUMBER;
  *s = p;
  *out = v;
  return MMHINT_PMAP_OK;
}

/* True when [s, e) is `word` followed by a blank or the end of the line; advances *s past it. */
static int keyword(char **s, char *e, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(e - *s) < n || memcmp(*s, word, n) != 0) return 0;
  if (*s + n < e && !is_blank((*s)[n])) return 0;
  *s += n;
  return 1;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/*
 * Decodes the path [s, e) in place (%XX escapes) and NUL-terminates it
 * (over the line's '\n', or at e when that is the buffer's end: the caller
 * only gets here for a line that had its '\n').  Returns 0 or E_SYNTAX.
 */
static mmhint_pmap_status_t decode_path(char *s, char *e) {
  /* Trailing blanks are not part of a path (advise escapes a real one). */
  while (e > s && is_blank(e[-1])) e--;
  if (s >= e || *s != '/') return MMHINT_PMAP_E_SYNTAX;
  char *w = s;
  for (char *r = s; r < e; r++) {
    unsigned char ch = (unsigned char)*r;
    if (ch == '%') {
      if (e - r < 3) return MMHINT_PMAP_E_SYNTAX;
      int hi = hexval(r[1]), lo = hexval(r[2]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return MMHINT_PMAP_E_SYNTAX; /* %00 cannot be in a path */
      *w++ = (char)(hi << 4 | lo);
      r += 2;
    } else if (ch < 0x20 || ch == 0x7f) {
      return MMHINT_PMAP_E_SYNTAX;
    } else {
      *w++ = (char)ch;
    }
  }
  *w = '\0';
  return MMHINT_PMAP_OK;
}

/* ---- The parser -------------------------------------------------------- */

const char *mmhint_pmap_strerror(mmhint_pmap_status_t s) {
  switch (s) {
  case MMHINT_PMAP_OK: return "no error";
  case MMHINT_PMAP_E_HEADER: return "not a prefetch map (the first line is not 'mmhint-pmap 1')";
  case MMHINT_PMAP_E_VERSION: return "a prefetch map of another version (this library reads 'mmhint-pmap 1')";
  case MMHINT_PMAP_E_TRUNCATED: return "truncated (no 'end' line)";
  case MMHINT_PMAP_E_SYNTAX: return "malformed line";
  case MMHINT_PMAP_E_NUMBER: return "bad number (decimal digits, at most 2^63-1)";
  case MMHINT_PMAP_E_RANGE: return "bad granule or range (outside the file, not aligned, or out of order)";
  case MMHINT_PMAP_E_SPACE: return "too many entries or ranges";
  }
  return "unknown error";
}

mmhint_pmap_status_t mmhint_pmap_parse(mmhint_pmap_t *m, char *buf, size_t len, unsigned long *line) {
  cursor_t c = {buf, buf + len, 0};
  char *s, *e;
  mmhint_pmap_status_t st = MMHINT_PMAP_OK;
  int have;
  m->nentries = m->npaths = m->nranges = 0;
  mmhint_pmap_entry_t *cur = NULL; /* the entry ranges go to */
  int want_path = 0;               /* the current entry has no path yet */
  uint64_t prev_off = 0;

  /* The version line. */
  have = next_line(&c, &s, &e);
  if (have == 0) {
    st = MMHINT_PMAP_E_TRUNCATED;
    goto out;
  }
  if (!keyword(&s, e, "mmhint-pmap")) {
    /* A prefix of the version line is a truncated map, not a foreign file. */
    size_t n = (size_t)(e - s);
    st = have < 0 && n < 11 && memcmp(s, "mmhint-pmap", n) == 0 ? MMHINT_PMAP_E_TRUNCATED : MMHINT_PMAP_E_HEADER;
    goto out;
  }
  {
    uint64_t v;
    skip_blanks(&s, e);
    if (s == e) {
      st = have < 0 ? MMHINT_PMAP_E_TRUNCATED : MMHINT_PMAP_E_HEADER;
      goto out;
    }
    if (number(&s, e, &v) != MMHINT_PMAP_OK) {
      st = MMHINT_PMAP_E_HEADER;
      goto out;
    }
    skip_blanks(&s, e);
    if (s != e) {
      st = MMHINT_PMAP_E_HEADER;
      goto out;
    }
    if (have < 0) { /* the version number may be cut short: "mmhint-pmap 1" of "... 12" */
      st = MMHINT_PMAP_E_TRUNCATED;
      goto out;
    }
    if (v != MMHINT_PMAP_VERSION) {
      st = MMHINT_PMAP_E_VERSION;
      goto out;
    }
  }

  for (;;) {
    have = next_line(&c, &s, &e);
    if (have == 0) {
      st = MMHINT_PMAP_E_TRUNCATED;
      goto out;
    }
    char *start = s;
    skip_blanks(&s, e);
    if (s == e || *s == '#') {
      if (have < 0) {
        st = MMHINT_PMAP_E_TRUNCATED;
        goto out;
      }
      continue;
    }
    if (keyword(&s, e, "end")) {
      skip_blanks(&s, e);
      if (s != e) {
        st = MMHINT_PMAP_E_SYNTAX;
        goto out;
      }
      if (want_path) {
        st = MMHINT_PMAP_E_SYNTAX;
        goto out;
      }
      break;
    }
    /* Every other line must be whole: one cut short may have lost digits. */
    if (have < 0) {
      st = MMHINT_PMAP_E_TRUNCATED;
      goto out;
    }
    if (keyword(&s, e, "file")) {
      uint64_t size, granule;
      if (want_path) {
        st = MMHINT_PMAP_E_SYNTAX; /* the entry before has no path */
        goto out;
      }
      skip_blanks(&s, e);
      if ((st = number(&s, e, &size)) != MMHINT_PMAP_OK) goto out;
      skip_blanks(&s, e);
      if ((st = number(&s, e, &granule)) != MMHINT_PMAP_OK) goto out;
      skip_blanks(&s, e);
      if (s != e) {
        st = MMHINT_PMAP_E_SYNTAX;
        goto out;
      }
      if (granule < MMHINT_PMAP_GRANULE_MIN || granule > MMHINT_PMAP_GRANULE_MAX || (granule & (granule - 1))) {
        st = MMHINT_PMAP_E_RANGE;
        goto out;
      }
      if (m->nentries >= m->entries_cap) {
        st = MMHINT_PMAP_E_SPACE;
        goto out;
      }
      cur = &m->entries[m->nentries++];
      cur->size = size;
      cur->granule = granule;
      cur->first = m->nranges;
      cur->nranges = 0;
      cur->bytes = 0;
      want_path = 1;
      prev_off = 0;
      continue;
    }
    if (keyword(&s, e, "path")) {
      if (!cur || (!want_path && cur->nranges)) {
        st = MMHINT_PMAP_E_SYNTAX; /* paths come right after their file line */
        goto out;
      }
      skip_blanks(&s, e);
      if ((st = decode_path(s, e)) != MMHINT_PMAP_OK) goto out;
      if (m->npaths >= m->paths_cap) {
        st = MMHINT_PMAP_E_SPACE;
        goto out;
      }
      m->paths[m->npaths].path = s;
      m->paths[m->npaths].entry = m->nentries - 1;
      m->npaths++;
      want_path = 0;
      continue;
    }
    if (*s >= '0' && *s <= '9') {
      uint64_t off, rlen;
      if (!cur || want_path) {
        st = MMHINT_PMAP_E_SYNTAX;
        goto out;
      }
      if ((st = number(&s, e, &off)) != MMHINT_PMAP_OK) goto out;
      skip_blanks(&s, e);
      if ((st = number(&s, e, &rlen)) != MMHINT_PMAP_OK) goto out;
      skip_blanks(&s, e);
      if (s != e) {
        st = MMHINT_PMAP_E_SYNTAX;
        goto out;
      }
      /* Both are at most INT64_MAX, so their sum cannot wrap. */
      if (rlen == 0 || off + rlen > cur->size || (off & (cur->granule - 1)) ||
          ((rlen & (cur->granule - 1)) && off + rlen != cur->size) || (cur->nranges && off < prev_off)) {
        st = MMHINT_PMAP_E_RANGE;
        goto out;
      }
      if (m->nranges >= m->ranges_cap) {
        st = MMHINT_PMAP_E_SPACE;
        goto out;
      }
      m->ranges[m->nranges].off = off;
      m->ranges[m->nranges].len = rlen;
      m->nranges++;
      cur->nranges++;
      cur->bytes += rlen;
      prev_off = off;
      continue;
    }
    (void)start;
    st = MMHINT_PMAP_E_SYNTAX;
    goto out;
  }
  /* After "end": only blank lines and comments. */
  while ((have = next_line(&c, &s, &e)) != 0) {
    skip_blanks(&s, e);
    if (s != e && *s != '#') {
      st = MMHINT_PMAP_E_SYNTAX;
      goto out;
    }
  }
out:
  if (line) *line = c.line ? c.line : 1;
  return st;
}

/* ---- Lookup ------------------------------------------------------------ */

const mmhint_pmap_entry_t *mmhint_pmap_find(const mmhint_pmap_t *m, const char *path) {
  if (!path) return NULL;
  for (uint32_t i = 0; i < m->npaths; i++)
    if (strcmp(m->paths[i].path, path) == 0) return &m->entries[m->paths[i].entry];
  return NULL;
}

/*
 * The bytes of the gaps below `t` between the entry's runs (overlapping and
 * touching ranges joined first).
 */
static uint64_t fill_below(const mmhint_pmap_t *m, const mmhint_pmap_entry_t *en, uint64_t t) {
  uint64_t sum = 0, end = 0;
  for (uint32_t i = 0; i < en->nranges; i++) {
    const mmhint_pmap_range_t *r = &m->ranges[en->first + i];
    if (i && r->off > end && r->off - end < t) sum += r->off - end;
    if (!i || r->off + r->len > end) end = r->off + r->len;
  }
  return sum;
}

/* Writes the entry's runs, gaps below `t` filled, at most `cap` of them (the last widened); returns their count. */
static size_t merged(const mmhint_pmap_t *m, const mmhint_pmap_entry_t *en, uint64_t t, mmhint_pmap_range_t *out,
                     size_t cap) {
  size_t n = 0;
  for (uint32_t i = 0; i < en->nranges; i++) {
    const mmhint_pmap_range_t *r = &m->ranges[en->first + i];
    const uint64_t end = r->off + r->len;
    /* Ranges are sorted by offset: each either joins the last output range or starts a new one. */
    if (n) {
      const uint64_t last_end = out[n - 1].off + out[n - 1].len;
      if (r->off <= last_end || r->off - last_end < t || n == cap) {
        if (end > last_end) out[n - 1].len = end - out[n - 1].off;
        continue;
      }
    }
    out[n].off = r->off;
    out[n].len = r->len;
    n++;
  }
  return n;
}

static mmhint_pmap_lookup_t answer(const mmhint_pmap_t *m, const mmhint_pmap_entry_t *en, uint64_t t,
                                   mmhint_pmap_range_t *out, size_t cap, size_t *nout, uint64_t *bytes) {
  size_t n = merged(m, en, t, out, cap);
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += out[i].len;
  *nout = n;
  if (bytes) *bytes = total;
  return MMHINT_PMAP_FOUND;
}

mmhint_pmap_lookup_t mmhint_pmap_lookup(const mmhint_pmap_t *m, const char *path, uint64_t size, uint64_t merge_gap,
                                        mmhint_pmap_range_t *out, size_t cap, size_t *nout, uint64_t *bytes) {
  *nout = 0;
  if (bytes) *bytes = 0;
  const mmhint_pmap_entry_t *en = mmhint_pmap_find(m, path);
  if (!en) return MMHINT_PMAP_MISSING;
  if (en->size != size) return MMHINT_PMAP_STALE;
  if (cap == 0) return MMHINT_PMAP_FOUND;
  return answer(m, en, merge_gap, out, cap, nout, bytes);
}

mmhint_pmap_lookup_t mmhint_pmap_lookup_bounded(const mmhint_pmap_t *m, const char *path, uint64_t size,
                                                uint64_t merge_gap, uint64_t max_fill, mmhint_pmap_range_t *out,
                                                size_t cap, size_t *nout, uint64_t *bytes, uint64_t *filled) {
  *nout = 0;
  if (bytes) *bytes = 0;
  if (filled) *filled = 0;
  const mmhint_pmap_entry_t *en = mmhint_pmap_find(m, path);
  if (!en) return MMHINT_PMAP_MISSING;
  if (en->size != size) return MMHINT_PMAP_STALE;
  if (cap == 0) return MMHINT_PMAP_FOUND;
  /* The largest threshold whose fill fits: fill_below grows with t, so a
   * binary search over [0, merge_gap] (64 passes at most, each over the
   * entry's ranges: no allocation, no sort). */
  uint64_t lo = 0, hi = merge_gap; /* fill_below(lo) <= max_fill always (0 fills nothing) */
  if (fill_below(m, en, hi) <= max_fill) {
    lo = hi;
  } else {
    while (hi - lo > 1) {
      const uint64_t mid = lo + (hi - lo) / 2;
      if (fill_below(m, en, mid) <= max_fill) lo = mid;
      else hi = mid;
    }
  }
  if (filled) *filled = fill_below(m, en, lo);
  return answer(m, en, lo, out, cap, nout, bytes);
}
