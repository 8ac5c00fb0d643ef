/*
 * policy/memmap.c: regions of the router's own, mapped for one allocation or
 * one anonymous mmap of the program; see memmap.h.
 */
#include "policy/memmap.h"

#include <sys/mman.h>

#include "policy/count.h"
#include "policy/os/os.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#define MMHINT_MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)

/* Nonzero once a malloc region has been handed out: free's filter (mmhint_memroute_owner) reads it. */
int mmhint_memroute_active;

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

void *mmhint_memmap_region(size_t n, size_t align, uint32_t want, int prot, int flags, void *addr_hint,
                           size_t *len_out, uint32_t *got) {
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
      mmhint_memroute_fallback(MMHINT_RF_hugetlb_pool, "");
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
    if (want & MMHINT_RG_THP) *got |= mmhint_memroute_advise_thp(p, len);
  }
  if (want & MMHINT_RG_NUMA) *got |= mmhint_memroute_place(p, len); /* before the first touch */
  *len_out = len;
  return p;
}

void *mmhint_memmap_enlist(void *p, size_t len, size_t req, uint32_t flags) {
  if (!mmhint_registry_insert(&mmhint_memroute_regions, (uintptr_t)p, len, req, flags)) {
    mmhint_os_munmap(p, len);
    mmhint_memroute_fallback(MMHINT_RF_registry_full, "");
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

void *mmhint_memmap_alloc(size_t n, size_t align, uint32_t want) {
  size_t len;
  uint32_t got;
  void *p = mmhint_memmap_region(n, align, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, NULL, &len, &got);
  if (!p) {
    mmhint_memroute_fallback(MMHINT_RF_map_failed, "");
    return NULL;
  }
  /* Huge-page routing that fell back to normal pages still counts as requested. */
  if ((want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) && !(got & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)))
    mmhint_count(&mmhint_memroute_stats.c[MMHINT_RC_huge_requested_bytes], len);
  p = mmhint_memmap_enlist(p, len, n, got | MMHINT_RG_MALLOC);
  if (p && !mmhint_memroute_active) __atomic_store_n(&mmhint_memroute_active, 1, __ATOMIC_RELEASE);
  return p;
}
