/*
 * policy/memroute.c: the allocation router; see memroute.h and docs/MEMORY.md.
 */
#include "policy/memroute.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "policy/alloc.h"
#include "policy/fmt.h"
#include "policy/fork.h"
#include "policy/spin.h"
#include "policy/os/os.h"
#include "policy/stats.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define MMHINT_MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#define MMHINT_REGISTRY_BITS 16            /* 65536 slots, at most 49152 live regions */
#define MMHINT_SAMPLE_PAGES 16384          /* move_pages entries per region at most; beyond, sampled and scaled */
#define MMHINT_MEASURE_BUDGET 256          /* regions measured when freed; later frees are counted unmeasured */
#define MMHINT_MEASURE_MAX_REGIONS 4096    /* live regions measured at the end */
#define MMHINT_PACK_RESERVE_MAX ((size_t)8 << 30)   /* address range reserved for packed chunks, at most */
#define MMHINT_PACK_RESERVE_MIN ((size_t)64 << 20)  /* ... halved on failure down to this */
#define MMHINT_PACK_MAX_CHUNKS (MMHINT_PACK_RESERVE_MAX / MMHINT_HUGE_SIZE)
#define MMHINT_PACK_TREATMENTS 16                   /* (THP, HUGETLB, NUMA) >> 2, and PACK_ALIGNED */
#define MMHINT_PACK_ALIGNED 8                       /* list index bit: uncoloured chunks, for requests aligned above 64 */

/* ---- Pure parts ------------------------------------------------------------- */

uint32_t mmhint_memroute_decide(const mmhint_memroute_cfg_t *cfg, uint64_t n) {
  uint32_t want = 0;
  if (n == 0) return 0;
  if (cfg->hugepages != MMHINT_HP_OFF && n >= cfg->hp_min && n <= cfg->hp_max)
    want |= cfg->hugepages == MMHINT_HP_HUGETLB ? MMHINT_RG_HUGETLB : MMHINT_RG_THP;
  if (cfg->numa_wanted && n >= cfg->numa_min && n <= cfg->numa_max) want |= MMHINT_RG_NUMA;
  return want;
}

uint64_t mmhint_memroute_threshold(const mmhint_memroute_cfg_t *cfg) {
  uint64_t t = UINT64_MAX;
  if (cfg->hugepages != MMHINT_HP_OFF && cfg->hp_min <= cfg->hp_max) t = cfg->hp_min;
  if (cfg->numa_wanted && cfg->numa_min <= cfg->numa_max && cfg->numa_min < t) t = cfg->numa_min;
  return t == 0 ? 1 : t;
}

uintptr_t mmhint_memroute_trim(uintptr_t raw, size_t raw_len, size_t len, size_t align, size_t *head, size_t *tail) {
  uintptr_t start = (raw + align - 1) & ~(uintptr_t)(align - 1);
  if (start < raw || start - raw > raw_len || raw_len - (start - raw) < len) return 0;
  *head = start - raw;
  *tail = raw_len - *head - len;
  return start;
}

/* ---- The registry ------------------------------------------------------------ */

#define SLOT_EMPTY ((uintptr_t)0)
#define SLOT_DELETED ((uintptr_t)1)

static inline uint32_t slot_of(uintptr_t key, uint32_t bits) {
  /* Keys are mostly 2 MiB aligned: hash the bits above the page offset. */
  return (uint32_t)(((uint64_t)(key >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* log2 of the slots per span of the `used` bitmap. */
static inline uint32_t span_shift(uint32_t bits) {
  return bits > 9 ? bits - 9 : 0; /* 2^9 == MMHINT_REGISTRY_SPANS */
}

void mmhint_registry_init(mmhint_registry_t *r, mmhint_region_t *mem, uint32_t bits) {
  r->slots = mem;
  r->bits = bits;
  r->live = 0;
  memset(r->used, 0, sizeof r->used);
}

mmhint_region_t *mmhint_registry_insert(mmhint_registry_t *r, uintptr_t key, size_t len, size_t req, uint32_t flags) {
  uint32_t cap = 1u << r->bits, mask = cap - 1;
  if (!r->slots || key <= SLOT_DELETED) return NULL;
  uint32_t live = __atomic_add_fetch(&r->live, 1, __ATOMIC_RELAXED);
  if (live > cap - cap / 4) {
    __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  for (uint32_t i = slot_of(key, r->bits), n = 0; n < cap; i = (i + 1) & mask, n++) {
    mmhint_region_t *e = &r->slots[i];
    uintptr_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
    if (k != SLOT_EMPTY && k != SLOT_DELETED) continue;
    if (!__atomic_compare_exchange_n(&e->key, &k, key, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    e->req = req;
    e->flags = flags;
    uint32_t span = i >> span_shift(r->bits);
    uint64_t bit = (uint64_t)1 << (span % 64);
    if (!(__atomic_load_n(&r->used[span / 64], __ATOMIC_RELAXED) & bit))
      __atomic_fetch_or(&r->used[span / 64], bit, __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, len, __ATOMIC_RELEASE); /* publishes the span bit with the region */
    return e;
  }
  __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
  return NULL;
}

mmhint_region_t *mmhint_registry_find(const mmhint_registry_t *r, uintptr_t key) {
  uint32_t cap = 1u << r->bits, mask = cap - 1;
  if (!r->slots || key <= SLOT_DELETED) return NULL;
  for (uint32_t i = slot_of(key, r->bits), n = 0; n < cap; i = (i + 1) & mask, n++) {
    uintptr_t k = __atomic_load_n(&r->slots[i].key, __ATOMIC_ACQUIRE);
    if (k == key) return &r->slots[i];
    if (k == SLOT_EMPTY) return NULL;
  }
  return NULL;
}

void mmhint_registry_remove(mmhint_registry_t *r, mmhint_region_t *e) {
  __atomic_store_n(&e->len, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&e->key, SLOT_DELETED, __ATOMIC_RELEASE);
  __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
}

mmhint_region_t *mmhint_registry_next(const mmhint_registry_t *r, size_t *pos) {
  if (!r->slots) return NULL;
  size_t cap = (size_t)1 << r->bits, shift = span_shift(r->bits);
  for (size_t i = *pos; i < cap;) {
    size_t span = i >> shift;
    if (!(__atomic_load_n(&r->used[span / 64], __ATOMIC_ACQUIRE) & ((uint64_t)1 << (span % 64)))) {
      i = (span + 1) << shift; /* never written: skip the span without reading it */
      continue;
    }
    mmhint_region_t *e = &r->slots[i++];
    uintptr_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
    if (k <= SLOT_DELETED || !__atomic_load_n(&e->len, __ATOMIC_ACQUIRE)) continue;
    *pos = i;
    return e;
  }
  *pos = cap;
  return NULL;
}

/* ---- smaps ------------------------------------------------------------------------ */

static uint64_t parse_hex(const char **p) {
  uint64_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else return v;
  }
}

static uint64_t parse_dec(const char *p) {
  uint64_t v = 0;
  while (*p == ' ' || *p == '\t') p++;
  while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
  return v;
}

/* The bytes of [start, end) inside the ranges (sorted by start, not overlapping). */
static uint64_t inside_ranges(uint64_t start, uint64_t end, const uint64_t (*r)[2], size_t n) {
  /* Binary search for the first range that ends after start. */
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r[mid][1] <= start) lo = mid + 1;
    else hi = mid;
  }
  uint64_t inside = 0;
  for (size_t k = lo; k < n && r[k][0] < end; k++) {
    uint64_t a = r[k][0] > start ? r[k][0] : start, b = r[k][1] < end ? r[k][1] : end;
    if (b > a) inside += b - a;
  }
  return inside;
}

/* One complete line of smaps. */
static void smaps_line(mmhint_smaps_state_t *st, const char *l, const uint64_t (*r)[2], size_t n, uint64_t *bytes) {
  if ((l[0] >= '0' && l[0] <= '9') || (l[0] >= 'a' && l[0] <= 'f')) {
    const char *p = l;
    uint64_t s = parse_hex(&p);
    if (*p == '-') {
      p++;
      st->start = s;
      st->end = parse_hex(&p);
      st->have_vma = st->end > st->start;
      return;
    }
  }
  if (!st->have_vma || strncmp(l, "AnonHugePages:", 14) != 0) return;
  uint64_t kb = parse_dec(l + 14);
  if (!kb) return;
  uint64_t inside = inside_ranges(st->start, st->end, r, n), vlen = st->end - st->start;
  /* A VMA merged from several regions, or holding more than the ranges: attribute its huge pages by share. */
  if (inside) *bytes += inside >= vlen ? kb * 1024 : (uint64_t)((unsigned __int128)kb * 1024 * inside / vlen);
}

void mmhint_smaps_feed_ranges(mmhint_smaps_state_t *st, const char *text, size_t len, const uint64_t (*ranges)[2],
                              size_t n, uint64_t *bytes) {
  if (len == 0) {
    if (st->n) {
      st->line[st->n] = '\0';
      smaps_line(st, st->line, ranges, n, bytes);
      st->n = 0;
    }
    return;
  }
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == '\n') {
      st->line[st->n] = '\0';
      smaps_line(st, st->line, ranges, n, bytes);
      st->n = 0;
    } else if (st->n < sizeof st->line - 1) {
      st->line[st->n++] = c; /* longer lines (paths) are cut: only their start matters */
    }
  }
}

void mmhint_smaps_feed(mmhint_smaps_state_t *st, const char *text, size_t len, uint64_t lo, uint64_t hi,
                       uint64_t *bytes) {
  const uint64_t range[1][2] = {{lo, hi}};
  mmhint_smaps_feed_ranges(st, text, len, range, 1, bytes);
}

/* ---- State ---------------------------------------------------------------------- */

uint64_t mmhint_memroute_min = UINT64_MAX;
int mmhint_memroute_active;
mmhint_registry_t mmhint_memroute_regions;
mmhint_memroute_stats_t mmhint_memroute_stats;

static _Alignas(64) mmhint_memroute_cfg_t cfg; /* one line for decide() */
static int thp_never;                 /* the system's THP mode is never */
static char thp_mode[16] = "unknown"; /* the system's THP mode */
static mmhint_numa_policy_t numa_process;
static int numa_process_wanted;
static char numa_text[MMHINT_STRING_MAX], numa_process_text[MMHINT_STRING_MAX];
static char nodes_online[64] = "0", mems_allowed[64] = "0";
static mmhint_nodemask_t present_nodes;  /* every one gets a numa_pages key, 0 included */
static uint32_t warned;               /* one bit per fallback reason */
static int measure_budget = MMHINT_MEASURE_BUDGET;

/* The statistics' "memory" section, registered by mmhint_memroute_init (rendering is at the end of this file). */
static void render_memory(mmhint_json_t *j);
static void reset_memory(void);
static const mmhint_stats_section_t memory_section = {
    .name = "memory",
    .kind = MMHINT_SECTION_PROCESS,
    .render_process = render_memory,
    .reset = reset_memory,
};

static const char *const fallback_docs[] = {
#define MMHINT_X_DOC(name, doc) doc,
    MMHINT_ROUTE_FALLBACKS(MMHINT_X_DOC)
#undef MMHINT_X_DOC
};

/* Counts a fallback; the first of each reason is explained on stderr (with `detail`, may be ""). */
static void fallback(int reason, const char *detail) {
  mmhint_count(&mmhint_memroute_stats.fallbacks[reason], 1);
  uint32_t bit = 1u << reason;
  if (__atomic_fetch_or(&warned, bit, __ATOMIC_RELAXED) & bit) return;
  int has = detail && *detail;
  mmhint_os_warn(fallback_docs[reason], has ? " (" : "", has ? detail : "", has ? ")" : "");
}

static const char *errno_name(long e) {
  switch (e) {
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOSYS: return "ENOSYS";
    case EFAULT: return "EFAULT";
    case EIO: return "EIO";
    default: return "error";
  }
}

/* ---- Start-up ---------------------------------------------------------------------- */

/* Reads a small /proc or /sys file into buf (NUL-terminated); returns its length or -1. */
static long read_small(const char *path, char *buf, size_t len) {
  long fd = mmhint_os_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  size_t have = 0;
  long n;
  while (have < len - 1 && (n = mmhint_os_read((int)fd, buf + have, len - 1 - have)) > 0) have += (size_t)n;
  mmhint_os_close((int)fd);
  buf[have] = '\0';
  return (long)have;
}

/* Fills topo from /sys/devices/system/node/online and Mems_allowed_list (node 0 when absent). */
static void read_topology(mmhint_numa_topology_t *topo) {
  char buf[4096];
  mmhint_numa_topology_simple(topo, 1);
  if (read_small("/sys/devices/system/node/online", buf, sizeof buf) > 0) {
    mmhint_nodemask_t m;
    if (mmhint_nodelist_parse(buf, strlen(buf), &m, NULL, 0) == 0) topo->present = m;
  }
  topo->allowed = topo->present;
  if (read_small("/proc/self/status", buf, sizeof buf) > 0) {
    const char *p = strstr(buf, "Mems_allowed_list:");
    if (p) {
      p += 18;
      while (*p == ' ' || *p == '\t') p++;
      const char *e = strchr(p, '\n');
      mmhint_nodemask_t m;
      if (mmhint_nodelist_parse(p, e ? (size_t)(e - p) : strlen(p), &m, NULL, 0) == 0) topo->allowed = m;
    }
  }
  present_nodes = topo->present;
  mmhint_nodelist_format(&topo->present, nodes_online, sizeof nodes_online);
  mmhint_nodelist_format(&topo->allowed, mems_allowed, sizeof mems_allowed);
}

/*
 * Parses and resolves one NUMA option.  Returns 1 when placement was asked
 * for; `out` is the usable policy (off when none).  Unusable nodes are
 * reported once here; PARTIAL keeps the usable subset.
 */
static int numa_option(const char *name, int reason, const char *text, const mmhint_numa_topology_t *topo,
                       mmhint_numa_policy_t *out) {
  char err[256];
  mmhint_numa_policy_t p;
  if (mmhint_numa_parse(text, &p, err, sizeof err) != 0) {
    mmhint_os_warn(name, ": ", err, NULL); /* the config loader validated it already */
    out->mode = MMHINT_NUMA_OFF;
    return 0;
  }
  if (p.mode == MMHINT_NUMA_OFF) {
    *out = p;
    return 0;
  }
  mmhint_numa_resolve_t r = mmhint_numa_resolve(&p, topo, out, err, sizeof err);
  if (r == MMHINT_NUMA_RESOLVED_PARTIAL) mmhint_os_warn(name, ": ", err, "; using the nodes that exist");
  if (r == MMHINT_NUMA_RESOLVED_NONE) {
    out->mode = MMHINT_NUMA_OFF;
    char why[320];
    size_t n = 0;
    for (const char *q = name; *q && n < sizeof why - 1; q++) why[n++] = *q;
    for (const char *q = ": "; *q && n < sizeof why - 1; q++) why[n++] = *q;
    for (const char *q = err; *q && n < sizeof why - 1; q++) why[n++] = *q;
    why[n] = '\0';
    fallback(reason, why);
  }
  return 1;
}

/* Calls mbind or set_mempolicy (set when addr is NULL) for policy p; returns 0 or -errno. */
static long apply_policy(void *addr, size_t len, const mmhint_numa_policy_t *p) {
  int mode = mmhint_numa_kernel_mode(p->mode);
  if (mode < 0) return 0;
  const unsigned long *mask = NULL;
  unsigned long maxnode = 0;
  if (p->mode != MMHINT_NUMA_LOCAL) {
    mask = (const unsigned long *)p->nodes.bits;
    maxnode = MMHINT_NUMA_MAX_NODES + 1;
  }
  if (!addr) return mmhint_os_set_mempolicy(mode, mask, maxnode);
  return mmhint_os_mbind(addr, len, mode, mask, maxnode, 0);
}

void mmhint_memroute_init(const mmhint_values_t *v) {
  mmhint_stats_section_register(&memory_section);
  memset(&cfg, 0, sizeof cfg);
  cfg.hugepages = (int)v->num[MMHINT_OPT_hugepages];
  cfg.hp_min = (uint64_t)v->num[MMHINT_OPT_hugepage_min];
  cfg.hp_max = (uint64_t)v->num[MMHINT_OPT_hugepage_max];
  cfg.numa_min = (uint64_t)v->num[MMHINT_OPT_numa_min];
  cfg.numa_max = (uint64_t)v->num[MMHINT_OPT_numa_max];
  memcpy(numa_text, v->str[MMHINT_OPT_numa], sizeof numa_text);
  memcpy(numa_process_text, v->str[MMHINT_OPT_numa_process], sizeof numa_process_text);

  char buf[256];
  if (read_small("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) > 0) {
    const char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b && (size_t)(b - a - 1) < sizeof thp_mode) {
      memcpy(thp_mode, a + 1, (size_t)(b - a - 1));
      thp_mode[b - a - 1] = '\0';
    }
  } else {
    memcpy(thp_mode, "absent", 7);
  }
  thp_never = strcmp(thp_mode, "never") == 0 || strcmp(thp_mode, "absent") == 0;

  int want_numa = strcmp(numa_text, "off") != 0 && numa_text[0];
  numa_process_wanted = strcmp(numa_process_text, "off") != 0 && numa_process_text[0];
  mmhint_nodemask_clear(&present_nodes);
  mmhint_nodemask_set(&present_nodes, 0);
  if (want_numa || numa_process_wanted || mmhint_memroute_threshold(&cfg) != UINT64_MAX) {
    mmhint_numa_topology_t topo;
    read_topology(&topo);
    if (want_numa) cfg.numa_wanted = numa_option("numa", MMHINT_RF_numa_nodes, numa_text, &topo, &cfg.numa);
    if (numa_process_wanted && numa_option("numa_process", MMHINT_RF_numa_process, numa_process_text, &topo, &numa_process) &&
        numa_process.mode != MMHINT_NUMA_OFF) {
      long r = apply_policy(NULL, 0, &numa_process);
      if (r < 0) fallback(MMHINT_RF_numa_process, errno_name(-r));
    }
  }
  uint64_t t = mmhint_memroute_threshold(&cfg);
  if (t == UINT64_MAX) return;
  size_t bytes = ((size_t)1 << MMHINT_REGISTRY_BITS) * sizeof(mmhint_region_t);
  void *mem = mmhint_os_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    fallback(MMHINT_RF_map_failed, "no memory for the region registry; routing is off");
    return;
  }
  mmhint_registry_init(&mmhint_memroute_regions, mem, MMHINT_REGISTRY_BITS);
  __atomic_store_n(&mmhint_memroute_min, t, __ATOMIC_RELEASE);
}

/* ---- Mapping ------------------------------------------------------------------------- */

/*
 * Maps len bytes aligned to align (>= 2 MiB), or returns NULL; hugetlb: len
 * is 2 MiB rounded.  Normal mappings keep an unmapped page on each side, so
 * the kernel cannot merge two routed regions into one VMA: smaps then
 * reports each region's huge pages on their own.
 */
static void *map_aligned(size_t len, size_t align, int prot, int extra_flags) {
  int huge = (extra_flags & MAP_HUGETLB) != 0;
  size_t guard = huge ? 0 : MMHINT_PAGE_SIZE;
  size_t raw_len = len + align + guard - (huge ? MMHINT_HUGE_SIZE : 0);
  if (raw_len < len) return NULL;
  void *r = mmhint_os_mmap(NULL, raw_len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (r == MAP_FAILED) return NULL;
  size_t head, tail;
  uintptr_t p = mmhint_memroute_trim((uintptr_t)r + guard, raw_len - 2 * guard, len, align, &head, &tail);
  if (!p) {
    mmhint_os_munmap(r, raw_len);
    return NULL;
  }
  head += guard;
  tail += guard;
  if (head) mmhint_os_munmap(r, head);
  if (tail) mmhint_os_munmap((void *)(p + len), tail);
  return (void *)p;
}

/*
 * Maps n bytes with treatment `want` (THP/HUGETLB/NUMA), falling back as
 * needed; sets *len_out and returns the start with the treatment it got in
 * *got, or NULL.  addr_hint: the program's address hint (NULL: align).
 */
static void *map_region(size_t n, size_t align, uint32_t want, int prot, int flags, void *addr_hint, size_t *len_out,
                        uint32_t *got) {
  void *p = NULL;
  size_t len = 0;
  *got = 0;
  if (align < MMHINT_HUGE_SIZE) align = MMHINT_HUGE_SIZE;
  if ((want & MMHINT_RG_HUGETLB) && !addr_hint && (prot & PROT_WRITE) && !(flags & MAP_NORESERVE)) {
    len = mmhint_round_up(n, MMHINT_HUGE_SIZE);
    /* Private hugetlb mappings reserve their pages here, so a later fault cannot SIGBUS. */
    p = len ? map_aligned(len, align, prot, MAP_HUGETLB | MMHINT_MAP_HUGE_2MB | (flags & ~(MAP_PRIVATE | MAP_ANONYMOUS)))
            : NULL;
    if (p) {
      *got |= MMHINT_RG_HUGETLB;
    } else {
      fallback(MMHINT_RF_hugetlb_pool, "");
      want |= MMHINT_RG_THP;
    }
  } else if (want & MMHINT_RG_HUGETLB) {
    want |= MMHINT_RG_THP; /* hinted, read-only or MAP_NORESERVE mappings: THP instead (no fallback) */
  }
  if (!p) {
    len = mmhint_round_up(n, MMHINT_PAGE_SIZE);
    if (!len) return NULL;
    if (addr_hint) {
      p = mmhint_os_mmap(addr_hint, len, prot, flags, -1, 0);
      if (p == MAP_FAILED) p = NULL;
    } else {
      p = map_aligned(len, align, prot, flags & ~(MAP_PRIVATE | MAP_ANONYMOUS));
    }
    if (!p) return NULL;
    if (want & MMHINT_RG_THP) {
      long r = thp_never ? -EINVAL : mmhint_os_madvise(p, len, MADV_HUGEPAGE);
      if (r == 0) *got |= MMHINT_RG_THP;
      else fallback(MMHINT_RF_thp_unavailable, thp_never ? "the system's THP mode is never" : errno_name(-r));
    }
  }
  if (want & MMHINT_RG_NUMA) {
    if (cfg.numa.mode == MMHINT_NUMA_OFF) {
      fallback(MMHINT_RF_numa_nodes, "");
    } else {
      /* Before the first touch, so every page is placed by the policy. */
      long r = apply_policy(p, len, &cfg.numa);
      if (r == 0) *got |= MMHINT_RG_NUMA;
      else fallback(MMHINT_RF_mbind_failed, errno_name(-r));
    }
  }
  *len_out = len;
  return p;
}

/* Registers a fresh region and counts it; on a full registry unmaps it and returns NULL. */
static void *enlist(void *p, size_t len, size_t req, uint32_t flags) {
  if (!mmhint_registry_insert(&mmhint_memroute_regions, (uintptr_t)p, len, req, flags)) {
    mmhint_os_munmap(p, len);
    fallback(MMHINT_RF_registry_full, "");
    return NULL;
  }
  uint64_t *c = mmhint_memroute_stats.c;
  mmhint_count(&c[flags & MMHINT_RG_MALLOC ? MMHINT_RC_routed_allocs : MMHINT_RC_routed_mmaps], 1);
  mmhint_count(&c[MMHINT_RC_routed_bytes_requested], req);
  mmhint_count(&c[MMHINT_RC_routed_bytes_mapped], len);
  if (flags & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) mmhint_count(&c[MMHINT_RC_huge_requested_bytes], len);
  if (flags & MMHINT_RG_HUGETLB) mmhint_count(&c[MMHINT_RC_hugetlb_bytes], len);
  if (flags & MMHINT_RG_NUMA) mmhint_count(&c[MMHINT_RC_numa_regions], 1);
  return p;
}

/* ---- Packing allocations below a huge page ------------------------------------------- */

/*
 * Chunks are carved in order from one range reserved PROT_NONE (MAP_NORESERVE:
 * address space only) at the first packed allocation, so free() recognises a
 * packed block by one compare.  A chunk holds one class and one treatment
 * (the THP/HUGETLB/NUMA bits the policy gives its sizes, and whether it is
 * coloured: mmhint_pack_colour) for life; freed blocks go on a list per
 * (class, treatment), the next pointer in the block, and the last freed is
 * served first, as glibc's bins do, so that a malloc/free loop keeps using
 * one block that stays in the cache.
 * One lock, a leaf, guards the lists, the bump pointers and the carving.
 */
uintptr_t mmhint_memroute_pack_base;
size_t mmhint_memroute_pack_len;
static int pack_lock;
static int pack_reserve_failed;
static size_t pack_chunks;                                     /* carved so far */
/*
 * What free() reads of a chunk, and what malloc() reads and writes of a
 * list, are each kept in one place (one cache line per call, not one per
 * array), so that the routed pair touches as few lines as glibc's does.
 */
typedef struct {
  uint8_t klass;  /* class + 1 (0: not carved); written last, with release */
  uint8_t treat;  /* the list index it was carved for: treatment, and PACK_ALIGNED */
  uint8_t got;    /* MMHINT_RG_* bits it obtained */
  uint8_t colour; /* its first block's offset, in cache lines */
} pack_chunk_t;
typedef struct {
  void *free;      /* the last freed block; its first word links to the one freed before */
  uintptr_t next;  /* the bump pointer of the newest chunk ... */
  uintptr_t end;   /* ... and its end */
  uintptr_t pad;
} pack_list_t;
static pack_chunk_t chunk_info[MMHINT_PACK_MAX_CHUNKS];
static pack_list_t lists[MMHINT_PACK_CLASSES][MMHINT_PACK_TREATMENTS];

/* Reserves the packed range (called under the lock); returns nonzero when it exists. */
static int pack_reserve(void) {
  if (mmhint_memroute_pack_len) return 1;
  if (pack_reserve_failed) return 0;
  /* Under an address-space limit (ulimit -v) take at most an eighth of it: the reservation counts against it. */
  size_t max = MMHINT_PACK_RESERVE_MAX;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    while (max >= MMHINT_PACK_RESERVE_MIN && max > rl.rlim_cur / 8) max /= 2;
  for (size_t len = max; len >= MMHINT_PACK_RESERVE_MIN; len /= 2) {
    size_t raw_len = len + MMHINT_HUGE_SIZE;
    void *r = mmhint_os_mmap(NULL, raw_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) continue;
    size_t head, tail;
    uintptr_t p = mmhint_memroute_trim((uintptr_t)r, raw_len, len, MMHINT_HUGE_SIZE, &head, &tail);
    if (!p) {
      mmhint_os_munmap(r, raw_len);
      continue;
    }
    if (head) mmhint_os_munmap(r, head);
    if (tail) mmhint_os_munmap((void *)(p + len), tail);
    __atomic_store_n(&mmhint_memroute_pack_base, p, __ATOMIC_RELEASE);
    __atomic_store_n(&mmhint_memroute_pack_len, len, __ATOMIC_RELEASE);
    return 1;
  }
  pack_reserve_failed = 1;
  fallback(MMHINT_RF_pack_full, "no address space for the packed range");
  return 0;
}

/*
 * Maps the next chunk of the range for class c, treatment `want` and list
 * index t (under the lock); returns the address of its first block, or 0.
 */
static uintptr_t pack_carve(uint32_t c, uint32_t want, uint32_t t) {
  if (pack_chunks >= mmhint_memroute_pack_len / MMHINT_HUGE_SIZE) {
    fallback(MMHINT_RF_pack_full, "");
    return 0;
  }
  uintptr_t ch = mmhint_memroute_pack_base + pack_chunks * MMHINT_HUGE_SIZE;
  /* MAP_FIXED over the shim's own reservation: one system call, nobody else's mapping is there. */
  void *r = mmhint_os_mmap((void *)ch, MMHINT_HUGE_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  if (r == MAP_FAILED) {
    /*
     * Never map over this chunk again: a failed MAP_FIXED may have left a hole
     * that another mapping now fills.  Its class stays 0, so free() does not
     * take such a mapping's pointers for packed blocks.
     */
    pack_chunks++;
    fallback(MMHINT_RF_map_failed, "");
    return 0;
  }
  uint32_t got = 0;
  /* hugetlb cannot replace a reservation in one step without a window for other mappings: THP instead. */
  if (want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) {
    long e = thp_never ? -EINVAL : mmhint_os_madvise(r, MMHINT_HUGE_SIZE, MADV_HUGEPAGE);
    if (e == 0) got |= MMHINT_RG_THP;
    else fallback(MMHINT_RF_thp_unavailable, thp_never ? "the system's THP mode is never" : errno_name(-e));
  }
  if (want & MMHINT_RG_NUMA) {
    if (cfg.numa.mode == MMHINT_NUMA_OFF) {
      fallback(MMHINT_RF_numa_nodes, "");
    } else {
      long e = apply_policy(r, MMHINT_HUGE_SIZE, &cfg.numa);
      if (e == 0) got |= MMHINT_RG_NUMA;
      else fallback(MMHINT_RF_mbind_failed, errno_name(-e));
    }
  }
  size_t i = pack_chunks++;
  uint32_t colour = t & MMHINT_PACK_ALIGNED ? 0 : mmhint_pack_colour(c, i);
  chunk_info[i].treat = (uint8_t)t;
  chunk_info[i].got = (uint8_t)got;
  chunk_info[i].colour = (uint8_t)(colour / MMHINT_PACK_COLOUR_ALIGN);
  __atomic_store_n(&chunk_info[i].klass, (uint8_t)(c + 1), __ATOMIC_RELEASE);
  uint64_t *k = mmhint_memroute_stats.c;
  mmhint_count(&k[MMHINT_RC_packed_chunks], 1);
  mmhint_count(&k[MMHINT_RC_routed_bytes_mapped], MMHINT_HUGE_SIZE);
  if (want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) mmhint_count(&k[MMHINT_RC_huge_requested_bytes], MMHINT_HUGE_SIZE);
  if (got & MMHINT_RG_NUMA) mmhint_count(&k[MMHINT_RC_numa_regions], 1);
  return ch + colour;
}

/*
 * Serves n < 2 MiB bytes of class c, aligned to `align`, with treatment
 * `want` from a packed chunk; NULL when it cannot.
 */
static void *pack_alloc(size_t n, uint32_t c, uint32_t want, size_t align, int zero) {
  uint32_t t = ((want >> 2) & 7) | (align > MMHINT_PACK_COLOUR_ALIGN ? MMHINT_PACK_ALIGNED : 0);
  size_t sz = (size_t)mmhint_pack_class_size(c);
  void *p;
  int reused = 0;
  mmhint_spin_lock(&pack_lock);
  if (!pack_reserve()) {
    mmhint_spin_unlock(&pack_lock);
    return NULL;
  }
  pack_list_t *l = &lists[c][t];
  p = l->free;
  if (p) {
    l->free = *(void **)p;
    reused = 1;
  } else {
    if (l->end - l->next < sz) {
      uintptr_t first = pack_carve(c, want, t);
      if (!first) {
        mmhint_spin_unlock(&pack_lock);
        return NULL;
      }
      l->next = first;
      l->end = (first & ~(uintptr_t)MMHINT_HUGE_MASK) + MMHINT_HUGE_SIZE;
    }
    p = (void *)l->next;
    l->next += sz;
  }
  mmhint_spin_unlock(&pack_lock);
  if (reused) {
    if (zero) memset(p, 0, n);
    else *(void **)p = NULL; /* the list link is not the program's */
  }
  uint64_t *k = mmhint_memroute_stats.c;
  mmhint_count(&k[MMHINT_RC_routed_allocs], 1);
  mmhint_count(&k[MMHINT_RC_packed_allocs], 1);
  mmhint_count(&k[MMHINT_RC_routed_bytes_requested], n);
  return p;
}

/* The chunk index of p in the packed range and its class, or -1 when p is not a block start of a carved chunk. */
static long pack_chunk_of(const void *p, uint32_t *c) {
  uintptr_t off = (uintptr_t)p - mmhint_memroute_pack_base;
  size_t i = off / MMHINT_HUGE_SIZE;
  if (off >= mmhint_memroute_pack_len) return -1;
  uint8_t c1 = __atomic_load_n(&chunk_info[i].klass, __ATOMIC_ACQUIRE);
  if (!c1) return -1;
  *c = c1 - 1u;
  size_t in = off & MMHINT_HUGE_MASK, colour = (size_t)chunk_info[i].colour * MMHINT_PACK_COLOUR_ALIGN;
  if (in < colour || (in - colour) % mmhint_pack_class_size(*c)) return -1;
  return (long)i;
}

size_t mmhint_memroute_pack_size(const void *p) {
  uint32_t c;
  return pack_chunk_of(p, &c) < 0 ? 0 : (size_t)mmhint_pack_class_size(c);
}

int mmhint_memroute_pack_free(void *p) {
  uint32_t c;
  long i = pack_chunk_of(p, &c);
  if (i < 0) return 0;
  uint32_t t = chunk_info[i].treat;
  mmhint_spin_lock(&pack_lock);
  *(void **)p = lists[c][t].free;
  lists[c][t].free = p;
  mmhint_spin_unlock(&pack_lock);
  mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_routed_frees], 1);
  mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_packed_frees], 1);
  return 1;
}

void *mmhint_memroute_pack_resize(void *p, size_t n) {
  uint32_t c;
  long i = pack_chunk_of(p, &c);
  if (i < 0 || n == 0 || n >= MMHINT_HUGE_SIZE) return NULL;
  uint32_t want = mmhint_memroute_decide(&cfg, n);
  if (!want || ((want >> 2) & 7) != (chunk_info[i].treat & 7u) || mmhint_pack_class(n) != c) return NULL;
  return p;
}

void mmhint_memroute_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&pack_lock);
  else if (phase == MMHINT_FORK_PARENT) mmhint_spin_unlock(&pack_lock);
  else __atomic_store_n(&pack_lock, 0, __ATOMIC_RELEASE);
}

void *mmhint_memroute_alloc(size_t n, size_t align, int zero) {
  uint32_t want = mmhint_memroute_decide(&cfg, n);
  if (!want || (align & (align - 1))) return NULL;
  if (n < MMHINT_HUGE_SIZE) {
    /* Below a huge page a region of its own obtains nothing and costs a mapping per allocation: pack it. */
    uint32_t c = mmhint_pack_class_aligned(n, align);
    if (c < MMHINT_PACK_CLASSES) {
      void *q = pack_alloc(n, c, want, align, zero);
      if (q) return q;
      if (pack_reserve_failed || pack_chunks >= mmhint_memroute_pack_len / MMHINT_HUGE_SIZE) return NULL;
    }
  }
  size_t len;
  uint32_t got;
  void *p = map_region(n, align, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, &len, &got);
  if (!p) {
    fallback(MMHINT_RF_map_failed, "");
    return NULL;
  }
  /* Huge-page routing that fell back to normal pages still counts as requested. */
  if ((want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) && !(got & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)))
    mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_huge_requested_bytes], len);
  p = enlist(p, len, n, got | MMHINT_RG_MALLOC);
  if (p && !mmhint_memroute_active) __atomic_store_n(&mmhint_memroute_active, 1, __ATOMIC_RELEASE);
  return p;
}

void *mmhint_memroute_mmap(void *addr, size_t len, int prot, int flags) {
  uint32_t want = mmhint_memroute_decide(&cfg, len);
  if (!want) return NULL;
  size_t maplen;
  uint32_t got;
  void *p = map_region(len, MMHINT_HUGE_SIZE, want, prot, flags, addr, &maplen, &got);
  if (!p) return NULL; /* the caller maps it as asked and reports the kernel's error */
  if ((want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) && !(got & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)))
    mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_huge_requested_bytes], maplen);
  if (!enlist(p, maplen, len, got | MMHINT_RG_MMAP)) return NULL;
  return p;
}

/* ---- Measuring ------------------------------------------------------------------------ */

/*
 * Returns the AnonHugePages bytes of this process's VMAs that lie inside the
 * n ranges (sorted, not overlapping), reading /proc/self/smaps in one pass; 0
 * when it cannot be read.
 */
static uint64_t smaps_huge_bytes(const uint64_t (*ranges)[2], size_t n) {
  uint64_t bytes = 0;
  long fd = mmhint_os_open("/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  mmhint_smaps_state_t st;
  memset(&st, 0, sizeof st);
  char buf[8192];
  long got;
  while ((got = mmhint_os_read((int)fd, buf, sizeof buf)) > 0)
    mmhint_smaps_feed_ranges(&st, buf, (size_t)got, ranges, n, &bytes);
  mmhint_smaps_feed_ranges(&st, buf, 0, ranges, n, &bytes);
  mmhint_os_close((int)fd);
  return bytes;
}

/*
 * Adds the pages of [base, base+len) per node to per_node (MMHINT_ROUTE_NODES
 * + 1 counters): move_pages with NULL nodes on at most MMHINT_SAMPLE_PAGES
 * evenly spaced pages, scaled to the whole region.  Pages not present are not
 * counted.  Returns 1 when it sampled (scaled), 0 when it counted every page.
 */
static int measure_nodes(uintptr_t base, size_t len, uint64_t *per_node) {
  size_t pages = len / MMHINT_PAGE_SIZE;
  size_t n = pages < MMHINT_SAMPLE_PAGES ? pages : MMHINT_SAMPLE_PAGES;
  uint64_t counts[MMHINT_ROUTE_NODES + 1];
  memset(counts, 0, sizeof counts);
  void *addrs[256];
  int status[256];
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    for (; k < 256 && i < n; k++, i++)
      addrs[k] = (void *)(base + (size_t)((unsigned __int128)i * pages / n) * MMHINT_PAGE_SIZE);
    if (mmhint_os_move_pages(0, k, addrs, NULL, status, 0) < 0) return 0;
    for (size_t j = 0; j < k; j++)
      if (status[j] >= 0) counts[status[j] < MMHINT_ROUTE_NODES ? status[j] : MMHINT_ROUTE_NODES]++;
  }
  for (int i = 0; i <= MMHINT_ROUTE_NODES; i++)
    if (counts[i]) per_node[i] += n == pages ? counts[i] : (uint64_t)((unsigned __int128)counts[i] * pages / n);
  return n != pages;
}

/*
 * Nonzero when [start, start + len) holds a whole 2 MiB-aligned 2 MiB range,
 * the least a huge page (a PMD mapping, what smaps counts as AnonHugePages)
 * needs.  A region that does not can have none, so it is not looked for in
 * smaps: reading smaps walks the page tables of every mapping of the process.
 */
static int can_hold_huge(uintptr_t start, size_t len) {
  uint64_t a = mmhint_round_up(start, MMHINT_HUGE_SIZE);
  return a && a - start <= len && len - (a - start) >= MMHINT_HUGE_SIZE;
}

/* Measures a region about to be unmapped into the freed totals, within the budget. */
static void measure_freed(const mmhint_region_t *e) {
  uint64_t *c = mmhint_memroute_stats.c;
  if (__atomic_sub_fetch(&measure_budget, 1, __ATOMIC_RELAXED) < 0) {
    mmhint_count(&c[MMHINT_RC_unmeasured_frees], 1);
    return;
  }
  int saved = errno;
  mmhint_count(&c[MMHINT_RC_measured_frees], 1);
  if ((e->flags & MMHINT_RG_THP) && can_hold_huge(e->key, e->len)) {
    const uint64_t region[1][2] = {{e->key, e->key + e->len}};
    mmhint_count(&c[MMHINT_RC_thp_bytes_freed], smaps_huge_bytes(region, 1));
  }
  uint64_t nodes[MMHINT_ROUTE_NODES + 1];
  memset(nodes, 0, sizeof nodes);
  if (measure_nodes(e->key, e->len, nodes)) mmhint_count(&c[MMHINT_RC_numa_pages_scaled], 1);
  for (int i = 0; i <= MMHINT_ROUTE_NODES; i++)
    if (nodes[i]) mmhint_count(&mmhint_memroute_stats.numa_pages_freed[i], nodes[i]);
  errno = saved;
}

void mmhint_memroute_release(mmhint_region_t *e) {
  uintptr_t key = e->key;
  size_t len = e->len;
  measure_freed(e);
  mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_routed_frees], 1);
  mmhint_registry_remove(&mmhint_memroute_regions, e);
  mmhint_os_munmap((void *)key, len);
}

void *mmhint_memroute_resize_in_place(mmhint_region_t *e, size_t n) {
  uint32_t want = mmhint_memroute_decide(&cfg, n);
  uint32_t have = e->flags & (MMHINT_RG_THP | MMHINT_RG_HUGETLB | MMHINT_RG_NUMA);
  /* Same treatment (a hugetlb region that fell back counts as THP) and it fits: keep it. */
  if (want & MMHINT_RG_HUGETLB) want = (want & ~MMHINT_RG_HUGETLB) | (have & MMHINT_RG_HUGETLB ? MMHINT_RG_HUGETLB : MMHINT_RG_THP);
  if (!want || n > e->len || (want & ~have & (MMHINT_RG_THP | MMHINT_RG_HUGETLB))) return NULL;
  if (n < e->len / 2 && e->len - n >= MMHINT_HUGE_SIZE) return NULL; /* shrinking a lot: move */
  e->req = n;
  return (void *)e->key;
}

size_t mmhint_memroute_munmap(void *addr, size_t len) {
  mmhint_region_t *e = mmhint_registry_find(&mmhint_memroute_regions, (uintptr_t)addr);
  if (!e || !(e->flags & MMHINT_RG_MMAP)) return len;
  if (e->flags & MMHINT_RG_HUGETLB) len = (size_t)mmhint_round_up(len, MMHINT_HUGE_SIZE);
  /* Unmapping from the region's start ends its registration (what is left is not followed). */
  measure_freed(e);
  mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_routed_frees], 1);
  mmhint_registry_remove(&mmhint_memroute_regions, e);
  return len;
}

void mmhint_memroute_moved(void *old, void *new_addr, size_t new_len) {
  mmhint_region_t *e = mmhint_registry_find(&mmhint_memroute_regions, (uintptr_t)old);
  if (!e || !(e->flags & MMHINT_RG_MMAP)) return;
  uint32_t flags = e->flags;
  size_t req = e->req;
  mmhint_registry_remove(&mmhint_memroute_regions, e);
  /* madvise and mbind policies move with the pages. */
  mmhint_registry_insert(&mmhint_memroute_regions, (uintptr_t)new_addr, new_len, req < new_len ? req : new_len, flags);
}

/* ---- Rendering ------------------------------------------------------------------------- */

/* Sorts the (start, end) pairs by start: shell sort, no allocation. */
static void sort_ranges(uint64_t (*r)[2], size_t n) {
  for (size_t gap = n / 2; gap > 0; gap /= 2)
    for (size_t i = gap; i < n; i++) {
      uint64_t a = r[i][0], b = r[i][1];
      size_t j = i;
      for (; j >= gap && r[j - gap][0] > a; j -= gap) {
        r[j][0] = r[j - gap][0];
        r[j][1] = r[j - gap][1];
      }
      r[j][0] = a;
      r[j][1] = b;
    }
}

/* Reads one "Name:   N kB" field of /proc/self/smaps_rollup, in bytes; -1 when absent. */
static int64_t rollup_bytes(const char *name) {
  char buf[4096];
  if (read_small("/proc/self/smaps_rollup", buf, sizeof buf) <= 0) return -1;
  const char *p = strstr(buf, name);
  if (!p) return -1;
  return (int64_t)parse_dec(p + strlen(name)) * 1024;
}

static void key_uint(mmhint_json_t *j, const char *k, uint64_t v) {
  mmhint_json_kv_uint(j, k, v);
}

/* The members of the statistics' "memory" object: the router's policy, counters and measurements. */
static void render_router(mmhint_json_t *j) {
  int saved = errno;
  uint64_t *c = mmhint_memroute_stats.c;
  char b[MMHINT_STRING_MAX];

  mmhint_json_key(j, "policy");
  mmhint_json_begin_object(j);
  /* A value outside the choices cannot come from the option parser; it would be written as off. */
  if (mmhint_option_choice_name(MMHINT_OPT_hugepages, cfg.hugepages, b, sizeof b) != 0)
    mmhint_option_choice_name(MMHINT_OPT_hugepages, MMHINT_HP_OFF, b, sizeof b);
  mmhint_json_kv_string(j, "hugepages", b);
  key_uint(j, "hugepage_min", cfg.hp_min);
  key_uint(j, "hugepage_max", cfg.hp_max);
  mmhint_json_kv_string(j, "numa_requested", numa_text[0] ? numa_text : "off");
  mmhint_json_key(j, "numa");
  mmhint_numa_format(&cfg.numa, b, sizeof b);
  mmhint_json_string(j, b); /* in force: the request resolved against this machine */
  key_uint(j, "numa_min", cfg.numa_min);
  key_uint(j, "numa_max", cfg.numa_max);
  mmhint_json_key(j, "numa_process");
  if (numa_process_wanted) mmhint_numa_format(&numa_process, b, sizeof b);
  mmhint_json_string(j, numa_process_wanted ? b : "off");
  mmhint_json_kv_string(j, "thp_system", thp_mode);
  mmhint_json_kv_string(j, "nodes_online", nodes_online);
  mmhint_json_kv_string(j, "mems_allowed", mems_allowed);
  mmhint_json_end_object(j);

#define MMHINT_X_RW(name, doc) key_uint(j, #name, c[MMHINT_RC_##name]);
  MMHINT_ROUTE_COUNTERS(MMHINT_X_RW)
#undef MMHINT_X_RW

  /* Live regions: measured now, added to what was measured at free time. */
  uint64_t nodes[MMHINT_ROUTE_NODES + 1];
  memcpy(nodes, mmhint_memroute_stats.numa_pages_freed, sizeof nodes);
  int scaled = c[MMHINT_RC_numa_pages_scaled] || c[MMHINT_RC_unmeasured_frees];
  uint64_t live = 0, live_bytes = 0, live_huge_req = 0, thp_live = 0, live_unmeasured = 0;
  mmhint_registry_t *reg = &mmhint_memroute_regions;
  if (reg->slots) {
    size_t cap = (size_t)1 << reg->bits;
    size_t rbytes = mmhint_round_up(cap * sizeof(uint64_t[2]), MMHINT_PAGE_SIZE);
    uint64_t(*ranges)[2] = mmhint_os_mmap(NULL, rbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    size_t nr = 0, pos = 0;
    for (mmhint_region_t *e; (e = mmhint_registry_next(reg, &pos)) != NULL;) {
      uintptr_t k = e->key;
      size_t len = __atomic_load_n(&e->len, __ATOMIC_ACQUIRE);
      if (!len) continue; /* removed since the walk saw it */
      live++;
      live_bytes += len;
      if (e->flags & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) live_huge_req += len;
      if (live > MMHINT_MEASURE_MAX_REGIONS) {
        live_unmeasured++;
        continue;
      }
      if (measure_nodes(k, len, nodes)) scaled = 1;
      if (ranges != MAP_FAILED && (e->flags & MMHINT_RG_THP) && can_hold_huge(k, len)) {
        ranges[nr][0] = k;
        ranges[nr][1] = k + len;
        nr++;
      }
    }
    /* Packed chunks: every carved one is live (chunks are never unmapped). */
    size_t chunks = __atomic_load_n(&pack_chunks, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < chunks; i++) {
      uintptr_t k = mmhint_memroute_pack_base + i * MMHINT_HUGE_SIZE;
      if (chunk_info[i].treat & ((MMHINT_RG_THP | MMHINT_RG_HUGETLB) >> 2)) live_huge_req += MMHINT_HUGE_SIZE;
      if (live + i >= MMHINT_MEASURE_MAX_REGIONS) {
        live_unmeasured++;
        continue;
      }
      if (measure_nodes(k, MMHINT_HUGE_SIZE, nodes)) scaled = 1;
      if (ranges != MAP_FAILED && nr < cap && (chunk_info[i].got & MMHINT_RG_THP)) {
        if (nr && ranges[nr - 1][1] == k) {
          ranges[nr - 1][1] = k + MMHINT_HUGE_SIZE; /* adjacent chunks: one range */
        } else {
          ranges[nr][0] = k;
          ranges[nr][1] = k + MMHINT_HUGE_SIZE;
          nr++;
        }
      }
    }
    if (ranges != MAP_FAILED) {
      if (nr) {
        sort_ranges(ranges, nr);
        thp_live = smaps_huge_bytes((const uint64_t(*)[2])ranges, nr); /* one pass over every live THP region */
      }
      mmhint_os_munmap(ranges, rbytes);
    }
  }
  if (live_unmeasured) scaled = 1;
  key_uint(j, "live_regions", live);
  key_uint(j, "live_bytes", live_bytes);
  /* Packed blocks handed out and not freed (they are not regions: live_regions does not count them). */
  key_uint(j, "packed_live_blocks", c[MMHINT_RC_packed_allocs] - c[MMHINT_RC_packed_frees]);

  mmhint_json_key(j, "huge_pages");
  mmhint_json_begin_object(j);
  key_uint(j, "requested_bytes", c[MMHINT_RC_huge_requested_bytes]);
  uint64_t thp = c[MMHINT_RC_thp_bytes_freed] + thp_live;
  key_uint(j, "obtained_bytes", thp + c[MMHINT_RC_hugetlb_bytes]);
  key_uint(j, "thp_bytes", thp);
  key_uint(j, "thp_bytes_live", thp_live);
  key_uint(j, "hugetlb_bytes", c[MMHINT_RC_hugetlb_bytes]);
  key_uint(j, "live_requested_bytes", live_huge_req);
  /*
   * What the policy achieved, in one word: "off" (hugepages=off), "none_requested"
   * (nothing fell in the window), "none" (requested, nothing obtained: the
   * policy did not work here), "partial", "obtained".  obtained_none is 1 for
   * "none", so that summed over processes it counts those where it did not work.
   */
  uint64_t req = c[MMHINT_RC_huge_requested_bytes], got = thp + c[MMHINT_RC_hugetlb_bytes];
  const char *outcome = cfg.hugepages == MMHINT_HP_OFF ? "off"
                        : req == 0                      ? "none_requested"
                        : got == 0                      ? "none"
                        : got < req                     ? "partial"
                                                        : "obtained";
  mmhint_json_kv_string(j, "outcome", outcome);
  key_uint(j, "obtained_none", cfg.hugepages != MMHINT_HP_OFF && req && !got);
  int64_t pah = rollup_bytes("AnonHugePages:");
  mmhint_json_key(j, "process_anon_huge_bytes"); /* smaps_rollup: the whole process, not only routed regions */
  if (pah >= 0) mmhint_json_uint(j, (uint64_t)pah);
  else mmhint_json_null(j);
  mmhint_json_end_object(j);

  mmhint_json_key(j, "numa_pages");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_ROUTE_NODES; i++) {
    if (!nodes[i] && !mmhint_nodemask_test(&present_nodes, i)) continue;
    char k[MMHINT_FMT_U64_MAX];
    mmhint_fmt_u64(k, (uint64_t)i);
    mmhint_json_kv_uint(j, k, nodes[i]);
  }
  mmhint_json_end_object(j);
  key_uint(j, "numa_pages_other", nodes[MMHINT_ROUTE_NODES]);
  mmhint_json_kv_bool(j, "numa_pages_sampled", scaled);
  key_uint(j, "numa_sample_limit_pages", MMHINT_SAMPLE_PAGES);

  static const char *const fb_names[] = {
#define MMHINT_X_FBN(name, doc) #name,
      MMHINT_ROUTE_FALLBACKS(MMHINT_X_FBN)
#undef MMHINT_X_FBN
  };
  mmhint_json_key(j, "fallbacks");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_RF__COUNT; i++) key_uint(j, fb_names[i], mmhint_memroute_stats.fallbacks[i]);
  mmhint_json_end_object(j);
  errno = saved;
}

/* The whole "memory" object: the allocator's counters first, then the router's keys. */
static void render_memory(mmhint_json_t *j) {
  mmhint_alloc_render(j);
  render_router(j);
}

/* Zeroes the allocator's and the router's counters in the child of a fork. */
static void reset_memory(void) {
  mmhint_alloc_reset();
  memset(&mmhint_memroute_stats, 0, sizeof mmhint_memroute_stats);
}
