/*
 * shim/alloc.c: the malloc family.
 *
 * A counting pass-through to the next allocator in the search order (glibc's,
 * or a jemalloc/tcmalloc preloaded after this library), so it stacks with
 * them in either order.  Until the real functions are resolved (dlsym itself
 * allocates), requests are served from a static arena that free, realloc and
 * malloc_usable_size recognise.
 *
 * Allocations inside the hugepages/numa size windows are served by the
 * router (policy/memroute.c): from 2 MiB up from the shim's own 2 MiB-aligned
 * mappings, below 2 MiB from shared 2 MiB chunks inside one reserved range
 * ("packed").  free, realloc and malloc_usable_size test the packed range
 * (one compare) and then whether the pointer is 2 MiB aligned; only pointers
 * that pass (rare for anyone else's) are looked up, and what the router does
 * not know goes to the next allocator untouched.
 */
#include <stdint.h>
#include <string.h>

#include "policy/alloc.h"
#include "policy/memroute.h"
#include "shim/shim.h"

/* Tells scripts/numa-vm-test (nm -D) that this build places allocations on NUMA nodes. */
MMHINT_EXPORT int mmhint_numa_supported = 1;

/* ---- The start-up arena ------------------------------------------------------------ */

#define MMHINT_EARLY_SIZE (256 * 1024)
static _Alignas(64) char early[MMHINT_EARLY_SIZE];
static size_t early_used;

typedef struct {
  size_t size;
  size_t pad;
} early_header_t;

static inline int is_early(const void *p) { return (uintptr_t)p - (uintptr_t)early < MMHINT_EARLY_SIZE; }

/* Serves an allocation from the start-up arena; NULL (ENOMEM) when it is used up. */
static void *early_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  if (n > MMHINT_EARLY_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
  /* From now on every free tests for the arena (free_slow); before its first block none needs to. */
  __atomic_fetch_or(&mmhint_free_mode, MMHINT_AM_EARLY, __ATOMIC_RELEASE);
  for (;;) {
    size_t used = __atomic_load_n(&early_used, __ATOMIC_RELAXED);
    size_t start = (used + sizeof(early_header_t) + align - 1) & ~(align - 1);
    size_t end = start + ((n + 15) & ~(size_t)15);
    if (end > MMHINT_EARLY_SIZE) {
      errno = ENOMEM;
      return NULL;
    }
    if (__atomic_compare_exchange_n(&early_used, &used, end, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
      ((early_header_t *)(early + start))[-1].size = n;
      return early + start; /* static storage: already zero */
    }
  }
}

static inline size_t early_size(const void *p) { return ((const early_header_t *)p)[-1].size; }

/* ---- Counting ------------------------------------------------------------------------ */

/*
 * Allocations are counted only when statistics are on: a malloc/free pair
 * costs ~10 ns, so even three counter adds are a visible share of it, and
 * nobody reads the counts otherwise.  MMHINT_AM_COUNT (policy/alloc.h) is
 * set during start-up, after the real functions are resolved, and only when
 * malloc, __libc_malloc, free and __libc_free all were: the counted paths
 * below call them without testing them.  The busy flag is not consulted: a
 * counter add is safe on re-entry, and the allocations made while a thread
 * is busy are nearly all the program's (glibc's stdio inside the shim's
 * stdio wrappers allocating the stream's buffer); the shim itself allocates
 * only while starting a helper thread.
 */
static inline int counting(void) { return MMHINT_UNLIKELY(mmhint_malloc_mode & MMHINT_AM_COUNT); }

/* Counts one call of `counter` for n bytes; the caller has tested counting(). */
static inline void count_alloc_on(int counter, size_t n) {
  const int st = __libc_single_threaded;
  mmhint_count_st(st, &mmhint_mem_stats.c[counter], 1);
  mmhint_count_st(st, &mmhint_mem_stats.c[MMHINT_MC_bytes_requested], n);
  mmhint_count_st(st, &mmhint_mem_stats.by_bits[mmhint_mem_bits(n)], 1);
}

static inline void count_alloc(int counter, size_t n) {
  if (counting()) count_alloc_on(counter, n);
}

/* ---- Routing ------------------------------------------------------------------------ */

/*
 * Serves n bytes (aligned to `align`, 0 for the default) from the router when
 * n is inside a window; NULL sends the caller on to the next allocator.  The
 * size compare is the only cost outside the windows.
 */
static inline void *route_z(size_t n, size_t align, int zero) {
  if (MMHINT_LIKELY(n < mmhint_memroute_min)) return NULL;
  if (mmhint__state != MMHINT_STATE_READY || mmhint__busy) return NULL;
  mmhint__busy = 1;
  void *p = mmhint_memroute_alloc(n, align, zero);
  mmhint__busy = 0;
  return p;
}
static inline void *route(size_t n, size_t align) { return route_z(n, align, 0); }

/* Frees a packed block (p in the packed range); returns 0 when it is not one. */
static int route_pack_free(void *p) {
  int was = mmhint__busy;
  mmhint__busy = 1;
  int r = mmhint_memroute_pack_free(p);
  mmhint__busy = was;
  return r;
}

/* realloc of a packed block of `have` usable bytes: kept when n stays in its class, else moved. */
static void *route_pack_realloc(void *p, size_t have, size_t n, __typeof__(malloc) *real_malloc) {
  if (n == 0) { /* glibc's realloc(p, 0) frees p and returns NULL */
    route_pack_free(p);
    return NULL;
  }
  if (mmhint_memroute_pack_resize(p, n)) return p;
  void *q = route(n, 0);
  if (!q) q = real_malloc(n);
  if (!q) return NULL;
  memcpy(q, p, have < n ? have : n);
  route_pack_free(p);
  return q;
}

/* Releases a routed region (free of a pointer the router handed out). */
static void route_free(mmhint_region_t *e) {
  int was = mmhint__busy;
  mmhint__busy = 1;
  mmhint_memroute_release(e);
  mmhint__busy = was;
}

/*
 * realloc of a routed pointer: in place when the new size gets the same
 * treatment and fits, else moved (to a new routed region or to the next
 * allocator) and the old region released.
 */
static void *route_realloc(mmhint_region_t *e, void *p, size_t n, __typeof__(malloc) *real_malloc) {
  if (n == 0) { /* glibc's realloc(p, 0) frees p and returns NULL */
    route_free(e);
    return NULL;
  }
  void *q = mmhint_memroute_resize_in_place(e, n);
  if (q) return q;
  q = route(n, 0);
  if (!q) q = real_malloc(n);
  if (!q) return NULL;
  memcpy(q, p, e->len < n ? e->len : n);
  route_free(e);
  return q;
}

/* realloc of the next allocator's pointer p to a size inside a window: moves it into a routed region. */
static void *route_adopt(void *p, size_t n, void (*real_free)(void *)) {
  if (!p || !MMHINT_REAL(malloc_usable_size)) return NULL;
  void *q = route(n, 0);
  if (!q) return NULL;
  size_t old = MMHINT_REAL(malloc_usable_size)(p);
  memcpy(q, p, old < n ? old : n);
  real_free(p);
  return q;
}

/* Resolves on the first call; returns nonzero when the real function `p` is still unknown. */
#define MMHINT_NEED_EARLY(name) \
  (MMHINT_UNLIKELY(!MMHINT_REAL(name)) && (mmhint__bootstrap(), !MMHINT_REAL(name)))

/* ---- The family ------------------------------------------------------------------------- */

/*
 * The slow half of malloc: before start-up (the real malloc unknown), or a
 * size at or above the routing floor.  Out of line, so that the common paths
 * are a compare and a tail call with no stack frame.  Counts when `count`.
 */
static __attribute__((noinline)) void *malloc_slow(size_t n, int count, void *(**real)(size_t)) {
  if (count) count_alloc_on(MMHINT_MC_malloc_calls, n); /* nothing before start-up: stats are off */
  if (MMHINT_UNLIKELY(!*real) && (mmhint__bootstrap(), !*real)) return early_alloc(n, 16);
  void *r = route(n, 0);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return (*real)(n);
}

/*
 * Straight paths, each ending in a tail call: counted, uncounted, and
 * counted with size windows (one compare more).
 */
#define MMHINT_MALLOC_BODY(name, n)                                                    \
  do {                                                                                 \
    const unsigned mode_ = mmhint_malloc_mode;                                         \
    if (MMHINT_LIKELY(mode_ == MMHINT_AM_COUNT)) {                                     \
      count_alloc_on(MMHINT_MC_malloc_calls, n);                                       \
      return MMHINT_REAL(name)(n);                                                     \
    }                                                                                  \
    if (MMHINT_LIKELY(mode_ == 0)) return MMHINT_REAL(name)(n);                        \
    if (mode_ == (MMHINT_AM_COUNT | MMHINT_AM_ROUTED)) {                               \
      if (MMHINT_UNLIKELY((n) >= mmhint_memroute_min)) return malloc_slow(n, 1, &MMHINT_REAL(name)); \
      count_alloc_on(MMHINT_MC_malloc_calls, n);                                       \
      return MMHINT_REAL(name)(n);                                                     \
    }                                                                                  \
    if (MMHINT_UNLIKELY(mode_ & MMHINT_AM_UNRESOLVED) || (n) >= mmhint_memroute_min)   \
      return malloc_slow(n, mode_ & MMHINT_AM_COUNT, &MMHINT_REAL(name));              \
    return MMHINT_REAL(name)(n);                                                       \
  } while (0)

MMHINT_EXPORT void *malloc(size_t n) { MMHINT_MALLOC_BODY(malloc, n); }
MMHINT_EXPORT void *__libc_malloc(size_t n) { MMHINT_MALLOC_BODY(__libc_malloc, n); }

/*
 * The slow half of free: the mode is neither 0 nor COUNT (before start-up,
 * the start-up arena used, the packed range reserved), or p is aligned to a
 * huge page (a routed region's, rare for anyone else's, or NULL).
 */
static __attribute__((noinline)) void free_slow(void *p, unsigned mode, void (**real)(void *)) {
  if (!p || is_early(p)) return;
  if (mode & MMHINT_AM_COUNT) mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_free_calls], 1);
  if (MMHINT_UNLIKELY(mmhint_memroute_packed(p)) && route_pack_free(p)) return;
  mmhint_region_t *e = mmhint_memroute_owner(p);
  if (MMHINT_UNLIKELY(e != NULL)) {
    route_free(e);
    return;
  }
  if (MMHINT_UNLIKELY(!*real) && (mmhint__bootstrap(), !*real)) return; /* cannot happen for a pointer the real malloc made */
  (*real)(p);
}

/*
 * Frees p unless it came from the start-up arena (which is never reused);
 * routed memory goes back to the router.  One word (mmhint_free_mode) says
 * whether the call is counted and whether anything else must be tested (the
 * start-up arena once it has handed out a block, the packed range once it is
 * reserved), so the two common cases are each a straight path to a tail
 * call.  NULL is 2 MiB aligned, so it takes the slow half, which returns on
 * it: the common paths have no test for it.
 */
#define MMHINT_FREE_BODY(name, p)                                                   \
  do {                                                                              \
    const unsigned mode_ = mmhint_free_mode;                                        \
    if (MMHINT_LIKELY(mode_ == MMHINT_AM_COUNT)) {                                  \
      if (MMHINT_UNLIKELY(((uintptr_t)(p) & MMHINT_HUGE_MASK) == 0))                \
        return free_slow(p, mode_, &MMHINT_REAL(name));                             \
      mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_free_calls], 1);                   \
      return MMHINT_REAL(name)(p);                                                  \
    }                                                                               \
    if (MMHINT_UNLIKELY(mode_ != 0 || ((uintptr_t)(p) & MMHINT_HUGE_MASK) == 0))    \
      return free_slow(p, mode_, &MMHINT_REAL(name));                               \
    return MMHINT_REAL(name)(p);                                                    \
  } while (0)

MMHINT_EXPORT void free(void *p) { MMHINT_FREE_BODY(free, p); }
MMHINT_EXPORT void __libc_free(void *p) { MMHINT_FREE_BODY(__libc_free, p); }

/* calloc's size must not wrap around. */
static inline void *early_calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return early_alloc(total, 16);
}

MMHINT_EXPORT void *calloc(size_t n, size_t size) {
  if (MMHINT_NEED_EARLY(calloc)) return early_calloc(n, size);
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    count_alloc(MMHINT_MC_calloc_calls, SIZE_MAX);
    return MMHINT_REAL(calloc)(n, size); /* sets ENOMEM as it always did */
  }
  count_alloc(MMHINT_MC_calloc_calls, total);
  void *r = route_z(total, 0, 1); /* fresh memory is zero; a reused packed block is cleared */
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(calloc)(n, size);
}

MMHINT_EXPORT void *__libc_calloc(size_t n, size_t size) {
  if (MMHINT_NEED_EARLY(__libc_calloc)) return early_calloc(n, size);
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    count_alloc(MMHINT_MC_calloc_calls, SIZE_MAX);
    return MMHINT_REAL(__libc_calloc)(n, size); /* sets ENOMEM as it always did */
  }
  count_alloc(MMHINT_MC_calloc_calls, total);
  void *r = route_z(total, 0, 1); /* fresh memory is zero; a reused packed block is cleared */
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(__libc_calloc)(n, size);
}

/* Moves an allocation out of the start-up arena into the real allocator. */
static void *early_realloc(void *p, size_t n, __typeof__(malloc) *real_malloc) {
  void *q = real_malloc ? real_malloc(n) : early_alloc(n, 16);
  if (q) memcpy(q, p, early_size(p) < n ? early_size(p) : n);
  return q;
}

MMHINT_EXPORT void *realloc(void *p, size_t n) {
  if (MMHINT_NEED_EARLY(realloc)) return p && is_early(p) ? early_realloc(p, n, NULL) : early_alloc(n, 16);
  if (p && is_early(p)) return early_realloc(p, n, MMHINT_REAL(malloc));
  count_alloc(MMHINT_MC_realloc_calls, n);
  if (MMHINT_UNLIKELY(mmhint_memroute_packed(p))) {
    size_t have = mmhint_memroute_pack_size(p);
    if (have) return route_pack_realloc(p, have, n, MMHINT_REAL(malloc));
  }
  mmhint_region_t *e = mmhint_memroute_owner(p);
  if (MMHINT_UNLIKELY(e != NULL)) return route_realloc(e, p, n, MMHINT_REAL(malloc));
  if (MMHINT_UNLIKELY(n >= mmhint_memroute_min)) {
    void *q = p ? route_adopt(p, n, MMHINT_REAL(free)) : route(n, 0);
    if (q) return q;
  }
  return MMHINT_REAL(realloc)(p, n);
}

MMHINT_EXPORT void *__libc_realloc(void *p, size_t n) {
  if (MMHINT_NEED_EARLY(__libc_realloc)) return p && is_early(p) ? early_realloc(p, n, NULL) : early_alloc(n, 16);
  if (p && is_early(p)) return early_realloc(p, n, MMHINT_REAL(malloc));
  count_alloc(MMHINT_MC_realloc_calls, n);
  if (MMHINT_UNLIKELY(mmhint_memroute_packed(p))) {
    size_t have = mmhint_memroute_pack_size(p);
    if (have) return route_pack_realloc(p, have, n, MMHINT_REAL(malloc));
  }
  mmhint_region_t *e = mmhint_memroute_owner(p);
  if (MMHINT_UNLIKELY(e != NULL)) return route_realloc(e, p, n, MMHINT_REAL(malloc));
  if (MMHINT_UNLIKELY(n >= mmhint_memroute_min)) {
    void *q = p ? route_adopt(p, n, MMHINT_REAL(__libc_free)) : route(n, 0);
    if (q) return q;
  }
  return MMHINT_REAL(__libc_realloc)(p, n);
}

MMHINT_EXPORT void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (MMHINT_NEED_EARLY(reallocarray)) return p && is_early(p) ? early_realloc(p, total, NULL) : early_alloc(total, 16);
  if (p && is_early(p)) return early_realloc(p, total, MMHINT_REAL(malloc));
  count_alloc(MMHINT_MC_realloc_calls, total);
  if (MMHINT_UNLIKELY(mmhint_memroute_packed(p))) {
    size_t have = mmhint_memroute_pack_size(p);
    if (have) return route_pack_realloc(p, have, total, MMHINT_REAL(malloc));
  }
  mmhint_region_t *e = mmhint_memroute_owner(p);
  if (MMHINT_UNLIKELY(e != NULL)) return route_realloc(e, p, total, MMHINT_REAL(malloc));
  if (MMHINT_UNLIKELY(total >= mmhint_memroute_min)) {
    void *q = p ? route_adopt(p, total, MMHINT_REAL(free)) : route(total, 0);
    if (q) return q;
  }
  return MMHINT_REAL(reallocarray)(p, n, size);
}

MMHINT_EXPORT void *memalign(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(memalign)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route(n, align);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(memalign)(align, n);
}

MMHINT_EXPORT void *__libc_memalign(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(__libc_memalign)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route(n, align);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(__libc_memalign)(align, n);
}

MMHINT_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(posix_memalign)) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    void *p = early_alloc(n, align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
  }
  count_alloc(MMHINT_MC_aligned_calls, n);
  if (MMHINT_UNLIKELY(n >= mmhint_memroute_min) && align >= sizeof(void *) && !(align & (align - 1))) {
    void *r = route(n, align);
    if (r) {
      *out = r;
      return 0;
    }
  }
  return MMHINT_REAL(posix_memalign)(out, align, n);
}

MMHINT_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(aligned_alloc)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route(n, align);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(aligned_alloc)(align, n);
}

MMHINT_EXPORT void *valloc(size_t n) {
  if (MMHINT_NEED_EARLY(valloc)) return early_alloc(n, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route(n, 4096);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(valloc)(n);
}

MMHINT_EXPORT void *__libc_valloc(size_t n) {
  if (MMHINT_NEED_EARLY(__libc_valloc)) return early_alloc(n, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route(n, 4096);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(__libc_valloc)(n);
}

MMHINT_EXPORT void *pvalloc(size_t n) {
  if (MMHINT_NEED_EARLY(pvalloc)) return early_alloc((n + 4095) & ~(size_t)4095, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route((n + 4095) & ~(size_t)4095, 4096);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(pvalloc)(n);
}

MMHINT_EXPORT void *__libc_pvalloc(size_t n) {
  if (MMHINT_NEED_EARLY(__libc_pvalloc)) return early_alloc((n + 4095) & ~(size_t)4095, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  void *r = route((n + 4095) & ~(size_t)4095, 4096);
  if (MMHINT_UNLIKELY(r != NULL)) return r;
  return MMHINT_REAL(__libc_pvalloc)(n);
}

MMHINT_EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (is_early(p)) return early_size(p);
  if (MMHINT_UNLIKELY(mmhint_memroute_packed(p))) {
    size_t have = mmhint_memroute_pack_size(p);
    if (have) return have;
  }
  mmhint_region_t *e = mmhint_memroute_owner(p);
  if (MMHINT_UNLIKELY(e != NULL)) return e->len;
  if (MMHINT_NEED_EARLY(malloc_usable_size)) return 0;
  return MMHINT_REAL(malloc_usable_size)(p);
}
