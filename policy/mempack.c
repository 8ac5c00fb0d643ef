/*
 * policy/mempack.c: the packing allocator of routed allocations below the
 * huge-page size; see mempack.h and docs/MEMORY.md ("Packing").
 */
#include "policy/mempack.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "policy/alloc.h"
#include "policy/count.h"
#include "policy/fork.h"
#include "policy/memmap.h"
#include "policy/spin.h"
#include "policy/os/os.h"

#define MMHINT_PACK_RESERVE_MAX ((size_t)8 << 30)   /* address range reserved for packed chunks, at most */
#define MMHINT_PACK_RESERVE_MIN ((size_t)64 << 20)  /* ... halved on failure down to this */
#define MMHINT_PACK_MAX_CHUNKS (MMHINT_PACK_RESERVE_MAX / MMHINT_HUGE_SIZE)
#define MMHINT_PACK_TREATMENTS 16                   /* (THP, HUGETLB, NUMA) >> 2, and MMHINT_PACK_ALIGNED */

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
 * What free() reads of a chunk (mmhint_pack_chunk_t), and what malloc()
 * reads and writes of a list, are each kept in one place (one cache line per
 * call, not one per array), so that the routed pair touches as few lines as
 * glibc's does.
 */
typedef struct {
  void *free;      /* the last freed block; its first word links to the one freed before */
  uintptr_t next;  /* the bump pointer of the newest chunk ... */
  uintptr_t end;   /* ... and its end */
  uintptr_t pad;
} pack_list_t;
static mmhint_pack_chunk_t chunk_info[MMHINT_PACK_MAX_CHUNKS];
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
    __atomic_fetch_or(&mmhint_free_mode, MMHINT_AM_PACKED, __ATOMIC_RELEASE);
    return 1;
  }
  pack_reserve_failed = 1;
  mmhint_memroute_fallback(MMHINT_RF_pack_full, "no address space for the packed range");
  return 0;
}

/*
 * Maps the next chunk of the range for class c, treatment `want` and list
 * index t (under the lock); returns the address of its first block, or 0.
 */
static uintptr_t pack_carve(uint32_t c, uint32_t want, uint32_t t) {
  if (pack_chunks >= mmhint_memroute_pack_len / MMHINT_HUGE_SIZE) {
    mmhint_memroute_fallback(MMHINT_RF_pack_full, "");
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
    mmhint_memroute_fallback(MMHINT_RF_map_failed, "");
    return 0;
  }
  uint32_t got = 0;
  /* hugetlb cannot replace a reservation in one step without a window for other mappings: THP instead. */
  if (want & (MMHINT_RG_THP | MMHINT_RG_HUGETLB)) got |= mmhint_memroute_advise_thp(r, MMHINT_HUGE_SIZE);
  if (want & MMHINT_RG_NUMA) got |= mmhint_memroute_place(r, MMHINT_HUGE_SIZE);
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

/* Packing failed: a region of its own unless packing failed for good (then none either). */
static void *declined(size_t n, size_t align, uint32_t want) {
  return mmhint_mempack_exhausted() ? NULL : mmhint_memmap_alloc(n, align, want);
}

void *mmhint_mempack_alloc(size_t n, size_t align, uint32_t want, int zero) {
  uint32_t c = mmhint_pack_class_aligned(n, align);
  if (c >= MMHINT_PACK_CLASSES) return mmhint_memmap_alloc(n, align, want); /* no class is aligned enough */
  uint32_t t = ((want >> 2) & 7) | (align > MMHINT_PACK_COLOUR_ALIGN ? MMHINT_PACK_ALIGNED : 0);
  size_t sz = (size_t)mmhint_pack_class_size(c);
  void *p;
  int reused = 0;
  mmhint_spin_lock(&pack_lock);
  if (!pack_reserve()) {
    mmhint_spin_unlock(&pack_lock);
    return declined(n, align, want);
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
        return declined(n, align, want);
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
  uint32_t want = mmhint_memroute_decide(&mmhint_memroute_cfg, n);
  if (!want || ((want >> 2) & 7) != (chunk_info[i].treat & 7u) || mmhint_pack_class(n) != c) return NULL;
  return p;
}

int mmhint_mempack_exhausted(void) {
  return pack_reserve_failed || pack_chunks >= mmhint_memroute_pack_len / MMHINT_HUGE_SIZE;
}

const mmhint_pack_chunk_t *mmhint_mempack_chunks(size_t *n) {
  *n = __atomic_load_n(&pack_chunks, __ATOMIC_ACQUIRE);
  return chunk_info;
}

void mmhint_memroute_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&pack_lock);
  else if (phase == MMHINT_FORK_PARENT) mmhint_spin_unlock(&pack_lock);
  else __atomic_store_n(&pack_lock, 0, __ATOMIC_RELEASE);
}
