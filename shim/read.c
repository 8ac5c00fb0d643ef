/*
 * shim/read.c: the read family, lseek, and the calls that move file data
 * inside the kernel (sendfile, copy_file_range, splice).
 *
 * Each wrapper: guard, find the description (adopting it on first sight),
 * time the real call with the TSC, record, return.  The recording keeps the
 * description's position so that sequential and consecutive reads can be
 * told apart without asking the kernel.
 */
#include "shim.h"

/* Total length of an iovec array, saturating. */
static inline size_t iov_total(const struct iovec *iov, int n) {
  size_t t = 0;
  for (int i = 0; i < n && iov; i++) t += iov[i].iov_len;
  return t;
}

/*
 * The common body of every read-family wrapper: `call` is the real call as an
 * expression, `offset` the explicit offset (or -1 for the current position).
 */
#define MMHINT_READ_BODY(fd, offset, op, call)                 \
  do {                                                         \
    mmhint_ofd_t *o_ = mmhint__track(fd);                      \
    if (!o_) return call;                                      \
    uint64_t t0_ = mmhint_ticks();                             \
    ssize_t r_ = call;                                         \
    uint64_t t1_ = mmhint_ticks();                             \
    mmhint__record_read(o_, fd, r_, offset, t0_, t1_, op);     \
    return r_;                                                 \
  } while (0)

MMHINT_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(read, syscall(SYS_read, fd, buf, n), fd, buf, n);
  MMHINT_READ_BODY(fd, -1, MMHINT_OP_READ, MMHINT_REAL(read)(fd, buf, n));
}

MMHINT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(__read_chk, syscall(SYS_read, fd, buf, n), fd, buf, n, buflen);
  MMHINT_READ_BODY(fd, -1, MMHINT_OP_READ, MMHINT_REAL(__read_chk)(fd, buf, n, buflen));
}

MMHINT_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(pread)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread64, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(pread64)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__pread_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(__pread_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__pread64_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(__pread64_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(readv, syscall(SYS_readv, fd, iov, n), fd, iov, n);
  MMHINT_READ_BODY(fd, -1, MMHINT_OP_READ, MMHINT_REAL(readv)(fd, iov, n));
}

/* preadv's raw system call takes the offset split in two longs. */
#define MMHINT_SYS_PREADV(fd, iov, n, off) syscall(SYS_preadv, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32))
#define MMHINT_SYS_PREADV2(fd, iov, n, off, fl) \
  syscall(SYS_preadv2, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32), fl)

MMHINT_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(preadv, MMHINT_SYS_PREADV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(preadv)(fd, iov, n, off));
}

MMHINT_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(preadv64, MMHINT_SYS_PREADV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_READ_BODY(fd, off, MMHINT_OP_PREAD, MMHINT_REAL(preadv64)(fd, iov, n, off));
}

/* An offset of -1 means the current position, which the call then moves. */
MMHINT_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(preadv2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  MMHINT_READ_BODY(fd, off, off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD, MMHINT_REAL(preadv2)(fd, iov, n, off, flags));
}

MMHINT_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(preadv64v2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  MMHINT_READ_BODY(fd, off, off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD,
                   MMHINT_REAL(preadv64v2)(fd, iov, n, off, flags));
}

/* ---- Offsets -------------------------------------------------------------- */

/* Records a seek that returned r on fd. */
static inline off64_t sought(int fd, off64_t r) {
  if (r >= 0 && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(fd);
    if (o) {
      o->pos = r;
      mmhint_count(&o->file->c[MMHINT_FC_seeks], 1);
    }
  }
  return r;
}

MMHINT_EXPORT off_t lseek(int fd, off_t off, int whence) {
  return sought(fd, MMHINT_CALL_REAL(lseek, syscall(SYS_lseek, fd, off, whence), fd, off, whence));
}

MMHINT_EXPORT off64_t lseek64(int fd, off64_t off, int whence) {
  return sought(fd, MMHINT_CALL_REAL(lseek64, syscall(SYS_lseek, fd, off, whence), fd, off, whence));
}

/* ---- Data moved inside the kernel ---------------------------------------- */

/*
 * Counts bytes moved out of in_fd.  With a NULL offset pointer the call moved
 * in_fd's position, so the tracked position follows.
 */
static inline ssize_t moved(int in_fd, const void *offp, ssize_t r, int counter) {
  if (r > 0 && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(in_fd);
    if (o) {
      mmhint_count(&o->file->c[counter], (uint64_t)r);
      if (!offp) o->pos += r;
    }
  }
  return r;
}

MMHINT_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t n) {
  return moved(in_fd, off,
               MMHINT_CALL_REAL(sendfile, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off, n),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *off, size_t n) {
  return moved(in_fd, off,
               MMHINT_CALL_REAL(sendfile64, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off, n),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t copy_file_range(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n,
                                      unsigned int flags) {
  return moved(in_fd, in_off,
               MMHINT_CALL_REAL(copy_file_range, syscall(SYS_copy_file_range, in_fd, in_off, out_fd, out_off, n, flags),
                                in_fd, in_off, out_fd, out_off, n, flags),
               MMHINT_FC_copy_range_bytes);
}

MMHINT_EXPORT ssize_t splice(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n, unsigned int flags) {
  return moved(in_fd, in_off,
               MMHINT_CALL_REAL(splice, syscall(SYS_splice, in_fd, in_off, out_fd, out_off, n, flags), in_fd, in_off,
                                out_fd, out_off, n, flags),
               MMHINT_FC_splice_bytes);
}
