/*
 * tests/programs/pit_rawio.c: the calls the shim's fast path serves (read,
 * pread, write, pwrite and their _chk siblings, shim/shim.h MMHINT_FAST),
 * each repeated past the first, timed call of a description, so that most
 * of them take the untimed fast path, where a process of one thread makes
 * the system call itself.  Prints, per check, how many of the calls gave
 * the expected result and errno; with `threads` it first starts a thread (the
 * calls then go through glibc's functions).
 *
 *   pit_rawio FILE [threads]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define N 64
#define SENTINEL 4242

/* glibc's fortified entry points, called directly (as -D_FORTIFY_SOURCE=2 code does). */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);

static void report(const char *what, int good) { printf("%-28s %d/%d\n", what, good, N); }

static void *idle(void *arg) {
  (void)arg;
  pause();
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  if (argc > 2 && strcmp(argv[2], "threads") == 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0) return 3;
  }
  char copy[4096];
  snprintf(copy, sizeof copy, "%s.out", argv[1]);
  int rd = open(argv[1], O_RDONLY), wr = open(copy, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (rd < 0 || wr < 0) return 4;
  char buf[256];
  /* A page the process may not write into: reads into it fail with EFAULT. */
  char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ro == MAP_FAILED) return 5;
  int good = 0;
  long sum = 0;

  for (int i = 0; i < N; i++) { /* success leaves errno alone, and the bytes are the file's */
    errno = SENTINEL;
    ssize_t r = read(rd, buf, 7);
    if (r == 7 && errno == SENTINEL) good++;
    for (int k = 0; k < r; k++) sum += (unsigned char)buf[k] * (k + 1);
  }
  report("read ok", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (read(rd, ro, 16) == -1 && errno == EFAULT) good++;
  }
  report("read EFAULT", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    ssize_t r = pread(rd, buf, 5, 3 * i);
    if (r == 5 && errno == SENTINEL) good++;
    for (int k = 0; k < r; k++) sum += (unsigned char)buf[k] * (k + 3);
  }
  report("pread ok", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (pread(rd, buf, 5, -1 - i) == -1 && errno == EINVAL) good++;
  }
  report("pread EINVAL", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (__read_chk(rd, buf, 3, sizeof buf) == 3 && errno == SENTINEL) good++;
    errno = SENTINEL;
    if (__pread64_chk(rd, buf, 3, i, sizeof buf) == 3 && errno == SENTINEL) sum += buf[0];
  }
  report("__read_chk ok", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (write(rd, "x", 1) == -1 && errno == EBADF) good++;
  }
  report("write EBADF", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (write(wr, "abcdefgh", 8) == 8 && errno == SENTINEL) good++;
  }
  report("write ok", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (pwrite(wr, "XY", 2, 5 * i) == 2 && errno == SENTINEL) good++;
  }
  report("pwrite ok", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (pwrite(wr, "XY", 2, -5) == -1 && errno == EINVAL) good++;
  }
  report("pwrite EINVAL", good);
  good = 0;
  for (int i = 0; i < N; i++) {
    errno = SENTINEL;
    if (read(wr, buf, 1) == 0 && errno == SENTINEL) good++; /* at the end of what was written */
  }
  report("read at end", good);
  printf("offsets                      %ld %ld\n", (long)lseek(rd, 0, SEEK_CUR), (long)lseek(wr, 0, SEEK_CUR));
  printf("sum                          %ld\n", sum);
  close(wr);
  FILE *f = fopen(copy, "r");
  long wsum = 0;
  int c, k = 0;
  while (f && (c = fgetc(f)) != EOF) wsum += (long)c * (++k);
  if (f) fclose(f);
  printf("written                      %d bytes, sum %ld\n", k, wsum);
  unlink(copy);
  return 0;
}
