/*
 * shim/snapshot.c: live snapshots of the statistics (stats_interval).
 *
 * A service that runs for a week says nothing until it stops, and one killed
 * by SIGKILL or the OOM killer says nothing at all.  With stats_interval set,
 * a thread of the shim's rewrites the process's statistics file at that
 * interval (end_reason "snapshot"), replacing its own previous file
 * atomically (shim/bootstrap.c), also while the program is idle.
 *
 * The thread blocks every signal, so that no signal of the program's is ever
 * delivered to it and nothing it does interrupts the program's own calls (no
 * timer signal, no EINTR); it sleeps with clock_nanosleep between snapshots
 * and marks itself busy, so that the calls it makes pass through the shim
 * unrecorded.  A fork child starts its own (threads do not survive fork); an
 * exec'd image starts its own at start-up.  With stats_interval off (the
 * default) no thread exists and nothing here runs.  With it on, the process
 * has one more thread, so the shim counts with atomic adds from then on
 * (docs/STATS.md gives the cost).
 */
#include <pthread.h>
#include <time.h>

#include "shim/shim.h"

/* The interval in milliseconds, once decided at start-up (0: off). */
static long long interval_ms;

static void *snapshot_main(void *arg) {
  (void)arg;
  mmhint__busy = 1; /* this thread's own calls pass through the shim */
  struct timespec every = {(time_t)(interval_ms / 1000), (long)(interval_ms % 1000) * 1000000L};
  for (;;) {
    struct timespec left = every;
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) != 0) {
    }
    mmhint__snapshot();
  }
  return NULL;
}

/* Starts the snapshot thread with every signal blocked; says so once when it cannot. */
static void start_thread(void) {
  if (interval_ms <= 0) return;
  int was_busy = mmhint__busy;
  mmhint__busy = 1;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the full mask */
  pthread_attr_t attr;
  pthread_t t;
  int r = pthread_attr_init(&attr);
  if (r == 0) {
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* the writer needs ~20 KiB; the rest is margin */
    r = pthread_create(&t, &attr, snapshot_main, NULL);
    pthread_attr_destroy(&attr);
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  mmhint__busy = was_busy;
  if (r != 0) mmhint__warn("statistics snapshots are off: the snapshot thread could not be started", "", "");
}

void mmhint__snapshot_after_fork(void) { start_thread(); }

/* At start-up: decides the interval and starts the thread. */
__attribute__((constructor)) static void start_snapshots(void) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) == MMHINT_STATE_NONE) mmhint__bootstrap();
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY || !mmhint__stats_on) return;
  long long ms = mmhint__cfg.values.num[MMHINT_OPT_stats_interval];
  if (ms <= 0) return;
  if (ms < 1000) {
    mmhint__warn("stats_interval is below 1s; raised to 1s (a snapshot costs a whole statistics file)", "", "");
    ms = 1000;
  }
  interval_ms = ms;
  start_thread();
}
