/*
 * prefetch_measure: measures the request the prefetch engine makes
 * (docs/HINTS.md, "Prefetch"), without the shim, on a real file.
 *
 *   prefetch_measure how FILE HOW STEP_KIB [random_reads]
 *       makes FILE cold (POSIX_FADV_DONTNEED on it alone, waiting until
 *       cachestat says no page is left), then brings it in with HOW
 *       (readahead | fadvise | madvise) in steps of STEP_KIB in file order,
 *       one step after the other, on a helper thread, while the main thread
 *       does `random_reads` (default 0) random 4 KiB preads of FILE.
 *       Prints the time the requests took, the time until cachestat said
 *       the whole file was resident, and the random reads' time.
 *   prefetch_measure plain FILE random_reads
 *       the random reads alone on the cold file.
 *
 * Everything goes through raw calls; the output is one line per run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Resident pages of fd (cachestat), -1 when refused. */
static long long resident(int fd) {
  struct {
    unsigned long long off, len;
  } range = {0, 0};
  unsigned long long cs[8] = {0};
  if (syscall(SYS_cachestat, fd, &range, cs, 0) != 0) return -1;
  return (long long)cs[0];
}

static void make_cold(int fd) {
  for (int i = 0; i < 100; i++) {
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (resident(fd) == 0) return;
    usleep(10000);
  }
}

static struct {
  int fd;
  const char *how;
  long long size, step;
  void *map;
  double t_requests;
} job;

static void *prefetch_main(void *arg) {
  (void)arg;
  double t0 = now_s();
  for (long long off = 0; off < job.size; off += job.step) {
    long long n = job.size - off < job.step ? job.size - off : job.step;
    if (!strcmp(job.how, "readahead")) readahead(job.fd, off, (size_t)n);
    else if (!strcmp(job.how, "fadvise")) posix_fadvise(job.fd, off, n, POSIX_FADV_WILLNEED);
    else madvise((char *)job.map + off, (size_t)n, MADV_WILLNEED);
  }
  job.t_requests = now_s() - t0;
  return NULL;
}

static double random_reads(int fd, long long size, int n) {
  char buf[4096];
  uint64_t x = 88172645463325252ull;
  double t0 = now_s();
  for (int i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    long long page = (long long)(x % (uint64_t)(size / 4096));
    if (pread(fd, buf, sizeof buf, page * 4096) < 0) return -1;
  }
  return now_s() - t0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: prefetch_measure how FILE HOW STEP_KIB [reads] | plain FILE reads\n");
    return 2;
  }
  int fd = open(argv[2], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    perror(argv[2]);
    return 1;
  }
  make_cold(fd);
  if (!strcmp(argv[1], "plain")) {
    int n = argc > 3 ? atoi(argv[3]) : 10000;
    printf("plain reads=%d read_s=%.3f\n", n, random_reads(fd, st.st_size, n));
    return 0;
  }
  if (argc < 5) return 2;
  job.fd = fd;
  job.how = argv[3];
  job.size = st.st_size;
  job.step = atoll(argv[4]) * 1024;
  job.map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  int n = argc > 5 ? atoi(argv[5]) : 0;
  double t0 = now_s();
  pthread_t t;
  pthread_create(&t, NULL, prefetch_main, NULL);
  double rs = n ? random_reads(fd, st.st_size, n) : 0;
  long long pages = (st.st_size + 4095) / 4096;
  while (resident(fd) < pages && now_s() - t0 < 60) usleep(500);
  double t_all = now_s() - t0;
  pthread_join(t, NULL);
  printf("%s step=%sK requests_s=%.3f all_resident_s=%.3f reads=%d read_s=%.3f\n", job.how, argv[4], job.t_requests,
         t_all, n, rs);
  return 0;
}
