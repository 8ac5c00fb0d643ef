/*
 * mem_matrix: the allocator matrix and the huge-page/NUMA checks of
 * tests/integration/mem_*.sh, run unmodified with and without the shim.
 *
 * Usage: mem_matrix matrix [FUNCS]    every allocation function (or those in the comma list
 *                                     FUNCS, for stacking with an allocator that lacks some)
 *                                     against free, realloc
 *                                     and malloc_usable_size, sizes 0..3 MiB, overflowing
 *                                     calloc; prints a deterministic report
 *        mem_matrix touch SIZE [hold] malloc SIZE, write every page, print the pointer's
 *                                     offset in its 2 MiB block and AnonHugePages (kB) of
 *                                     the process; free unless "hold"
 *        mem_matrix mmap SIZE         the same through an anonymous mmap, then munmap
 *        mem_matrix fork SIZE         malloc, fill, fork: the child rewrites the buffer
 *                                     (copy-on-write) and checks it; the parent checks
 *                                     its own copy is unchanged
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
static const char *only; /* comma-separated function names, or NULL for all */

static int wanted(const char *name) {
  if (!only) return 1;
  size_t n = strlen(name);
  for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
    if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

static void check(int ok, const char *what, const char *fn, size_t n) {
  if (!ok) {
    printf("FAIL %s %s %zu\n", fn, what, n);
    failures++;
  }
}

static long anon_huge_kb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 512) p[i] = (unsigned char)(seed + i / 512);
  if (n) p[n - 1] = (unsigned char)seed;
}

static int same(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i += 512)
    if (i != n - 1 && p[i] != (unsigned char)(seed + i / 512)) return 0;
  return n == 0 || p[n - 1] == (unsigned char)seed;
}

typedef void *(*alloc_fn)(size_t n);
static void *a_malloc(size_t n) { return malloc(n); }
static void *a_calloc(size_t n) { return calloc(1, n); }
static void *a_realloc(size_t n) { return realloc(NULL, n); }
static void *a_reallocarray(size_t n) { return reallocarray(NULL, 1, n); }
static void *a_memalign(size_t n) { return memalign(64, n); }
static void *a_posix_memalign(size_t n) {
  void *p = NULL;
  return posix_memalign(&p, 4096, n) == 0 ? p : NULL;
}
static void *a_aligned_alloc(size_t n) { return aligned_alloc(256, n); }
static void *a_valloc(size_t n) { return valloc(n); }
static void *a_pvalloc(size_t n) { return pvalloc(n); }

static int matrix(void) {
  static const struct {
    const char *name;
    alloc_fn fn;
    size_t align;
  } fns[] = {{"malloc", a_malloc, 16},         {"calloc", a_calloc, 16},
             {"realloc", a_realloc, 16},       {"reallocarray", a_reallocarray, 16},
             {"memalign", a_memalign, 64},     {"posix_memalign", a_posix_memalign, 4096},
             {"aligned_alloc", a_aligned_alloc, 256}, {"valloc", a_valloc, 4096},
             {"pvalloc", a_pvalloc, 4096}};
  static const size_t sizes[] = {0, 1, 100, 4096, 65536, 300000, 3 << 20, 5 << 20};
  for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
    if (!wanted(fns[f].name)) continue;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      for (int end = 0; end < 3; end++) { /* 0 free, 1 realloc grow, 2 realloc shrink */
        unsigned char *p = fns[f].fn(n);
        check(p != NULL || n == 0, "returned NULL", fns[f].name, n);
        if (!p) continue;
        /* tcmalloc hands out 8-byte-aligned blocks for sizes below 16: allowed for those sizes. */
        size_t align = fns[f].align == 16 && n < 16 ? 8 : fns[f].align;
        check(((uintptr_t)p & (align - 1)) == 0, "misaligned", fns[f].name, n);
        size_t u = malloc_usable_size(p);
        check(u >= n, "usable size too small", fns[f].name, n);
        if (fns[f].fn == a_calloc)
          for (size_t i = 0; i < n; i += 97) check(p[i] == 0, "calloc not zero", fns[f].name, n);
        fill(p, u, (unsigned)(f * 31 + s));
        if (end == 0) {
          free(p);
          continue;
        }
        size_t m = end == 1 ? n * 3 + 10 : n / 3;
        unsigned char *q = realloc(p, m);
        check(q != NULL || m == 0, "realloc returned NULL", fns[f].name, n);
        if (!q) continue;
        size_t keep = m < n ? m : n;
        /* The first `keep` bytes must have survived the move. */
        unsigned char *tmp = malloc(keep + 1);
        fill(tmp, keep, (unsigned)(f * 31 + s));
        int ok = 1;
        for (size_t i = 0; i + 1 < keep; i += 512) ok &= q[i] == tmp[i];
        free(tmp);
        check(ok, "realloc lost data", fns[f].name, n);
        check(malloc_usable_size(q) >= m, "usable after realloc", fns[f].name, n);
        fill(q, m, 7);
        free(q);
      }
    }
  }
  /* calloc and reallocarray whose size overflows: NULL with ENOMEM. */
  volatile size_t half = SIZE_MAX / 2; /* hidden from the compiler's own overflow warning */
  errno = 0;
  void *p = calloc(half, 3);
  check(p == NULL && errno == ENOMEM, "overflowing calloc", "calloc", 0);
  errno = 0;
  p = reallocarray(NULL, half, 3);
  check(p == NULL && errno == ENOMEM, "overflowing reallocarray", "reallocarray", 0);
  if (wanted("posix_memalign")) {
    int r = posix_memalign(&p, 3, 100);
    check(r == EINVAL, "posix_memalign(3) not EINVAL", "posix_memalign", 100);
    r = posix_memalign(&p, 3, 5 << 20);
    check(r == EINVAL, "posix_memalign(3) not EINVAL", "posix_memalign", 5 << 20);
  }
  /* Huge alignments. */
  if (wanted("aligned_alloc")) {
    void *big = aligned_alloc(8 << 20, 3 << 20);
    check(big && ((uintptr_t)big & ((8 << 20) - 1)) == 0, "8 MiB alignment", "aligned_alloc", 3 << 20);
    free(big);
  }
  free(NULL);
  check(malloc_usable_size(NULL) == 0, "usable(NULL)", "malloc_usable_size", 0);
  printf("matrix %s\n", failures ? "FAILED" : "ok");
  return failures != 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: mem_matrix matrix | touch SIZE [hold] | mmap SIZE | fork SIZE\n");
    return 2;
  }
  if (strcmp(argv[1], "matrix") == 0) {
    only = argc > 2 ? argv[2] : NULL;
    return matrix();
  }
  size_t n = argc > 2 ? strtoull(argv[2], NULL, 0) : 64u << 20;
  if (strcmp(argv[1], "touch") == 0 || strcmp(argv[1], "mmap") == 0) {
    int use_mmap = argv[1][0] == 'm';
    unsigned char *p = use_mmap ? mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : malloc(n);
    if (!p || p == MAP_FAILED) {
      perror("mem_matrix: allocation");
      return 1;
    }
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    printf("offset_in_2m=%lu anon_huge_kb=%ld\n", (unsigned long)((uintptr_t)p & ((2 << 20) - 1)), anon_huge_kb());
    if (argc > 3 && strcmp(argv[3], "hold") == 0) return 0;
    if (use_mmap) {
      if (munmap(p, n) != 0) {
        perror("mem_matrix: munmap");
        return 1;
      }
    } else {
      free(p);
    }
    return 0;
  }
  if (strcmp(argv[1], "fork") == 0) {
    unsigned char *p = malloc(n);
    if (!p) return 1;
    fill(p, n, 5);
    pid_t pid = fork();
    if (pid == 0) {
      fill(p, n, 9); /* copy-on-write of every page */
      int ok = same(p, n, 9);
      free(p);
      _exit(ok ? 0 : 3);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    int ok = same(p, n, 5);
    free(p);
    printf("fork child=%d parent=%s\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, ok ? "ok" : "changed");
    return !(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  fprintf(stderr, "mem_matrix: unknown mode %s\n", argv[1]);
  return 2;
}
