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

/*
 * malloc's path adds to by_bits[mmhint_mem_bits(n)]: one add at a computed
 * index, with no table between the size and the counter.  The writer folds
 * the 64 bit lengths into the classes (mmhint_mem_class_of_bits).
 */
#define MMHINT_MEM_BITS 64

typedef struct {
  uint64_t c[MMHINT_MC__COUNT];
  uint64_t by_bits[MMHINT_MEM_BITS]; /* calls by the bit length of n - 1 (n = 0 and 1 in the first) */
} mmhint_mem_stats_t;

/* The counters; the shim adds to them with mmhint_count (policy/count.h). */
extern __attribute__((visibility("hidden"))) mmhint_mem_stats_t mmhint_mem_stats;

/*
 * What the common paths of malloc and of free must know, one word each so
 * that each reads one: 0 when they call the next allocator with nothing else
 * to do, COUNT when they only count first; any other value sends them to
 * their slow half.  The shim's start-up clears UNRESOLVED in both once the
 * real malloc, __libc_malloc, free and __libc_free are known, sets COUNT in
 * both when statistics are on, and sets ROUTED in malloc's when the router
 * has size windows.  shim/alloc.c sets EARLY in free's when its start-up
 * arena hands out a block (with glibc 2.36 it never does: dlsym does not
 * allocate); policy/mempack.c sets PACKED in free's when it reserves the
 * packed range.  Bits are only ever added after start-up.
 */
enum {
  MMHINT_AM_COUNT = 1,      /* both: statistics are on */
  MMHINT_AM_UNRESOLVED = 2, /* both: before start-up resolved the real functions */
  MMHINT_AM_ROUTED = 4,     /* malloc: sizes at or above mmhint_memroute_min go to the router */
  MMHINT_AM_EARLY = 8,      /* free: the start-up arena has handed out a block */
  MMHINT_AM_PACKED = 16     /* free: the packed range is reserved */
};
extern __attribute__((visibility("hidden"))) unsigned mmhint_malloc_mode;
extern __attribute__((visibility("hidden"))) unsigned mmhint_free_mode;

/* Returns the index of the highest set bit of n - 1 (0 for n = 0 and 1).  Inline: it is on every malloc's path. */
static inline unsigned long mmhint_mem_bits(uint64_t n) {
#if defined(__x86_64__)
  /* bsr itself: the builtin's int result costs a sign extension before it can index (the operand is never 0). */
  unsigned long b;
  __asm__("bsr %1, %0" : "=r"(b) : "rm"((n - (n != 0)) | 1) : "cc");
  return b;
#else
  return (unsigned long)(63 ^ __builtin_clzll((n - (n != 0)) | 1));
#endif
}

/* Returns the size class of the sizes whose mmhint_mem_bits is b. */
static inline int mmhint_mem_class_of_bits(unsigned long b) {
  /* The classes end at 64, 512, 4 KiB, 64 KiB, 1 MiB and 32 MiB: highest bits 5, 8, 11, 15, 19, 24. */
  return b < 6 ? 0 : b < 9 ? 1 : b < 12 ? 2 : b < 16 ? 3 : b < 20 ? 4 : b < 25 ? 5 : 6;
}

/* Returns the allocation size class of n bytes. */
static inline int mmhint_mem_class(uint64_t n) { return mmhint_mem_class_of_bits(mmhint_mem_bits(n)); }

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
