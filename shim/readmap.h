/*
 * shim/readmap.h: the shim's half of read->mmap, shared by the wrapper files
 * (shim/readmap.c has the rest; policy/readmap.h decides).
 *
 * Entry points for the wrappers: a description's state at open, stopping it
 * and keeping the kernel offset in step (every place another party could
 * observe the offset: fork, exec, spawn, fdopen, sendfile...), writes, seeks
 * and reads on converting descriptions, and the calls nested in a signal
 * handler.  The fast paths of read() and pread() are inline here, so that
 * the common converted read costs a few compares around the copy.
 */
#ifndef MMHINT_SHIM_READMAP_H
#define MMHINT_SHIM_READMAP_H

#include "policy/readmap.h"
#include "policy/spin.h"
#include "shim/guard.h"
#include "shim/shim.h"

/* ---- Entering and leaving the engine ----------------------------------------------- */

/*
 * Every section of the engine that works on a description marks the thread
 * busy (nested calls from a signal handler pass through) and, when the
 * process has several threads (`mt`), holds the description's lock.  Each
 * exit of such a section is one mmhint__rm_leave.
 */
static inline void mmhint__rm_enter(mmhint_rm_t *rm, int mt) {
  mmhint__busy = 1;
  if (mt) mmhint_spin_lock(&rm->lock);
}
static inline void mmhint__rm_leave(mmhint_rm_t *rm, int mt) {
  if (mt) mmhint_spin_unlock(&rm->lock);
  mmhint__busy = 0;
}

/* ---- State, stops and syncs ---------------------------------------------------------- */

/* Creates the read->mmap state of a description just opened, from the option values that apply to its file. */
void mmhint__rm_opened(int fd, mmhint_ofd_t *o, const long long *num, int oflags, int stdio);
/* Puts o's kernel offset in step with its shadow and stops converting it (reason: MMHINT_FB_*). Preserves errno. */
void mmhint__rm_stop(int fd, mmhint_ofd_t *o, int reason);
/* Puts every converting description's kernel offset in step; `how` also stops all, or those a child inherits. */
enum { MMHINT_RM_SYNC_ONLY, MMHINT_RM_SYNC_STOP, MMHINT_RM_SYNC_STOP_INHERITED };
void mmhint__rm_sync_all(int how);

/* ---- Writes and seeks ---------------------------------------------------------------- */

/*
 * A write at the current position on o (write, writev, pwritev2 with offset
 * -1): on a converting description it is made at the shadow offset, which it
 * then moves.  Returns the real call's result, or MMHINT_RM_PLAIN_WRITE when
 * the description does not convert (the caller calls the real function).
 */
#define MMHINT_RM_PLAIN_WRITE (-2)
ssize_t mmhint__rm_write(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf);

/*
 * lseek on an active description, answered from the shadow offset:
 * SEEK_SET/CUR/END exactly, the others by the kernel.  Sets *done to zero
 * when the description was not converting after all (the caller calls the
 * real lseek); otherwise returns what lseek returns, with errno set.
 */
off64_t mmhint__rm_lseek(int fd, mmhint_ofd_t *o, off64_t off, int whence, int *done);

/* ---- Calls nested in a signal handler ------------------------------------------------- */

/*
 * A call that moves the offset, made while this thread is already inside
 * the shim: a signal handler that interrupted a wrapper.  The kernel's
 * offset of a converting description lags the shadow, so such a call must
 * still go to the shadow; it cannot take the description's lock (the
 * interrupted code may hold it), so it is made with the real positional call
 * at the shadow offset and moves the shadow, without recording.  Returns the
 * description when the call must be served this way, else NULL.  (A handler
 * that reads the very description whose read it interrupted races with it,
 * as two threads would without the kernel's offset lock.)
 */
static inline mmhint_ofd_t *mmhint__rm_nested(int fd) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY || !mmhint__busy) return NULL;
  mmhint_ofd_t *o = mmhint_ofd_get(fd);
  return o && o->rm && __atomic_load_n(&o->rm->active, __ATOMIC_ACQUIRE) ? o : NULL;
}
/* A read at the current position, nested (see mmhint__rm_nested): at the shadow offset, which it moves. */
ssize_t mmhint__rm_nested_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf);
/* An lseek, nested: moved in the kernel, and the shadow follows.  Returns what lseek returns, errno set. */
off64_t mmhint__rm_nested_lseek(mmhint_ofd_t *o, int fd, off64_t off, int whence);

/* ---- Reads ------------------------------------------------------------------------------ */

#define MMHINT_ONE_IOV(buf, n) (&(struct iovec){(void *)(buf), (n)})

/* mmhint__rm_read's answer when the description is not (or no longer) converting: take the ordinary path. */
#define MMHINT_RM_PLAIN (-2)

/*
 * Serves one read-family call on an active description: at `at` (>= 0), or
 * at the shadow offset, which it then moves (at == -1; at < -1 is an invalid
 * offset, left to the real call).  rwf: preadv2 flags; op: MMHINT_OP_*.
 * Returns the call's result with errno set as the real call would, or
 * MMHINT_RM_PLAIN.  The general path: several buffers, window misses,
 * faults, size changes, flags.
 */
ssize_t mmhint__rm_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int64_t at, int rwf, int op);

/* mmhint__rm_read1 (below) when the process has several threads. */
ssize_t mmhint__rm_read1_mt(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op);

/*
 * A converted copy that ended at `end` in a zero byte may have read past a
 * shrunk file's end: checks the size, and returns nonzero when the copy
 * stands (shim/readmap.c says more).  `new_pos` is where the offset goes
 * should the description stop converting here.
 */
int mmhint__rm_tail_ok(int fd, mmhint_ofd_t *o, int64_t end, int64_t new_pos);

/*
 * A copy that ended at `end` in a zero byte: returns nonzero when a later
 * page of the file is still there, which proves the file was not shrunk to a
 * size inside the copy's last page, without a system call.  A shrink by
 * another process keeps mapped only the pages up to the one holding the new
 * end (its bytes past the end read as zeros); every page wholly past the new
 * end faults.  So one guarded load from the last page of the cached window
 * below the known size, when that page lies past the copy's last page,
 * either succeeds (the file still holds more than `end` bytes: the zeros are
 * data) or faults (the guard returns; the caller checks the size with
 * fstat).  Returns 0 too when there is no such page (the copy ends in the
 * window's or the file's last page): the caller checks the size then.  The
 * probed page is the same for every read of the window, so it costs one
 * fault-in per window, then a load from a page already in the page tables.
 * The caller still counts its window as in use (several threads: `readers`).
 */
static inline int mmhint__rm_tail_probe(const mmhint_rm_t *rm, int64_t end) {
  int64_t lim = rm->size < rm->win_hi ? rm->size : rm->win_hi;
  int64_t q = (lim - 1) & ~(int64_t)4095;
  if (q <= ((end - 1) & ~(int64_t)4095) || q < rm->win_lo || rm->win_gen != __atomic_load_n(rm->gen, __ATOMIC_ACQUIRE))
    return 0;
  char c;
  return mmhint__guarded_copy(&c, rm->win_base + (q - rm->win_lo), 1) == 0;
}

/*
 * The times of a converted read that will be recorded: timed (t0 taken
 * before the copy) once in MMHINT_RM_TIME_EVERY, standing for the untimed
 * reads since; the others carry this thread's last time stamp, and a file's
 * first access always gets a true one.
 */
static inline void mmhint__rm_times(mmhint_rm_t *rm, mmhint_file_t *f, int timed, uint64_t *t0, uint64_t *t1, uint64_t *dur) {
  if (timed) {
    *t1 = mmhint_ticks();
    *dur = (*t1 - *t0) * (rm->untimed + 1);
    mmhint__clock_last = *t1;
  } else {
    *t0 = *t1 = mmhint__clock_last;
    *dur = 0;
  }
  rm->untimed = rm->untimed + 1 >= MMHINT_RM_TIME_EVERY ? 0 : rm->untimed + 1;
  if (MMHINT_UNLIKELY(!*t0 || !__atomic_load_n(&f->c[MMHINT_FC_first_access_ns], __ATOMIC_RELAXED)))
    *t0 = *t1 = mmhint__clock_last = mmhint_ticks();
}

/* Records a converted read of r bytes at pos: the converted counters, then what every read records. */
static inline void mmhint__rm_record_converted(mmhint_ofd_t *o, int fd, ssize_t r, int64_t pos, uint64_t dur, uint64_t t0,
                                       uint64_t t1, int op) {
  mmhint_count(&o->file->c[MMHINT_FC_converted_reads], 1);
  mmhint_count(&o->file->c[MMHINT_FC_converted_bytes], (uint64_t)r);
  mmhint__record_read_dur(o, fd, r, pos, dur, t0, t1, op);
}

/*
 * After the fast paths' copy of n bytes at pos into buf, which left `left`
 * bytes uncopied: returns nonzero when the copy stands (no fault, and a zero
 * last byte proved harmless: mmhint__rm_tail_probe, else mmhint__rm_tail_ok),
 * having moved the offset (at == -1), fed the advice and prefetched ahead;
 * zero sends the read to mmhint__rm_read.  With several threads the caller
 * is still among the file's readers.
 */
static inline int mmhint__rm_copied(mmhint_ofd_t *o, int fd, const void *buf, size_t n, int64_t pos, int64_t at, size_t left) {
  mmhint_rm_t *rm = o->rm;
  int64_t end = pos + (int64_t)n;
  rm->reads++;
  if (MMHINT_UNLIKELY(left != 0)) return 0;
  if (MMHINT_UNLIKELY(((const char *)buf)[n - 1] == 0) && !mmhint__rm_tail_probe(rm, end) &&
      !mmhint__rm_tail_ok(fd, o, end, at < 0 ? end : o->pos))
    return 0;
  if (at < 0) o->pos = end;
  mmhint_rm_advise(rm, pos, end);
  mmhint_rm_prefetch(rm, end, n);
  return 1;
}

/*
 * The common case of read()/pread() on a converting description, kept to a
 * few compares around the copy: one thread, not strict, the whole read
 * inside the cached window and below the known size.  Anything else, and a
 * copy that faulted, goes to mmhint__rm_read.
 */
static inline ssize_t mmhint__rm_read1(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op) {
  mmhint_rm_t *rm = o->rm;
  if (MMHINT_UNLIKELY(!__libc_single_threaded)) return mmhint__rm_read1_mt(o, fd, buf, n, at, op);
  int64_t pos = at >= 0 ? at : o->pos;
  if (MMHINT_LIKELY(at >= -1 && !rm->strict && n - 1 < (size_t)rm->fast_max &&
                    (int64_t)n <= rm->size - pos && rm->epoch == __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE)) &&
      (MMHINT_LIKELY(pos >= rm->win_lo && (int64_t)n <= rm->win_hi - pos &&
                     rm->win_gen == __atomic_load_n(rm->gen, __ATOMIC_ACQUIRE)) ||
       mmhint_rm_recache(rm, pos, pos + (int64_t)n))) {
    const int rec = mmhint__stats_on || o->hints.active || o->pf.mode;
    const int timed = rec && rm->untimed == 0;
    uint64_t t0 = timed ? mmhint_ticks() : 0, t1 = 0, dur = 0;
    mmhint__busy = 1;
    size_t left = mmhint__guarded_copy(buf, rm->win_base + (pos - rm->win_lo), n);
    mmhint__busy = 0;
    if (MMHINT_LIKELY(mmhint__rm_copied(o, fd, buf, n, pos, at, left))) {
      if (rec) {
        mmhint__rm_times(rm, o->file, timed, &t0, &t1, &dur);
        mmhint__rm_record_converted(o, fd, (ssize_t)n, pos, dur, t0, t1, op);
      }
      return (ssize_t)n;
    }
  }
  return mmhint__rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
}

#endif
