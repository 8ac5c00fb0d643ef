/*
 * shim/write.c: the write calls that move the file offset, and the calls
 * that may shrink a file.
 *
 * The writes are wrapped for one reason: a read-write description that
 * read->mmap converts (read_mmap_writable) keeps its offset in the shim (the
 * shadow offset), so a write at the current position must be made there,
 * not at the kernel's lagging offset (docs/READMAP.md).  Everything else
 * passes straight through: writes are not counted.  pwrite and pwritev take
 * an offset and do not move it, so they are not wrapped.
 */
#include "policy/readmap.h"
#include "shim/readmap.h"
#include "shim/shim.h"

/* A write nested in a signal handler (see mmhint__rm_nested): at the shadow offset, which it moves. */
static ssize_t nested_write(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt) {
  ssize_t r = pwritev64(fd, iov, cnt, o->pos);
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

/* The body of every wrapper: `iov`/`cnt`/`rwf` describe the call, `call` is the real one. */
#define MMHINT_WRITE_BODY(fd, iov, cnt, rwf, call)                                  \
  do {                                                                              \
    mmhint_ofd_t *o_ = mmhint_ofd_get(fd);                                          \
    if (MMHINT_UNLIKELY(o_ && o_->rm && __atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE))) { \
      ssize_t r_ = mmhint__rm_write(o_, fd, iov, cnt, rwf);                         \
      if (r_ != MMHINT_RM_PLAIN_WRITE) return r_;                                   \
    }                                                                               \
    return call;                                                                    \
  } while (0)

MMHINT_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  MMHINT_WRITE_GUARD(fd, (&(struct iovec){(void *)buf, n}), 1,
                     MMHINT_CALL_REAL(write, syscall(SYS_write, fd, buf, n), fd, buf, n));
  MMHINT_WRITE_BODY(fd, (&(struct iovec){(void *)buf, n}), 1, 0, MMHINT_REAL(write)(fd, buf, n));
}

MMHINT_EXPORT ssize_t __write(int fd, const void *buf, size_t n) {
  MMHINT_WRITE_GUARD(fd, (&(struct iovec){(void *)buf, n}), 1,
                     MMHINT_CALL_REAL(__write, syscall(SYS_write, fd, buf, n), fd, buf, n));
  MMHINT_WRITE_BODY(fd, (&(struct iovec){(void *)buf, n}), 1, 0, MMHINT_REAL(__write)(fd, buf, n));
}

MMHINT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n) {
  MMHINT_WRITE_GUARD(fd, iov, n, MMHINT_CALL_REAL(writev, syscall(SYS_writev, fd, iov, n), fd, iov, n));
  MMHINT_WRITE_BODY(fd, iov, n, 0, MMHINT_REAL(writev)(fd, iov, n));
}

/* pwritev2's raw system call takes the offset split in two longs. */
#define MMHINT_SYS_PWRITEV2(fd, iov, n, off, fl) \
  syscall(SYS_pwritev2, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32), fl)

/* An offset of -1 means the current position, which the call then moves; any other offset does not. */
MMHINT_EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
  if (off != -1)
    return MMHINT_CALL_REAL(pwritev2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  MMHINT_WRITE_GUARD(fd, iov, n,
                     MMHINT_CALL_REAL(pwritev2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_WRITE_BODY(fd, iov, n, flags, MMHINT_REAL(pwritev2)(fd, iov, n, off, flags));
}

MMHINT_EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
  if (off != -1)
    return MMHINT_CALL_REAL(pwritev64v2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  MMHINT_WRITE_GUARD(fd, iov, n,
                     MMHINT_CALL_REAL(pwritev64v2, MMHINT_SYS_PWRITEV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_WRITE_BODY(fd, iov, n, flags, MMHINT_REAL(pwritev64v2)(fd, iov, n, off, flags));
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

MMHINT_EXPORT int truncate(const char *path, off_t len) {
  return shrunk(MMHINT_CALL_REAL(truncate, (int)syscall(SYS_truncate, path, len), path, len));
}
MMHINT_EXPORT int truncate64(const char *path, off64_t len) {
  return shrunk(MMHINT_CALL_REAL(truncate64, (int)syscall(SYS_truncate, path, len), path, len));
}
MMHINT_EXPORT int ftruncate(int fd, off_t len) {
  return shrunk(MMHINT_CALL_REAL(ftruncate, (int)syscall(SYS_ftruncate, fd, len), fd, len));
}
MMHINT_EXPORT int ftruncate64(int fd, off64_t len) {
  return shrunk(MMHINT_CALL_REAL(ftruncate64, (int)syscall(SYS_ftruncate, fd, len), fd, len));
}
MMHINT_EXPORT int fallocate(int fd, int mode, off_t off, off_t len) {
  return shrunk(MMHINT_CALL_REAL(fallocate, (int)syscall(SYS_fallocate, fd, mode, off, len), fd, mode, off, len));
}
MMHINT_EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len) {
  return shrunk(MMHINT_CALL_REAL(fallocate64, (int)syscall(SYS_fallocate, fd, mode, off, len), fd, mode, off, len));
}
