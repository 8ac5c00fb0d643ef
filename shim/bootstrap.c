/*
 * shim/bootstrap.c: start-up, the real symbols, and writing the statistics
 * when the process ends (descriptor tracking is shim/track.c).
 *
 * Start-up can be triggered by any wrapper (another library's constructor may
 * call open or malloc before ours runs), so it is idempotent and guarded by
 * a state word.  While it runs, the thread doing it is marked busy: the
 * allocations dlsym makes are served from a static arena (shim/alloc.c) and
 * every other wrapped call passes straight through.
 */
#include <dlfcn.h>
#include <limits.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/utsname.h>

#include "include/mmhint.h"
#include "policy/alloc.h"
#include "policy/arena.h"
#include "policy/fmt.h"
#include "policy/spin.h"
#include "policy/memroute.h"
#include "shim/shim.h"
#include "shim/signal.h"

/* ---- Real functions --------------------------------------------------------- */

#define MMHINT_X_REAL_DEF(name) __typeof__(name) *mmhint_real_##name;
MMHINT_SYMBOLS(MMHINT_X_REAL_DEF)
#undef MMHINT_X_REAL_DEF

int mmhint__state;
__thread int mmhint__busy __attribute__((tls_model("initial-exec")));
uint64_t mmhint__reentrant;
mmhint_config_t mmhint__cfg;
int mmhint__stats_on;
int mmhint__time_every;
__thread uint64_t mmhint__clock_last __attribute__((tls_model("initial-exec")));
int mmhint__has_rules;

/* What the process looks like, captured at start-up for the statistics. */
static char cmdline[8192];
static size_t cmdline_len;
static char host[65];
static char prog_name[64]; /* the program's name at start-up, safe in a file name (%e) */
static long my_pid;
static int end_signal;     /* the signal that ends the process, or 0 */
static int stats_written;
static char stats_written_path[4200];
static const char *end_reason = "exit";
static int stats_warned;            /* the start-up check already said the file cannot be written */
static struct stat stderr_at_start; /* what fd 2 was, so a late warning never lands in a program's own file */
static int stderr_known;

extern char **environ;
extern char *program_invocation_short_name;

/* ---- Messages --------------------------------------------------------------- */

void mmhint__warn(const char *a, const char *b, const char *c) { mmhint_os_warn(a, b, c, NULL); }

/*
 * Warns at exit only when fd 2 is still the file it was at start-up: many
 * programs close stderr in their exit handlers, and a program that reused
 * the number for its own output must not find our line in it.
 */
static void warn_late(const char *a, const char *b, const char *c) {
  struct stat now;
  if (stats_warned || !stderr_known || mmhint_os_fstat(2, &now) < 0) return;
  if (now.st_dev != stderr_at_start.st_dev || now.st_ino != stderr_at_start.st_ino) return;
  mmhint__warn(a, b, c);
}

static void emit_line(void *ctx, const char *line) {
  (void)ctx;
  mmhint_os_write_all(2, line, strlen(line));
  mmhint_os_write_all(2, "\n", 1);
}

/* ---- Start-up ---------------------------------------------------------------- */

static void resolve_all(void) {
#define MMHINT_X_RESOLVE(name)                                                   \
  if (!mmhint_real_##name) mmhint_real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);
  MMHINT_SYMBOLS(MMHINT_X_RESOLVE)
#undef MMHINT_X_RESOLVE
}

int mmhint__raw_io;

/* Nonzero when fn is defined in glibc's libc.so (dladdr names the object it lies in). */
static int in_libc(const void *fn) {
  Dl_info i;
  if (!fn || !dladdr(fn, &i) || !i.dli_fname) return 0;
  const char *base = strrchr(i.dli_fname, '/');
  base = base ? base + 1 : i.dli_fname;
  return strncmp(base, "libc.so", 7) == 0;
}

/* Sets mmhint__raw_io (shim/shim.h): the fast path's calls all reach glibc's own functions. */
static void check_raw_io(void) {
#define MMHINT_X_IN_LIBC(name) &&in_libc((const void *)mmhint_real_##name)
  mmhint__raw_io = 1 MMHINT_X_IN_LIBC(read) MMHINT_X_IN_LIBC(__read_chk) MMHINT_X_IN_LIBC(pread)
      MMHINT_X_IN_LIBC(pread64) MMHINT_X_IN_LIBC(__pread_chk) MMHINT_X_IN_LIBC(__pread64_chk)
      MMHINT_X_IN_LIBC(write) MMHINT_X_IN_LIBC(__write) MMHINT_X_IN_LIBC(pwrite) MMHINT_X_IN_LIBC(pwrite64)
      MMHINT_X_IN_LIBC(__pwrite64);
#undef MMHINT_X_IN_LIBC
}

static void capture_process(void) {
  my_pid = mmhint_os_getpid();
  long fd = mmhint_os_open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC, 0);
  cmdline_len = 0;
  if (fd >= 0) {
    long n;
    while (cmdline_len < sizeof cmdline &&
           (n = mmhint_os_read((int)fd, cmdline + cmdline_len, sizeof cmdline - cmdline_len)) > 0)
      cmdline_len += (size_t)n;
    mmhint_os_close((int)fd);
  }
  if (!prog_name[0]) /* once: a fork child keeps the name its parent started with */
    mmhint_stats_file_name(program_invocation_short_name, prog_name, sizeof prog_name);
  struct utsname u;
  if (syscall(SYS_uname, &u) == 0) {
    /* A plain loop: a sanitizer runtime may intercept string functions and refuse them this early. */
    for (size_t i = 0; i < sizeof host - 1 && u.nodename[i]; i++) host[i] = u.nodename[i];
  }
}

/*
 * Says at start-up, while stderr is surely open, when the statistics file
 * will not be writable: at exit the program may already have closed it.
 */
static void check_stats_path(void) {
  stderr_known = mmhint_os_fstat(2, &stderr_at_start) == 0;
  char path[4096];
  if (mmhint_stats_expand_path(mmhint__cfg.values.str[MMHINT_OPT_stats], mmhint_os_getpid(), prog_name, host,
                               mmhint_clock_unix_ns() / 1000000000u, path, sizeof path) != 0) {
    mmhint__warn("statistics will not be written: the stats path template is too long", "", "");
    stats_warned = 1;
    return;
  }
  char *slash = strrchr(path, '/');
  if (slash == path) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else path[0] = '.', path[1] = '\0';
  if (syscall(SYS_faccessat, AT_FDCWD, path, W_OK | X_OK, 0) != 0) {
    mmhint__warn("statistics will not be written: directory ", path,
                 " is missing or not writable (create it, or point MMHINT_STATS elsewhere)");
    stats_warned = 1;
  }
}

void mmhint__bootstrap(void) {
  int expected = MMHINT_STATE_NONE;
  if (!__atomic_compare_exchange_n(&mmhint__state, &expected, MMHINT_STATE_RESOLVING, 0, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE))
    return;
  int saved_errno = errno;
  mmhint__busy = 1;
  resolve_all();
  const int alloc_known = mmhint_real_malloc && mmhint_real___libc_malloc && mmhint_real_free && mmhint_real___libc_free;
  mmhint_clock_init();
  mmhint_values_defaults(&mmhint__cfg.values);
  mmhint_config_load(&mmhint__cfg, environ, (int)getauxval(AT_SECURE));
  for (int i = 0; i < mmhint__cfg.n_warnings; i++) emit_line(NULL, mmhint__cfg.warnings[i]);
  int state = MMHINT_STATE_READY;
  if (mmhint__cfg.values.num[MMHINT_OPT_disable]) {
    state = MMHINT_STATE_PASSIVE;
  } else {
    mmhint__stats_on = mmhint__cfg.values.str[MMHINT_OPT_stats][0] != '\0';
    if (mmhint__stats_on && alloc_known) {
      __atomic_fetch_or(&mmhint_malloc_mode, MMHINT_AM_COUNT, __ATOMIC_RELEASE);
      __atomic_fetch_or(&mmhint_free_mode, MMHINT_AM_COUNT, __ATOMIC_RELEASE);
    }
    mmhint__time_every = mmhint__cfg.values.num[MMHINT_OPT_stats_timing] != 0; /* "every" */
    mmhint__has_rules = mmhint__cfg.n_rules > 0;
    if (mmhint__cfg.values.num[MMHINT_OPT_direct_syscalls]) check_raw_io();
    mmhint_stats_init((uint32_t)mmhint__cfg.values.num[MMHINT_OPT_stats_samples]);
    mmhint_cov_configure(mmhint__stats_on && mmhint__cfg.values.num[MMHINT_OPT_stats_touched]); /* policy/cov.c */
    mmhint_memroute_init(&mmhint__cfg.values); /* hugepages and numa options (policy/memroute.c) */
    if (mmhint_memroute_min != UINT64_MAX) __atomic_fetch_or(&mmhint_malloc_mode, MMHINT_AM_ROUTED, __ATOMIC_RELEASE);
    mmhint_rm_configure(mmhint__cfg.values.num); /* read->mmap's process options (policy/readmap.c), before any window */
    capture_process();
    if (mmhint__stats_on) check_stats_path();
    if (mmhint__cfg.values.num[MMHINT_OPT_verbose] > 0) {
      mmhint__warn("libmmhint " MMHINT_VERSION_STRING " active in ", program_invocation_short_name,
                   "; effective options:");
      mmhint_config_dump(&mmhint__cfg, emit_line, NULL);
      mmhint__warn("fast path of read, pread, write, pwrite: ",
                   mmhint__raw_io ? "system calls made here while the process has one thread (the next definitions are glibc's)"
                                  : mmhint__cfg.values.num[MMHINT_OPT_direct_syscalls]
                                        ? "through the next definitions (another library interposes them, or they are not glibc's)"
                                        : "through the next definitions (direct_syscalls=0)",
                   "");
    }
  }
  if (alloc_known) {
    __atomic_fetch_and(&mmhint_malloc_mode, ~(unsigned)MMHINT_AM_UNRESOLVED, __ATOMIC_RELEASE);
    __atomic_fetch_and(&mmhint_free_mode, ~(unsigned)MMHINT_AM_UNRESOLVED, __ATOMIC_RELEASE);
  }
  mmhint__busy = 0;
  errno = saved_errno;
  __atomic_store_n(&mmhint__state, state, __ATOMIC_RELEASE);
}

int mmhint__enter_slow(void) {
  int s = __atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE);
  if (s == MMHINT_STATE_NONE) {
    mmhint__bootstrap();
    s = __atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE);
  }
  if (s != MMHINT_STATE_READY) return 0;
  if (mmhint__busy) {
    __atomic_fetch_add(&mmhint__reentrant, 1, __ATOMIC_RELAXED);
    return 0;
  }
  return 1;
}

__attribute__((constructor)) static void mmhint_constructor(void) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) == MMHINT_STATE_NONE) mmhint__bootstrap();
}

/* ---- Statistics ------------------------------------------------------------------- */

/* What went wrong writing the statistics file, and what to do about it. */
static const char *write_error_text(long r) {
  switch (-r) {
    case ENOSPC: return ": no space left on the device (free some, or point MMHINT_STATS elsewhere)";
    case EDQUOT: return ": disk quota exceeded (point MMHINT_STATS elsewhere)";
    case EFBIG: return ": the file size limit (RLIMIT_FSIZE) is too small for it";
    case ENOENT: return ": the directory does not exist (create it)";
    case EACCES:
    case EPERM: return ": permission denied (make the directory writable, or point MMHINT_STATS elsewhere)";
    case EROFS: return ": the filesystem is read-only (point MMHINT_STATS elsewhere)";
    case EEXIST: return ": too many files of that name already exist";
    case ENAMETOOLONG: return ": the path is too long";
    default: return ": cannot create or write the file (check that the directory exists and is writable)";
  }
}

/*
 * Writes the file with SIGXFSZ ignored for the moment: past RLIMIT_FSIZE the
 * kernel would otherwise kill the program for the shim's own write; ignored,
 * the write fails with EFBIG, the partial temporary file is removed, and the
 * program's own disposition is put back (a pending signal raised by the
 * shim's write is discarded while ignored).  Raw rt_sigaction, so that the
 * program's sigaction wrappers and handlers never see it.
 */
/* The file this process wrote last (a snapshot, or its final file), which its next write replaces. */
static char own_path[4200];
static mmhint_file_id_t own_id;

static long write_file_no_sigxfsz(const char *path, const char *buf, size_t len, char *final, size_t final_len,
                                  int own) {
  struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
  } ign = {SIG_IGN, 0, NULL, 0}, old;
  int have_old = syscall(SYS_rt_sigaction, SIGXFSZ, &ign, &old, sizeof(uint64_t)) == 0;
  long r = -ESTALE;
  if (own && own_path[0]) {
    /* This process wrote a file already: replace it (a reader sees the old one or the new one, whole). */
    r = mmhint_stats_replace_file(own_path, &own_id, buf, len);
    if (r == 0) {
      size_t n = strlen(own_path);
      if (n < final_len) memcpy(final, own_path, n + 1);
    }
  }
  if (r == -ESTALE) {
    /* None yet, or it is gone (or is not ours any more): a new file, never replacing anything. */
    r = mmhint_stats_write_file(path, buf, len, final, final_len);
    if (r == 0 && own) {
      size_t n = strlen(final);
      if (n < sizeof own_path && mmhint_stats_file_id(final, &own_id) == 0) memcpy(own_path, final, n + 1);
    }
  }
  if (have_old) syscall(SYS_rt_sigaction, SIGXFSZ, &old, NULL, sizeof(uint64_t));
  return r;
}

/*
 * Nonzero when a write failed for a reason the file's name causes (too long,
 * refused by the filesystem, every .N taken), not the directory (missing,
 * not writable: ENOENT, EACCES) nor the disk.  %e is made safe at start-up,
 * so a missing directory is never a '/' in the program's name.
 */
static int name_problem(long r) { return r == -ENAMETOOLONG || r == -EINVAL || r == -EILSEQ || r == -EEXIST; }

/*
 * Rewrites `path` (`cap` bytes of room) as mmhint.PID.json in the
 * directory it names: the name to fall back to when the template's name
 * cannot be created.  Returns 0 when the path already was that name (nothing
 * left to try).
 */
static int fallback_path(char *path, size_t cap, long pid) {
  char *slash = strrchr(path, '/');
  char *name = slash ? slash + 1 : path;
  char want[48] = "mmhint.";
  size_t k = strlen(want);
  k += mmhint_fmt_u64(want + k, (uint64_t)pid);
  memcpy(want + k, ".json", 6);
  if (strcmp(name, want) == 0 || (size_t)(name - path) + k + 6 > cap) return 0;
  memcpy(name, want, strlen(want) + 1);
  return 1;
}

/*
 * Writes the statistics file; `reason` goes into process.end_reason.  `own`:
 * the process's own file (snapshots and the final one), which replaces the
 * one it wrote before; else a file of its own name (a flush).  Warnings are
 * printed unless `quiet`.  Returns 0 or -errno.
 */
static long write_stats(const char *reason, char *final, size_t final_len, int own, int quiet) {
  if (!mmhint__stats_on) return -ENODATA;
  int saved_errno = errno;
  int was_busy = mmhint__busy;
  mmhint__busy = 1;
  char exe[PATH_MAX];
  long n = syscall(SYS_readlink, "/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  mmhint_process_info_t info = {
      .pid = mmhint_os_getpid(),
      .ppid = syscall(SYS_getppid),
      .exe = exe,
      .cmdline = cmdline,
      .cmdline_len = cmdline_len,
      .host = host,
      .end_reason = reason,
      .end_signal = end_signal,
      .cfg = &mmhint__cfg,
      .reentrant_calls = __atomic_load_n(&mmhint__reentrant, __ATOMIC_RELAXED),
      .untracked_fds = mmhint_ofd_untracked,
  };
  char *buf = NULL;
  size_t cap = 0;
  long len = mmhint_stats_render(&info, &buf, &cap);
  long r;
  if (len < 0) {
    if (!quiet) warn_late("statistics not written: out of memory", "", "");
    r = -ENOMEM;
  } else {
    char path[4096];
    if (mmhint_stats_expand_path(mmhint__cfg.values.str[MMHINT_OPT_stats], info.pid, prog_name, host,
                                 mmhint_clock_unix_ns() / 1000000000u, path, sizeof path) != 0) {
      if (!quiet) warn_late("statistics not written: the stats path template is too long", "", "");
      r = -ENAMETOOLONG;
    } else {
      r = write_file_no_sigxfsz(path, buf, (size_t)len, final, final_len, own);
      if (name_problem(r) && fallback_path(path, sizeof path, info.pid)) {
        /* A name the template made that cannot be created: say so, and write under one that can. */
        if (!quiet)
          warn_late("statistics could not be written under the name the template gives", write_error_text(r),
                    "; writing them as mmhint.PID.json in the same directory");
        r = write_file_no_sigxfsz(path, buf, (size_t)len, final, final_len, own);
      }
      if (r < 0 && !quiet) warn_late("statistics not written to ", path, write_error_text(r));
    }
    mmhint_os_munmap(buf, cap);
  }
  mmhint__busy = was_busy;
  errno = saved_errno;
  return r;
}

/*
 * In the child of a vfork (which shares our memory with its parent) nothing
 * is written: the parent will write, and the child is about to exec or _exit.
 */

/* Nonzero once a snapshot failed and said so: the final write then fails quietly too (one line in all). */
static int snapshot_warned;

/* Taken by every write of the process's own file, so that a snapshot and the final write never interleave. */
static int write_lock;

static void finish_as(const char *reason, int sig) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY) return;
  if (mmhint_os_getpid() != my_pid) return;
  sigset_t block, old;
  mmhint__end_signal_set(&block); /* blocked while the statistics are written (shim/signal.c) */
  int masked = syscall(SYS_rt_sigprocmask, SIG_BLOCK, &block, &old, sizeof(uint64_t)) == 0;
  mmhint_prefetch_exiting(mmhint_ticks()); /* the helper thread stops at its next step; its jobs are counted now */
  if (!__atomic_exchange_n(&stats_written, 1, __ATOMIC_ACQ_REL)) {
    end_reason = reason;
    end_signal = sig;
    mmhint_spin_lock(&write_lock); /* a snapshot being written by the snapshot thread finishes first */
    if (write_stats(reason, stats_written_path, sizeof stats_written_path, 1, snapshot_warned) < 0)
      stats_written_path[0] = '\0';
    mmhint_spin_unlock(&write_lock);
  }
  if (masked) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(uint64_t));
}

void mmhint__snapshot(void) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY) return;
  if (mmhint_os_getpid() != my_pid) return;
  mmhint_spin_lock(&write_lock);
  if (!__atomic_load_n(&stats_written, __ATOMIC_ACQUIRE)) {
    char final[4200];
    /* One line the first time a snapshot fails (the previous one is kept); the next ones retry quietly. */
    if (write_stats("snapshot", final, sizeof final, 1, snapshot_warned) < 0) snapshot_warned = 1;
  }
  mmhint_spin_unlock(&write_lock);
}

void mmhint__finish(const char *reason) { finish_as(reason, 0); }

void mmhint__finish_signal(int sig) { finish_as("signal", sig); }

void mmhint__unfinish(void) {
  if (mmhint_os_getpid() != my_pid) return;
  if (stats_written_path[0]) mmhint_os_unlink(stats_written_path);
  stats_written_path[0] = '\0';
  own_path[0] = '\0'; /* the file it replaced is gone with it */
  end_reason = "exit";
  end_signal = 0;
  mmhint_prefetch_resume();
  __atomic_store_n(&stats_written, 0, __ATOMIC_RELEASE);
}

/* A fork child leaves drop-behind and the WILLNEED window to its parent, which holds the same descriptions. */
static void release_hints(int fd, mmhint_ofd_t *o, void *ctx) {
  (void)fd;
  (void)ctx;
  mmhint_hints_release(&o->hints);
}

void mmhint__after_fork_child(void) {
  my_pid = mmhint_os_getpid();
  mmhint_clock_fork_child(); /* the child's process section starts at the fork */
  stats_written = 0;
  stats_written_path[0] = '\0';
  own_path[0] = '\0'; /* the parent's file is the parent's */
  snapshot_warned = 0;
  write_lock = 0;       /* the parent's snapshot thread may have held it: it does not exist here */
  mmhint_ofd_foreach(release_hints, NULL);
  mmhint_stats_reset_after_fork();
  capture_process();
}

__attribute__((destructor)) static void mmhint_destructor(void) { mmhint__finish(end_reason); }

/* ---- Public API ------------------------------------------------------------------------ */

MMHINT_EXPORT const char *mmhint_version(void) { return MMHINT_VERSION_STRING; }

MMHINT_EXPORT int mmhint_option_get(const char *name, char *buf, size_t len) {
  if (mmhint__state == MMHINT_STATE_NONE) mmhint__bootstrap();
  int id = mmhint_option_find(name);
  if (id < 0) {
    errno = ENOENT;
    return -1;
  }
  char tmp[MMHINT_STRING_MAX];
  mmhint_value_format(&mmhint__cfg.values, id, tmp, sizeof tmp);
  if (len) {
    size_t n = strlen(tmp);
    if (n >= len) n = len - 1;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
  }
  return 0;
}

MMHINT_EXPORT int mmhint_stats_flush(void) {
  if (mmhint__state != MMHINT_STATE_READY || !mmhint__stats_on) {
    errno = ENODATA;
    return -1;
  }
  /* A flush file is a snapshot under its own name; it does not count as the final write. */
  char snapshot[4200];
  long r = write_stats("flush", snapshot, sizeof snapshot, 0, 0);
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return 0;
}
