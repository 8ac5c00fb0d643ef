/*
 * rm_headcat: what `{ head -n1 >/dev/null; cat; } < FILE` does, in one
 * process that opens FILE itself: open, dup2 onto 0, read a block, seek back
 * to just after the first line (as GNU head does on seekable input), then
 * exec cat on the inherited descriptor.  Under read->mmap the read and the
 * seek are served from the shadow offset and the exec must hand it to the
 * kernel first.  Output must equal `tail -n +2 FILE`.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0 || dup2(fd, 0) != 0) return 1;
  close(fd);
  char buf[4096];
  ssize_t r = read(0, buf, sizeof buf);
  if (r < 0) return 1;
  char *nl = memchr(buf, '\n', (size_t)r);
  if (nl && lseek(0, (nl + 1 - buf) - r, SEEK_CUR) < 0) return 1;
  execlp("cat", "cat", (char *)NULL);
  return 127;
}
