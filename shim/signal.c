/*
 * shim/signal.c: sigaction, signal and their aliases, and the signals the
 * shim keeps a handler on (shim/signal.h): the fault guard's, and the end of
 * life's, which lets a service stopped by SIGTERM (or killed by SIGINT,
 * SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM left at their default action) write
 * its statistics before it dies by that same signal.
 *
 * The end signals are taken at start-up (this file's constructor) only where
 * the action is the default one and statistics are on.  The program sees
 * nothing of it: sigaction reports SIG_DFL; a handler or SIG_IGN it installs
 * replaces the shim's for real (the shim lets go); setting SIG_DFL again
 * gives the signal back to the shim.  The handler writes with the writer the
 * exit path uses (no malloc, no stdio, no lock the program's threads may
 * hold while this thread is interrupted), restores the default action,
 * unblocks the signal and sends it to its own thread: the process ends with
 * the wait status (and core dump) the default action gives.
 */
#include <string.h>

#include "policy/spin.h"
#include "shim/shim.h"
#include "shim/signal.h"

#define MMHINT_NSIG 65 /* signals 1..64 */

static struct sigaction view[MMHINT_NSIG]; /* what the program believes is installed */
static unsigned char kept[MMHINT_NSIG];    /* MMHINT_SIG_* */
static int sig_lock;

static inline int in_range(int sig) { return sig > 0 && sig < MMHINT_NSIG; }

static inline int real_sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (MMHINT_REAL(sigaction)) return MMHINT_REAL(sigaction)(sig, act, old);
  errno = ENOSYS;
  return -1;
}

/* ---- Keeping a signal ------------------------------------------------------------------ */

int mmhint__signal_keep(int sig, int how, void (*handler)(int, siginfo_t *, void *), int flags, const sigset_t *mask) {
  if (!in_range(sig)) return -1;
  struct sigaction ours, old;
  memset(&ours, 0, sizeof ours);
  ours.sa_sigaction = handler;
  ours.sa_flags = flags | SA_SIGINFO;
  if (mask) ours.sa_mask = *mask;
  else sigemptyset(&ours.sa_mask);
  mmhint_spin_lock(&sig_lock);
  int r = real_sigaction(sig, &ours, &old);
  if (r == 0) {
    view[sig] = old;
    __atomic_store_n(&kept[sig], (unsigned char)how, __ATOMIC_RELEASE);
  }
  mmhint_spin_unlock(&sig_lock);
  return r;
}

void mmhint__signal_release(int sig) {
  if (!in_range(sig)) return;
  mmhint_spin_lock(&sig_lock);
  if (kept[sig]) real_sigaction(sig, &view[sig], NULL);
  __atomic_store_n(&kept[sig], MMHINT_SIG_NONE, __ATOMIC_RELEASE);
  mmhint_spin_unlock(&sig_lock);
}

void mmhint__signal_program_action(int sig, struct sigaction *out) {
  if (in_range(sig)) *out = view[sig];
  else memset(out, 0, sizeof *out);
}

void mmhint__signal_reset_program_action(int sig) {
  if (!in_range(sig)) return;
  view[sig].sa_handler = SIG_DFL;
  view[sig].sa_flags &= ~SA_SIGINFO;
}

void mmhint__signal_default(int sig) {
  struct sigaction d;
  memset(&d, 0, sizeof d);
  d.sa_handler = SIG_DFL;
  real_sigaction(sig, &d, NULL);
}

/* ---- The end of life ------------------------------------------------------------------- */

static const int end_signals[] = {MMHINT_END_SIGNALS};

static inline int is_end_signal(int sig) {
  for (size_t i = 0; i < sizeof end_signals / sizeof end_signals[0]; i++)
    if (end_signals[i] == sig) return 1;
  return 0;
}

/* Nonzero once start-up chose to keep the end signals (statistics on). */
static int end_wanted;

static void end_handler(int sig, siginfo_t *si, void *uc) {
  (void)si;
  (void)uc;
  int saved_errno = errno;
  mmhint__finish_signal(sig);
  /* Die as the default action would: the same wait status, a core dump where it makes one. */
  mmhint__signal_default(sig);
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, sig);
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, NULL, sizeof(uint64_t));
  syscall(SYS_tgkill, mmhint_os_getpid(), syscall(SYS_gettid), sig);
  errno = saved_errno; /* reached only when another thread installed an action meanwhile */
}

/* Keeps one end signal with the shim's handler; every end signal is blocked while it writes. */
static int keep_end(int sig) {
  sigset_t all;
  mmhint__end_signal_set(&all);
  return mmhint__signal_keep(sig, MMHINT_SIG_END, end_handler, SA_RESTART, &all);
}

/*
 * At start-up (after the real symbols are known): takes the end signals that
 * are at their default action.  One ignored at start (nohup, a background
 * job) or handled by a library initialised before us stays as it is.
 */
__attribute__((constructor)) static void take_end_signals(void) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) == MMHINT_STATE_NONE) mmhint__bootstrap();
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY || !mmhint__stats_on) return;
  if (!mmhint__cfg.values.num[MMHINT_OPT_stats_on_signal]) return;
  __atomic_store_n(&end_wanted, 1, __ATOMIC_RELEASE);
  for (size_t i = 0; i < sizeof end_signals / sizeof end_signals[0]; i++) {
    struct sigaction now;
    int sig = end_signals[i];
    if (real_sigaction(sig, NULL, &now) == 0 && now.sa_handler == SIG_DFL && !kept[sig]) keep_end(sig);
  }
}

/* ---- sigaction and signal ------------------------------------------------------------------ */

/* Nonzero when sigaction for sig must go through the kept table. */
static inline int managed(int sig) {
  return in_range(sig) && (__atomic_load_n(&kept[sig], __ATOMIC_ACQUIRE) ||
                           (is_end_signal(sig) && __atomic_load_n(&end_wanted, __ATOMIC_ACQUIRE)));
}

/*
 * sigaction for a managed signal.  A fault signal's action is only kept
 * aside.  An end signal set to the default is (re)taken by the shim; set to
 * anything else, the program's action is installed for real and the shim
 * lets go.  `old` always gets what the program would see without the shim.
 */
static int managed_action(int sig, const struct sigaction *act, struct sigaction *old) {
  struct sigaction was;
  int r = 0;
  mmhint_spin_lock(&sig_lock);
  int how = kept[sig];
  if (how == MMHINT_SIG_FAULT) {
    was = view[sig];
    if (act) view[sig] = *act;
  } else if (act && act->sa_handler == SIG_DFL) {
    if (how == MMHINT_SIG_END) {
      was = view[sig];
      view[sig] = *act;
    } else {
      mmhint_spin_unlock(&sig_lock);
      if (real_sigaction(sig, NULL, &was) != 0) return -1;
      if (keep_end(sig) != 0) {
        r = real_sigaction(sig, act, NULL);
        if (r == 0 && old) *old = was;
        return r;
      }
      mmhint_spin_lock(&sig_lock);
      view[sig] = *act;
    }
  } else if (how == MMHINT_SIG_END) {
    was = view[sig];
    if (act) {
      r = real_sigaction(sig, act, NULL);
      if (r == 0) __atomic_store_n(&kept[sig], MMHINT_SIG_NONE, __ATOMIC_RELEASE);
    }
  } else {
    mmhint_spin_unlock(&sig_lock);
    return real_sigaction(sig, act, old);
  }
  mmhint_spin_unlock(&sig_lock);
  if (r == 0 && old) *old = was;
  return r;
}

MMHINT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (managed(sig)) return managed_action(sig, act, old);
  return MMHINT_CALL_REAL_ALONE(sigaction, (int)mmhint__enosys(), sig, act, old);
}

MMHINT_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (managed(sig)) return managed_action(sig, act, old);
  return MMHINT_CALL_REAL_ALONE(__sigaction, (int)mmhint__enosys(), sig, act, old);
}

/* signal() and its aliases: BSD semantics (SA_RESTART) or System V (SA_RESETHAND|SA_NODEFER). */
static sighandler_t managed_signal(int sig, sighandler_t h, int flags) {
  struct sigaction a, old;
  memset(&a, 0, sizeof a);
  a.sa_handler = h;
  a.sa_flags = flags;
  sigemptyset(&a.sa_mask);
  if (!(flags & SA_NODEFER)) sigaddset(&a.sa_mask, sig);
  if (managed_action(sig, &a, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

#define MMHINT_SIGNAL_WRAPPER(name, flags)                                                  \
  MMHINT_EXPORT sighandler_t name(int sig, sighandler_t h) {                               \
    if (managed(sig)) return managed_signal(sig, h, flags);                                \
    return MMHINT_CALL_REAL_ALONE(name, (errno = ENOSYS, SIG_ERR), sig, h);                \
  }
MMHINT_SIGNAL_WRAPPER(signal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(bsd_signal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(ssignal, SA_RESTART)
MMHINT_SIGNAL_WRAPPER(sysv_signal, SA_RESETHAND | SA_NODEFER)
MMHINT_SIGNAL_WRAPPER(__sysv_signal, SA_RESETHAND | SA_NODEFER)
