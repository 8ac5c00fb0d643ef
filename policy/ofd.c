/*
 * policy/ofd.c: see ofd.h.
 *
 * Lookups are two dependent loads with no lock.  A description is recycled
 * through a free list rather than unmapped, so a lookup racing with close()
 * on another thread (a race in the program itself) reads a valid, if
 * unrelated, record rather than freed memory.
 */
#include "policy/ofd.h"

#include <string.h>
#include <sys/mman.h>

#include "policy/arena.h"
#include "policy/os/os.h"
#include "policy/readmap.h"
#include "policy/spin.h"

uint64_t mmhint_ofd_untracked;

mmhint_ofd_t **volatile mmhint_ofd_chunks[MMHINT_FD_CHUNKS];
#define chunks mmhint_ofd_chunks
static int table_lock; /* guards the free list and chunk creation (policy/spin.h) */
static mmhint_ofd_t *free_list;


mmhint_ofd_t *mmhint_ofd_new(void) {
  mmhint_spin_lock(&table_lock);
  mmhint_ofd_t *o = free_list;
  if (o) free_list = o->next_free;
  mmhint_spin_unlock(&table_lock);
  if (!o) o = mmhint_arena_alloc(sizeof *o);
  if (!o) return NULL;
  memset(o, 0, sizeof *o);
  o->last_end = -1;
  o->last_wend = -1;
  return o;
}

/* Drops one reference; the caller holds the table lock. */
static void unref_locked(mmhint_ofd_t *o) {
  if (o && --o->refs <= 0) {
    if (o->rm) mmhint_rm_release(o->rm); /* the last descriptor is gone: drop its read->mmap state */
    mmhint_hints_release(&o->hints);       /* no system call: safe under the lock */
    if (o->pf.job) mmhint_prefetch_unuse(o->pf.job - 1, o->pf.job_gen); /* the file's last user stops its job */
    o->pf.job = 0;
    o->pf.mode = 0;
    o->rm = NULL;
    o->next_free = free_list;
    free_list = o;
  }
}

/* Returns the slot of fd, creating its chunk; NULL when fd is out of reach or memory ran out. */
static mmhint_ofd_t *volatile *slot(int fd) {
  if (fd < 0) return NULL;
  if ((unsigned)fd >= MMHINT_FD_MAX) {
    __atomic_fetch_add(&mmhint_ofd_untracked, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  unsigned ci = (unsigned)fd >> MMHINT_FD_CHUNK_BITS;
  mmhint_ofd_t **c = __atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE);
  if (!c) {
    c = mmhint_arena_alloc(sizeof(mmhint_ofd_t *) * MMHINT_FD_CHUNK);
    if (!c) {
      __atomic_fetch_add(&mmhint_ofd_untracked, 1, __ATOMIC_RELAXED);
      return NULL;
    }
    __atomic_store_n(&chunks[ci], c, __ATOMIC_RELEASE); /* under the table lock: no race */
  }
  return (mmhint_ofd_t *volatile *)&c[fd & (MMHINT_FD_CHUNK - 1)];
}

int mmhint_ofd_attach(int fd, mmhint_ofd_t *o) {
  mmhint_spin_lock(&table_lock);
  mmhint_ofd_t *volatile *s = slot(fd);
  if (!s) {
    if (o && o->refs <= 0) unref_locked(o);
    mmhint_spin_unlock(&table_lock);
    return -1;
  }
  mmhint_ofd_t *old = *s;
  if (o) o->refs++;
  __atomic_store_n(s, o, __ATOMIC_RELEASE);
  if (old) unref_locked(old);
  mmhint_spin_unlock(&table_lock);
  return 0;
}

void mmhint_ofd_detach(int fd) {
  if ((unsigned)fd >= MMHINT_FD_MAX) return;
  unsigned ci = (unsigned)fd >> MMHINT_FD_CHUNK_BITS;
  if (!__atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE)) return;
  mmhint_spin_lock(&table_lock);
  mmhint_ofd_t **c = chunks[ci];
  mmhint_ofd_t *old = c[fd & (MMHINT_FD_CHUNK - 1)];
  if (old) {
    __atomic_store_n(&c[fd & (MMHINT_FD_CHUNK - 1)], NULL, __ATOMIC_RELEASE);
    unref_locked(old);
  }
  mmhint_spin_unlock(&table_lock);
}

void mmhint_ofd_detach_range(unsigned lo, unsigned hi) {
  if (hi >= MMHINT_FD_MAX) hi = MMHINT_FD_MAX - 1;
  if (lo > hi) return;
  mmhint_spin_lock(&table_lock);
  for (unsigned ci = lo >> MMHINT_FD_CHUNK_BITS; ci <= (hi >> MMHINT_FD_CHUNK_BITS); ci++) {
    mmhint_ofd_t **c = chunks[ci];
    if (!c) continue;
    for (unsigned i = 0; i < MMHINT_FD_CHUNK; i++) {
      unsigned fd = (ci << MMHINT_FD_CHUNK_BITS) | i;
      if (fd < lo || fd > hi || !c[i]) continue;
      mmhint_ofd_t *old = c[i];
      __atomic_store_n(&c[i], NULL, __ATOMIC_RELEASE);
      unref_locked(old);
    }
  }
  mmhint_spin_unlock(&table_lock);
}

void mmhint_ofd_foreach(void (*fn)(int fd, mmhint_ofd_t *o, void *ctx), void *ctx) {
  for (unsigned ci = 0; ci < MMHINT_FD_CHUNKS; ci++) {
    mmhint_ofd_t **c = __atomic_load_n(&chunks[ci], __ATOMIC_ACQUIRE);
    if (!c) continue;
    for (unsigned i = 0; i < MMHINT_FD_CHUNK; i++) {
      mmhint_ofd_t *o = __atomic_load_n(&c[i], __ATOMIC_ACQUIRE);
      if (o) fn((int)((ci << MMHINT_FD_CHUNK_BITS) | i), o, ctx);
    }
  }
}

void mmhint_ofd_foreach_locked(void (*fn)(int fd, mmhint_ofd_t *o, void *ctx), void *ctx) {
  mmhint_spin_lock(&table_lock);
  mmhint_ofd_foreach(fn, ctx);
  mmhint_spin_unlock(&table_lock);
}

void mmhint_ofd_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&table_lock);
  else mmhint_spin_unlock(&table_lock);
  if (phase != MMHINT_FORK_CHILD) return;
  /* Per-description read->mmap locks may have been held by threads the child does not have. */
  for (unsigned ci = 0; ci < MMHINT_FD_CHUNKS; ci++) {
    mmhint_ofd_t **c = chunks[ci];
    for (unsigned i = 0; c && i < MMHINT_FD_CHUNK; i++)
      if (c[i] && c[i]->rm) mmhint_rm_reset_lock(c[i]->rm);
  }
}
