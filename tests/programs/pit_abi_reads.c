/*
 * pit_abi_reads: reads one file through every door of the read family, for
 * tests/integration/pitfall_abi_coverage.sh (PITFALLS 3: doors you did not
 * wrap).  The script compiles this file again with -O2 -D_FORTIFY_SOURCE=3
 * (so the calls become __open_2, __read_chk, __pread_chk, __fread_chk,
 * __fgets_chk, __getdelim ...) and with -D_FILE_OFFSET_BITS=64 (open64,
 * pread64, lseek64, fopen64, fseeko64, mmap64 ...), and checks that the
 * statistics count exactly the calls this program reports.
 *
 * Usage: pit_abi_reads FILE
 * Prints: read_calls (read/pread/readv/preadv calls, including those that
 * returned 0), bytes_read, seeks (lseek calls), stdio_reads (stdio calls that
 * returned data), stdio_bytes, stdio_seeks, opens, stdio_opens, mmaps.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

static volatile int rdonly = O_RDONLY; /* not a constant: fortify must route open() to __open_2 */
/* Sizes the compiler cannot see: fortify must use the __*_chk entry points, not prove the calls safe. */
static volatile size_t chunk = 1000;
static volatile size_t bufsz = 4096;
static volatile int ibufsz = 4096;

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *path = argv[1];
  unsigned long calls = 0, bytes = 0, seeks = 0, scalls = 0, sbytes = 0, sseeks = 0;
  char buf[4096];
  ssize_t r;

  int fd = open(path, rdonly);
  if (fd < 0) return 3;
  while ((r = read(fd, buf, bufsz)) > 0) calls++, bytes += (unsigned long)r;
  calls++;
  if (lseek(fd, 0, SEEK_SET) != 0) return 4;
  seeks++;
  struct iovec iov[2] = {{buf, 100}, {buf + 100, 200}};
  r = readv(fd, iov, 2);
  calls++, bytes += r > 0 ? (unsigned long)r : 0;
  for (off_t off = 0; (r = pread(fd, buf, bufsz - 1096, off)) > 0; off += r) calls++, bytes += (unsigned long)r;
  calls++;
  r = preadv(fd, iov, 2, 500);
  calls++, bytes += r > 0 ? (unsigned long)r : 0;
  char *m = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return 5;
  unsigned long msum = (unsigned char)m[100];
  munmap(m, 8192);
  close(fd);

  fd = openat(AT_FDCWD, path, rdonly);
  if (fd < 0) return 6;
  r = read(fd, buf, chunk / 100);
  calls++, bytes += r > 0 ? (unsigned long)r : 0;
  close(fd);

  FILE *fp = fopen(path, "r");
  if (!fp) return 7;
  size_t k;
  while ((k = fread(buf, 1, bufsz, fp)) > 0) scalls++, sbytes += k;
  if (fseeko(fp, 0, SEEK_SET) != 0) return 8;
  sseeks++;
  while (fgets(buf, ibufsz, fp)) scalls++, sbytes += strlen(buf);
  rewind(fp);
  sseeks++;
  if (ftello(fp) != 0) return 9;
  sseeks++;
  char *line = NULL;
  size_t cap = 0;
  for (int i = 0; i < 100 && (r = getline(&line, &cap, fp)) > 0; i++) scalls++, sbytes += (unsigned long)r;
  fpos_t pos;
  if (fgetpos(fp, &pos) != 0) return 10;
  sseeks++;
  if ((k = fread_unlocked(buf, 1, chunk, fp)) > 0) scalls++, sbytes += k;
  if (fgets_unlocked(buf, ibufsz, fp)) scalls++, sbytes += strlen(buf);
  if (fsetpos(fp, &pos) != 0) return 11;
  sseeks++;
  if ((r = getdelim(&line, &cap, '5', fp)) > 0) scalls++, sbytes += (unsigned long)r;
  free(line);
  fclose(fp);

  printf("opens 2\nstdio_opens 1\nmmaps 1\nread_calls %lu\nbytes_read %lu\nseeks %lu\n"
         "stdio_reads %lu\nstdio_bytes %lu\nstdio_seeks %lu\nmapped_byte %lu\n",
         calls, bytes, seeks, scalls, sbytes, sseeks, msum);
  return 0;
}
