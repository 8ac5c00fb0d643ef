/*
 * policy/rules.c: the glob matcher for rule paths and program names, and the
 * computation of the option values that apply to one opened file.
 *
 * The matcher is our own rather than fnmatch(3) because fnmatch may allocate,
 * and it runs inside open() of the preloaded program.  It never recurses and
 * keeps only two backtracking points, so its work is polynomial in the
 * lengths of the pattern and the path even for patterns such as
 * "*a*a*a*a*a*b" that make a naive recursive matcher exponential.
 */
#include "policy/options.h"

#include <string.h>

/* ---- Glob matching ------------------------------------------------------- */

/*
 * Matches one pattern element at *gp (a literal, '\'-escaped literal, '?' or a
 * [...] class) against the character c, which is never '\0'.  On a match
 * returns 1 and sets *next to the pattern position after the element.  No
 * element but a literal '/' matches '/': wildcards stay inside a component.
 */
static int match_one(const char *gp, unsigned char c, const char **next) {
  if (*gp == '?') {
    *next = gp + 1;
    return c != '/';
  }
  if (*gp == '\\' && gp[1] != '\0') {
    *next = gp + 2;
    return (unsigned char)gp[1] == c;
  }
  if (*gp == '[') {
    const char *p = gp + 1;
    int negate = 0, found = 0;
    if (*p == '!' || *p == '^') {
      negate = 1;
      p++;
    }
    /* A ']' right after the '[' (or its negation) is a member, as in POSIX. */
    int first = 1;
    while (*p != '\0' && (*p != ']' || first)) {
      first = 0;
      unsigned char lo = (unsigned char)*p;
      if (lo == '\\' && p[1] != '\0') lo = (unsigned char)*++p;
      p++;
      unsigned char hi = lo;
      if (*p == '-' && p[1] != ']' && p[1] != '\0') {
        hi = (unsigned char)p[1];
        p += 2;
        if (hi == '\\' && *p != '\0') hi = (unsigned char)*p++;
      }
      if (c >= lo && c <= hi) found = 1;
    }
    if (*p == ']') {
      *next = p + 1;
      return c != '/' && found != negate;
    }
    /* An unterminated '[' is an ordinary character. */
  }
  *next = gp + 1;
  return (unsigned char)*gp == c;
}

int mmhint__glob_match_steps(const char *glob, const char *path, unsigned long *steps) {
  const char *gp = glob, *sp = path;
  /* The last '*': pattern after it and the text position it resumes from. */
  const char *star_g = NULL, *star_s = NULL;
  /*
   * The last '**': pattern after it and the text position it resumes from.
   * When it is a whole component followed by a slash (as in "/a/" "**" "/b"
   * or at the very start), it matches zero or more whole components, so it
   * resumes only right after a '/'; otherwise it matches any text.
   */
  const char *dstar_g = NULL, *dstar_s = NULL;
  int dstar_components = 0;
  unsigned long n = 0;

  for (;;) {
    n++;
    if (*gp == '*') {
      int at_component_start = gp == glob || gp[-1] == '/';
      const char *p = gp;
      while (*p == '*') p++;
      if (p - gp >= 2) {
        dstar_components = at_component_start && *p == '/';
        if (dstar_components) p++;
        dstar_g = p;
        dstar_s = sp;
        /* Choices made for an earlier '*' no longer matter: the '**' can absorb
         * whatever text a different choice would have left before it. */
        star_g = NULL;
      } else {
        star_g = p;
        star_s = sp;
      }
      gp = p;
      continue;
    }
    if (*sp == '\0') {
      if (*gp == '\0') break;
    } else if (*gp != '\0') {
      const char *next;
      if (match_one(gp, (unsigned char)*sp, &next)) {
        gp = next;
        sp++;
        continue;
      }
    }
    /*
     * Mismatch.  First let the last '*' take one more character; it cannot
     * take a '/', and an earlier '*' cannot help either, because a '*' never
     * crosses the '/' that ends its component, so components match
     * independently of each other.
     */
    if (star_g != NULL && *star_s != '\0' && *star_s != '/') {
      star_s++;
      gp = star_g;
      sp = star_s;
      continue;
    }
    star_g = NULL;
    /* Then let the last '**' take more text: one more character, or one more
     * whole component. */
    if (dstar_g == NULL || *dstar_s == '\0') {
      if (steps) *steps += n;
      return 0;
    }
    if (dstar_components) {
      const char *slash = strchr(dstar_s, '/');
      if (slash == NULL) {
        if (steps) *steps += n;
        return 0;
      }
      dstar_s = slash + 1;
    } else {
      dstar_s++;
    }
    gp = dstar_g;
    sp = dstar_s;
  }
  if (steps) *steps += n;
  return 1;
}

int mmhint_glob_match(const char *glob, const char *path) {
  if (glob == NULL || path == NULL) return 0;
  return mmhint__glob_match_steps(glob, path, NULL);
}

/* ---- Rules --------------------------------------------------------------- */

/* Returns 1 when `rule` applies to a file with these facts. */
static int rule_matches(const mmhint_rule_t *rule, const mmhint_file_facts_t *facts) {
  if (rule->path[0] != '\0' && !mmhint_glob_match(rule->path, facts->path ? facts->path : "")) return 0;
  if (rule->program[0] != '\0' && !mmhint_glob_match(rule->program, facts->program ? facts->program : ""))
    return 0;
  if (rule->min_size > 0 || rule->max_size >= 0) {
    /* An unknown size (-1) never satisfies a size condition. */
    if (facts->size < 0 || facts->size < rule->min_size) return 0;
    if (rule->max_size >= 0 && facts->size > rule->max_size) return 0;
  }
  /* A rule's mode names one access mode exactly, as the open's O_ACCMODE
   * gives it: `read` only read-only opens, `write` only write-only opens,
   * `rdwr` only read-write opens; `any` (MMHINT_MODE_ANY, 0) every open.
   * `read` must not match a read-write open: a rule written for read-only
   * descriptions (examples/configs/readonly-db.conf) would otherwise give a
   * writer's database advice and mappings meant for readers.  A rule whose
   * match keys were invalid has a negative mode and matches nothing. */
  if (rule->mode < 0) return 0;
  if (rule->mode != MMHINT_MODE_ANY && facts->mode != rule->mode) return 0;
  return 1;
}

int mmhint_config_file_num(const mmhint_config_t *cfg, const mmhint_file_facts_t *facts,
                           long long num[MMHINT_OPT__COUNT]) {
  memcpy(num, cfg->values.num, sizeof cfg->values.num);
  int last = 0;
  for (int r = 0; r < cfg->n_rules; r++) {
    const mmhint_rule_t *rule = &cfg->rules[r];
    if (!rule_matches(rule, facts)) continue;
    last = r + 1;
    for (int k = 0; k < rule->n_set; k++)
      if (cfg->values.src[rule->set_id[k]].kind != MMHINT_SRC_ENV) num[rule->set_id[k]] = rule->set_num[k];
  }
  return last;
}

int mmhint_config_for_file(const mmhint_config_t *cfg, const mmhint_file_facts_t *facts, mmhint_values_t *out) {
  memcpy(out, &cfg->values, sizeof *out);
  int last = 0;
  for (int r = 0; r < cfg->n_rules; r++) {
    const mmhint_rule_t *rule = &cfg->rules[r];
    if (!rule_matches(rule, facts)) continue;
    last = r + 1;
    for (int k = 0; k < rule->n_set; k++) {
      int id = rule->set_id[k];
      /* The environment is the user's word for this run: it beats the config
       * file, rules included. */
      if (cfg->values.src[id].kind == MMHINT_SRC_ENV) continue;
      out->num[id] = rule->set_num[k];
      out->src[id].kind = MMHINT_SRC_RULE;
      out->src[id].line = rule->line;
    }
  }
  return last;
}
