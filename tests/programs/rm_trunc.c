/*
 * rm_trunc: reads FILE in 4 KiB pieces; after the first MiB it tells the
 * test (a line on stdout, then a byte on the fd in argv[2]) and waits until
 * the test has truncated FILE from another process, then reads on and
 * prints every result.  Must end normally (no SIGBUS) with short reads or 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int fd = open(argv[1], O_RDONLY), go = atoi(argv[2]);
  char buf[4096], c;
  long total = 0;
  ssize_t r;
  while (total < (1 << 20) && (r = read(fd, buf, sizeof buf)) > 0) total += r;
  printf("read %ld, waiting\n", total);
  fflush(stdout);
  if (read(go, &c, 1) != 1) return 1;
  for (int i = 0; i < 8; i++) {
    r = read(fd, buf, sizeof buf);
    printf("read -> %zd\n", r);
  }
  r = pread(fd, buf, sizeof buf, 1000);
  printf("pread(1000) -> %zd\n", r);
  r = pread(fd, buf, sizeof buf, 3 << 20);
  printf("pread(3M) -> %zd\n", r);
  return 0;
}
