/*
 * shim/shim.h: what every wrapper file shares — the real functions, the
 * start-up state, the per-thread guard, and the small inline helpers that
 * keep every wrapper the same shape:
 *
 *     guard -> ask policy -> call real -> record -> return
 *
 * A wrapper never decides anything itself; the decisions live in policy/.
 */
#ifndef MMHINT_SHIM_H
#define MMHINT_SHIM_H

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "policy/clock.h"
#include "policy/ofd.h"
#include "policy/options.h"
#include "policy/os/os.h"
#include "policy/readmap.h"
#include "policy/stats.h"
#include "shim/symbols.def"

#define MMHINT_EXPORT __attribute__((visibility("default")))
#define MMHINT_LIKELY(x) __builtin_expect(!!(x), 1)
#define MMHINT_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- Prototypes glibc declares only under _FORTIFY_SOURCE or not at all -- */

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __write(int fd, const void *buf, size_t n);
ssize_t __pwrite64(int fd, const void *buf, size_t n, off64_t off);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);
size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);
size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp);
char *__fgets_chk(char *buf, size_t size, int n, FILE *fp);
char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp);
ssize_t __getdelim(char **line, size_t *n, int delim, FILE *fp);
int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);
pid_t _Fork(void);
void *__libc_malloc(size_t n);
void __libc_free(void *p);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t n);
void *__libc_memalign(size_t align, size_t n);
void *__libc_valloc(size_t n);
void *__libc_pvalloc(size_t n);
void *pvalloc(size_t n);
size_t malloc_usable_size(void *p);
void *memalign(size_t align, size_t n);
void closefrom(int lowfd);
int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
sighandler_t __sysv_signal(int sig, sighandler_t h);
sighandler_t bsd_signal(int sig, sighandler_t h);

/* ---- Real functions -------------------------------------------------------- */

#define MMHINT_X_REAL_DECL(name) extern __attribute__((visibility("hidden"))) __typeof__(name) *mmhint_real_##name;
MMHINT_SYMBOLS(MMHINT_X_REAL_DECL)
#undef MMHINT_X_REAL_DECL

/* ---- Start-up state ---------------------------------------------------------- */

enum {
  MMHINT_STATE_NONE = 0,      /* nothing done yet */
  MMHINT_STATE_RESOLVING = 1, /* resolving real symbols and reading the config */
  MMHINT_STATE_READY = 2,     /* wrappers observe and apply policy */
  MMHINT_STATE_PASSIVE = 3,   /* MMHINT_DISABLE, or start-up failed: pure pass-through */
};
extern __attribute__((visibility("hidden"))) int mmhint__state;

/* Nonzero while this thread is inside the shim: nested calls pass straight through. */
extern __thread int mmhint__busy __attribute__((tls_model("initial-exec")));
/* Calls passed through because the thread was busy inside the shim (a signal handler). */
extern uint64_t mmhint__reentrant;

/* The effective configuration (valid once READY). */
extern __attribute__((visibility("hidden"))) mmhint_config_t mmhint__cfg;
/* Nonzero when statistics are on. */
extern __attribute__((visibility("hidden"))) int mmhint__stats_on;
/* Nonzero when the config has rules: opens must match paths. */
extern __attribute__((visibility("hidden"))) int mmhint__has_rules;

/* Resolves the real symbols and reads the configuration, once. */
void mmhint__bootstrap(void);

/* Slow half of mmhint__enter: bootstraps, counts re-entrant calls. */
int mmhint__enter_slow(void);

/*
 * Returns nonzero when the calling wrapper should observe and apply policy,
 * zero when it must pass straight through to the real function (before
 * start-up finished, when disabled, or when this thread is already inside the
 * shim).  Bootstraps on the first call.
 */
static inline int mmhint__enter(void) {
  if (MMHINT_LIKELY(mmhint__state == MMHINT_STATE_READY && !mmhint__busy)) return 1;
  return mmhint__enter_slow();
}

/*
 * Calls the real function, resolving first when a call arrives before
 * start-up.  `fallback` is evaluated when the symbol could not be resolved
 * (while resolving, or missing from libc): a raw system call where one exists.
 */
#define MMHINT_REAL(name) mmhint_real_##name
#define MMHINT_CALL_REAL(name, fallback, ...)                                                        \
  (MMHINT_LIKELY(mmhint_real_##name != NULL)                                                          \
       ? mmhint_real_##name(__VA_ARGS__)                                                             \
       : (mmhint__state == MMHINT_STATE_NONE ? mmhint__bootstrap() : (void)0,                        \
          mmhint_real_##name ? mmhint_real_##name(__VA_ARGS__) : (fallback)))

/*
 * Calls the real function, resolving only that one symbol when it is not
 * known yet: for calls that can arrive while another library is still
 * initialising itself (a sanitizer runtime installs its signal handlers
 * before anything else runs, and aborts if start-up code it intercepts, such
 * as string functions, runs meanwhile).
 */
#define MMHINT_CALL_REAL_ALONE(name, fallback, ...)                                             \
  (MMHINT_LIKELY(mmhint_real_##name != NULL) ||                                                 \
           (mmhint_real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)) != NULL            \
       ? mmhint_real_##name(__VA_ARGS__)                                                       \
       : (fallback))

/* Sets errno and returns -1: the fallback for functions with no raw system call. */
static inline long mmhint__enosys(void) {
  errno = ENOSYS;
  return -1;
}

/* Writes one "mmhint: ..." line to stderr with a raw write (no stdio, no allocation). */
void mmhint__warn(const char *a, const char *b, const char *c);

/* ---- The end of the process (shim/bootstrap.c) ------------------------------------------ */

/*
 * Writes the statistics once, at the end of the process (`reason` goes into
 * process.end_reason: "exit", "_exit", "exec"...).  Nothing in a vfork
 * child.  The end signals are blocked while it writes, so that a SIGTERM
 * arriving meanwhile ends the process only after the file is whole.
 */
void mmhint__finish(const char *reason);
/* The same for a process that the default action of `sig` is about to end (end_reason "signal"). Async-signal-safe. */
void mmhint__finish_signal(int sig);
/*
 * Writes a snapshot of the statistics (end_reason "snapshot") over the
 * process's own previous file, unless the final file was written.  Called by
 * the snapshot thread (shim/snapshot.c) every stats_interval.
 */
void mmhint__snapshot(void);
/* In the child of fork: starts the child's own snapshot thread when snapshots are on (shim/snapshot.c). */
void mmhint__snapshot_after_fork(void);
/* An exec failed: the process goes on, so the file written for it is withdrawn. */
void mmhint__unfinish(void);
/* In the child of fork: its own statistics from now (and its own start time). */
void mmhint__after_fork_child(void);

/* ---- Descriptors ------------------------------------------------------------ */

/*
 * Starts tracking fd, which the program just opened (by `path` relative to
 * `dirfd`, with `oflags`): stat it, find or make its statistics record, match
 * the config rules, attach a new description.  `stdio` marks a stdio stream.
 * Preserves errno.
 */
void mmhint__track_open(int fd, int dirfd, const char *path, int oflags, int stdio);

/*
 * Bumped (and mmhint__spawning raised) by every fork and spawn before it
 * stops the descriptions a child would share.  A description opened by
 * another thread meanwhile may be in the child without having been stopped,
 * so an open notes the generation before its real call and does not convert
 * when it changed or a fork or spawn is under way (shim/process.c).
 */
extern uint64_t mmhint__spawn_gen;
extern int mmhint__spawning;

/* mmhint__track_open for an open that noted mmhint__spawn_gen = gen before its real call. */
void mmhint__track_open_at(int fd, int dirfd, const char *path, int oflags, int stdio, uint64_t gen);

/* Adopts a descriptor this process did not open through a wrapper; NULL when it cannot be tracked. */
mmhint_ofd_t *mmhint__adopt(int fd);

/* Returns the description of fd with a statistics record, adopting it on first sight; NULL otherwise. */
static inline mmhint_ofd_t *mmhint__track(int fd) {
  mmhint_ofd_t *o = mmhint_ofd_get(fd);
  if (MMHINT_LIKELY(o != NULL)) return o->file ? o : NULL;
  return mmhint__adopt(fd);
}

/* Marks every tracked description shared (before fork: both processes now move its offset). */
void mmhint__mark_all_shared(void);

/* ---- Prefetch (shim/prefetch.c) ------------------------------------------------ */

/*
 * At the open of fd (description o, its file record set) with the per-file
 * option values `num`: starts the prefetch (whole, learned with a map) or
 * arms auto.  `size` is st_size at open, `path` the absolute path it was
 * opened by (NULL when unknown; learned looks it up in the map).  The guard
 * must be held.
 */
void mmhint__prefetch_open(int fd, mmhint_ofd_t *o, const long long *num, int oflags, int64_t size,
                           const char *path);
/* The slow half of the read hook: counts the read against the prefetch, feeds auto (which may start it). */
void mmhint__prefetch_read(mmhint_ofd_t *o, int fd, int64_t offset, long r, uint64_t dur, uint64_t now);
/* In the child of fork: the parent's prefetches are the parent's; the child starts its own thread when it needs one. */
void mmhint__prefetch_after_fork(void);

/* ---- Recording --------------------------------------------------------------- */

/*
 * Timing every call costs two TSC reads, about a third of what recording a
 * 4 KiB read from the page cache costs in all (docs/ARCHITECTURE.md,
 * "Statistics").  So a description times a call, then skips the next 7 to 22
 * (a gap drawn from the TSC's low bits, so that no periodic pattern of the
 * program's lines up with it), and the timed call's duration stands for the
 * whole gap: the sum of duration × gap estimates the time in the calls
 * without bias.  A call slower than MMHINT_TIME_EVERY_TICKS (about 4-8 µs,
 * where two clock reads cost under 1 %) times the next call too, so that slow
 * I/O is timed call by call; with hints active (they need the clock) or
 * stats_timing=every, every call is timed.  (At 4096 ticks a 4 KiB write into
 * tmpfs, about 2 µs here, was timed every time: +48 ns a call, the whole of
 * scripts/bench row 8c's overhead.)
 */
#ifndef MMHINT_TIME_EVERY_TICKS
#define MMHINT_TIME_EVERY_TICKS 16384
#endif

/* Nonzero when stats_timing=every: every call is timed. */
extern __attribute__((visibility("hidden"))) int mmhint__time_every;

/*
 * The end of this thread's last timed call: an untimed call's time of
 * access (first_access_ns and last_access_ns are that close).
 */
extern __thread uint64_t mmhint__clock_last __attribute__((tls_model("initial-exec")));

/*
 * Nonzero when this call on o is not timed (and counts it off the gap).  A
 * description's first call is timed (untimed starts at 0), and a gap is
 * drawn only where no hint needs the clock: hints are set at open, before
 * any read.
 */
static inline int mmhint__untimed(mmhint_ofd_t *o) {
  if (MMHINT_LIKELY(o->untimed != 0)) {
    o->untimed--;
    return 1;
  }
  return 0;
}

/*
 * After a timed call on o that took `dur` ticks and ended at t1: returns the
 * duration it stands for (dur × the calls since the previous timed one) and
 * draws the next gap.
 */
static inline uint64_t mmhint__timed_dur(mmhint_ofd_t *o, uint64_t dur, uint64_t t1) {
  uint64_t stands = dur * ((uint64_t)o->skipped + 1);
  uint32_t skip = MMHINT_UNLIKELY(dur >= MMHINT_TIME_EVERY_TICKS || mmhint__time_every || o->hints.active || o->pf.mode)
                      ? 0
                      : 7 + (uint32_t)(t1 & 15);
  o->untimed = o->skipped = skip;
  mmhint__clock_last = t1;
  return stands;
}

/*
 * Moves o's tracked position for a read-family call that returned r at
 * `offset` (-1: at the current position, which the call moved) and returns
 * where it read (-1 unknown); *prev_end gets where the previous read ended.
 */
static inline int64_t mmhint__read_at(mmhint_ofd_t *o, int fd, long r, int64_t offset, int64_t *prev_end) {
  *prev_end = o->last_end;
  if (offset < 0 && (o->flags & MMHINT_OFD_SEEKABLE)) {
    if (MMHINT_UNLIKELY(o->flags & MMHINT_OFD_SHARED) &&
        !(o->rm && __atomic_load_n(&o->rm->active, __ATOMIC_ACQUIRE))) {
      /* Someone else may move this offset: ask the kernel where the read ended (a converting
       * description's own offset is the shadow, which every write through it moves too). */
      long cur = mmhint_os_lseek(fd, 0, SEEK_CUR);
      offset = cur >= 0 ? cur - (r > 0 ? r : 0) : -1;
      if (cur >= 0) o->pos = cur;
    } else {
      offset = o->pos;
      if (r > 0) o->pos += r;
    }
  }
  if (r > 0 && offset >= 0) o->last_end = offset + r;
  return offset;
}

/*
 * Records a read-family call on o that returned r.  `offset` is where it
 * read (pread) or -1 for "at the current position" (read/readv), which moves
 * the position.  `dur` ticks go to the time in reads; t0 and t1 are the
 * call's start and end.  Preserves errno.
 */
static inline void mmhint__record_read_dur(mmhint_ofd_t *o, int fd, long r, int64_t offset, uint64_t dur,
                                           uint64_t t0, uint64_t t1, int op) {
  mmhint__busy = 1;
  int64_t prev_end;
  offset = mmhint__read_at(o, fd, r, offset, &prev_end);
  mmhint_stats_read_dur(o->file, r, offset, prev_end, dur, t0, t1, op);
  if (r > 0) mmhint_hints_read(&o->hints, fd, offset, (uint64_t)r, t1);
  if (MMHINT_UNLIKELY(o->pf.mode)) mmhint__prefetch_read(o, fd, offset, r, dur, t1);
  mmhint__busy = 0;
}

/* mmhint__record_read_dur for a call timed from tick t0 to tick t1 (which the gap then weighs). */
static inline void mmhint__record_read(mmhint_ofd_t *o, int fd, long r, int64_t offset, uint64_t t0, uint64_t t1,
                                       int op) {
  mmhint__record_read_dur(o, fd, r, offset, mmhint__timed_dur(o, t1 - t0, t1), t0, t1, op);
}

/* Records an untimed read-family call (mmhint__untimed said so; then no hint is active on o). */
static inline __attribute__((always_inline)) void mmhint__record_read_untimed(mmhint_ofd_t *o, int fd, long r, int64_t offset, int op) {
  mmhint__busy = 1;
  int64_t prev_end;
  offset = mmhint__read_at(o, fd, r, offset, &prev_end);
  mmhint_stats_read_untimed(o->file, r, offset, prev_end, mmhint__clock_last, op);
  mmhint__busy = 0;
}

/*
 * The fast path of the busiest wrappers (read, pread, write, pwrite and
 * their _chk and __ siblings).  Most calls of a program that reads or writes
 * a file block by block are untimed calls on a description that converts
 * nothing: such a call is counted by a few inlined adds around the real
 * call, in a wrapper frame that keeps three registers.  Every other call
 * (before start-up, nested, statistics off, read->mmap asked for, a
 * description not tracked yet, a timed call) goes to the wrapper's
 * out-of-line slow half, which is the whole of what it did before
 * (callgrind: the read loop of bench/overhead went from 164 to ~140
 * instructions a call).  An untimed call implies no hint and no prefetch on
 * the description (mmhint__timed_dur draws no gap for them).
 */
#define MMHINT_SLOW __attribute__((noinline))

/*
 * The description of fd when a call may take the fast path, else NULL: a
 * tracked description with a statistics record that converts nothing, after
 * start-up, outside the shim.  `plain` is the rest of the condition that
 * holds for the whole process (for reads: read->mmap not asked for).
 */
static inline mmhint_ofd_t *mmhint__fast_ofd(int fd, int plain) {
  if (MMHINT_UNLIKELY(mmhint__state != MMHINT_STATE_READY || mmhint__busy || !plain)) return NULL;
  mmhint_ofd_t *o = mmhint_ofd_get(fd);
  if (MMHINT_UNLIKELY(o == NULL || o->file == NULL || o->rm != NULL)) return NULL;
  return o;
}

/*
 * Nonzero when the next definitions of read, pread, write, pwrite and their
 * _chk and __ siblings are glibc's own (no other library interposes them
 * after this one; shim/bootstrap.c checks at start-up).  Then the fast path
 * of a process with one thread makes the system call itself: that is exactly
 * what glibc's function does when __libc_single_threaded is set (no
 * cancellation point to honour), and it spares the call into libc, whose
 * return after the system call costs more than its instructions (bench row
 * 8a: about 7 ns of the read loop's 20).
 */
extern __attribute__((visibility("hidden"))) int mmhint__raw_io;

#if defined(__x86_64__)
/* System call `nr` with glibc's convention for the result: -1 and errno on failure. */
static inline long mmhint__syscall4(long nr, long a, long b, long c, long d) {
  long r;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  if (MMHINT_UNLIKELY((unsigned long)r > -4096UL)) {
    errno = (int)-r;
    return -1;
  }
  return r;
}
#define MMHINT_RAW_OK() (mmhint__raw_io && __libc_single_threaded)
#else
#define mmhint__syscall4(nr, a, b, c, d) syscall(nr, a, b, c, d)
#define MMHINT_RAW_OK() 0
#endif

/* The fast path's call: the system call itself where MMHINT_RAW_OK, else the real function. */
#define MMHINT_RAW_OR(call, nr, a, b, c, d) \
  (MMHINT_LIKELY(MMHINT_RAW_OK()) ? (ssize_t)mmhint__syscall4(nr, (long)(a), (long)(b), (long)(c), (long)(d)) : (call))

/*
 * Returns the real call's result from the fast path when it applies: with
 * statistics on, an untimed call, counted by `record` (which sees the result
 * as r_ and the description as q_); with them off, a description with no hint
 * and no prefetch, which has nothing to do.
 */
#define MMHINT_FAST(plain, idle, fd, record, call, real)          \
  do {                                                            \
    mmhint_ofd_t *q_ = mmhint__fast_ofd(fd, plain);               \
    if (MMHINT_LIKELY(q_ != NULL)) {                              \
      if (MMHINT_LIKELY(mmhint__stats_on)) {                      \
        if (MMHINT_LIKELY(q_->untimed != 0)) {                    \
          q_->untimed--;                                          \
          ssize_t r_ = call;                                      \
          record;                                                 \
          return r_;                                              \
        }                                                         \
      } else if (idle) {                                          \
        return real; /* a tail call: no frame, nothing after it */ \
      }                                                           \
    }                                                             \
  } while (0)

/*
 * The fast path of a read-family wrapper: `offset` and `op` as for
 * mmhint__record_read, `real` the call of the next definition, and nr, a..d
 * the system call it makes.
 */
#define MMHINT_FAST_READ(fd, offset, op, real, nr, a, b, c, d)                                             \
  MMHINT_FAST(mmhint__cfg.values.num[MMHINT_OPT_read_mmap] == MMHINT_RM_OFF, !q_->hints.active && !q_->pf.mode, \
              fd, mmhint__record_read_untimed(q_, fd, r_, offset, op), MMHINT_RAW_OR(real, nr, a, b, c, d), real)

/*
 * The real positional write, for the shim's own writes at a shadow offset
 * (shim/readmap.c, shim/write.c): never through the pwrite wrappers, which
 * would record it a second time.  A raw system call before start-up.
 */
static inline ssize_t mmhint__real_pwritev(int fd, const struct iovec *iov, int cnt, int64_t pos) {
  if (cnt == 1) {
    if (MMHINT_REAL(pwrite64)) return MMHINT_REAL(pwrite64)(fd, iov[0].iov_base, iov[0].iov_len, pos);
    return syscall(SYS_pwrite64, fd, iov[0].iov_base, iov[0].iov_len, pos);
  }
  if (MMHINT_REAL(pwritev64)) return MMHINT_REAL(pwritev64)(fd, iov, cnt, pos);
  return syscall(SYS_pwritev, fd, iov, cnt, (long)pos, (long)((uint64_t)pos >> 32));
}

/*
 * Nonzero when a write at the current position on o must ask the kernel
 * where it landed: O_APPEND (or RWF_APPEND, `append`) writes at the end,
 * which another process may have moved; stdio writes through libc's own
 * write(2), which no wrapper sees; and a description inherited, forked or
 * passed over a socket is moved by others.  Every other offset change of a
 * description this process opened goes through a wrapper.
 */
static inline int mmhint__write_pos_unknown(const mmhint_ofd_t *o, int append) {
  return (o->flags & (MMHINT_OFD_STDIO | MMHINT_OFD_OUTSIDE)) || (o->oflags & O_APPEND) || append;
}

/*
 * Where a write-family call on o that returned r wrote (-1 unknown), moving
 * the tracked position as mmhint__read_at does for reads; *prev_end gets
 * where the previous write ended.  `offset` is where it wrote (pwrite) or -1
 * for "at the current position" (write, writev), which moves the tracked
 * position; -2 means "at the current position, which the caller has already
 * moved" (a converting description's shadow, shim/readmap.c), in which case
 * the write started r bytes before o->pos.  `append` marks an RWF_APPEND
 * write.
 */
static inline int64_t mmhint__write_pos(mmhint_ofd_t *o, int fd, long r, int64_t offset, int append, int64_t *prev_end) {
  *prev_end = o->last_wend;
  if (offset < 0 && (o->flags & MMHINT_OFD_SEEKABLE)) {
    if (offset == -2) {
      offset = o->pos - (r > 0 ? r : 0);
    } else if (MMHINT_UNLIKELY(mmhint__write_pos_unknown(o, append))) {
      long cur = mmhint_os_lseek(fd, 0, SEEK_CUR); /* preserves errno */
      offset = cur >= 0 ? cur - (r > 0 ? r : 0) : -1;
      if (cur >= 0) o->pos = cur;
    } else {
      offset = o->pos;
      if (r > 0) o->pos += r;
    }
  } else if (offset < 0) {
    offset = -1;
  }
  if (r > 0 && offset >= 0) o->last_wend = offset + r;
  return offset;
}

/* Records a write-family call on o that returned r, the way mmhint__record_read_dur records reads.  Preserves errno. */
static inline void mmhint__record_write_dur(mmhint_ofd_t *o, int fd, long r, int64_t offset, int append,
                                            uint64_t dur, uint64_t t0, uint64_t t1, int op) {
  mmhint__busy = 1;
  int64_t prev_end;
  offset = mmhint__write_pos(o, fd, r, offset, append, &prev_end);
  mmhint_stats_write_dur(o->file, r, offset, prev_end, dur, t0, t1, op);
  mmhint__busy = 0;
}

/* mmhint__record_write_dur for a call timed from tick t0 to tick t1 (which the gap then weighs). */
static inline void mmhint__record_write(mmhint_ofd_t *o, int fd, long r, int64_t offset, int append, uint64_t t0,
                                        uint64_t t1, int op) {
  mmhint__record_write_dur(o, fd, r, offset, append, mmhint__timed_dur(o, t1 - t0, t1), t0, t1, op);
}

/* Records an untimed write-family call (mmhint__untimed said so). */
static inline __attribute__((always_inline)) void mmhint__record_write_untimed(mmhint_ofd_t *o, int fd, long r, int64_t offset, int append, int op) {
  mmhint__busy = 1;
  int64_t prev_end;
  offset = mmhint__write_pos(o, fd, r, offset, append, &prev_end);
  mmhint_stats_write_untimed(o->file, r, offset, prev_end, mmhint__clock_last, op);
  mmhint__busy = 0;
}

/*
 * The fast path of a write-family wrapper: `offset` as for mmhint__record_write
 * (-1 at the position; never RWF_APPEND), `real`, nr and a..d as for
 * MMHINT_FAST_READ.
 */
#define MMHINT_FAST_WRITE(fd, offset, op, real, nr, a, b, c, d)                                  \
  MMHINT_FAST(1, 1, fd, mmhint__record_write_untimed(q_, fd, r_, offset, 0, op), MMHINT_RAW_OR(real, nr, a, b, c, d), \
              real)

#endif
