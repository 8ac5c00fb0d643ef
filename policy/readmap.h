/*
 * policy/readmap.h: the read->mmap engine (issue 3).
 *
 * A description this process opened read-only on a regular file may have its
 * reads served by copying out of a read-only shared mapping of the file.  The
 * engine keeps, per open file description, a shadow offset (o->pos of the
 * mmhint_ofd_t, authoritative while the description converts) and, per file,
 * a set of aligned windows mapped from it, shared by every description of
 * that file.  It decides; the shim (shim/readmap.c) copies, guards the copy
 * against SIGBUS and calls the real functions.  See docs/READMAP.md.
 *
 * States of a description's mmhint_rm_t:
 *   active   the shadow offset is authoritative; the kernel offset may lag.
 *   inactive the kernel offset is authoritative; `reason` says why reads are
 *            not converted (a MMHINT_FB_* value), and every read counts it.
 * A description goes from active to inactive once (fork, spawn, fdopen,
 * sendfile with a NULL offset, a large read under auto) and never back.
 */
#ifndef MMHINT_POLICY_READMAP_H
#define MMHINT_POLICY_READMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "policy/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Windows are aligned on and at most this large (128 MiB), or smaller under a small cap (mmhint_rm_set_cap). */
#define MMHINT_RM_WINDOW_SHIFT 27
#define MMHINT_RM_WINDOW ((int64_t)1 << MMHINT_RM_WINDOW_SHIFT)
/* The smallest window (2 MiB). */
#define MMHINT_RM_MIN_WINDOW_SHIFT 21
/* Reads at or beyond this offset are never converted (beyond any window table we keep). */
#define MMHINT_RM_MAX_OFFSET ((int64_t)1 << 46)
/* A sequential reader's next bytes are prefetched into the CPU cache from this far past the read's end. */
#define MMHINT_RM_PREFETCH_GAP 8192
/* ... for at most this many bytes (the next read's length, capped). */
#define MMHINT_RM_PREFETCH_MAX 65536
/* One converted read in this many is timed (see mmhint__rm_read in shim/readmap.c). */
#define MMHINT_RM_TIME_EVERY 64

enum { MMHINT_RM_OFF = 0, MMHINT_RM_ON = 1, MMHINT_RM_AUTO = 2 };
enum { MMHINT_RM_NO_REASON = 0xff };
/* Not a fallback reason: a converted read found to be stale, done again by the kernel (counted as `changed`). */
enum { MMHINT_RM_REDO = 0xfe };
/*
 * Under `on`, reads larger than this (1 MiB) go to the kernel, each counted
 * `on_large_read`; the description goes on converting its smaller reads.  A
 * copy of 2 MiB out of a fresh mapping took 1.15x the time of read() here
 * (page faults on top of the same copy), at 1 MiB they were even
 * (docs/READMAP.md, "Read sizes").
 */
#define MMHINT_RM_ON_MAX_READ ((int64_t)1 << 20)
/* A description stops converting once this many of its copies, and more than a quarter of them, ended in zeros. */
#define MMHINT_RM_ZERO_TAIL_MIN 64

/* The effective read->mmap options of one file, taken at open from the config and its rules. */
typedef struct {
  int mode;              /* MMHINT_RM_OFF, _ON or _AUTO */
  int64_t min_file;      /* read_mmap_min_file */
  int64_t max_read;      /* read_mmap_max_read (auto only) */
  int strict;            /* read_mmap_sync = strict */
  int writable;          /* read_mmap_writable: O_RDWR descriptions convert too */
} mmhint_rm_params_t;

/* What the shim learnt about a freshly opened descriptor. */
typedef struct {
  int oflags;            /* open(2) flags */
  int opened;            /* opened by this process (not adopted) */
  int stdio;             /* opened by fopen: stdio reads it internally */
  uint32_t type;         /* st_mode & S_IFMT */
  int64_t size;          /* st_size */
  uint64_t dev, ino;
  long fs_magic;         /* fstatfs f_type, or 0 when unknown */
} mmhint_rm_facts_t;

typedef struct mmhint_rm_file mmhint_rm_file_t;

typedef struct mmhint_rm {
  int lock;              /* taken only when the process has several threads */
  uint8_t active;        /* 1: converting, shadow offset authoritative */
  uint8_t reason;        /* why not converting (MMHINT_FB_*), or MMHINT_RM_NO_REASON */
  uint8_t mode, strict;
  uint8_t seq;           /* the window advice is sequential (else random) */
  uint8_t seq_run;       /* consecutive reads that began where the last ended */
  int64_t max_read;
  int64_t fast_max;      /* reads of 1..fast_max bytes may take the fast path (max_read under auto) */
  int64_t size;          /* file size as last seen by fstat */
  uint64_t epoch;        /* mmhint_rm_epoch when `size` was taken */
  mmhint_rm_file_t *rf;  /* the file's window set */
  uint64_t *gen;         /* &rf->gen: bumped when any of its windows goes away */
  /* The window used last: [win_lo, win_hi) of the file at win_base, valid while rf->gen == win_gen. */
  uint64_t win_gen;
  int64_t win_lo, win_hi;
  const char *win_base;
  int64_t prev_end;      /* where the last converted read ended */
  uint32_t untimed;      /* converted reads since the last timed one */
  uint64_t reads;        /* copies made (for the zero-tail rule) */
  uint64_t zero_tails;   /* copies that ended in a zero byte the page probe could not clear, each checked with fstat */
  struct mmhint_rm *next_free;
} mmhint_rm_t;

/*
 * Bumped whenever this process may have shrunk a file (truncate, ftruncate,
 * fallocate, an O_TRUNC open): every description then re-reads its size
 * before its next converted read.
 */
extern uint64_t mmhint_rm_epoch;

/* Bytes currently mapped for conversion, and the cap on them (read_mmap_max_mapped). */
extern int64_t mmhint_rm_mapped;
extern int64_t mmhint_rm_cap;
/* log2 of the window size in use (MMHINT_RM_WINDOW_SHIFT unless the cap is small). */
extern int mmhint_rm_window_shift;

/*
 * Sets the cap on mapped bytes.  Before the first window is mapped it also
 * sizes the windows to at most a quarter of the cap (not below 2 MiB), so a
 * file larger than the cap is read through several windows in turn instead
 * of failing with address_cap.
 */
void mmhint_rm_set_cap(int64_t cap);

/* The window shift mmhint_rm_set_cap chooses for `cap`.  Pure. */
int mmhint_rm_window_shift_for(int64_t cap);

/*
 * Applies the process-wide read->mmap options (read_mmap_max_mapped: the
 * cap on mapped bytes and so the window size) from the process's option
 * values; called once at start-up, before any window is mapped.
 */
void mmhint_rm_configure(const long long *num);

/* Notes a possible shrink (see mmhint_rm_epoch). Async-signal-safe. */
static inline void mmhint_rm_bump_epoch(void) { __atomic_fetch_add(&mmhint_rm_epoch, 1, __ATOMIC_RELEASE); }

/* Fills p from the numeric option values that apply to one file (mmhint_values_t.num or a rule's). */
void mmhint_rm_params_from(const long long *num, mmhint_rm_params_t *p);

/*
 * Decides whether a description may convert.  Returns -1 when it may, or
 * the MMHINT_FB_* reason it may not.  Pure.
 */
int mmhint_rm_eligible(const mmhint_rm_params_t *p, const mmhint_rm_facts_t *facts);

/*
 * Returns a new state for a description: active when `reason` < 0, else
 * inactive with that reason.  NULL when memory ran out.  The file's window
 * set (dev, ino) is found or created for active states.
 */
mmhint_rm_t *mmhint_rm_new(const mmhint_rm_params_t *p, const mmhint_rm_facts_t *facts, int reason);

/* Releases a state when its description's last descriptor is gone; unmaps the file's windows when unused. */
void mmhint_rm_release(mmhint_rm_t *rm);

/* Makes an active state inactive with `reason` (the caller has synced the kernel offset). */
static inline void mmhint_rm_stop(mmhint_rm_t *rm, int reason) {
  rm->reason = (uint8_t)reason;
  __atomic_store_n(&rm->active, 0, __ATOMIC_RELEASE);
}

/* ---- Decisions on a converting description (pure; shim/readmap.c acts on them) ---- */

/*
 * Nonzero when a read of n bytes makes the description stop converting for
 * good: under `auto`, a program that reads in pieces larger than
 * read_mmap_max_read is as fast with read() (docs/READMAP.md, the measured
 * crossover), so the offset goes back to the kernel (MMHINT_FB_large_read).
 */
static inline int mmhint_rm_large_read(const mmhint_rm_t *rm, size_t n) {
  return rm->mode == MMHINT_RM_AUTO && (int64_t)n > rm->max_read;
}

/*
 * Nonzero when, under `on`, a read of n bytes is served by the kernel at the
 * shadow offset instead of a copy (MMHINT_FB_on_large_read): above
 * MMHINT_RM_ON_MAX_READ the copy loses to read() on a first pass.  Unlike
 * auto's large_read the description goes on converting: `on` is the user's
 * choice, and its small reads still gain.
 */
static inline int mmhint_rm_on_large_read(const mmhint_rm_t *rm, size_t n) {
  return rm->mode == MMHINT_RM_ON && (int64_t)n > MMHINT_RM_ON_MAX_READ;
}

/*
 * Nonzero when a description whose copy just ended in a zero byte (and
 * stood, the file being as long as the read) should stop converting
 * (MMHINT_FB_zero_tail): at least MMHINT_RM_ZERO_TAIL_MIN of its copies, and
 * more than a quarter of them, ended in zeros that only a size check could
 * clear (the copy ended in the last page of its window or of the file, see
 * mmhint__rm_tail_probe in shim/readmap.h), so the fstat each one costs would
 * make it slower than plain reads.  Zero-ended pages elsewhere in a file (a
 * database's pages) are cleared without a system call and do not count.
 */
static inline int mmhint_rm_zero_tail_stops(const mmhint_rm_t *rm) {
  return rm->zero_tails >= MMHINT_RM_ZERO_TAIL_MIN && rm->zero_tails * 4 > rm->reads;
}

/*
 * The fallback a read on a description that does not convert counts, when
 * read->mmap is asked for, in two halves so that the shim tests the common
 * case (no state, read_mmap off) without loading the description's facts.
 * A description with a state (`rm`) counts its own reason, if it has one
 * (mmhint_rm_stopped_reason).  One without a state counts nothing when
 * read_mmap (`mode`, MMHINT_RM_*) is off; when it is on, nothing either if
 * the process opened it itself (`opened`: its own options said off), else
 * it was inherited or adopted: `inherited` for a regular file (`type`,
 * S_IFMT), `not_regular` for anything else (mmhint_rm_stateless_reason).
 * Each returns the MMHINT_FB_* reason, or -1 when nothing is counted.  Pure.
 */
static inline int mmhint_rm_stopped_reason(const mmhint_rm_t *rm) {
  return rm->reason != MMHINT_RM_NO_REASON ? rm->reason : -1;
}
static inline int mmhint_rm_stateless_reason(int opened, uint32_t type) {
  if (opened) return -1;
  return type == S_IFREG ? MMHINT_FB_inherited : MMHINT_FB_not_regular;
}
static inline int mmhint_rm_plain_reason(const mmhint_rm_t *rm, int mode, int opened, uint32_t type) {
  if (rm) return mmhint_rm_stopped_reason(rm);
  return mode == MMHINT_RM_OFF ? -1 : mmhint_rm_stateless_reason(opened, type);
}

/*
 * Finds the mapped bytes at file offset `pos`: sets *base to the mapping
 * address of pos and returns how many bytes from there are mapped (> 0), or
 * returns -1 and sets *reason (MMHINT_FB_map_failed, _address_cap).  Maps
 * through `fd` when no window covers pos yet; `need_end` is where the read
 * would end (bounded by the known size).  Updates the state's window cache.
 */
int64_t mmhint_rm_map(mmhint_rm_t *rm, int fd, int64_t pos, int64_t need_end, const char **base, int *reason);

/*
 * Points the state's window cache at the already mapped window that holds
 * [pos, end), if there is one; returns 1 then, else 0 (mmhint_rm_map maps).
 * Only while the process has one thread: it reads the window table unlocked.
 * A reader at random across several windows stays on the fast path.
 */
int mmhint_rm_recache(mmhint_rm_t *rm, int64_t pos, int64_t end);

/* The slow half of mmhint_rm_advise: switches the window's advice. */
void mmhint__rm_advise_slow(mmhint_rm_t *rm, int want);

/*
 * Notes a converted read at [pos, end) for the advice: switches the file's
 * window between MADV_RANDOM and sequential as the pattern changes.  At
 * most one madvise per call, usually none.
 */
static inline void mmhint_rm_advise(mmhint_rm_t *rm, int64_t pos, int64_t end) {
  if (pos == rm->prev_end) {
    if (rm->seq_run < 255) rm->seq_run++;
  } else {
    rm->seq_run = 0;
  }
  rm->prev_end = end;
  int want = rm->seq_run >= 2;
  if (__builtin_expect(want != rm->seq, 0)) mmhint__rm_advise_slow(rm, want);
}

/*
 * After a sequential read of n bytes that ended at file offset `end`, asks
 * the CPU to start loading the first lines of each page of the next read
 * from the window.  The hardware prefetchers stop at 4 KiB page boundaries,
 * so every page of a copy would otherwise begin with a full memory latency
 * (measured: 4 KiB copies out of a 1 GiB mapping ~15% faster, docs/READMAP.md).
 * A prefetch never faults, so a stale window or a truncated file is harmless.
 */
static inline void mmhint__rm_prefetch_line(const char *a) {
#if defined(__x86_64__) || defined(__i386__)
  /* An asm statement: GCC deletes a loop of __builtin_prefetch calls as having no effect. */
  __asm__ __volatile__("prefetcht0 %0" : : "m"(*a));
#else
  __builtin_prefetch(a, 0, 3);
#endif
}

static inline void mmhint_rm_prefetch(const mmhint_rm_t *rm, int64_t end, size_t n) {
  if (!rm->seq) return;
  int64_t s = end + MMHINT_RM_PREFETCH_GAP;
  int64_t e = s + (int64_t)(n < MMHINT_RM_PREFETCH_MAX ? n : MMHINT_RM_PREFETCH_MAX);
  if (e > rm->win_hi) e = rm->win_hi;
  for (int64_t q = s & ~(int64_t)4095; q < e; q += 4096) {
    const char *a = rm->win_base + (q - rm->win_lo);
    mmhint__rm_prefetch_line(a);
    mmhint__rm_prefetch_line(a + 64);
  }
}

/* Marks the start and end of a copy out of rf's windows (several threads: eviction waits for readers). */
void mmhint_rm_reader_enter(mmhint_rm_t *rm);
void mmhint_rm_reader_leave(mmhint_rm_t *rm);

/*
 * Computes the offset lseek(fd, off, whence) would give for a description
 * at `pos` in a file of `size` bytes (SEEK_SET, SEEK_CUR, SEEK_END only).
 * Returns the offset, -EINVAL for a negative or overflowing result, or
 * -E2BIG when the result is too large to decide here (ask the kernel).
 */
int64_t mmhint_rm_seek(int64_t pos, int64_t size, int64_t off, int whence);

/* The fork protocol (policy/ofd.h): the global lock of the window tables. */
void mmhint_rm_fork(int phase);

/* In a fork child: forgets the per-description lock another thread may have held. */
void mmhint_rm_reset_lock(mmhint_rm_t *rm);

#ifdef __cplusplus
}
#endif
#endif
