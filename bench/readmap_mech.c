/*
 * readmap_mech FILE [BLOCK] [ROUNDS]: the mechanisms read->mmap could use,
 * measured side by side in one process on a cached FILE (issue 3: "measure
 * the mechanisms per pattern").  Every mechanism reads the whole file in
 * BLOCK pieces (default 4096) into one small buffer; the mechanisms run
 * interleaved ROUNDS times (default 3) and each line is the median over the
 * rounds of one pass, in seconds and GB/s (10^9 B/s).
 *
 *   read           read() loop (what the program does without the shim)
 *   coalesce256k   pread 256 KiB into a private buffer, copy BLOCK pieces out
 *   map-fresh      mmap the file, copy pieces out (page faults included), munmap
 *   map-fresh-pop  the same with MADV_POPULATE_READ 1 MiB ahead of the copy
 *   map-warm       copy pieces out of a mapping whose pages are already mapped
 *   map-warm-pop   the same with MADV_POPULATE_READ 1 MiB ahead (already mapped)
 *   map-warm-tsc   map-warm with an rdtsc before and after every copy
 *   map-warm-pf    map-warm prefetching the first two lines of the page 8 KiB
 *                  past the end of each copy (what the shim does)
 *   loads          vector loads of a THP-backed anonymous buffer of the same
 *                  size: the single core's memory read bandwidth, the ceiling
 *
 * The munmap of map-fresh is timed with it (a process that exits pays it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

static int fd;
static size_t size, block;
static char *dst, *coal, *warm, *anon;
static volatile uint64_t sink;

static inline uint64_t tsc(void) {
  uint32_t lo, hi;
  __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

static void copy_out(const char *m, int pop, int pf, int ticks) {
  size_t popped = 0;
  uint64_t s = 0;
  for (size_t o = 0; o + block <= size; o += block) {
    if (pop && o + (512 << 10) >= popped && popped < size) {
      size_t n = size - popped < (1 << 20) ? size - popped : (1 << 20);
      madvise((void *)(m + popped), n, MADV_POPULATE_READ);
      popped += n;
    }
    if (ticks) s += tsc();
    memcpy(dst, m + o, block);
    if (ticks) s += tsc();
    if (pf && o + block + 8192 + 128 <= size) {
      const char *a = m + ((o + block + 8192) & ~(size_t)4095);
      __builtin_prefetch(a, 0, 3);
      __builtin_prefetch(a + 64, 0, 3);
    }
    s += (unsigned char)dst[block - 1];
  }
  sink += s;
}

static void m_read(void) {
  lseek(fd, 0, SEEK_SET);
  ssize_t r;
  uint64_t s = 0;
  while ((r = read(fd, dst, block)) > 0) s += (unsigned char)dst[r - 1];
  sink += s;
}

static void m_coalesce(void) {
  uint64_t s = 0;
  for (size_t o = 0; o < size; o += 256 << 10) {
    ssize_t r = pread(fd, coal, 256 << 10, (off_t)o);
    for (ssize_t i = 0; i + (ssize_t)block <= r; i += (ssize_t)block) {
      memcpy(dst, coal + i, block);
      s += (unsigned char)dst[block - 1];
    }
  }
  sink += s;
}

static void fresh(int pop) {
  char *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return;
  copy_out(m, pop, 0, 0);
  munmap(m, size);
}
static void m_fresh(void) { fresh(0); }
static void m_fresh_pop(void) { fresh(1); }
static void m_warm(void) { copy_out(warm, 0, 0, 0); }
static void m_warm_pop(void) { copy_out(warm, 1, 0, 0); }
static void m_warm_tsc(void) { copy_out(warm, 0, 0, 1); }
static void m_warm_pf(void) { copy_out(warm, 0, 1, 0); }

/* One load per 64-byte line (the memory system moves whole lines), four independent sums. */
static void m_loads(void) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i + 256 <= size; i += 256) {
    a += *(const uint64_t *)(anon + i);
    b += *(const uint64_t *)(anon + i + 64);
    c += *(const uint64_t *)(anon + i + 128);
    d += *(const uint64_t *)(anon + i + 192);
  }
  sink += a + b + c + d;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: readmap_mech FILE [BLOCK] [ROUNDS]\n");
    return 2;
  }
  block = argc > 2 ? strtoul(argv[2], NULL, 0) : 4096;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (rounds < 1 || rounds > 64 || block == 0 || block > (64 << 20)) return 2;
  fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
    perror(argv[1]);
    return 1;
  }
  size = (size_t)st.st_size;
  /* The program's buffer, 16 bytes into a page like a malloc'd one. */
  dst = (char *)aligned_alloc(4096, block + 4096) + 16;
  coal = aligned_alloc(4096, 256 << 10);
  warm = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  anon = mmap(NULL, size + (2 << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (!dst || !coal || warm == MAP_FAILED || anon == MAP_FAILED) return 1;
  anon = (char *)(((uintptr_t)anon + (2 << 20) - 1) & ~(uintptr_t)((2 << 20) - 1));
  madvise(anon, size, MADV_HUGEPAGE);
  memset(anon, 1, size);
  madvise(warm, size, MADV_POPULATE_READ); /* the file cached and the warm mapping faulted in */

  struct {
    const char *name;
    void (*fn)(void);
    double t[64];
  } m[] = {{"read", m_read, {0}},           {"coalesce256k", m_coalesce, {0}}, {"map-fresh", m_fresh, {0}},
           {"map-fresh-pop", m_fresh_pop, {0}}, {"map-warm", m_warm, {0}},       {"map-warm-pop", m_warm_pop, {0}},
           {"map-warm-tsc", m_warm_tsc, {0}}, {"map-warm-pf", m_warm_pf, {0}},   {"loads", m_loads, {0}}};
  const int n = (int)(sizeof m / sizeof m[0]);
  for (int r = 0; r < rounds; r++)
    for (int i = 0; i < n; i++) {
      double a = now();
      m[i].fn();
      m[i].t[r] = now() - a;
    }
  printf("readmap_mech: %zu bytes in %zu-byte pieces, median of %d rounds\n", size, block, rounds);
  double base = 0;
  for (int i = 0; i < n; i++) {
    qsort(m[i].t, (size_t)rounds, sizeof(double), cmp);
    double med = m[i].t[rounds / 2];
    if (i == 0) base = med;
    printf("  %-14s %8.4f s  %6.2f GB/s  %5.2fx read()\n", m[i].name, med, (double)size / med / 1e9, base / med);
  }
  return 0;
}
