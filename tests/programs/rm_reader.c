/*
 * rm_reader: a small reader for the read->mmap tests and benchmark.
 *
 *   rm_reader read  FILE BLOCK [PASSES]   read() loop to end of file, PASSES times (lseek to 0 between)
 *   rm_reader prand FILE BLOCK COUNT SEED  COUNT pread()s of BLOCK at random BLOCK-aligned offsets
 *
 * Prints the bytes read, a checksum of them, and read_bytes from
 * /proc/self/io (bytes this process caused to be read from disk).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long long io_read_bytes(void) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  long long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "read_bytes: %lld", &v) == 1) break;
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: rm_reader read FILE BLOCK [PASSES] | prand FILE BLOCK COUNT SEED\n");
    return 2;
  }
  size_t bs = strtoul(argv[3], NULL, 0);
  char *buf = malloc(bs);
  int fd = open(argv[2], O_RDONLY);
  if (fd < 0 || !buf) {
    perror(argv[2]);
    return 1;
  }
  uint64_t sum = 0, total = 0;
  if (strcmp(argv[1], "read") == 0) {
    int passes = argc > 4 ? atoi(argv[4]) : 1;
    for (int p = 0; p < passes; p++) {
      if (p > 0 && lseek(fd, 0, SEEK_SET) != 0) return 1;
      ssize_t r;
      while ((r = read(fd, buf, bs)) > 0) {
        total += (uint64_t)r;
        for (ssize_t i = 0; i < r; i += 512) sum = sum * 31 + (unsigned char)buf[i];
      }
      if (r < 0) return 1;
    }
  } else {
    struct stat st;
    fstat(fd, &st);
    long count = argc > 4 ? atol(argv[4]) : 1000;
    uint64_t x = argc > 5 ? strtoull(argv[5], NULL, 0) * 2654435761u + 1 : 1;
    uint64_t blocks = (uint64_t)st.st_size / bs;
    for (long i = 0; i < count && blocks; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      ssize_t r = pread(fd, buf, bs, (off_t)((x % blocks) * bs));
      if (r < 0) return 1;
      total += (uint64_t)r;
      sum = sum * 31 + (r > 0 ? (unsigned char)buf[0] : 0);
    }
  }
  printf("bytes=%llu sum=%016llx read_bytes=%lld\n", (unsigned long long)total, (unsigned long long)sum,
         io_read_bytes());
  return 0;
}
