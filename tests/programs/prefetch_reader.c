/*
 * prefetch_reader: the workloads of tests/integration/prefetch.sh.  Its
 * output is a checksum of what it read, the same with and without the shim.
 *
 *   prefetch_reader seq FILE              reads FILE front to back, 128 KiB reads
 *   prefetch_reader rand FILE N [WAIT]    N random 4 KiB preads; with WAIT, then waits up to
 *                                         WAIT seconds until cachestat says FILE is wholly
 *                                         resident (prints nothing about it)
 *   prefetch_reader close FILE            opens FILE, preads one page, closes it, sleeps 1 s
 *   prefetch_reader fork FILE N           opens FILE, forks; child and parent each do N random
 *                                         preads of it; the parent waits for the child
 *   prefetch_reader hold FILE N LEN FLAG  N random 4 KiB preads within FILE's first LEN bytes, prints
 *                                         their checksum, then waits (50 ms at a time, at most
 *                                         120 s) until the file FLAG exists, keeping FILE open
 *   prefetch_reader resident FILE         prints the percentage of FILE's pages in the page cache
 *   prefetch_reader evict FILE            POSIX_FADV_DONTNEED on FILE until none is resident
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

static long long cached_pages(int fd) {
  struct {
    unsigned long long off, len;
  } range = {0, 0};
  unsigned long long cs[8] = {0};
  if (syscall(SYS_cachestat, fd, &range, cs, 0) != 0) return -1;
  return (long long)cs[0];
}

static uint64_t mix(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static uint64_t rand_reads(int fd, long long size, int n, uint64_t seed) {
  unsigned char buf[4096];
  uint64_t x = seed, h = 14695981039346656037ull;
  long long pages = size / 4096;
  for (int i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ssize_t r = pread(fd, buf, sizeof buf, (off_t)(x % (uint64_t)pages) * 4096);
    if (r < 0) {
      perror("pread");
      exit(1);
    }
    h = mix(h, buf, (size_t)r);
  }
  return h;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: prefetch_reader seq|rand|hold|close|fork|resident|evict FILE [N [WAIT | LEN FLAG]]\n");
    return 2;
  }
  const char *mode = argv[1];
  int fd = open(argv[2], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    perror(argv[2]);
    return 1;
  }
  long long pages = (st.st_size + 4095) / 4096;
  if (!strcmp(mode, "resident")) {
    long long c = cached_pages(fd);
    printf("%lld\n", pages ? c * 100 / pages : 0);
    return 0;
  }
  if (!strcmp(mode, "evict")) {
    for (int i = 0; i < 200; i++) {
      posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      if (cached_pages(fd) == 0) return 0;
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
    fprintf(stderr, "prefetch_reader: %s stays resident\n", argv[2]);
    return 1;
  }
  if (!strcmp(mode, "seq")) {
    static unsigned char buf[131072];
    uint64_t h = 14695981039346656037ull;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) h = mix(h, buf, (size_t)r);
    printf("%016llx\n", (unsigned long long)h);
    return r < 0;
  }
  int n = argc > 3 ? atoi(argv[3]) : 1000;
  if (!strcmp(mode, "rand")) {
    printf("%016llx\n", (unsigned long long)rand_reads(fd, st.st_size, n, 88172645463325252ull));
    int wait_s = argc > 4 ? atoi(argv[4]) : 0;
    for (int i = 0; i < wait_s * 100 && cached_pages(fd) < pages; i++) {
      struct timespec ts = {0, 10000000};
      nanosleep(&ts, NULL);
    }
    return 0;
  }
  if (!strcmp(mode, "hold") && argc == 6) {
    long long len = atoll(argv[4]);
    printf("%016llx\n", (unsigned long long)rand_reads(fd, len < st.st_size ? len : st.st_size, n, 88172645463325252ull));
    fflush(stdout);
    for (int i = 0; i < 2400 && access(argv[5], F_OK) != 0; i++) {
      struct timespec ts = {0, 50000000};
      nanosleep(&ts, NULL);
    }
    return 0;
  }
  if (!strcmp(mode, "close")) {
    unsigned char buf[4096];
    if (pread(fd, buf, sizeof buf, 0) < 0) return 1;
    close(fd);
    sleep(1);
    printf("%016llx\n", (unsigned long long)mix(14695981039346656037ull, buf, sizeof buf));
    return 0;
  }
  if (!strcmp(mode, "fork")) {
    fflush(stdout);
    pid_t p = fork();
    if (p < 0) return 1;
    uint64_t h = rand_reads(fd, st.st_size, n, p == 0 ? 1234567ull : 7654321ull);
    if (p == 0) {
      printf("child %016llx\n", (unsigned long long)h);
      return 0;
    }
    int status = 0;
    waitpid(p, &status, 0);
    printf("parent %016llx child_status %d\n", (unsigned long long)h, status);
    return 0;
  }
  fprintf(stderr, "prefetch_reader: unknown mode %s\n", mode);
  return 2;
}
