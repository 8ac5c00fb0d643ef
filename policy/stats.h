/*
 * policy/stats.h: the statistics store.  One record per file (device and
 * inode), found lock-free; counters declared once in
 * include/mmhint_counters.def; a bounded, evenly spaced sample of accesses per
 * file.  Records live in the arena and are never freed.  Writes the JSON
 * described in docs/STATS.md, assembled from the store's own keys and from
 * the sections other modules register (see "Sections" below): the store
 * knows no module that writes into the document, so that every module may
 * depend on the store and the store on none of them.
 */
#ifndef MMHINT_POLICY_STATS_H
#define MMHINT_POLICY_STATS_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "include/mmhint_counters.def"
#include "policy/clock.h"
#include "policy/count.h"
#include "policy/cov.h"
#include "policy/hints.h"
#include "policy/json.h"
#include "policy/options.h"
#include "policy/prefetch.h"
#include "policy/readmap_fallbacks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
#define MMHINT_X_COUNTER(name, kind, unit, doc) MMHINT_FC_##name,
  MMHINT_FILE_COUNTERS(MMHINT_X_COUNTER)
#undef MMHINT_X_COUNTER
  MMHINT_FC__COUNT
} mmhint_fc_id_t;

#define MMHINT_MAX_PATHS 8

/* Operations kept in the access samples: reads in lower case, writes in upper case (and 'w'). */
enum {
  MMHINT_OP_READ = 'r',        /* read, readv, preadv2 at the current position */
  MMHINT_OP_PREAD = 'p',       /* pread, preadv... at an offset */
  MMHINT_OP_STDIO = 's',       /* a stdio read */
  MMHINT_OP_MMAP = 'm',        /* the program mapped the file */
  MMHINT_OP_WRITE = 'w',       /* write, writev, pwritev2 at the current position */
  MMHINT_OP_PWRITE = 'W',      /* pwrite, pwritev... at an offset */
  MMHINT_OP_STDIO_WRITE = 'S', /* a stdio write (fwrite, fputs) */
};

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
  uint64_t whist[MMHINT_READ_HIST_BUCKETS]; /* write sizes, in the read histogram's buckets */
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
  int8_t pol_read_mmap, pol_advice, pol_mmap_advice, pol_drop_behind, pol_prefetch;

  mmhint_hints_file_t hints; /* what the hints policy saw and did (policy/hints.h) */
  mmhint_prefetch_file_t prefetch; /* what the prefetch policy did (policy/prefetch.h) */

  /* How the file was opened and how much of it was cached then, so that advice
   * can tell a read-only reader from a read-write one and a cold file from a
   * warm one.  Kept whether or not a policy is on (docs/STATS.md). */
  uint64_t open_modes[3];                     /* opens (wrappers and stdio) by MMHINT_OPEN_* access mode */
  mmhint_hints_residency_t residency_at_open; /* at the first open while statistics are on; ticks 0: not measured */

  /* The ranges reads and the program's mappings touched (policy/cov.h): made
   * at the first open while statistics are on, for regular files of 1 MiB or
   * more; its bits pointer stays NULL otherwise. */
  mmhint_cov_t cov;
} mmhint_file_t;

/* Indexes of mmhint_file_t.open_modes: the open's O_ACCMODE. */
enum { MMHINT_OPEN_READ, MMHINT_OPEN_WRITE, MMHINT_OPEN_RDWR };

/* The open_modes index of open flags `oflags`. */
static inline int mmhint_stats_open_mode(int oflags) {
  const int acc = oflags & O_ACCMODE;
  return acc == O_RDONLY ? MMHINT_OPEN_READ : acc == O_WRONLY ? MMHINT_OPEN_WRITE : MMHINT_OPEN_RDWR;
}

/*
 * Counts an open of f with flags `oflags` and, when `measure` is set and this
 * is the first open measured, the page-cache residency of fd's first `size`
 * bytes (policy/residency.h: cachestat where the kernel has it, else
 * sampled mincore).  With `measure` it also gives f its "touched" map
 * (policy/cov.h) unless it has one or the file is too small.  `now` is the open's time in ticks.  Keeps errno.
 */
void mmhint_stats_opened(mmhint_file_t *f, int fd, int oflags, int64_t size, int measure, uint64_t now);

/* ---- Read sizes ------------------------------------------------------------
 * The counting primitives are in policy/count.h; the read-size histogram is
 * the store's own (its bounds are in include/mmhint_counters.def).
 */

/*
 * The bucket of each bit length: a read of n bytes, 2^k <= n < 2^(k+1), is
 * in bucket mmhint__hist_base[k], or the next one when n >= mmhint__hist_step[k]
 * (no two bounds of MMHINT_READ_HIST_BOUNDS lie within a factor of two, so an
 * octave holds at most one; an octave above the first bound that holds none
 * has step 0 and the base one below its bucket, so that no n, UINT64_MAX
 * included, overflows the last bucket).  stats_test checks the table against
 * the bounds.
 */
extern __attribute__((visibility("hidden"))) const uint8_t mmhint__hist_base[64];
extern __attribute__((visibility("hidden"))) const uint64_t mmhint__hist_step[64];

/* Returns the read-size histogram bucket of a read of n bytes: a bit scan and one compare. */
static inline int mmhint_hist_bucket(uint64_t n) {
  const int k = 63 - __builtin_clzll(n | 1);
  return mmhint__hist_base[k] + (n >= mmhint__hist_step[k]);
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

/* Returns the record of (dev, ino) when there is one, else NULL (never creates one).  Lock-free. */
mmhint_file_t *mmhint_stats_lookup(uint64_t dev, uint64_t ino);

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
 * The end of recording any access, read or write: its times of access (an
 * untimed call brings the thread's last timed tick as t0 = t1, which only
 * raises last_access) and the offer to the sampler (which then reads the
 * clock itself).
 */
static inline __attribute__((always_inline)) void mmhint__stats_access_as(const int st, const int timed,
                                                                          mmhint_file_t *f, int64_t offset,
                                                                          uint64_t len, uint64_t t0, uint64_t t1,
                                                                          int op) {
  if (timed) mmhint_stats_touch(f, t0, t1);
  else if (t1 > __atomic_load_n(&f->c[MMHINT_FC_last_access_ns], __ATOMIC_RELAXED)) /* 0: no timed call on this thread yet */
    __atomic_store_n(&f->c[MMHINT_FC_last_access_ns], t1, __ATOMIC_RELAXED);
  mmhint_count_st(st, &f->samples_seen, 1);
  if (__builtin_expect(__atomic_load_n(&f->samples_seen, __ATOMIC_RELAXED) >=
                           __atomic_load_n(&f->sample_next, __ATOMIC_RELAXED), 0))
    mmhint_stats_sample_keep(f, timed ? t0 : (uint64_t)mmhint_ticks(), offset, len, op);
}

/*
 * The body of mmhint_stats_read for a known answer to "one thread?": inlined
 * twice with a constant, so neither copy tests it per counter.
 */
static inline __attribute__((always_inline)) void mmhint__stats_read_as(const int st, const int timed,
                                                                        mmhint_file_t *f, long r,
                                                                        int64_t offset, int64_t prev_end,
                                                                        uint64_t dur, uint64_t t0, uint64_t t1,
                                                                        int op) {
  if (timed) {
    mmhint_count_st(st, &f->c[MMHINT_FC_read_time_ns], dur); /* in ticks until written */
    mmhint_count_st(st, &f->c[MMHINT_FC_timed_reads], dur != 0); /* a converted read's untimed calls bring 0 */
  }
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
    if (r > 0) {
      mmhint_count_max(&f->c[MMHINT_FC_max_byte_read], (uint64_t)(offset + r));
      mmhint_cov_read_as(st, &f->cov, offset, (uint64_t)r); /* the "touched" map: one load when there is none */
    }
  }
  mmhint__stats_access_as(st, timed, f, offset, (uint64_t)r, t0, t1, op);
}

/*
 * The out-of-line half of recording a read: a timed call (one in 8 to 23 on a
 * description), or any call in a process with threads.  `timed` as for
 * mmhint__stats_read_as.
 */
void mmhint__stats_read_out(int timed, mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                            uint64_t t0, uint64_t t1, int op);

/*
 * Records one read-family call that returned r at `offset` (-1 unknown);
 * prev_end is where the previous read on the same description ended (-1
 * none).  `dur` (ticks) is added to the time in reads; t0 and t1 are the
 * ticks of the call's start and end for the access times and the sample.
 * Out of line: a timed call has just paid for two clock reads.
 */
static inline void mmhint_stats_read_dur(mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                                         uint64_t t0, uint64_t t1, int op) {
  mmhint__stats_read_out(1, f, r, offset, prev_end, dur, t0, t1, op);
}

/*
 * mmhint_stats_read_dur for a call that was not timed: no time in reads
 * (the next timed call on the description stands for it), and `last` (the
 * thread's last timed tick) as its time of access.  Most reads take this
 * path, so in a process of one thread the counting is inlined into the
 * wrapper (no call, no frame: callgrind counted ~18 instructions a read for
 * them); with threads it is the out-of-line half.
 */
static inline __attribute__((always_inline)) void mmhint_stats_read_untimed(mmhint_file_t *f, long r, int64_t offset,
                                                                            int64_t prev_end, uint64_t last, int op) {
  if (__builtin_expect(__libc_single_threaded, 1)) mmhint__stats_read_as(1, 0, f, r, offset, prev_end, 0, last, last, op);
  else mmhint__stats_read_out(0, f, r, offset, prev_end, 0, last, last, op);
}

/* mmhint_stats_read_dur for a call timed from tick t0 to tick t1. */
static inline void mmhint_stats_read(mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t t0,
                                     uint64_t t1, int op) {
  mmhint_stats_read_dur(f, r, offset, prev_end, t1 - t0, t0, t1, op);
}

/*
 * The body of mmhint_stats_write_dur for a known answer to "one thread?", as
 * mmhint__stats_read_as is for reads: the same counting, into the write
 * counters and the write-size histogram.
 */
static inline __attribute__((always_inline)) void mmhint__stats_write_as(const int st, const int timed,
                                                                         mmhint_file_t *f, long r,
                                                                         int64_t offset, int64_t prev_end,
                                                                         uint64_t dur, uint64_t t0, uint64_t t1,
                                                                         int op) {
  if (timed) {
    mmhint_count_st(st, &f->c[MMHINT_FC_write_time_ns], dur); /* in ticks until written */
    mmhint_count_st(st, &f->c[MMHINT_FC_timed_writes], dur != 0);
  }
  if (r < 0) {
    mmhint_count_st(st, &f->c[MMHINT_FC_write_errors], 1);
    return;
  }
  mmhint_count_st(st, &f->c[MMHINT_FC_writes], 1);
  mmhint_count_st(st, &f->c[MMHINT_FC_bytes_written], (uint64_t)r);
  mmhint_count_st(st, &f->whist[mmhint_hist_bucket((uint64_t)r)], 1);
  if (offset >= 0) {
    if (prev_end >= 0 && offset >= prev_end) {
      mmhint_count_st(st, &f->c[MMHINT_FC_seq_writes], 1);
      if (offset == prev_end) mmhint_count_st(st, &f->c[MMHINT_FC_consec_writes], 1);
    }
    if (r > 0) mmhint_count_max(&f->c[MMHINT_FC_max_byte_written], (uint64_t)(offset + r));
  }
  mmhint__stats_access_as(st, timed, f, offset, (uint64_t)r, t0, t1, op);
}

/* The out-of-line half of recording a write, as mmhint__stats_read_out is for reads. */
void mmhint__stats_write_out(int timed, mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                             uint64_t t0, uint64_t t1, int op);

/*
 * Records one write-family call that returned r at `offset` (-1 unknown);
 * prev_end is where the previous write on the same description ended (-1
 * none).  `dur`, t0, t1 and `op` as for mmhint_stats_read_dur; out of line
 * as it is.
 */
static inline void mmhint_stats_write_dur(mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                                          uint64_t t0, uint64_t t1, int op) {
  mmhint__stats_write_out(1, f, r, offset, prev_end, dur, t0, t1, op);
}

/* mmhint_stats_write_dur for a call that was not timed, inlined as mmhint_stats_read_untimed is for reads. */
static inline __attribute__((always_inline)) void mmhint_stats_write_untimed(mmhint_file_t *f, long r, int64_t offset,
                                                                             int64_t prev_end, uint64_t last, int op) {
  if (__builtin_expect(__libc_single_threaded, 1)) mmhint__stats_write_as(1, 0, f, r, offset, prev_end, 0, last, last, op);
  else mmhint__stats_write_out(0, f, r, offset, prev_end, 0, last, last, op);
}

/*
 * Forgets every count (files stay known, counters and samples go to zero,
 * and every registered section's `reset` runs): the child of a fork starts
 * its own statistics.  Also resets locks, which another thread of the parent
 * may have held at the fork.
 */
void mmhint_stats_reset_after_fork(void);

/* The fork protocol (policy/fork.h) of the store's insertion lock. */
void mmhint_stats_fork(int phase);

/* Calls fn for every record (in no particular order). */
void mmhint_stats_foreach(void (*fn)(mmhint_file_t *f, void *ctx), void *ctx);

/* ---- Sections -----------------------------------------------------------
 * The document is assembled here, but the modules that add to it register
 * what they write, in the manner of Darshan's module registration, so that
 * the store references none of them.  The contract:
 *
 *  - A module registers its section with mmhint_stats_section_register when it
 *    is initialised; a module without an init function registers on the first
 *    call that gives it something to write.  Registering the same section
 *    again does nothing.  A module that never registered writes nothing: its
 *    key is absent from the document.
 *  - A PROCESS section is a member of the document after "files": the store
 *    writes a newline, the key `name` and the braces of its object, and
 *    `render_process` writes the members.
 *  - A FILE section is part of every file's object, after "policy" and before
 *    "fallbacks": `render_file` writes its key (`name`) and value, or nothing
 *    when the file has nothing for it.
 *  - Sections of a kind are written in the order they were registered.
 *  - `reset` (may be NULL) zeroes the module's process-wide counters in the
 *    child of a fork (mmhint_stats_reset_after_fork).  Per-file data embedded
 *    in mmhint_file_t is reset by the store with the rest of the record.
 *  - The callbacks run where the document is rendered (exit, exec, a fatal
 *    signal's exit) with the shim's guard held: they may not call the
 *    program's allocator or stdio, must not wait for a lock the interrupted
 *    code may hold, and leave errno as they found it.
 *  - The section must stay valid for the life of the process (a static const
 *    in the module), and there are at most MMHINT_STATS_SECTIONS of them.
 */

#define MMHINT_STATS_SECTIONS 16

typedef enum { MMHINT_SECTION_PROCESS, MMHINT_SECTION_FILE } mmhint_section_kind_t;

typedef struct {
  const char *name;                                               /* the JSON key */
  mmhint_section_kind_t kind;
  void (*render_process)(mmhint_json_t *j);                       /* PROCESS: the members of its object */
  void (*render_file)(mmhint_json_t *j, const mmhint_file_t *f);  /* FILE: its key and value, or nothing */
  void (*reset)(void);                                            /* after a fork; may be NULL */
} mmhint_stats_section_t;

/*
 * Adds section `s` to the document (see the contract above).  Lock-free and
 * safe from any thread at any time, including while a document is rendered
 * (which then may or may not include it).  Returns 0 (also when `s` was
 * registered already), or -1 when MMHINT_STATS_SECTIONS are registered.
 */
int mmhint_stats_section_register(const mmhint_stats_section_t *s);

/* ---- Writing ------------------------------------------------------------ */

/* What the writer needs to know about the process. */
typedef struct {
  long pid, ppid;
  const char *exe;
  const char *cmdline;      /* NUL-separated argv, cmdline_len bytes */
  size_t cmdline_len;
  const char *host;
  const char *end_reason;
  int end_signal;           /* the signal whose default action ends the process (end_reason "signal"), else 0 */
  const mmhint_config_t *cfg;
  uint64_t reentrant_calls; /* calls passed through unrecorded because the shim was busy on that thread */
  uint64_t untracked_fds;   /* descriptors beyond the table's reach */
} mmhint_process_info_t;

/*
 * Renders the JSON document (docs/STATS.md) into a buffer from the arena-free
 * growable writer: "process", "files" (with the registered FILE sections in
 * each file), then the registered PROCESS sections.  Returns its length and
 * sets *out (free with mmhint_os_munmap(*out, *cap)), or -1 when memory ran
 * out.
 */
long mmhint_stats_render(const mmhint_process_info_t *info, char **out, size_t *cap);

/*
 * Writes `name` (a program's name, may be NULL) into out (cap >= 2 bytes) as
 * something safe in a file name: letters, digits and . _ + - are kept, every
 * other byte becomes '_', a leading '.' too (no hidden files), at most
 * cap - 1 bytes; an empty or missing name gives "unknown".  What %e expands
 * to: servers rewrite their argv[0] into titles such as "nginx: master
 * process /usr/sbin/nginx -c /etc/nginx.conf", which must not become a path.
 */
void mmhint_stats_file_name(const char *name, char *out, size_t cap);

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

/* What tells one file from another at a name, even when an inode number is reused. */
typedef struct {
  uint64_t dev, ino, size, mtime_ns;
} mmhint_file_id_t;

/* Fills *id for the regular file at `path` (not following a symlink).  Returns 0 or -errno. */
int mmhint_stats_file_id(const char *path, mmhint_file_id_t *id);

/*
 * Replaces the file at `path`, which must still be the one this process
 * wrote (*id, which becomes the new file's), with `buf`: a temporary file in the
 * same directory (0600, O_EXCL|O_NOFOLLOW) renamed over it, so that a reader
 * sees the previous file or the new one, whole.  Returns 0, -ESTALE when the
 * name is no longer that file (removed, or replaced by someone else: the
 * caller creates a new one instead), or -errno; the previous file is kept
 * on any failure.
 */
long mmhint_stats_replace_file(const char *path, mmhint_file_id_t *id, const char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
