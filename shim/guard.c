/*
 * shim/guard.c: the fault guard of read->mmap's copies (shim/guard.h says how
 * it works).
 *
 * The handlers are installed at the first conversion and kept by
 * shim/signal.c: from then on sigaction/signal for SIGBUS and SIGSEGV are
 * answered from what the program believes is installed, so that the shim's
 * handler stays in place, and every fault that is not the shim's goes to the
 * program's action (or the default one).
 */
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "policy/spin.h"
#include "shim/guard.h"
#include "shim/shim.h"
#include "shim/signal.h"

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


/* ---- The handler -------------------------------------------------------------------- */

static int guard_installed;
static int guard_lock;

static void fault_handler(int sig, siginfo_t *si, void *uc) {
  /* A fault (si_code > 0, not a kill()) on the shim's copy: the copy returns short. */
  if (si && si->si_code > 0 && fault_is_ours(uc)) return;
  /* Not the shim's fault: do what the program asked for (shim/signal.c keeps its action). */
  struct sigaction p;
  mmhint__signal_program_action(sig, &p);
  if (p.sa_flags & SA_RESETHAND) mmhint__signal_reset_program_action(sig);
  if ((p.sa_flags & SA_SIGINFO) && p.sa_sigaction) {
    p.sa_sigaction(sig, si, uc);
  } else if (p.sa_handler == SIG_IGN && !(si && si->si_code > 0)) {
    /* an ignored signal sent by kill(): nothing happens */
  } else if (p.sa_handler == SIG_DFL || p.sa_handler == SIG_IGN) {
    /* The default action (a fault cannot be ignored): restore it; a fault then recurs, a kill is re-raised. */
    mmhint__signal_default(sig);
    if (!(si && si->si_code > 0)) raise(sig);
  } else {
    p.sa_handler(sig);
  }
}

int mmhint__guard_install(void) {
  if (__atomic_load_n(&guard_installed, __ATOMIC_ACQUIRE)) return 1;
  mmhint_spin_lock(&guard_lock);
  if (!guard_installed) {
    const int flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
    if (mmhint__signal_keep(SIGBUS, MMHINT_SIG_FAULT, fault_handler, flags, NULL) == 0) {
      if (mmhint__signal_keep(SIGSEGV, MMHINT_SIG_FAULT, fault_handler, flags, NULL) == 0)
        __atomic_store_n(&guard_installed, 1, __ATOMIC_RELEASE);
      else
        mmhint__signal_release(SIGBUS);
    }
  }
  mmhint_spin_unlock(&guard_lock);
  return guard_installed;
}
