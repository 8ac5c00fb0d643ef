/*
 * policy/stats.h: the statistics store.  One record per file (device and
 * inode), found lock-free; counters declared once in
 * include/mmhint_counters.def; a bounded, evenly spaced sample of accesses per
 * file; allocation counters for the process.  Records live in the arena and
 * are never freed.  Writes the JSON described in docs/STATS.md.
 */
#ifndef MMHINT_POLICY_STATS_H
#define MMHINT_POLICY_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../include/mmhint_counters.def"
#include "hints.h"
#include "options.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
#define MMHINT_X_COUNTER(name, kind, unit, doc) MMHINT_FC_##name,
  MMHINT_FILE_COUNTERS(MMHINT_X_COUNTER)
#undef MMHINT_X_COUNTER
  MMHINT_FC__COUNT
} mmhint_fc_id_t;

/* The reasons read->mmap falls back to the real call, declared once. */
#define MMHINT_FALLBACKS(F)                                       \
  F(not_regular, "not a regular file")                           \
  F(too_small, "smaller than read_mmap_min_file")                \
  F(open_flags, "opened O_DIRECT, O_APPEND, O_PATH or for writing") \
  F(inherited, "a description this process did not open")        \
  F(shared, "shared with another process (fork, SCM_RIGHTS)")     \
  F(large_read, "read larger than read_mmap_max_read under auto") \
  F(flags, "preadv2 flags that a mapping cannot honour")          \
  F(map_failed, "the file could not be mapped")                   \
  F(address_cap, "read_mmap_max_mapped reached")                  \
  F(filesystem, "a filesystem that does not support mapping")     \
  F(changed, "the file changed size or was truncated")           \
  F(fault, "a page faulted during the copy: the file shrank under the mapping, or the buffer is not the program's") \
  F(zero_tail, "reads kept ending in zero bytes, each of which costs a size check")

typedef enum {
#define MMHINT_X_FALLBACK(name, doc) MMHINT_FB_##name,
  MMHINT_FALLBACKS(MMHINT_X_FALLBACK)
#undef MMHINT_X_FALLBACK
  MMHINT_FB__COUNT
} mmhint_fb_id_t;

#define MMHINT_MAX_PATHS 8

/* Operations kept in the access samples. */
enum { MMHINT_OP_READ = 'r', MMHINT_OP_PREAD = 'p', MMHINT_OP_STDIO = 's', MMHINT_OP_MMAP = 'm' };

typedef struct {
  uint64_t ticks;
  int64_t offset;
  uint64_t length;
  uint64_t op;
} mmhint_sample_t;

typedef struct mmhint_file {
  struct mmhint_file *next; /* hash chain; written once before publication */
  uint64_t dev, ino;
  uint32_t mode;            /* st_mode & S_IFMT */
  int64_t size_at_open;

  uint64_t c[MMHINT_FC__COUNT];
  uint64_t hist[MMHINT_READ_HIST_BUCKETS];
  uint64_t fallbacks[MMHINT_FB__COUNT];

  int lock;                 /* guards paths and samples (spin; taken off the hot path only) */
  int npaths;
  const char *paths[MMHINT_MAX_PATHS];

  uint64_t samples_seen;    /* accesses offered to the sampler */
  uint64_t sample_next;     /* the value of samples_seen at which the next one is kept */
  uint64_t sample_stride;   /* keep one access in this many */
  uint32_t nsamples;
  mmhint_sample_t *samples; /* capacity = stats_samples option */

  /* What the policy decided for this file (the values of the last open). */
  int rule;                 /* 1-based index of the rule that matched, 0 none */
  int8_t pol_read_mmap, pol_advice, pol_mmap_advice, pol_drop_behind;

  mmhint_hints_file_t hints; /* what the hints policy saw and did (policy/hints.h) */
} mmhint_file_t;

/* Memory counters, process-wide. */
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

#define MMHINT_MEM_CLASSES 7
#define MMHINT_MEM_CLASS_NAMES {"0-64", "64-512", "512-4K", "4K-64K", "64K-1M", "1M-32M", "32M+"}

/*
 * Counters of the allocation router (policy/memroute.c): what it did with the
 * allocations and anonymous mappings inside the hugepage/numa windows, and
 * what it measured of regions freed before the end (docs/MEMORY.md).
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
  R(numa_pages_scaled, "regions whose pages were sampled (not all counted) and scaled")

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
  uint64_t c[MMHINT_MC__COUNT];
  uint64_t size_class[MMHINT_MEM_CLASSES];
  uint64_t route[MMHINT_RC__COUNT];
  uint64_t route_fallbacks[MMHINT_RF__COUNT];
  uint64_t numa_pages_freed[MMHINT_ROUTE_NODES + 1]; /* last: nodes >= MMHINT_ROUTE_NODES */
} mmhint_mem_stats_t;

extern mmhint_mem_stats_t mmhint_mem_stats;

/* ---- Counting, cheaply -------------------------------------------------- */

/* glibc clears this when the process creates its first thread, and never sets it again. */
extern char __libc_single_threaded;

/*
 * Adds n to a counter.  One thread: a single non-locked add instruction, which
 * a signal handler on the same thread cannot tear.  Several threads: an atomic
 * add.
 */
static inline void mmhint_count(uint64_t *p, uint64_t n) {
#if defined(__x86_64__)
  if (__builtin_expect(__libc_single_threaded, 1)) {
    __asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(n));
    return;
  }
#endif
  __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* mmhint_count with the thread question already answered (for runs of counts). */
static inline void mmhint_count_st(int single, uint64_t *p, uint64_t n) {
#if defined(__x86_64__)
  if (__builtin_expect(single, 1)) {
    __asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(n));
    return;
  }
#endif
  __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* Raises a counter to at least v. */
static inline void mmhint_count_max(uint64_t *p, uint64_t v) {
  uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
  if (cur >= v) return;
  if (__builtin_expect(__libc_single_threaded, 1)) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
    return;
  }
  while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* Returns the read-size histogram bucket of a read of n bytes. */
static inline int mmhint_hist_bucket(uint64_t n) {
  /* A binary search over MMHINT_READ_HIST_BOUNDS: at most four compares. */
  if (n < 100000) return n < 1000 ? (n < 100 ? 0 : 1) : (n < 10000 ? 2 : 3);
  if (n < 10000000) return n < 1000000 ? 4 : (n < 4000000 ? 5 : 6);
  return n < 100000000 ? 7 : (n < 1000000000 ? 8 : 9);
}

/* Returns the allocation size class of n bytes. */
static inline int mmhint_mem_class(uint64_t n) {
  if (n <= 64) return 0;
  if (n <= 512) return 1;
  if (n <= 4096) return 2;
  if (n <= 65536) return 3;
  if (n <= 1048576) return 4;
  if (n <= 32 * 1048576) return 5;
  return 6;
}

/* ---- The store ---------------------------------------------------------- */

/*
 * Sets the store up: `samples` is the per-file sample capacity (0 disables).
 * Call once before any other function here.
 */
void mmhint_stats_init(uint32_t samples);

/*
 * Returns the record of (dev, ino), creating it (with mode and size) when it
 * does not exist.  Returns NULL only when the arena is exhausted.  Lock-free
 * for lookups; creation takes a short lock.
 */
mmhint_file_t *mmhint_stats_file(uint64_t dev, uint64_t ino, uint32_t mode, int64_t size);

/* Adds `path` to the record's paths unless it is already there or the list is full. */
void mmhint_stats_add_path(mmhint_file_t *f, const char *path);

/*
 * Notes an access between ticks t0 and t1 in the first/last access times.
 * Relaxed atomics: threads race to set them, and any of their values is right.
 */
static inline void mmhint_stats_touch(mmhint_file_t *f, uint64_t t0, uint64_t t1) {
  if (__builtin_expect(!__atomic_load_n(&f->c[MMHINT_FC_first_access_ns], __ATOMIC_RELAXED), 0))
    __atomic_store_n(&f->c[MMHINT_FC_first_access_ns], t0, __ATOMIC_RELAXED);
  __atomic_store_n(&f->c[MMHINT_FC_last_access_ns], t1, __ATOMIC_RELAXED);
}

/* Keeps an access in the sample (the slow half of mmhint_stats_sample). */
void mmhint_stats_sample_keep(mmhint_file_t *f, uint64_t ticks, int64_t offset, uint64_t length, int op);

/*
 * Offers an access to the sampler, which keeps an evenly spaced subset of at
 * most stats_samples accesses.  Costs one add and one compare unless the
 * access is kept.
 */
static inline void mmhint_stats_sample(mmhint_file_t *f, uint64_t ticks, int64_t offset, uint64_t length, int op) {
  mmhint_count(&f->samples_seen, 1);
  if (__builtin_expect(__atomic_load_n(&f->samples_seen, __ATOMIC_RELAXED) < __atomic_load_n(&f->sample_next, __ATOMIC_RELAXED), 1))
    return;
  mmhint_stats_sample_keep(f, ticks, offset, length, op);
}

/*
 * The body of mmhint_stats_read for a known answer to "one thread?": inlined
 * twice with a constant, so neither copy tests it per counter.
 */
static inline __attribute__((always_inline)) void mmhint__stats_read_as(const int st, mmhint_file_t *f, long r,
                                                                        int64_t offset, int64_t prev_end,
                                                                        uint64_t dur, uint64_t t0, uint64_t t1,
                                                                        int op) {
  mmhint_count_st(st, &f->c[MMHINT_FC_read_time_ns], dur); /* in ticks until written */
  if (r < 0) {
    mmhint_count_st(st, &f->c[MMHINT_FC_read_errors], 1);
    return;
  }
  mmhint_count_st(st, &f->c[MMHINT_FC_reads], 1);
  mmhint_count_st(st, &f->c[MMHINT_FC_bytes_read], (uint64_t)r);
  /* A read that returns 0 is the end of the file, not a read of a size: it
   * goes to eof_reads, so that it does not fill the smallest bucket. */
  if (r == 0) mmhint_count_st(st, &f->c[MMHINT_FC_eof_reads], 1);
  else mmhint_count_st(st, &f->hist[mmhint_hist_bucket((uint64_t)r)], 1);
  if (offset >= 0) {
    if (prev_end >= 0 && offset >= prev_end) {
      mmhint_count_st(st, &f->c[MMHINT_FC_seq_reads], 1);
      if (offset == prev_end) mmhint_count_st(st, &f->c[MMHINT_FC_consec_reads], 1);
    }
    if (r > 0) mmhint_count_max(&f->c[MMHINT_FC_max_byte_read], (uint64_t)(offset + r));
  }
  mmhint_stats_touch(f, t0, t1);
  mmhint_count_st(st, &f->samples_seen, 1);
  if (__builtin_expect(__atomic_load_n(&f->samples_seen, __ATOMIC_RELAXED) >=
                           __atomic_load_n(&f->sample_next, __ATOMIC_RELAXED), 0))
    mmhint_stats_sample_keep(f, t0, offset, (uint64_t)r, op);
}

/*
 * Records one read-family call that returned r at `offset` (-1 unknown);
 * prev_end is where the previous read on the same description ended (-1
 * none).  `dur` (ticks) is added to the time in reads; t0 and t1 are the
 * ticks of the call's start and end for the access times and the sample.
 * Inline: it is on every read's path.
 */
static inline void mmhint_stats_read_dur(mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                                         uint64_t t0, uint64_t t1, int op) {
  if (__builtin_expect(__libc_single_threaded, 1)) mmhint__stats_read_as(1, f, r, offset, prev_end, dur, t0, t1, op);
  else mmhint__stats_read_as(0, f, r, offset, prev_end, dur, t0, t1, op);
}

/* mmhint_stats_read_dur for a call timed from tick t0 to tick t1. */
static inline void mmhint_stats_read(mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t t0,
                                     uint64_t t1, int op) {
  mmhint_stats_read_dur(f, r, offset, prev_end, t1 - t0, t0, t1, op);
}

/*
 * Forgets every count (files stay known, counters and samples go to zero):
 * the child of a fork starts its own statistics.  Also resets locks, which
 * another thread of the parent may have held at the fork.
 */
void mmhint_stats_reset_after_fork(void);

/* The fork protocol (policy/fork.h) of the store's insertion lock. */
void mmhint_stats_fork(int phase);

/* Calls fn for every record (in no particular order). */
void mmhint_stats_foreach(void (*fn)(mmhint_file_t *f, void *ctx), void *ctx);

/* ---- Writing ------------------------------------------------------------ */

/* What the writer needs to know about the process. */
typedef struct {
  long pid, ppid;
  const char *exe;
  const char *cmdline;      /* NUL-separated argv, cmdline_len bytes */
  size_t cmdline_len;
  const char *host;
  const char *end_reason;
  const mmhint_config_t *cfg;
  uint64_t reentrant_calls; /* calls passed through unrecorded because the shim was busy on that thread */
  uint64_t untracked_fds;   /* descriptors beyond the table's reach */
} mmhint_process_info_t;

/*
 * Renders the JSON document (docs/STATS.md) into a buffer from the arena-free
 * growable writer; returns its length and sets *out (free with
 * mmhint_os_munmap(*out, *cap)), or -1 when memory ran out.
 */
long mmhint_stats_render(const mmhint_process_info_t *info, char **out, size_t *cap);

/*
 * Expands the path template (%p %e %h %t %%; a trailing '/' means the
 * directory holds "%e.%p.json").  Returns 0, or -1 when the result does not
 * fit in `len`.
 */
int mmhint_stats_expand_path(const char *tmpl, long pid, const char *prog, const char *host, uint64_t unix_s,
                             char *out, size_t len);

/*
 * Writes `buf` to `path` safely: a temporary file in the same directory created
 * 0600 with O_EXCL|O_NOFOLLOW, written whole, then linked to a name that does
 * not exist yet (`path`, else `path.1`, `path.2`...), never replacing or
 * following anything.  Returns 0 and the final name in `final`, or -errno.
 */
long mmhint_stats_write_file(const char *path, const char *buf, size_t len, char *final, size_t final_len);

#ifdef __cplusplus
}
#endif
#endif
