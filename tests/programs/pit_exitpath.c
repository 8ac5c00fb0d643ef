/*
 * pit_exitpath: I/O and allocation on every way out of a process, for
 * tests/integration/pitfall_exit_path.sh (PITFALLS 14).
 *
 * Usage: pit_exitpath MODE FILE
 *   atexit       an atexit handler and a destructor allocate and read FILE
 *   keydtor      a pthread key destructor allocates and reads FILE; main pthread_exits
 *   close_range  close_range(3, ~0U, 0), then open and read FILE again
 *   thread_exit  a thread calls _exit(7) while main is blocked
 *   abort        read FILE, then abort()
 *   sigkill      read FILE, then kill itself with SIGKILL
 *   busy_exit    exit(0) while 4 threads keep reading and allocating
 * Every mode first reads FILE once (4096 bytes) and prints what it did.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#include <linux/close_range.h>
#endif
int close_range(unsigned int first, unsigned int last, int flags);

static const char *path;

/* Allocates, opens, reads 4096 bytes, closes; prints a line with `who` via write(2). */
static void touch(const char *who) {
  char *p = malloc(8192);
  int fd = open(path, O_RDONLY);
  ssize_t r = fd >= 0 && p ? read(fd, p, 4096) : -1;
  if (fd >= 0) close(fd);
  free(p);
  char line[128];
  int n = snprintf(line, sizeof line, "%s read=%zd\n", who, r);
  write(1, line, (size_t)n);
}

static void at_exit_handler(void) { touch("atexit"); }
static int mode_atexit;
__attribute__((destructor)) static void dtor(void) {
  if (mode_atexit) touch("destructor");
}

static pthread_key_t key;
static void key_dtor(void *v) {
  (void)v;
  touch("key_destructor");
}

static void *exiter(void *arg) {
  (void)arg;
  touch("thread");
  _exit(7);
}

static volatile int spin = 1;
static void *busy(void *arg) {
  (void)arg;
  char buf[512];
  while (spin) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
      read(fd, buf, sizeof buf);
      close(fd);
    }
    free(malloc(1000));
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  const char *mode = argv[1];
  path = argv[2];
  touch("main");
  if (!strcmp(mode, "atexit")) {
    mode_atexit = 1;
    atexit(at_exit_handler);
    return 0;
  }
  if (!strcmp(mode, "keydtor")) {
    pthread_key_create(&key, key_dtor);
    pthread_setspecific(key, (void *)1);
    pthread_exit(NULL); /* the last thread: key destructors run, then the process exits 0 */
  }
  if (!strcmp(mode, "close_range")) {
    if (close_range(3, ~0U, 0) != 0) return 3;
    touch("after_close_range");
    return 0;
  }
  if (!strcmp(mode, "thread_exit")) {
    pthread_t t;
    pthread_create(&t, NULL, exiter, NULL);
    pthread_join(t, NULL);
    return 4; /* not reached */
  }
  if (!strcmp(mode, "abort")) abort();
  if (!strcmp(mode, "sigkill")) kill(getpid(), SIGKILL);
  if (!strcmp(mode, "busy_exit")) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, busy, NULL);
    usleep(50000);
    exit(0);
  }
  return 5;
}
