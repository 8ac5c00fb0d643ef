/*
 * policy/options.c: the option table expanded from include/mmhint_options.def,
 * option lookup with "did you mean" suggestions, and the one parser and
 * formatter for option values (booleans, integers, sizes, enums, strings).
 *
 * Nothing here allocates, calls stdio's FILE functions or reads errno-setting
 * library calls, because it runs inside the preload library during start-up.
 * Text is formatted with snprintf only, whose simple formats do not allocate.
 */
#include "policy/options.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* ---- Environment names, computed at compile time ----------------------- */

/*
 * The environment name of an option is "MMHINT_" followed by its name in
 * upper case.  The preprocessor cannot change case, so each character of the
 * name is upper-cased by a constant expression that the compiler folds into a
 * static initializer; no code runs and nothing is allocated at start-up.
 * MMHINT__ENV_MAX bounds the name length; the static assertion below says so
 * at compile time if a new option's name is too long.
 */
#define MMHINT__ENV_MAX 48
#define MMHINT__CH(s, i) ((s)[(i) < sizeof(s) ? (i) : 0])
#define MMHINT__UPC(s, i)                                                                                 \
  ((char)((i) < sizeof(s) ? (MMHINT__CH(s, i) >= 'a' && MMHINT__CH(s, i) <= 'z' ? MMHINT__CH(s, i) - 32 \
                                                                                  : MMHINT__CH(s, i))   \
                          : 0))
#define MMHINT__UP8(s, i)                                                                                  \
  MMHINT__UPC(s, (i) + 0), MMHINT__UPC(s, (i) + 1), MMHINT__UPC(s, (i) + 2), MMHINT__UPC(s, (i) + 3),     \
      MMHINT__UPC(s, (i) + 4), MMHINT__UPC(s, (i) + 5), MMHINT__UPC(s, (i) + 6), MMHINT__UPC(s, (i) + 7)
#define MMHINT__ENV_INIT(s) \
  { 'M', 'M', 'H', 'I', 'N', 'T', '_', MMHINT__UP8(s, 0), MMHINT__UP8(s, 8), MMHINT__UP8(s, 16), MMHINT__UP8(s, 24), MMHINT__UP8(s, 32) }

#define MMHINT_X_ENV(name, type, scope, def, min, max, choices, doc) MMHINT__ENV_INIT(#name),
static const char mmhint__env_names[MMHINT_OPT__COUNT][MMHINT__ENV_MAX] = {MMHINT_OPTIONS(MMHINT_X_ENV)};
#undef MMHINT_X_ENV

/* Every name must fit the 40 characters the initializer above copies. */
#define MMHINT_X_LEN(name, type, scope, def, min, max, choices, doc) \
  _Static_assert(sizeof(#name) <= 41, "option name " #name " is too long for its environment name");
MMHINT_OPTIONS(MMHINT_X_LEN)
#undef MMHINT_X_LEN

/* ---- The table ----------------------------------------------------------- */

const mmhint_option_desc_t mmhint_option_table[MMHINT_OPT__COUNT] = {
#define MMHINT_X_DESC(name, type, scope, def, min, max, choices, doc) \
  {#name, mmhint__env_names[MMHINT_OPT_##name], MMHINT_T_##type, MMHINT_S_##scope, def, min, max, choices, doc},
    MMHINT_OPTIONS(MMHINT_X_DESC)
#undef MMHINT_X_DESC
};

int mmhint_option_find(const char *name) {
  if (name == NULL) return -1;
  for (int i = 0; i < MMHINT_OPT__COUNT; i++)
    if (strcmp(mmhint_option_table[i].name, name) == 0) return i;
  return -1;
}

/* ---- Suggestions --------------------------------------------------------- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Longest input worth comparing; option names are far shorter. */
#define MMHINT__SUGGEST_MAX 64

/*
 * Returns the Levenshtein distance between `a` (length la) and `b`, ignoring
 * case, so that "Read_Mmap" suggests "read_mmap".  Both must be at most
 * MMHINT__SUGGEST_MAX long.  Two rows on the stack: no allocation.
 */
static int edit_distance(const char *a, size_t la, const char *b) {
  size_t lb = strlen(b);
  int prev[MMHINT__SUGGEST_MAX + 1], cur[MMHINT__SUGGEST_MAX + 1];
  for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cost = lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 1]) ? 0 : 1;
      int best = prev[j - 1] + cost;
      if (prev[j] + 1 < best) best = prev[j] + 1;
      if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
      cur[j] = best;
    }
    memcpy(prev, cur, sizeof(int) * (lb + 1));
  }
  return prev[lb];
}

const char *mmhint_option_suggest(const char *name) {
  if (name == NULL) return NULL;
  size_t len = strlen(name);
  if (len == 0 || len > MMHINT__SUGGEST_MAX) return NULL;
  const char *best = NULL;
  int best_d = 4;
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    const char *cand = mmhint_option_table[i].name;
    if (strlen(cand) > MMHINT__SUGGEST_MAX) continue;
    int d = edit_distance(name, len, cand);
    /* A distance as large as the input itself would rewrite all of it: that is
     * a different word, not a typo, so it is not suggested. */
    if (d < best_d && (size_t)d < len) {
      best_d = d;
      best = cand;
    }
  }
  return best;
}

/* ---- Parsing values ------------------------------------------------------ */

static const char *skip_space(const char *s) {
  while (*s == ' ' || *s == '\t') s++;
  return s;
}

/*
 * Copies `text` into `out` (size `len`) for quoting in a message, cut to 40
 * characters with "..." so that the reason stays one short line.
 */
static const char *quote_excerpt(const char *text, char *out, size_t len) {
  size_t n = strlen(text);
  if (n > 40)
    snprintf(out, len, "%.40s...", text);
  else
    snprintf(out, len, "%s", text);
  return out;
}

/* Compares `a` (length n) with NUL-terminated `b`, ignoring ASCII case. */
static int equal_nocase(const char *a, size_t n, const char *b) {
  for (size_t i = 0; i < n; i++)
    if (b[i] == '\0' || lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return b[n] == '\0';
}

/*
 * Parses an unsigned decimal number at the start of `s` into *out, advancing
 * *end past it.  Returns 0, -1 when there is no digit, -2 on overflow.
 */
static int parse_digits(const char *s, const char **end, long long *out) {
  long long v = 0;
  const char *p = s;
  if (*p < '0' || *p > '9') return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    int d = *p - '0';
    if (v > (LLONG_MAX - d) / 10) return -2;
    v = v * 10 + d;
  }
  *end = p;
  *out = v;
  return 0;
}

int mmhint_parse_size(const char *text, long long *out) {
  if (text == NULL) return -1;
  const char *p = skip_space(text);
  long long v;
  if (parse_digits(p, &p, &v) != 0) return -1;
  p = skip_space(p);
  long long mult = 1;
  switch (lower((unsigned char)*p)) {
  case 'k': mult = MMHINT_KIB; p++; break;
  case 'm': mult = MMHINT_MIB; p++; break;
  case 'g': mult = MMHINT_GIB; p++; break;
  case 't': mult = MMHINT_TIB; p++; break;
  default: break;
  }
  /* Accept the unit spelled out: "64KB", "64KiB", and a bare "4096B". */
  if (mult != 1 && lower((unsigned char)*p) == 'i' && lower((unsigned char)p[1]) == 'b')
    p += 2;
  else if (lower((unsigned char)*p) == 'b')
    p++;
  p = skip_space(p);
  if (*p != '\0') return -1;
  if (v > LLONG_MAX / mult) return -1;
  *out = v * mult;
  return 0;
}

/*
 * Parses a duration: digits and an optional unit, ms, s, m or h (a bare
 * number is seconds), blanks around it allowed.  *out gets milliseconds.
 * Returns 0, or -1 (not a duration, or too large).
 */
static int parse_duration(const char *s, size_t n, long long *out) {
  char tmp[32];
  if (n == 0 || n >= sizeof tmp) return -1;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  const char *p = tmp;
  long long v;
  if (parse_digits(p, &p, &v) != 0) return -1;
  p = skip_space(p);
  long long mult = 1000;
  if (lower((unsigned char)p[0]) == 'm' && lower((unsigned char)p[1]) == 's') mult = 1, p += 2;
  else if (lower((unsigned char)*p) == 's') mult = 1000, p++;
  else if (lower((unsigned char)*p) == 'm') mult = 60000, p++;
  else if (lower((unsigned char)*p) == 'h') mult = 3600000, p++;
  if (*skip_space(p) != '\0' || v > LLONG_MAX / mult) return -1;
  *out = v * mult;
  return 0;
}

/* Formats a duration in milliseconds with the largest unit that represents it exactly ("0", "10s", "5m", "1h"). */
static void format_duration(long long ms, char *buf, size_t len) {
  if (ms == 0) snprintf(buf, len, "0");
  else if (ms % 3600000 == 0) snprintf(buf, len, "%lldh", ms / 3600000);
  else if (ms % 60000 == 0) snprintf(buf, len, "%lldm", ms / 60000);
  else if (ms % 1000 == 0) snprintf(buf, len, "%llds", ms / 1000);
  else snprintf(buf, len, "%lldms", ms);
}

/* Formats a size with the largest suffix that represents it exactly. */
static void format_size(long long v, char *buf, size_t len) {
  static const char suffix[] = "KMGT";
  int unit = -1;
  while (v != 0 && unit < 3 && v % 1024 == 0) {
    v /= 1024;
    unit++;
  }
  if (unit < 0)
    snprintf(buf, len, "%lld", v);
  else
    snprintf(buf, len, "%lld%c", v, suffix[unit]);
}

/* Nonzero (and err says what to use, in the option's own units) when v is outside d's bounds. */
static int out_of_range(const mmhint_option_desc_t *d, long long v, void (*format)(long long, char *, size_t), char *err,
                        size_t errlen) {
  if (v >= d->min && v <= d->max) return 0;
  char lo[32], hi[32], got[32];
  format(d->min, lo, sizeof lo);
  format(d->max, hi, sizeof hi);
  format(v, got, sizeof got);
  snprintf(err, errlen, "%s is out of range; use %s to %s", got, lo, hi);
  return 1;
}

/*
 * Finds `word` (length n, case-insensitive) in the '|'-separated `choices`.
 * Returns its index, or -1.
 */
static int choice_index(const char *choices, const char *word, size_t n) {
  int idx = 0;
  const char *p = choices;
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t clen = bar ? (size_t)(bar - p) : strlen(p);
    if (clen == n) {
      size_t i = 0;
      while (i < n && lower((unsigned char)word[i]) == lower((unsigned char)p[i])) i++;
      if (i == n) return idx;
    }
    idx++;
    if (!bar) break;
    p = bar + 1;
  }
  return -1;
}

int mmhint_option_choice_name(int id, long long idx, char *buf, size_t len) {
  if (len == 0) return -1;
  buf[0] = '\0';
  if (id < 0 || id >= MMHINT_OPT__COUNT || mmhint_option_table[id].type != MMHINT_T_ENUM || idx < 0) return -1;
  const char *p = mmhint_option_table[id].choices;
  for (long long i = 0; i < idx && p; i++) {
    p = strchr(p, '|');
    if (p) p++;
  }
  if (!p) return -1;
  size_t n = 0;
  while (p[n] && p[n] != '|') n++;
  if (n >= len) n = len - 1; /* cut to fit, as the callers' buffers are sized for any choice */
  memcpy(buf, p, n);
  buf[n] = '\0';
  return 0;
}

int mmhint__value_parse(int id, const char *text, long long *num, char *err, size_t errlen) {
  char q[48];
  if (id < 0 || id >= MMHINT_OPT__COUNT || text == NULL) {
    snprintf(err, errlen, "no such option");
    return -1;
  }
  const mmhint_option_desc_t *d = &mmhint_option_table[id];
  if (d->type == MMHINT_T_STRING) {
    size_t n = strlen(text);
    if (n >= MMHINT_STRING_MAX) {
      snprintf(err, errlen, "value is %zu bytes long; the limit is %d", n, MMHINT_STRING_MAX - 1);
      return -1;
    }
    *num = 0;
    return 0;
  }
  /* Surrounding blanks never matter for a number or a word. */
  const char *s = skip_space(text);
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;

  switch (d->type) {
  case MMHINT_T_BOOL: {
    static const char *const yes[] = {"1", "on", "yes", "true"};
    static const char *const no[] = {"0", "off", "no", "false"};
    for (int i = 0; i < 4; i++) {
      if (equal_nocase(s, n, yes[i])) { *num = 1; return 0; }
      if (equal_nocase(s, n, no[i])) { *num = 0; return 0; }
    }
    snprintf(err, errlen, "expected on or off (or 1/0, yes/no, true/false), got '%s'", quote_excerpt(text, q, sizeof q));
    return -1;
  }
  case MMHINT_T_INT: {
    const char *p = s;
    int neg = 0;
    long long v;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    const char *end = p;
    int r = parse_digits(p, &end, &v);
    if (r != 0 || (size_t)(end - s) != n) {
      snprintf(err, errlen, "expected a whole number, got '%s'", quote_excerpt(text, q, sizeof q));
      return -1;
    }
    if (neg) v = -v;
    if (v < d->min || v > d->max) {
      snprintf(err, errlen, "%lld is out of range; use %lld to %lld", v, d->min, d->max);
      return -1;
    }
    *num = v;
    return 0;
  }
  case MMHINT_T_SIZE: {
    char tmp[64];
    long long v;
    if (n >= sizeof tmp || (memcpy(tmp, s, n), tmp[n] = '\0', mmhint_parse_size(tmp, &v) != 0)) {
      snprintf(err, errlen, "expected a size such as 64K or 2M, got '%s'", quote_excerpt(text, q, sizeof q));
      return -1;
    }
    if (out_of_range(d, v, format_size, err, errlen)) return -1;
    *num = v;
    return 0;
  }
  case MMHINT_T_DURATION: {
    long long v;
    if (parse_duration(s, n, &v) != 0) {
      snprintf(err, errlen, "expected a duration such as 10s, 5m or 1h (a bare number is seconds; 0 is off), got '%s'",
               quote_excerpt(text, q, sizeof q));
      return -1;
    }
    if (out_of_range(d, v, format_duration, err, errlen)) return -1;
    *num = v;
    return 0;
  }
  case MMHINT_T_ENUM: {
    int idx = choice_index(d->choices, s, n);
    if (idx < 0) {
      snprintf(err, errlen, "expected one of %s, got '%s'", d->choices, quote_excerpt(text, q, sizeof q));
      return -1;
    }
    *num = idx;
    return 0;
  }
  default:
    snprintf(err, errlen, "option has an unknown type");
    return -1;
  }
}

int mmhint_value_set(mmhint_values_t *v, int id, const char *text, mmhint_source_t src, char *err, size_t errlen) {
  long long num;
  if (mmhint__value_parse(id, text, &num, err, errlen) != 0) return -1;
  v->num[id] = num;
  if (mmhint_option_table[id].type == MMHINT_T_STRING) snprintf(v->str[id], MMHINT_STRING_MAX, "%s", text);
  v->src[id] = src;
  return 0;
}

void mmhint_values_defaults(mmhint_values_t *v) {
  mmhint_source_t src = {MMHINT_SRC_DEFAULT, 0};
  char err[160];
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    v->num[i] = 0;
    v->str[i][0] = '\0';
    v->src[i] = src;
    /* A default that does not parse is a bug in the table, caught by the
     * unit test that parses every default; here it simply stays 0. */
    (void)mmhint_value_set(v, i, mmhint_option_table[i].def, src, err, sizeof err);
  }
}

void mmhint__format_num(int id, long long num, char *buf, size_t len) {
  const mmhint_option_desc_t *d = &mmhint_option_table[id];
  switch (d->type) {
  case MMHINT_T_BOOL: snprintf(buf, len, "%s", num ? "on" : "off"); break;
  case MMHINT_T_INT: snprintf(buf, len, "%lld", num); break;
  case MMHINT_T_SIZE: format_size(num, buf, len); break;
  case MMHINT_T_DURATION: format_duration(num, buf, len); break;
  case MMHINT_T_ENUM:
    if (mmhint_option_choice_name(id, num, buf, len) != 0) snprintf(buf, len, "?");
    break;
  default: snprintf(buf, len, "%lld", num); break;
  }
}

void mmhint_value_format(const mmhint_values_t *v, int id, char *buf, size_t len) {
  if (len == 0) return;
  if (id < 0 || id >= MMHINT_OPT__COUNT) {
    buf[0] = '\0';
    return;
  }
  if (mmhint_option_table[id].type == MMHINT_T_STRING)
    snprintf(buf, len, "%s", v->str[id]);
  else
    mmhint__format_num(id, v->num[id], buf, len);
}
