/*
 * policy/readmap.c: the read->mmap engine; see readmap.h and docs/READMAP.md.
 *
 * Window sets are kept per file (device, inode) in a small hash table.  A
 * file's windows are found by index (offset >> mmhint_rm_window_shift) in an
 * array that grows with the file.  Mapping, unmapping and the table are
 * serialised by one spin lock, taken only off the hot path (a window miss).
 *
 * Keying by (device, inode) is safe although inode numbers are reused: a
 * window holds a reference to the file, so while any window of an entry is
 * mapped the inode cannot be freed and its number cannot name another file;
 * an entry with no windows has nothing that could be stale.
 *
 * Unmapping while another thread copies out of the window would crash it, so
 * with several threads a copy announces itself in the file's `readers`
 * counter, and the unmapper bumps the file's `gen` (which sends readers back
 * here) before it looks at `readers`: both sides use sequentially consistent
 * operations, so either the reader sees the new gen or the unmapper sees the
 * reader, and then leaves the window mapped.
 */
#include "policy/readmap.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include "policy/arena.h"
#include "policy/fork.h"
#include "policy/options.h"
#include "policy/os/os.h"
#include "policy/spin.h"

#define RM_PAGE 4096
#define RM_BUCKETS 4096

struct mmhint_rm_file {
  uint64_t dev, ino;
  int refs;              /* active descriptions using this set */
  int readers;           /* copies in progress (several threads only) */
  uint64_t gen;          /* bumped whenever a window goes away */
  uint64_t last_use;     /* eviction clock */
  uint32_t nwin;         /* capacity of win[] */
  struct rm_window {
    char *base;
    int64_t len;
  } *win;
  mmhint_rm_file_t *next;
};

uint64_t mmhint_rm_epoch;
int64_t mmhint_rm_mapped;
int64_t mmhint_rm_cap = (int64_t)8 << 30;
int mmhint_rm_window_shift = MMHINT_RM_WINDOW_SHIFT;
static int windows_ever; /* a window was mapped: the window size is fixed from then on */

static int rm_lock;
static mmhint_rm_file_t *buckets[RM_BUCKETS];
static mmhint_rm_file_t *file_free;
static mmhint_rm_t *state_free;
static uint64_t use_clock;

extern char __libc_single_threaded;


static inline int64_t round_up(int64_t v, int64_t a) { return (v + a - 1) & ~(a - 1); }

/* ---- Decisions ------------------------------------------------------------ */

void mmhint_rm_params_from(const long long *num, mmhint_rm_params_t *p) {
  p->mode = (int)num[MMHINT_OPT_read_mmap];
  p->min_file = num[MMHINT_OPT_read_mmap_min_file];
  p->max_read = num[MMHINT_OPT_read_mmap_max_read];
  p->strict = num[MMHINT_OPT_read_mmap_sync] == 1;
  p->writable = num[MMHINT_OPT_read_mmap_writable] != 0;
}

/* Filesystems whose files report sizes that are not their contents, or that may refuse mmap. */
#define RM_PROC_SUPER_MAGIC 0x9fa0
#define RM_SYSFS_MAGIC 0x62656572
#define RM_FUSE_SUPER_MAGIC 0x65735546
#define RM_DEBUGFS_MAGIC 0x64626720
#define RM_TRACEFS_MAGIC 0x74726163
#define RM_CGROUP2_MAGIC 0x63677270
#define RM_CONFIGFS_MAGIC 0x62656570
#define RM_SECURITYFS_MAGIC 0x73636673

/* Filesystems whose regular files report the size of what they hold. */
static int rm_real_sizes(long magic) {
  switch ((unsigned long)magic & 0xffffffffu) {
    case 0xEF53:     /* ext2/3/4 */
    case 0x58465342: /* xfs */
    case 0x9123683E: /* btrfs */
    case 0x01021994: /* tmpfs */
    case 0xF2F52010: /* f2fs */
      return 1;
    default:
      return 0;
  }
}

int mmhint_rm_eligible(const mmhint_rm_params_t *p, const mmhint_rm_facts_t *facts) {
  if (facts->type != 0100000 /* S_IFREG */) return MMHINT_FB_not_regular;
  if (!facts->opened) return MMHINT_FB_inherited;
  if (facts->stdio) return MMHINT_FB_shared; /* stdio reads it inside libc, where the shadow is unseen */
  int acc = facts->oflags & 3; /* O_ACCMODE */
  if (acc != 0 /* O_RDONLY */ && !(acc == 2 /* O_RDWR */ && p->writable)) return MMHINT_FB_open_flags;
  if (facts->oflags & (040000 /* O_DIRECT */ | 02000 /* O_APPEND */ | 010000000 /* O_PATH */))
    return MMHINT_FB_open_flags;
  switch (facts->fs_magic) {
    case RM_PROC_SUPER_MAGIC: case RM_SYSFS_MAGIC: case RM_FUSE_SUPER_MAGIC: case RM_DEBUGFS_MAGIC:
    case RM_TRACEFS_MAGIC: case RM_CGROUP2_MAGIC: case RM_CONFIGFS_MAGIC: case RM_SECURITYFS_MAGIC:
      return MMHINT_FB_filesystem;
    default: break;
  }
  /*
   * A size of 0 is what pseudo-files report whatever they hold (cgroup v1 and
   * others not listed above), so an empty file converts only on a filesystem
   * known to keep real sizes, and only when it may be written through this
   * description (a database or log this program creates and then reads back).
   */
  if (facts->size < p->min_file) return MMHINT_FB_too_small;
  if (facts->size <= 0 && !(acc == 2 /* O_RDWR */ && rm_real_sizes(facts->fs_magic))) return MMHINT_FB_too_small;
  return -1;
}

int64_t mmhint_rm_seek(int64_t pos, int64_t size, int64_t off, int whence) {
  int64_t t;
  switch (whence) {
    case 0: t = off; break;
    case 1: if (__builtin_add_overflow(pos, off, &t)) return -EINVAL; break;
    case 2: if (__builtin_add_overflow(size, off, &t)) return -EINVAL; break;
    default: return -E2BIG;
  }
  if (t < 0) return -EINVAL;
  if (t >= MMHINT_RM_MAX_OFFSET) return -E2BIG; /* the filesystem's own limit decides */
  return t;
}

/* ---- Window sets -------------------------------------------------------------- */

static unsigned bucket_of(uint64_t dev, uint64_t ino) {
  uint64_t h = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full);
  return (unsigned)(h >> 40) & (RM_BUCKETS - 1);
}

/* Finds or makes the window set of (dev, ino) and takes a reference; rm_lock held. */
static mmhint_rm_file_t *file_get_locked(uint64_t dev, uint64_t ino) {
  unsigned b = bucket_of(dev, ino);
  for (mmhint_rm_file_t *f = buckets[b]; f; f = f->next)
    if (f->dev == dev && f->ino == ino) {
      f->refs++;
      return f;
    }
  mmhint_rm_file_t *f = file_free;
  if (f) file_free = f->next;
  else f = mmhint_arena_alloc(sizeof *f);
  if (!f) return NULL;
  uint64_t gen = f->gen; /* a recycled entry keeps counting, so stale caches stay stale */
  memset(f, 0, sizeof *f);
  f->gen = gen + 1;
  f->dev = dev;
  f->ino = ino;
  f->refs = 1;
  f->next = buckets[b];
  buckets[b] = f;
  return f;
}

/*
 * Unmaps window k of f when no other copy is in progress (`self` counts the
 * caller's own announced copy).  Returns 1 when it went away.  rm_lock held.
 */
static int unmap_window_locked(mmhint_rm_file_t *f, uint32_t k, int self) {
  struct rm_window *w = &f->win[k];
  if (!w->base) return 1;
  __atomic_fetch_add(&f->gen, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&f->readers, __ATOMIC_SEQ_CST) > self) return 0;
  mmhint_os_munmap(w->base, (size_t)w->len);
  mmhint_rm_mapped -= w->len;
  w->base = NULL;
  w->len = 0;
  return 1;
}

/* Unmaps every window of f it can; returns 1 when none is left.  rm_lock held. */
static int unmap_all_locked(mmhint_rm_file_t *f, int self) {
  int all = 1;
  for (uint32_t k = 0; k < f->nwin; k++) all &= unmap_window_locked(f, k, self);
  return all;
}

/* Drops a file entry with no references and no windows from the table.  rm_lock held. */
static void file_drop_locked(mmhint_rm_file_t *f) {
  mmhint_rm_file_t **pp = &buckets[bucket_of(f->dev, f->ino)];
  while (*pp && *pp != f) pp = &(*pp)->next;
  if (*pp) *pp = f->next;
  if (f->win) mmhint_os_munmap(f->win, f->nwin * sizeof *f->win);
  f->win = NULL;
  f->nwin = 0;
  f->next = file_free;
  file_free = f;
}

/*
 * Frees address space for `need` more bytes under the cap, unmapping windows
 * of unreferenced files first, then the least recently used of the others
 * (never `keep`'s window `keep_k`).  Returns 1 when it fits.  rm_lock held.
 */
static int make_room_locked(int64_t need, mmhint_rm_file_t *keep, uint32_t keep_k, int self) {
  for (int pass = 0; pass < 2 && mmhint_rm_mapped + need > mmhint_rm_cap; pass++) {
    while (mmhint_rm_mapped + need > mmhint_rm_cap) {
      mmhint_rm_file_t *victim = NULL;
      for (unsigned b = 0; b < RM_BUCKETS; b++)
        for (mmhint_rm_file_t *f = buckets[b]; f; f = f->next) {
          int has = 0;
          for (uint32_t k = 0; k < f->nwin && !has; k++) has = f->win[k].base && !(f == keep && k == keep_k);
          if (!has || (pass == 0 && f->refs > 0)) continue;
          if (__atomic_load_n(&f->readers, __ATOMIC_SEQ_CST) > (f == keep ? self : 0)) continue;
          if (!victim || f->last_use < victim->last_use) victim = f;
        }
      if (!victim) break;
      int freed = 0;
      for (uint32_t k = 0; k < victim->nwin; k++)
        if (victim->win[k].base && !(victim == keep && k == keep_k))
          freed |= unmap_window_locked(victim, k, victim == keep ? self : 0) && 1;
      if (!freed) break;
      if (victim->refs == 0) file_drop_locked(victim);
    }
  }
  return mmhint_rm_mapped + need <= mmhint_rm_cap;
}

/* Makes room in f->win for index k.  rm_lock held.  Returns 0 or -1. */
static int grow_table_locked(mmhint_rm_file_t *f, uint32_t k) {
  if (k < f->nwin) return 0;
  uint32_t n = f->nwin ? f->nwin : 8;
  while (n <= k) n *= 2;
  struct rm_window *w = mmhint_os_mmap(NULL, n * sizeof *w, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (w == MAP_FAILED) return -1;
  if (f->win) {
    memcpy(w, f->win, f->nwin * sizeof *w);
    /* A reader never holds the array itself (it caches the window), so the old one can go. */
    mmhint_os_munmap(f->win, f->nwin * sizeof *w);
  }
  f->win = w;
  f->nwin = n;
  return 0;
}

int mmhint_rm_window_shift_for(int64_t cap) {
  int shift = MMHINT_RM_WINDOW_SHIFT;
  while (shift > MMHINT_RM_MIN_WINDOW_SHIFT && ((int64_t)1 << shift) > cap / 4) shift--;
  return shift;
}

void mmhint_rm_set_cap(int64_t cap) {
  mmhint_spin_lock(&rm_lock);
  mmhint_rm_cap = cap;
  if (!windows_ever) mmhint_rm_window_shift = mmhint_rm_window_shift_for(cap);
  mmhint_spin_unlock(&rm_lock);
}

void mmhint_rm_configure(const long long *num) { mmhint_rm_set_cap(num[MMHINT_OPT_read_mmap_max_mapped]); }

/* ---- States --------------------------------------------------------------------- */

mmhint_rm_t *mmhint_rm_new(const mmhint_rm_params_t *p, const mmhint_rm_facts_t *facts, int reason) {
  mmhint_spin_lock(&rm_lock);
  mmhint_rm_t *rm = state_free;
  if (rm) state_free = rm->next_free;
  mmhint_spin_unlock(&rm_lock);
  if (!rm) rm = mmhint_arena_alloc(sizeof *rm);
  if (!rm) return NULL;
  memset(rm, 0, sizeof *rm);
  rm->mode = (uint8_t)p->mode;
  rm->strict = (uint8_t)p->strict;
  rm->max_read = p->max_read;
  rm->fast_max = p->mode == MMHINT_RM_AUTO ? p->max_read : MMHINT_RM_ON_MAX_READ;
  rm->size = facts->size;
  rm->epoch = __atomic_load_n(&mmhint_rm_epoch, __ATOMIC_ACQUIRE);
  rm->reason = reason < 0 ? MMHINT_RM_NO_REASON : (uint8_t)reason;
  rm->prev_end = -1;
  if (reason < 0) {
    mmhint_spin_lock(&rm_lock);
    rm->rf = file_get_locked(facts->dev, facts->ino);
    mmhint_spin_unlock(&rm_lock);
    if (!rm->rf) {
      rm->reason = MMHINT_FB_map_failed;
    } else {
      rm->gen = &rm->rf->gen;
      rm->win_gen = rm->rf->gen - 1; /* no window cached yet */
      rm->active = 1;
    }
  }
  return rm;
}

void mmhint_rm_release(mmhint_rm_t *rm) {
  if (!rm) return;
  mmhint_spin_lock(&rm_lock);
  mmhint_rm_file_t *f = rm->rf;
  if (f && --f->refs <= 0) {
    f->refs = 0;
    if (unmap_all_locked(f, 0)) file_drop_locked(f);
    /* else a copy is still running on another thread: make_room_locked reclaims it later */
  }
  rm->rf = NULL;
  rm->active = 0;
  rm->next_free = state_free;
  state_free = rm;
  mmhint_spin_unlock(&rm_lock);
}

void mmhint_rm_reader_enter(mmhint_rm_t *rm) { __atomic_fetch_add(&rm->rf->readers, 1, __ATOMIC_SEQ_CST); }
void mmhint_rm_reader_leave(mmhint_rm_t *rm) { __atomic_fetch_sub(&rm->rf->readers, 1, __ATOMIC_SEQ_CST); }

int64_t mmhint_rm_map(mmhint_rm_t *rm, int fd, int64_t pos, int64_t need_end, const char **base, int *reason) {
  mmhint_rm_file_t *f = rm->rf;
  if (!f || pos < 0 || pos >= MMHINT_RM_MAX_OFFSET) {
    *reason = MMHINT_FB_map_failed;
    return -1;
  }
  int self = !__libc_single_threaded; /* the caller announced its copy when threads exist */
  const int shift = mmhint_rm_window_shift;
  uint32_t k = (uint32_t)(pos >> shift);
  int64_t lo = (int64_t)k << shift;
  int64_t end = need_end > rm->size ? need_end : rm->size;
  /*
   * Map to the known end rounded to 2 MiB, so a slowly growing file is not
   * remapped per read; a file smaller than that gets only its own pages, so
   * thousands of small files open at once do not take gigabytes of address
   * space (RLIMIT_AS) from the program.
   */
  int64_t len = end - lo < ((int64_t)2 << 20) ? round_up(end - lo, RM_PAGE) : round_up(end - lo, (int64_t)2 << 20);
  if (len < RM_PAGE) len = RM_PAGE;
  if (len > (int64_t)1 << shift) len = (int64_t)1 << shift;
  int64_t want = round_up(pos + 1 - lo, RM_PAGE);
  mmhint_spin_lock(&rm_lock);
  f->last_use = ++use_clock;
  if (grow_table_locked(f, k) != 0) {
    mmhint_spin_unlock(&rm_lock);
    *reason = MMHINT_FB_map_failed;
    return -1;
  }
  struct rm_window *w = &f->win[k];
  if (w->base && w->len < want && !unmap_window_locked(f, k, self)) {
    mmhint_spin_unlock(&rm_lock);
    *reason = MMHINT_FB_changed; /* grew past the window while another thread reads it */
    return -1;
  }
  if (!w->base) {
    if (!make_room_locked(len, f, k, self)) {
      mmhint_spin_unlock(&rm_lock);
      *reason = MMHINT_FB_address_cap;
      return -1;
    }
    void *m = mmhint_os_mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED, fd, lo);
    if (m == MAP_FAILED) {
      mmhint_spin_unlock(&rm_lock);
      *reason = MMHINT_FB_map_failed;
      return -1;
    }
    /* Random until the reader proves sequential: no fault readahead beyond what pread would read. */
    if (!rm->seq) mmhint_os_madvise(m, (size_t)len, MADV_RANDOM);
    w->base = m;
    w->len = len;
    mmhint_rm_mapped += len;
    windows_ever = 1;
  }
  rm->win_gen = __atomic_load_n(&f->gen, __ATOMIC_SEQ_CST);
  rm->win_lo = lo;
  rm->win_hi = lo + w->len;
  rm->win_base = w->base;
  mmhint_spin_unlock(&rm_lock);
  *base = w->base + (pos - lo);
  return lo + w->len - pos;
}

int mmhint_rm_recache(mmhint_rm_t *rm, int64_t pos, int64_t end) {
  mmhint_rm_file_t *f = rm->rf;
  if (!f || pos < 0 || pos >= MMHINT_RM_MAX_OFFSET) return 0;
  const int shift = mmhint_rm_window_shift;
  uint32_t k = (uint32_t)(pos >> shift);
  if (k >= f->nwin || !f->win[k].base) return 0;
  int64_t lo = (int64_t)k << shift;
  if (end > lo + f->win[k].len) return 0;
  f->last_use = ++use_clock;
  rm->win_gen = f->gen;
  rm->win_lo = lo;
  rm->win_hi = lo + f->win[k].len;
  rm->win_base = f->win[k].base;
  return 1;
}

void mmhint__rm_advise_slow(mmhint_rm_t *rm, int want) {
  rm->seq = (uint8_t)want;
  /*
   * Sequential: normal readahead for cold pages (fault-around maps cached ones
   * either way).  MADV_POPULATE_READ ahead of a sequential reader was
   * measured too: no faster on a first pass, and 30% slower on later passes,
   * where it walks pages that are already mapped (docs/READMAP.md).
   */
  if (rm->win_base && rm->rf && rm->win_gen == __atomic_load_n(&rm->rf->gen, __ATOMIC_SEQ_CST))
    mmhint_os_madvise((void *)rm->win_base, (size_t)(rm->win_hi - rm->win_lo), want ? MADV_NORMAL : MADV_RANDOM);
}

void mmhint_rm_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&rm_lock);
  else mmhint_spin_unlock(&rm_lock);
}

void mmhint_rm_reset_lock(mmhint_rm_t *rm) { rm->lock = 0; }
