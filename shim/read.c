/*
 * shim/read.c: the read family (read, pread, readv, preadv and their 64-bit,
 * fortify and flag-taking siblings).
 *
 * Each wrapper: guard, find the description (adopting it on first sight),
 * then either serve the read from a mapping (read->mmap, shim/readmap.h,
 * when the description is active) or time the real call with the TSC,
 * record, return.  read, pread and their _chk siblings take the fast path
 * first (MMHINT_FAST in shim/shim.h): the body below is their slow half.
 */
#include "policy/readmap.h"
#include "shim/readmap.h"
#include "shim/shim.h"

/* Counts a read on a description that does not convert, when read->mmap is asked for (policy/readmap.h). */
static inline void count_plain(mmhint_ofd_t *o) {
  mmhint_rm_t *rm = o->rm;
  int reason;
  if (rm)
    reason = mmhint_rm_stopped_reason(rm);
  else if (mmhint__cfg.values.num[MMHINT_OPT_read_mmap] != MMHINT_RM_OFF)
    reason = mmhint_rm_stateless_reason((o->flags & MMHINT_OFD_OPENED) != 0, o->file->mode);
  else
    return; /* never asked for: nothing to count (tested first, without loading the description's facts) */
  if (reason >= 0) mmhint_count(&o->file->fallbacks[reason], 1);
}

/*
 * The common body of every read-family wrapper: `call` is the real call as an
 * expression, `offset` the explicit offset (or -1 for the current position);
 * iov/cnt/rwf describe it for read->mmap.
 */
#define MMHINT_READ_BODY(fd, offset, op, iov, cnt, rwf, call)             \
  MMHINT_READ_BODY_AS(fd, offset, op, mmhint__rm_read(o_, fd, iov, cnt, offset, rwf, op), call)

/* The same for a single buffer (read, pread and their siblings): the fast path first. */
#define MMHINT_READ1_BODY(fd, offset, op, buf, n, call) \
  MMHINT_READ_BODY_AS(fd, offset, op, mmhint__rm_read1(o_, fd, buf, n, offset, op), call)

#define MMHINT_READ_BODY_AS(fd, offset, op, convert, call)                \
  do {                                                                    \
    mmhint_ofd_t *o_ = mmhint__track(fd);                                 \
    if (!o_) return call;                                                 \
    if (o_->rm) {                                                         \
      if (__atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE)) {           \
        ssize_t c_ = convert;                                             \
        if (MMHINT_LIKELY(c_ != MMHINT_RM_PLAIN)) return c_;                     \
      }                                                                   \
    }                                                                     \
    count_plain(o_);                                                   \
    /* Nothing to record, no hint or prefetch to feed: no clock, no counting. */ \
    if (!mmhint__stats_on && !o_->hints.active && !o_->pf.mode) return call; \
    if (mmhint__untimed(o_)) { /* counted, not timed (shim/shim.h) */      \
      ssize_t u_ = call;                                                  \
      mmhint__record_read_untimed(o_, fd, u_, offset, op);                \
      return u_;                                                          \
    }                                                                     \
    uint64_t t0_ = mmhint_ticks();                                        \
    ssize_t r_ = call;                                                    \
    uint64_t t1_ = mmhint_ticks();                                        \
    mmhint__record_read(o_, fd, r_, offset, t0_, t1_, op);                \
    return r_;                                                            \
  } while (0)

/*
 * The guard of the read family: before start-up, when disabled, or nested,
 * pass through, except a nested call at the current position (`current`) on
 * a converting description, which goes to the shadow offset.
 */
#define MMHINT_READ_GUARD(fd, current, iov, cnt, rwf, passthrough)                \
  do {                                                                             \
    if (!mmhint__enter()) {                                                        \
      mmhint_ofd_t *n_ = (current) ? mmhint__rm_nested(fd) : NULL;                 \
      if (MMHINT_UNLIKELY(n_ != NULL)) return mmhint__rm_nested_read(n_, fd, iov, cnt, rwf); \
      return passthrough;                                                          \
    }                                                                              \
  } while (0)

/* read's slow half (shim/shim.h, MMHINT_FAST): everything but an untimed call on a plain description. */
static MMHINT_SLOW ssize_t read_slow(int fd, void *buf, size_t n) {
  MMHINT_READ_GUARD(fd, 1, MMHINT_ONE_IOV(buf, n), 1, 0, MMHINT_CALL_REAL(read, syscall(SYS_read, fd, buf, n), fd, buf, n));
  MMHINT_READ1_BODY(fd, -1, MMHINT_OP_READ, buf, n, MMHINT_REAL(read)(fd, buf, n));
}

MMHINT_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  MMHINT_FAST_READ(fd, -1, MMHINT_OP_READ, MMHINT_REAL(read)(fd, buf, n), SYS_read, fd, buf, n, 0);
  return read_slow(fd, buf, n);
}

static MMHINT_SLOW ssize_t read_chk_slow(int fd, void *buf, size_t n, size_t buflen) {
  MMHINT_READ_GUARD(fd, 1, MMHINT_ONE_IOV(buf, n), 1, 0,
                    MMHINT_CALL_REAL(__read_chk, syscall(SYS_read, fd, buf, n), fd, buf, n, buflen));
  MMHINT_READ1_BODY(fd, -1, MMHINT_OP_READ, buf, n, MMHINT_REAL(__read_chk)(fd, buf, n, buflen));
}

MMHINT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (n > buflen) /* the real one reports the overflow */
    return MMHINT_CALL_REAL(__read_chk, syscall(SYS_read, fd, buf, n), fd, buf, n, buflen);
  MMHINT_FAST_READ(fd, -1, MMHINT_OP_READ,
                   MMHINT_REAL(__read_chk)(fd, buf, n, buflen), SYS_read, fd, buf, n, 0);
  return read_chk_slow(fd, buf, n, buflen);
}

/* pread with a negative offset fails with EINVAL in the kernel: never converted. */
#define MMHINT_AT(off) ((off) >= 0 ? (int64_t)(off) : (int64_t)-3)

static MMHINT_SLOW ssize_t pread_slow(int fd, void *buf, size_t n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n, MMHINT_REAL(pread)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  MMHINT_FAST_READ(fd, MMHINT_AT(off), MMHINT_OP_PREAD,
                   MMHINT_REAL(pread)(fd, buf, n, off), SYS_pread64, fd, buf, n, off);
  return pread_slow(fd, buf, n, off);
}

static MMHINT_SLOW ssize_t pread64_slow(int fd, void *buf, size_t n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread64, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(pread64)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  MMHINT_FAST_READ(fd, MMHINT_AT(off), MMHINT_OP_PREAD,
                   MMHINT_REAL(pread64)(fd, buf, n, off), SYS_pread64, fd, buf, n, off);
  return pread64_slow(fd, buf, n, off);
}

static MMHINT_SLOW ssize_t pread_chk_slow(int fd, void *buf, size_t n, off_t off, size_t buflen) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__pread_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(__pread_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) /* the real one reports the overflow */
    return MMHINT_CALL_REAL(__pread_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_FAST_READ(fd, MMHINT_AT(off), MMHINT_OP_PREAD,
                   MMHINT_REAL(__pread_chk)(fd, buf, n, off, buflen), SYS_pread64, fd, buf, n, off);
  return pread_chk_slow(fd, buf, n, off, buflen);
}

static MMHINT_SLOW ssize_t pread64_chk_slow(int fd, void *buf, size_t n, off64_t off, size_t buflen) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__pread64_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(__pread64_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen) {
  if (n > buflen) /* the real one reports the overflow */
    return MMHINT_CALL_REAL(__pread64_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_FAST_READ(fd, MMHINT_AT(off), MMHINT_OP_PREAD,
                   MMHINT_REAL(__pread64_chk)(fd, buf, n, off, buflen), SYS_pread64, fd, buf, n, off);
  return pread64_chk_slow(fd, buf, n, off, buflen);
}

MMHINT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n) {
  MMHINT_READ_GUARD(fd, 1, iov, n, 0, MMHINT_CALL_REAL(readv, syscall(SYS_readv, fd, iov, n), fd, iov, n));
  MMHINT_READ_BODY(fd, -1, MMHINT_OP_READ, iov, n, 0, MMHINT_REAL(readv)(fd, iov, n));
}

/* preadv's raw system call takes the offset split in two longs. */
#define MMHINT_SYS_PREADV(fd, iov, n, off) syscall(SYS_preadv, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32))
#define MMHINT_SYS_PREADV2(fd, iov, n, off, fl) \
  syscall(SYS_preadv2, fd, iov, n, (long)(off), (long)((uint64_t)(off) >> 32), fl)

MMHINT_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(preadv, MMHINT_SYS_PREADV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_READ_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, iov, n, 0, MMHINT_REAL(preadv)(fd, iov, n, off));
}

MMHINT_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(preadv64, MMHINT_SYS_PREADV(fd, iov, n, off), fd, iov, n, off);
  MMHINT_READ_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, iov, n, 0, MMHINT_REAL(preadv64)(fd, iov, n, off));
}

/* An offset of -1 means the current position, which the call then moves. */
#define MMHINT_AT2(off) ((off) == -1 ? (int64_t)-1 : MMHINT_AT(off))

MMHINT_EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int n, off_t off, int flags) {
  MMHINT_READ_GUARD(fd, off == -1, iov, n, flags,
                    MMHINT_CALL_REAL(preadv2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_READ_BODY(fd, MMHINT_AT2(off), off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD, iov, n, flags,
                   MMHINT_REAL(preadv2)(fd, iov, n, off, flags));
}

MMHINT_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
  MMHINT_READ_GUARD(fd, off == -1, iov, n, flags,
                    MMHINT_CALL_REAL(preadv64v2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_READ_BODY(fd, MMHINT_AT2(off), off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD, iov, n, flags,
                   MMHINT_REAL(preadv64v2)(fd, iov, n, off, flags));
}
