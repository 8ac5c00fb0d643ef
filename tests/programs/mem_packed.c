/*
 * tests/programs/mem_packed.c: routed allocations below the huge-page size
 * (tests/integration/mem_packed.sh, docs/MEMORY.md "Packing").
 *
 *   mem_packed churn N    N malloc/free pairs of 64 KiB + 33 bytes (Python's
 *                         64 KiB bytes objects), touching each block
 *   mem_packed check      contents, calloc after reuse, realloc across
 *                         classes, usable sizes, alignments, two threads,
 *                         a fork child; prints "packed ok"
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c)                                                   \
  do {                                                             \
    if (!(c)) {                                                    \
      printf("FAIL line %d: %s\n", __LINE__, #c);                  \
      exit(1);                                                     \
    }                                                              \
  } while (0)

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int same(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static void *worker(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void *keep[64] = {0};
  for (int i = 0; i < 20000; i++) {
    int k = i % 64;
    if (keep[k]) {
      CHECK(same(keep[k], 5000, seed + (unsigned)k));
      free(keep[k]);
    }
    keep[k] = malloc(5000 + (size_t)(i % 3) * 20000);
    CHECK(keep[k] != NULL);
    fill(keep[k], 5000, seed + (unsigned)k);
  }
  for (int k = 0; k < 64; k++) free(keep[k]);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "churn") == 0) {
    long n = atol(argv[2]);
    unsigned long sum = 0;
    for (long i = 0; i < n; i++) {
      unsigned char *p = malloc(65536 + 33);
      CHECK(p != NULL);
      p[0] = (unsigned char)i;
      p[65536] = 1;
      sum += p[0] + p[65536];
      free(p);
    }
    printf("churn %ld sum %lu\n", n, sum);
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "check") != 0) {
    fprintf(stderr, "usage: mem_packed churn N | check\n");
    return 2;
  }
  /* Many live blocks of mixed sizes, each with its own pattern. */
  static unsigned char *live[2000];
  static size_t len[2000];
  for (int i = 0; i < 2000; i++) {
    len[i] = 4096 + (size_t)(i * 7919) % (1536 * 1024);
    live[i] = malloc(len[i]);
    CHECK(live[i] != NULL);
    CHECK(malloc_usable_size(live[i]) >= len[i]);
    fill(live[i], len[i] < 9000 ? len[i] : 9000, (unsigned)i);
  }
  for (int i = 0; i < 2000; i += 2) {
    CHECK(same(live[i], len[i] < 9000 ? len[i] : 9000, (unsigned)i));
    free(live[i]);
  }
  /* calloc of a size just freed (a reused block): zero. */
  for (int i = 0; i < 200; i++) {
    unsigned char *d = malloc(70000);
    memset(d, 0xab, 70000);
    free(d);
    unsigned char *z = calloc(1, 70000);
    CHECK(z != NULL);
    for (size_t k = 0; k < 70000; k++) CHECK(z[k] == 0);
    free(z);
  }
  /* realloc: within a class, across classes, to 2 MiB and beyond, and back. */
  unsigned char *r = malloc(5000);
  fill(r, 5000, 3);
  r = realloc(r, 5100);
  CHECK(same(r, 5000, 3));
  r = realloc(r, 300000);
  CHECK(same(r, 5000, 3));
  fill(r, 300000, 4);
  r = realloc(r, 3 << 20);
  CHECK(same(r, 300000, 4));
  r = realloc(r, 10000);
  CHECK(same(r, 10000, 4));
  r = realloc(r, 0);
  /* Alignments. */
  for (size_t a = 16; a <= (1 << 20); a *= 4) {
    void *p = memalign(a, 5000 + a / 2);
    CHECK(p && ((uintptr_t)p % a) == 0);
    memset(p, 1, 5000 + a / 2);
    void *q;
    CHECK(posix_memalign(&q, a, 70000) == 0 && ((uintptr_t)q % a) == 0);
    memset(q, 2, 70000);
    void *v = aligned_alloc(a, a * 3);
    CHECK(v && ((uintptr_t)v % a) == 0);
    free(p);
    free(q);
    free(v);
  }
  void *v = valloc(12345);
  CHECK(v && ((uintptr_t)v % 4096) == 0);
  free(v);
  /* Two threads at once. */
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i * 100));
  for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
  /* A fork child allocates and frees, and sees the parent's blocks. */
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 1; i < 2000; i += 2) {
      if (!same(live[i], len[i] < 9000 ? len[i] : 9000, (unsigned)i)) _exit(3);
      free(live[i]);
    }
    void *c = malloc(100000);
    if (!c) _exit(4);
    free(c);
    _exit(0);
  }
  int ws;
  waitpid(pid, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  for (int i = 1; i < 2000; i += 2) {
    CHECK(same(live[i], len[i] < 9000 ? len[i] : 9000, (unsigned)i));
    free(live[i]);
  }
  printf("packed ok\n");
  return 0;
}
