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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/fmt.h"
#include "policy/os/os.h"
#include "shim/shim.h"

/* The interval in milliseconds, once decided at start-up (0: off). */
static long long interval_ms;

/* The text after the command name (the last ')') of a /proc stat line: the state is its first field. */
static const char *after_comm(const char *b) {
  const char *p = strrchr(b, ')');
  return p && p[1] == ' ' ? p + 2 : NULL;
}

/*
 * Nonzero when this thread is the last live thread of the process: every
 * thread of the program's has ended, the main thread by pthread_exit (which
 * leaves the group leader a zombie, still counted in num_threads).  Then
 * the process would have ended, and this thread must not keep it alive.
 */
static int alone(void) {
  char b[1024];
  if (mmhint_os_read_small("/proc/self/stat", b, sizeof b) <= 0) return 0;
  const char *p = after_comm(b);
  for (int field = 3; p && field < 20; field++) { /* num_threads is field 20, the state field 3 */
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return 0;
  long threads = strtol(p, NULL, 10);
  if (threads > 2) return 0;
  if (threads <= 1) return 1;
  /* Two: this one and a leader that may be a zombie (this thread is never the leader). */
  char path[64] = "/proc/self/task/";
  size_t n = strlen(path);
  n += mmhint_fmt_u64(path + n, (uint64_t)mmhint_os_getpid());
  memcpy(path + n, "/stat", sizeof "/stat");
  if (mmhint_os_read_small(path, b, sizeof b) <= 0) return 0;
  p = after_comm(b);
  return p && (*p == 'Z' || *p == 'X');
}

/*
 * Sleeps between snapshots in slices of at most a second, and after each
 * looks whether the program's threads have all ended (its main thread by
 * pthread_exit): then it returns, and glibc ends the process as the last
 * thread's exit would have (exit(0), so the final file is written with
 * end_reason "exit"), at most a second later than without the shim.  A
 * thread that slept on would keep the process alive forever, and, blocking
 * every signal, make SIGTERM pend unanswered.
 */
static void *snapshot_main(void *arg) {
  (void)arg;
  mmhint__busy = 1; /* this thread's own calls pass through the shim */
  for (;;) {
    for (long long slept = 0; slept < interval_ms;) {
      long long ms = interval_ms - slept < 1000 ? interval_ms - slept : 1000;
      struct timespec left = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
      while (clock_nanosleep(CLOCK_MONOTONIC, 0, &left, &left) != 0) {
      }
      slept += ms;
      if (alone()) return NULL;
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
