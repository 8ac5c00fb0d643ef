/*
 * shim/signal.h: signals the shim keeps a handler on for the program's sake
 * (shim/signal.c), and what the program believes is installed for them.
 *
 * Two owners: the fault guard of read->mmap (SIGBUS, SIGSEGV, kept for good
 * once a description converts; its handler chains to the program's action)
 * and the end of life (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
 * SIGALRM, kept only while the program leaves them at their default action:
 * the shim writes the statistics, then the process dies by that signal as it
 * would have).  For a kept signal, sigaction/signal answer from the program's
 * view and never show the shim's handler.
 */
#ifndef MMHINT_SHIM_SIGNAL_H
#define MMHINT_SHIM_SIGNAL_H

#include <signal.h>

/* The end signals: their default action ends the process, and services are stopped or killed with them. */
#define MMHINT_END_SIGNALS SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM

/* Sets *set to the end signals (the shim's handler blocks them all; so does every write of the statistics). */
static inline void mmhint__end_signal_set(sigset_t *set) {
  static const int end[] = {MMHINT_END_SIGNALS};
  sigemptyset(set);
  for (unsigned i = 0; i < sizeof end / sizeof end[0]; i++) sigaddset(set, end[i]);
}

enum {
  MMHINT_SIG_NONE = 0,  /* not kept: sigaction passes through */
  MMHINT_SIG_FAULT = 1, /* kept for the fault guard, whatever the program installs */
  MMHINT_SIG_END = 2,   /* kept while the program's action is the default one */
};

/*
 * Installs `handler` (with `flags`, and `mask` when not NULL) for sig and
 * keeps it there as `how`; the action that was installed becomes the
 * program's view.  Returns 0, or -1 when the kernel refused.
 */
int mmhint__signal_keep(int sig, int how, void (*handler)(int, siginfo_t *, void *), int flags, const sigset_t *mask);

/* Puts the program's view back as the real action and stops keeping sig. */
void mmhint__signal_release(int sig);

/* Copies the program's view of sig into *out.  Async-signal-safe (no lock): handlers call it. */
void mmhint__signal_program_action(int sig, struct sigaction *out);

/* SA_RESETHAND of the program's action took effect: its view becomes the default action. */
void mmhint__signal_reset_program_action(int sig);

/* Installs the default action of sig in the kernel (the real one), whatever is kept.  Async-signal-safe. */
void mmhint__signal_default(int sig);

#endif
