/*
 * policy/arena.c: a lock-free bump allocator over chunks mapped with mmap.
 *
 * Records (files, descriptions, samples) live until the process ends, so
 * nothing is ever returned; a chunk that cannot satisfy a request is abandoned
 * with its tail unused.  Allocation is a compare-and-swap on the current
 * chunk's cursor, which keeps it safe in signal handlers and across threads.
 */
#include "policy/arena.h"

#include <stdint.h>
#include <sys/mman.h>

#include "policy/os/os.h"

#define MMHINT_ARENA_CHUNK (1u << 20) /* 1 MiB: small enough to not matter, large enough to be rare */

typedef struct {
  char *base;
  size_t size;
  size_t used;
} mmhint_chunk_t;

/* The current chunk, replaced wholesale when full. */
static mmhint_chunk_t *volatile current;
static size_t mapped_total;

static mmhint_chunk_t *chunk_new(size_t need) {
  size_t size = MMHINT_ARENA_CHUNK;
  while (size < need + 64) size *= 2;
  char *mem = mmhint_os_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return NULL;
  __atomic_add_fetch(&mapped_total, size, __ATOMIC_RELAXED);
  mmhint_chunk_t *c = (mmhint_chunk_t *)mem;
  c->base = mem;
  c->size = size;
  c->used = 64; /* the header, rounded to a cache line */
  return c;
}

void *mmhint_arena_alloc(size_t size) {
  size = (size + 15) & ~(size_t)15;
  for (;;) {
    mmhint_chunk_t *c = __atomic_load_n(&current, __ATOMIC_ACQUIRE);
    if (c) {
      size_t used = __atomic_load_n(&c->used, __ATOMIC_RELAXED);
      if (used + size <= c->size) {
        if (__atomic_compare_exchange_n(&c->used, &used, used + size, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
          return c->base + used;
        continue;
      }
    }
    mmhint_chunk_t *fresh = chunk_new(size);
    if (!fresh) return NULL;
    if (!__atomic_compare_exchange_n(&current, &c, fresh, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      /* Another thread installed a chunk first; use ours for this request only. */
      void *p = fresh->base + fresh->used;
      fresh->used += size;
      return p;
    }
  }
}

size_t mmhint_arena_mapped(void) { return __atomic_load_n(&mapped_total, __ATOMIC_RELAXED); }
