/*
 * shim/track.c: descriptor tracking.  A descriptor the program opens
 * through a wrapper gets a description (policy/ofd.h) with its file's
 * statistics record, the options its rules give it, its hints and its
 * read->mmap state; one it did not open (inherited, or made by a raw system
 * call) is adopted on its first read with one fstat.
 */
#include <limits.h>
#include <string.h>

#include "policy/fmt.h"
#include "shim/readmap.h"
#include "shim/shim.h"

extern char *program_invocation_short_name;

/* Makes `path` (relative to dirfd) absolute in buf; returns buf, or path itself when that fails. */
static const char *absolute(int dirfd, const char *path, char *buf, size_t len) {
  if (!path || path[0] == '/') return path;
  long n;
  if (dirfd == AT_FDCWD) {
    n = syscall(SYS_getcwd, buf, len);
    if (n <= 0) return path;
    n = (long)strlen(buf);
  } else {
    char link[64] = "/proc/self/fd/";
    size_t k = strlen(link);
    if (dirfd < 0) return path; /* the open succeeded, so the kernel accepted dirfd: cannot happen */
    mmhint_fmt_u64(link + k, (uint64_t)dirfd);
    n = syscall(SYS_readlink, link, buf, len - 1);
    if (n <= 0) return path;
    buf[n] = '\0';
  }
  size_t pl = strlen(path);
  if ((size_t)n + 1 + pl + 1 > len) return path;
  if (n > 1) buf[n++] = '/';
  memcpy(buf + n, path, pl + 1);
  return buf;
}

/* Fills the per-file policy fields of f from the option values that apply to it. */
static void note_policy(mmhint_file_t *f, const long long *num, int rule) {
  f->rule = rule;
  f->pol_read_mmap = (int8_t)num[MMHINT_OPT_read_mmap];
  f->pol_advice = (int8_t)num[MMHINT_OPT_advice];
  f->pol_mmap_advice = (int8_t)num[MMHINT_OPT_mmap_advice];
  f->pol_drop_behind = (int8_t)num[MMHINT_OPT_drop_behind];
  f->pol_prefetch = (int8_t)num[MMHINT_OPT_prefetch];
}

/*
 * Applies the per-file policies to a description just opened: read->mmap,
 * the hints, the prefetch.  drop_behind and prefetch on one file contradict
 * each other (one releases what the other brings in): prefetch wins, the
 * description runs without drop_behind, and one line says so per process.
 */
static void opened_policy(int fd, mmhint_ofd_t *o, mmhint_file_t *f, const long long *num, int oflags, int stdio,
                          int64_t size, const char *abs) {
  long long own[MMHINT_OPT__COUNT];
  if (num[MMHINT_OPT_prefetch] != 0 && num[MMHINT_OPT_drop_behind] && f->mode == S_IFREG) {
    static int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
      mmhint__warn("drop_behind and prefetch are both set for ", abs ? abs : "a file",
                   ": prefetch wins, drop_behind is off for it (and for any other file where both are set)");
    memcpy(own, num, sizeof own);
    own[MMHINT_OPT_drop_behind] = 0;
    num = own;
  }
  mmhint__rm_opened(fd, o, num, oflags, stdio);
  mmhint_hints_open(&o->hints, fd, &f->hints, num, mmhint_ticks());
  mmhint__prefetch_open(fd, o, num, oflags, size, abs);
}

/* Creates a description for fd from its fstat (the size it gives in *size_out); NULL when fd is not valid or memory ran out. */
static mmhint_ofd_t *describe(int fd, int oflags, uint32_t flags, const char *abs_path, mmhint_file_t **file_out,
                              int64_t *size_out) {
  struct stat st;
  if (mmhint_os_fstat(fd, &st) < 0) return NULL;
  mmhint_ofd_t *o = mmhint_ofd_new();
  if (!o) return NULL;
  o->oflags = oflags;
  o->flags = flags;
  uint32_t type = st.st_mode & S_IFMT;
  o->file = NULL;
  if (mmhint_ofd_type_has_stats(type)) {
    o->file = mmhint_stats_file(st.st_dev, st.st_ino, type, (int64_t)st.st_size);
    if (o->file && abs_path) mmhint_stats_add_path(o->file, abs_path);
  }
  o->flags |= mmhint_ofd_flags_for(type, oflags);
  *file_out = o->file;
  *size_out = (int64_t)st.st_size;
  return o;
}

uint64_t mmhint__spawn_gen;
int mmhint__spawning;

void mmhint__track_open(int fd, int dirfd, const char *path, int oflags, int stdio) {
  mmhint__track_open_at(fd, dirfd, path, oflags, stdio, __atomic_load_n(&mmhint__spawn_gen, __ATOMIC_SEQ_CST));
}

void mmhint__track_open_at(int fd, int dirfd, const char *path, int oflags, int stdio, uint64_t gen) {
  int saved_errno = errno;
  mmhint__busy = 1;
  char buf[PATH_MAX + 64];
  const char *abs = absolute(dirfd, path, buf, sizeof buf);
  mmhint_file_t *f = NULL;
  int64_t size = 0;
  mmhint_ofd_t *o = describe(fd, oflags, MMHINT_OFD_OPENED | (stdio ? MMHINT_OFD_STDIO : 0), abs, &f, &size);
  if (o) {
    if (f) {
      mmhint_count(&f->c[stdio ? MMHINT_FC_stdio_opens : MMHINT_FC_opens], 1);
      /* Before the hints: advice=willneed would change what is resident. */
      mmhint_stats_opened(f, fd, oflags, size, mmhint__stats_on && f->mode == S_IFREG, mmhint_ticks());
      if (mmhint__has_rules && abs) {
        long long num[MMHINT_OPT__COUNT];
        int mode = (oflags & O_ACCMODE) == O_RDONLY ? MMHINT_MODE_READ
                   : (oflags & O_ACCMODE) == O_WRONLY ? MMHINT_MODE_WRITE
                                                      : MMHINT_MODE_RDWR;
        mmhint_file_facts_t facts = {abs, program_invocation_short_name, f->size_at_open, mode};
        int rule = mmhint_config_file_num(&mmhint__cfg, &facts, num);
        note_policy(f, num, rule);
        opened_policy(fd, o, f, num, oflags, stdio, size, abs);
      } else {
        note_policy(f, mmhint__cfg.values.num, 0);
        opened_policy(fd, o, f, mmhint__cfg.values.num, oflags, stdio, size, abs);
      }
    }
    mmhint_ofd_attach(fd, o);
    /*
     * After the attach, so that a fork or spawn either finds the description
     * in the table (and stops it) or is seen here: one that began since the
     * open may have given the child this descriptor.  Just opened, the kernel
     * offset is the shadow's (0): stopping needs no sync.
     */
    if (o->rm && o->rm->active &&
        (__atomic_load_n(&mmhint__spawning, __ATOMIC_SEQ_CST) || __atomic_load_n(&mmhint__spawn_gen, __ATOMIC_SEQ_CST) != gen))
      mmhint__rm_stop(fd, o, MMHINT_FB_shared);
  } else {
    mmhint_ofd_detach(fd);
  }
  mmhint__busy = 0;
  errno = saved_errno;
}

mmhint_ofd_t *mmhint__adopt(int fd) {
  if (fd < 0) return NULL;
  int saved_errno = errno;
  mmhint__busy = 1;
  long fl = syscall(SYS_fcntl, fd, F_GETFL);
  mmhint_ofd_t *o = NULL;
  mmhint_file_t *f = NULL;
  if (fl >= 0) {
    int64_t size = 0;
    o = describe(fd, (int)fl, MMHINT_OFD_SHARED | MMHINT_OFD_OUTSIDE, NULL, &f, &size);
    if (o) {
      long pos = mmhint_os_lseek(fd, 0, SEEK_CUR);
      o->pos = pos >= 0 ? pos : 0;
      if (f) note_policy(f, mmhint__cfg.values.num, 0);
      if (mmhint_ofd_attach(fd, o) != 0) o = NULL;
    }
  }
  mmhint__busy = 0;
  errno = saved_errno;
  return o && o->file ? o : NULL;
}

static void mark_shared(int fd, mmhint_ofd_t *o, void *ctx) {
  (void)fd;
  (void)ctx;
  o->flags |= MMHINT_OFD_SHARED | MMHINT_OFD_OUTSIDE;
}

void mmhint__mark_all_shared(void) { mmhint_ofd_foreach_locked(mark_shared, NULL); }
