/*
 * policy/os/os.c: raw system calls for policy/.  See os.h for why.
 */
#include "policy/os/os.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Issues a system call without disturbing errno; returns -errno on failure. */
#define MMHINT_RAW(...)                     \
  ({                                        \
    int saved_errno_ = errno;               \
    long r_ = syscall(__VA_ARGS__);         \
    if (r_ == -1) r_ = -errno;              \
    errno = saved_errno_;                   \
    r_;                                     \
  })

long mmhint_os_open(const char *path, int flags, int mode) { return MMHINT_RAW(SYS_openat, AT_FDCWD, path, flags, mode); }
long mmhint_os_read(int fd, void *buf, size_t len) { return MMHINT_RAW(SYS_read, fd, buf, len); }
long mmhint_os_pread(int fd, void *buf, size_t len, off_t off) { return MMHINT_RAW(SYS_pread64, fd, buf, len, off); }
long mmhint_os_write(int fd, const void *buf, size_t len) { return MMHINT_RAW(SYS_write, fd, buf, len); }
long mmhint_os_close(int fd) { return MMHINT_RAW(SYS_close, fd); }
long mmhint_os_fstat(int fd, struct stat *st) { return MMHINT_RAW(SYS_fstat, fd, st); }
long mmhint_os_lseek(int fd, off_t off, int whence) { return MMHINT_RAW(SYS_lseek, fd, off, whence); }
long mmhint_os_rename(const char *from, const char *to) { return MMHINT_RAW(SYS_rename, from, to); }
long mmhint_os_link(const char *from, const char *to) { return MMHINT_RAW(SYS_link, from, to); }
long mmhint_os_rename_noreplace(const char *from, const char *to) {
  return MMHINT_RAW(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 1 /* RENAME_NOREPLACE */);
}
long mmhint_os_unlink(const char *path) { return MMHINT_RAW(SYS_unlink, path); }
long mmhint_os_fsync(int fd) { return MMHINT_RAW(SYS_fsync, fd); }
long mmhint_os_munmap(void *addr, size_t len) { return MMHINT_RAW(SYS_munmap, addr, len); }
long mmhint_os_madvise(void *addr, size_t len, int advice) { return MMHINT_RAW(SYS_madvise, addr, len, advice); }
long mmhint_os_fadvise(int fd, off_t off, off_t len, int advice) { return MMHINT_RAW(SYS_fadvise64, fd, off, len, advice); }
long mmhint_os_getpid(void) { return syscall(SYS_getpid); }

void *mmhint_os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  long r = MMHINT_RAW(SYS_mmap, addr, len, prot, flags, fd, off);
  if (r < 0 && r > -4096) return MAP_FAILED;
  return (void *)r;
}

long mmhint_os_read_small(const char *path, char *buf, size_t len) {
  long fd = mmhint_os_open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  size_t have = 0;
  long n;
  while (have < len - 1 && (n = mmhint_os_read((int)fd, buf + have, len - 1 - have)) > 0) have += (size_t)n;
  mmhint_os_close((int)fd);
  buf[have] = '\0';
  return (long)have;
}

long mmhint_os_slurp(const char *path, size_t max, char **out) {
  long fd = mmhint_os_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0) return fd;
  struct stat st;
  long r = mmhint_os_fstat((int)fd, &st);
  if (r < 0) goto out;
  if (!S_ISREG(st.st_mode)) { r = -EINVAL; goto out; }
  char *buf = mmhint_os_mmap(NULL, max + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) { r = -ENOMEM; goto out; }
  size_t have = 0;
  for (;;) {
    long n = mmhint_os_read((int)fd, buf + have, max + 1 - have);
    if (n == -EINTR) continue;
    if (n < 0) { mmhint_os_munmap(buf, max + 1); r = n; goto out; }
    if (n == 0) break;
    have += (size_t)n;
    if (have > max) { mmhint_os_munmap(buf, max + 1); r = -EFBIG; goto out; }
  }
  buf[have] = '\0';
  *out = buf;
  r = (long)have;
out:
  mmhint_os_close((int)fd);
  return r;
}

long mmhint_os_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    long n = mmhint_os_write(fd, p, len);
    if (n == -EINTR) continue;
    if (n < 0) return n;
    if (n == 0) return -EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void mmhint_os_warn(const char *a, const char *b, const char *c, const char *d) {
  char line[1024];
  size_t n = 0;
  const char *parts[] = {"mmhint: ", a, b, c, d};
  for (int i = 0; i < 5; i++)
    for (const char *p = parts[i]; p && *p && n < sizeof line - 2; p++) line[n++] = *p;
  line[n++] = '\n';
  mmhint_os_write_all(2, line, n);
}

long mmhint_os_mbind(void *addr, size_t len, int mode, const unsigned long *mask, unsigned long maxnode,
                     unsigned flags) {
  return MMHINT_RAW(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}
long mmhint_os_set_mempolicy(int mode, const unsigned long *mask, unsigned long maxnode) {
  return MMHINT_RAW(SYS_set_mempolicy, mode, mask, maxnode);
}
long mmhint_os_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags) {
  return MMHINT_RAW(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

long mmhint_os_mincore(void *addr, size_t len, unsigned char *vec) { return MMHINT_RAW(SYS_mincore, addr, len, vec); }

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* the same number on every architecture (asm-generic and x86) */
#endif

long mmhint_os_cachestat(int fd, unsigned long long off, unsigned long long len, unsigned long long *nr_cache) {
  /* struct cachestat_range and struct cachestat of <linux/mman.h>, spelt out for older headers. */
  struct { unsigned long long off, len; } range = {off, len};
  struct { unsigned long long nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } cs = {0, 0, 0, 0, 0};
  long r = MMHINT_RAW(SYS_cachestat, fd, &range, &cs, 0);
  if (r == 0) *nr_cache = cs.nr_cache;
  return r;
}
