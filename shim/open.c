/*
 * shim/open.c: the open family, close, and the calls that copy descriptors.
 *
 * Opening starts tracking the descriptor (its statistics record and policy);
 * closing forgets it; dup, dup2, dup3 and F_DUPFD make another number point
 * at the same open file description, so they share one mmhint_ofd_t.
 */
#include <stdarg.h>

#include "policy/readmap.h"
#include "shim/shim.h"
#include "shim/readmap.h"

/* Reads the mode argument of open/openat, present only with O_CREAT or O_TMPFILE. */
#define MMHINT_OPEN_MODE(flags, last)           \
  mode_t mode = 0;                              \
  if ((flags) & (O_CREAT | __O_TMPFILE)) {      \
    va_list ap;                                 \
    va_start(ap, last);                         \
    mode = (mode_t)va_arg(ap, int);             \
    va_end(ap);                                 \
  }

/* Records a successful open and returns its result unchanged; `gen` is mmhint__spawn_gen before the open. */
static inline int opened(int fd, int dirfd, const char *path, int flags, uint64_t gen) {
  if (fd >= 0 && (flags & O_TRUNC)) mmhint_rm_bump_epoch(); /* read->mmap: sizes may have shrunk */
  if (fd >= 0) mmhint__track_open_at(fd, dirfd, path, flags, 0, gen);
  return fd;
}

/* Makes the real open call `call` and records it, noting the fork generation first (see mmhint__spawn_gen). */
#define MMHINT_OPENED(call, dirfd, path, flags)                            \
  ({                                                                       \
    uint64_t gen_ = __atomic_load_n(&mmhint__spawn_gen, __ATOMIC_SEQ_CST); \
    int fd_ = call;                                                        \
    opened(fd_, dirfd, path, flags, gen_);                                 \
  })

#define MMHINT_SYS_OPENAT(dirfd, path, flags, mode) ((int)syscall(SYS_openat, dirfd, path, flags, mode))

MMHINT_EXPORT int open(const char *path, int flags, ...) {
  MMHINT_OPEN_MODE(flags, flags);
  if (!mmhint__enter()) return MMHINT_CALL_REAL(open, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags, mode), path, flags, mode);
  return MMHINT_OPENED(MMHINT_REAL(open)(path, flags, mode), AT_FDCWD, path, flags);
}

MMHINT_EXPORT int open64(const char *path, int flags, ...) {
  MMHINT_OPEN_MODE(flags, flags);
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(open64, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags | O_LARGEFILE, mode), path, flags, mode);
  return MMHINT_OPENED(MMHINT_REAL(open64)(path, flags, mode), AT_FDCWD, path, flags);
}

MMHINT_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  MMHINT_OPEN_MODE(flags, flags);
  if (!mmhint__enter()) return MMHINT_CALL_REAL(openat, MMHINT_SYS_OPENAT(dirfd, path, flags, mode), dirfd, path, flags, mode);
  return MMHINT_OPENED(MMHINT_REAL(openat)(dirfd, path, flags, mode), dirfd, path, flags);
}

MMHINT_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  MMHINT_OPEN_MODE(flags, flags);
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(openat64, MMHINT_SYS_OPENAT(dirfd, path, flags | O_LARGEFILE, mode), dirfd, path, flags, mode);
  return MMHINT_OPENED(MMHINT_REAL(openat64)(dirfd, path, flags, mode), dirfd, path, flags);
}

/* The fortify entry points: the compiler emits them for open() calls whose flags it could not see. */
MMHINT_EXPORT int __open_2(const char *path, int flags) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(__open_2, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags, 0), path, flags);
  return MMHINT_OPENED(MMHINT_REAL(__open_2)(path, flags), AT_FDCWD, path, flags);
}

MMHINT_EXPORT int __open64_2(const char *path, int flags) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__open64_2, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags | O_LARGEFILE, 0), path, flags);
  return MMHINT_OPENED(MMHINT_REAL(__open64_2)(path, flags), AT_FDCWD, path, flags);
}

MMHINT_EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(__openat_2, MMHINT_SYS_OPENAT(dirfd, path, flags, 0), dirfd, path, flags);
  return MMHINT_OPENED(MMHINT_REAL(__openat_2)(dirfd, path, flags), dirfd, path, flags);
}

MMHINT_EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(__openat64_2, MMHINT_SYS_OPENAT(dirfd, path, flags | O_LARGEFILE, 0), dirfd, path, flags);
  return MMHINT_OPENED(MMHINT_REAL(__openat64_2)(dirfd, path, flags), dirfd, path, flags);
}

MMHINT_EXPORT int creat(const char *path, mode_t mode) {
  int flags = O_CREAT | O_WRONLY | O_TRUNC;
  if (!mmhint__enter()) return MMHINT_CALL_REAL(creat, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags, mode), path, mode);
  return MMHINT_OPENED(MMHINT_REAL(creat)(path, mode), AT_FDCWD, path, flags);
}

MMHINT_EXPORT int creat64(const char *path, mode_t mode) {
  int flags = O_CREAT | O_WRONLY | O_TRUNC;
  if (!mmhint__enter())
    return MMHINT_CALL_REAL(creat64, MMHINT_SYS_OPENAT(AT_FDCWD, path, flags | O_LARGEFILE, mode), path, mode);
  return MMHINT_OPENED(MMHINT_REAL(creat64)(path, mode), AT_FDCWD, path, flags);
}

/* ---- Closing ---------------------------------------------------------------- */

/*
 * The table is updated even when the shim is busy or disabled later on: a
 * stale entry would attribute a future descriptor of the same number to the
 * wrong file.  Forgetting is lock-protected and cheap.
 */
MMHINT_EXPORT int close(int fd) {
  if (mmhint__state == MMHINT_STATE_READY) {
    /* The hints' last word (drop-behind, residency at close) needs the descriptor still open. */
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o && o->refs == 1 && o->hints.active && !mmhint__busy) {
      mmhint__busy = 1;
      mmhint_hints_close(&o->hints, fd, mmhint_ticks());
      mmhint__busy = 0;
    }
    mmhint_ofd_detach(fd);
  }
  return MMHINT_CALL_REAL(close, (int)syscall(SYS_close, fd), fd);
}

MMHINT_EXPORT int close_range(unsigned int lo, unsigned int hi, int flags) {
  int r = MMHINT_CALL_REAL(close_range, (int)syscall(SYS_close_range, lo, hi, flags), lo, hi, flags);
  /* CLOSE_RANGE_CLOEXEC only marks them; CLOSE_RANGE_UNSHARE alone still closes. */
  if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && mmhint__state == MMHINT_STATE_READY) mmhint_ofd_detach_range(lo, hi);
  return r;
}

MMHINT_EXPORT void closefrom(int lowfd) {
  if (mmhint__state == MMHINT_STATE_READY && lowfd >= 0) mmhint_ofd_detach_range((unsigned)lowfd, ~0u);
  if (MMHINT_REAL(closefrom)) MMHINT_REAL(closefrom)(lowfd);
  else syscall(SYS_close_range, lowfd, ~0u, 0);
}

MMHINT_EXPORT int closedir(DIR *dir) {
  /* closedir closes its descriptor inside libc, where the close wrapper cannot see it. */
  if (mmhint__state == MMHINT_STATE_READY) mmhint_ofd_detach(dirfd(dir));
  return MMHINT_CALL_REAL(closedir, (int)mmhint__enosys(), dir);
}

/* ---- Copying descriptors ---------------------------------------------------- */

/* Points newfd at the description of oldfd after a successful copy. */
static inline int copied(int oldfd, int newfd) {
  if (newfd >= 0 && newfd != oldfd && mmhint__state == MMHINT_STATE_READY) {
    int saved_errno = errno;
    mmhint_ofd_t *o = mmhint_ofd_get(oldfd);
    if (o) mmhint_ofd_attach(newfd, o);
    else mmhint_ofd_detach(newfd);
    errno = saved_errno;
  }
  return newfd;
}

MMHINT_EXPORT int dup(int fd) { return copied(fd, MMHINT_CALL_REAL(dup, (int)syscall(SYS_dup, fd), fd)); }

MMHINT_EXPORT int dup2(int fd, int fd2) {
  return copied(fd, MMHINT_CALL_REAL(dup2, (int)syscall(SYS_dup2, fd, fd2), fd, fd2));
}

MMHINT_EXPORT int dup3(int fd, int fd2, int flags) {
  return copied(fd, MMHINT_CALL_REAL(dup3, (int)syscall(SYS_dup3, fd, fd2, flags), fd, fd2, flags));
}

/* fcntl's third argument is an int or a pointer; a long carries either on this ABI. */
static inline int fcntl_common(__typeof__(fcntl) *real, int fd, int cmd, long arg) {
  /* O_DIRECT or O_APPEND set later: read->mmap stops, as if the file had been opened so. */
  if (cmd == F_SETFL && (arg & (O_DIRECT | O_APPEND)) && mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o && o->rm) mmhint__rm_stop(fd, o, MMHINT_FB_open_flags);
  }
  int r = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) copied(fd, r);
  /* Writes on an O_APPEND description land at the end: the write statistics ask the kernel where (shim/shim.h). */
  if (cmd == F_SETFL && r == 0 && mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o) o->oflags = (o->oflags & ~O_APPEND) | ((int)arg & O_APPEND);
  }
  return r;
}

MMHINT_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if (!MMHINT_REAL(fcntl) && mmhint__state == MMHINT_STATE_NONE) mmhint__bootstrap();
  return fcntl_common(MMHINT_REAL(fcntl), fd, cmd, arg);
}

MMHINT_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if (!MMHINT_REAL(fcntl64) && mmhint__state == MMHINT_STATE_NONE) mmhint__bootstrap();
  return fcntl_common(MMHINT_REAL(fcntl64), fd, cmd, arg);
}

/* ---- Descriptors made by calls that are not opens ------------------------------ */

/*
 * pipe, socket, accept and the rest hand out the lowest free number.  If that
 * number was closed behind the shim's back (a raw close system call, a
 * library closing inside libc), the table may still hold a description for
 * it; a fresh number must start clean, or reads of a pipe could be served
 * from the mapping of a file that number used to be.
 */
static inline int fresh(int fd) {
  if (fd >= 0 && mmhint__state == MMHINT_STATE_READY) {
    int saved_errno = errno;
    mmhint_ofd_detach(fd);
    errno = saved_errno;
  }
  return fd;
}

/* The same for a pair of numbers returned through an array. */
static inline int fresh_pair(int r, const int *fds) {
  if (r == 0) {
    fresh(fds[0]);
    fresh(fds[1]);
  }
  return r;
}

MMHINT_EXPORT int pipe(int fds[2]) { return fresh_pair(MMHINT_CALL_REAL(pipe, (int)syscall(SYS_pipe2, fds, 0), fds), fds); }

MMHINT_EXPORT int pipe2(int fds[2], int flags) {
  return fresh_pair(MMHINT_CALL_REAL(pipe2, (int)syscall(SYS_pipe2, fds, flags), fds, flags), fds);
}

MMHINT_EXPORT int socket(int domain, int type, int protocol) {
  return fresh(MMHINT_CALL_REAL(socket, (int)syscall(SYS_socket, domain, type, protocol), domain, type, protocol));
}

MMHINT_EXPORT int socketpair(int domain, int type, int protocol, int fds[2]) {
  return fresh_pair(MMHINT_CALL_REAL(socketpair, (int)syscall(SYS_socketpair, domain, type, protocol, fds), domain,
                                     type, protocol, fds),
                    fds);
}

MMHINT_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
  return fresh(MMHINT_CALL_REAL(accept, (int)syscall(SYS_accept4, fd, addr, len, 0), fd, addr, len));
}

MMHINT_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
  return fresh(MMHINT_CALL_REAL(accept4, (int)syscall(SYS_accept4, fd, addr, len, flags), fd, addr, len, flags));
}

MMHINT_EXPORT int eventfd(unsigned int count, int flags) {
  return fresh(MMHINT_CALL_REAL(eventfd, (int)syscall(SYS_eventfd2, count, flags), count, flags));
}

MMHINT_EXPORT int memfd_create(const char *name, unsigned int flags) {
  return fresh(MMHINT_CALL_REAL(memfd_create, (int)syscall(SYS_memfd_create, name, flags), name, flags));
}

MMHINT_EXPORT int epoll_create(int size) {
  return fresh(MMHINT_CALL_REAL(epoll_create, (int)syscall(SYS_epoll_create1, 0), size));
}

MMHINT_EXPORT int epoll_create1(int flags) {
  return fresh(MMHINT_CALL_REAL(epoll_create1, (int)syscall(SYS_epoll_create1, flags), flags));
}

MMHINT_EXPORT int signalfd(int fd, const sigset_t *mask, int flags) {
  return fresh(MMHINT_CALL_REAL(signalfd, (int)syscall(SYS_signalfd4, fd, mask, 8, flags), fd, mask, flags));
}

MMHINT_EXPORT int timerfd_create(int clock, int flags) {
  return fresh(MMHINT_CALL_REAL(timerfd_create, (int)syscall(SYS_timerfd_create, clock, flags), clock, flags));
}

MMHINT_EXPORT int inotify_init(void) {
  return fresh(MMHINT_CALL_REAL(inotify_init, (int)syscall(SYS_inotify_init1, 0), ));
}

MMHINT_EXPORT int inotify_init1(int flags) {
  return fresh(MMHINT_CALL_REAL(inotify_init1, (int)syscall(SYS_inotify_init1, flags), flags));
}

/* ---- Passing descriptors to another process -------------------------------------- */

/*
 * sendmsg with SCM_RIGHTS gives another process the open file description:
 * from then on both can move its offset.  Put the kernel offset in step and
 * stop converting each description passed, before the message leaves.
 */
static void passing(const struct msghdr *msg) {
  if (!msg || mmhint__state != MMHINT_STATE_READY) return;
  int saved_errno = errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int *fds = (const int *)CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      mmhint_ofd_t *o = mmhint_ofd_get(fds[i]);
      if (!o) continue;
      o->flags |= MMHINT_OFD_SHARED | MMHINT_OFD_OUTSIDE;
      if (o->rm) mmhint__rm_stop(fds[i], o, MMHINT_FB_shared);
    }
  }
  errno = saved_errno;
}

MMHINT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  passing(msg);
  return MMHINT_CALL_REAL(sendmsg, syscall(SYS_sendmsg, fd, msg, flags), fd, msg, flags);
}
