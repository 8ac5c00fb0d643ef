/*
 * shim/write.c: the write family (write, pwrite, writev, pwritev and their
 * 64-bit, __ and flag-taking siblings), the calls that put written data on
 * the disk (fsync, fdatasync, sync_file_range), and the calls that may
 * shrink a file (truncate, ftruncate, fallocate).
 *
 * Writes are counted the way reads are (shim/read.c): guard, find the
 * description (adopting it on first sight), time the real call with the
 * TSC, record (mmhint__record_write_dur in shim/shim.h), return; write and
 * pwrite take the fast path first (MMHINT_FAST in shim/shim.h).  Writes at
 * the current position have one more duty: a read-write description that
 * read->mmap converts (read_mmap_writable) keeps its offset in the shim (the
 * shadow offset), so such a write is made there, not at the kernel's lagging
 * offset (docs/READMAP.md).  With statistics off, only that is done.
 */
#include "policy/readmap.h"
#include "shim/readmap.h"
#include "shim/shim.h"

/* A write nested in a signal handler (see mmhint__rm_nested): at the shadow offset, which it moves. */
static ssize_t nested_write(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt) {
  ssize_t r = mmhint__real_pwritev(fd, iov, cnt, o->pos);
  if (r > 0) o->pos += r;
  return r;
}

/* The guard: before start-up and when re-entered, pass through, except nested writes on a converting description. */
#define MMHINT_WRITE_GUARD(fd, iov, cnt, passthrough)                                  \
  do {                                                                                \
    if (!mmhint__enter()) {                                                           \
      mmhint_ofd_t *n_ = mmhint__rm_nested(fd);                                       \
      if (MMHINT_UNLIKELY(n_ != NULL)) return nested_write(n_, fd, iov, cnt);         \
      return passthrough;                                                             \
    }                                                                                 \
  } while (0)

/* Nonzero when o converts (read->mmap): its offset is the shadow. */
#define MMHINT_CONVERTING(o) ((o) && (o)->rm && __atomic_load_n(&(o)->rm->active, __ATOMIC_ACQUIRE))

/*
 * The body of every wrapper of a write at the current position: `iov`/`cnt`/
 * `rwf` describe the call, `call` is the real one.  Statistics off: only the
 * shadow offset is kept.  On: a converting description's write (made at the
 * shadow by mmhint__rm_write) or the real call is timed and recorded.
 */
#define MMHINT_WRITE_BODY(fd, iov, cnt, rwf, call)                                           \
  do {                                                                                       \
    if (!mmhint__stats_on) {                                                                 \
      mmhint_ofd_t *g_ = mmhint_ofd_get(fd);                                                 \
      if (MMHINT_UNLIKELY(MMHINT_CONVERTING(g_))) {                                          \
        ssize_t r_ = mmhint__rm_write(g_, fd, iov, cnt, rwf);                                \
        if (r_ != MMHINT_RM_PLAIN_WRITE) return r_;                                          \
      }                                                                                      \
      return call;                                                                           \
    }                                                                                        \
    mmhint_ofd_t *o_ = mmhint__track(fd);                                                    \
    if (!o_) return call;                                                                    \
    if (MMHINT_UNLIKELY(o_->rm != NULL) && __atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE)) { \
      uint64_t t0_ = mmhint_ticks();                                                         \
      ssize_t r_ = mmhint__rm_write(o_, fd, iov, cnt, rwf);                                  \
      if (r_ != MMHINT_RM_PLAIN_WRITE) {                                                     \
        uint64_t t1_ = mmhint_ticks();                                                       \
        mmhint__record_write_dur(o_, fd, r_, -2, 0, t1_ - t0_, t0_, t1_, MMHINT_OP_WRITE);   \
        return r_;                                                                           \
      }                                                                                      \
    }                                                                                        \
    if (mmhint__untimed(o_)) { /* counted, not timed (shim/shim.h) */                         \
      ssize_t u_ = call;                                                                     \
      mmhint__record_write_untimed(o_, fd, u_, -1, ((rwf) & RWF_APPEND) != 0, MMHINT_OP_WRITE); \
      return u_;                                                                             \
    }                                                                                        \
    uint64_t t0_ = mmhint_ticks();                                                           \
    ssize_t r_ = call;                                                                       \
    uint64_t t1_ = mmhint_ticks();                                                           \
    mmhint__record_write(o_, fd, r_, -1, ((rwf) & RWF_APPEND) != 0, t0_, t1_, MMHINT_OP_WRITE); \
    return r_;                                                                               \
  } while (0)

/* write's slow half (shim/shim.h, MMHINT_FAST): everything but an untimed call on a plain description. */
static MMHINT_SLOW ssize_t write_slow(int fd, const void *buf, size_t n) {
  MMHINT_WRITE_GUARD(fd, (&(struct iovec){(void *)buf, n}), 1,
                     MMHINT_CALL_REAL(write, syscall(SYS_write, fd, buf, n), fd, buf, n));
  MMHINT_WRITE_BODY(fd, (&(struct iovec){(void *)buf, n}), 1, 0, MMHINT_REAL(write)(fd, buf, n));
}

MMHINT_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  MMHINT_FAST_WRITE(fd, -1, MMHINT_OP_WRITE, MMHINT_REAL(write)(fd, buf, n), SYS_write, fd, buf, n, 0);
  return write_slow(fd, buf, n);
}

static MMHINT_SLOW ssize_t write2_slow(int fd, const void *buf, size_t n) {
  MMHINT_WRITE_GUARD(fd, (&(struct iovec){(void *)buf, n}), 1,
                     MMHINT_CALL_REAL(__write, syscall(SYS_write, fd, buf, n), fd, buf, n));
  MMHINT_WRITE_BODY(fd, (&(struct iovec){(void *)buf, n}), 1, 0, MMHINT_REAL(__write)(fd, buf, n));
}

MMHINT_EXPORT ssize_t __write(int fd, const void *buf, size_t n) {
  MMHINT_FAST_WRITE(fd, -1, MMHINT_OP_WRITE, MMHINT_REAL(__write)(fd, buf, n), SYS_write, fd, buf, n, 0);
  return write2_slow(fd, buf, n);
}

MMHINT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n) {
  MMHINT_WRITE_GUARD(fd, iov, n, MMHINT_CALL_REAL(writev, syscall(SYS_writev, fd, iov, n), fd, iov, n));
  MMHINT_WRITE_BODY(fd, iov, n, 0, MMHINT_REAL(writev)(fd, iov, n));
}

/* ---- Writes at an offset ------------------------------------------------------ */

/*
 * Where a positional write lands: at `off`, except on an O_APPEND
 * description or with RWF_APPEND, where Linux appends whatever the offset
 * (pwrite(2), BUGS): unknown then (-3), and so is a negative offset, which
 * the kernel refuses.
 */
static inline int64_t write_at(const mmhint_ofd_t *o, int64_t off, int rwf) {
  return off >= 0 && !(o->oflags & O_APPEND) && !(rwf & RWF_APPEND) ? off : -3;
}

/* The body of every positional write wrapper: nothing to do without statistics. */
#define MMHINT_PWRITE_BODY(fd, off, rwf, call)                                                  \
  do {                                                                                          \
    if (!mmhint__stats_on) return call;                                                         \
    mmhint_ofd_t *o_ = mmhint__track(fd);                                                       \
    if (!o_) return call;                                                                       \
    if (mmhint__untimed(o_)) { /* counted, not timed (shim/shim.h) */                            \
      ssize_t u_ = call;                                                                        \
      mmhint__record_write_untimed(o_, fd, u_, write_at(o_, off, rwf), 0, MMHINT_OP_PWRITE);     \
      return u_;                                                                                \
    }                                                                                           \
    uint64_t t0_ = mmhint_ticks();                                                              \
    ssize_t r_ = call;                                                                          \
    uint64_t t1_ = mmhint_ticks();                                                              \
    mmhint__record_write(o_, fd, r_, write_at(o_, off, rwf), 0, t0_, t1_, MMHINT_OP_PWRITE);    \
    return r_;                                                                                  \
  } while (0)

static MMHINT_SLOW ssize_t pwrite_slow(int fd, const void *buf, size_t n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pwrite, syscall(SYS_pwrite64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_PWRITE_BODY(fd, off, 0, MMHINT_REAL(pwrite)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  MMHINT_FAST_WRITE(fd, write_at(q_, off, 0), MMHINT_OP_PWRITE,
                    MMHINT_REAL(pwrite)(fd, buf, n, off), SYS_pwrite64, fd, buf, n, off);
  return pwrite_slow(fd, buf, n, off);
}

static MMHINT_SLOW ssize_t pwrite64_slow(int fd, const void *buf, size_t n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pwrite64, syscall(SYS_pwrite64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_PWRITE_BODY(fd, off, 0, MMHINT_REAL(pwrite64)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  MMHINT_FAST_WRITE(fd, write_at(q_, off, 0), MMHINT_OP_PWRITE,
                    MMHINT_REAL(pwrite64)(fd, buf, n, off), SYS_pwrite64, fd, buf, n, off);
  return pwrite64_slow(fd, buf, n, off);
}

static MMHINT_SLOW ssize_t pwrite64_2_slow(int fd, const void *buf, size_t n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(__pwrite64, syscall(SYS_pwrite64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_PWRITE_BODY(fd, off, 0, MMHINT_REAL(__pwrite64)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t __pwrite64(int fd, const void *buf, size_t n, off64_t off) {
  MMHINT_FAST_WRITE(fd, write_at(q_, off, 0), MMHINT_OP_PWRITE,
                    MMHINT_REAL(__pwrite64)(fd, buf, n, off), SYS_pwrite64, fd, buf, n, off);
  return pwrite64_2_slow(fd, buf, n, off);
}

/* pwritev's raw system calls take the offset split in two longs. */
#define MMHINT_SYS_PWRITEV(fd, iov, n, off) syscall(SYS_pwritev, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32))
#define MMHINT_SYS_PWRITEV2(fd, iov, n, off, fl) \
  syscall(SYS_pwritev2, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32), fl)

MMHINT_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pwritev, MMHINT_SYS_PWRITEV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_PWRITE_BODY(fd, off, 0, MMHINT_REAL(pwritev)(fd, iov, n, off));
}

MMHINT_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pwritev64, MMHINT_SYS_PWRITEV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_PWRITE_BODY(fd, off, 0, MMHINT_REAL(pwritev64)(fd, iov, n, off));
}

/* An offset of -1 means the current position, which the call then moves; any other offset does not. */
MMHINT_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
  if (off != -1) {
    if (!mmhint__enter())
      return MMHINT_CALL_REAL(pwritev2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
    MMHINT_PWRITE_BODY(fd, off, flags, MMHINT_REAL(pwritev2)(fd, iov, n, off, flags));
  }
  MMHINT_WRITE_GUARD(fd, iov, n,
                     MMHINT_CALL_REAL(pwritev2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_WRITE_BODY(fd, iov, n, flags, MMHINT_REAL(pwritev2)(fd, iov, n, off, flags));
}

MMHINT_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
  if (off != -1) {
    if (!mmhint__enter())
      return MMHINT_CALL_REAL(pwritev64v2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
    MMHINT_PWRITE_BODY(fd, off, flags, MMHINT_REAL(pwritev64v2)(fd, iov, n, off, flags));
  }
  MMHINT_WRITE_GUARD(fd, iov, n,
                     MMHINT_CALL_REAL(pwritev64v2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_WRITE_BODY(fd, iov, n, flags, MMHINT_REAL(pwritev64v2)(fd, iov, n, off, flags));
}

/* ---- Putting data on the disk ---------------------------------------------------- */

/* Counts a call on fd that returned r in `counter` (successful calls only). Preserves errno. */
static inline int count_fd_call(int fd, int r, int counter) {
  if (r == 0 && mmhint__stats_on && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(fd);
    if (o) {
      mmhint__busy = 1;
      uint64_t now = mmhint_ticks();
      mmhint_count(&o->file->c[counter], 1);
      mmhint_stats_touch(o->file, now, now);
      mmhint__busy = 0;
    }
  }
  return r;
}

MMHINT_EXPORT int fsync(int fd) {
  return count_fd_call(fd, MMHINT_CALL_REAL(fsync, (int)syscall(SYS_fsync, fd), fd), MMHINT_FC_fsyncs);
}

MMHINT_EXPORT int fdatasync(int fd) {
  return count_fd_call(fd, MMHINT_CALL_REAL(fdatasync, (int)syscall(SYS_fdatasync, fd), fd), MMHINT_FC_fdatasyncs);
}

MMHINT_EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags) {
  return count_fd_call(fd,
                       MMHINT_CALL_REAL(sync_file_range, (int)syscall(SYS_sync_file_range, fd, off, n, flags), fd, off,
                                        n, flags),
                       MMHINT_FC_sync_file_ranges);
}

/* ---- Calls that may shrink a file ------------------------------------------ */

/*
 * A file this process shrinks must give short reads at once, not zeros out
 * of the mapping's last page: every description re-reads its size before
 * its next converted read.  (A shrink by another process is caught by the
 * SIGBUS guard for whole pages; see docs/READMAP.md for the last page.)
 */
static inline int shrunk(int r) {
  mmhint_rm_bump_epoch();
  return r;
}

/*
 * Counts a truncate by path that returned r: in the record of the file the
 * path names now, when the process knows that file (a stat after the call;
 * a file never opened has no record and is not counted).  Preserves errno.
 */
static inline int truncated_path(const char *path, int r) {
  if (r == 0 && mmhint__stats_on && mmhint__enter()) {
    int saved_errno = errno;
    mmhint__busy = 1;
    struct stat st;
    if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0) {
      mmhint_file_t *f = mmhint_stats_lookup(st.st_dev, st.st_ino);
      if (f) {
        uint64_t now = mmhint_ticks();
        mmhint_count(&f->c[MMHINT_FC_truncates], 1);
        mmhint_stats_touch(f, now, now);
      }
    }
    mmhint__busy = 0;
    errno = saved_errno;
  }
  return r;
}

MMHINT_EXPORT int truncate(const char *path, off_t len) {
  return truncated_path(path, shrunk(MMHINT_CALL_REAL(truncate, (int)syscall(SYS_truncate, path, len), path, len)));
}
MMHINT_EXPORT int truncate64(const char *path, off64_t len) {
  return truncated_path(path,
                        shrunk(MMHINT_CALL_REAL(truncate64, (int)syscall(SYS_truncate, path, len), path, len)));
}
MMHINT_EXPORT int ftruncate(int fd, off_t len) {
  return count_fd_call(fd, shrunk(MMHINT_CALL_REAL(ftruncate, (int)syscall(SYS_ftruncate, fd, len), fd, len)),
                       MMHINT_FC_truncates);
}
MMHINT_EXPORT int ftruncate64(int fd, off64_t len) {
  return count_fd_call(fd, shrunk(MMHINT_CALL_REAL(ftruncate64, (int)syscall(SYS_ftruncate, fd, len), fd, len)),
                       MMHINT_FC_truncates);
}
MMHINT_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  return shrunk(MMHINT_CALL_REAL(fallocate, (int)syscall(SYS_fallocate, fd, mode, off, len), fd, mode, off, len));
}
MMHINT_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len) {
  return shrunk(MMHINT_CALL_REAL(fallocate64, (int)syscall(SYS_fallocate, fd, mode, off, len), fd, mode, off, len));
}
