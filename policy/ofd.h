/*
 * policy/ofd.h: open file descriptions and the table from descriptor numbers
 * to them.
 *
 * State that POSIX attaches to the open file description (the offset, the
 * status flags) must be shared by every descriptor that refers to it: dup,
 * dup2, dup3 and F_DUPFD copies point at one mmhint_ofd_t here, counted by
 * `refs`.  The table is two-level and grows on demand, so a hard
 * RLIMIT_NOFILE of 2^30 costs nothing until such descriptors exist; numbers
 * at or beyond MMHINT_FD_MAX are not tracked (and say so in the statistics).
 */
#ifndef MMHINT_POLICY_OFD_H
#define MMHINT_POLICY_OFD_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "policy/fork.h"
#include "policy/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_FD_CHUNK_BITS 10
#define MMHINT_FD_CHUNK (1 << MMHINT_FD_CHUNK_BITS)
#define MMHINT_FD_CHUNKS 1024
#define MMHINT_FD_MAX (MMHINT_FD_CHUNK * MMHINT_FD_CHUNKS) /* 1,048,576 */

enum {
  MMHINT_OFD_OPENED = 1 << 0,   /* opened by this process through a wrapper (else adopted) */
  MMHINT_OFD_SHARED = 1 << 1,   /* another process may move the offset (fork, inherited) */
  MMHINT_OFD_SEEKABLE = 1 << 2, /* lseek works: offsets are meaningful */
  MMHINT_OFD_STDIO = 1 << 3,    /* a stdio stream was made on it */
  MMHINT_OFD_OUTSIDE = 1 << 4,  /* inherited, forked or passed over a socket: its offset is the kernel's to tell */
};

typedef struct mmhint_ofd {
  int refs;                /* descriptors pointing here */
  int oflags;              /* open(2) flags */
  uint32_t flags;          /* MMHINT_OFD_* */
  mmhint_file_t *file;     /* statistics record; NULL when untracked */
  int64_t pos;             /* the offset as far as this process has moved it */
  int64_t last_end;        /* end of the previous read, -1 before the first */
  int64_t last_wend;       /* end of the previous write, -1 before the first */
  uint32_t untimed;        /* calls left untimed before the next timed one (shim/shim.h, mmhint__untimed) */
  uint32_t skipped;        /* the gap those calls make: the next timed call stands for skipped + 1 calls */
  struct mmhint_rm *rm;    /* read->mmap state (policy/readmap.h), NULL when read_mmap is off; freed with the description */
  mmhint_hints_state_t hints; /* access hints (policy/hints.h); all zero: inactive */
  mmhint_prefetch_state_t pf; /* prefetch (policy/prefetch.h); all zero: off */
  struct mmhint_ofd *next_free;
} mmhint_ofd_t;

/*
 * Nonzero when a description of a file of this type (st_mode & S_IFMT)
 * keeps statistics: every type but sockets, directories and symbolic links
 * (an O_PATH descriptor of a link), whose "reads" are not file I/O.  Pure.
 */
static inline int mmhint_ofd_type_has_stats(uint32_t type) {
  return type != S_IFSOCK && type != S_IFDIR && type != S_IFLNK;
}

/*
 * The MMHINT_OFD_SEEKABLE and MMHINT_OFD_SHARED flags a description of a
 * file of this type, opened with `oflags`, starts with: regular files and
 * block devices have meaningful offsets; a description opened for writing
 * has its offset moved by writes the shim may not follow (stdio's own
 * write(2) calls, O_APPEND), so reads on it ask the kernel where they are.
 * (Writes follow their own position where they can: mmhint__record_write in
 * shim/shim.h.)  Pure.
 */
static inline uint32_t mmhint_ofd_flags_for(uint32_t type, int oflags) {
  uint32_t f = 0;
  if (type == S_IFREG || type == S_IFBLK) f |= MMHINT_OFD_SEEKABLE;
  if ((oflags & O_ACCMODE) != O_RDONLY) f |= MMHINT_OFD_SHARED;
  return f;
}

/* Descriptors that the table could not hold (numbers >= MMHINT_FD_MAX, or no memory). */
extern uint64_t mmhint_ofd_untracked;

/* The table's first level; read through mmhint_ofd_get only. */
extern __attribute__((visibility("hidden"))) mmhint_ofd_t **volatile mmhint_ofd_chunks[MMHINT_FD_CHUNKS];

/* Returns the description behind fd, or NULL (not tracked, or fd not known). Lock-free. */
static inline mmhint_ofd_t *mmhint_ofd_get(int fd) {
  if ((unsigned)fd >= MMHINT_FD_MAX) return NULL;
  mmhint_ofd_t **c = __atomic_load_n(&mmhint_ofd_chunks[(unsigned)fd >> MMHINT_FD_CHUNK_BITS], __ATOMIC_ACQUIRE);
  if (!c) return NULL;
  return __atomic_load_n(&c[fd & (MMHINT_FD_CHUNK - 1)], __ATOMIC_ACQUIRE);
}

/* Returns a fresh description with refs = 0, or NULL when memory ran out. */
mmhint_ofd_t *mmhint_ofd_new(void);

/*
 * Points fd at o (taking a reference), dropping whatever fd pointed at before.
 * Returns 0, or -1 when fd cannot be tracked.
 */
int mmhint_ofd_attach(int fd, mmhint_ofd_t *o);

/* Forgets fd (the descriptor was closed); drops the reference it held. */
void mmhint_ofd_detach(int fd);

/* Forgets every fd in [lo, hi] (close_range). */
void mmhint_ofd_detach_range(unsigned lo, unsigned hi);

/* Calls fn for every tracked descriptor. */
void mmhint_ofd_foreach(void (*fn)(int fd, mmhint_ofd_t *o, void *ctx), void *ctx);

/*
 * The same with the table lock held, so that another thread cannot close a
 * descriptor (and recycle its description and read->mmap state for one it
 * opens) while fn works on it.  fn must not attach or detach.
 */
void mmhint_ofd_foreach_locked(void (*fn)(int fd, mmhint_ofd_t *o, void *ctx), void *ctx);

/* The fork protocol (policy/fork.h) of the table's lock and the per-description locks. */
void mmhint_ofd_fork(int phase);

#ifdef __cplusplus
}
#endif
#endif
