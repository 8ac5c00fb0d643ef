/*
 * rm_signal: reads and seeks from a signal handler while the program reads
 * another file (read->mmap, issue 3: a handler often interrupts the shim in
 * the middle of a converted read, where its own calls arrive nested).
 *
 *   rm_signal DIR SECONDS
 *
 * Makes DIR/a and DIR/b (8 MiB each, every 8-byte word holding its own
 * offset), opens both, and reads DIR/a in 4 KiB pieces in a loop (seeking
 * back at the end) while a SIGALRM every 100 us reads 512 bytes of DIR/b,
 * checks that lseek(b, 0, SEEK_CUR) agrees, and now and then seeks b
 * (SEEK_SET or SEEK_CUR).  Every word read is checked against the offset it
 * must hold.  Prints the counts and "ok" when nothing was wrong.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define SIZE (8 << 20)

static int fa, fb;
static volatile sig_atomic_t bad_handler, handler_reads, handler_seeks;
static int64_t hpos; /* where the handler's reads of b must be */

static int check(const char *buf, int64_t off, size_t n) {
  /* Pieces start at multiples of 8 here, so every word is whole. */
  for (size_t i = 0; i + 8 <= n; i += 8) {
    int64_t w;
    memcpy(&w, buf + i, 8);
    if (w != off + (int64_t)i) return 0;
  }
  return 1;
}

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  char buf[512];
  ssize_t r = read(fb, buf, sizeof buf);
  if (r < 0 || (r > 0 && !check(buf, hpos, (size_t)r))) bad_handler++;
  if (r > 0) hpos += r;
  if (lseek(fb, 0, SEEK_CUR) != hpos) bad_handler++;
  handler_reads++;
  if (r == 0 || handler_reads % 97 == 0) {
    /* Seek: back to the start at the end, else a little forward from where it is. */
    off_t want = r == 0 ? 0 : hpos + 4096;
    off_t got = r == 0 ? lseek(fb, 0, SEEK_SET) : lseek(fb, 4096, SEEK_CUR);
    if (got != want) bad_handler++;
    hpos = want;
    handler_seeks++;
  }
  errno = saved;
}

static int make(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  int64_t *b = malloc(1 << 20);
  for (int64_t o = 0; o < SIZE; o += 1 << 20) {
    for (int i = 0; i < (1 << 20) / 8; i++) b[i] = o + 8 * i;
    if (write(fd, b, 1 << 20) != 1 << 20) return -1;
  }
  free(b);
  return close(fd);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: rm_signal DIR SECONDS\n");
    return 2;
  }
  char a[4096], b[4096];
  snprintf(a, sizeof a, "%s/a", argv[1]);
  snprintf(b, sizeof b, "%s/b", argv[1]);
  if (make(a) || make(b)) {
    perror("make");
    return 1;
  }
  fa = open(a, O_RDONLY);
  fb = open(b, O_RDONLY);
  if (fa < 0 || fb < 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
  double secs = atof(argv[2]);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  long main_reads = 0, bad_main = 0;
  int64_t pos = 0;
  char *buf = malloc(4096);
  for (;;) {
    ssize_t r = read(fa, buf, 4096);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      bad_main++;
      break;
    }
    if (r == 0) {
      if (lseek(fa, 0, SEEK_SET) != 0) bad_main++;
      pos = 0;
    } else {
      if (!check(buf, pos, (size_t)r)) bad_main++;
      pos += r;
      main_reads++;
    }
    if ((main_reads & 1023) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) * 1e-9 > secs) break;
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("main_reads=%ld bad_main=%ld handler_reads=%d handler_seeks=%d bad_handler=%d\n", main_reads, bad_main,
         (int)handler_reads, (int)handler_seeks, (int)bad_handler);
  int ok = !bad_main && !bad_handler && handler_reads > 100 && main_reads > 1000;
  if (ok) printf("ok\n");
  return ok ? 0 : 1;
}
