/*
 * cov_reader: reads and maps known ranges of a file, for the "touched" map's
 * integration test (tests/integration/stats_touched.sh).
 *
 *   cov_reader FILE OP...     OP is one of
 *     p:OFF:LEN   pread LEN bytes at OFF
 *     r:OFF:LEN   lseek to OFF, then read LEN bytes
 *     m:OFF:LEN   map the whole file, load one byte of every page of
 *                 [OFF, OFF+LEN), unmap it
 *     M:OFF:LEN   the same, left mapped until exit
 * Prints the bytes read and pages touched; exit status 1 on any error.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cov_reader FILE [p|r|m|M]:OFF:LEN...\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    perror(argv[1]);
    return 1;
  }
  static char buf[1 << 20];
  long long total = 0, pages = 0;
  unsigned sum = 0;
  for (int i = 2; i < argc; i++) {
    char op;
    long long off, len;
    if (sscanf(argv[i], "%c:%lld:%lld", &op, &off, &len) != 3 || len < 0 || len > (long long)sizeof buf) {
      fprintf(stderr, "cov_reader: bad op '%s'\n", argv[i]);
      return 2;
    }
    ssize_t r = 0;
    if (op == 'p') {
      r = pread(fd, buf, (size_t)len, off);
    } else if (op == 'r') {
      if (lseek(fd, off, SEEK_SET) != off) return 1;
      r = read(fd, buf, (size_t)len);
    } else if (op == 'm' || op == 'M') {
      volatile unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
      }
      for (long long o = off; o < off + len && o < st.st_size; o += 4096, pages++) sum += p[o];
      if (op == 'm') munmap((void *)p, (size_t)st.st_size);
    } else {
      fprintf(stderr, "cov_reader: bad op '%s'\n", argv[i]);
      return 2;
    }
    if (r < 0) {
      perror("read");
      return 1;
    }
    total += r;
  }
  printf("read %lld bytes, touched %lld pages (%u)\n", total, pages, sum & 1);
  return 0;
}
