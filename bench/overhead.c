/*
 * bench/overhead.c: the workloads that measure the shim's own cost with every
 * policy off.  Run unmodified, with and without LD_PRELOAD, by
 * bench/overhead.py, which interleaves the two and compares.
 *
 *   overhead read FILE BLOCK     read() FILE to its end in BLOCK-byte calls
 *   overhead write FILE BLOCK COUNT [keep]
 *                                write() COUNT BLOCK-byte blocks to FILE (created or truncated;
 *                                with "keep" not truncated, so that the blocks overwrite the pages
 *                                the file already has instead of allocating new ones)
 *   overhead malloc N SIZE       N malloc(SIZE)/free pairs
 *
 * Prints one line: "ns_per_op=<float> cpu_ns_per_op=<float> ops=<n> bytes=<n>":
 * ns_per_op is wall time (CLOCK_MONOTONIC) over the loop, cpu_ns_per_op the
 * process's CPU time (CLOCK_PROCESS_CPUTIME_ID: every thread, user and
 * system), which leaves out the time other tenants of a shared machine held
 * the CPU.  The shim adds no system call and no wait to these loops, so what
 * it costs is CPU time (scripts/bench rows 8a-8c judge that, and show wall).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double now_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
static double cpu_ns(void) { return clock_ns(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "read") == 0) {
    size_t block = strtoull(argv[3], NULL, 0);
    char *buf = malloc(block);
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0 || !buf) {
      perror(argv[2]);
      return 1;
    }
    uint64_t ops = 0, bytes = 0;
    unsigned sum = 0;
    double c0 = cpu_ns(), t0 = now_ns();
    for (;;) {
      ssize_t n = read(fd, buf, block);
      if (n < 0) {
        perror("read");
        return 1;
      }
      ops++;
      if (n == 0) break;
      bytes += (uint64_t)n;
      sum += (unsigned char)buf[0];
    }
    double t1 = now_ns(), c1 = cpu_ns();
    printf("ns_per_op=%.2f cpu_ns_per_op=%.2f ops=%llu bytes=%llu sum=%u\n", (t1 - t0) / ops, (c1 - c0) / ops,
           (unsigned long long)ops, (unsigned long long)bytes, sum);
    return 0;
  }
  if ((argc == 5 || (argc == 6 && strcmp(argv[5], "keep") == 0)) && strcmp(argv[1], "write") == 0) {
    size_t block = strtoull(argv[3], NULL, 0);
    uint64_t count = strtoull(argv[4], NULL, 0);
    char *buf = malloc(block ? block : 1);
    int fd = open(argv[2], O_WRONLY | O_CREAT | (argc == 6 ? 0 : O_TRUNC), 0644);
    if (fd < 0 || !buf) {
      perror(argv[2]);
      return 1;
    }
    memset(buf, 'w', block);
    uint64_t bytes = 0;
    double c0 = cpu_ns(), t0 = now_ns();
    for (uint64_t i = 0; i < count; i++) {
      ssize_t n = write(fd, buf, block);
      if (n < 0) {
        perror("write");
        return 1;
      }
      bytes += (uint64_t)n;
    }
    double t1 = now_ns(), c1 = cpu_ns();
    close(fd);
    printf("ns_per_op=%.2f cpu_ns_per_op=%.2f ops=%llu bytes=%llu\n", count ? (t1 - t0) / count : 0.0,
           count ? (c1 - c0) / count : 0.0, (unsigned long long)count, (unsigned long long)bytes);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "malloc") == 0) {
    uint64_t n = strtoull(argv[2], NULL, 0);
    size_t size = strtoull(argv[3], NULL, 0);
    void *volatile sink;
    double c0 = cpu_ns(), t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
      void *p = malloc(size);
      sink = p;
      free(p);
    }
    double t1 = now_ns(), c1 = cpu_ns();
    (void)sink;
    printf("ns_per_op=%.3f cpu_ns_per_op=%.3f ops=%llu bytes=0\n", (t1 - t0) / n, (c1 - c0) / n, (unsigned long long)n);
    return 0;
  }
  fprintf(stderr, "usage: overhead read FILE BLOCK | overhead write FILE BLOCK COUNT [keep] | overhead malloc N SIZE\n");
  return 2;
}
