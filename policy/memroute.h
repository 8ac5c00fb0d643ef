/*
 * policy/memroute.h: the allocation router.  Decides which allocations (the
 * malloc family and the program's anonymous mmaps) go to huge pages and/or get
 * a NUMA policy, serves them from the shim's own 2 MiB-aligned mappings (or,
 * below 2 MiB, from the packing allocator), remembers those regions in a
 * lock-free address-keyed registry, and measures what the kernel actually
 * gave when a region is unmapped.  See docs/MEMORY.md.
 *
 * The router is six files, bottom to top (each uses only those before it):
 *   memregion.h  the region registry, the smaps parser, measuring ranges
 *   memcore.h    the configuration and decision, shared state, counters,
 *                fallbacks, the NUMA call and the treatment of a mapping
 *   memmap.h     regions of its own: mapping, aligning, registering
 *   mempack.h    the packing allocator below 2 MiB
 *   memrender.h  the statistics' "memory" object
 *   memroute.h   (this) start-up and the entry points of the shim
 * This header includes memregion, memcore and mempack, so the shim includes
 * only it.
 *
 * Pure parts (window, alignment math, registry, smaps parsing, classes) take
 * no global state and are unit-tested in tests/policy/memroute_test.cc.  The
 * rest makes raw system calls (mmap, madvise, mbind, set_mempolicy,
 * move_pages) and never calls the program's allocator, libnuma or stdio, so
 * it is safe inside the malloc wrappers.
 */
#ifndef MMHINT_POLICY_MEMROUTE_H
#define MMHINT_POLICY_MEMROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "policy/count.h"
#include "policy/json.h"
#include "policy/memcore.h"
#include "policy/memregion.h"
#include "policy/mempack.h"
#include "policy/nodes.h"
#include "policy/options.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The router in the shim --------------------------------------------------- */

/* The smallest size routed (UINT64_MAX while off or before init): the malloc wrappers compare with it. */
extern __attribute__((visibility("hidden"))) uint64_t mmhint_memroute_min;
/* Nonzero once a malloc region has been handed out: free's filter reads it. */
extern __attribute__((visibility("hidden"))) int mmhint_memroute_active;

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
