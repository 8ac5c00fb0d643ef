/*
 * shim/readmap.c: the shim's half of read->mmap (policy/readmap.c decides):
 * the state of a description at open, keeping the kernel offset in step,
 * writes and seeks on converting descriptions, and the general path of a
 * converted read.  The fast paths of read() and pread() are inline in
 * shim/readmap.h; everything they cannot serve comes here.
 *
 * An active description's offset lives in o->pos (the shadow offset); the
 * kernel's is put in step only where someone else can see it
 * (docs/READMAP.md).
 */
#include <limits.h>
#include <string.h>
#include <sys/statfs.h>

#include "policy/readmap.h"
#include "policy/spin.h"
#include "shim/guard.h"
#include "shim/readmap.h"
#include "shim/shim.h"

/* ---- State at open ------------------------------------------------------------------ */

void mmhint__rm_opened(int fd, mmhint_ofd_t *o, const long long *num, int oflags, int stdio) {
  mmhint_rm_params_t p;
  mmhint_rm_params_from(num, &p);
  if (p.mode == MMHINT_RM_OFF || o->rm) return;
  struct stat st;
  if (mmhint_os_fstat(fd, &st) < 0) return;
  mmhint_rm_facts_t facts = {oflags, 1, stdio, st.st_mode & S_IFMT, (int64_t)st.st_size,
                             (uint64_t)st.st_dev, (uint64_t)st.st_ino, 0};
  struct statfs sf;
  if (facts.type == S_IFREG && syscall(SYS_fstatfs, fd, &sf) == 0) facts.fs_magic = (long)sf.f_type;
  int reason = mmhint_rm_eligible(&p, &facts);
  if (reason < 0 && !mmhint__guard_install()) reason = MMHINT_FB_map_failed;
  mmhint_rm_t *rm = mmhint_rm_new(&p, &facts, reason);
  if (rm && rm->active) o->pos = 0; /* just opened, not O_APPEND: the offset is 0 */
  o->rm = rm;
}

/* ---- Keeping the kernel offset in step --------------------------------------------- */

/* Puts the kernel offset of fd's description at the shadow offset; the caller holds rm's lock. */
static inline void rm_sync_locked(int fd, mmhint_ofd_t *o) {
  mmhint_os_lseek(fd, o->pos, SEEK_SET);
  mmhint_count(&o->file->c[MMHINT_FC_offset_syncs], 1);
}

void mmhint__rm_stop(int fd, mmhint_ofd_t *o, int reason) {
  mmhint_rm_t *rm = o ? o->rm : NULL;
  if (!rm || !__atomic_load_n(&rm->active, __ATOMIC_ACQUIRE)) return;
  int saved_errno = errno;
  mmhint_spin_lock(&rm->lock);
  if (rm->active) {
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, reason);
  }
  mmhint_spin_unlock(&rm->lock);
  errno = saved_errno;
}

static void sync_one(int fd, mmhint_ofd_t *o, void *ctx) {
  int how = *(int *)ctx;
  mmhint_rm_t *rm = o->rm;
  if (!rm || !__atomic_load_n(&rm->active, __ATOMIC_ACQUIRE) || !o->file) return;
  mmhint_spin_lock(&rm->lock);
  if (rm->active) {
    int stop = how == MMHINT_RM_SYNC_STOP ||
               (how == MMHINT_RM_SYNC_STOP_INHERITED && !(syscall(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC));
    rm_sync_locked(fd, o);
    if (stop) mmhint_rm_stop(rm, MMHINT_FB_shared);
  }
  mmhint_spin_unlock(&rm->lock);
}

void mmhint__rm_sync_all(int how) {
  if (mmhint__state != MMHINT_STATE_READY) return;
  int saved_errno = errno;
  /*
   * Under the table lock: a description closed by another thread meanwhile
   * could be recycled for one it opens, and this would then stop that one
   * without putting its kernel offset in step (its reads would go on from 0).
   */
  mmhint_ofd_foreach_locked(sync_one, &how);
  errno = saved_errno;
}

/* ---- Writes on read-write descriptions --------------------------------------------- */

ssize_t mmhint__rm_write(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf) {
  mmhint_rm_t *rm = o->rm;
  const int mt = !__libc_single_threaded;
  ssize_t r = MMHINT_RM_PLAIN_WRITE;
  int saved_errno = errno;
  mmhint__rm_enter(rm, mt);
  if (rm->active && rwf) {
    /* Flags (RWF_APPEND moves the offset to the end): hand the offset back, let the kernel do it all. */
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_flags);
  } else if (rm->active) {
    /* The kernel's offset lags: write where the program believes it is, exactly as write(2) would there. */
    int64_t pos = o->pos;
    r = mmhint__real_pwritev(fd, iov, cnt, pos); /* the real one: the write wrapper records this write */
    saved_errno = errno;
    if (r > 0) {
      o->pos = pos + r;
      if (o->pos > rm->size) rm->size = o->pos; /* the file grew by this write */
      if (rm->strict) rm_sync_locked(fd, o);
    }
  }
  mmhint__rm_leave(rm, mt);
  errno = saved_errno;
  return r;
}

/* ---- Serving a read ------------------------------------------------------------------ */

/* The real positional read, used whenever an active description cannot be served from the mapping. */
static ssize_t real_preadv(int fd, const struct iovec *iov, int cnt, int64_t pos, int rwf) {
  if (cnt == 1 && !rwf) {
    if (MMHINT_REAL(pread64)) return MMHINT_REAL(pread64)(fd, iov[0].iov_base, iov[0].iov_len, pos);
    return syscall(SYS_pread64, fd, iov[0].iov_base, iov[0].iov_len, pos);
  }
  if (MMHINT_REAL(preadv64v2)) return MMHINT_REAL(preadv64v2)(fd, iov, cnt, pos, rwf);
  return syscall(SYS_preadv2, fd, iov, cnt, (long)pos, (long)((uint64_t)pos >> 32), rwf);
}

ssize_t mmhint__rm_nested_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf) {
  ssize_t r = real_preadv(fd, iov, cnt, o->pos, rwf);
  if (r > 0) o->pos += r;
  return r;
}

/* Re-reads the file size; returns 0, or -1 when fstat failed. */
static inline int rm_refresh(int fd, mmhint_rm_t *rm) {
  struct stat st;
  rm->epoch = __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE);
  if (mmhint_os_fstat(fd, &st) < 0) return -1;
  rm->size = (int64_t)st.st_size;
  return 0;
}

/*
 * Copies m > 0 bytes at file offset pos into the iovecs and points *last at
 * the last byte written; returns -1, or a MMHINT_FB_* reason when it could
 * not (a mapping failed, or a page faulted).
 */
static int rm_copy(mmhint_rm_t *rm, int fd, const struct iovec *iov, int cnt, int64_t pos, size_t m,
                   const char **last) {
  int64_t end = pos + (int64_t)m;
  for (int i = 0; i < cnt && pos < end; i++) {
    char *dst = iov[i].iov_base;
    size_t left = iov[i].iov_len;
    if ((int64_t)left > end - pos) left = (size_t)(end - pos);
    while (left > 0) {
      const char *src;
      int64_t avail;
      if (MMHINT_LIKELY(rm->win_gen == __atomic_load_n(rm->gen, __ATOMIC_SEQ_CST) && pos >= rm->win_lo &&
                        pos < rm->win_hi)) {
        src = rm->win_base + (pos - rm->win_lo);
        avail = rm->win_hi - pos;
      } else {
        int reason;
        avail = mmhint_rm_map(rm, fd, pos, end, &src, &reason);
        if (avail < 0) return reason;
      }
      size_t k = (int64_t)left < avail ? left : (size_t)avail;
      if (MMHINT_UNLIKELY(mmhint__guarded_copy(dst, src, k) != 0)) return MMHINT_FB_fault;
      *last = dst + k - 1;
      dst += k;
      left -= k;
      pos += (int64_t)k;
    }
  }
  return -1;
}

/*
 * A file that another process shrank keeps its new last page mapped, and the
 * bytes of that page past the new end read as zeros (pages wholly past it
 * fault, see the guard).  So a copy that ends in a zero byte, and that
 * mmhint__rm_tail_probe could not clear (it ends in the window's or the
 * file's last page, or the probe faulted), may have read past the end: the
 * size is checked (one fstat) and, when the file is now shorter than the
 * read, the read is done again by the kernel.  Returns nonzero when the copy
 * stands.  A description whose reads keep needing that check (reads of the
 * last page of a sparse or zero-filled file) stops converting
 * (MMHINT_FB_zero_tail): no slower than plain reads.
 */
int mmhint__rm_tail_ok(int fd, mmhint_ofd_t *o, int64_t end, int64_t new_pos) {
  mmhint_rm_t *rm = o->rm;
  rm->zero_tails++;
  struct stat st;
  int saved_errno = errno;
  int got = mmhint_os_fstat(fd, &st) == 0;
  errno = saved_errno;
  int ok = got && (int64_t)st.st_size >= end;
  rm->size = got ? (int64_t)st.st_size : -1; /* -1: re-read before the next converted read */
  if (!ok) {
    mmhint_count(&o->file->fallbacks[MMHINT_FB_changed], 1);
  } else if (mmhint_rm_zero_tail_stops(rm)) {
    /* The copy stands; the offset goes back to the kernel where this read leaves it. */
    o->pos = new_pos;
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_zero_tail);
  }
  return ok;
}

/* Sums the lengths of a call's buffers into *n; returns zero when the kernel would refuse the call (EINVAL). */
static inline int rm_request_len(const struct iovec *iov, int cnt, int64_t at, size_t *n) {
  *n = 0;
  if (at < -1 || cnt < 0 || cnt > IOV_MAX) return 0;
  for (int i = 0; i < cnt; i++)
    if (__builtin_add_overflow(*n, iov[i].iov_len, n) || *n > (size_t)SSIZE_MAX) return 0;
  return 1;
}

/*
 * Copies the m > 0 bytes at pos of a converted read (its length cut at the
 * known size) out of the windows, and checks a copy that ended in a zero
 * byte against the size.  Returns -1 when the copy stands, else the
 * MMHINT_FB_* reason or MMHINT_RM_REDO that sends the read to the kernel.
 */
static int rm_copy_checked(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int64_t pos, size_t m, int64_t at,
                           int mt) {
  mmhint_rm_t *rm = o->rm;
  const char *last = NULL;
  if (mt) mmhint_rm_reader_enter(rm);
  int reason = rm_copy(rm, fd, iov, cnt, pos, m, &last);
  int zero = reason < 0 && MMHINT_UNLIKELY(*last == 0);
  if (zero && mmhint__rm_tail_probe(rm, pos + (int64_t)m)) zero = 0; /* a later page is there: the zeros are data */
  if (mt) mmhint_rm_reader_leave(rm);
  if (reason == MMHINT_FB_fault) rm_refresh(fd, rm);
  rm->reads++;
  if (zero && !mmhint__rm_tail_ok(fd, o, pos + (int64_t)m, at < 0 ? pos + (int64_t)m : o->pos))
    reason = MMHINT_RM_REDO;
  return reason;
}

/*
 * Serves one read-family call on an active description: at `at` (>= 0), or
 * at the shadow offset, which it then moves (at == -1).  rwf: preadv2 flags.
 * Returns the call's result with errno set as the real call would, or
 * MMHINT_RM_PLAIN when the description is (now) not converting.
 *
 * Reading the clock next to a copy out of a mapping costs as much as the copy
 * itself on this kind of machine (~140 ns per rdtsc beside a 4 KiB copy: the
 * time stamp waits for the copy's memory loads, so consecutive copies no
 * longer overlap; docs/READMAP.md), so a converted read is timed only once in
 * MMHINT_RM_TIME_EVERY, and that time stands for the untimed ones since the
 * previous timed read.  Calls that go to the kernel are all timed.  With
 * statistics off and no hint on the description nothing is recorded.
 */
ssize_t mmhint__rm_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int64_t at, int rwf, int op) {
  mmhint_rm_t *rm = o->rm;
  mmhint_file_t *f = o->file;
  const int mt = !__libc_single_threaded;
  const int rec = mmhint__stats_on || o->hints.active || o->pf.mode;
  size_t n;
  mmhint__rm_enter(rm, mt);
  if (MMHINT_UNLIKELY(!rm->active) || !rm_request_len(iov, cnt, at, &n)) {
    /* Not converting (now); or let the real call give its error (EINVAL) on the kernel offset, which it does not move. */
    mmhint__rm_leave(rm, mt);
    return MMHINT_RM_PLAIN;
  }
  if (!rwf && mmhint_rm_large_read(rm, n)) {
    /* The program reads in large pieces: read() is as fast; hand the offset back for good. */
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_large_read);
    mmhint__rm_leave(rm, mt);
    return MMHINT_RM_PLAIN;
  }
  int reason = rwf ? MMHINT_FB_flags : mmhint_rm_on_large_read(rm, n) ? MMHINT_FB_on_large_read : -1;
  int64_t pos = at >= 0 ? at : o->pos;
  int saved_errno = errno;
  if (reason == -1 && n > 0 &&
      MMHINT_UNLIKELY(rm->epoch != __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE) || pos + (int64_t)n > rm->size) &&
      rm_refresh(fd, rm) != 0)
    reason = MMHINT_FB_changed;
  uint64_t t0 = 0, t1 = 0, dur = 0;
  ssize_t r;
  if (reason == -1) {
    size_t m = 0;
    if (pos < rm->size) m = (int64_t)n < rm->size - pos ? n : (size_t)(rm->size - pos);
    int timed = rec && rm->untimed == 0;
    if (timed) t0 = mmhint_ticks();
    if (m > 0) reason = rm_copy_checked(o, fd, iov, cnt, pos, m, at, mt);
    if (reason < 0) {
      r = (ssize_t)m;
      if (at < 0) o->pos = pos + r;
      if (rm->strict && at < 0) rm_sync_locked(fd, o);
      mmhint_rm_advise(rm, pos, pos + r);
      mmhint_rm_prefetch(rm, pos + r, m);
      if (rec) mmhint__rm_times(rm, f, timed, &t0, &t1, &dur);
      errno = saved_errno;
    }
  }
  if (reason >= 0) {
    /* The real call, at the shadow offset: always exact for a regular file. */
    t0 = mmhint_ticks();
    r = real_preadv(fd, iov, cnt, pos, rwf);
    t1 = mmhint_ticks();
    dur = t1 - t0;
    saved_errno = errno;
    if (r > 0 && at < 0) o->pos = pos + r;
    if (reason != MMHINT_RM_REDO) mmhint_count(&f->fallbacks[reason], 1);
  }
  mmhint__rm_leave(rm, mt);
  if (reason < 0 && rec) mmhint__rm_record_converted(o, fd, r, pos, dur, t0, t1, op);
  else if (reason >= 0) mmhint__record_read_dur(o, fd, r, pos, dur, t0, t1, op);
  errno = saved_errno;
  return r;
}

/*
 * mmhint__rm_read1 when the process has several threads: the same, under the
 * description's lock (concurrent read()s on one description get distinct
 * ranges) and announced in the file's `readers` (the window cannot go away
 * during the copy, see policy/readmap.c).  A window miss goes to rm_read,
 * which maps under the global lock.
 */
ssize_t mmhint__rm_read1_mt(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op) {
  mmhint_rm_t *rm = o->rm;
  if (at < -1 || rm->strict || n - 1 >= (size_t)rm->fast_max) return mmhint__rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
  mmhint__rm_enter(rm, 1);
  int64_t pos = at >= 0 ? at : o->pos;
  if (rm->active && (int64_t)n <= rm->size - pos && rm->epoch == __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE) &&
      pos >= rm->win_lo && (int64_t)n <= rm->win_hi - pos) {
    mmhint_rm_reader_enter(rm);
    if (rm->win_gen == __atomic_load_n(rm->gen, __ATOMIC_SEQ_CST)) {
      const int rec = mmhint__stats_on || o->hints.active || o->pf.mode;
      const int timed = rec && rm->untimed == 0;
      uint64_t t0 = timed ? mmhint_ticks() : 0, t1 = 0, dur = 0;
      size_t left = mmhint__guarded_copy(buf, rm->win_base + (pos - rm->win_lo), n);
      int stands = mmhint__rm_copied(o, fd, buf, n, pos, at, left); /* may probe the window: still a reader */
      mmhint_rm_reader_leave(rm);
      if (MMHINT_LIKELY(stands)) {
        if (rec) mmhint__rm_times(rm, o->file, timed, &t0, &t1, &dur);
        mmhint__rm_leave(rm, 1);
        if (rec) mmhint__rm_record_converted(o, fd, (ssize_t)n, pos, dur, t0, t1, op);
        return (ssize_t)n;
      }
    } else {
      mmhint_rm_reader_leave(rm);
    }
  }
  mmhint__rm_leave(rm, 1);
  return mmhint__rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
}

/* ---- Seeking ---------------------------------------------------------------------------- */

/*
 * lseek on an active description, answered from the shadow offset:
 * SEEK_SET/CUR/END computed exactly (END from a fresh fstat); SEEK_DATA,
 * SEEK_HOLE, results too large to judge here and unknown whence values go to
 * the kernel with an absolute offset where one is known.  Sets *done.
 */
off64_t mmhint__rm_lseek(int fd, mmhint_ofd_t *o, off64_t off, int whence, int *done) {
  mmhint_rm_t *rm = o->rm;
  const int mt = !__libc_single_threaded;
  int saved_errno = errno;
  mmhint__rm_enter(rm, mt);
  off64_t r = -1;
  *done = rm->active;
  if (rm->active) {
    int64_t t = -EINVAL;
    if (whence == SEEK_SET || whence == SEEK_CUR || whence == SEEK_END) {
      if (whence == SEEK_END && rm_refresh(fd, rm) != 0) t = -E2BIG;
      else t = mmhint_rm_seek(o->pos, rm->size, off, whence);
    } else {
      t = -E2BIG;
    }
    if (t >= MMHINT_RM_MAX_OFFSET) {
      r = mmhint_os_lseek(fd, t, SEEK_SET); /* the filesystem's limit decides; kernel and shadow agree after */
    } else if (t >= 0) {
      r = t;
      if (rm->strict) mmhint_os_lseek(fd, t, SEEK_SET);
    } else if (t == -EINVAL) {
      r = -EINVAL;
    } else {
      r = mmhint_os_lseek(fd, off, whence); /* SEEK_DATA, SEEK_HOLE, unknown whence */
    }
    if (r >= 0) o->pos = r;
  }
  mmhint__rm_leave(rm, mt);
  if (*done) {
    if (r >= 0) mmhint_count(&o->file->c[MMHINT_FC_seeks], 1);
    if (r < 0) {
      errno = (int)-r;
      return -1;
    }
  }
  errno = saved_errno;
  return r;
}

/* lseek nested in a signal handler (see mmhint__rm_nested): moved in the kernel, and the shadow follows. */
off64_t mmhint__rm_nested_lseek(mmhint_ofd_t *o, int fd, off64_t off, int whence) {
  if (whence == SEEK_CUR) { /* relative to where the program is, not to the lagging kernel offset */
    off64_t t;
    if (__builtin_add_overflow(o->pos, off, &t) || t < 0) {
      errno = EINVAL;
      return -1;
    }
    off = t;
    whence = SEEK_SET;
  }
  long r = mmhint_os_lseek(fd, off, whence);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  o->pos = r;
  return r;
}
