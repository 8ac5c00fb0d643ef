/*
 * tests/programs/rm_dbpages.c: a database-like reader for read->mmap's
 * zero-tail check (tests/integration/readmap_dbpages.sh).
 *
 *   rm_dbpages FILE PASSES [TRUNC_PAGE]
 *
 * FILE holds 8 KiB pages that end in zero bytes (as database pages do).  The
 * program preads every page PASSES times in a fixed pseudo-random order and
 * prints the number of reads and a checksum of the bytes.  With TRUNC_PAGE
 * it then has another process (posix_spawn of truncate(1)) shrink FILE to
 * 100 bytes into the second half of that page, and preads that page and the
 * next one again: a plain run gets a short read (4196 bytes) and 0; the
 * shim must give the same, never the page's zeros as data.  The descriptor
 * is O_CLOEXEC, so the spawn does not stop its conversion.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static uint64_t fnv(uint64_t h, const unsigned char *p, ssize_t n) {
  for (ssize_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rm_dbpages FILE PASSES [TRUNC_PAGE]\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0) return perror("open"), 1;
  struct stat st;
  if (fstat(fd, &st) != 0) return perror("fstat"), 1;
  long pages = (long)(st.st_size / 8192), passes = atol(argv[2]), reads = 0;
  unsigned char buf[8192];
  uint64_t h = 0xcbf29ce484222325ull, x = 12345;
  for (long p = 0; p < passes; p++)
    for (long i = 0; i < pages; i++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      long pg = (long)((x >> 33) % (uint64_t)pages);
      ssize_t r = pread(fd, buf, sizeof buf, (off_t)pg * 8192);
      if (r != (ssize_t)sizeof buf) return fprintf(stderr, "pread page %ld: %zd\n", pg, r), 1;
      h = fnv(h, buf, r);
      reads++;
    }
  printf("reads=%ld sum=%016llx\n", reads, (unsigned long long)h);
  if (argc > 3) {
    long k = atol(argv[3]);
    char size[32];
    snprintf(size, sizeof size, "%ld", k * 8192 + 4096 + 100);
    char *args[] = {"truncate", "-s", size, argv[1], NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "truncate", NULL, NULL, args, environ) != 0) return perror("posix_spawnp"), 1;
    int ws;
    waitpid(pid, &ws, 0);
    ssize_t r = pread(fd, buf, sizeof buf, (off_t)k * 8192);
    printf("after truncate: page %ld: %zd bytes sum=%016llx\n", k, r,
           (unsigned long long)fnv(0xcbf29ce484222325ull, buf, r > 0 ? r : 0));
    r = pread(fd, buf, sizeof buf, (off_t)(k + 1) * 8192);
    printf("after truncate: page %ld: %zd bytes\n", k + 1, r);
  }
  return 0;
}
