/*
 * policy/alloc.h: the allocator's counters, process-wide: what the malloc
 * family and the program's anonymous mmaps asked for (shim/alloc.c and
 * shim/mmap.c count them).  Declared once as an X-macro; the enum, the names
 * and the writer expand from it.  They are written first in the statistics'
 * "memory" object, before the allocation router's keys (policy/memroute.h).
 */
#ifndef MMHINT_POLICY_ALLOC_H
#define MMHINT_POLICY_ALLOC_H

#include <stdint.h>

#include "policy/count.h"
#include "policy/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* M(name, doc): the name is the JSON key in "memory" (docs/STATS.md). */
#define MMHINT_MEM_COUNTERS(M)                                  \
  M(malloc_calls, "malloc and __libc_malloc calls")            \
  M(calloc_calls, "calloc calls")                               \
  M(realloc_calls, "realloc and reallocarray calls")            \
  M(free_calls, "free calls with a non-NULL pointer")           \
  M(aligned_calls, "memalign, posix_memalign, aligned_alloc, valloc, pvalloc") \
  M(bytes_requested, "bytes asked for by the calls above")     \
  M(mmap_anon_calls, "anonymous mmap calls")                    \
  M(mmap_anon_bytes, "bytes mapped by those calls")

typedef enum {
#define MMHINT_X_MEM(name, doc) MMHINT_MC_##name,
  MMHINT_MEM_COUNTERS(MMHINT_X_MEM)
#undef MMHINT_X_MEM
  MMHINT_MC__COUNT
} mmhint_mc_id_t;

/* Allocation size classes; the names are the keys of "memory.size_classes". */
#define MMHINT_MEM_CLASSES 7
#define MMHINT_MEM_CLASS_NAMES {"0-64", "64-512", "512-4K", "4K-64K", "64K-1M", "1M-32M", "32M+"}

typedef struct {
  uint64_t c[MMHINT_MC__COUNT];
  uint64_t size_class[MMHINT_MEM_CLASSES];
} mmhint_mem_stats_t;

/* The counters; the shim adds to them with mmhint_count (policy/count.h). */
extern __attribute__((visibility("hidden"))) mmhint_mem_stats_t mmhint_mem_stats;

/* Returns the allocation size class of n bytes.  Inline: it is on every malloc's path. */
static inline int mmhint_mem_class(uint64_t n) {
  /* By the highest set bit of n - 1 (n = 0 and 1 in the first class): one table load instead of a chain of compares. */
  static const unsigned char by_top_bit[64] = {
      0, 0, 0, 0, 0, 0,                                     /* <= 64 */
      1, 1, 1,                                              /* <= 512 */
      2, 2, 2,                                              /* <= 4 KiB */
      3, 3, 3, 3,                                           /* <= 64 KiB */
      4, 4, 4, 4,                                           /* <= 1 MiB */
      5, 5, 5, 5, 5,                                        /* <= 32 MiB */
      6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
      6, 6, 6, 6};
  return by_top_bit[63 ^ __builtin_clzll((n - (n != 0)) | 1)];
}

/*
 * Writes the counters and "size_classes" as keys of the object `j` is in
 * (the "memory" section, which policy/memroute.c renders).  Never fails:
 * memory exhaustion is the writer's `failed` flag.
 */
void mmhint_alloc_render(mmhint_json_t *j);

/* Sets every counter to zero: the child of a fork starts its own statistics. */
void mmhint_alloc_reset(void);

#ifdef __cplusplus
}
#endif
#endif
