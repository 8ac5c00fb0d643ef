/*
 * policy/prefetch.h: the prefetch policy (issue 15): bring a file into the
 * page cache at open, in large sequential requests, on a helper thread, so
 * that a program that reads it at random waits only for the pages not yet
 * there.  `prefetch` = off | whole | auto | learned (per file).
 *
 * This header holds what decides and remembers, without a system call:
 *   - the decisions at open (is the file eligible? too large? which mode?)
 *     and at a read (has `auto` seen the description read at random?);
 *   - a job: a sorted list of (offset, length) ranges of one file, walked in
 *     steps of at most `step` bytes in file order (whole = one range
 *     [0, size); learned hands a list);
 *   - the table of jobs the helper thread works through (a fixed array under
 *     the one spin lock: no allocation), shared by every description of one
 *     file, and stopped when the last of them goes;
 *   - the per-file statistics (the "prefetch" section) and their rendering.
 * The helper thread, its mapping and its requests are the shim's
 * (shim/prefetch.c).  Design and measurements: docs/HINTS.md, "Prefetch".
 */
#ifndef MMHINT_POLICY_PREFETCH_H
#define MMHINT_POLICY_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "policy/json.h"
#include "policy/pattern.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Indexes of the `prefetch` choices (include/mmhint_options.def). */
enum { MMHINT_PF_OFF, MMHINT_PF_WHOLE, MMHINT_PF_AUTO, MMHINT_PF_LEARNED };

/* prefetch_max = 0 means this fraction of MemAvailable, read when the prefetch would start (docs/HINTS.md). */
#define MMHINT_PF_MEM_NUM 1
#define MMHINT_PF_MEM_DEN 2
#define MMHINT_PF_JOBS 32       /* files being prefetched at once; more are counted fallbacks (busy) */
#define MMHINT_PF_MAX_RANGES (1 << 20) /* ranges one job may carry (16 MiB of list) */
#define MMHINT_PF_INLINE_RANGES 8     /* ranges kept inside the job's slot; longer lists are mapped */

/* One range of a file, in bytes. */
typedef struct {
  int64_t off, len;
} mmhint_pf_range_t;

/* Why a file that asked for a prefetch did not get (all of) one: the keys of "prefetch.fallbacks". */
#define MMHINT_PF_FALLBACKS(F)                                                                   \
  F(too_large, "the file was larger than prefetch_max when the prefetch would have started")   \
  F(busy, "MMHINT_PF_JOBS files were being prefetched already")                                \
  F(no_thread, "the helper thread could not be started")                                      \
  F(reopen, "the shim could not open or map its own read-only view of the file")               \
  F(error, "a request failed (the kernel refused it): the job stopped there, no retry")        \
  F(incomplete, "pages still missing after the one retry the job allows (I/O errors, memory pressure)") \
  F(learned_map, "prefetch=learned had no usable map for the file: it ran as auto")

typedef enum {
#define MMHINT_X_PFB(name, doc) MMHINT_PFB_##name,
  MMHINT_PF_FALLBACKS(MMHINT_X_PFB)
#undef MMHINT_X_PFB
  MMHINT_PFB__COUNT
} mmhint_pf_fallback_t;

/* Per-file prefetch counters (the "prefetch" section), declared once: field, doc. */
#define MMHINT_PF_COUNTERS(C)                                                                    \
  C(jobs, "prefetches started for the file")                                                   \
  C(requests, "MADV_WILLNEED requests the helper thread made (each at most prefetch_step)")    \
  C(completed, "jobs that requested every range and verified it")                             \
  C(stopped_close, "jobs stopped because the file's last descriptor was closed")              \
  C(stopped_exit, "jobs still running when the process ended or exec'd")                      \
  C(retried_bytes, "bytes found not resident after the first pass and asked for once more")    \
  C(reader_bytes, "bytes left to a program reading the file sequentially ahead of the helper (its own readahead brings them)") \
  C(resident_after_bytes, "bytes of the job's ranges resident when it ended (mincore)")       \
  C(reads_before, "reads of the file before its prefetch started (auto: while it waited)")    \
  C(reads_during, "reads of the file while its prefetch ran")                                  \
  C(read_ns_during, "time in those reads")                                                     \
  C(reads_after, "reads of the file after its prefetch completed")                            \
  C(read_ns_after, "time in those reads")

typedef enum {
#define MMHINT_X_PFC(name, doc) MMHINT_PFC_##name,
  MMHINT_PF_COUNTERS(MMHINT_X_PFC)
#undef MMHINT_X_PFC
  MMHINT_PFC__COUNT
} mmhint_pfc_id_t;

/* Where a file's prefetch is. */
enum { MMHINT_PFS_NONE, MMHINT_PFS_RUNNING, MMHINT_PFS_DONE };

/* Per-file prefetch statistics: embed as `mmhint_prefetch_file_t prefetch;` in mmhint_file_t. */
typedef struct {
  uint64_t c[MMHINT_PFC__COUNT];
  uint64_t fallbacks[MMHINT_PFB__COUNT];
  uint8_t mode;          /* the `prefetch` value of the last open that asked for one; 0: never asked */
  uint8_t state;         /* MMHINT_PFS_*: what reads are counted against */
  uint8_t measured;      /* residency could be measured (mincore answers for this file) */
  int16_t last_errno;    /* of the last failed request */
  uint64_t auto_ticks;   /* when auto first saw a random reader (0: never) */
  int64_t reader_start;  /* where the sequential reads that reader_end ends began */
  int64_t reader_end;    /* where the latest sequential read of the file ended while its job ran (0: none); the thread keeps ahead of it */
  int64_t auto_offset;   /* at which offset */
} mmhint_prefetch_file_t;

/* Per-description state: embed as `mmhint_prefetch_state_t pf;` in mmhint_ofd_t (all-zero = off). */
typedef struct {
  uint8_t mode;          /* MMHINT_PF_*: nonzero while the read hook has work (waiting, or counting) */
  uint8_t waiting;       /* auto: not triggered yet */
  uint32_t job;          /* the job this description holds a reference on: slot + 1, 0 none */
  uint32_t job_gen;      /* the slot's generation when taken */
  int64_t max;           /* prefetch_max of the open (0: a fraction of MemAvailable) */
  int64_t step;          /* prefetch_step of the open */
  mmhint_pattern_t pat;  /* auto's own classifier */
  struct mmhint_file *file;
  int64_t next;          /* where this description's last read ended */
  int64_t run_start;     /* where its current run of consecutive reads began */
  uint32_t run;          /* consecutive reads before the last one (each starting where the previous ended) */
} mmhint_prefetch_state_t;

/* ---- Decisions (pure) ---------------------------------------------------------- */

/* What the open of a file asks of the engine. */
typedef struct {
  int mode;              /* MMHINT_PF_* */
  uint32_t type;         /* st_mode & S_IFMT */
  int oflags;            /* open flags */
  int64_t size;          /* st_size */
  int64_t min;           /* prefetch_min */
} mmhint_pf_open_facts_t;

enum {
  MMHINT_PF_SKIP = 0,    /* nothing to do: off, or a file the policy does not apply to (silently) */
  MMHINT_PF_START,       /* start a job now (whole, learned with ranges) */
  MMHINT_PF_WAIT,        /* auto: feed the classifier, start when it says random */
};

/*
 * What to do at the open of a file: SKIP for mode off, for anything but a
 * regular file opened for reading (O_WRONLY, O_PATH, O_DIRECT: the cache is
 * bypassed) and for files smaller than `min` (kernel readahead brings a small
 * file in on its first read); START for whole; WAIT for auto and learned
 * (learned starts from its map when it has one, else it is auto).
 */
int mmhint_prefetch_decide_open(const mmhint_pf_open_facts_t *f);

/* Nonzero when auto starts for a description classified `cls` (random or strided: readahead does not help them). */
int mmhint_prefetch_auto_fires(int cls);

/*
 * The largest file that may be prefetched: `max` when it is not 0, else
 * MMHINT_PF_MEM_NUM/MMHINT_PF_MEM_DEN of `mem_available` (bytes: the smaller
 * of MemAvailable and the memory cgroup's room; 0 when unknown gives 0:
 * nothing is prefetched).
 */
int64_t mmhint_prefetch_limit(int64_t max, int64_t mem_available);

/*
 * Parses MemAvailable out of /proc/meminfo text (`len` bytes).  Returns bytes,
 * or -1 when the line is missing or malformed.
 */
int64_t mmhint_prefetch_parse_meminfo(const char *text, size_t len);

/* ---- The memory cgroup's room ----------------------------------------------
 * A process in a memory cgroup (a container, a systemd slice with MemoryMax)
 * has the cgroup's limit, not the machine's MemAvailable: prefetching half of
 * the machine into a cgroup of 1 GiB would push out the cgroup's own pages.
 * So the default prefetch_max takes the smaller of the two (docs/HINTS.md).
 */

/*
 * The memory cgroup of the process from /proc/self/cgroup text: copies its
 * path ("/a/b") into out (NUL-terminated; cap bytes) and returns 1 for a v1
 * hierarchy whose controllers include "memory", 2 for the v2 line ("0::"),
 * 0 for neither or a path that does not fit.  A v1 memory line wins (with
 * both mounted, v1 holds the memory controller).
 */
int mmhint_prefetch_cgroup(const char *text, size_t len, char *out, size_t cap);

/*
 * A cgroup file's number ("123\n"; "max" is INT64_MAX), or -1 when it is
 * neither.
 */
int64_t mmhint_prefetch_parse_number(const char *text, size_t len);

/* The number of memory.stat's line `key` (e.g. "inactive_file"), or -1. */
int64_t mmhint_prefetch_parse_stat(const char *text, size_t len, const char *key);

/*
 * What a cgroup leaves for the page cache: limit - usage + inactive_file (the
 * part of the usage the kernel reclaims first, as MemAvailable counts it), at
 * least 0; -1 when there is no limit (at or above 2^60: v1 writes its
 * "unlimited" as PAGE_COUNTER_MAX pages) or a figure is unknown.
 */
int64_t mmhint_prefetch_cgroup_room(int64_t limit, int64_t usage, int64_t inactive_file);

/*
 * A sequential reader and the job.  A program reading the file front to back
 * is served best by the kernel's own readahead (large folios, two windows in
 * flight); a job that requested the same pages first would make it wait for
 * the thread's requests instead, and this kind of machine's readahead reached
 * 3 GB/s where MADV_WILLNEED steps stop near 2.  So once a description has
 * made MMHINT_PF_SEQ_RUN consecutive reads while its file's job runs, the
 * thread keeps MMHINT_PF_SEQ_LEAD ahead of where those reads end: it skips
 * what lies before that (counted in reader_bytes), and the two read the file
 * in parallel, the program its front, the thread what comes after.  Only a
 * run that began at or before the thread's position (plus the lead) counts:
 * a random reader's short run far ahead has not read what lies between.
 */
#define MMHINT_PF_SEQ_RUN 4
#define MMHINT_PF_SEQ_LEAD ((int64_t)32 << 20)

/*
 * Moves the cursor of mmhint_prefetch_next (*ri, *roff over `n` sorted
 * ranges) forward so that the next request starts at or after offset `to`;
 * returns the bytes of the ranges it passed over.  Never moves backwards.
 */
int64_t mmhint_prefetch_seek(const mmhint_pf_range_t *r, int n, int *ri, int64_t *roff, int64_t to);

/* The bytes of the `n` sorted ranges that lie at or after offset `from`. */
int64_t mmhint_prefetch_bytes_from(const mmhint_pf_range_t *r, int n, int64_t from);

/*
 * The step size actually used: `step` rounded down to a page, at least one
 * page, and no larger than `cap` (the kernel reads at most max(io_pages,
 * ra_pages) per request: asking more reads only the first part) when cap > 0.
 */
int64_t mmhint_prefetch_step_size(int64_t step, int64_t cap, long page);

/*
 * Walks `n` sorted ranges in steps of at most `step` bytes.  *ri and *roff
 * are the cursor (range index, offset into it; start both at 0).  Stores the
 * next request in *off, *len and returns 1, or returns 0 when every range has
 * been walked.  Ranges of length <= 0 are skipped.
 */
int mmhint_prefetch_next(const mmhint_pf_range_t *r, int n, int *ri, int64_t *roff, int64_t step, int64_t *off,
                         int64_t *len);

/*
 * Makes `n` ranges fit a file of `size` bytes: drops empty ones, cuts what
 * lies beyond `size`, and merges ranges that overlap or lie within `gap`
 * bytes of each other (they must be sorted by offset).  Works in place and
 * returns the new count.
 */
int mmhint_prefetch_clip(mmhint_pf_range_t *r, int n, int64_t size, int64_t gap);

/* The number of bytes `n` ranges cover. */
int64_t mmhint_prefetch_bytes(const mmhint_pf_range_t *r, int n);

/* ---- The job table ------------------------------------------------------------- */

enum { MMHINT_PFJ_FREE, MMHINT_PFJ_QUEUED, MMHINT_PFJ_RUNNING, MMHINT_PFJ_FINISHING };

typedef struct mmhint_pf_job {
  int state;             /* MMHINT_PFJ_* */
  uint32_t gen;          /* bumped each time the slot is taken */
  int users;             /* descriptions holding it; 0 asks the thread to stop */
  int stop;              /* the last user went (1) */
  uint64_t seq;          /* submission order: the thread takes the oldest */
  struct mmhint_file *file;
  void *map;             /* the shim's read-only mapping of the file (its own description) */
  int64_t map_len;
  int64_t size;          /* the file's size at start */
  int64_t step;
  uint64_t start_ticks;
  int nranges;
  const mmhint_pf_range_t *ranges; /* sorted; points at `own`, or at `list` */
  mmhint_pf_range_t own[MMHINT_PF_INLINE_RANGES]; /* a short list's copy */
  mmhint_pf_range_t *list;         /* a longer list's copy, mapped from the kernel (unmapped when the job ends) */
  size_t list_bytes;
} mmhint_pf_job_t;

/* What a new job is made from (mmhint_prefetch_submit). */
typedef struct {
  struct mmhint_file *file;
  void *map;
  int64_t map_len, size, step;
  const mmhint_pf_range_t *ranges; /* sorted; NULL: the whole file [0, size) */
  int nranges;
} mmhint_pf_spec_t;

/*
 * Joins the job of `file` when one is queued or running (the description
 * shares it), else takes a free slot and fills it from `spec` (the ranges are copied into the slot,
 * inside the slot, or in memory mapped for the job when there are more than
 * MMHINT_PF_INLINE_RANGES; at most MMHINT_PF_MAX_RANGES, the last one widened
 * to cover the rest; when that memory cannot be had, the job is one range
 * from the first to the end of the last).  Stores the slot and generation in
 * *slot, *gen.  Returns 1 when it joined (the caller must unmap its own
 * mapping), 0 when a new job was queued, -1 when every slot is taken.
 */
int mmhint_prefetch_submit(const mmhint_pf_spec_t *spec, uint64_t now, uint32_t *slot, uint32_t *gen);

/*
 * Drops one user of job slot/gen (a description holding it went away); the
 * last one asks the thread to stop it.  No system call: safe under the
 * descriptor table's lock.
 */
void mmhint_prefetch_unuse(uint32_t slot, uint32_t gen);

/* The thread: the oldest QUEUED job, now RUNNING, or NULL when there is none. */
mmhint_pf_job_t *mmhint_prefetch_claim(void);

/* Whether the thread should stop job j now: its last user went, or the process is ending. */
int mmhint_prefetch_should_stop(const mmhint_pf_job_t *j);

/*
 * The thread finished job j (`how`: MMHINT_PFC_completed, _stopped_close or
 * -1 for an error or fallback already counted): counts it and the time it
 * took unless the process-end accounting did, and frees the slot.  The
 * caller has unmapped j->map.
 */
void mmhint_prefetch_finish(mmhint_pf_job_t *j, int how, uint64_t now);

/*
 * The process is ending (exit, exec, an end signal): every job still queued
 * or running is counted stopped_exit with the time it ran, and the thread
 * stops at its next step.  No allocation, no lock wait beyond the spin lock.
 */
void mmhint_prefetch_exiting(uint64_t now);

/* An exec failed: the process goes on, prefetches may start again. */
void mmhint_prefetch_resume(void);

/* Nonzero once mmhint_prefetch_exiting ran. */
int mmhint_prefetch_is_exiting(void);

/*
 * In the child of a fork: the parent's jobs are the parent's (it holds the
 * same files and its thread goes on): each slot's mapping is reported through
 * `unmap` (the child's copy of it) and the slot freed.
 */
void mmhint_prefetch_after_fork_child(void (*unmap)(void *addr, int64_t len));

/* The fork protocol (policy/fork.h) of the job table's lock. */
void mmhint_prefetch_fork(int phase);

/* ---- Statistics ------------------------------------------------------------------ */

/* Counts a fallback of `file` (may be NULL). */
void mmhint_prefetch_fallback(mmhint_prefetch_file_t *pf, int reason);

/*
 * Writes `"prefetch": {...}` into the current object of `j`; nothing when
 * the file never asked for a prefetch.  Registers the section on the first
 * call of mmhint_prefetch_note_mode.
 */
void mmhint_prefetch_render(mmhint_json_t *j, const mmhint_prefetch_file_t *pf);

/* Notes that a file asked for prefetch `mode` (registers the "prefetch" section once). */
void mmhint_prefetch_note_mode(mmhint_prefetch_file_t *pf, int mode);

/* Counts a read of `dur` ticks against the file's prefetch phase (the shim's read hook). */
static inline void mmhint_prefetch_count_read(mmhint_prefetch_file_t *pf, uint64_t dur);

#ifdef __cplusplus
}
#endif

#include "policy/count.h"

static inline void mmhint_prefetch_count_read(mmhint_prefetch_file_t *pf, uint64_t dur) {
  switch (__atomic_load_n(&pf->state, __ATOMIC_RELAXED)) {
    case MMHINT_PFS_RUNNING:
      mmhint_count(&pf->c[MMHINT_PFC_reads_during], 1);
      mmhint_count(&pf->c[MMHINT_PFC_read_ns_during], dur);
      break;
    case MMHINT_PFS_DONE:
      mmhint_count(&pf->c[MMHINT_PFC_reads_after], 1);
      mmhint_count(&pf->c[MMHINT_PFC_read_ns_after], dur);
      break;
    default: mmhint_count(&pf->c[MMHINT_PFC_reads_before], 1);
  }
}

#endif
