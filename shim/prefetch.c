/*
 * shim/prefetch.c: the shim's half of the prefetch policy (policy/prefetch.h
 * decides): a description's prefetch at open and at a read, and the helper
 * thread that brings files into the page cache.
 *
 * The thread.  Started when a job is queued and none runs (a process that
 * never prefetches never has it), with every signal blocked, so that no
 * signal of the program's is ever delivered to it and nothing it does
 * interrupts the program's own calls (no EINTR); it works through the queue
 * and ends when the queue is empty (a thread that waited forever would keep
 * alive a process whose main thread called pthread_exit), and marks itself
 * busy, so that its few libc calls pass through the shim unrecorded.  A fork child starts its own when it queues a job (threads
 * do not survive fork; the parent's jobs stay the parent's).
 *
 * Which descriptor.  None: the program may close, dup2 over or close_range
 * its descriptors at any time, and a descriptor of the shim's would take a
 * number from the program's table (the lowest free one: the program's next
 * open would get another number than without the shim), could be closed by
 * the program's closefrom, and would be inherited across fork.  So at the
 * start of a job the program's thread opens its own read-only description of
 * the file (/proc/self/fd/N: the same inode, also when it was renamed or
 * deleted), maps it PROT_READ and MAP_SHARED, and closes that descriptor again
 * before the wrapper returns.  The mapping holds the file; the thread asks
 * for each step with madvise(MADV_WILLNEED), which the kernel turns into the
 * same vfs_fadvise(POSIX_FADV_WILLNEED) that readahead(2) and posix_fadvise
 * make (mm/madvise.c, madvise_willneed; the measurements in docs/HINTS.md
 * found the three alike), and measures with mincore.  The mapping is never
 * touched, so a file that shrinks meanwhile gives no SIGBUS.  Being its own
 * description, it shares no offset, no readahead state and no lock (flock)
 * with the program's.
 *
 * Ending.  The last user (description) of a job going away, or the process
 * ending, sets a flag the thread reads before each step (a step is at most
 * prefetch_step): the thread unmaps and frees the job.  At exit nothing waits
 * for it: the counts are taken by mmhint_prefetch_exiting and the thread dies
 * with the process.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy/fmt.h"
#include "policy/hints.h"
#include "policy/pmap.h"
#include "policy/prefetch.h"
#include "policy/residency.h"
#include "policy/spin.h"
#include "shim/shim.h"

/* ---- The thread ------------------------------------------------------------------ */

static int thread_state;    /* 1 while a thread works through the queue, 0 none */

/* Bytes of [off, off+len) of the job's mapping that are resident (mincore, 512 pages at a time). */
static int64_t resident_bytes(const mmhint_pf_job_t *j, int64_t off, int64_t len) {
  const long page = mmhint_page_size();
  unsigned char vec[512];
  int64_t a = off & ~(int64_t)(page - 1), end = off + len, have = 0;
  while (a < end) {
    int64_t n = (end - a + page - 1) / page;
    if (n > 512) n = 512;
    if (mmhint_os_mincore((char *)j->map + a, (size_t)(n * page), vec) < 0) return -1;
    for (int64_t i = 0; i < n; i++) have += vec[i] & 1;
    a += n * page;
  }
  int64_t bytes = have * page;
  return bytes > len ? len : bytes;
}


/*
 * Pacing.  madvise(MADV_WILLNEED) only queues the reads, and the thread can
 * queue far faster than the disk reads: unpaced, a read of the program's
 * that missed the cache waited behind the thread's queue (a sequential reader
 * of a cold 1 GiB file reached 12 MiB within 12 ms of the open, and 16 MiB
 * only at 238 ms).  So the thread keeps at most MMHINT_PF_INFLIGHT bytes (and at least
 * four requests) asked for and not yet landed: before each request it waits
 * for the oldest outstanding one, until that one is resident or has made no
 * progress for ~20 ms (pages that fail or that the cache lets go of never
 * land: the job moves on).
 */
#define MMHINT_PF_INFLIGHT ((int64_t)16 << 20)
#define MMHINT_PF_RING 128

/* Waits (200 us at a time) until [off, off+len) of the job is resident or stops moving for ~20 ms. */
static void wait_landed(const mmhint_pf_job_t *j, int64_t off, int64_t len) {
  int64_t prev = -1;
  for (int still = 0, i = 0; i < 5000 && still < 100 && !mmhint_prefetch_should_stop(j); i++) {
    const int64_t r = resident_bytes(j, off, len);
    if (r < 0 || r >= len) return;
    still = r == prev ? still + 1 : 0;
    prev = r;
    struct timespec ts = {0, 200000};
    syscall(SYS_nanosleep, &ts, NULL);
  }
}

/* Resident bytes of the job's ranges below offset `limit`, -1 when mincore refused. */
static int64_t resident_below(const mmhint_pf_job_t *j, int64_t limit) {
  int64_t sum = 0;
  for (int i = 0; i < j->nranges && j->ranges[i].off < limit; i++) {
    int64_t len = j->ranges[i].len;
    if (j->ranges[i].off + len > limit) len = limit - j->ranges[i].off;
    int64_t r = resident_bytes(j, j->ranges[i].off, len);
    if (r < 0) return -1;
    sum += r;
  }
  return sum;
}

/* Resident bytes of all the job's ranges, -1 when mincore refused. */
static int64_t resident_all(const mmhint_pf_job_t *j) { return resident_below(j, INT64_MAX); }

/* Where a sequential reader of the job's file has got to (policy/prefetch.h, MMHINT_PF_SEQ_RUN), 0 none. */
static int64_t reader_end(const mmhint_pf_job_t *j) {
  return __atomic_load_n(&j->file->prefetch.reader_end, __ATOMIC_RELAXED);
}

/* Waits (2 ms at a time, at most ~100 ms) until the last requests' reads have landed or stop moving. */
static int64_t settle(const mmhint_pf_job_t *j, int64_t total) {
  int64_t prev = -1, r = 0;
  for (int i = 0; i < 50 && !mmhint_prefetch_should_stop(j); i++) {
    r = resident_all(j);
    if (r < 0 || r >= total || (r == prev && i >= 3)) break;
    prev = r;
    struct timespec ts = {0, 2000000};
    syscall(SYS_nanosleep, &ts, NULL);
  }
  return r;
}

/* Runs one job to its end; returns how it ended (MMHINT_PFC_completed, _stopped_close, or -1). */
static int run_job(mmhint_pf_job_t *j) {
  mmhint_file_t *f = j->file;
  mmhint_prefetch_file_t *pf = &f->prefetch;
  const int measured = pf->measured;
  const long page = mmhint_page_size();
  int ri = 0, split = 0;
  int64_t roff = 0, off, len;
  struct { int64_t off, len; } ring[MMHINT_PF_RING]; /* the requests not yet known to have landed */
  int rhead = 0, rcount = 0;
  int64_t rbytes = 0;
  const int64_t last_end = j->nranges > 0 ? j->ranges[j->nranges - 1].off + j->ranges[j->nranges - 1].len : 0;
  __atomic_store_n(&pf->reader_end, 0, __ATOMIC_RELAXED);
  for (;;) {
    if (mmhint_prefetch_should_stop(j)) return MMHINT_PFC_stopped_close;
    /* Keep ahead of a sequential reader (policy/prefetch.h): the first time one shows, the rest of
     * the file is split between the two at its middle; after that the thread stays a lead ahead. */
    const int64_t re = reader_end(j);
    const int64_t pos = ri < j->nranges ? j->ranges[ri].off + roff : INT64_MAX;
    if (re > 0 && __atomic_load_n(&pf->reader_start, __ATOMIC_RELAXED) <= pos + MMHINT_PF_SEQ_LEAD) {
      int64_t to = re + MMHINT_PF_SEQ_LEAD;
      if (!split) {
        split = 1;
        if (re + (last_end - re) / 2 > to) to = re + (last_end - re) / 2;
      }
      to = (to + page - 1) & ~(int64_t)(page - 1);
      const int64_t passed = mmhint_prefetch_seek(j->ranges, j->nranges, &ri, &roff, to);
      if (passed > 0) mmhint_count(&pf->c[MMHINT_PFC_reader_bytes], (uint64_t)passed);
    }
    if (!mmhint_prefetch_next(j->ranges, j->nranges, &ri, &roff, j->step, &off, &len)) break;
    if (measured) {
      while (rcount >= MMHINT_PF_RING || (rcount >= 4 && rbytes + len > MMHINT_PF_INFLIGHT)) { /* pacing */
        wait_landed(j, ring[rhead].off, ring[rhead].len);
        rbytes -= ring[rhead].len;
        rhead = (rhead + 1) % MMHINT_PF_RING;
        rcount--;
      }
      int64_t r = resident_bytes(j, off, len);
      if (r > 0) mmhint_count(&f->c[MMHINT_FC_prefetch_resident_bytes], (uint64_t)r);
      ring[(rhead + rcount) % MMHINT_PF_RING].off = off;
      ring[(rhead + rcount) % MMHINT_PF_RING].len = len;
      rcount++;
      rbytes += len;
    }
    int64_t a = off & ~(int64_t)(page - 1);
    long e = mmhint_os_madvise((char *)j->map + a, (size_t)(off + len - a), MADV_WILLNEED);
    mmhint_count(&pf->c[MMHINT_PFC_requests], 1);
    if (e < 0) {
      pf->last_errno = (int16_t)-e;
      mmhint_prefetch_fallback(pf, MMHINT_PFB_error);
      mmhint_count(&f->c[MMHINT_FC_prefetch_fallbacks], 1);
      return -1;
    }
    mmhint_count(&f->c[MMHINT_FC_prefetch_bytes], (uint64_t)len);
  }
  if (!measured) return MMHINT_PFC_completed;
  /* Verify: readahead is best effort (it gives up on a page it cannot allocate, and I/O errors
   * surface only to readers).  Each step still missing pages is asked for once more, never again;
   * and not at all when less than half of what was asked is there: then the cache let go of the
   * first steps while the last were read (memory pressure, a cgroup's limit), and asking again
   * would only push out what is there, the program's pages among them. */
  const int64_t total = mmhint_prefetch_bytes(j->ranges, j->nranges);
  int64_t first = settle(j, total);
  /* A sequential reader's part (from where its reads end) is its own: neither retried nor missing. */
  int64_t re = reader_end(j), need = total;
  if (re > 0 && first >= 0) {
    need = total - mmhint_prefetch_bytes_from(j->ranges, j->nranges, re);
    first = resident_below(j, re);
  }
  const int retry = first < need && first >= need / 2;
  if (retry) {
    ri = 0;
    roff = 0;
    while (mmhint_prefetch_next(j->ranges, j->nranges, &ri, &roff, j->step, &off, &len)) {
      if (mmhint_prefetch_should_stop(j)) return MMHINT_PFC_stopped_close;
      if (re > 0 && off + len > re) break; /* the reader's part */
      int64_t r = resident_bytes(j, off, len);
      if (r < 0 || r >= len) continue;
      int64_t a = off & ~(int64_t)(page - 1);
      mmhint_os_madvise((char *)j->map + a, (size_t)(off + len - a), MADV_WILLNEED);
      mmhint_count(&pf->c[MMHINT_PFC_requests], 1);
      mmhint_count(&pf->c[MMHINT_PFC_retried_bytes], (uint64_t)(len - r));
    }
  }
  int64_t after = settle(j, total); /* all the ranges, for resident_after_bytes */
  int64_t have = after;
  if (re > 0 && after >= 0) have = resident_below(j, re);
  if (mmhint_prefetch_should_stop(j)) return MMHINT_PFC_stopped_close;
  if (after >= 0) mmhint_count(&pf->c[MMHINT_PFC_resident_after_bytes], (uint64_t)after);
  if (have >= 0 && have < need) {
    mmhint_prefetch_fallback(pf, MMHINT_PFB_incomplete);
    mmhint_count(&f->c[MMHINT_FC_prefetch_fallbacks], 1);
  }
  return MMHINT_PFC_completed;
}

/*
 * The thread lives only while there is work: a program whose main thread
 * calls pthread_exit ends when its last thread does, so a thread that waited
 * for jobs forever would keep such a process alive.  It takes jobs under
 * start_lock and, finding none, marks itself gone under the same lock before
 * it returns; a job queued after that finds no thread and starts a new one.
 */
static int start_lock;

static void *prefetch_main(void *arg) {
  (void)arg;
  mmhint__busy = 1; /* this thread's own calls pass through the shim */
  for (;;) {
    mmhint_spin_lock(&start_lock);
    mmhint_pf_job_t *j = mmhint_prefetch_claim();
    if (!j) __atomic_store_n(&thread_state, 0, __ATOMIC_RELEASE);
    mmhint_spin_unlock(&start_lock);
    if (!j) return NULL;
    int how = run_job(j);
    mmhint_os_munmap(j->map, (size_t)j->map_len);
    mmhint_prefetch_finish(j, how, mmhint_ticks());
  }
}

/* Gives up every queued job (the thread could not be started): unmapped, counted, freed. */
static void drop_queued(void) {
  for (mmhint_pf_job_t *j; (j = mmhint_prefetch_claim()) != NULL;) {
    mmhint_file_t *f = j->file;
    if (f) {
      mmhint_prefetch_fallback(&f->prefetch, MMHINT_PFB_no_thread);
      mmhint_count(&f->c[MMHINT_FC_prefetch_fallbacks], 1);
    }
    mmhint_os_munmap(j->map, (size_t)j->map_len);
    mmhint_prefetch_finish(j, -1, mmhint_ticks());
  }
}

/*
 * Makes sure a thread works through the queue (called after a job was
 * queued): starts one, with every signal blocked, when none runs.  Returns
 * nonzero when one runs; when it cannot be started, says so once and gives
 * up the queued jobs.
 */
static int ensure_thread(void) {
  mmhint_spin_lock(&start_lock);
  int r = 0;
  if (!thread_state) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the full mask */
    pthread_attr_t attr;
    pthread_t t;
    r = pthread_attr_init(&attr);
    if (r == 0) {
      pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
      pthread_attr_setstacksize(&attr, 64 * 1024); /* mincore vectors of 512 bytes; the rest is margin */
      __atomic_store_n(&thread_state, 1, __ATOMIC_RELEASE); /* before it runs: it may finish at once */
      r = pthread_create(&t, &attr, prefetch_main, NULL);
      pthread_attr_destroy(&attr);
      if (r != 0) __atomic_store_n(&thread_state, 0, __ATOMIC_RELEASE);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  mmhint_spin_unlock(&start_lock);
  if (r != 0) {
    static int warned;
    if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
      mmhint__warn("prefetch: its helper thread could not be started; these files are not prefetched", "", "");
    drop_queued();
    return 0;
  }
  return 1;
}

static void unmap_job(void *addr, int64_t len) { mmhint_os_munmap(addr, (size_t)len); }

/* A child's description keeps auto armed (the child may read at random); a running prefetch is the parent's. */
static void child_description(int fd, mmhint_ofd_t *o, void *ctx) {
  (void)fd;
  (void)ctx;
  o->pf.job = 0;
  if (!o->pf.waiting) o->pf.mode = 0;
  else if (o->file) mmhint_prefetch_note_mode(&o->file->prefetch, o->pf.mode);
}

static int pmap_lock; /* guards reading the prefetch map (below) */

void mmhint__prefetch_after_fork(void) {
  thread_state = 0;
  start_lock = 0;
  pmap_lock = 0; /* another thread of the parent may have held it; the map itself stays valid */
  mmhint_prefetch_after_fork_child(unmap_job);
  mmhint_ofd_foreach(child_description, NULL);
}

/* ---- Starting a job ---------------------------------------------------------------- */

#define MMHINT_CG_PATH 600
#define MMHINT_CG_STAT_MAX 16384

/* Writes the first dlen bytes of dir, "/", name into path (MMHINT_CG_PATH bytes); 0 when it does not fit. */
static int cg_path(char *path, const char *dir, size_t dlen, const char *name) {
  const size_t nl = strlen(name);
  if (dlen + 1 + nl >= MMHINT_CG_PATH) return 0;
  memcpy(path, dir, dlen);
  path[dlen] = '/';
  memcpy(path + dlen + 1, name, nl + 1);
  return 1;
}

/* The number in the cgroup file dir/name, or -1. */
static int64_t cg_number(const char *dir, size_t dlen, const char *name) {
  char path[MMHINT_CG_PATH], buf[64];
  if (!cg_path(path, dir, dlen, name)) return -1;
  long n = mmhint_os_read_small(path, buf, sizeof buf);
  return n > 0 ? mmhint_prefetch_parse_number(buf, (size_t)n) : -1;
}

/* The cgroup directory's memory.stat, read once for all the keys wanted: its length (> 0) and *buf, or <= 0. */
static long cg_stat_read(const char *dir, size_t dlen, char **buf) {
  char path[MMHINT_CG_PATH];
  if (!cg_path(path, dir, dlen, "memory.stat")) return -1;
  return mmhint_os_slurp(path, MMHINT_CG_STAT_MAX, buf);
}

/* `key` of memory.stat text (n bytes, n <= 0: not read), or -1. */
static int64_t cg_stat_key(const char *buf, long n, const char *key) {
  return n > 0 ? mmhint_prefetch_parse_stat(buf, (size_t)n, key) : -1;
}

/* Unmaps what cg_stat_read mapped (an empty file is mapped too). */
static void cg_stat_done(char *buf, long n) {
  if (n >= 0) mmhint_os_munmap(buf, MMHINT_CG_STAT_MAX + 1);
}

/*
 * The room the process's memory cgroup leaves (policy/prefetch.h,
 * mmhint_prefetch_cgroup_room), or -1 (no limit, no memory cgroup, or
 * nothing readable).  v1: the hierarchical limit of its directory under
 * /sys/fs/cgroup/memory; v2: the smallest room of its directory and each
 * parent's under /sys/fs/cgroup.  A path /proc/self/cgroup names that the
 * mount does not show (a container without a cgroup namespace sees its own
 * cgroup as the mount's root) falls back to the root of the mount.
 */
static int64_t cgroup_room(void) {
  char text[2048], cg[480], dir[MMHINT_CG_PATH];
  long n = mmhint_os_read_small("/proc/self/cgroup", text, sizeof text);
  if (n <= 0) return -1;
  const int kind = mmhint_prefetch_cgroup(text, (size_t)n, cg, sizeof cg);
  if (!kind) return -1;
  const char *root = kind == 1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup";
  const size_t rl = strlen(root), cl = strlen(cg);
  memcpy(dir, root, rl);
  memcpy(dir + rl, cg, cl + 1);
  size_t dl = rl + (cl == 1 ? 0 : cl); /* "/" is the root itself */
  dir[dl] = 0;
  long d = mmhint_os_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (d < 0) dl = rl; /* not visible here: the mount's root is ours */
  else mmhint_os_close((int)d);
  char *st = NULL;
  if (kind == 1) {
    long sn = cg_stat_read(dir, dl, &st);
    int64_t limit = cg_stat_key(st, sn, "hierarchical_memory_limit");
    if (limit < 0) limit = cg_number(dir, dl, "memory.limit_in_bytes");
    int64_t room = mmhint_prefetch_cgroup_room(limit, cg_number(dir, dl, "memory.usage_in_bytes"),
                                               cg_stat_key(st, sn, "total_inactive_file"));
    cg_stat_done(st, sn);
    return room;
  }
  int64_t best = -1;
  for (;;) { /* v2: every level's limit holds; the root has none */
    if (dl > rl) {
      long sn = cg_stat_read(dir, dl, &st);
      int64_t room = mmhint_prefetch_cgroup_room(cg_number(dir, dl, "memory.max"), cg_number(dir, dl, "memory.current"),
                                                 cg_stat_key(st, sn, "inactive_file"));
      cg_stat_done(st, sn);
      if (room >= 0 && (best < 0 || room < best)) best = room;
    }
    while (dl > rl && dir[dl - 1] != '/') dl--;
    if (dl <= rl + 1) break;
    dl--; /* the parent directory */
  }
  return best;
}

/* What the page cache may take: MemAvailable, or the memory cgroup's room when that is smaller; -1 unknown. */
static int64_t mem_available(void) {
  char *buf = NULL;
  long n = mmhint_os_slurp("/proc/meminfo", 16384, &buf);
  int64_t v = -1;
  if (n >= 0) { /* an empty file is mapped too */
    if (n > 0) v = mmhint_prefetch_parse_meminfo(buf, (size_t)n);
    mmhint_os_munmap(buf, 16385);
  }
  int64_t room = cgroup_room();
  if (room >= 0 && (v < 0 || room < v)) v = room;
  return v;
}

/* Counts a fallback on the file. */
static void fallback(mmhint_file_t *f, int reason) {
  mmhint_prefetch_fallback(&f->prefetch, reason);
  mmhint_count(&f->c[MMHINT_FC_prefetch_fallbacks], 1);
}

/*
 * Starts (or joins) the prefetch of fd's file for description o: `ranges`
 * NULL means the whole file.  Called on the program's thread with the guard
 * held.  Errors are fallbacks, counted; nothing is said on stderr but for a
 * thread that cannot start (once).
 */
static void start(int fd, mmhint_ofd_t *o, const mmhint_pf_range_t *ranges, int nranges) {
  mmhint_file_t *f = o->file;
  mmhint_prefetch_state_t *s = &o->pf;
  s->waiting = 0;
  struct stat st;
  if (mmhint_os_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return;
  const int64_t size = (int64_t)st.st_size;
  const int64_t want = ranges ? mmhint_prefetch_bytes(ranges, nranges) : size;
  if (want > mmhint_prefetch_limit(s->max, s->max > 0 ? 0 : mem_available())) {
    fallback(f, MMHINT_PFB_too_large);
    return;
  }
  char path[64] = "/proc/self/fd/";
  mmhint_fmt_u64(path + strlen(path), (uint64_t)fd);
  long own = mmhint_os_open(path, O_RDONLY | O_CLOEXEC, 0);
  void *map = MAP_FAILED;
  if (own >= 0) {
    map = mmhint_os_mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, (int)own, 0);
    mmhint_os_close((int)own); /* the mapping holds the file: no descriptor stays behind */
  }
  if (map == MAP_FAILED) {
    fallback(f, MMHINT_PFB_reopen);
    return;
  }
  long euid = syscall(SYS_geteuid);
  f->prefetch.measured = (uint8_t)(euid == 0 || (long)st.st_uid == euid); /* else mincore answers nothing */
  mmhint_pf_spec_t spec = {f, map, size, size,
                           mmhint_prefetch_step_size(s->step, mmhint_hints_willneed_piece((uint64_t)st.st_dev),
                                                     mmhint_page_size()),
                           ranges, ranges ? nranges : 0};
  uint32_t slot = 0, gen = 0;
  int r = mmhint_prefetch_submit(&spec, mmhint_ticks(), &slot, &gen);
  if (r != 0) mmhint_os_munmap(map, (size_t)size); /* joined one that runs, or no slot */
  if (r < 0) {
    fallback(f, MMHINT_PFB_busy);
    return;
  }
  s->job = slot + 1;
  s->job_gen = gen;
  if (r == 0) {
    mmhint_count(&f->prefetch.c[MMHINT_PFC_jobs], 1);
    __atomic_store_n(&f->prefetch.state, MMHINT_PFS_RUNNING, __ATOMIC_RELAXED);
    ensure_thread();
  }
}

/* ---- prefetch=learned ------------------------------------------------------------------
 * The map named by prefetch_map (policy/pmap.h gives the format) is read once
 * per process, at start-up when the option is set, else at the first open
 * that asks for learned, with raw system calls into memory from mmap (no
 * malloc); the parsed map points into that buffer, which is never freed.  At
 * the open of a file under learned its entry gives the ranges; a map that is
 * missing, unreadable, truncated or malformed, or an entry for a file whose
 * size changed since (stale), gives one `mmhint:` line per process and the
 * file runs as auto; a file the map does not list runs as auto, counted
 * (learned_map) without a line.
 */

#define PMAP_MAX_BYTES (64u << 20) /* a larger map is refused (one line): ~4 M ranges */

static int pmap_state;       /* 0 not read yet, 1 parsed, -1 unusable */
static mmhint_pmap_t pmap;
static char pmap_why[300];   /* why it is unusable, for the one line */

/* Memory for n bytes from the kernel, or NULL. */
static void *pages_of(size_t n) {
  void *p = mmhint_os_mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Reads and parses the map once; the caller holds pmap_lock. */
static void load_map_locked(void) {
  if (pmap_state) return;
  const char *path = mmhint__cfg.values.str[MMHINT_OPT_prefetch_map];
  pmap_state = -1;
  if (!path[0]) {
    snprintf(pmap_why, sizeof pmap_why, "prefetch_map is not set");
    return;
  }
  char *buf = NULL;
  long n = mmhint_os_slurp(path, PMAP_MAX_BYTES, &buf);
  if (n < 0) {
    snprintf(pmap_why, sizeof pmap_why, "prefetch_map %s cannot be read (%s)", path,
             n == -ENOENT ? "no such file" : n == -EACCES ? "permission denied" : n == -EFBIG ? "larger than 64 MiB"
             : n == -EINVAL ? "not a regular file" : "error");
    return;
  }
  size_t cap = (size_t)n / 4 + 1;
  pmap.entries = pages_of(cap * sizeof *pmap.entries);
  pmap.paths = pages_of(cap * sizeof *pmap.paths);
  pmap.ranges = pages_of(cap * sizeof *pmap.ranges);
  if (!pmap.entries || !pmap.paths || !pmap.ranges) {
    snprintf(pmap_why, sizeof pmap_why, "prefetch_map %s: no memory to parse it", path);
    return;
  }
  pmap.entries_cap = pmap.paths_cap = pmap.ranges_cap = (uint32_t)cap;
  unsigned long line = 0;
  mmhint_pmap_status_t st = mmhint_pmap_parse(&pmap, buf, (size_t)n, &line);
  if (st != MMHINT_PMAP_OK) {
    snprintf(pmap_why, sizeof pmap_why, "prefetch_map %s: line %lu: %s", path, line, mmhint_pmap_strerror(st));
    return;
  }
  pmap_state = 1;
}

/* Says once per process why learned runs as auto. */
static void warn_learned(const char *why) {
  static int warned;
  if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) return;
  mmhint__warn("prefetch=learned: ", why, "; using prefetch=auto instead");
}

/* At start-up: read the map when one is named (the first learned open would otherwise). */
__attribute__((constructor)) static void load_map_at_start(void) {
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) == MMHINT_STATE_NONE) mmhint__bootstrap();
  if (__atomic_load_n(&mmhint__state, __ATOMIC_ACQUIRE) != MMHINT_STATE_READY) return;
  if (!mmhint__cfg.values.str[MMHINT_OPT_prefetch_map][0]) return;
  int was_busy = mmhint__busy;
  mmhint__busy = 1;
  mmhint_spin_lock(&pmap_lock);
  load_map_locked();
  mmhint_spin_unlock(&pmap_lock);
  mmhint__busy = was_busy;
}


/*
 * Starts the learned prefetch of fd's file (opened by `path`, `size` bytes
 * now) from its map entry.  Returns 1 when the map decided (a job started,
 * joined or fell back for size), 0 when the file must run as auto.
 */
static int start_learned(int fd, mmhint_ofd_t *o, const char *path, int64_t size) {
  int decided = 0;
  mmhint_spin_lock(&pmap_lock);
  load_map_locked();
  if (pmap_state < 0) {
    warn_learned(pmap_why);
  } else if (path) {
    const mmhint_pmap_entry_t *e = mmhint_pmap_find(&pmap, path);
    size_t n = 0;
    uint64_t bytes = 0, filled = 0;
    uint64_t fill = e ? e->bytes / 1000 * MMHINT_PMAP_FILL_PERMILLE + e->bytes % 1000 * MMHINT_PMAP_FILL_PERMILLE / 1000 : 0;
    /* Room for every range of the entry, so that the lookup never widens the last one over the rest. */
    size_t cap = e ? (e->nranges ? e->nranges : 1) : 0;
    if (cap > MMHINT_PF_MAX_RANGES) cap = MMHINT_PF_MAX_RANGES;
    size_t out_bytes = cap * sizeof(mmhint_pmap_range_t);
    mmhint_pmap_range_t *lookup_out = e ? pages_of(out_bytes) : NULL;
    mmhint_pmap_lookup_t r = lookup_out ? mmhint_pmap_lookup_bounded(&pmap, path, (uint64_t)size, MMHINT_PMAP_MERGE_GAP,
                                                                     fill, lookup_out, cap, &n, &bytes, &filled)
                                        : MMHINT_PMAP_MISSING;
    if (r == MMHINT_PMAP_STALE) {
      char why[400];
      snprintf(why, sizeof why, "the prefetch map's entry for %s is stale (the file is %lld bytes, the map recorded %llu)",
               path, (long long)size, e ? (unsigned long long)e->size : 0ull);
      warn_learned(why);
    } else if (r == MMHINT_PMAP_FOUND && n > 0) {
      /* The same two 64-bit words per range: converted in place (offsets and lengths are below 2^63). */
      mmhint_pf_range_t *ranges = (mmhint_pf_range_t *)(void *)lookup_out;
      for (size_t i = 0; i < n; i++) {
        uint64_t off = lookup_out[i].off, len = lookup_out[i].len;
        ranges[i].off = (int64_t)off;
        ranges[i].len = (int64_t)len;
      }
      start(fd, o, ranges, (int)n); /* the job copies the ranges */
      decided = 1;
    }
    if (lookup_out) mmhint_os_munmap(lookup_out, out_bytes);
  }
  mmhint_spin_unlock(&pmap_lock);
  return decided;
}

/* ---- The hooks ------------------------------------------------------------------------ */

void mmhint__prefetch_open(int fd, mmhint_ofd_t *o, const long long *num, int oflags, int64_t size,
                           const char *path) {
  const int mode = (int)num[MMHINT_OPT_prefetch];
  if (mode == MMHINT_PF_OFF || !o->file) return;
  mmhint_pf_open_facts_t facts = {mode, o->file->mode, oflags, size, num[MMHINT_OPT_prefetch_min]};
  int what = mmhint_prefetch_decide_open(&facts);
  if (what == MMHINT_PF_SKIP) return;
  mmhint_file_t *f = o->file;
  mmhint_prefetch_note_mode(&f->prefetch, mode);
  mmhint_prefetch_state_t *s = &o->pf;
  memset(s, 0, sizeof *s);
  s->file = f;
  s->mode = (uint8_t)mode;
  s->max = num[MMHINT_OPT_prefetch_max];
  s->step = num[MMHINT_OPT_prefetch_step];
  if (mode == MMHINT_PF_LEARNED) {
    if (start_learned(fd, o, path, size)) return;
    fallback(f, MMHINT_PFB_learned_map); /* runs as auto */
  }
  if (what == MMHINT_PF_START) start(fd, o, NULL, 0);
  else s->waiting = 1;
}

void mmhint__prefetch_read(mmhint_ofd_t *o, int fd, int64_t offset, long r, uint64_t dur, uint64_t now) {
  if (r <= 0) return; /* errors and the end of the file are not reads of pages */
  mmhint_prefetch_state_t *s = &o->pf;
  mmhint_prefetch_file_t *pf = &s->file->prefetch;
  mmhint_prefetch_count_read(pf, dur);
  if (offset >= 0) { /* a sequential reader: the thread keeps ahead of it (policy/prefetch.h) */
    if (offset == s->next && s->next > 0) {
      s->run++;
    } else {
      s->run = 0;
      s->run_start = offset;
    }
    s->next = offset + r;
    if (s->run >= MMHINT_PF_SEQ_RUN && __atomic_load_n(&pf->state, __ATOMIC_RELAXED) == MMHINT_PFS_RUNNING) {
      __atomic_store_n(&pf->reader_start, s->run_start, __ATOMIC_RELAXED);
      __atomic_store_n(&pf->reader_end, s->next, __ATOMIC_RELAXED);
    }
  }
  if (!s->waiting || offset < 0) return;
  if (mmhint_pattern_feed(&s->pat, offset, (uint64_t)r, now, NULL) && mmhint_prefetch_auto_fires(s->pat.cls)) {
    if (!pf->auto_ticks) {
      pf->auto_ticks = now ? now : 1;
      pf->auto_offset = offset;
    }
    start(fd, o, NULL, 0);
  }
}
