/*
 * policy/memrender.c: the statistics' "memory" object; see memrender.h and
 * docs/MEMORY.md for what each key means.
 */
#include "policy/memrender.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "policy/alloc.h"
#include "policy/fmt.h"
#include "policy/mempack.h"
#include "policy/os/os.h"
#include "policy/stats.h"

#define MMHINT_MEASURE_MAX_REGIONS 4096 /* live regions measured at the end */

/* ---- Measuring what is live ------------------------------------------------------------ */

/*
 * What is live at the end: regions and packed chunks, and what they hold,
 * added to what was measured of regions freed before (the counters).
 */
typedef struct {
  uint64_t nodes[MMHINT_ROUTE_NODES + 1]; /* pages per node, freed and live */
  int scaled;                             /* some page counts are sampled and scaled, or missing */
  uint64_t live;                          /* live regions */
  uint64_t live_bytes;                    /* ... and their mapped bytes */
  uint64_t live_huge_req;                 /* bytes of live regions and chunks meant to be on huge pages */
  uint64_t thp_live;                      /* AnonHugePages inside live THP regions and chunks */
  uint64_t live_unmeasured;               /* live regions and chunks beyond the measuring limit */
} live_t;

/*
 * The (start, end) pairs of the live THP ranges, for one pass over smaps: a
 * buffer from the kernel (never the program's allocator) of `cap` pairs.
 */
typedef struct {
  uint64_t (*r)[2]; /* MAP_FAILED when it could not be mapped: THP is then not measured */
  size_t n, cap, bytes;
} ranges_t;

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

/* Counts and measures the live regions of the registry (pages per node now; THP ranges collected). */
static void measure_live_regions(live_t *m, ranges_t *rg) {
  size_t pos = 0;
  for (mmhint_region_t *e; (e = mmhint_registry_next(&mmhint_memroute_regions, &pos)) != NULL;) {
    uintptr_t k = e->key;
    size_t len = __atomic_load_n(&e->len, __ATOMIC_ACQUIRE);
    if (!len) continue; /* removed since the walk saw it */
    m->live++;
    m->live_bytes += len;
    if (e->flags & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) m->live_huge_req += len;
    if (m->live > MMHINT_MEASURE_MAX_REGIONS) {
      m->live_unmeasured++;
      continue;
    }
    if (mmhint_memregion_nodes(k, len, m->nodes)) m->scaled = 1;
    if (rg->r != MAP_FAILED && (e->flags & MMHINT_RG_THP) && mmhint_memregion_can_hold_huge(k, len)) {
      rg->r[rg->n][0] = k;
      rg->r[rg->n][1] = k + len;
      rg->n++;
    }
  }
}

/* Counts and measures the packed chunks: every carved one is live (chunks are never unmapped). */
static void measure_live_chunks(live_t *m, ranges_t *rg) {
  size_t chunks;
  const mmhint_pack_chunk_t *info = mmhint_mempack_chunks(&chunks);
  for (size_t i = 0; i < chunks; i++) {
    uintptr_t k = mmhint_memroute_pack_base + i * MMHINT_HUGE_SIZE;
    if (info[i].treat & ((MMHINT_RG_THP | MMHINT_RG_HUGETLB) >> 2)) m->live_huge_req += MMHINT_HUGE_SIZE;
    if (m->live + i >= MMHINT_MEASURE_MAX_REGIONS) {
      m->live_unmeasured++;
      continue;
    }
    if (mmhint_memregion_nodes(k, MMHINT_HUGE_SIZE, m->nodes)) m->scaled = 1;
    if (rg->r != MAP_FAILED && rg->n < rg->cap && (info[i].got & MMHINT_RG_THP)) {
      if (rg->n && rg->r[rg->n - 1][1] == k) {
        rg->r[rg->n - 1][1] = k + MMHINT_HUGE_SIZE; /* adjacent chunks: one range */
      } else {
        rg->r[rg->n][0] = k;
        rg->r[rg->n][1] = k + MMHINT_HUGE_SIZE;
        rg->n++;
      }
    }
  }
}

/* Measures everything live now into m, on top of what was measured at free time. */
static void measure_live(live_t *m) {
  const uint64_t *c = mmhint_memroute_stats.c;
  memset(m, 0, sizeof *m);
  memcpy(m->nodes, mmhint_memroute_stats.numa_pages_freed, sizeof m->nodes);
  m->scaled = c[MMHINT_RC_numa_pages_scaled] || c[MMHINT_RC_unmeasured_frees];
  const mmhint_registry_t *reg = &mmhint_memroute_regions;
  if (reg->slots) {
    ranges_t rg = {.n = 0, .cap = (size_t)1 << reg->bits};
    rg.bytes = mmhint_round_up(rg.cap * sizeof(uint64_t[2]), MMHINT_PAGE_SIZE);
    rg.r = mmhint_os_mmap(NULL, rg.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    measure_live_regions(m, &rg);
    measure_live_chunks(m, &rg);
    if (rg.r != MAP_FAILED) {
      if (rg.n) {
        sort_ranges(rg.r, rg.n);
        /* One pass over smaps for every live THP range. */
        m->thp_live = mmhint_memregion_huge_bytes((const uint64_t(*)[2])rg.r, rg.n);
      }
      mmhint_os_munmap(rg.r, rg.bytes);
    }
  }
  if (m->live_unmeasured) m->scaled = 1;
}

/* ---- The pieces of the object ------------------------------------------------------------ */

static void key_uint(mmhint_json_t *j, const char *k, uint64_t v) {
  mmhint_json_kv_uint(j, k, v);
}

/* "policy": the options as given and as resolved against this machine, and what the machine offers. */
static void render_policy(mmhint_json_t *j) {
  const mmhint_memroute_cfg_t *cfg = &mmhint_memroute_cfg;
  const mmhint_memroute_setup_t *s = &mmhint_memroute_setup;
  char b[MMHINT_STRING_MAX];
  mmhint_json_key(j, "policy");
  mmhint_json_begin_object(j);
  /* A value outside the choices cannot come from the option parser; it would be written as off. */
  if (mmhint_option_choice_name(MMHINT_OPT_hugepages, cfg->hugepages, b, sizeof b) != 0)
    mmhint_option_choice_name(MMHINT_OPT_hugepages, MMHINT_HP_OFF, b, sizeof b);
  mmhint_json_kv_string(j, "hugepages", b);
  key_uint(j, "hugepage_min", cfg->hp_min);
  key_uint(j, "hugepage_max", cfg->hp_max);
  mmhint_json_kv_string(j, "numa_requested", s->numa_text[0] ? s->numa_text : "off");
  mmhint_json_key(j, "numa");
  mmhint_numa_format(&cfg->numa, b, sizeof b);
  mmhint_json_string(j, b); /* in force: the request resolved against this machine */
  key_uint(j, "numa_min", cfg->numa_min);
  key_uint(j, "numa_max", cfg->numa_max);
  mmhint_json_key(j, "numa_process");
  if (s->numa_process_wanted) mmhint_numa_format(&s->numa_process, b, sizeof b);
  mmhint_json_string(j, s->numa_process_wanted ? b : "off");
  mmhint_json_kv_string(j, "thp_system", s->thp_mode);
  mmhint_json_kv_string(j, "nodes_online", s->nodes_online);
  mmhint_json_kv_string(j, "mems_allowed", s->mems_allowed);
  mmhint_json_end_object(j);
}

/* The router's counters, one key each (MMHINT_ROUTE_COUNTERS). */
static void render_counters(mmhint_json_t *j) {
  const uint64_t *c = mmhint_memroute_stats.c;
#define MMHINT_X_RW(name, doc) key_uint(j, #name, c[MMHINT_RC_##name]);
  MMHINT_ROUTE_COUNTERS(MMHINT_X_RW)
#undef MMHINT_X_RW
}

/* What is live: regions, their bytes, and packed blocks (which are not regions). */
static void render_live(mmhint_json_t *j, const live_t *m) {
  const uint64_t *c = mmhint_memroute_stats.c;
  key_uint(j, "live_regions", m->live);
  key_uint(j, "live_bytes", m->live_bytes);
  /* Packed blocks handed out and not freed (they are not regions: live_regions does not count them). */
  key_uint(j, "packed_live_blocks", c[MMHINT_RC_packed_allocs] - c[MMHINT_RC_packed_frees]);
}

/*
 * What the policy achieved, in one word: "off" (hugepages=off), "none_requested"
 * (nothing fell in the window), "none" (requested, nothing obtained: the
 * policy did not work here), "partial", "obtained".
 */
static const char *huge_outcome(uint64_t req, uint64_t got) {
  return mmhint_memroute_cfg.hugepages == MMHINT_HP_OFF ? "off"
         : req == 0                                     ? "none_requested"
         : got == 0                                     ? "none"
         : got < req                                    ? "partial"
                                                        : "obtained";
}

/* "huge_pages": bytes requested and obtained (THP measured, hugetlb reserved), the outcome, the whole process's. */
static void render_huge_pages(mmhint_json_t *j, const live_t *m) {
  const uint64_t *c = mmhint_memroute_stats.c;
  mmhint_json_key(j, "huge_pages");
  mmhint_json_begin_object(j);
  key_uint(j, "requested_bytes", c[MMHINT_RC_huge_requested_bytes]);
  uint64_t thp = c[MMHINT_RC_thp_bytes_freed] + m->thp_live;
  key_uint(j, "obtained_bytes", thp + c[MMHINT_RC_hugetlb_bytes]);
  key_uint(j, "thp_bytes", thp);
  key_uint(j, "thp_bytes_live", m->thp_live);
  key_uint(j, "hugetlb_bytes", c[MMHINT_RC_hugetlb_bytes]);
  key_uint(j, "live_requested_bytes", m->live_huge_req);
  uint64_t req = c[MMHINT_RC_huge_requested_bytes], got = thp + c[MMHINT_RC_hugetlb_bytes];
  mmhint_json_kv_string(j, "outcome", huge_outcome(req, got));
  /* 1 for "none", so that summed over processes it counts those where the policy did not work. */
  key_uint(j, "obtained_none", mmhint_memroute_cfg.hugepages != MMHINT_HP_OFF && req && !got);
  int64_t pah = mmhint_memregion_rollup_bytes("AnonHugePages:");
  mmhint_json_key(j, "process_anon_huge_bytes"); /* smaps_rollup: the whole process, not only routed regions */
  if (pah >= 0) mmhint_json_uint(j, (uint64_t)pah);
  else mmhint_json_null(j);
  mmhint_json_end_object(j);
}

/* "numa_pages" (a key per present node and per node that holds pages) and how they were counted. */
static void render_numa_pages(mmhint_json_t *j, const live_t *m) {
  mmhint_json_key(j, "numa_pages");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_ROUTE_NODES; i++) {
    if (!m->nodes[i] && !mmhint_nodemask_test(&mmhint_memroute_setup.present_nodes, i)) continue;
    char k[MMHINT_FMT_U64_MAX];
    mmhint_fmt_u64(k, (uint64_t)i);
    mmhint_json_kv_uint(j, k, m->nodes[i]);
  }
  mmhint_json_end_object(j);
  key_uint(j, "numa_pages_other", m->nodes[MMHINT_ROUTE_NODES]);
  mmhint_json_kv_bool(j, "numa_pages_sampled", m->scaled);
  key_uint(j, "numa_sample_limit_pages", MMHINT_SAMPLE_PAGES);
}

/* "fallbacks": a count per reason (MMHINT_ROUTE_FALLBACKS). */
static void render_fallbacks(mmhint_json_t *j) {
  static const char *const names[] = {
#define MMHINT_X_FBN(name, doc) #name,
      MMHINT_ROUTE_FALLBACKS(MMHINT_X_FBN)
#undef MMHINT_X_FBN
  };
  mmhint_json_key(j, "fallbacks");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_RF__COUNT; i++) key_uint(j, names[i], mmhint_memroute_stats.fallbacks[i]);
  mmhint_json_end_object(j);
}

/* ---- The section ------------------------------------------------------------------------ */

/* The members of the statistics' "memory" object: the router's policy, counters and measurements. */
static void render_router(mmhint_json_t *j) {
  int saved = errno;
  render_policy(j);
  render_counters(j);
  live_t m;
  measure_live(&m);
  render_live(j, &m);
  render_huge_pages(j, &m);
  render_numa_pages(j, &m);
  render_fallbacks(j);
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

static const mmhint_stats_section_t memory_section = {
    .name = "memory",
    .kind = MMHINT_SECTION_PROCESS,
    .render_process = render_memory,
    .reset = reset_memory,
};

void mmhint_memrender_register(void) {
  mmhint_stats_section_register(&memory_section);
}
