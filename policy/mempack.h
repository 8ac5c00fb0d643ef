/*
 * policy/mempack.h: the router's packing allocator.  Routed allocations
 * below the huge-page size are blocks of shared 2 MiB chunks (docs/MEMORY.md,
 * "Packing"): the size classes and their cache colours (pure, unit-tested in
 * tests/policy/memroute_test.cc), the reserved range free() recognises, and
 * allocation, free, usable size and in-place realloc of blocks.  Uses the
 * router's configuration, counters and fallbacks (memcore.h); the router
 * (memroute.h) calls it, and the statistics (memrender.h) read its chunks.
 * Raw system calls only: safe inside the malloc wrappers.
 */
#ifndef MMHINT_POLICY_MEMPACK_H
#define MMHINT_POLICY_MEMPACK_H

#include <stddef.h>
#include <stdint.h>

#include "policy/memcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Packing.  A routed allocation smaller than a huge page cannot be backed by
 * one in a mapping of its own, and a mapping per allocation costs system
 * calls and page faults on every malloc/free pair (docs/MEMORY.md, "Packing").
 * So allocations below MMHINT_HUGE_SIZE are carved out of shared 2 MiB
 * chunks (one size class and one treatment per chunk) inside one reserved
 * address range, and freed ones go to a free list per class.  Classes: 16 to
 * 128 bytes in steps of 16, then four per doubling up to 2 MiB (at most 25 %
 * rounding).  Slot i of a chunk starts at i * size, so a class is aligned to
 * the lowest set bit of its size.
 */
#define MMHINT_PACK_CLASSES 64

/* Returns the smallest class whose size is at least n (1 <= n <= MMHINT_HUGE_SIZE).  Pure. */
static inline uint32_t mmhint_pack_class(uint64_t n) {
  if (n <= 128) return n ? (uint32_t)((n + 15) / 16 - 1) : 0;
  uint32_t b = 63 - (uint32_t)__builtin_clzll(n - 1); /* 2^b < n <= 2^(b+1) */
  uint64_t step = (uint64_t)1 << (b - 2);
  uint32_t k = (uint32_t)((n - ((uint64_t)1 << b) + step - 1) / step); /* 1..4 */
  return 8 + (b - 7) * 4 + (k - 1);
}

/* The size of class c (< MMHINT_PACK_CLASSES).  Pure. */
static inline uint64_t mmhint_pack_class_size(uint32_t c) {
  if (c < 8) return (uint64_t)(c + 1) * 16;
  uint32_t b = (c - 8) / 4 + 7, k = (c - 8) % 4 + 1;
  return ((uint64_t)1 << b) + (uint64_t)k * ((uint64_t)1 << (b - 2));
}

/*
 * Returns the class for n bytes aligned to `align` (a power of two, 0 for
 * the default 16), or MMHINT_PACK_CLASSES when no class below a huge page
 * both holds n and is aligned enough (the allocation then gets a region of
 * its own).  Pure.
 */
static inline uint32_t mmhint_pack_class_aligned(uint64_t n, uint64_t align) {
  if (n == 0 || n >= MMHINT_HUGE_SIZE) return MMHINT_PACK_CLASSES;
  if (align < 16) align = 16;
  uint32_t c = mmhint_pack_class(n);
  for (; c < MMHINT_PACK_CLASSES; c++) {
    uint64_t s = mmhint_pack_class_size(c);
    if (s >= MMHINT_HUGE_SIZE) return MMHINT_PACK_CLASSES;
    if ((s & (0 - s)) >= align) return c;
  }
  return MMHINT_PACK_CLASSES;
}

/*
 * Cache colouring.  Every block of a class whose size is a multiple of the
 * page size starts at the same offset of a page, so its live blocks, and the
 * page-aligned headers of other allocators (pymalloc's pools), all compete
 * for the same sets of the L1 cache, which indexes by the page offset.  So a
 * chunk of such a class starts its first block 4096 - 64 * (k mod 32 + 1) + 16
 * bytes in (k: the chunk's index in the range): in the upper half of a page,
 * away from the headers and first objects that other allocators put at the
 * start of their pages, and different for neighbouring chunks; only when
 * the chunk's tail (the bytes after its last whole block) has room for it,
 * so that no block is lost.
 *
 * The 16: a block then starts 16 bytes past a 32-byte boundary, where
 * glibc's malloc puts its blocks (after its 16-byte chunk header), so that
 * a program's data lands at the offsets it has under glibc.  It matters for
 * the kernel's copies into it: on this machine's CPU (AMD EPYC, Zen 4, under
 * KVM) read(2) of page-cache pages into a destination 32-byte aligned takes
 * ~10 % longer than into one 16 bytes off (Python's bytes object puts its
 * data 32 bytes into the block; docs/MEMORY.md has the measurement).
 *
 * A coloured block is aligned to 16 bytes (what malloc promises), which is
 * why requests aligned to more get chunks of their own (uncoloured).
 * Returns the colour in bytes of chunk k of class c (0: none).  Pure.
 */
#define MMHINT_PACK_COLOUR_ALIGN 16
static inline uint32_t mmhint_pack_colour(uint32_t c, uint64_t k) {
  uint64_t s = mmhint_pack_class_size(c);
  uint32_t colour = (uint32_t)(MMHINT_PAGE_SIZE - (k % 32 + 1) * 64 + 16);
  if (s % MMHINT_PAGE_SIZE || MMHINT_HUGE_SIZE % s < colour) return 0;
  return colour;
}

/* ---- Blocks ---------------------------------------------------------------------- */

/*
 * Serves n bytes (1 <= n < 2 MiB) aligned to `align` (0, or a power of two)
 * with treatment `want` (mmhint_memroute_decide) from a packed chunk of the
 * class mmhint_pack_class_aligned(n, align); with `zero` the first n bytes
 * are zero.  When no class is aligned enough, or carving a chunk failed
 * while the range has room, it gets a region of its own (mmhint_memmap_alloc:
 * fresh memory is zero).  Returns NULL when packing failed for good (the
 * range is used up or could not be reserved: mmhint_mempack_exhausted) or the
 * region could not be mapped.
 */
void *mmhint_mempack_alloc(size_t n, size_t align, uint32_t want, int zero);

/* Nonzero when no packed allocation can succeed any more: the range could not be reserved or is used up. */
int mmhint_mempack_exhausted(void);

/* The reserved range of packed chunks: [base, base + len); len is 0 until the first packed allocation. */
extern __attribute__((visibility("hidden"))) uintptr_t mmhint_memroute_pack_base;
extern __attribute__((visibility("hidden"))) size_t mmhint_memroute_pack_len;

/*
 * Nonzero when p lies in the packed range: free's first test.  The length is
 * tested first, so that before any packed allocation (routing off, or no
 * routed size below 2 MiB) it costs a load, a test and a branch.
 */
static inline int mmhint_memroute_packed(const void *p) {
  size_t len = mmhint_memroute_pack_len;
  return __builtin_expect(len != 0, 0) && (uintptr_t)p - mmhint_memroute_pack_base < len;
}

/*
 * For p in the packed range (mmhint_memroute_packed): returns the usable
 * size of the block at p, or 0 when p is not a block the router handed out
 * (its chunk was never carved: someone else's mapping, or not a block start).
 */
size_t mmhint_memroute_pack_size(const void *p);

/* Puts a packed block back on its class's free list; returns 0 when p is not one (see mmhint_memroute_pack_size). */
int mmhint_memroute_pack_free(void *p);

/*
 * realloc of packed block p to n bytes: returns p when n gets the same
 * treatment and the same class, else NULL (the caller moves the data).
 */
void *mmhint_memroute_pack_resize(void *p, size_t n);

/* What the router knows of a carved chunk (the statistics read it). */
typedef struct {
  uint8_t klass;  /* class + 1 (0: not carved); written last, with release */
  uint8_t treat;  /* the list index it was carved for: the treatment >> 2, and MMHINT_PACK_ALIGNED */
  uint8_t got;    /* MMHINT_RG_* bits it obtained */
  uint8_t colour; /* its first block's offset, in units of MMHINT_PACK_COLOUR_ALIGN */
} mmhint_pack_chunk_t;

/* List index bit: the chunk is not coloured, for requests aligned above MMHINT_PACK_COLOUR_ALIGN (16). */
#define MMHINT_PACK_ALIGNED 8

/*
 * Returns the chunks carved so far (*n of them, at mmhint_memroute_pack_base
 * + i * MMHINT_HUGE_SIZE; all live: chunks are never unmapped).  A chunk
 * whose carving failed has klass 0.
 */
const mmhint_pack_chunk_t *mmhint_mempack_chunks(size_t *n);

/* The fork protocol (policy/fork.h) for the packing lock, a leaf: taken last, nothing is taken under it. */
void mmhint_memroute_fork(int phase);

#ifdef __cplusplus
}
#endif
#endif
