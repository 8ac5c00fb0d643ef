/*
 * policy/nodes.c: NUMA policy strings and node lists.  See nodes.h for the
 * grammar and for why nothing here calls libnuma, the kernel or malloc.
 */
#include "policy/nodes.h"

#include <linux/mempolicy.h>
#include <string.h>

#include "policy/fmt.h"

/* ---- A bounded text builder ---------------------------------------------
 *
 * Messages are assembled with these instead of snprintf so that the module
 * stays free of locale and stdio state when the shim calls it from inside an
 * interposed malloc.  `need` counts the full length even past the buffer, so
 * the formatters can report truncation the way snprintf does.
 */
typedef struct {
  char *buf;
  size_t cap;
  size_t need;
} text_t;

static void text_init(text_t *t, char *buf, size_t cap) {
  t->buf = buf;
  t->cap = cap;
  t->need = 0;
  if (cap > 0) buf[0] = '\0';
}

static void text_putn(text_t *t, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++, t->need++) {
    if (t->need + 1 < t->cap) {
      t->buf[t->need] = s[i];
      t->buf[t->need + 1] = '\0';
    }
  }
}

static void text_puts(text_t *t, const char *s) { text_putn(t, s, strlen(s)); }

static void text_putu(text_t *t, unsigned long v) {
  char digits[MMHINT_FMT_U64_MAX];
  text_putn(t, digits, mmhint_fmt_u64(digits, v));
}

/* ---- Node masks ---------------------------------------------------------- */

int mmhint_nodemask_count(const mmhint_nodemask_t *m) {
  int n = 0;
  for (int i = 0; i < MMHINT_NODEMASK_WORDS; i++) n += __builtin_popcountll(m->bits[i]);
  return n;
}

int mmhint_nodemask_first(const mmhint_nodemask_t *m) {
  for (int i = 0; i < MMHINT_NODEMASK_WORDS; i++)
    if (m->bits[i] != 0) return i * 64 + __builtin_ctzll(m->bits[i]);
  return -1;
}

int mmhint_nodemask_last(const mmhint_nodemask_t *m) {
  for (int i = MMHINT_NODEMASK_WORDS - 1; i >= 0; i--)
    if (m->bits[i] != 0) return i * 64 + 63 - __builtin_clzll(m->bits[i]);
  return -1;
}

/* Parses a decimal node number at text[*pos]; returns it, or -1 when there is
 * no digit there, or -2 when it is MMHINT_NUMA_MAX_NODES or more. */
static int parse_node_number(const char *text, size_t len, size_t *pos) {
  size_t p = *pos;
  long v = 0;
  if (p >= len || text[p] < '0' || text[p] > '9') return -1;
  while (p < len && text[p] >= '0' && text[p] <= '9') {
    v = v * 10 + (text[p] - '0');
    if (v >= MMHINT_NUMA_MAX_NODES) v = MMHINT_NUMA_MAX_NODES; /* saturate: stays out of range, never overflows */
    p++;
  }
  *pos = p;
  return v >= MMHINT_NUMA_MAX_NODES ? -2 : (int)v;
}

/* Writes "bad node list '<text>': <why>" into `err`. */
static void list_error(char *err, size_t errlen, const char *text, size_t len, const char *why) {
  text_t t;
  text_init(&t, err, errlen);
  text_puts(&t, "bad node list '");
  text_putn(&t, text, len);
  text_puts(&t, "': ");
  text_puts(&t, why);
}

int mmhint_nodelist_parse(const char *text, size_t len, mmhint_nodemask_t *out, char *err, size_t errlen) {
  mmhint_nodemask_clear(out);
  if (errlen > 0) err[0] = '\0';
  /* Sysfs and /proc give lists with a trailing newline; it is not part of the list. */
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
  if (len == 0) {
    list_error(err, errlen, text, len, "it is empty (write nodes like 0, 0-1 or 0,2)");
    return -1;
  }
  size_t pos = 0;
  for (;;) {
    int lo = parse_node_number(text, len, &pos);
    if (lo == -2) {
      list_error(err, errlen, text, len, "node numbers must be below 1024");
      goto fail;
    }
    if (lo < 0) {
      list_error(err, errlen, text, len, "expected a node number (write nodes like 0, 0-1 or 0,2)");
      goto fail;
    }
    int hi = lo;
    if (pos < len && text[pos] == '-') {
      pos++;
      hi = parse_node_number(text, len, &pos);
      if (hi == -2) {
        list_error(err, errlen, text, len, "node numbers must be below 1024");
        goto fail;
      }
      if (hi < 0) {
        list_error(err, errlen, text, len, "expected a node number after '-'");
        goto fail;
      }
      if (hi < lo) {
        list_error(err, errlen, text, len, "a range must go from low to high (like 0-3)");
        goto fail;
      }
    }
    for (int n = lo; n <= hi; n++) mmhint_nodemask_set(out, n);
    if (pos == len) return 0;
    if (text[pos] != ',') {
      list_error(err, errlen, text, len, "nodes are separated by ',' and ranges written with '-' (like 0-3,6)");
      goto fail;
    }
    pos++;
  }
fail:
  mmhint_nodemask_clear(out);
  return -1;
}

/* Appends `m` as a LIST to `t`. */
static void put_nodelist(text_t *t, const mmhint_nodemask_t *m) {
  int first = 1;
  int n = 0;
  while (n < MMHINT_NUMA_MAX_NODES) {
    if (!mmhint_nodemask_test(m, n)) {
      n++;
      continue;
    }
    int start = n;
    while (n + 1 < MMHINT_NUMA_MAX_NODES && mmhint_nodemask_test(m, n + 1)) n++;
    if (!first) text_puts(t, ",");
    first = 0;
    text_putu(t, (unsigned long)start);
    if (n > start) {
      /* Every run of two or more nodes becomes a range, as in numactl's
       * output and the sysfs node lists. */
      text_puts(t, "-");
      text_putu(t, (unsigned long)n);
    }
    n++;
  }
}

size_t mmhint_nodelist_format(const mmhint_nodemask_t *m, char *buf, size_t len) {
  text_t t;
  text_init(&t, buf, len);
  put_nodelist(&t, m);
  return t.need;
}

/* ---- Policies ------------------------------------------------------------ */

/* The accepted forms, appended to every parse error so that the fix is in the message. */
#define POLICY_FORMS "off, local, bind:NODES, interleave:NODES or preferred:NODE, with NODES like all, 0-1, 0,2 or !0"

static const struct {
  const char *word;
  mmhint_numa_mode_t mode;
  int takes_nodes;
} policy_words[] = {
    {"off", MMHINT_NUMA_OFF, 0},                 /* also the meaning of an empty value */
    {"local", MMHINT_NUMA_LOCAL, 0},             /* numactl --localalloc */
    {"bind", MMHINT_NUMA_BIND, 1},               /* numactl --membind */
    {"interleave", MMHINT_NUMA_INTERLEAVE, 1},   /* numactl --interleave */
    {"preferred", MMHINT_NUMA_PREFERRED, 1},     /* numactl --preferred (one node) */
};

static void policy_off(mmhint_numa_policy_t *p) {
  p->mode = MMHINT_NUMA_OFF;
  p->kind = MMHINT_NODES_LISTED;
  mmhint_nodemask_clear(&p->nodes);
}

/* Writes "numa policy '<text>': <why>; use <forms>" into `err`. */
static void policy_error(char *err, size_t errlen, const char *text, const char *why, const char *why2) {
  text_t t;
  text_init(&t, err, errlen);
  text_puts(&t, "numa policy '");
  text_puts(&t, text);
  text_puts(&t, "': ");
  text_puts(&t, why);
  if (why2 != NULL) text_puts(&t, why2);
  text_puts(&t, "; use " POLICY_FORMS);
}

int mmhint_numa_parse(const char *text, mmhint_numa_policy_t *out, char *err, size_t errlen) {
  policy_off(out);
  if (errlen > 0) err[0] = '\0';
  if (text[0] == '\0') return 0;

  const char *colon = strchr(text, ':');
  size_t word_len = colon != NULL ? (size_t)(colon - text) : strlen(text);
  int found = -1;
  for (size_t i = 0; i < sizeof policy_words / sizeof policy_words[0]; i++) {
    if (strlen(policy_words[i].word) == word_len && memcmp(policy_words[i].word, text, word_len) == 0) found = (int)i;
  }
  if (found < 0) {
    policy_error(err, errlen, text, "unknown mode", NULL);
    return -1;
  }
  if (!policy_words[found].takes_nodes) {
    if (colon != NULL) {
      policy_error(err, errlen, text, policy_words[found].word, " takes no node list");
      return -1;
    }
    out->mode = policy_words[found].mode;
    return 0;
  }
  if (colon == NULL || colon[1] == '\0') {
    policy_error(err, errlen, text, policy_words[found].word, " needs nodes after ':'");
    return -1;
  }

  const char *list = colon + 1;
  mmhint_numa_policy_t p;
  p.mode = policy_words[found].mode;
  p.kind = MMHINT_NODES_LISTED;
  mmhint_nodemask_clear(&p.nodes);
  if (strcmp(list, "all") == 0) {
    p.kind = MMHINT_NODES_ALL;
  } else {
    if (list[0] == '!') {
      p.kind = MMHINT_NODES_ALL_BUT;
      list++;
    }
    char why[160];
    if (mmhint_nodelist_parse(list, strlen(list), &p.nodes, why, sizeof why) != 0) {
      policy_error(err, errlen, text, why, NULL);
      return -1;
    }
  }
  /* The kernel's MPOL_PREFERRED takes one node; numactl --preferred likewise. */
  if (p.mode == MMHINT_NUMA_PREFERRED && (p.kind != MMHINT_NODES_LISTED || mmhint_nodemask_count(&p.nodes) != 1)) {
    policy_error(err, errlen, text, "preferred takes exactly one node (like preferred:1)", NULL);
    return -1;
  }
  *out = p;
  return 0;
}

size_t mmhint_numa_format(const mmhint_numa_policy_t *p, char *buf, size_t len) {
  text_t t;
  text_init(&t, buf, len);
  const char *word = "off";
  for (size_t i = 0; i < sizeof policy_words / sizeof policy_words[0]; i++)
    if (policy_words[i].mode == p->mode) word = policy_words[i].word;
  text_puts(&t, word);
  if (p->mode == MMHINT_NUMA_OFF || p->mode == MMHINT_NUMA_LOCAL) return t.need;
  text_puts(&t, ":");
  if (p->kind == MMHINT_NODES_ALL) {
    text_puts(&t, "all");
  } else {
    if (p->kind == MMHINT_NODES_ALL_BUT) text_puts(&t, "!");
    put_nodelist(&t, &p->nodes);
  }
  return t.need;
}

int mmhint_numa_kernel_mode(mmhint_numa_mode_t mode) {
  switch (mode) {
  case MMHINT_NUMA_LOCAL: return MPOL_LOCAL;
  case MMHINT_NUMA_BIND: return MPOL_BIND;
  case MMHINT_NUMA_INTERLEAVE: return MPOL_INTERLEAVE;
  case MMHINT_NUMA_PREFERRED: return MPOL_PREFERRED;
  case MMHINT_NUMA_OFF: break;
  }
  return -1;
}

/* ---- The machine --------------------------------------------------------- */

void mmhint_numa_topology_simple(mmhint_numa_topology_t *topo, int n) {
  if (n < 1) n = 1;
  if (n > MMHINT_NUMA_MAX_NODES) n = MMHINT_NUMA_MAX_NODES;
  mmhint_nodemask_clear(&topo->present);
  for (int i = 0; i < n; i++) mmhint_nodemask_set(&topo->present, i);
  topo->allowed = topo->present;
}

/* Appends "node 3 does not exist" / "nodes 3,5 do not exist" style text. */
static void put_nodes_phrase(text_t *t, const mmhint_nodemask_t *m, const char *one, const char *many) {
  text_puts(t, mmhint_nodemask_count(m) == 1 ? "node " : "nodes ");
  put_nodelist(t, m);
  text_puts(t, mmhint_nodemask_count(m) == 1 ? one : many);
}

mmhint_numa_resolve_t mmhint_numa_resolve(const mmhint_numa_policy_t *in, const mmhint_numa_topology_t *topo,
                                          mmhint_numa_policy_t *out, char *err, size_t errlen) {
  mmhint_numa_policy_t req = *in; /* a copy, because `in` and `out` may alias */
  text_t t;
  text_init(&t, err, errlen);

  if (req.mode == MMHINT_NUMA_OFF || req.mode == MMHINT_NUMA_LOCAL) {
    out->mode = req.mode;
    out->kind = MMHINT_NODES_LISTED;
    mmhint_nodemask_clear(&out->nodes);
    return MMHINT_NUMA_RESOLVED_OK;
  }

  /* The nodes the user asked for, in concrete terms. */
  mmhint_nodemask_t want;
  if (req.kind == MMHINT_NODES_LISTED) {
    want = req.nodes;
  } else {
    want = topo->allowed;
    if (req.kind == MMHINT_NODES_ALL_BUT)
      for (int i = 0; i < MMHINT_NODEMASK_WORDS; i++) want.bits[i] &= ~req.nodes.bits[i];
  }

  /* Sort them into usable, present-but-not-allowed and absent. */
  mmhint_nodemask_t usable, forbidden, absent;
  for (int i = 0; i < MMHINT_NODEMASK_WORDS; i++) {
    usable.bits[i] = want.bits[i] & topo->present.bits[i] & topo->allowed.bits[i];
    forbidden.bits[i] = want.bits[i] & topo->present.bits[i] & ~topo->allowed.bits[i];
    absent.bits[i] = want.bits[i] & ~topo->present.bits[i];
  }

  int has_absent = mmhint_nodemask_count(&absent) > 0;
  int has_forbidden = mmhint_nodemask_count(&forbidden) > 0;
  if (has_absent) {
    put_nodes_phrase(&t, &absent, " does not exist", " do not exist");
    text_puts(&t, "; this machine has ");
    put_nodes_phrase(&t, &topo->present, "", "");
  }
  if (has_forbidden) {
    if (has_absent) text_puts(&t, "; ");
    put_nodes_phrase(&t, &forbidden, " is", " are");
    text_puts(&t, " outside this process's allowed nodes (cpuset) ");
    put_nodelist(&t, &topo->allowed);
  }
  if (mmhint_nodemask_count(&usable) == 0 && !has_absent && !has_forbidden) {
    /* Only `!LIST` covering every allowed node (or an empty allowed set) gets here. */
    text_puts(&t, "no nodes left: the allowed nodes are ");
    put_nodelist(&t, &topo->allowed);
  }

  if (mmhint_nodemask_count(&usable) == 0) {
    policy_off(out);
    return MMHINT_NUMA_RESOLVED_NONE;
  }
  out->mode = req.mode;
  out->kind = MMHINT_NODES_LISTED;
  out->nodes = usable;
  return (has_absent || has_forbidden) ? MMHINT_NUMA_RESOLVED_PARTIAL : MMHINT_NUMA_RESOLVED_OK;
}
