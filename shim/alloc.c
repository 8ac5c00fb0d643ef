/*
 * shim/alloc.c: the malloc family.
 *
 * For now a counting pass-through to the next allocator in the search order
 * (glibc's, or a jemalloc/tcmalloc preloaded after this library), so it
 * stacks with them in either order.  Until the real functions are resolved
 * (dlsym itself allocates), requests are served from a static arena that
 * free, realloc and malloc_usable_size recognise.
 */
#include <stdint.h>
#include <string.h>

#include "shim.h"

/* ---- The start-up arena ------------------------------------------------------------ */

#define MMHINT_EARLY_SIZE (256 * 1024)
static _Alignas(64) char early[MMHINT_EARLY_SIZE];
static size_t early_used;

typedef struct {
  size_t size;
  size_t pad;
} early_header_t;

static inline int is_early(const void *p) {
  return (const char *)p >= early && (const char *)p < early + MMHINT_EARLY_SIZE;
}

/* Serves an allocation from the start-up arena; NULL (ENOMEM) when it is used up. */
static void *early_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  if (n > MMHINT_EARLY_SIZE) {
    errno = ENOMEM;
    return NULL;
  }
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

static inline void count_alloc(int counter, size_t n) {
  if (mmhint__state != MMHINT_STATE_READY || mmhint__busy) return;
  mmhint_count(&mmhint_mem_stats.c[counter], 1);
  mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_bytes_requested], n);
  mmhint_count(&mmhint_mem_stats.size_class[mmhint_mem_class(n)], 1);
}

/* Resolves on the first call; returns nonzero when the real function `p` is still unknown. */
#define MMHINT_NEED_EARLY(name) \
  (MMHINT_UNLIKELY(!MMHINT_REAL(name)) && (mmhint__bootstrap(), !MMHINT_REAL(name)))

/* ---- The family ------------------------------------------------------------------------- */

MMHINT_EXPORT void *malloc(size_t n) {
  if (MMHINT_NEED_EARLY(malloc)) return early_alloc(n, 16);
  count_alloc(MMHINT_MC_malloc_calls, n);
  return MMHINT_REAL(malloc)(n);
}

MMHINT_EXPORT void *__libc_malloc(size_t n) {
  if (MMHINT_NEED_EARLY(__libc_malloc)) return early_alloc(n, 16);
  count_alloc(MMHINT_MC_malloc_calls, n);
  return MMHINT_REAL(__libc_malloc)(n);
}

/* Frees p unless it came from the start-up arena (which is never reused). */
#define MMHINT_FREE_BODY(name, p)                                                              \
  do {                                                                                         \
    if (!(p) || is_early(p)) return;                                                           \
    if (mmhint__state == MMHINT_STATE_READY && !mmhint__busy)                                  \
      mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_free_calls], 1);                              \
    if (MMHINT_NEED_EARLY(name)) return; /* cannot happen for a pointer the real malloc made */ \
    MMHINT_REAL(name)(p);                                                                      \
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
  count_alloc(MMHINT_MC_calloc_calls, __builtin_mul_overflow(n, size, &total) ? SIZE_MAX : total);
  return MMHINT_REAL(calloc)(n, size);
}

MMHINT_EXPORT void *__libc_calloc(size_t n, size_t size) {
  if (MMHINT_NEED_EARLY(__libc_calloc)) return early_calloc(n, size);
  size_t total;
  count_alloc(MMHINT_MC_calloc_calls, __builtin_mul_overflow(n, size, &total) ? SIZE_MAX : total);
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
  return MMHINT_REAL(realloc)(p, n);
}

MMHINT_EXPORT void *__libc_realloc(void *p, size_t n) {
  if (MMHINT_NEED_EARLY(__libc_realloc)) return p && is_early(p) ? early_realloc(p, n, NULL) : early_alloc(n, 16);
  if (p && is_early(p)) return early_realloc(p, n, MMHINT_REAL(malloc));
  count_alloc(MMHINT_MC_realloc_calls, n);
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
  return MMHINT_REAL(reallocarray)(p, n, size);
}

MMHINT_EXPORT void *memalign(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(memalign)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(memalign)(align, n);
}

MMHINT_EXPORT void *__libc_memalign(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(__libc_memalign)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
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
  return MMHINT_REAL(posix_memalign)(out, align, n);
}

MMHINT_EXPORT void *aligned_alloc(size_t align, size_t n) {
  if (MMHINT_NEED_EARLY(aligned_alloc)) return early_alloc(n, align);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(aligned_alloc)(align, n);
}

MMHINT_EXPORT void *valloc(size_t n) {
  if (MMHINT_NEED_EARLY(valloc)) return early_alloc(n, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(valloc)(n);
}

MMHINT_EXPORT void *__libc_valloc(size_t n) {
  if (MMHINT_NEED_EARLY(__libc_valloc)) return early_alloc(n, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(__libc_valloc)(n);
}

MMHINT_EXPORT void *pvalloc(size_t n) {
  if (MMHINT_NEED_EARLY(pvalloc)) return early_alloc((n + 4095) & ~(size_t)4095, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(pvalloc)(n);
}

MMHINT_EXPORT void *__libc_pvalloc(size_t n) {
  if (MMHINT_NEED_EARLY(__libc_pvalloc)) return early_alloc((n + 4095) & ~(size_t)4095, 4096);
  count_alloc(MMHINT_MC_aligned_calls, n);
  return MMHINT_REAL(__libc_pvalloc)(n);
}

MMHINT_EXPORT size_t malloc_usable_size(void *p) {
  if (!p) return 0;
  if (is_early(p)) return early_size(p);
  if (MMHINT_NEED_EARLY(malloc_usable_size)) return 0;
  return MMHINT_REAL(malloc_usable_size)(p);
}
