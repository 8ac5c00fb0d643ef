/*
 * tests/sanitize/tsan_policy.c: the concurrent paths of policy/ under
 * ThreadSanitizer (built and run by tests/integration/hard_sanitizers.sh,
 * with every policy/*.c compiled -fsanitize=thread).
 *
 * Threads at once: find-or-create statistics records for a shared set of
 * files (the lock-free hash and its creation lock), count reads into them,
 * add paths; make, attach, look up and detach descriptions in the fd table
 * (shared numbers and private ones); allocate from the arena; and make
 * read->mmap states of one file and map windows of it under a small cap, so
 * windows are evicted while other threads copy out of theirs; and race to
 * make one large file's "touched" map (policy/cov.h) and set its bits with
 * reads of one granule and of several.  Then the main thread renders the
 * statistics.  Exits 0 when every check held
 * (TSan makes the run fail on a race: halt_on_error / exitcode).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/arena.h"
#include "policy/ofd.h"
#include "policy/os/os.h"
#include "policy/readmap.h"
#include "policy/stats.h"

#define THREADS 6
#define ITER 3000
#define FILES 64

static int data_fd;
static int64_t data_size;
static struct stat data_st;
static long bad;
static mmhint_file_t *big; /* a 64 MiB record: it gets a touched map */

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned seed = (unsigned)id * 2654435761u;
  char path[64];
  mmhint_rm_params_t p = {MMHINT_RM_ON, 0, 32768, 0};
  mmhint_rm_facts_t facts;
  memset(&facts, 0, sizeof facts);
  facts.oflags = O_RDONLY;
  facts.opened = 1;
  facts.type = S_IFREG;
  facts.size = data_size;
  facts.dev = data_st.st_dev;
  facts.ino = data_st.st_ino;
  for (int i = 0; i < ITER; i++) {
    /* The statistics store. */
    uint64_t ino = (uint64_t)(rand_r(&seed) % FILES) + 1000;
    mmhint_file_t *f = mmhint_stats_file(7, ino, S_IFREG, 4096);
    if (!f) {
      __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
      continue;
    }
    snprintf(path, sizeof path, "/data/file%llu.%d", (unsigned long long)ino, i % 3);
    mmhint_stats_add_path(f, path);
    mmhint_stats_read(f, 4096, (int64_t)i * 4096, (int64_t)i * 4096, (uint64_t)i, (uint64_t)i + 5, 0);
    /* The touched map: made by whichever thread comes first, then bits from all. */
    if (i < 4) mmhint_cov_init(&big->cov, (int64_t)64 << 20); /* what mmhint_stats_opened does at open */
    mmhint_stats_read(big, (i % 5) ? 4096 : 300000, ((int64_t)(rand_r(&seed) % 16384)) * 4096, -1, 1, 2, 0);
    /* The descriptor table: a shared range and a private one. */
    int fd = (i % 2) ? 100 + rand_r(&seed) % 50 : 2000 + id * 100 + i % 100;
    mmhint_ofd_t *o = mmhint_ofd_new();
    if (o) {
      o->file = f;
      if (mmhint_ofd_attach(fd, o) != 0) __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
      mmhint_ofd_t *g = mmhint_ofd_get(fd);
      (void)g; /* another thread may have replaced it: only the lookup is exercised */
      if (i % 3 == 0) mmhint_ofd_detach(fd);
    }
    if (i % 16 == 0 && !mmhint_arena_alloc(64 + (size_t)(i % 7) * 100)) __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
    /* read->mmap windows of one file, under a cap that forces evictions. */
    if (i % 8 == 0) {
      mmhint_rm_t *rm = mmhint_rm_new(&p, &facts, -1);
      if (!rm) continue;
      int64_t pos = ((int64_t)(rand_r(&seed) % (unsigned)(data_size / 4096))) * 4096;
      const char *base;
      int reason;
      mmhint_rm_reader_enter(rm);
      int64_t n = mmhint_rm_map(rm, data_fd, pos, pos + 4096, &base, &reason);
      if (n > 0) {
        /* Every 8-byte word of the data file holds its offset. */
        uint64_t w;
        memcpy(&w, base, 8);
        if (w != (uint64_t)pos) __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
      }
      mmhint_rm_reader_leave(rm);
      mmhint_rm_release(rm);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: tsan_policy DATAFILE (made with hard_stress mkfile)\n");
    return 2;
  }
  data_fd = open(argv[1], O_RDONLY);
  if (data_fd < 0 || fstat(data_fd, &data_st)) return 2;
  data_size = data_st.st_size;
  mmhint_stats_init(64);
  mmhint_cov_configure(1);
  big = mmhint_stats_file(7, 1, S_IFREG, (int64_t)64 << 20);
  if (!big) return 2;
  mmhint_rm_cap = (int64_t)8 << 20; /* a few windows: evictions happen */
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  mmhint_process_info_t info;
  memset(&info, 0, sizeof info);
  info.pid = 1;
  info.exe = "/x";
  info.cmdline = "x";
  info.cmdline_len = 1;
  info.host = "h";
  info.end_reason = "exit";
  char *buf = NULL;
  size_t cap = 0;
  long n = mmhint_stats_render(&info, &buf, &cap);
  if (n <= 0) bad++;
  else if (!memmem(buf, (size_t)n, "\"touched\"", 9)) bad++; /* the large file's map was made and written */
  if (n > 0) mmhint_os_munmap(buf, cap);
  printf("threads %d iterations %d bad %ld rendered %ld bytes\n", THREADS, ITER, bad, n);
  return bad ? 1 : 0;
}
