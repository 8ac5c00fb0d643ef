/*
 * policy/memcore.h: what every part of the allocation router shares.  Its
 * configuration and the decision it makes from it (which treatment an
 * allocation of n bytes gets), what start-up found out about the machine
 * (the THP mode, the NUMA nodes, the resolved policies), the counters and the
 * fallback reasons of the statistics' "memory" object (each reason warned
 * about once), the NUMA system call of a policy, and the registry of live
 * regions.  Above policy/memregion.h; below the packing allocator
 * (mempack.h), the statistics (memrender.h) and the router (memroute.h),
 * which is who sets it up (mmhint_memroute_init).
 */
#ifndef MMHINT_POLICY_MEMCORE_H
#define MMHINT_POLICY_MEMCORE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/memregion.h"
#include "policy/nodes.h"
#include "policy/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The hugepages option's choices, in the order of include/mmhint_options.def. */
enum { MMHINT_HP_OFF = 0, MMHINT_HP_THP = 1, MMHINT_HP_HUGETLB = 2 };

/* What a region is and what it got. */
enum {
  MMHINT_RG_MALLOC = 1 << 0,  /* handed out by the malloc family: free/realloc may take it */
  MMHINT_RG_MMAP = 1 << 1,    /* the program's own anonymous mmap */
  MMHINT_RG_THP = 1 << 2,     /* madvise(MADV_HUGEPAGE) applied */
  MMHINT_RG_HUGETLB = 1 << 3, /* MAP_HUGETLB: length is a multiple of 2 MiB */
  MMHINT_RG_NUMA = 1 << 4,    /* mbind applied */
};

/* ---- The configuration and the decision ---------------------------------------- */

/*
 * The router's configuration, from the option values.  What
 * mmhint_memroute_decide reads on every routed call comes first, in one
 * cache line (the router aligns its copy to 64 bytes); the node mask last.
 */
typedef struct {
  int hugepages;                /* MMHINT_HP_* */
  int numa_wanted;              /* the option asked for placement (even if it resolved to none) */
  uint64_t hp_min, hp_max;      /* window of sizes routed to huge pages (inclusive) */
  uint64_t numa_min, numa_max;  /* window of sizes placed by `numa` (inclusive) */
  mmhint_numa_policy_t numa;    /* resolved against the machine; mode OFF when unusable */
} mmhint_memroute_cfg_t;

/*
 * Returns the MMHINT_RG_THP / _HUGETLB / _NUMA treatment an allocation of n
 * bytes should get under cfg (0: leave it to the next allocator).  Size 0 is
 * never routed.  HUGETLB is returned alone; the caller falls back to THP.
 * Inline: every routed call and every packed realloc asks it.
 */
static inline uint32_t mmhint_memroute_decide(const mmhint_memroute_cfg_t *cfg, uint64_t n) {
  uint32_t want = 0;
  if (n == 0) return 0;
  if (cfg->hugepages != MMHINT_HP_OFF && n >= cfg->hp_min && n <= cfg->hp_max)
    want |= cfg->hugepages == MMHINT_HP_HUGETLB ? MMHINT_RG_HUGETLB : MMHINT_RG_THP;
  if (cfg->numa_wanted && n >= cfg->numa_min && n <= cfg->numa_max) want |= MMHINT_RG_NUMA;
  return want;
}

/* Returns the smallest size mmhint_memroute_decide may route (UINT64_MAX when nothing is routed). */
uint64_t mmhint_memroute_threshold(const mmhint_memroute_cfg_t *cfg);

/*
 * Alignment by over-mapping: a mapping of `raw_len` bytes at `raw` (page
 * aligned) holds `len` bytes aligned to `align` (a power of two >= the page
 * size).  Sets *head and *tail to the bytes to unmap before and after, and
 * returns the aligned start, or 0 when it does not fit.
 */
uintptr_t mmhint_memroute_trim(uintptr_t raw, size_t raw_len, size_t len, size_t align, size_t *head, size_t *tail);

/* ---- The router's statistics ------------------------------------------------
 * Written in the statistics' "memory" object after the allocator's counters
 * (policy/alloc.h); docs/MEMORY.md explains them.
 */

/*
 * What the router did with the allocations and anonymous mappings inside the
 * hugepage/numa windows, and what it measured of regions freed before the
 * end.  R(name, doc): the name is the JSON key.
 */
#define MMHINT_ROUTE_COUNTERS(R)                                                                   \
  R(routed_allocs, "malloc-family allocations served from the shim's own aligned mappings")       \
  R(routed_frees, "routed allocations freed (free, or realloc moving them)")                      \
  R(routed_mmaps, "anonymous mmaps of the program given huge-page or NUMA treatment")             \
  R(routed_bytes_requested, "bytes asked for by routed allocations and mmaps")                    \
  R(routed_bytes_mapped, "bytes the shim mapped for them (page or huge-page rounded)")            \
  R(huge_requested_bytes, "bytes mapped for regions meant to be on huge pages")                   \
  R(hugetlb_bytes, "bytes mapped with MAP_HUGETLB (reserved at mmap: obtained when it succeeded)") \
  R(thp_bytes_freed, "AnonHugePages of THP regions, measured just before they were unmapped")     \
  R(numa_regions, "regions given a NUMA policy with mbind")                                       \
  R(measured_frees, "regions measured (smaps, move_pages) when they were unmapped")               \
  R(unmeasured_frees, "regions unmapped without measuring, once the measuring budget ran out")    \
  R(numa_pages_scaled, "regions whose pages were sampled (not all counted) and scaled")                \
  R(packed_allocs, "routed allocations below 2 MiB served from shared 2 MiB chunks (also in routed_allocs)") \
  R(packed_frees, "packed allocations freed (also in routed_frees)")                                \
  R(packed_chunks, "2 MiB chunks carved for packed allocations (their bytes are in routed_bytes_mapped)")

typedef enum {
#define MMHINT_X_ROUTE(name, doc) MMHINT_RC_##name,
  MMHINT_ROUTE_COUNTERS(MMHINT_X_ROUTE)
#undef MMHINT_X_ROUTE
  MMHINT_RC__COUNT
} mmhint_rc_id_t;

/* Why a routed allocation did not get what the policy asked; each is warned about once. */
#define MMHINT_ROUTE_FALLBACKS(F)                                                                                \
  F(hugetlb_pool, "MAP_HUGETLB failed (no or too few reserved huge pages, see /proc/sys/vm/nr_hugepages); using THP") \
  F(thp_unavailable, "transparent huge pages are disabled (never) or madvise(MADV_HUGEPAGE) failed; using normal pages") \
  F(numa_nodes, "the numa option names no usable node; placement left to the kernel")                            \
  F(mbind_failed, "mbind was refused; placement left to the kernel")                                             \
  F(map_failed, "the shim's own mapping failed; the allocation went to the next allocator")                      \
  F(registry_full, "too many live routed regions; the allocation went to the next allocator")                    \
  F(pack_full, "the address range for packed allocations below 2 MiB is used up or could not be reserved; they go to the next allocator") \
  F(numa_process, "set_mempolicy for numa_process failed or named no usable node; process policy unchanged")

typedef enum {
#define MMHINT_X_RFB(name, doc) MMHINT_RF_##name,
  MMHINT_ROUTE_FALLBACKS(MMHINT_X_RFB)
#undef MMHINT_X_RFB
  MMHINT_RF__COUNT
} mmhint_rf_id_t;

typedef struct {
  uint64_t c[MMHINT_RC__COUNT];
  uint64_t fallbacks[MMHINT_RF__COUNT];
  uint64_t numa_pages_freed[MMHINT_ROUTE_NODES + 1]; /* last: nodes >= MMHINT_ROUTE_NODES */
} mmhint_memroute_stats_t;

/* The router's counters (added to with mmhint_count, zeroed in the child of a fork). */
extern mmhint_memroute_stats_t mmhint_memroute_stats;

/* ---- Shared state ---------------------------------------------------------------- */

/* The configuration in force (set by mmhint_memroute_init; all zero: nothing routed). */
extern __attribute__((visibility("hidden"))) mmhint_memroute_cfg_t mmhint_memroute_cfg;

/* What start-up found and asked for, as the statistics' "policy" object shows it. */
typedef struct {
  int thp_never;                               /* the system's THP mode is never (or THP is absent) */
  char thp_mode[16];                           /* the system's THP mode: "unknown" until init */
  int numa_process_wanted;                     /* numa_process asked for a process policy */
  mmhint_numa_policy_t numa_process;           /* ... resolved against the machine */
  char numa_text[MMHINT_STRING_MAX];           /* the numa option as given */
  char numa_process_text[MMHINT_STRING_MAX];   /* the numa_process option as given */
  char nodes_online[64], mems_allowed[64];     /* node lists, formatted ("0" until init) */
  mmhint_nodemask_t present_nodes;             /* every one gets a numa_pages key, 0 included */
} mmhint_memroute_setup_t;
extern mmhint_memroute_setup_t mmhint_memroute_setup;

/* The registry of live regions (mapped by mmhint_memroute_init when anything is routed). */
extern __attribute__((visibility("hidden"))) mmhint_registry_t mmhint_memroute_regions;

/*
 * Counts a fallback of `reason` (MMHINT_RF_*); the first of each reason is
 * explained on stderr in one "mmhint:" line, with `detail` (may be "").
 */
void mmhint_memroute_fallback(int reason, const char *detail);

/* The name of a (positive) errno value the router's system calls return, or "error". */
const char *mmhint_memroute_errno_name(long e);

/*
 * Applies NUMA policy p: mbind on [addr, addr+len), or set_mempolicy for the
 * process when addr is NULL.  Returns 0 (also for a policy that needs no
 * call) or -errno.
 */
long mmhint_memroute_apply_numa(void *addr, size_t len, const mmhint_numa_policy_t *p);

/*
 * The treatments of a fresh mapping [p, p+len), before its first touch, each
 * returning the MMHINT_RG_* bit it obtained (0 when it failed: the fallback
 * is counted and explained).  advise_thp: madvise(MADV_HUGEPAGE), unless the
 * system's THP mode is never.  place: mbind with the numa policy in force.
 */
uint32_t mmhint_memroute_advise_thp(void *p, size_t len);
uint32_t mmhint_memroute_place(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
