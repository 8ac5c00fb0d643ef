/*
 * tests/programs/write_stdio.c: writes FILE through stdio, for the write
 * statistics test (tests/integration/write_truth.sh).
 *
 *   write_stdio FILE
 *
 * fopen(FILE, "w"), then fwrite, fwrite_unlocked, fputs and fputs_unlocked
 * of known sizes, two fflush calls of the stream and one fflush(NULL), then
 * fclose.  Prints what it did, one "name value" per line:
 *   stdio_writes N, stdio_bytes N, stdio_flushes N (fflush of this stream)
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: write_stdio FILE\n");
    return 2;
  }
  FILE *fp = fopen(argv[1], "w");
  if (!fp) {
    perror(argv[1]);
    return 1;
  }
  char rec[1000];
  memset(rec, 'r', sizeof rec);
  unsigned long writes = 0, bytes = 0, flushes = 0;
  for (int i = 0; i < 300; i++) {
    writes++, bytes += fwrite(rec, 10, 100, fp) * 10;
    writes++, bytes += fwrite_unlocked(rec, 1, 333, fp);
    if (fputs("a line written with fputs\n", fp) != EOF) writes++, bytes += 26;
    if (fputs_unlocked("and with fputs_unlocked\n", fp) != EOF) writes++, bytes += 24;
    if (i % 150 == 0) flushes++, fflush(fp);
  }
  fflush(NULL); /* every stream: not attributed to one */
  fclose(fp);
  printf("stdio_writes %lu\nstdio_bytes %lu\nstdio_flushes %lu\n", writes, bytes, flushes);
  return 0;
}
