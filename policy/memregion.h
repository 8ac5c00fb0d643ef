/*
 * policy/memregion.h: the regions of the allocation router and what is
 * measured of them.  The lock-free, address-keyed registry of the regions the
 * router mapped; the /proc/self/smaps parser; and the measurements of a range
 * of this process: its AnonHugePages (smaps), its pages per NUMA node
 * (move_pages), and the whole process's AnonHugePages (smaps_rollup).
 * docs/MEMORY.md explains what is measured when.
 *
 * The registry and the parser are pure and unit-tested in
 * tests/policy/memroute_test.cc; the measurements make raw system calls
 * (policy/os) and never call the program's allocator or stdio, so they are
 * safe inside the malloc wrappers.  The lowest layer of the router: it uses
 * only policy/os.
 */
#ifndef MMHINT_POLICY_MEMREGION_H
#define MMHINT_POLICY_MEMREGION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_HUGE_SIZE ((size_t)2 << 20) /* x86-64 PMD huge page; routed allocations start on one */
#define MMHINT_HUGE_MASK (MMHINT_HUGE_SIZE - 1)
#define MMHINT_PAGE_SIZE ((size_t)4096)

/* Rounds n up to a multiple of `unit` (a power of two); returns 0 on overflow. */
static inline uint64_t mmhint_round_up(uint64_t n, uint64_t unit) {
  uint64_t r = (n + unit - 1) & ~(unit - 1);
  return r < n ? 0 : r;
}

/* One region the router owns.  key 0 is an empty slot, 1 a deleted one. */
typedef struct {
  uintptr_t key;  /* start address (the pointer handed out) */
  size_t len;     /* mapped length */
  size_t req;     /* bytes the program asked for */
  uint32_t flags; /* MMHINT_RG_* */
  uint32_t pad;
} mmhint_region_t;

/*
 * A fixed-size open-addressing hash of regions, lock-free for insert, find
 * and remove.  `used` has one bit per span of slots (the table cut into
 * MMHINT_REGISTRY_SPANS equal spans: one 4 KiB page each for the router's
 * 65,536 slots) that an insert ever wrote, so that a walk over the live
 * regions (mmhint_registry_next) reads only those spans and never faults in
 * the untouched pages of a mostly empty table.
 */
#define MMHINT_REGISTRY_SPANS 512
typedef struct {
  mmhint_region_t *slots;
  uint32_t bits;   /* capacity is 1 << bits */
  uint32_t live;   /* regions in the table */
  uint64_t used[MMHINT_REGISTRY_SPANS / 64]; /* spans an insert wrote */
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
 * Walks the live regions: returns the first one at slot index >= *pos and
 * sets *pos past it, or NULL at the end (start with *pos = 0).  Reads only
 * the spans an insert wrote.  Regions inserted or removed during the walk may
 * or may not be seen.
 */
mmhint_region_t *mmhint_registry_next(const mmhint_registry_t *r, size_t *pos);

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

/* ---- Measuring ranges of this process ------------------------------------------ */

/* Nodes whose page counts are kept (a page on a higher node counts in the last counter). */
#define MMHINT_ROUTE_NODES 64
/* move_pages entries per region at most; beyond, pages are sampled and the counts scaled. */
#define MMHINT_SAMPLE_PAGES 16384

/*
 * Returns the AnonHugePages bytes of this process's VMAs that lie inside the
 * n ranges (sorted, not overlapping), reading /proc/self/smaps in one pass; 0
 * when it cannot be read.
 */
uint64_t mmhint_memregion_huge_bytes(const uint64_t (*ranges)[2], size_t n);

/*
 * Adds the pages of [base, base+len) per node to per_node (MMHINT_ROUTE_NODES
 * + 1 counters): move_pages with NULL nodes on at most MMHINT_SAMPLE_PAGES
 * evenly spaced pages, scaled to the whole region.  Pages not present are not
 * counted.  Returns 1 when it sampled (scaled), 0 when it counted every page.
 */
int mmhint_memregion_nodes(uintptr_t base, size_t len, uint64_t *per_node);

/*
 * Nonzero when [start, start + len) holds a whole 2 MiB-aligned 2 MiB range,
 * the least a huge page (a PMD mapping, what smaps counts as AnonHugePages)
 * needs.  A region that does not can have none, so it is not looked for in
 * smaps: reading smaps walks the page tables of every mapping of the process.
 */
int mmhint_memregion_can_hold_huge(uintptr_t start, size_t len);

/* Reads one "Name:   N kB" field of /proc/self/smaps_rollup, in bytes; -1 when absent. */
int64_t mmhint_memregion_rollup_bytes(const char *name);

#ifdef __cplusplus
}
#endif
#endif
