/*
 * policy/config.c: the config file parser, the effective configuration of a
 * process (defaults < config file < environment) and its verbose dump.
 *
 * Format (docs: see the option table in include/mmhint_options.def):
 *
 *   # comment                     a '#' at the start of a line, or after a
 *   key = value   # comment       blank inside a value, starts a comment
 *   [rule]                        starts a rule; keys after it belong to it
 *   path = /data/big[0-9].bin     glob on the absolute path ('**' crosses '/')
 *   program = sqlite*             glob on the program's basename
 *   size = 1M-                    file size at open: MIN-MAX, either side empty
 *   mode = read                   read | write | rdwr | any
 *   read_mmap = on                then any per-file (FILE scope) option
 *
 * Every problem becomes one warning line naming the file, the line and the
 * fix, and the rest of the file still applies.  Two choices are deliberate:
 *   - A file containing binary data (a NUL or another control character
 *     other than tab, CR and form feed) is ignored as a whole with a single
 *     warning: a binary file named by mistake would otherwise produce a flood
 *     of nonsense and could set options by accident.
 *   - A rule with an invalid match key (a bad size range or mode) matches
 *     nothing, rather than silently matching more files than intended.
 *
 * This runs inside the preload library during start-up: no stdio streams, no
 * getenv (the caller passes envp), snprintf for formatting, and one malloc'd
 * array for the rules.
 */
#include "policy/options.h"
#include "policy/os/os.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MMHINT__LINE_MAX 4096
#define MMHINT__FILE_MAX (1024 * 1024)
#define MMHINT__SYSTEM_CONFIG "/etc/mmhint.conf"

/* ---- Warnings ------------------------------------------------------------ */

static const char mmhint__suppressed_fmt[] = "mmhint: %d more warnings suppressed";

/* Returns N when `slot` reads "mmhint: N more warnings suppressed", else 1
 * (the slot holds one real warning, which is now suppressed too). */
static int suppressed_count(const char *slot) {
  const char *p = slot + 8;
  long n = 0;
  if (strncmp(slot, "mmhint: ", 8) != 0 || *p < '0' || *p > '9') return 1;
  while (*p >= '0' && *p <= '9' && n < INT_MAX / 10) n = n * 10 + (*p++ - '0');
  return strcmp(p, " more warnings suppressed") == 0 ? (int)n : 1;
}

/*
 * Adds one warning line to `cfg`.  The first MMHINT_MAX_WARNINGS - 1 are kept
 * as they are; from then on the last slot holds the single warning that
 * arrived there, or "N more warnings suppressed" once there are more.  The
 * count lives in that line itself because mmhint_config_t has no field for it.
 */
static void warn(mmhint_config_t *cfg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(mmhint_config_t *cfg, const char *fmt, ...) {
  char *slot;
  if (cfg->n_warnings < MMHINT_MAX_WARNINGS) {
    slot = cfg->warnings[cfg->n_warnings++];
  } else {
    slot = cfg->warnings[MMHINT_MAX_WARNINGS - 1];
    int already = suppressed_count(slot);
    snprintf(slot, sizeof cfg->warnings[0], mmhint__suppressed_fmt, already + 1);
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(slot, sizeof cfg->warnings[0], fmt, ap);
  va_end(ap);
}

/* Returns a short name for a file in messages: its last 80 characters. */
static const char *short_name(const char *filename) {
  size_t n = strlen(filename);
  return n > 80 ? filename + n - 80 : filename;
}

/* Copies up to 40 characters of `s` (length n) into `out` for quoting. */
static const char *excerpt(const char *s, size_t n, char *out, size_t len) {
  if (n > 40)
    snprintf(out, len, "%.40s...", s);
  else
    snprintf(out, len, "%.*s", (int)n, s);
  return out;
}

/* Describes a negative errno from policy/os without strerror (which may
 * allocate for its translations). */
static const char *errno_text(long err) {
  switch (-err) {
  case ENOENT: return "no such file";
  case ENOTDIR: return "a parent is not a directory";
  case EACCES: return "permission denied";
  case EISDIR:
  case EINVAL: return "not a regular file";
  case EFBIG: return "larger than 1 MiB, so it is not a config file";
  case ELOOP: return "too many symbolic links";
  case ENOMEM: return "out of memory";
  default: return "cannot be read";
  }
}

/* ---- Parsing one line ---------------------------------------------------- */

typedef enum { IN_GLOBAL, IN_RULE, IN_SKIP } section_t;

typedef struct {
  mmhint_config_t *cfg;
  const char *file;     /* for messages */
  int line;             /* current line number, 1-based */
  section_t section;
  mmhint_rule_t *rule;  /* the rule being filled when section == IN_RULE */
  int rule_capacity;    /* rules the array can hold */
  int rules_full_warned;
  int rule_has_path;    /* the rule being filled has a `path =` line */
} parser_t;

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f'; }

/* Trims blanks on both sides of [*s, *s + *n). */
static void trim(const char **s, size_t *n) {
  while (*n > 0 && is_blank(**s)) (*s)++, (*n)--;
  while (*n > 0 && is_blank((*s)[*n - 1])) (*n)--;
}

/* Returns 1 when the first n bytes of s equal the NUL-terminated word. */
static int is_word(const char *s, size_t n, const char *word) { return strlen(word) == n && memcmp(s, word, n) == 0; }

/*
 * Ends the rule being filled, if any.  A rule without a `path =` line would
 * apply to every file the program opens, which is rarely what its author
 * meant (a forgotten line, or a typo in the key); such a rule matches nothing
 * and says so once.  `path = **` is how a rule asks for every file.
 */
static void end_rule(parser_t *p) {
  if (p->section == IN_RULE && p->rule != NULL && !p->rule_has_path && p->rule->mode >= 0) {
    warn(p->cfg, "mmhint: %s:%d: this [rule] has no 'path' line, so it would apply to every file; it will match "
         "nothing (write 'path = **' to apply it to every file)", short_name(p->file), p->rule->line);
    p->rule->mode = -1;
  }
  p->rule = NULL;
  p->rule_has_path = 0;
}

/* Starts a new rule at the current line, or skips its body when there is no room. */
static void begin_rule(parser_t *p) {
  mmhint_config_t *cfg = p->cfg;
  end_rule(p);
  if (cfg->n_rules >= p->rule_capacity) {
    if (!p->rules_full_warned)
      warn(cfg, "mmhint: %s:%d: too many rules (at most %d); ignoring this one and the rest", short_name(p->file),
           p->line, MMHINT_MAX_RULES);
    p->rules_full_warned = 1;
    p->section = IN_SKIP;
    return;
  }
  mmhint_rule_t *r = &cfg->rules[cfg->n_rules++];
  memset(r, 0, sizeof *r);
  r->line = p->line;
  r->min_size = 0;
  r->max_size = -1;
  r->mode = MMHINT_MODE_ANY;
  p->rule = r;
  p->section = IN_RULE;
}

/* Parses "MIN-MAX" (either side may be empty) into the rule.  Returns 0 or -1. */
static int parse_range(const char *v, size_t n, long long *lo, long long *hi) {
  const char *dash = memchr(v, '-', n);
  if (dash == NULL) return -1;
  char a[64], b[64];
  size_t la = (size_t)(dash - v), lb = n - la - 1;
  if (la >= sizeof a || lb >= sizeof b) return -1;
  memcpy(a, v, la);
  a[la] = '\0';
  memcpy(b, dash + 1, lb);
  b[lb] = '\0';
  const char *pa = a, *pb = b;
  size_t na = la, nb = lb;
  trim(&pa, &na);
  trim(&pb, &nb);
  *lo = 0;
  *hi = -1;
  if (na > 0 && mmhint_parse_size(pa, lo) != 0) return -1;
  if (nb > 0 && mmhint_parse_size(pb, hi) != 0) return -1;
  return 0;
}

/* Handles a match key (path, program, size, mode) inside a rule.  Returns 1
 * when `key` was one of them. */
static int rule_match_key(parser_t *p, const char *key, size_t kn, const char *val, size_t vn) {
  mmhint_rule_t *r = p->rule;
  const char *f = short_name(p->file);
  char q[64];
  if (is_word(key, kn, "path") || is_word(key, kn, "program")) {
    int is_path = key[1] == 'a';
    if (is_path && vn > 0) p->rule_has_path = 1;
    char *dst = is_path ? r->path : r->program;
    size_t cap = is_path ? sizeof r->path : sizeof r->program;
    if (vn >= cap) {
      warn(p->cfg, "mmhint: %s:%d: %s glob is longer than %zu bytes; this rule will match nothing", f, p->line,
           is_path ? "path" : "program", cap - 1);
      r->mode = -1;
      return 1;
    }
    memcpy(dst, val, vn);
    dst[vn] = '\0';
    if (is_path && vn > 0 && val[0] != '/' && val[0] != '*')
      warn(p->cfg,
           "mmhint: %s:%d: path glob '%s' can never match because paths are absolute; start it with / or **/",
           f, p->line, excerpt(val, vn, q, sizeof q));
    if (!is_path && memchr(val, '/', vn) != NULL)
      warn(p->cfg, "mmhint: %s:%d: program glob '%s' can never match because it is matched against the program's "
           "name without its directory; drop the directory", f, p->line, excerpt(val, vn, q, sizeof q));
    return 1;
  }
  if (is_word(key, kn, "size")) {
    long long lo, hi;
    if (parse_range(val, vn, &lo, &hi) != 0) {
      warn(p->cfg, "mmhint: %s:%d: expected a size range such as 1M-, -64K or 64K-1G, got '%s'; "
           "this rule will match nothing", f, p->line, excerpt(val, vn, q, sizeof q));
      r->mode = -1;
    } else if (hi >= 0 && lo > hi) {
      warn(p->cfg, "mmhint: %s:%d: size range '%s' is empty (minimum above maximum); this rule will match nothing",
           f, p->line, excerpt(val, vn, q, sizeof q));
      r->mode = -1;
    } else {
      r->min_size = lo;
      r->max_size = hi;
    }
    return 1;
  }
  if (is_word(key, kn, "mode")) {
    static const struct { const char *word; int mode; } modes[] = {
        {"any", MMHINT_MODE_ANY}, {"read", MMHINT_MODE_READ}, {"write", MMHINT_MODE_WRITE}, {"rdwr", MMHINT_MODE_RDWR}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
      if (is_word(val, vn, modes[i].word)) {
        if (r->mode >= 0) r->mode = modes[i].mode;
        return 1;
      }
    }
    warn(p->cfg, "mmhint: %s:%d: expected mode read, write, rdwr or any, got '%s'; this rule will match nothing", f,
         p->line, excerpt(val, vn, q, sizeof q));
    r->mode = -1;
    return 1;
  }
  return 0;
}

/* Handles one "key = value" line; key and value are trimmed, value has no comment. */
static void key_value(parser_t *p, const char *key, size_t kn, const char *val, size_t vn) {
  const char *f = short_name(p->file);
  char kq[64], err[200];
  char name[72];
  if (p->section == IN_SKIP) return;
  if (p->section == IN_RULE && rule_match_key(p, key, kn, val, vn)) return;
  if (p->section == IN_GLOBAL &&
      (is_word(key, kn, "path") || is_word(key, kn, "program") || is_word(key, kn, "size") || is_word(key, kn, "mode"))) {
    warn(p->cfg, "mmhint: %s:%d: '%.*s' only makes sense inside a rule; put a [rule] line before it; ignoring it", f,
         p->line, (int)kn, key);
    return;
  }
  int id = -1;
  if (kn < sizeof name) {
    memcpy(name, key, kn);
    name[kn] = '\0';
    id = mmhint_option_find(name);
  }
  if (id < 0) {
    const char *s = kn < sizeof name ? mmhint_option_suggest(name) : NULL;
    if (s)
      warn(p->cfg, "mmhint: %s:%d: unknown key '%s' (did you mean '%s'?); ignoring it", f, p->line,
           excerpt(key, kn, kq, sizeof kq), s);
    else
      warn(p->cfg, "mmhint: %s:%d: unknown key '%s'; ignoring it", f, p->line, excerpt(key, kn, kq, sizeof kq));
    return;
  }
  const mmhint_option_desc_t *d = &mmhint_option_table[id];
  if (id == MMHINT_OPT_config) {
    warn(p->cfg, "mmhint: %s:%d: 'config' can only be set in the environment (MMHINT_CONFIG); ignoring it", f, p->line);
    return;
  }
  /* The value as a C string: values longer than a string option allows are
   * rejected by the option parser itself, so cut one byte past that limit. */
  char text[MMHINT_STRING_MAX + 1];
  size_t tn = vn < sizeof text - 1 ? vn : sizeof text - 1;
  memcpy(text, val, tn);
  text[tn] = '\0';
  if (vn > tn && d->type != MMHINT_T_STRING) text[tn - 1] = '?'; /* make an overlong number fail to parse */

  if (p->section == IN_GLOBAL) {
    mmhint_source_t src = {MMHINT_SRC_CONFIG, p->line};
    if (mmhint_value_set(&p->cfg->values, id, text, src, err, sizeof err) != 0)
      warn(p->cfg, "mmhint: %s:%d: %s: %s; ignoring it", f, p->line, d->name, err);
    return;
  }
  /* Inside a rule. */
  if (d->scope == MMHINT_S_PROCESS) {
    warn(p->cfg, "mmhint: %s:%d: '%s' is a process option; put it before the first [rule]; ignoring it", f, p->line,
         d->name);
    return;
  }
  if (d->type == MMHINT_T_STRING) {
    warn(p->cfg, "mmhint: %s:%d: '%s' cannot be set by a rule; put it before the first [rule]; ignoring it", f,
         p->line, d->name);
    return;
  }
  long long num;
  if (mmhint__value_parse(id, text, &num, err, sizeof err) != 0) {
    warn(p->cfg, "mmhint: %s:%d: %s: %s; ignoring it", f, p->line, d->name, err);
    return;
  }
  mmhint_rule_t *r = p->rule;
  for (int k = 0; k < r->n_set; k++) {
    if (r->set_id[k] == id) {
      r->set_num[k] = num;
      return;
    }
  }
  r->set_id[r->n_set] = id;
  r->set_num[r->n_set] = num;
  r->n_set++;
}

/* Parses one line (no newline, at most MMHINT__LINE_MAX bytes). */
static void parse_line(parser_t *p, const char *s, size_t n) {
  const char *f = short_name(p->file);
  char q[64];
  trim(&s, &n);
  if (n == 0 || s[0] == '#') return;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    size_t after = close ? n - (size_t)(close - s) - 1 : 0;
    const char *rest = close ? close + 1 : NULL;
    trim(&rest, &after);
    if (close == NULL || (after > 0 && rest[0] != '#')) {
      warn(p->cfg, "mmhint: %s:%d: expected a section header such as [rule], got '%s'; ignoring it", f, p->line,
           excerpt(s, n, q, sizeof q));
      return;
    }
    const char *name = s + 1;
    size_t nn = (size_t)(close - name);
    trim(&name, &nn);
    if (is_word(name, nn, "rule")) {
      begin_rule(p);
    } else {
      end_rule(p);
      warn(p->cfg, "mmhint: %s:%d: unknown section '[%s]' (the only section is [rule]); ignoring it and its keys", f,
           p->line, excerpt(name, nn, q, sizeof q));
      p->section = IN_SKIP;
    }
    return;
  }
  const char *eq = memchr(s, '=', n);
  if (eq == NULL) {
    warn(p->cfg, "mmhint: %s:%d: expected 'key = value', got '%s'; ignoring it", f, p->line,
         excerpt(s, n, q, sizeof q));
    return;
  }
  const char *key = s, *val = eq + 1;
  size_t kn = (size_t)(eq - s), vn = n - kn - 1;
  trim(&key, &kn);
  /* A '#' that starts the value or follows a blank starts a comment; a '#'
   * inside a word (as in a path /data/#1) is kept. */
  for (size_t i = 0; i < vn; i++) {
    if (val[i] == '#' && (i == 0 || is_blank(val[i - 1]))) {
      vn = i;
      break;
    }
  }
  trim(&val, &vn);
  if (kn == 0) {
    warn(p->cfg, "mmhint: %s:%d: missing key before '='; ignoring the line", f, p->line);
    return;
  }
  key_value(p, key, kn, val, vn);
}

/* Returns the 1-based line of the first byte that marks `text` as binary, or 0. */
static int binary_line(const char *text, size_t len) {
  int line = 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\n') line++;
    else if ((c < 0x20 && c != '\t' && c != '\r' && c != '\f') || c == 0x7f) return line;
  }
  return 0;
}

/* Counts the lines that may start a rule, to size the rules array once. */
static int count_headers(const char *text, size_t len) {
  int n = 0;
  size_t i = 0;
  while (i < len) {
    while (i < len && is_blank(text[i])) i++;
    if (i < len && text[i] == '[') n++;
    const char *nl = memchr(text + i, '\n', len - i);
    if (nl == NULL) break;
    i = (size_t)(nl - text) + 1;
  }
  return n;
}

void mmhint_config_parse(mmhint_config_t *cfg, const char *filename, const char *text, size_t len) {
  parser_t p;
  memset(&p, 0, sizeof p);
  p.cfg = cfg;
  p.file = filename ? filename : "(config)";
  p.section = IN_GLOBAL;
  if (text == NULL) len = 0;

  /* A UTF-8 byte order mark, as some editors write, is not part of the first key. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    len -= 3;
  }
  int bad = binary_line(text, len);
  if (bad) {
    warn(cfg, "mmhint: %s:%d: binary data; is this a config file? ignoring the whole file", short_name(p.file), bad);
    return;
  }

  /* One allocation: room for every rule this text can start. */
  int want = count_headers(text, len);
  if (want > MMHINT_MAX_RULES - cfg->n_rules) want = MMHINT_MAX_RULES - cfg->n_rules;
  p.rule_capacity = cfg->n_rules;
  if (want > 0) {
    mmhint_rule_t *grown = realloc(cfg->rules, sizeof(mmhint_rule_t) * (size_t)(cfg->n_rules + want));
    if (grown == NULL) {
      warn(cfg, "mmhint: %s: out of memory for %d rules; ignoring the rules", short_name(p.file), want);
    } else {
      cfg->rules = grown;
      p.rule_capacity = cfg->n_rules + want;
    }
  }

  size_t i = 0;
  while (i < len) {
    p.line++;
    const char *nl = memchr(text + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - text) : len;
    size_t n = end - i;
    if (n > MMHINT__LINE_MAX)
      warn(cfg, "mmhint: %s:%d: line is longer than %d bytes; ignoring it", short_name(p.file), p.line,
           MMHINT__LINE_MAX);
    else
      parse_line(&p, text + i, n);
    i = end + 1;
  }
  end_rule(&p);
}

/* ---- Loading: file, then environment ------------------------------------- */

/* Returns the value of variable `name` in envp, or NULL (the first wins, as getenv). */
static const char *env_get(char *const *envp, const char *name) {
  size_t n = strlen(name);
  for (char *const *e = envp; e && *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

/*
 * Reads and parses `path`.  Returns 0 when it was read, or the negative errno.
 * Missing files are reported only when `must_exist` is set; any other failure
 * (too large, not a regular file, permission) is always reported.
 */
static long load_file(mmhint_config_t *cfg, const char *path, int must_exist) {
  char *buf = NULL;
  long n = mmhint_os_slurp(path, MMHINT__FILE_MAX, &buf);
  if (n < 0) {
    int missing = n == -ENOENT || n == -ENOTDIR;
    if (must_exist || !missing)
      warn(cfg, "mmhint: config file %s: %s; ignoring it", short_name(path), errno_text(n));
    return n;
  }
  snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
  mmhint_config_parse(cfg, path, buf, (size_t)n);
  mmhint_os_munmap(buf, MMHINT__FILE_MAX + 1);
  return 0;
}

/* MMHINT_* variables that belong to the tools around the library (the test harness, the mmhint command), not to it. */
static const char *const mmhint__env_not_options[] = {"MMHINT_BUILD_DIR", "MMHINT_SOURCE_DIR", "MMHINT_LIB", "MMHINT_EXPLAIN",
                                                     "MMHINT_INCLUDE_DIR", "MMHINT_UPDATE_GOLDEN"};

/* Applies the MMHINT_* variables of envp on top of the file's values. */
static void apply_env(mmhint_config_t *cfg, char *const *envp) {
  char err[200], name[72], q[64];
  for (char *const *e = envp; e && *e; e++) {
    const char *var = *e;
    if (strncmp(var, "MMHINT_", 7) != 0) continue;
    const char *eq = strchr(var, '=');
    if (eq == NULL) continue;
    size_t vlen = (size_t)(eq - var);
    int skip = 0;
    for (size_t k = 0; k < sizeof mmhint__env_not_options / sizeof mmhint__env_not_options[0]; k++)
      if (is_word(var, vlen, mmhint__env_not_options[k])) skip = 1;
    if (skip) continue;
    int id = -1;
    for (int i = 0; i < MMHINT_OPT__COUNT; i++)
      if (is_word(var, vlen, mmhint_option_table[i].env_name)) id = i;
    if (id < 0) {
      const char *s = NULL;
      if (vlen - 7 < sizeof name) {
        memcpy(name, var + 7, vlen - 7);
        name[vlen - 7] = '\0';
        s = mmhint_option_suggest(name);
      }
      if (s)
        warn(cfg, "mmhint: unknown environment variable %s (did you mean %s?); ignoring it",
             excerpt(var, vlen, q, sizeof q), mmhint_option_table[mmhint_option_find(s)].env_name);
      else
        warn(cfg, "mmhint: unknown environment variable %s; ignoring it", excerpt(var, vlen, q, sizeof q));
      continue;
    }
    /* With duplicates in envp, the first wins, as with getenv. */
    if (cfg->values.src[id].kind == MMHINT_SRC_ENV) continue;
    mmhint_source_t src = {MMHINT_SRC_ENV, 0};
    if (mmhint_value_set(&cfg->values, id, eq + 1, src, err, sizeof err) != 0)
      warn(cfg, "mmhint: %s: %s; ignoring it", mmhint_option_table[id].env_name, err);
  }
}

void mmhint_config_load(mmhint_config_t *cfg, char *const *envp, int secure) {
  memset(cfg, 0, sizeof *cfg);
  mmhint_values_defaults(&cfg->values);
  if (secure) {
    /* Secure execution (setuid and the like): the environment belongs to an
     * untrusted caller, so only the administrator's file counts. */
    load_file(cfg, MMHINT__SYSTEM_CONFIG, 0);
    return;
  }
  const char *named = env_get(envp, "MMHINT_CONFIG");
  if (named != NULL) {
    /* An empty MMHINT_CONFIG means "no config file at all". */
    if (named[0] != '\0') load_file(cfg, named, 1);
  } else {
    char path[MMHINT_STRING_MAX];
    const char *xdg = env_get(envp, "XDG_CONFIG_HOME");
    const char *home = env_get(envp, "HOME");
    path[0] = '\0';
    /* The XDG base directory spec ignores relative values. */
    if (xdg && xdg[0] == '/')
      snprintf(path, sizeof path, "%s/mmhint/mmhint.conf", xdg);
    else if (home && home[0] == '/')
      snprintf(path, sizeof path, "%s/.config/mmhint/mmhint.conf", home);
    long r = path[0] ? load_file(cfg, path, 0) : -ENOENT;
    if (r == -ENOENT || r == -ENOTDIR) load_file(cfg, MMHINT__SYSTEM_CONFIG, 0);
  }
  apply_env(cfg, envp);
}

void mmhint_config_free(mmhint_config_t *cfg) {
  free(cfg->rules);
  cfg->rules = NULL;
  cfg->n_rules = 0;
}

/* ---- Verbose dump -------------------------------------------------------- */

/* Describes where a value came from, as the dump and mmhint-explain show it. */
static void source_text(const mmhint_config_t *cfg, int id, mmhint_source_t src, char *buf, size_t len) {
  switch (src.kind) {
  case MMHINT_SRC_CONFIG: snprintf(buf, len, "%s:%d", cfg->config_path, src.line); break;
  case MMHINT_SRC_RULE: snprintf(buf, len, "rule at %s:%d", cfg->config_path, src.line); break;
  case MMHINT_SRC_ENV: snprintf(buf, len, "environment %s", mmhint_option_table[id].env_name); break;
  default: snprintf(buf, len, "default"); break;
  }
}

void mmhint_config_dump(const mmhint_config_t *cfg, void (*emit)(void *ctx, const char *line), void *ctx) {
  char line[MMHINT_STRING_MAX * 3], val[MMHINT_STRING_MAX], src[MMHINT_STRING_MAX + 32];
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    mmhint_value_format(&cfg->values, i, val, sizeof val);
    source_text(cfg, i, cfg->values.src[i], src, sizeof src);
    snprintf(line, sizeof line, "mmhint: %s = %s (%s)", mmhint_option_table[i].name, val, src);
    emit(ctx, line);
  }
  for (int r = 0; r < cfg->n_rules; r++) {
    const mmhint_rule_t *rule = &cfg->rules[r];
    int used = snprintf(line, sizeof line, "mmhint: rule %s:%d:", cfg->config_path, rule->line);
    if (rule->path[0]) used += snprintf(line + used, sizeof line - (size_t)used, " path=%.200s", rule->path);
    if (used < (int)sizeof line && rule->program[0])
      used += snprintf(line + used, sizeof line - (size_t)used, " program=%.100s", rule->program);
    if (used < (int)sizeof line && (rule->min_size > 0 || rule->max_size >= 0)) {
      char lo[32] = "", hi[32] = "";
      if (rule->min_size > 0) snprintf(lo, sizeof lo, "%lld", rule->min_size);
      if (rule->max_size >= 0) snprintf(hi, sizeof hi, "%lld", rule->max_size);
      used += snprintf(line + used, sizeof line - (size_t)used, " size=%s-%s", lo, hi);
    }
    if (used < (int)sizeof line && rule->mode != MMHINT_MODE_ANY) {
      const char *m = rule->mode == MMHINT_MODE_READ ? "read" : rule->mode == MMHINT_MODE_WRITE ? "write"
                      : rule->mode == MMHINT_MODE_RDWR ? "rdwr" : "never (invalid match key)";
      used += snprintf(line + used, sizeof line - (size_t)used, " mode=%s", m);
    }
    if (used < (int)sizeof line) used += snprintf(line + used, sizeof line - (size_t)used, " sets");
    for (int k = 0; k < rule->n_set && used < (int)sizeof line; k++) {
      mmhint__format_num(rule->set_id[k], rule->set_num[k], val, sizeof val);
      used += snprintf(line + used, sizeof line - (size_t)used, " %s=%s", mmhint_option_table[rule->set_id[k]].name, val);
    }
    if (rule->n_set == 0 && used < (int)sizeof line) snprintf(line + used, sizeof line - (size_t)used, " nothing");
    emit(ctx, line);
  }
}
