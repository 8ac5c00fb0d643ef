/*
 * shim/guard.c: the fault guard of read->mmap's copies, and the sigaction and
 * signal wrappers that keep it in place (shim/guard.h says how it works).
 *
 * The handlers are installed at the first conversion; from then on
 * sigaction/signal for SIGBUS and SIGSEGV are answered from `prog_act`
 * (what the program believes is installed) so that the shim's handler stays
 * in place, and every fault that is not the shim's goes to the program's
 * action (or the default one).
 */
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "policy/spin.h"
#include "shim/guard.h"
#include "shim/shim.h"

/* ---- The copy ----------------------------------------------------------------------- */

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
extern const char mmhint__rm_movsb_insn[], mmhint__rm_movsb_resume[];

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

size_t mmhint__guarded_copy(void *dst, const char *src, size_t n) {
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


/* ---- The handlers ------------------------------------------------------------------- */

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

int mmhint__guard_install(void) {
  if (__atomic_load_n(&guard_installed, __ATOMIC_ACQUIRE)) return 1;
  mmhint_spin_lock(&guard_lock);
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
  mmhint_spin_unlock(&guard_lock);
  return guard_installed;
}

/* sigaction for a guarded signal once the guard is installed: the program's action is kept aside. */
static int guarded_action(int slot, const struct sigaction *act, struct sigaction *old) {
  mmhint_spin_lock(&guard_lock);
  if (old) *old = prog_act[slot];
  if (act) prog_act[slot] = *act;
  mmhint_spin_unlock(&guard_lock);
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

