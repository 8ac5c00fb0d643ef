/*
 * policy/cov.h: the coverage map ("touched") of a file: which parts of it
 * the program's reads and its own file mappings touched during the run, as
 * a bitmap of fixed-size granules.  The statistics write it as merged
 * ranges (docs/STATS.md, "touched"); `mmhint advise` turns it into a
 * prefetch map (policy/pmap.h) for `prefetch = learned`.
 *
 * Sizes: the granule is the smallest power of two ≥ 4 KiB that keeps the
 * bitmap at most MMHINT_COV_MAX_BITS bits (64 KiB) for the file's size when
 * the map is made (its first open with statistics on): 4 KiB up to 2 GiB,
 * 8 KiB up to 4 GiB, and so on.  Parts of the file past that size (it grew)
 * are not recorded.  Only regular files of at least MMHINT_COV_MIN_SIZE get
 * a map, and all maps together take at most MMHINT_COV_BUDGET bytes.
 *
 * The bitmap comes from the shim's arena (policy/arena.h), never from the
 * program's allocator, and is never freed.  Setting bits is a plain OR while
 * the process has one thread and an atomic OR once it has several (as
 * policy/count.h counts), skipped when the bits are already set.
 */
#ifndef MMHINT_POLICY_COV_H
#define MMHINT_POLICY_COV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/arena.h"
#include "policy/count.h"
#include "policy/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest bitmap: 2^19 bits = 64 KiB, one 4 KiB granule per bit up to 2 GiB. */
#define MMHINT_COV_MAX_BITS (1u << 19)
#define MMHINT_COV_MIN_SHIFT 12
/*
 * Files smaller than this get no map.  1 MiB is what the kernel's readahead
 * brings in for a sequential reader in a few requests (read_ahead_kb is
 * 128 KiB by default, several MiB on many virtual disks), and what a
 * random reader of a cold file pays in at most 256 small reads: a prefetch
 * saves little there, while each map costs an arena allocation, a JSON
 * object and a prefetch-map entry.
 */
#define MMHINT_COV_MIN_SIZE (1ll << 20)
/* All maps of a process together: 32 MiB of bitmaps cover 1 TiB of files at 4 KiB granules. */
#define MMHINT_COV_BUDGET (32u << 20)
/*
 * The document writes at most this many ranges per file (about 700 KiB of
 * JSON), coarsening the granule until they fit; once the document is
 * MMHINT_COV_DOC_LARGE bytes long, at most MMHINT_COV_MAX_RUNS_LATE.
 */
#define MMHINT_COV_MAX_RUNS 32768u
#define MMHINT_COV_MAX_RUNS_LATE 256u
#define MMHINT_COV_DOC_LARGE (16u << 20)

typedef struct {
  uint64_t *bits;      /* NULL: no map for this file; published last (release) */
  uint32_t nbits;      /* granules covered: ceil(size / granule) */
  uint8_t shift;       /* log2 of the granule */
  uint8_t from_maps;   /* some bits came from the program's mappings */
  uint32_t claim;      /* set by the one thread that makes the map */
  int64_t size;        /* the file's size when the map was made */
  uint64_t run_lo;     /* the run of consecutive reads not yet in the bits, [run_lo, run_hi): one thread only */
  uint64_t run_hi;     /* 0 (and run_lo 0): none */
} mmhint_cov_t;

/* Turns the recording on or off for the process (option stats_touched); off until called. */
void mmhint_cov_configure(int on);

/*
 * Nonzero when maps are made (mmhint_cov_configure(1)), and the bitmap bytes
 * taken so far against MMHINT_COV_BUDGET.  Defined in policy/stats.c, as
 * the functions below that the store calls are inline: the store uses no
 * symbol of this module (scripts/module-graph), which uses the store's
 * section registry.
 */
extern int mmhint__cov_on;
extern uint64_t mmhint__cov_bytes;

/* log2 of the granule for a file of `size` bytes (≥ MMHINT_COV_MIN_SHIFT). */
static inline unsigned mmhint_cov_shift_for(int64_t size) {
  unsigned shift = MMHINT_COV_MIN_SHIFT;
  const uint64_t s = size > 0 ? (uint64_t)size : 0;
  while (shift < 62 && ((s + (1ull << shift) - 1) >> shift) > MMHINT_COV_MAX_BITS) shift++;
  return shift;
}

/*
 * Gives c a map for a file of `size` bytes, unless it has one, the file is
 * below MMHINT_COV_MIN_SIZE, recording is off, the budget is spent or the
 * arena refuses.  Returns 0 when c has a map afterwards, -1 otherwise.
 * Thread-safe and lock-free: of two threads racing, one makes the map (the
 * other returns 0 perhaps before it is published, so its first reads may go
 * unrecorded).  Off the read path: the store calls it at open.
 */
static inline int mmhint_cov_init(mmhint_cov_t *c, int64_t size) {
  if (__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE)) return 0;
  if (!__atomic_load_n(&mmhint__cov_on, __ATOMIC_RELAXED) || size < MMHINT_COV_MIN_SIZE) return -1;
  uint32_t unclaimed = 0;
  if (!__atomic_compare_exchange_n(&c->claim, &unclaimed, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) return 0;
  const unsigned shift = mmhint_cov_shift_for(size);
  const uint64_t nbits = ((uint64_t)size + (1ull << shift) - 1) >> shift;
  const size_t bytes = (size_t)((nbits + 63) / 64 * 8);
  uint64_t *b = NULL;
  if (__atomic_add_fetch(&mmhint__cov_bytes, bytes, __ATOMIC_RELAXED) > MMHINT_COV_BUDGET)
    __atomic_sub_fetch(&mmhint__cov_bytes, bytes, __ATOMIC_RELAXED);
  else
    b = (uint64_t *)mmhint_arena_alloc(bytes);
  if (!b) {
    __atomic_store_n(&c->claim, 0, __ATOMIC_RELEASE); /* a later open may find room */
    return -1;
  }
  c->nbits = (uint32_t)nbits;
  c->shift = (uint8_t)shift;
  c->size = size;
  c->from_maps = 0;
  __atomic_store_n(&c->bits, b, __ATOMIC_RELEASE);
  return 0;
}

/*
 * Sets the bits of bytes [off, off+len) in c's bitmap b (len > 0, off >= 0).
 * `st`: the process has one thread.  A range within one granule (the common
 * 4 KiB read): two shifts, two compares and one OR instruction, which a signal handler on the same thread cannot tear
 * (as policy/count.h counts); with several threads an atomic OR, skipped
 * when the bits are set already.  Longer reads OR word by word, inline: a
 * call here would make the whole read path save registers (measured: +14
 * instructions per read in mmhint_stats_read_dur's prologue and epilogue).
 */
static inline __attribute__((always_inline)) void mmhint__cov_set(const int st, mmhint_cov_t *c, uint64_t *b, int64_t off,
                                                                  uint64_t len) {
  const unsigned s = c->shift;
  uint64_t first = (uint64_t)off >> s, last = ((uint64_t)off + len - 1) >> s;
  uint64_t mask;
  if (__builtin_expect(first == last && first < c->nbits, 1)) {
    mask = 1ull << (first & 63);
  } else {
    if (first >= c->nbits) return;
    if (last >= c->nbits) last = c->nbits - 1;
    /* The words before the last one; the last one below. */
    mask = ~0ull << (first & 63);
    for (uint64_t w = first >> 6; w < last >> 6; w++, mask = ~0ull) {
      if ((__atomic_load_n(&b[w], __ATOMIC_RELAXED) & mask) == mask) continue;
      if (st) __atomic_store_n(&b[w], __atomic_load_n(&b[w], __ATOMIC_RELAXED) | mask, __ATOMIC_RELAXED);
      else __atomic_fetch_or(&b[w], mask, __ATOMIC_RELAXED);
    }
    if ((first >> 6) != (last >> 6)) mask = ~0ull;
    mask &= ~0ull >> (63 - (last & 63));
  }
  uint64_t *w = &b[last >> 6];
#if defined(__x86_64__)
  if (__builtin_expect(st, 1)) {
    __asm__ __volatile__("orq %1, %0" : "+m"(*w) : "er"(mask));
    return;
  }
#endif
  if ((__atomic_load_n(w, __ATOMIC_RELAXED) & mask) != mask) __atomic_fetch_or(w, mask, __ATOMIC_RELAXED);
}

/*
 * Notes that bytes [off, off+len) were read (len > 0, off >= 0).  `st`: the
 * process has one thread.  When c has no map: one load and a branch.  With
 * one thread, a read that starts where the previous one on the file ended
 * only extends the pending run (one compare and one store: a sequential
 * reader sets no bit per read); any other read puts the pending run into
 * the bits and starts a new one.  mmhint_cov_settle puts the pending run in
 * before the map is read.  With several threads, each read sets its bits
 * with an atomic OR (skipped when they are set already).
 */
static inline __attribute__((always_inline)) void mmhint_cov_read_as(const int st, mmhint_cov_t *c, int64_t off,
                                                                     uint64_t len) {
  uint64_t *b = __atomic_load_n(&c->bits, __ATOMIC_ACQUIRE);
  if (!b) return;
  if (st) {
    const uint64_t lo = c->run_lo, hi = c->run_hi;
    if (__builtin_expect((uint64_t)off == hi && hi != 0, 1)) {
      c->run_hi = hi + len;
      return;
    }
    /* In this order, so that a signal handler that writes the document
     * meanwhile (mmhint_cov_settle) may miss a run but never invents one. */
    c->run_hi = 0;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (hi > lo) mmhint__cov_set(1, c, b, (int64_t)lo, hi - lo);
    c->run_lo = (uint64_t)off;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    c->run_hi = (uint64_t)off + len;
    return;
  }
  mmhint__cov_set(0, c, b, off, len);
}

/* Puts the pending run of consecutive reads into the bits (before the map is counted, walked or written). */
static inline void mmhint_cov_settle(mmhint_cov_t *c) {
  uint64_t *b = __atomic_load_n(&c->bits, __ATOMIC_ACQUIRE);
  const uint64_t lo = c->run_lo, hi = c->run_hi;
  if (!b || hi <= lo) return;
  c->run_lo = c->run_hi = 0;
  mmhint__cov_set(__libc_single_threaded, c, b, (int64_t)lo, hi - lo);
}

/* mmhint_cov_read_as for a caller that has not asked "one thread?". */
void mmhint_cov_mark(mmhint_cov_t *c, int64_t off, uint64_t len);

/* Zeroes the map's bits, keeping its memory (the child of a fork starts afresh). */
static inline void mmhint_cov_reset(mmhint_cov_t *c) {
  uint64_t *b = __atomic_load_n(&c->bits, __ATOMIC_ACQUIRE);
  if (b) memset(b, 0, (c->nbits + 63) / 64 * 8);
  c->from_maps = 0;
  c->run_lo = c->run_hi = 0;
}

/* Granules set. */
uint64_t mmhint_cov_count(const mmhint_cov_t *c);

/*
 * Writes the map's ranges, at most `max_runs` of them: the bitmap's runs at
 * its granule, or at the smallest coarser granule (doubling) at which the
 * runs fit; the last range ends at the file's size when its granule does.
 * Calls fn(ctx, off, len) for each, in order, and returns the granule used.
 * No allocation, no stdio.
 */
uint64_t mmhint_cov_ranges(const mmhint_cov_t *c, uint32_t max_runs, void (*fn)(void *ctx, uint64_t off, uint64_t len),
                           void *ctx);

/*
 * Writes `"touched": {...}` (docs/STATS.md) for c, or nothing when c has no
 * map.  Safe where the statistics are rendered (exit, a signal's exit).
 */
void mmhint_cov_render(mmhint_json_t *j, const mmhint_cov_t *c);

/* ---- The program's own mappings ------------------------------------------------
 * Page faults are invisible to a preload library, so the pages of a file
 * mapping the program touched are read when it goes: at munmap (before the
 * real one), at mremap, when MAP_FIXED maps over it, and when the document is
 * rendered (exit, snapshots).  A page counts as touched when it is present in
 * this process's page tables (/proc/self/pagemap bit 63, or swapped: bit 62);
 * where pagemap cannot be read, when it is resident in the page cache
 * (mincore).  Both over-approximate what the program read: the kernel's
 * fault-around maps up to 64 KiB of already cached neighbours of each fault,
 * and mincore counts every cached page of the mapping.  A small fixed table of
 * MMHINT_COV_MAPS mappings, lock-free (as policy/wmaps.c); mappings beyond it
 * are not followed.
 */

#define MMHINT_COV_MAPS 64

/* Number of followed mappings: zero makes munmap's check one load. */
extern uint32_t mmhint_cov_maps_live;

/* Follows [addr, addr+len), a mapping of c's file at offset `off`.  Returns 0, or -1 (no map, table full). */
int mmhint_cov_map_add(const void *addr, size_t len, int64_t off, mmhint_cov_t *c);

/*
 * Stops following the parts of followed mappings inside [addr, addr+len),
 * first marking the touched pages of each such mapping (all of it) when
 * `mark` (munmap, mremap: they are still there; not after a MAP_FIXED
 * mapping replaced them).  The parts outside the range stay followed, in
 * slots of their own while the table has room.
 */
void mmhint_cov_map_gone(const void *addr, size_t len, int mark);

/* Marks the touched pages of every followed mapping of c (they stay followed). */
void mmhint_cov_map_scan(mmhint_cov_t *c);

/*
 * Sets in c the granules of [addr, addr+len) (file offset `off`) whose pages
 * are touched, as described above.  Returns the pages found touched, or -1
 * when neither pagemap nor mincore answered.  Raw system calls only.
 */
long mmhint_cov_mark_mapping(mmhint_cov_t *c, const void *addr, size_t len, int64_t off);

#ifdef __cplusplus
}
#endif
#endif
