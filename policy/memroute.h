/*
 * policy/memroute.h: the allocation router.  Decides which allocations (the
 * malloc family and the program's anonymous mmaps) go to huge pages and/or get
 * a NUMA policy, serves them from the shim's own 2 MiB-aligned mappings,
 * remembers those regions in a lock-free address-keyed registry, and measures
 * what the kernel actually gave (AnonHugePages from smaps, pages per node
 * from move_pages) for the statistics.  See docs/MEMORY.md.
 *
 * Pure parts (window, alignment math, registry, smaps parsing) take no global
 * state and are unit-tested in tests/policy/memroute_test.cc.  The rest makes
 * raw system calls (mmap, madvise, mbind, set_mempolicy, move_pages) and never
 * calls the program's allocator, libnuma or stdio, so it is safe inside the
 * malloc wrappers.
 */
#ifndef MMHINT_POLICY_MEMROUTE_H
#define MMHINT_POLICY_MEMROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/count.h"
#include "policy/json.h"
#include "policy/nodes.h"
#include "policy/options.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_HUGE_SIZE ((size_t)2 << 20) /* x86-64 PMD huge page; routed allocations start on one */
#define MMHINT_HUGE_MASK (MMHINT_HUGE_SIZE - 1)
#define MMHINT_PAGE_SIZE ((size_t)4096)

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

/* ---- Pure parts ------------------------------------------------------------ */

/* The router's configuration, from the option values. */
typedef struct {
  int hugepages;                /* MMHINT_HP_* */
  uint64_t hp_min, hp_max;      /* window of sizes routed to huge pages (inclusive) */
  mmhint_numa_policy_t numa;    /* resolved against the machine; mode OFF when unusable */
  int numa_wanted;              /* the option asked for placement (even if it resolved to none) */
  uint64_t numa_min, numa_max;  /* window of sizes placed by `numa` (inclusive) */
} mmhint_memroute_cfg_t;

/*
 * Returns the MMHINT_RG_THP / _HUGETLB / _NUMA treatment an allocation of n
 * bytes should get under cfg (0: leave it to the next allocator).  Size 0 is
 * never routed.  HUGETLB is returned alone; the caller falls back to THP.
 */
uint32_t mmhint_memroute_decide(const mmhint_memroute_cfg_t *cfg, uint64_t n);

/* Returns the smallest size mmhint_memroute_decide may route (UINT64_MAX when nothing is routed). */
uint64_t mmhint_memroute_threshold(const mmhint_memroute_cfg_t *cfg);

/* Rounds n up to a multiple of `unit` (a power of two); returns 0 on overflow. */
static inline uint64_t mmhint_round_up(uint64_t n, uint64_t unit) {
  uint64_t r = (n + unit - 1) & ~(unit - 1);
  return r < n ? 0 : r;
}

/*
 * Alignment by over-mapping: a mapping of `raw_len` bytes at `raw` (page
 * aligned) holds `len` bytes aligned to `align` (a power of two >= the page
 * size).  Sets *head and *tail to the bytes to unmap before and after, and
 * returns the aligned start, or 0 when it does not fit.
 */
uintptr_t mmhint_memroute_trim(uintptr_t raw, size_t raw_len, size_t len, size_t align, size_t *head, size_t *tail);

/*
 * Packing.  A routed allocation smaller than a huge page cannot be backed by
 * one in a mapping of its own, and a mapping per allocation costs system
 * calls and page faults on every malloc/free pair (docs/MEMORY.md, "Packing").
 * So allocations below MMHINT_HUGE_SIZE are carved out of shared 2 MiB
 * chunks (one size class and one treatment per chunk) inside one reserved
 * address range, and freed ones go to a free list per class.  Classes: 16 to
 * 128 bytes in steps of 16, then four per doubling up to 2 MiB (at most 25 %
 * rounding).  Slot i of a chunk starts at i * size, so a class is aligned to
 * the lowest set bit of its size.
 */
#define MMHINT_PACK_CLASSES 64

/* Returns the smallest class whose size is at least n (1 <= n <= MMHINT_HUGE_SIZE).  Pure. */
static inline uint32_t mmhint_pack_class(uint64_t n) {
  if (n <= 128) return n ? (uint32_t)((n + 15) / 16 - 1) : 0;
  uint32_t b = 63 - (uint32_t)__builtin_clzll(n - 1); /* 2^b < n <= 2^(b+1) */
  uint64_t step = (uint64_t)1 << (b - 2);
  uint32_t k = (uint32_t)((n - ((uint64_t)1 << b) + step - 1) / step); /* 1..4 */
  return 8 + (b - 7) * 4 + (k - 1);
}

/* The size of class c (< MMHINT_PACK_CLASSES).  Pure. */
static inline uint64_t mmhint_pack_class_size(uint32_t c) {
  if (c < 8) return (uint64_t)(c + 1) * 16;
  uint32_t b = (c - 8) / 4 + 7, k = (c - 8) % 4 + 1;
  return ((uint64_t)1 << b) + (uint64_t)k * ((uint64_t)1 << (b - 2));
}

/*
 * Returns the class for n bytes aligned to `align` (a power of two, 0 for
 * the default 16), or MMHINT_PACK_CLASSES when no class below a huge page
 * both holds n and is aligned enough (the allocation then gets a region of
 * its own).  Pure.
 */
static inline uint32_t mmhint_pack_class_aligned(uint64_t n, uint64_t align) {
  if (n == 0 || n >= MMHINT_HUGE_SIZE) return MMHINT_PACK_CLASSES;
  if (align < 16) align = 16;
  uint32_t c = mmhint_pack_class(n);
  for (; c < MMHINT_PACK_CLASSES; c++) {
    uint64_t s = mmhint_pack_class_size(c);
    if (s >= MMHINT_HUGE_SIZE) return MMHINT_PACK_CLASSES;
    if ((s & (0 - s)) >= align) return c;
  }
  return MMHINT_PACK_CLASSES;
}

/* One region the router owns.  key 0 is an empty slot, 1 a deleted one. */
typedef struct {
  uintptr_t key;  /* start address (the pointer handed out) */
  size_t len;     /* mapped length */
  size_t req;     /* bytes the program asked for */
  uint32_t flags; /* MMHINT_RG_* */
  uint32_t pad;
} mmhint_region_t;

/* A fixed-size open-addressing hash of regions, lock-free for insert, find and remove. */
typedef struct {
  mmhint_region_t *slots;
  uint32_t bits;   /* capacity is 1 << bits */
  uint32_t live;   /* regions in the table */
} mmhint_registry_t;

/* Uses `mem` (zeroed, (1 << bits) slots) as the table. */
void mmhint_registry_init(mmhint_registry_t *r, mmhint_region_t *mem, uint32_t bits);
/* Adds a region; returns it, or NULL when the table is 3/4 full (the caller falls back). */
mmhint_region_t *mmhint_registry_insert(mmhint_registry_t *r, uintptr_t key, size_t len, size_t req, uint32_t flags);
/* Returns the region that starts at key, or NULL.  Constant expected time. */
mmhint_region_t *mmhint_registry_find(const mmhint_registry_t *r, uintptr_t key);
/* Removes a region returned by insert or find. */
void mmhint_registry_remove(mmhint_registry_t *r, mmhint_region_t *e);

/*
 * The smaps parser, fed /proc/self/smaps text in pieces of any size: `state`
 * carries a partial line between calls (zero it first; end with a call of
 * len 0, which flushes a last line without a newline).  For every VMA it adds
 * to *bytes its AnonHugePages times the share of the VMA that lies inside the
 * n `ranges` ([start, end) pairs, sorted by start, not overlapping): all of
 * them when the VMA is inside, a proportional part when a VMA was merged from
 * several regions or reaches beyond them.  The one parser of the router: the
 * measurement of a region at free time and of every live region at the end
 * both use it.
 */
typedef struct {
  char line[256];
  size_t n;
  uint64_t start, end;  /* the current VMA */
  int have_vma;
} mmhint_smaps_state_t;
void mmhint_smaps_feed_ranges(mmhint_smaps_state_t *st, const char *text, size_t len, const uint64_t (*ranges)[2],
                              size_t n, uint64_t *bytes);

/* mmhint_smaps_feed_ranges for the one range [lo, hi). */
void mmhint_smaps_feed(mmhint_smaps_state_t *st, const char *text, size_t len, uint64_t lo, uint64_t hi,
                       uint64_t *bytes);

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

/* Nodes whose page counts are kept (a page on a higher node counts in numa_pages_other). */
#define MMHINT_ROUTE_NODES 64

typedef struct {
  uint64_t c[MMHINT_RC__COUNT];
  uint64_t fallbacks[MMHINT_RF__COUNT];
  uint64_t numa_pages_freed[MMHINT_ROUTE_NODES + 1]; /* last: nodes >= MMHINT_ROUTE_NODES */
} mmhint_memroute_stats_t;

/* The router's counters (added to with mmhint_count, zeroed in the child of a fork). */
extern mmhint_memroute_stats_t mmhint_memroute_stats;

/* ---- The router in the shim --------------------------------------------------- */

/* The smallest size routed (UINT64_MAX while off or before init): the malloc wrappers compare with it. */
extern __attribute__((visibility("hidden"))) uint64_t mmhint_memroute_min;
/* Nonzero once a malloc region has been handed out: free's filter reads it. */
extern __attribute__((visibility("hidden"))) int mmhint_memroute_active;
/* The registry of live regions. */
extern mmhint_registry_t mmhint_memroute_regions;

/*
 * Reads the hugepages/numa options from `v`, the NUMA topology and the THP
 * mode, applies numa_process (set_mempolicy), and prints one "mmhint:" line
 * per problem.  Registers the statistics' "memory" section (the allocator's
 * counters, then the router's policy, counters and measurements), which is
 * why the section is absent from a document rendered without this call.
 * Call once at start-up.  Never fails: what cannot be done is turned off and
 * counted.
 */
void mmhint_memroute_init(const mmhint_values_t *v);

/*
 * Returns a region of at least n bytes aligned to `align` (0, or a power of
 * two) with the treatment the policy gives n, or NULL when n is not routed
 * or routing failed (the caller then uses the next allocator).  Below 2 MiB
 * the memory is a block of a packed chunk (mmhint_memroute_packed), else a
 * region of its own.  With `zero` the first n bytes are zero (calloc): fresh
 * memory is, a reused packed block is cleared.
 */
void *mmhint_memroute_alloc(size_t n, size_t align, int zero);

/* The reserved range of packed chunks: [base, base + len); len is 0 until the first packed allocation. */
extern __attribute__((visibility("hidden"))) uintptr_t mmhint_memroute_pack_base;
extern __attribute__((visibility("hidden"))) size_t mmhint_memroute_pack_len;

/*
 * Nonzero when p lies in the packed range: free's first test.  The length is
 * tested first, so that before any packed allocation (routing off, or no
 * routed size below 2 MiB) it costs a load, a test and a branch.
 */
static inline int mmhint_memroute_packed(const void *p) {
  size_t len = mmhint_memroute_pack_len;
  return __builtin_expect(len != 0, 0) && (uintptr_t)p - mmhint_memroute_pack_base < len;
}

/*
 * For p in the packed range (mmhint_memroute_packed): returns the usable
 * size of the block at p, or 0 when p is not a block the router handed out
 * (its chunk was never carved: someone else's mapping, or not a block start).
 */
size_t mmhint_memroute_pack_size(const void *p);

/* Puts a packed block back on its class's free list; returns 0 when p is not one (see mmhint_memroute_pack_size). */
int mmhint_memroute_pack_free(void *p);

/*
 * realloc of packed block p to n bytes: returns p when n gets the same
 * treatment and the same class, else NULL (the caller moves the data).
 */
void *mmhint_memroute_pack_resize(void *p, size_t n);

/* The fork protocol (policy/fork.h) for the packing lock, a leaf: taken last, nothing is taken under it. */
void mmhint_memroute_fork(int phase);

/* Returns the routed malloc region that starts at p, or NULL (a pointer someone else handed out). */
static inline mmhint_region_t *mmhint_memroute_owner(const void *p) {
  if (__builtin_expect(((uintptr_t)p & MMHINT_HUGE_MASK) != 0, 1)) return 0;
  if (!mmhint_memroute_active || !p) return 0;
  mmhint_region_t *e = mmhint_registry_find(&mmhint_memroute_regions, (uintptr_t)p);
  return e && (e->flags & MMHINT_RG_MALLOC) ? e : 0;
}

/* Measures, unregisters and unmaps a routed region. */
void mmhint_memroute_release(mmhint_region_t *e);

/*
 * Resizes routed region e (start p) to n bytes in place when the policy
 * would give n the same treatment and it fits; returns p then, else NULL
 * (the caller moves the data).
 */
void *mmhint_memroute_resize_in_place(mmhint_region_t *e, size_t n);

/*
 * The program's anonymous mmap of len bytes (flags as given, MAP_ANONYMOUS
 * and MAP_PRIVATE, no MAP_FIXED): maps it with the treatment the policy gives
 * len (over-mapped and trimmed to 2 MiB when addr is NULL, madvise and mbind
 * before returning) and registers it.  Returns the mapping, or NULL when the
 * router does not take it (the caller maps it as asked).  On a real error
 * returns MAP_FAILED with errno set.
 */
void *mmhint_memroute_mmap(void *addr, size_t len, int prot, int flags);

/*
 * Before the program's munmap(addr, len): returns the length to pass (2 MiB
 * rounded for a hugetlb region that starts at addr) and, when the call
 * removes the whole region at addr, measures and unregisters it.
 */
size_t mmhint_memroute_munmap(void *addr, size_t len);

/* After a successful mremap of old to new (new_len bytes): follows a registered region. */
void mmhint_memroute_moved(void *old, void *new_addr, size_t new_len);

#ifdef __cplusplus
}
#endif
#endif
