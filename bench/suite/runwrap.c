/*
 * runwrap [--null-stdout] [--resident FILE] -- CMD [ARG...]
 *
 * Runs CMD as a child, waits for it, and appends one line to stderr:
 *   runwrap exit=S read_bytes=N [resident_bytes=M file_bytes=F]
 * read_bytes is the child's (and its reaped descendants') storage input from
 * wait4's ru_inblock (the kernel's read_bytes of /proc/PID/io, in 512-byte
 * units).  --resident FILE: after CMD exits, how many bytes of FILE are in
 * the page cache (mincore on a fresh mapping).  The residency check uses raw
 * system calls, so an LD_PRELOADed libmmhint in this process neither sees
 * nor changes it.  --null-stdout sends CMD's stdout to /dev/null
 * (`cat F > /dev/null` without a shell).  Exit status: CMD's.
 * Used by scripts/bench.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long long resident(const char *path, long long *file_bytes) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0) return -1;
  *file_bytes = st.st_size;
  if (st.st_size == 0) return 0;
  long page = sysconf(_SC_PAGESIZE);
  size_t pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
  void *m = (void *)syscall(SYS_mmap, NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  syscall(SYS_close, fd);
  if (m == MAP_FAILED) return -1;
  unsigned char *vec = (unsigned char *)syscall(SYS_mmap, NULL, pages, PROT_READ | PROT_WRITE,
                                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (vec == MAP_FAILED) return -1;
  long long n = -1;
  if (syscall(SYS_mincore, m, (size_t)st.st_size, vec) == 0) {
    n = 0;
    for (size_t i = 0; i < pages; i++) n += vec[i] & 1;
    n *= page;
    if (n > st.st_size) n = st.st_size;
  }
  syscall(SYS_munmap, m, (size_t)st.st_size);
  syscall(SYS_munmap, vec, pages);
  return n;
}

int main(int argc, char **argv) {
  const char *res = NULL;
  int null_out = 0, i = 1;
  for (; i < argc; i++) {
    if (!strcmp(argv[i], "--null-stdout")) null_out = 1;
    else if (!strcmp(argv[i], "--resident") && i + 1 < argc) res = argv[++i];
    else if (!strcmp(argv[i], "--")) { i++; break; }
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: runwrap [--null-stdout] [--resident FILE] -- CMD [ARG...]\n");
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 2; }
  if (pid == 0) {
    if (null_out) {
      int fd = open("/dev/null", O_WRONLY);
      if (fd >= 0) { dup2(fd, 1); close(fd); }
    }
    execvp(argv[i], argv + i);
    perror(argv[i]);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 2; }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  fprintf(stderr, "runwrap exit=%d read_bytes=%lld", code, (long long)ru.ru_inblock * 512);
  if (res) {
    long long fb = 0, r = resident(res, &fb);
    fprintf(stderr, " resident_bytes=%lld file_bytes=%lld", r, fb);
  }
  fprintf(stderr, "\n");
  return code;
}
