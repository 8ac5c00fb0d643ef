/*
 * policy/hints.h: the hints policy (issue 4).  posix_fadvise on the
 * descriptions a program opens, madvise on the mappings it makes, a WILLNEED
 * window ahead of sequential readers, drop-behind of the pages a sequential
 * reader brought into the cache (only those: pages that were resident when
 * the file was opened survive, as with nocache), and an `auto` mode that
 * follows the access pattern (policy/pattern.h) as it changes.
 *
 * Two structs:
 *   mmhint_hints_state_t  per open file description; embedded in
 *                         mmhint_ofd_t (all-zero = inactive, so the memset in
 *                         mmhint_ofd_new is its initialisation).
 *   mmhint_hints_file_t   per file, the statistics; embedded in mmhint_file_t
 *                         and written by mmhint_hints_render.
 * The hooks are pure policy: the shim calls them, they make their kernel calls
 * through policy/os.  A refused fadvise/madvise is counted, warned about once
 * per process, and further fadvise calls on that description are skipped.
 * Design and measurements: docs/HINTS.md.
 */
#ifndef MMHINT_POLICY_HINTS_H
#define MMHINT_POLICY_HINTS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/json.h"
#include "policy/options.h"
#include "policy/pattern.h"
#include "policy/residency.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Indexes of the `advice` and `mmap_advice` choices (include/mmhint_options.def). */
enum { MMHINT_ADV_NONE, MMHINT_ADV_NORMAL, MMHINT_ADV_SEQUENTIAL, MMHINT_ADV_RANDOM, MMHINT_ADV_WILLNEED,
       MMHINT_ADV_NOREUSE, MMHINT_ADV_AUTO };
enum { MMHINT_MADV_NONE, MMHINT_MADV_NORMAL, MMHINT_MADV_SEQUENTIAL, MMHINT_MADV_RANDOM, MMHINT_MADV_WILLNEED,
       MMHINT_MADV_HUGEPAGE, MMHINT_MADV_AUTO };

#define MMHINT_HINTS_DROP_CHUNK (8ll << 20) /* drop behind a sequential reader every this many bytes */
#define MMHINT_HINTS_DROP_LAG (1ll << 20)   /* and never closer than this behind its current read */
#define MMHINT_HINTS_CLOSE_SLACK (2ll << 20)/* at close, also drop this far past the highest byte read (readahead) */
#define MMHINT_HINTS_AUTO_MMAP_SMALL (2ll << 20) /* mmap_advice=auto: WILLNEED for unclassified mappings up to this */
#define MMHINT_HINTS_LOG 8                  /* advice applications kept per file (the last ones) */

/* Per-file hint counters, declared once: field, JSON key, doc. */
#define MMHINT_HINT_COUNTERS(C)                                                                   \
  C(advice_calls, "posix_fadvise calls that set an access advice (open, auto switches)")        \
  C(advice_errors, "posix_fadvise calls the kernel refused (counted, warned once, ignored)")     \
  C(willneed_calls, "POSIX_FADV_WILLNEED calls of the window ahead of a sequential reader")     \
  C(willneed_bytes, "bytes those calls asked for")                                               \
  C(drop_calls, "POSIX_FADV_DONTNEED calls of drop-behind (during reads and at close)")         \
  C(drop_asked_bytes, "bytes those calls covered (pages resident at open are never asked)")     \
  C(dropped_bytes, "page-cache bytes they released, measured with cachestat before and after") \
  C(madvise_calls, "madvise calls on the program's own mappings of the file")                   \
  C(madvise_errors, "madvise calls the kernel refused")                                          \
  C(est_hit_pages, "pages of the ranges read that were resident at open (see est_hit_permille)") \
  C(est_range_pages, "pages of the ranges read ([lowest, highest byte read) per description)")

typedef enum {
#define MMHINT_X_HC(name, doc) MMHINT_HC_##name,
  MMHINT_HINT_COUNTERS(MMHINT_X_HC)
#undef MMHINT_X_HC
  MMHINT_HC__COUNT
} mmhint_hc_id_t;

/* One application of an advice. */
typedef struct {
  uint64_t ticks;
  int64_t offset;   /* the access that caused it (0 at open, the mapping's address for mmap) */
  uint8_t advice;   /* fadvise: MMHINT_ADV_*; mmap: MMHINT_MADV_* */
  char source;      /* 'o' at open, 'a' an auto switch, 'm' madvise of a mapping */
  int16_t err;      /* 0, or the errno the kernel gave */
} mmhint_hints_applied_t;

/* A page-cache residency observation. */
typedef struct {
  uint64_t ticks;   /* 0: never observed */
  uint64_t pages, resident;
  uint8_t exact;    /* 0: part of it was sampled */
} mmhint_hints_residency_t;

/* Per-file hint statistics: embed as `mmhint_hints_file_t hints;` in mmhint_file_t. */
typedef struct {
  uint64_t c[MMHINT_HC__COUNT];
  uint64_t reads_by_class[MMHINT_PAT__COUNT]; /* reads fed while the description was in each class */
  uint8_t active;                             /* some hint was on for a description of this file */
  uint8_t last_class;                         /* the class of the last description fed */
  uint8_t drop_unmeasured;                    /* some drop could not be measured (no cachestat) */
  mmhint_pattern_log_t switches;              /* class switches of every description of the file */
  uint32_t napplied;                          /* advice applications in total */
  mmhint_hints_applied_t applied[MMHINT_HINTS_LOG]; /* a ring: number n at [n % LOG] */
  mmhint_hints_residency_t res_open;          /* at the first open with hints */
  mmhint_hints_residency_t res_close;         /* at the last close with hints */
} mmhint_hints_file_t;

/* Per-description hint state: embed as `mmhint_hints_state_t hints;` in mmhint_ofd_t. */
typedef struct {
  uint8_t active;        /* the read hook has work to do */
  uint8_t advice;        /* MMHINT_ADV_* chosen for the description */
  uint8_t mmap_advice;   /* MMHINT_MADV_* for its mappings */
  uint8_t drop_behind;
  uint8_t refused;       /* fadvise was refused: issue no more */
  uint8_t applied;       /* the access advice in effect: MMHINT_ADV_* (NONE: kernel default) */
  int64_t size;          /* st_size at open */
  int64_t willneed_ahead;/* window size, 0 off */
  int64_t willneed_piece;/* bytes per WILLNEED call (the kernel caps each call near read_ahead_kb) */
  int64_t ahead_end;     /* WILLNEED has been asked up to here */
  int64_t drop_done;     /* drop-behind has covered [drop_from, drop_done) */
  int64_t lo, hi;        /* lowest and highest+1 byte read; lo > hi before the first read */
  mmhint_pattern_t pat;
  mmhint_residency_t res;/* residency at open (bits NULL: unknown, nothing is dropped) */
  mmhint_hints_file_t *file;
} mmhint_hints_state_t;

/*
 * Called right after the program opened fd (a new description) with the
 * per-file option values `num` (indexed by MMHINT_OPT_*).  Applies `advice` (auto starts at NORMAL), and when a
 * read-side hint is on (advice, willneed_ahead or drop_behind) records the
 * page-cache residency of the file (map and count; into hf->res_open on the
 * file's first such open).  Does nothing for files that are not regular.
 * `hf` must stay valid while the description lives.  Preserves errno.
 */
void mmhint_hints_open(mmhint_hints_state_t *s, int fd, mmhint_hints_file_t *hf, const long long *num,
                       uint64_t now);

/* The slow half of mmhint_hints_read. */
void mmhint__hints_read(mmhint_hints_state_t *s, int fd, int64_t offset, uint64_t len, uint64_t now);

/*
 * Called after a read-family call on the description returned len > 0 bytes
 * from `offset` (>= 0; the shim knows it from its shadow offset).  Feeds the
 * classifier; under auto switches the advice when the class changes; keeps
 * the WILLNEED window ahead and drops behind a sequential reader.  Costs one
 * test when no hint is on.  Preserves errno.
 */
static inline void mmhint_hints_read(mmhint_hints_state_t *s, int fd, int64_t offset, uint64_t len, uint64_t now) {
  if (__builtin_expect(!s->active, 1) || len == 0 || offset < 0) return;
  mmhint__hints_read(s, fd, offset, len, now);
}

/*
 * Called before the LAST descriptor of the description is closed (fd must
 * still be open): drops what the description read, except pages resident at
 * open (when drop_behind is on), records residency at close and the hit
 * estimate, then releases like mmhint_hints_release.  Preserves errno.
 */
void mmhint_hints_close(mmhint_hints_state_t *s, int fd, uint64_t now);

/*
 * Forgets the description without any system call (its descriptors went away
 * where the shim could not act first: close_range, exec, dup2 over it).  Safe
 * under the descriptor table's lock.
 */
void mmhint_hints_release(mmhint_hints_state_t *s);

/*
 * Called right after the program mapped `len` bytes of a file at `addr`.
 * The choice is num[MMHINT_OPT_mmap_advice] when v is not NULL, else the
 * one saved in `s` at open.  `s` (the description of the fd mapped, may be
 * NULL) and `hf` (may be NULL) give what auto knows.  Returns the MADV_*
 * value given to madvise, or -1 when none was.  Preserves errno.
 */
int mmhint_hints_mmap(void *addr, size_t len, const mmhint_hints_state_t *s, mmhint_hints_file_t *hf,
                      const long long *num, uint64_t now);

/*
 * What mmap_advice=auto gives a mapping of `len` bytes of a file whose reads
 * were classified `cls` (MMHINT_PAT_*): MMHINT_MADV_*.  Page faults are
 * invisible to a preloaded library, so this is all auto can know.
 */
int mmhint_hints_mmap_auto(int cls, size_t len);

/*
 * The most one POSIX_FADV_WILLNEED (or readahead, or MADV_WILLNEED) reads on
 * device `dev`: its read_ahead_kb from sysfs, at least 128 KiB, remembered
 * per device.  Not thread-safe on the first call for a device (a race
 * writes the same value twice).
 */
int64_t mmhint_hints_willneed_piece(uint64_t dev);

/* The fadvise value (POSIX_FADV_*) auto uses for class `cls`. */
int mmhint_hints_auto_advice(int cls);

/*
 * Writes `"hints": {...}` (a key and its object) into the current object of
 * `j`; writes nothing when no hint was ever on for the file.  Times are ns
 * since process start (the clock of the samples).  The statistics store calls
 * it for every file through the "hints" section, which this module registers
 * (policy/stats.h) the first time a hint becomes active.
 */
void mmhint_hints_render(mmhint_json_t *j, const mmhint_hints_file_t *h);

/*
 * Where the one-line warnings go ("mmhint: ..." without a newline); NULL
 * (the default) writes them to stderr through mmhint_os_warn, the one stderr
 * writer.  Tests point it at a function that keeps the lines.
 */
extern void (*mmhint_hints_warn)(const char *line);

#ifdef __cplusplus
}
#endif
#endif
