/*
 * policy/memroute.c: the allocation router: start-up and the entry points of
 * the shim; see memroute.h and docs/MEMORY.md.
 */
#include "policy/memroute.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy/memmap.h"
#include "policy/memrender.h"
#include "policy/os/os.h"

#define MMHINT_REGISTRY_BITS 16            /* 65536 slots, at most 49152 live regions */
#define MMHINT_MEASURE_BUDGET 256          /* regions measured when freed; later frees are counted unmeasured */

/* The shared configuration and start-up state (memcore.h), under short names. */
static mmhint_memroute_cfg_t *const cfg = &mmhint_memroute_cfg;
static mmhint_memroute_setup_t *const setup = &mmhint_memroute_setup;

/* ---- State ---------------------------------------------------------------------- */

uint64_t mmhint_memroute_min = UINT64_MAX;
static int measure_budget = MMHINT_MEASURE_BUDGET;

/* ---- Start-up ---------------------------------------------------------------------- */

/* Fills topo from /sys/devices/system/node/online and Mems_allowed_list (node 0 when absent). */
static void read_topology(mmhint_numa_topology_t *topo) {
  char buf[4096];
  mmhint_numa_topology_simple(topo, 1);
  if (mmhint_os_read_small("/sys/devices/system/node/online", buf, sizeof buf) > 0) {
    mmhint_nodemask_t m;
    if (mmhint_nodelist_parse(buf, strlen(buf), &m, NULL, 0) == 0) topo->present = m;
  }
  topo->allowed = topo->present;
  if (mmhint_os_read_small("/proc/self/status", buf, sizeof buf) > 0) {
    const char *p = strstr(buf, "Mems_allowed_list:");
    if (p) {
      p += 18;
      while (*p == ' ' || *p == '\t') p++;
      const char *e = strchr(p, '\n');
      mmhint_nodemask_t m;
      if (mmhint_nodelist_parse(p, e ? (size_t)(e - p) : strlen(p), &m, NULL, 0) == 0) topo->allowed = m;
    }
  }
  setup->present_nodes = topo->present;
  mmhint_nodelist_format(&topo->present, setup->nodes_online, sizeof setup->nodes_online);
  mmhint_nodelist_format(&topo->allowed, setup->mems_allowed, sizeof setup->mems_allowed);
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
    mmhint_memroute_fallback(reason, why);
  }
  return 1;
}

void mmhint_memroute_init(const mmhint_values_t *v) {
  mmhint_memrender_register();
  memset(cfg, 0, sizeof *cfg);
  cfg->hugepages = (int)v->num[MMHINT_OPT_hugepages];
  cfg->hp_min = (uint64_t)v->num[MMHINT_OPT_hugepage_min];
  cfg->hp_max = (uint64_t)v->num[MMHINT_OPT_hugepage_max];
  cfg->numa_min = (uint64_t)v->num[MMHINT_OPT_numa_min];
  cfg->numa_max = (uint64_t)v->num[MMHINT_OPT_numa_max];
  memcpy(setup->numa_text, v->str[MMHINT_OPT_numa], sizeof setup->numa_text);
  memcpy(setup->numa_process_text, v->str[MMHINT_OPT_numa_process], sizeof setup->numa_process_text);

  char buf[256];
  if (mmhint_os_read_small("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) > 0) {
    const char *a = strchr(buf, '['), *b = a ? strchr(a, ']') : NULL;
    if (a && b && (size_t)(b - a - 1) < sizeof setup->thp_mode) {
      memcpy(setup->thp_mode, a + 1, (size_t)(b - a - 1));
      setup->thp_mode[b - a - 1] = '\0';
    }
  } else {
    memcpy(setup->thp_mode, "absent", 7);
  }
  setup->thp_never = strcmp(setup->thp_mode, "never") == 0 || strcmp(setup->thp_mode, "absent") == 0;

  int want_numa = strcmp(setup->numa_text, "off") != 0 && setup->numa_text[0];
  setup->numa_process_wanted = strcmp(setup->numa_process_text, "off") != 0 && setup->numa_process_text[0];
  mmhint_nodemask_clear(&setup->present_nodes);
  mmhint_nodemask_set(&setup->present_nodes, 0);
  if (want_numa || setup->numa_process_wanted || mmhint_memroute_threshold(cfg) != UINT64_MAX) {
    mmhint_numa_topology_t topo;
    read_topology(&topo);
    if (want_numa) cfg->numa_wanted = numa_option("numa", MMHINT_RF_numa_nodes, setup->numa_text, &topo, &cfg->numa);
    if (setup->numa_process_wanted &&
        numa_option("numa_process", MMHINT_RF_numa_process, setup->numa_process_text, &topo, &setup->numa_process) &&
        setup->numa_process.mode != MMHINT_NUMA_OFF) {
      long r = mmhint_memroute_apply_numa(NULL, 0, &setup->numa_process);
      if (r < 0) mmhint_memroute_fallback(MMHINT_RF_numa_process, mmhint_memroute_errno_name(-r));
    }
  }
  uint64_t t = mmhint_memroute_threshold(cfg);
  if (t == UINT64_MAX) return;
  size_t bytes = ((size_t)1 << MMHINT_REGISTRY_BITS) * sizeof(mmhint_region_t);
  void *mem = mmhint_os_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    mmhint_memroute_fallback(MMHINT_RF_map_failed, "no memory for the region registry; routing is off");
    return;
  }
  mmhint_registry_init(&mmhint_memroute_regions, mem, MMHINT_REGISTRY_BITS);
  __atomic_store_n(&mmhint_memroute_min, t, __ATOMIC_RELEASE);
}

/* ---- The entry points ------------------------------------------------------------------ */

void *mmhint_memroute_alloc(size_t n, size_t align, int zero) {
  uint32_t want = mmhint_memroute_decide(cfg, n);
  if (!want || (align & (align - 1))) return NULL;
  /* Below a huge page a region of its own obtains nothing and costs a mapping per allocation: pack it. */
  if (n < MMHINT_HUGE_SIZE) return mmhint_mempack_alloc(n, align, want, zero);
  return mmhint_memmap_alloc(n, align, want);
}

void *mmhint_memroute_mmap(void *addr, size_t len, int prot, int flags) {
  uint32_t want = mmhint_memroute_decide(cfg, len);
  if (!want) return NULL;
  size_t maplen;
  uint32_t got;
  void *p = mmhint_memmap_region(len, MMHINT_HUGE_SIZE, want, prot, flags, addr, &maplen, &got);
  if (!p) return NULL; /* the caller maps it as asked and reports the kernel's error */
  if ((want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) && !(got & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)))
    mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_huge_requested_bytes], maplen);
  if (!mmhint_memmap_enlist(p, maplen, len, got | MMHINT_RG_MMAP)) return NULL;
  return p;
}

/* ---- Freeing ------------------------------------------------------------------------- */

/* Measures a region about to be unmapped into the freed totals, within the budget. */
static void measure_freed(const mmhint_region_t *e) {
  uint64_t *c = mmhint_memroute_stats.c;
  if (__atomic_sub_fetch(&measure_budget, 1, __ATOMIC_RELAXED) < 0) {
    mmhint_count(&c[MMHINT_RC_unmeasured_frees], 1);
    return;
  }
  int saved = errno;
  mmhint_count(&c[MMHINT_RC_measured_frees], 1);
  if ((e->flags & MMHINT_RG_THP) && mmhint_memregion_can_hold_huge(e->key, e->len)) {
    const uint64_t region[1][2] = {{e->key, e->key + e->len}};
    mmhint_count(&c[MMHINT_RC_thp_bytes_freed], mmhint_memregion_huge_bytes(region, 1));
  }
  uint64_t nodes[MMHINT_ROUTE_NODES + 1];
  memset(nodes, 0, sizeof nodes);
  if (mmhint_memregion_nodes(e->key, e->len, nodes)) mmhint_count(&c[MMHINT_RC_numa_pages_scaled], 1);
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
  uint32_t want = mmhint_memroute_decide(cfg, n);
  uint32_t have = e->flags & (MMHINT_RG_THP | MMHINT_RG_HUGETLB | MMHINT_RG_NUMA);
  /* Same treatment (a hugetlb region that fell back counts as THP) and it fits: keep it. */
  if (want & MMHINT_RG_HUGETLB)
    want = (want & ~MMHINT_RG_HUGETLB) | (have & MMHINT_RG_HUGETLB ? MMHINT_RG_HUGETLB : MMHINT_RG_THP);
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
