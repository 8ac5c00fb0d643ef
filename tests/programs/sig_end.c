/*
 * tests/programs/sig_end.c: a program that ends by a signal, run with and
 * without the shim by tests/integration/stats_signals.sh.
 *
 *   sig_end idle FILE          reads FILE, prints "ready", waits for a signal
 *   sig_end query              prints the handler sigaction and signal() report for each end signal
 *   sig_end own FILE           installs its own SIGTERM handler (prints "handled", exits 7), reads FILE, raises SIGTERM
 *   sig_end ignore FILE        ignores SIGTERM, raises it, reads FILE, exits 0
 *   sig_end resetdefault FILE  installs a handler, sets SIG_DFL back, prints "ready", waits
 *   sig_end signalfd           blocks SIGTERM, takes it through a signalfd, prints "got 15", exits 0
 *   sig_end churn FILE         four threads open, read and close FILE without end; prints "ready"
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static const int end_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM};

static void read_all(const char *path) {
  char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    perror(path);
    exit(2);
  }
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void ready_and_wait(void) {
  printf("ready\n");
  fflush(stdout);
  for (;;) pause();
}

static void on_term(int sig) {
  (void)sig;
  static const char msg[] = "handled\n";
  if (write(1, msg, sizeof msg - 1) < 0) _exit(3);
  _exit(7);
}

static void *churn(void *arg) {
  const char *path = arg;
  char buf[512];
  for (;;) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "idle") && argc > 2) {
    read_all(argv[2]);
    ready_and_wait();
  } else if (!strcmp(mode, "query")) {
    for (size_t i = 0; i < sizeof end_signals / sizeof end_signals[0]; i++) {
      struct sigaction sa;
      sigaction(end_signals[i], NULL, &sa);
      void (*h)(int) = signal(end_signals[i], SIG_DFL);
      printf("%d sigaction=%s signal=%s\n", end_signals[i], sa.sa_handler == SIG_DFL ? "SIG_DFL" : "other",
             h == SIG_DFL ? "SIG_DFL" : "other");
    }
  } else if (!strcmp(mode, "own") && argc > 2) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    read_all(argv[2]);
    raise(SIGTERM);
    return 1;
  } else if (!strcmp(mode, "ignore") && argc > 2) {
    signal(SIGTERM, SIG_IGN);
    raise(SIGTERM);
    read_all(argv[2]);
    printf("survived\n");
  } else if (!strcmp(mode, "resetdefault") && argc > 2) {
    signal(SIGTERM, on_term);
    struct sigaction old;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &dfl, &old);
    printf("previous=%s\n", old.sa_handler == on_term ? "on_term" : "other");
    read_all(argv[2]);
    ready_and_wait();
  } else if (!strcmp(mode, "signalfd")) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, 0);
    kill(getpid(), SIGTERM);
    struct signalfd_siginfo si;
    if (sfd < 0 || read(sfd, &si, sizeof si) != sizeof si) return 2;
    printf("got %u\n", si.ssi_signo);
  } else if (!strcmp(mode, "churn") && argc > 2) {
    pthread_t t;
    for (int i = 0; i < 4; i++) pthread_create(&t, NULL, churn, argv[2]);
    ready_and_wait();
  } else {
    fprintf(stderr, "usage: sig_end idle|query|own|ignore|resetdefault|signalfd|churn [FILE]\n");
    return 2;
  }
  return 0;
}
