/*
 * policy/os/os.h: the few kernel calls policy/ makes, as raw system calls.
 * They never enter the shim's wrappers, work before the shim has resolved a
 * single libc symbol, and never touch errno of the caller's (errors are
 * returned as -errno).  Unit tests may substitute them.
 */
#ifndef MMHINT_POLICY_OS_H
#define MMHINT_POLICY_OS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/stat.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Each returns the system call's result, or -errno; errno is left unchanged. */
long mmhint_os_open(const char *path, int flags, int mode);
long mmhint_os_read(int fd, void *buf, size_t len);
long mmhint_os_pread(int fd, void *buf, size_t len, off_t off);
long mmhint_os_write(int fd, const void *buf, size_t len);
long mmhint_os_close(int fd);
long mmhint_os_fstat(int fd, struct stat *st);
long mmhint_os_lseek(int fd, off_t off, int whence);
long mmhint_os_rename(const char *from, const char *to);
long mmhint_os_link(const char *from, const char *to); /* link(2): never replaces, never follows `to` */
long mmhint_os_rename_noreplace(const char *from, const char *to); /* renameat2 RENAME_NOREPLACE: -EEXIST when `to` exists */
long mmhint_os_unlink(const char *path);
long mmhint_os_fsync(int fd);
void *mmhint_os_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off); /* MAP_FAILED on error */
long mmhint_os_munmap(void *addr, size_t len);
long mmhint_os_madvise(void *addr, size_t len, int advice);
long mmhint_os_fadvise(int fd, off_t off, off_t len, int advice);
long mmhint_os_getpid(void);

/*
 * Reads a whole small file (at most `max` bytes) into a buffer from
 * mmhint_os_mmap.  Returns the length and sets *out, or -errno.  -EFBIG when
 * the file is larger than `max`.  Free with mmhint_os_munmap(*out, max + 1).
 */
long mmhint_os_slurp(const char *path, size_t max, char **out);

/* Reads a small /proc or /sys file into buf, at most len - 1 bytes, NUL-terminated; returns its length or -1. */
long mmhint_os_read_small(const char *path, char *buf, size_t len);

/* Writes the whole buffer, retrying short writes and EINTR. Returns 0 or -errno. */
long mmhint_os_write_all(int fd, const void *buf, size_t len);

/*
 * Writes one line to stderr: "mmhint: ", the parts that are not NULL, and a
 * newline, as a single raw write of at most 1,023 bytes (longer text is cut),
 * so that lines from several threads never interleave.  The one stderr
 * writer of the library: every "mmhint:" message goes through it.
 */
void mmhint_os_warn(const char *a, const char *b, const char *c, const char *d);

/* ---- NUMA placement (policy/memroute.c) ------------------------------------------ */

/*
 * mbind(2), set_mempolicy(2) and move_pages(2) as the kernel defines them
 * (libnuma is not used: it allocates).  `mask` has `maxnode` bits.  Each
 * returns 0 (move_pages: 0 or the number of pages not moved) or -errno.
 */
long mmhint_os_mbind(void *addr, size_t len, int mode, const unsigned long *mask, unsigned long maxnode,
                     unsigned flags);
long mmhint_os_set_mempolicy(int mode, const unsigned long *mask, unsigned long maxnode);
long mmhint_os_move_pages(int pid, unsigned long count, void **pages, const int *nodes, int *status, int flags);

/* ---- Page-cache residency (policy/residency.c, policy/hints.c) ---------------- */

/* mincore(2) over [addr, addr+len) of a mapping; vec gets one byte per page. Returns 0 or -errno. */
long mmhint_os_mincore(void *addr, size_t len, unsigned char *vec);

/*
 * cachestat(2) (Linux 6.5+): pages of fd's page cache in [off, off+len) (len 0
 * = to the end of the file) go to *nr_cache.  Returns 0, or -ENOSYS on older
 * kernels, -EPERM when the caller may not ask (the file is neither writable
 * nor owned by the caller), -EBADF, -EOPNOTSUPP (hugetlbfs).
 */
long mmhint_os_cachestat(int fd, unsigned long long off, unsigned long long len, unsigned long long *nr_cache);

#ifdef __cplusplus
}
#endif
#endif
