/*
 * hard_faults: fault-injection helpers for tests/integration/hard_faults.sh.
 *
 * The data files hold a pattern in which every 8-byte word is its own offset,
 * so any byte anyone reads can be checked against where it came from, however
 * the file changed meanwhile.
 *
 *   hard_faults writer FILE SECONDS SEED MAXPAGES
 *       For SECONDS, repeatedly shrinks FILE with ftruncate to a random whole
 *       number of pages, or grows it with pwrite of the pattern (never with
 *       ftruncate, which would add zeros).  Sizes stay page multiples, so a
 *       truncation drops whole pages and never zeroes part of one.
 *   hard_faults reader FILE SECONDS SEED
 *       For SECONDS, opens FILE and reads it to the end with read, pread and
 *       readv of random sizes; checks every byte; prints "passes N bytes N
 *       wrong N" and exits 0 (1 when a byte was wrong or a call failed).  A
 *       signal (SIGBUS) kills it, which is what the test looks for.
 *   hard_faults seq FILE
 *       Deterministic: writes 100 KiB of pattern, reads 50 KiB; a child
 *       process truncates the file to 40 KiB; reads (0), preads; a child
 *       grows it to 200 KiB; reads on; a child truncates to 0; reads.  Prints
 *       every result (the transcript is compared with a run without the shim).
 *   hard_faults enomem DIR N
 *       Creates N files, opens N/2 and reads them, then mallocs 64 KiB blocks
 *       (touching none) until malloc fails (run it under RLIMIT_AS), then
 *       opens and reads the other N/2 while memory is exhausted, prints a
 *       checksum of everything read, frees, exits 0.  Exit 3 when the first
 *       half could not be read (the limit is too small for the program).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096

static unsigned char pat(int64_t o) { return (unsigned char)((uint64_t)(o & ~7LL) >> ((o & 7) * 8)); }

static long check(const unsigned char *b, int64_t off, size_t n) {
  long w = 0;
  for (size_t i = 0; i < n; i++) w += b[i] != pat(off + (int64_t)i);
  return w;
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void fill(unsigned char *b, int64_t off, size_t n) {
  for (size_t i = 0; i < n; i++) b[i] = pat(off + (int64_t)i);
}

static int writer(const char *file, double secs, unsigned seed, int maxpages) {
  int fd = open(file, O_RDWR);
  if (fd < 0) return 2;
  static unsigned char buf[64 * PAGE];
  double end = now() + secs;
  long shrinks = 0, grows = 0;
  while (now() < end) {
    struct stat st;
    fstat(fd, &st);
    int64_t cur = st.st_size;
    int64_t want = (int64_t)(rand_r(&seed) % (unsigned)(maxpages + 1)) * PAGE;
    if (want < cur) {
      if (ftruncate(fd, want) == 0) shrinks++;
    } else {
      while (cur < want) {
        size_t n = (size_t)(want - cur) < sizeof buf ? (size_t)(want - cur) : sizeof buf;
        fill(buf, cur, n);
        if (pwrite(fd, buf, n, cur) != (ssize_t)n) return 2;
        cur += (int64_t)n;
      }
      grows++;
    }
    usleep(rand_r(&seed) % 200);
  }
  printf("shrinks %ld grows %ld\n", shrinks, grows);
  return 0;
}

static int reader(const char *file, double secs, unsigned seed) {
  static unsigned char buf[256 * 1024];
  static const size_t sizes[] = {1, 7, 512, 4096, 4097, 16384, 65536, 262144};
  double end = now() + secs;
  long passes = 0, bytes = 0, wrong = 0, failed = 0;
  while (now() < end) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) return 2;
    int64_t off = 0;
    for (;;) {
      size_t n = sizes[rand_r(&seed) % 8];
      ssize_t r;
      int how = rand_r(&seed) % 3;
      if (how == 0) {
        r = read(fd, buf, n);
      } else if (how == 1) {
        r = pread(fd, buf, n, off);
        if (r > 0 && lseek(fd, r, SEEK_CUR) < 0) failed++;
      } else {
        struct iovec iov[2] = {{buf, n / 2}, {buf + n / 2, n - n / 2}};
        r = readv(fd, iov, 2);
      }
      if (r < 0) {
        failed++;
        break;
      }
      if (r == 0) break;
      wrong += check(buf, off, (size_t)r);
      off += r;
      bytes += r;
    }
    close(fd);
    passes++;
  }
  printf("passes %ld bytes %ld wrong %ld failed %ld\n", passes, bytes, wrong, failed);
  return wrong || failed ? 1 : 0;
}

/* Runs one change to FILE in a separate process, as another program would. */
static void in_child(const char *file, int64_t size) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(file, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    if (size < st.st_size) {
      if (ftruncate(fd, size)) _exit(1);
    } else {
      static unsigned char b[256 * 1024];
      fill(b, st.st_size, (size_t)(size - st.st_size));
      if (pwrite(fd, b, (size_t)(size - st.st_size), st.st_size) < 0) _exit(1);
    }
    _exit(0);
  }
  int s;
  waitpid(pid, &s, 0);
  printf("child set size %lld: status %d\n", (long long)size, WIFEXITED(s) ? WEXITSTATUS(s) : -1);
}

static void show(const char *what, ssize_t r, const unsigned char *b, int64_t off) {
  printf("%s -> %zd%s\n", what, r, r > 0 ? (check(b, off, (size_t)r) ? " WRONG BYTES" : " bytes ok") : "");
}

static int seq(const char *file) {
  static unsigned char b[256 * 1024];
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
  fill(b, 0, 100 * 1024);
  if (fd < 0 || write(fd, b, 100 * 1024) != 100 * 1024) return 2;
  close(fd);
  fd = open(file, O_RDONLY);
  ssize_t r = read(fd, b, 50 * 1024);
  show("read 50K", r, b, 0);
  in_child(file, 40 * 1024);
  show("read 8K at 50K after truncate to 40K", read(fd, b, 8192), b, 50 * 1024);
  show("pread 8K at 36K", pread(fd, b, 8192, 36 * 1024), b, 36 * 1024);
  show("pread 8K at 0", pread(fd, b, 8192, 0), b, 0);
  printf("lseek cur -> %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
  in_child(file, 200 * 1024);
  show("read 64K at 50K after growth to 200K", read(fd, b, 65536), b, 50 * 1024);
  show("read 200K", read(fd, b, 200 * 1024), b, (50 + 64) * 1024);
  show("read at end", read(fd, b, 4096), b, 0);
  in_child(file, 300 * 1024);
  show("read after growth to 300K", read(fd, b, 256 * 1024), b, 200 * 1024);
  in_child(file, 0);
  show("pread 4K at 4K after truncate to 0", pread(fd, b, 4096, 4096), b, 4096);
  show("read after truncate to 0", read(fd, b, 4096), b, 0);
  printf("lseek end -> %lld\n", (long long)lseek(fd, 0, SEEK_END));
  close(fd);
  return 0;
}

/* Opens and reads files [lo, hi) of DIR, adding what it read to *sum; -1 on failure. */
static int read_range(const char *dir, int *fds, int lo, int hi, uint64_t *sum, long *got, long *wrong) {
  char path[4096];
  unsigned char buf[3000];
  for (int i = lo; i < hi; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    fds[i] = open(path, O_RDONLY);
    if (fds[i] < 0) {
      printf("open %d failed: %s\n", i, strerror(errno));
      return -1;
    }
    ssize_t r;
    int64_t off = 0;
    while ((r = read(fds[i], buf, sizeof buf)) > 0) {
      *wrong += check(buf, off + i, (size_t)r);
      for (ssize_t k = 0; k < r; k++) *sum = *sum * 31 + buf[k];
      off += r;
      *got += r;
    }
    if (r < 0) {
      printf("read %d failed: %s\n", i, strerror(errno));
      return -1;
    }
  }
  return 0;
}

static int enomem(const char *dir, int n) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t)n + 32) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  char path[4096];
  static unsigned char buf[8192];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 2;
    size_t len = 4096 + (size_t)(i % 5) * 1000;
    fill(buf, i, len);
    if (write(fd, buf, len) != (ssize_t)len) return 2;
    close(fd);
  }
  uint64_t sum = 0;
  long got = 0, wrong = 0;
  int *fds = calloc((size_t)n, sizeof(int));
  if (!fds) return 3;
  if (read_range(dir, fds, 0, n / 2, &sum, &got, &wrong)) return 3;
  /* Exhaust the address space; keep every block (untouched). */
  size_t cap = (size_t)1 << 20, nb = 0;
  void **blocks = malloc(cap * sizeof *blocks); /* 8 MiB: up to 64 GiB in blocks */
  if (!blocks) return 3;
  while (nb < cap && (blocks[nb] = malloc(65536)) != NULL) nb++;
  printf("address space exhausted: %s\n", nb < cap ? "yes" : "no (no RLIMIT_AS?)");
  /* The other half while memory is exhausted. */
  int rc = read_range(dir, fds, n / 2, n, &sum, &got, &wrong) ? 1 : 0;
  for (size_t k = 0; k < nb; k++) free(blocks[k]);
  free(blocks);
  for (int i = 0; i < n; i++)
    if (fds[i] > 0) close(fds[i]);
  printf("files %d bytes %ld wrong %ld sum %016llx\n", n, got, wrong, (unsigned long long)sum);
  return rc || wrong ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && !strcmp(argv[1], "writer")) return writer(argv[2], atof(argv[3]), (unsigned)atoi(argv[4]), atoi(argv[5]));
  if (argc >= 5 && !strcmp(argv[1], "reader")) return reader(argv[2], atof(argv[3]), (unsigned)atoi(argv[4]));
  if (argc >= 3 && !strcmp(argv[1], "seq")) return seq(argv[2]);
  if (argc >= 4 && !strcmp(argv[1], "enomem")) return enomem(argv[2], atoi(argv[3]));
  fprintf(stderr, "usage: hard_faults writer FILE SECONDS SEED MAXPAGES | reader FILE SECONDS SEED | seq FILE | enomem DIR N\n");
  return 2;
}
