/*
 * mem_churn: many small malloc/free pairs (16-512 bytes, below any huge-page
 * window) over a small live pool, the pattern of most programs' allocator
 * traffic.  Driven by bench/mem.py, which runs it with and without the shim.
 *
 * Usage: mem_churn PAIRS
 * Prints: result pairs=N seconds=S ns_per_pair=X checksum=C
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  long pairs = argc > 1 ? atol(argv[1]) : 10000000;
  enum { SLOTS = 256 };
  static void *slot[SLOTS];
  uint64_t x = 88172645463325252ull, sum = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < pairs; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    unsigned k = (unsigned)(x % SLOTS);
    size_t n = 16 + (size_t)((x >> 20) % 497); /* 16..512 bytes */
    free(slot[k]);
    char *p = malloc(n);
    p[0] = (char)i;
    sum += (uintptr_t)p & 0xff0;
    slot[k] = p;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  printf("result pairs=%ld seconds=%.6f ns_per_pair=%.3f checksum=%llu\n", pairs, s, pairs ? s * 1e9 / (double)pairs : 0.0,
         (unsigned long long)sum);
  return 0;
}
