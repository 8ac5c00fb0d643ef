/*
 * shim/read.c: the read family, lseek, the calls that move file data inside
 * the kernel (sendfile, copy_file_range, splice), the calls that may shrink
 * a file (truncate family), and the fault guard of read->mmap's copies.
 *
 * Each wrapper: guard, find the description (adopting it on first sight),
 * then either serve the read from a mapping (read->mmap, policy/readmap.c,
 * when the description is active) or time the real call with the TSC,
 * record, return.  An active description's offset lives in o->pos (the
 * shadow offset); the kernel's is put in step only where someone else can
 * see it (docs/READMAP.md).
 */
#include <limits.h>
#include <string.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/statfs.h>
#include <ucontext.h>

#include "../policy/readmap.h"
#include "shim.h"

/* Total length of an iovec array, saturating. */
static inline size_t iov_total(const struct iovec *iov, int n) {
  size_t t = 0;
  for (int i = 0; i < n && iov; i++) t += iov[i].iov_len;
  return t;
}

/* ---- The fault guard ------------------------------------------------------------------ */

/*
 * A copy out of a mapping of a file that another process truncated raises
 * SIGBUS; a copy into a buffer the program passed but does not own raises
 * SIGSEGV (where read() would fail with EFAULT).  Neither may take the
 * program down, so the copy is one `rep movsb` at a known address
 * (mmhint__rm_movsb below), like the kernel's own exception table: when a
 * fault arrives with the instruction pointer on that instruction, the
 * handler moves it to the instruction after, the copy returns the bytes it
 * did not copy, and the read falls back to the real call, which gives the
 * exact answer (a short read, 0, or EFAULT).  No per-copy set-up (no
 * sigsetjmp, no per-thread state): the copy costs what the memcpy costs.
 *
 * The handlers are installed at the first conversion; from then on
 * sigaction/signal for SIGBUS and SIGSEGV are answered from `prog_act`
 * (what the program believes is installed) so that the shim's handler stays
 * in place, and every fault that is not the shim's goes to the program's
 * action (or the default one).
 */
#if defined(__x86_64__)
/* size_t mmhint__rm_movsb(void *dst, const void *src, size_t n): returns the bytes not copied (0: all). */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl mmhint__rm_movsb\n"
        ".hidden mmhint__rm_movsb\n"
        ".type mmhint__rm_movsb, @function\n"
        "mmhint__rm_movsb:\n"
        "  movq %rdx, %rcx\n"
        ".globl mmhint__rm_movsb_insn\n"
        ".hidden mmhint__rm_movsb_insn\n"
        "mmhint__rm_movsb_insn:\n"
        "  rep movsb\n"
        ".globl mmhint__rm_movsb_resume\n"
        ".hidden mmhint__rm_movsb_resume\n"
        "mmhint__rm_movsb_resume:\n"
        "  movq %rcx, %rax\n"
        "  ret\n"
        ".size mmhint__rm_movsb, .-mmhint__rm_movsb\n");
size_t mmhint__rm_movsb(void *dst, const void *src, size_t n);
extern const char mmhint__rm_movsb_insn[], mmhint__rm_movsb_resume[];

/* Copies n bytes out of a mapping; returns 0, or nonzero when a page faulted (the caller falls back). */
static inline size_t guarded_copy(void *dst, const char *src, size_t n) { return mmhint__rm_movsb(dst, src, n); }

/* Nonzero (and the copy made to return) when a fault is the shim's copy's. */
static inline int fault_is_ours(void *ucv) {
  ucontext_t *uc = ucv;
  if (!uc || uc->uc_mcontext.gregs[REG_RIP] != (greg_t)(uintptr_t)mmhint__rm_movsb_insn) return 0;
  uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)mmhint__rm_movsb_resume;
  return 1;
}
#else
/* Elsewhere: a jump buffer per thread, armed around a memcpy. */
static __thread sigjmp_buf *guard_jb __attribute__((tls_model("initial-exec")));

static size_t guarded_copy(void *dst, const char *src, size_t n) {
  sigjmp_buf jb;
  if (sigsetjmp(jb, 0)) return n;
  __atomic_store_n(&guard_jb, &jb, __ATOMIC_RELAXED);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  memcpy(dst, src, n);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  __atomic_store_n(&guard_jb, NULL, __ATOMIC_RELAXED);
  return 0;
}

static inline int fault_is_ours(void *ucv) {
  (void)ucv;
  sigjmp_buf *jb = guard_jb;
  if (!jb) return 0;
  guard_jb = NULL;
  siglongjmp(*jb, 1);
}
#endif

/* The guarded signals: 0 SIGBUS, 1 SIGSEGV. */
static struct sigaction prog_act[2];
static int guard_installed;
static int guard_lock;

static inline int guard_slot(int sig) { return sig == SIGBUS ? 0 : sig == SIGSEGV ? 1 : -1; }

static inline long real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (MMHINT_REAL(sigaction)) return MMHINT_REAL(sigaction)(sig, act, old);
  errno = ENOSYS;
  return -1;
}

static void fault_handler(int sig, siginfo_t *si, void *uc) {
  int slot = guard_slot(sig);
  /* A fault (si_code > 0, not a kill()) on the shim's copy: the copy returns short. */
  if (si && si->si_code > 0 && fault_is_ours(uc)) return;
  if (slot < 0) return;
  /* Not the shim's fault: do what the program asked for. */
  struct sigaction p = prog_act[slot];
  if (p.sa_flags & SA_RESETHAND) prog_act[slot].sa_handler = SIG_DFL, prog_act[slot].sa_flags &= ~SA_SIGINFO;
  if ((p.sa_flags & SA_SIGINFO) && p.sa_sigaction) {
    p.sa_sigaction(sig, si, uc);
  } else if (p.sa_handler == SIG_IGN && !(si && si->si_code > 0)) {
    /* an ignored signal sent by kill(): nothing happens */
  } else if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    /* The default action (a fault cannot be ignored): restore it; a fault then recurs, a kill is re-raised. */
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    real_sigaction(sig, &d, NULL);
    if (!(si && si->si_code > 0)) raise(sig);
  } else {
    p.sa_handler(sig);
  }
}

/* Installs the guard once; returns nonzero when it is in place. */
static int guard_install(void) {
  if (__atomic_load_n(&guard_installed, __ATOMIC_ACQUIRE)) return 1;
  while (__atomic_exchange_n(&guard_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
  if (!guard_installed) {
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = fault_handler;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    sigemptyset(&ours.sa_mask);
    struct sigaction old_segv;
    if (real_sigaction(SIGBUS, &ours, &prog_act[0]) == 0) {
      if (real_sigaction(SIGSEGV, &ours, &old_segv) == 0) {
        prog_act[1] = old_segv;
        __atomic_store_n(&guard_installed, 1, __ATOMIC_RELEASE);
      } else {
        real_sigaction(SIGBUS, &prog_act[0], NULL);
      }
    }
  }
  __atomic_store_n(&guard_lock, 0, __ATOMIC_RELEASE);
  return guard_installed;
}

/* sigaction for a guarded signal once the guard is installed: the program's action is kept aside. */
static int guarded_action(int slot, const struct sigaction *act, struct sigaction *old) {
  while (__atomic_exchange_n(&guard_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
  if (old) *old = prog_act[slot];
  if (act) prog_act[slot] = *act;
  __atomic_store_n(&guard_lock, 0, __ATOMIC_RELEASE);
  return 0;
}

static inline int guarded(int sig) { return guard_slot(sig) >= 0 && __atomic_load_n(&guard_installed, __ATOMIC_ACQUIRE); }

MMHINT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (guarded(sig)) return guarded_action(guard_slot(sig), act, old);
  return MMHINT_CALL_REAL_ALONE(sigaction, (int)mmhint__enosys(), sig, act, old);
}

MMHINT_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (guarded(sig)) return guarded_action(guard_slot(sig), act, old);
  return MMHINT_CALL_REAL_ALONE(__sigaction, (int)mmhint__enosys(), sig, act, old);
}

/* signal() and its aliases: BSD semantics (SA_RESTART) or System V (SA_RESETHAND|SA_NODEFER). */
static sighandler_t guarded_signal(int sig, sighandler_t h, int flags) {
  struct sigaction a, old;
  memset(&a, 0, sizeof a);
  a.sa_handler = h;
  a.sa_flags = flags;
  sigemptyset(&a.sa_mask);
  if (!(flags & SA_NODEFER)) sigaddset(&a.sa_mask, sig);
  guarded_action(guard_slot(sig), &a, &old);
  return old.sa_handler;
}

#define MMHINT_SIGNAL_WRAPPER(name, flags)                                                  \
  MMHINT_EXPORT sighandler_t name(int sig, sighandler_t h) {                               \
    if (guarded(sig)) return guarded_signal(sig, h, flags);                                \
    return MMHINT_CALL_REAL_ALONE(name, (errno = ENOSYS, SIG_ERR), sig, h);                \
  }
MMHINT_SIGNAL_WRAPPER(signal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(bsd_signal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(ssignal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(sysv_signal, SA_RESETHAND | SA_NODEFER)
MMHINT_SIGNAL_WRAPPER(__sysv_signal, SA_RESETHAND | SA_NODEFER)

/* ---- read->mmap: state at open -------------------------------------------------------- */

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
  if (reason < 0 && !guard_install()) reason = MMHINT_FB_map_failed;
  static int cap_set;
  if (!__atomic_load_n(&cap_set, __ATOMIC_ACQUIRE) && mmhint__cfg.values.num[MMHINT_OPT_read_mmap_max_mapped] >= 0) {
    mmhint_rm_set_cap(mmhint__cfg.values.num[MMHINT_OPT_read_mmap_max_mapped]);
    __atomic_store_n(&cap_set, 1, __ATOMIC_RELEASE);
  }
  mmhint_rm_t *rm = mmhint_rm_new(&p, &facts, reason);
  if (rm && rm->active) o->pos = 0; /* just opened, not O_APPEND: the offset is 0 */
  o->rm = rm;
}

/* ---- read->mmap: keeping the kernel offset in step ------------------------------------ */

static inline void rm_lock(mmhint_rm_t *rm) {
  while (__atomic_exchange_n(&rm->lock, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(&rm->lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static inline void rm_unlock(mmhint_rm_t *rm) { __atomic_store_n(&rm->lock, 0, __ATOMIC_RELEASE); }

/* Puts the kernel offset of fd's description at the shadow offset; the caller holds rm's lock. */
static inline void rm_sync_locked(int fd, mmhint_ofd_t *o) {
  mmhint_os_lseek(fd, o->pos, SEEK_SET);
  mmhint_count(&o->file->c[MMHINT_FC_offset_syncs], 1);
}

void mmhint__rm_stop(int fd, mmhint_ofd_t *o, int reason) {
  mmhint_rm_t *rm = o ? o->rm : NULL;
  if (!rm || !__atomic_load_n(&rm->active, __ATOMIC_ACQUIRE)) return;
  int saved_errno = errno;
  rm_lock(rm);
  if (rm->active) {
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, reason);
  }
  rm_unlock(rm);
  errno = saved_errno;
}

static void sync_one(int fd, mmhint_ofd_t *o, void *ctx) {
  int how = *(int *)ctx;
  mmhint_rm_t *rm = o->rm;
  if (!rm || !__atomic_load_n(&rm->active, __ATOMIC_ACQUIRE) || !o->file) return;
  rm_lock(rm);
  if (rm->active) {
    int stop = how == MMHINT_RM_SYNC_STOP ||
               (how == MMHINT_RM_SYNC_STOP_INHERITED && !(syscall(SYS_fcntl, fd, F_GETFD) & FD_CLOEXEC));
    rm_sync_locked(fd, o);
    if (stop) mmhint_rm_stop(rm, MMHINT_FB_shared);
  }
  rm_unlock(rm);
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

/* ---- read->mmap: writes on read-write descriptions ------------------------------------ */

ssize_t mmhint__rm_write(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf) {
  mmhint_rm_t *rm = o->rm;
  const int mt = !__libc_single_threaded;
  mmhint__busy = 1;
  if (mt) rm_lock(rm);
  if (!rm->active) {
    if (mt) rm_unlock(rm);
    mmhint__busy = 0;
    return MMHINT_RM_PLAIN_WRITE;
  }
  if (rwf) {
    /* Flags (RWF_APPEND moves the offset to the end): hand the offset back, let the kernel do it all. */
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_flags);
    if (mt) rm_unlock(rm);
    mmhint__busy = 0;
    return MMHINT_RM_PLAIN_WRITE;
  }
  /* The kernel's offset lags: write where the program believes it is, exactly as write(2) would there. */
  int64_t pos = o->pos;
  ssize_t r;
  if (cnt == 1) r = pwrite64(fd, iov[0].iov_base, iov[0].iov_len, pos); /* libc's: not wrapped */
  else r = pwritev64(fd, iov, cnt, pos);
  int saved_errno = errno;
  if (r > 0) {
    o->pos = pos + r;
    if (o->pos > rm->size) rm->size = o->pos; /* the file grew by this write */
    if (rm->strict) rm_sync_locked(fd, o);
  }
  if (mt) rm_unlock(rm);
  mmhint__busy = 0;
  errno = saved_errno;
  return r;
}

/* ---- read->mmap: serving a read --------------------------------------------------------- */

/* The real positional read, used whenever an active description cannot be served from the mapping. */
static ssize_t real_preadv(int fd, const struct iovec *iov, int cnt, int64_t pos, int rwf) {
  if (cnt == 1 && !rwf) {
    if (MMHINT_REAL(pread64)) return MMHINT_REAL(pread64)(fd, iov[0].iov_base, iov[0].iov_len, pos);
    return syscall(SYS_pread64, fd, iov[0].iov_base, iov[0].iov_len, pos);
  }
  if (MMHINT_REAL(preadv64v2)) return MMHINT_REAL(preadv64v2)(fd, iov, cnt, pos, rwf);
  return syscall(SYS_preadv2, fd, iov, cnt, (long)pos, (long)((uint64_t)pos >> 32), rwf);
}

static ssize_t rm_nested_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int rwf) {
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
      if (MMHINT_UNLIKELY(guarded_copy(dst, src, k) != 0)) return MMHINT_FB_fault;
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
 * fault, see the guard).  So a copy that ends in a zero byte may have read
 * past the end: the size is checked (one fstat) and, when the file is now
 * shorter than the read, the read is done again by the kernel.  Returns
 * nonzero when the copy stands.  A description whose reads keep ending in
 * zeros (a sparse or zero-filled file) pays that check too often and stops
 * converting (MMHINT_FB_zero_tail): no slower than plain reads.
 */
static int rm_tail_ok(int fd, mmhint_ofd_t *o, int64_t end, int64_t new_pos) {
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
  } else if (rm->zero_tails >= MMHINT_RM_ZERO_TAIL_MIN && rm->zero_tails * 4 > rm->reads) {
    /* The copy stands; the offset goes back to the kernel where this read leaves it. */
    o->pos = new_pos;
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_zero_tail);
  }
  return ok;
}

#define MMHINT_ONE_IOV(buf, n) (&(struct iovec){(void *)(buf), (n)})

/* The last time stamp this thread took for a converted read (see rm_times). */
static __thread uint64_t rm_clock_last __attribute__((tls_model("initial-exec")));

/*
 * The times of a converted read that will be recorded: timed (t0 taken
 * before the copy) once in MMHINT_RM_TIME_EVERY, standing for the untimed
 * reads since; the others carry this thread's last time stamp, and a file's
 * first access always gets a true one.
 */
static inline void rm_times(mmhint_rm_t *rm, mmhint_file_t *f, int timed, uint64_t *t0, uint64_t *t1, uint64_t *dur) {
  if (timed) {
    *t1 = mmhint_ticks();
    *dur = (*t1 - *t0) * (rm->untimed + 1);
    rm_clock_last = *t1;
  } else {
    *t0 = *t1 = rm_clock_last;
    *dur = 0;
  }
  rm->untimed = rm->untimed + 1 >= MMHINT_RM_TIME_EVERY ? 0 : rm->untimed + 1;
  if (MMHINT_UNLIKELY(!*t0 || !__atomic_load_n(&f->c[MMHINT_FC_first_access_ns], __ATOMIC_RELAXED)))
    *t0 = *t1 = rm_clock_last = mmhint_ticks();
}

/* Records a converted read of r bytes at pos: the converted counters, then what every read records. */
static inline void rm_record_converted(mmhint_ofd_t *o, int fd, ssize_t r, int64_t pos, uint64_t dur, uint64_t t0,
                                       uint64_t t1, int op) {
  mmhint_count(&o->file->c[MMHINT_FC_converted_reads], 1);
  mmhint_count(&o->file->c[MMHINT_FC_converted_bytes], (uint64_t)r);
  mmhint__record_read_dur(o, fd, r, pos, dur, t0, t1, op);
}

#define RM_PLAIN (-2) /* rm_read's answer: not active, take the ordinary path */

/*
 * Serves one read-family call on an active description: at `at` (>= 0), or
 * at the shadow offset, which it then moves (at == -1).  rwf: preadv2 flags.
 * Returns the call's result with errno set as the real call would, or
 * RM_PLAIN when the description is (now) not converting.
 *
 * Reading the clock next to a copy out of a mapping costs as much as the copy
 * itself on this kind of machine (~140 ns per rdtsc beside a 4 KiB copy: the
 * time stamp waits for the copy's memory loads, so consecutive copies no
 * longer overlap; docs/READMAP.md), so a converted read is timed only once in
 * MMHINT_RM_TIME_EVERY, and that time stands for the untimed ones since the
 * previous timed read.  Calls that go to the kernel are all timed.  With
 * statistics off and no hint on the description nothing is recorded.
 */
static ssize_t rm_read(mmhint_ofd_t *o, int fd, const struct iovec *iov, int cnt, int64_t at, int rwf, int op) {
  mmhint_rm_t *rm = o->rm;
  mmhint_file_t *f = o->file;
  const int mt = !__libc_single_threaded;
  const int rec = mmhint__stats_on || o->hints.active;
  mmhint__busy = 1;
  if (mt) rm_lock(rm);
  if (MMHINT_UNLIKELY(!rm->active)) {
    if (mt) rm_unlock(rm);
    mmhint__busy = 0;
    return RM_PLAIN;
  }
  int64_t pos = at >= 0 ? at : o->pos;
  size_t n = 0;
  int ok_args = at >= -1 && cnt >= 0 && cnt <= IOV_MAX;
  for (int i = 0; ok_args && i < cnt; i++)
    if (__builtin_add_overflow(n, iov[i].iov_len, &n) || n > (size_t)SSIZE_MAX) ok_args = 0;
  int reason = -1;
  ssize_t r;
  if (!ok_args) {
    /* Let the real call give its error (EINVAL) on the kernel offset, which it does not move. */
    if (mt) rm_unlock(rm);
    mmhint__busy = 0;
    return RM_PLAIN;
  } else if (rwf) {
    reason = MMHINT_FB_flags;
  } else if (rm->mode == MMHINT_RM_AUTO && (int64_t)n > rm->max_read) {
    /* The program reads in large pieces: read() is as fast; hand the offset back for good. */
    rm_sync_locked(fd, o);
    mmhint_rm_stop(rm, MMHINT_FB_large_read);
    if (mt) rm_unlock(rm);
    mmhint__busy = 0;
    return RM_PLAIN;
  }
  int saved_errno = errno;
  if (reason == -1 && n > 0) {
    if (MMHINT_UNLIKELY(rm->epoch != __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE) ||
                        pos + (int64_t)n > rm->size)) {
      if (rm_refresh(fd, rm) != 0) reason = MMHINT_FB_changed;
    }
  }
  uint64_t t0 = 0, t1 = 0, dur = 0;
  if (reason == -1) {
    size_t m = 0;
    if (pos < rm->size) m = (int64_t)n < rm->size - pos ? n : (size_t)(rm->size - pos);
    int timed = rec && rm->untimed == 0;
    if (timed) t0 = mmhint_ticks();
    if (m > 0) {
      const char *last = NULL;
      if (mt) mmhint_rm_reader_enter(rm);
      reason = rm_copy(rm, fd, iov, cnt, pos, m, &last);
      if (mt) mmhint_rm_reader_leave(rm);
      if (reason == MMHINT_FB_fault) rm_refresh(fd, rm);
      rm->reads++;
      if (reason < 0 && MMHINT_UNLIKELY(*last == 0) &&
          !rm_tail_ok(fd, o, pos + (int64_t)m, at < 0 ? pos + (int64_t)m : o->pos)) {
        reason = MMHINT_RM_REDO;
      }
    }
    if (reason < 0) {
      r = (ssize_t)m;
      if (at < 0) o->pos = pos + r;
      if (rm->strict && at < 0) rm_sync_locked(fd, o);
      mmhint_rm_advise(rm, pos, pos + r);
      mmhint_rm_prefetch(rm, pos + r, m);
      if (rec) rm_times(rm, f, timed, &t0, &t1, &dur);
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
  if (mt) rm_unlock(rm);
  mmhint__busy = 0;
  if (reason < 0 && rec) rm_record_converted(o, fd, r, pos, dur, t0, t1, op);
  else if (reason >= 0) mmhint__record_read_dur(o, fd, r, pos, dur, t0, t1, op);
  errno = saved_errno;
  return r;
}

/*
 * After the fast paths' copy of n bytes at pos into buf, which left `left`
 * bytes uncopied: returns nonzero when the copy stands (no fault, and a zero
 * last byte proved harmless), having moved the offset (at == -1), fed the
 * advice and prefetched ahead; zero sends the read to rm_read.
 */
static inline int rm_copied(mmhint_ofd_t *o, int fd, const void *buf, size_t n, int64_t pos, int64_t at, size_t left) {
  mmhint_rm_t *rm = o->rm;
  int64_t end = pos + (int64_t)n;
  rm->reads++;
  if (MMHINT_UNLIKELY(left != 0)) return 0;
  if (MMHINT_UNLIKELY(((const char *)buf)[n - 1] == 0) && !rm_tail_ok(fd, o, end, at < 0 ? end : o->pos)) return 0;
  if (at < 0) o->pos = end;
  mmhint_rm_advise(rm, pos, end);
  mmhint_rm_prefetch(rm, end, n);
  return 1;
}

/*
 * The common case of read()/pread() on a converting description, kept to a
 * few compares around the copy: one thread, not strict, the whole read
 * inside the cached window and below the known size.  Anything else, and a
 * copy that faulted, goes to rm_read.
 */
static ssize_t rm_read1_mt(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op);

static inline ssize_t rm_read1(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op) {
  mmhint_rm_t *rm = o->rm;
  if (MMHINT_UNLIKELY(!__libc_single_threaded)) return rm_read1_mt(o, fd, buf, n, at, op);
  int64_t pos = at >= 0 ? at : o->pos;
  if (MMHINT_LIKELY(at >= -1 && !rm->strict && n - 1 < (size_t)rm->fast_max &&
                    (int64_t)n <= rm->size - pos && rm->epoch == __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE)) &&
      (MMHINT_LIKELY(pos >= rm->win_lo && (int64_t)n <= rm->win_hi - pos &&
                     rm->win_gen == __atomic_load_n(rm->gen, __ATOMIC_ACQUIRE)) ||
       mmhint_rm_recache(rm, pos, pos + (int64_t)n))) {
    const int rec = mmhint__stats_on || o->hints.active;
    const int timed = rec && rm->untimed == 0;
    uint64_t t0 = timed ? mmhint_ticks() : 0, t1 = 0, dur = 0;
    mmhint__busy = 1;
    size_t left = guarded_copy(buf, rm->win_base + (pos - rm->win_lo), n);
    mmhint__busy = 0;
    if (MMHINT_LIKELY(rm_copied(o, fd, buf, n, pos, at, left))) {
      if (rec) {
        rm_times(rm, o->file, timed, &t0, &t1, &dur);
        rm_record_converted(o, fd, (ssize_t)n, pos, dur, t0, t1, op);
      }
      return (ssize_t)n;
    }
  }
  return rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
}

/*
 * rm_read1 when the process has several threads: the same, under the
 * description's lock (concurrent read()s on one description get distinct
 * ranges) and announced in the file's `readers` (the window cannot go away
 * during the copy, see policy/readmap.c).  A window miss goes to rm_read,
 * which maps under the global lock.
 */
static ssize_t rm_read1_mt(mmhint_ofd_t *o, int fd, void *buf, size_t n, int64_t at, int op) {
  mmhint_rm_t *rm = o->rm;
  if (at < -1 || rm->strict || n - 1 >= (size_t)rm->fast_max) return rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
  mmhint__busy = 1;
  rm_lock(rm);
  int64_t pos = at >= 0 ? at : o->pos;
  if (rm->active && (int64_t)n <= rm->size - pos && rm->epoch == __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE) &&
      pos >= rm->win_lo && (int64_t)n <= rm->win_hi - pos) {
    mmhint_rm_reader_enter(rm);
    if (rm->win_gen == __atomic_load_n(rm->gen, __ATOMIC_SEQ_CST)) {
      const int rec = mmhint__stats_on || o->hints.active;
      const int timed = rec && rm->untimed == 0;
      uint64_t t0 = timed ? mmhint_ticks() : 0, t1 = 0, dur = 0;
      size_t left = guarded_copy(buf, rm->win_base + (pos - rm->win_lo), n);
      mmhint_rm_reader_leave(rm);
      if (MMHINT_LIKELY(rm_copied(o, fd, buf, n, pos, at, left))) {
        if (rec) rm_times(rm, o->file, timed, &t0, &t1, &dur);
        rm_unlock(rm);
        mmhint__busy = 0;
        if (rec) rm_record_converted(o, fd, (ssize_t)n, pos, dur, t0, t1, op);
        return (ssize_t)n;
      }
    } else {
      mmhint_rm_reader_leave(rm);
    }
  }
  rm_unlock(rm);
  mmhint__busy = 0;
  return rm_read(o, fd, MMHINT_ONE_IOV(buf, n), 1, at, 0, op);
}

/* Counts a read on a description that does not convert, when read->mmap is asked for. */
static inline void rm_count_plain(mmhint_ofd_t *o) {
  mmhint_rm_t *rm = o->rm;
  if (rm) {
    if (rm->reason != MMHINT_RM_NO_REASON) mmhint_count(&o->file->fallbacks[rm->reason], 1);
  } else if (mmhint__cfg.values.num[MMHINT_OPT_read_mmap] != MMHINT_RM_OFF && !(o->flags & MMHINT_OFD_OPENED)) {
    mmhint_count(&o->file->fallbacks[o->file->mode == S_IFREG ? MMHINT_FB_inherited : MMHINT_FB_not_regular], 1);
  }
}

/*
 * The common body of every read-family wrapper: `call` is the real call as an
 * expression, `offset` the explicit offset (or -1 for the current position);
 * iov/cnt/rwf describe it for read->mmap.
 */
#define MMHINT_READ_BODY(fd, offset, op, iov, cnt, rwf, call)             \
  MMHINT_READ_BODY_AS(fd, offset, op, rm_read(o_, fd, iov, cnt, offset, rwf, op), call)

/* The same for a single buffer (read, pread and their siblings): the fast path first. */
#define MMHINT_READ1_BODY(fd, offset, op, buf, n, call) \
  MMHINT_READ_BODY_AS(fd, offset, op, rm_read1(o_, fd, buf, n, offset, op), call)

#define MMHINT_READ_BODY_AS(fd, offset, op, convert, call)                \
  do {                                                                    \
    mmhint_ofd_t *o_ = mmhint__track(fd);                                 \
    if (!o_) return call;                                                 \
    if (o_->rm) {                                                         \
      if (__atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE)) {           \
        ssize_t c_ = convert;                                             \
        if (MMHINT_LIKELY(c_ != RM_PLAIN)) return c_;                     \
      }                                                                   \
    }                                                                     \
    rm_count_plain(o_);                                                   \
    /* Nothing to record and no hint to feed: no clock, no counting. */   \
    if (!mmhint__stats_on && !o_->hints.active) return call;              \
    uint64_t t0_ = mmhint_ticks();                                        \
    ssize_t r_ = call;                                                    \
    uint64_t t1_ = mmhint_ticks();                                        \
    mmhint__record_read(o_, fd, r_, offset, t0_, t1_, op);                \
    return r_;                                                            \
  } while (0)

/* The guard of the calls that read at the current position: nested calls on a converting description go to the shadow. */
#define MMHINT_READ_GUARD(fd, iov, cnt, rwf, passthrough)                       \
  if (!mmhint__enter()) {                                                        \
    mmhint_ofd_t *n_ = mmhint__rm_nested(fd);                                            \
    if (MMHINT_UNLIKELY(n_ != NULL)) return rm_nested_read(n_, fd, iov, cnt, rwf); \
    return passthrough;                                                          \
  }

MMHINT_EXPORT ssize_t read(int fd, void *buf, size_t n) {
  MMHINT_READ_GUARD(fd, MMHINT_ONE_IOV(buf, n), 1, 0, MMHINT_CALL_REAL(read, syscall(SYS_read, fd, buf, n), fd, buf, n));
  MMHINT_READ1_BODY(fd, -1, MMHINT_OP_READ, buf, n, MMHINT_REAL(read)(fd, buf, n));
}

MMHINT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
  if (n > buflen) /* the real one reports the overflow */
    return MMHINT_CALL_REAL(__read_chk, syscall(SYS_read, fd, buf, n), fd, buf, n, buflen);
  MMHINT_READ_GUARD(fd, MMHINT_ONE_IOV(buf, n), 1, 0,
                    MMHINT_CALL_REAL(__read_chk, syscall(SYS_read, fd, buf, n), fd, buf, n, buflen));
  MMHINT_READ1_BODY(fd, -1, MMHINT_OP_READ, buf, n, MMHINT_REAL(__read_chk)(fd, buf, n, buflen));
}

/* pread with a negative offset fails with EINVAL in the kernel: never converted. */
#define MMHINT_AT(off) ((off) >= 0 ? (int64_t)(off) : (int64_t)-3)

MMHINT_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n, MMHINT_REAL(pread)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread64, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(pread64)(fd, buf, n, off));
}

MMHINT_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen) {
  if (!mmhint__enter() || n > buflen)
    return MMHINT_CALL_REAL(__pread_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(__pread_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen) {
  if (!mmhint__enter() || n > buflen)
    return MMHINT_CALL_REAL(__pread64_chk, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off, buflen);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n,
                   MMHINT_REAL(__pread64_chk)(fd, buf, n, off, buflen));
}

MMHINT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n) {
  MMHINT_READ_GUARD(fd, iov, n, 0, MMHINT_CALL_REAL(readv, syscall(SYS_readv, fd, iov, n), fd, iov, n));
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
  if (off != -1 && !mmhint__enter())
    return MMHINT_CALL_REAL(preadv2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  if (off == -1)
    MMHINT_READ_GUARD(fd, iov, n, flags,
                      MMHINT_CALL_REAL(preadv2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_READ_BODY(fd, MMHINT_AT2(off), off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD, iov, n, flags,
                   MMHINT_REAL(preadv2)(fd, iov, n, off, flags));
}

MMHINT_EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int n, off64_t off, int flags) {
  if (off != -1 && !mmhint__enter())
    return MMHINT_CALL_REAL(preadv64v2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags);
  if (off == -1)
    MMHINT_READ_GUARD(fd, iov, n, flags,
                      MMHINT_CALL_REAL(preadv64v2, MMHINT_SYS_PREADV2(fd, iov, n, off, flags), fd, iov, n, off, flags));
  MMHINT_READ_BODY(fd, MMHINT_AT2(off), off == -1 ? MMHINT_OP_READ : MMHINT_OP_PREAD, iov, n, flags,
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

/*
 * lseek on an active description, answered from the shadow offset:
 * SEEK_SET/CUR/END computed exactly (END from a fresh fstat); SEEK_DATA,
 * SEEK_HOLE, results too large to judge here and unknown whence values go to
 * the kernel with an absolute offset where one is known.  Sets *done.
 */
static off64_t rm_lseek(int fd, mmhint_ofd_t *o, off64_t off, int whence, int *done) {
  mmhint_rm_t *rm = o->rm;
  const int mt = !__libc_single_threaded;
  int saved_errno = errno;
  mmhint__busy = 1;
  if (mt) rm_lock(rm);
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
  if (mt) rm_unlock(rm);
  mmhint__busy = 0;
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

/* lseek nested in a signal handler (see rm_nested): moved in the kernel, and the shadow follows. */
static off64_t rm_nested_lseek(mmhint_ofd_t *o, int fd, off64_t off, int whence) {
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

#define MMHINT_LSEEK_BODY(name, fd, off, whence)                                  \
  do {                                                                            \
    if (mmhint__enter()) {                                                        \
      mmhint_ofd_t *o_ = mmhint_ofd_get(fd);                                      \
      if (o_ && o_->rm && __atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE)) {   \
        int done_;                                                                \
        off64_t r_ = rm_lseek(fd, o_, off, whence, &done_);                       \
        if (done_) return r_;                                                     \
      }                                                                           \
    } else {                                                                      \
      mmhint_ofd_t *n_ = mmhint__rm_nested(fd);                                           \
      if (MMHINT_UNLIKELY(n_ != NULL)) return rm_nested_lseek(n_, fd, off, whence); \
    }                                                                             \
    return sought(fd, MMHINT_CALL_REAL(name, syscall(SYS_lseek, fd, off, whence), fd, off, whence)); \
  } while (0)

MMHINT_EXPORT off_t lseek(int fd, off_t off, int whence) { MMHINT_LSEEK_BODY(lseek, fd, off, whence); }

MMHINT_EXPORT off64_t lseek64(int fd, off64_t off, int whence) { MMHINT_LSEEK_BODY(lseek64, fd, off, whence); }

/* ---- Data moved inside the kernel ---------------------------------------- */

/*
 * Before a call that moves fd's offset in the kernel (a NULL offset pointer,
 * on the input side, or on the output side of a read-write description that
 * converts), an active description hands its offset back to the kernel and
 * stops converting.
 */
static inline void moving(int fd, const void *offp) {
  if (!offp && mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o && o->rm) mmhint__rm_stop(fd, o, MMHINT_FB_shared);
  }
}

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
  moving(in_fd, off);
  moving(out_fd, NULL);
  return moved(in_fd, off,
               MMHINT_CALL_REAL(sendfile, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off, n),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *off, size_t n) {
  moving(in_fd, off);
  moving(out_fd, NULL);
  return moved(in_fd, off,
               MMHINT_CALL_REAL(sendfile64, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off, n),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t copy_file_range(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n,
                                      unsigned int flags) {
  moving(in_fd, in_off);
  moving(out_fd, out_off);
  return moved(in_fd, in_off,
               MMHINT_CALL_REAL(copy_file_range, syscall(SYS_copy_file_range, in_fd, in_off, out_fd, out_off, n, flags),
                                in_fd, in_off, out_fd, out_off, n, flags),
               MMHINT_FC_copy_range_bytes);
}

MMHINT_EXPORT ssize_t splice(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n, unsigned int flags) {
  moving(in_fd, in_off);
  moving(out_fd, out_off);
  return moved(in_fd, in_off,
               MMHINT_CALL_REAL(splice, syscall(SYS_splice, in_fd, in_off, out_fd, out_off, n, flags), in_fd, in_off,
                                out_fd, out_off, n, flags),
               MMHINT_FC_splice_bytes);
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
