/*
 * policy/memmap.h: regions of the router's own.  Maps a routed allocation
 * (2 MiB and up, or one no packed class can hold) or an anonymous mmap of the
 * program with the treatment the policy gives it (MAP_HUGETLB reserved up
 * front, else madvise(MADV_HUGEPAGE); mbind before the first touch), aligned
 * to 2 MiB by over-mapping and trimming, and registers it in the registry.
 * Uses the router's shared state (memcore.h); the packing allocator
 * (mempack.h) and the router (memroute.h) call it.
 */
#ifndef MMHINT_POLICY_MEMMAP_H
#define MMHINT_POLICY_MEMMAP_H

#include <stddef.h>
#include <stdint.h>

#include "policy/memcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Maps n bytes with treatment `want` (THP/HUGETLB/NUMA), falling back as
 * needed (each fallback counted); sets *len_out and returns the start with
 * the treatment it got in *got, or NULL.  addr_hint: the program's address
 * hint (NULL: aligned to `align`, at least 2 MiB).
 */
void *mmhint_memmap_region(size_t n, size_t align, uint32_t want, int prot, int flags, void *addr_hint,
                           size_t *len_out, uint32_t *got);

/* Registers a fresh region and counts it; on a full registry unmaps it and returns NULL. */
void *mmhint_memmap_enlist(void *p, size_t len, size_t req, uint32_t flags);

/*
 * A malloc-family allocation of n bytes aligned to `align` in a region of its
 * own with treatment `want`: mapped, counted and registered (MMHINT_RG_MALLOC,
 * so free and realloc find it).  Returns it, or NULL (the fallback counted).
 */
void *mmhint_memmap_alloc(size_t n, size_t align, uint32_t want);

#ifdef __cplusplus
}
#endif
#endif
