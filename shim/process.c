/*
 * shim/process.c: fork, exec, spawn and the exits that skip destructors.
 *
 * Statistics belong to one process image: the child of a fork starts its own
 * from zero; an exec writes the old image's file first (the new image writes
 * its own); _exit, _Exit and quick_exit skip destructors, so they write it
 * here.  vfork is not wrapped (a wrapper cannot return into a vfork child
 * safely); its child's exec is recognised by its pid and writes nothing.
 */
#include <alloca.h>
#include <stdarg.h>

#include "policy/readmap.h"
#include "policy/memroute.h"
#include "policy/prefetch.h"
#include "shim/shim.h"
#include "shim/readmap.h"


/*
 * Both processes can move the offsets of descriptions that exist at a fork:
 * read->mmap hands every shadow offset back to the kernel and stops
 * converting them, in both processes (the child inherits the stopped state).
 */
/*
 * Then the shim's global locks are taken in their nesting order, so that no
 * other thread is half-way through an update when the address space is
 * copied, and released (parent) or reset (child) after.
 */
/* Marks a fork or spawn under way (see mmhint__spawn_gen in shim/shim.h). */
static inline void spawn_begin(void) {
  __atomic_fetch_add(&mmhint__spawning, 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&mmhint__spawn_gen, 1, __ATOMIC_SEQ_CST);
}
static inline void spawn_end(void) { __atomic_fetch_sub(&mmhint__spawning, 1, __ATOMIC_SEQ_CST); }

static void fork_locks(int phase) {
  mmhint_ofd_fork(phase);
  mmhint_prefetch_fork(phase); /* taken inside the table's lock when a description goes */
  mmhint_rm_fork(phase);
  mmhint_residency_fork(phase);
  mmhint_stats_fork(phase);
  mmhint_memroute_fork(phase); /* a leaf, taken inside malloc: last */
}

/* Set while this thread holds the locks across its fork (never in a handler that interrupted the shim). */
static __thread int fork_locked __attribute__((tls_model("initial-exec")));

static inline void before_fork(void) {
  if (mmhint__state == MMHINT_STATE_READY && !mmhint__busy) {
    spawn_begin();
    mmhint__rm_sync_all(MMHINT_RM_SYNC_STOP);
    mmhint__mark_all_shared();
    fork_locks(MMHINT_FORK_PREPARE);
    fork_locked = 1;
  }
}

static inline pid_t after_fork(pid_t r) {
  if (mmhint__state != MMHINT_STATE_READY) return r;
  int saved_errno = errno;
  if (fork_locked) {
    fork_locks(r == 0 ? MMHINT_FORK_CHILD : MMHINT_FORK_PARENT);
    if (r == 0) mmhint__spawning = 0; /* the child has this one thread */
    else spawn_end();
  }
  fork_locked = 0;
  if (r == 0) {
    mmhint__after_fork_child();
    mmhint__prefetch_after_fork();
    mmhint__snapshot_after_fork();
  }
  errno = saved_errno;
  return r;
}

/*
 * Before a new image (exec, or a spawned child) can see this process's
 * descriptions: the kernel offsets of those it inherits must be right, and
 * since the new image may move them, they stop converting.  Descriptions
 * marked close-on-exec keep converting (their offsets are synced anyway, so
 * a failed exec leaves everything consistent).  Run in a vfork child too, whose
 * memory is the parent's: the parent then sees the same stopped state.
 */
static inline void before_new_image(void) { mmhint__rm_sync_all(MMHINT_RM_SYNC_STOP_INHERITED); }

MMHINT_EXPORT pid_t fork(void) {
  before_fork();
  return after_fork(MMHINT_CALL_REAL(fork, (pid_t)syscall(SYS_fork), ));
}

MMHINT_EXPORT pid_t _Fork(void) {
  before_fork();
  return after_fork(MMHINT_CALL_REAL(_Fork, (pid_t)syscall(SYS_fork), ));
}

/* ---- exec ---------------------------------------------------------------------- */

/* Writes this image's statistics before an exec replaces it. */
static inline void before_exec(void) {
  before_new_image();
  mmhint__finish("exec");
}

/* The exec failed and the image goes on: its statistics are not final after all. */
static inline int exec_failed(int r) {
  int saved_errno = errno;
  mmhint__unfinish();
  errno = saved_errno;
  return r;
}

MMHINT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execve, (int)syscall(SYS_execve, path, argv, envp), path, argv, envp));
}

MMHINT_EXPORT int execv(const char *path, char *const argv[]) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execv, (int)mmhint__enosys(), path, argv));
}

MMHINT_EXPORT int execvp(const char *file, char *const argv[]) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execvp, (int)mmhint__enosys(), file, argv));
}

MMHINT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execvpe, (int)mmhint__enosys(), file, argv, envp));
}

MMHINT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(fexecve, (int)mmhint__enosys(), fd, argv, envp));
}

MMHINT_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags) {
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execveat, (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags), dirfd,
                                      path, argv, envp, flags));
}

/*
 * The execl family takes its arguments as a list ending in NULL; collect them
 * on the stack (as glibc does) and hand them to the array form.
 */
#define MMHINT_COLLECT_ARGS(arg0, argv)                        \
  size_t argc_ = 1;                                            \
  va_list ap_;                                                 \
  va_start(ap_, arg0);                                         \
  while (va_arg(ap_, char *)) argc_++;                         \
  va_end(ap_);                                                 \
  char **argv = alloca((argc_ + 1) * sizeof(char *));          \
  argv[0] = (char *)(arg0);                                    \
  va_start(ap_, arg0);                                         \
  for (size_t i_ = 1; i_ <= argc_; i_++) argv[i_] = va_arg(ap_, char *);

MMHINT_EXPORT int execl(const char *path, const char *arg, ...) {
  MMHINT_COLLECT_ARGS(arg, argv);
  va_end(ap_);
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execv, (int)mmhint__enosys(), path, argv));
}

MMHINT_EXPORT int execlp(const char *file, const char *arg, ...) {
  MMHINT_COLLECT_ARGS(arg, argv);
  va_end(ap_);
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execvp, (int)mmhint__enosys(), file, argv));
}

MMHINT_EXPORT int execle(const char *path, const char *arg, ...) {
  MMHINT_COLLECT_ARGS(arg, argv);
  char **envp = va_arg(ap_, char **);
  va_end(ap_);
  before_exec();
  return exec_failed(MMHINT_CALL_REAL(execve, (int)syscall(SYS_execve, path, argv, envp), path, argv, envp));
}

/* ---- Spawning -------------------------------------------------------------------- */

/*
 * posix_spawn, system and popen start a new image in a child without running
 * this library's fork or exec wrappers; the parent goes on.  read->mmap puts
 * the offsets the child inherits in step first, and stops converting them.
 */
MMHINT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                              const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  spawn_begin();
  before_new_image();
  int r = MMHINT_CALL_REAL(posix_spawn, ENOSYS, pid, path, fa, attr, argv, envp);
  spawn_end();
  return r;
}

MMHINT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                               const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  spawn_begin();
  before_new_image();
  int r = MMHINT_CALL_REAL(posix_spawnp, ENOSYS, pid, file, fa, attr, argv, envp);
  spawn_end();
  return r;
}

MMHINT_EXPORT int system(const char *command) {
  spawn_begin();
  before_new_image();
  int r = MMHINT_CALL_REAL(system, (int)mmhint__enosys(), command);
  int saved_errno = errno;
  spawn_end();
  errno = saved_errno;
  return r;
}

MMHINT_EXPORT FILE *popen(const char *command, const char *mode) {
  spawn_begin();
  before_new_image();
  FILE *r = MMHINT_CALL_REAL(popen, (errno = ENOSYS, (FILE *)NULL), command, mode);
  int saved_errno = errno;
  spawn_end();
  errno = saved_errno;
  return r;
}

/* ---- Exits that skip destructors ------------------------------------------------------ */

MMHINT_EXPORT void _exit(int status) {
  mmhint__finish("_exit");
  if (MMHINT_REAL(_exit)) MMHINT_REAL(_exit)(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

MMHINT_EXPORT void _Exit(int status) {
  mmhint__finish("_exit");
  if (MMHINT_REAL(_Exit)) MMHINT_REAL(_Exit)(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}

MMHINT_EXPORT void quick_exit(int status) {
  /* at_quick_exit handlers run inside the real quick_exit, before its _exit: record first. */
  mmhint__finish("quick_exit");
  if (MMHINT_REAL(quick_exit)) MMHINT_REAL(quick_exit)(status);
  syscall(SYS_exit_group, status);
  __builtin_unreachable();
}
