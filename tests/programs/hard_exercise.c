/*
 * hard_exercise FILE: one pass over the calls the shim wraps, for the
 * checkers in tests/integration/hard_sanitizers.sh (valgrind, the shim
 * stacked with ASan).  read, pread, readv, preadv, lseek, dup, mmap,
 * fopen/fread/fgets/getline, malloc/calloc/realloc/posix_memalign/
 * aligned_alloc/free, of sizes below and above the huge-page window, and a
 * thread.  Every result is checked; prints "ok <checksum>" and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *file;
static long fsize;
static int bad;
static uint64_t sum;

#define CHECK(c)                                                       \
  do {                                                                 \
    if (!(c)) {                                                        \
      fprintf(stderr, "hard_exercise: line %d: %s\n", __LINE__, #c);   \
      bad++;                                                           \
    }                                                                  \
  } while (0)

static void add(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) sum = sum * 131 + b[i];
}

static void *thread_reads(void *arg) {
  (void)arg;
  char buf[5000];
  for (int k = 0; k < 20; k++) {
    int fd = open(file, O_RDONLY);
    ssize_t r;
    long t = 0;
    while ((r = read(fd, buf, sizeof buf)) > 0) t += r;
    CHECK(t == fsize);
    close(fd);
    void *p = malloc(100000 + k);
    memset(p, k, 100000 + k);
    free(p);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  file = argv[1];
  struct stat st;
  if (stat(file, &st) || st.st_size < 20000) {
    fprintf(stderr, "hard_exercise: FILE must exist and hold at least 20000 bytes\n");
    return 2;
  }
  fsize = st.st_size;
  char *whole = malloc((size_t)fsize);
  int fd = open(file, O_RDONLY);
  CHECK(fd >= 0);
  long t = 0;
  ssize_t r;
  while ((r = read(fd, whole + t, 4096)) > 0) t += r;
  CHECK(t == fsize);
  add(whole, (size_t)fsize);
  char buf[8192];
  CHECK(pread(fd, buf, 100, 1000) == 100 && !memcmp(buf, whole + 1000, 100));
  CHECK(lseek(fd, 500, SEEK_SET) == 500);
  int fd2 = dup(fd);
  CHECK(read(fd2, buf, 10) == 10 && !memcmp(buf, whole + 500, 10));
  CHECK(lseek(fd, 0, SEEK_CUR) == 510);
  struct iovec iov[3] = {{buf, 1}, {buf + 1, 4095}, {buf + 4096, 3000}};
  CHECK(readv(fd, iov, 3) == 7096 && !memcmp(buf, whole + 510, 7096));
  CHECK(preadv(fd2, iov, 3, 9000) == 7096 && !memcmp(buf, whole + 9000, 7096));
  close(fd2);
  char *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED && !memcmp(m, whole, (size_t)fsize));
  munmap(m, (size_t)fsize);
  close(fd);

  FILE *f = fopen(file, "r");
  CHECK(f != NULL);
  CHECK(fread(buf, 1, 3000, f) == 3000 && !memcmp(buf, whole, 3000));
  char *line = NULL;
  size_t cap = 0;
  long lines = 0;
  while (getline(&line, &cap, f) > 0) lines++;
  free(line);
  rewind(f);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  add(&lines, sizeof lines);

  /* Allocations across the size classes and the huge-page window. */
  static const size_t sizes[] = {0, 1, 24, 500, 4096, 65536, 65537, 200000, 3 << 20, 9 << 20};
  for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    char *a = malloc(n);
    CHECK(a != NULL || n == 0);
    if (a) memset(a, 1, n);
    char *c = calloc(1, n + 1);
    CHECK(c != NULL && c[n] == 0);
    a = realloc(a, 2 * n + 10);
    CHECK(a != NULL);
    if (n) CHECK(a[n - 1] == 1);
    void *pm = NULL;
    CHECK(posix_memalign(&pm, 4096, n + 1) == 0 && ((uintptr_t)pm & 4095) == 0);
    void *al = aligned_alloc(64, ((n + 64) / 64) * 64);
    CHECK(al != NULL && ((uintptr_t)al & 63) == 0);
    memset(pm, 2, n + 1);
    free(a);
    free(c);
    free(pm);
    free(al);
  }
  void *anon = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(anon != MAP_FAILED);
  memset(anon, 3, 4 << 20);
  munmap(anon, 4 << 20);

  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, thread_reads, NULL);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  free(whole);
  if (bad) return 1;
  printf("ok %016llx\n", (unsigned long long)sum);
  return 0;
}
