/*
 * pit_bigfd: descriptors far above the usual limit, for
 * tests/integration/pitfall_fd_limits.sh (PITFALLS 17).  Run it with a
 * RLIMIT_NOFILE of 2^30.
 *
 * Usage: pit_bigfd FILE_A FILE_B
 * dup2s FILE_A onto fd 1000000 (below the shim's table reach of 1,048,576)
 * and FILE_B onto fd 2000000 (above it), closes the originals, reads FILE_A
 * 3 times (1000 bytes each) and FILE_B 5 times (100 bytes each), and prints
 * what it read and whether VmRSS stayed under 64 MB.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static long rss_kb(void) {
  FILE *fp = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (fp && fgets(line, sizeof line, fp))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (fp) fclose(fp);
  return kb;
}

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  printf("nofile soft=%llu hard=%llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  int a = open(argv[1], O_RDONLY), b = open(argv[2], O_RDONLY);
  if (a < 0 || b < 0) return 3;
  if (dup2(a, 1000000) != 1000000) { perror("dup2 1000000"); return 4; }
  if (dup2(b, 2000000) != 2000000) { perror("dup2 2000000"); return 5; }
  close(a);
  close(b);
  char buf[1000];
  long ta = 0, tb = 0;
  for (int i = 0; i < 3; i++) ta += read(1000000, buf, 1000);
  for (int i = 0; i < 5; i++) tb += read(2000000, buf, 100);
  long kb = rss_kb();
  printf("read_low=%ld read_high=%ld rss_under_64MB=%s\n", ta, tb, kb > 0 && kb < 64 * 1024 ? "yes" : "no");
  if (kb >= 64 * 1024) fprintf(stderr, "VmRSS %ld kB\n", kb);
  close(1000000);
  close(2000000);
  return 0;
}
