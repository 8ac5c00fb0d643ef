/*
 * memcpy_limit FILE BLOCK [PASSES]: the physical limit of reading FILE in
 * BLOCK-byte pieces from memory.  Maps FILE read-only, faults every page in
 * first (not timed), then copies it out in BLOCK pieces into one buffer,
 * PASSES times (default 3), and reports the best pass as GB/s (10^9 B/s).
 * Used by scripts/bench for the "physical limit" column.
 * Prints: result workload=memcpy_limit block=B bytes=N passes=P best_seconds=S gbps=G
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: memcpy_limit FILE BLOCK [PASSES]\n");
    return 2;
  }
  size_t block = strtoull(argv[2], NULL, 0);
  int passes = argc > 3 ? atoi(argv[3]) : 3;
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0 || block == 0) {
    perror(argv[1]);
    return 1;
  }
  size_t size = (size_t)st.st_size;
  const unsigned char *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  unsigned char *buf = aligned_alloc(4096, (block + 4095) & ~(size_t)4095);
  if (!buf) return 1;
  volatile uint64_t sink = 0;
  long page = sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < size; off += (size_t)page) sink += map[off]; /* pre-fault */
  double best = 1e30;
  for (int p = 0; p < passes; p++) {
    double t0 = now();
    for (size_t off = 0; off < size; off += block) {
      size_t n = size - off < block ? size - off : block;
      memcpy(buf, map + off, n);
      sink += buf[n - 1];
    }
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("result workload=memcpy_limit block=%zu bytes=%zu passes=%d best_seconds=%.6f gbps=%.3f\n", block, size,
         passes, best, (double)size / best / 1e9);
  return sink == 42 ? 3 : 0;
}
