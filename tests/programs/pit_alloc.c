/*
 * pit_alloc: exercises the malloc family, file reads and threads, for
 * tests/integration/pitfall_allocators.sh (PITFALLS 1: bootstrap re-entry
 * when another allocator is preloaded before or after the shim).
 *
 * Usage: pit_alloc FILE FUNCS
 *   FUNCS is a comma-separated list of the allocation functions to use
 *   (malloc,calloc,realloc,reallocarray,memalign,posix_memalign,aligned_alloc,
 *   valloc,pvalloc,malloc_usable_size): the script passes only those that the
 *   preloaded allocator itself provides, since mixing glibc's and another
 *   allocator's heap is broken without any shim.
 * Prints a deterministic summary: checksums of what it read and how many
 * read calls it made, so runs with and without the shim can be compared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define ROUNDS 2000

static const char *path;
static const char *funcs;

static int use(const char *name) {
  size_t n = strlen(name);
  for (const char *p = funcs; (p = strstr(p, name)) != NULL; p += n)
    if ((p == funcs || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "pit_alloc: %s failed\n", what);
  exit(2);
}

/* One round of every chosen allocation function; returns a checksum of the bytes it wrote. */
static uint64_t alloc_round(unsigned seed) {
  uint64_t sum = 0;
  size_t n = 16 + (seed * 7919u) % 70000; /* small to medium, crossing mmap threshold rarely */
  if (use("malloc")) {
    unsigned char *p = malloc(n);
    if (!p) die("malloc");
    memset(p, (int)(seed & 0xff), n);
    sum += p[n - 1];
    if (use("realloc")) {
      p = realloc(p, n * 2);
      if (!p) die("realloc");
      sum += p[n - 1];
    }
    if (use("malloc_usable_size") && malloc_usable_size(p) < n) die("malloc_usable_size");
    free(p);
  }
  if (use("calloc")) {
    unsigned char *p = calloc(n, 1);
    if (!p) die("calloc");
    for (size_t i = 0; i < n; i += 4096) sum += p[i]; /* must be zero */
    free(p);
  }
  if (use("reallocarray")) {
    int *p = reallocarray(NULL, n / 4 + 1, sizeof(int));
    if (!p) die("reallocarray");
    p[0] = 1;
    p = reallocarray(p, n / 2 + 1, sizeof(int));
    if (!p) die("reallocarray grow");
    sum += (uint64_t)p[0];
    free(p);
  }
  if (use("memalign")) {
    void *p = memalign(64, n);
    if (!p || ((uintptr_t)p & 63)) die("memalign");
    free(p);
  }
  if (use("posix_memalign")) {
    void *p = NULL;
    if (posix_memalign(&p, 256, n) != 0 || ((uintptr_t)p & 255)) die("posix_memalign");
    free(p);
  }
  if (use("aligned_alloc")) {
    void *p = aligned_alloc(128, (n + 127) & ~(size_t)127);
    if (!p || ((uintptr_t)p & 127)) die("aligned_alloc");
    free(p);
  }
  if (use("valloc")) {
    void *p = valloc(n);
    if (!p || ((uintptr_t)p & 4095)) die("valloc");
    free(p);
  }
  if (use("pvalloc")) {
    void *p = pvalloc(n);
    if (!p || ((uintptr_t)p & 4095)) die("pvalloc");
    free(p);
  }
  return sum;
}

/* Reads the whole file with read(), pread() and fread(); returns a byte sum and counts the calls. */
static uint64_t read_file(unsigned long *calls) {
  uint64_t sum = 0;
  char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open");
  ssize_t r;
  while ((r = read(fd, buf, sizeof buf)) > 0) {
    (*calls)++;
    for (ssize_t i = 0; i < r; i++) sum += (unsigned char)buf[i];
  }
  (*calls)++; /* the read that returned 0 */
  off_t off = 0;
  while ((r = pread(fd, buf, 1000, off)) > 0) {
    (*calls)++;
    off += r;
    sum += (unsigned char)buf[0];
  }
  (*calls)++;
  close(fd);
  FILE *fp = fopen(path, "r");
  if (!fp) die("fopen");
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, fp)) > 0) sum += (unsigned char)buf[k - 1];
  fclose(fp);
  return sum;
}

typedef struct {
  unsigned id;
  uint64_t sum;
  unsigned long calls;
} job_t;

static void *worker(void *arg) {
  job_t *j = arg;
  for (unsigned i = 0; i < ROUNDS; i++) j->sum += alloc_round(j->id * ROUNDS + i);
  j->sum += read_file(&j->calls);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: pit_alloc FILE FUNCS\n");
    return 2;
  }
  path = argv[1];
  funcs = argv[2];
  job_t jobs[THREADS];
  pthread_t th[THREADS];
  for (unsigned i = 0; i < THREADS; i++) {
    jobs[i] = (job_t){i + 1, 0, 0};
    if (pthread_create(&th[i], NULL, worker, &jobs[i]) != 0) die("pthread_create");
  }
  job_t mine = {0, 0, 0};
  worker(&mine);
  uint64_t total = mine.sum;
  unsigned long calls = mine.calls;
  for (unsigned i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    total += jobs[i].sum;
    calls += jobs[i].calls;
  }
  printf("funcs %s\nchecksum %llu\nread_calls %lu\n", funcs, (unsigned long long)total, calls);
  return 0;
}
