/*
 * policy/residency.h: which pages of a file were in the page cache at a given
 * moment (for drop-behind: release only the pages this process brought in, as
 * nocache does), and how many are there now (for the statistics).
 *
 * How it looks.  cachestat(2) (Linux 6.5+) counts the cached pages of a range
 * without a mapping and in ~40 us per GiB when the file is fully cached
 * (large folios); mincore(2) over a temporary PROT_READ mapping gives the
 * per-page answer but costs ~1.5 ms per GiB cold and 5-11 ms per GiB cached.
 * A scan therefore walks the file in 64 MiB steps: cachestat says "none",
 * "all" or "some"; only "some" steps are read page by page with mincore, and
 * only up to a budget of MMHINT_RES_MINCORE_BUDGET pages per scan.  Steps past
 * the budget, steps that cannot be mapped, and files whose cachestat is
 * refused (EPERM: read-only descriptor of a file the caller does not own; or
 * ENOSYS) fall back to mincore under the same budget; what the budget leaves
 * unread is marked kept (never dropped) and its count is sampled
 * (`exact_count` 0).
 *
 * Bounded memory.  The map has at most MMHINT_RES_MAX_BITS bits (128 KiB): a
 * bit covers 2^k pages, k as small as that allows (one page per bit up to
 * 4 GiB with 4 KiB pages; 1 MiB per bit for a 1 TiB file).  A bit is set when
 * ANY page of its chunk was resident, so a coarse map only ever keeps more
 * than it must.  Maps of up to 512 bits live inside the struct; larger ones
 * come from a pool of power-of-two bitmaps taken from the arena and recycled,
 * never unmapped, so a read racing with close reads stale bits, never freed
 * memory.
 */
#ifndef MMHINT_POLICY_RESIDENCY_H
#define MMHINT_POLICY_RESIDENCY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_RES_MAX_BITS (1u << 20)
#define MMHINT_RES_INLINE_WORDS 8
#define MMHINT_RES_STEP (64ll << 20)             /* bytes per cachestat step */
#define MMHINT_RES_MINCORE_BUDGET (1ll << 20)    /* pages read with mincore per scan (4 GiB of 4 KiB pages) */

typedef struct {
  uint64_t *bits;      /* bit c set: chunk c had a resident page when scanned (keep it); NULL: no map */
  uint64_t inline_bits[MMHINT_RES_INLINE_WORDS];
  int pool_class;      /* pool size class of bits, -1 when inline or none */
  uint32_t chunk_shift;/* log2(bytes per chunk), >= log2(page size) */
  uint64_t nchunks;
  int64_t size;        /* bytes the map covers (the file size when scanned) */
  uint64_t pages;      /* pages scanned */
  uint64_t resident;   /* of which resident (an estimate when !exact_count) */
  uint8_t exact_count; /* `resident` is a count, not an extrapolation */
  uint8_t exact_map;   /* every bit comes from a count or mincore (none kept for lack of budget) */
} mmhint_residency_t;

/* The page size (sysconf, cached). */
long mmhint_page_size(void);

/*
 * Scans the residency of fd's first `size` bytes into r (which must be
 * all-zero or released).  Returns 0, or -errno when nothing could be learnt
 * (then r->bits is NULL and nothing may be dropped) or when no bitmap memory
 * was left (-ENOMEM).
 */
/* The fork protocol (policy/fork.h) of the pool of residency maps. */
void mmhint_residency_fork(int phase);

int mmhint_residency_scan(mmhint_residency_t *r, int fd, int64_t size);

/* Gives the map back to the pool and zeroes r.  Makes no system call. */
void mmhint_residency_release(mmhint_residency_t *r);

/*
 * Counts fd's resident pages in its first `size` bytes: *pages and *resident.
 * Returns 1 when the count is exact, 0 when part of it was sampled, -errno
 * when nothing could be learnt.
 */
int mmhint_residency_count(int fd, int64_t size, uint64_t *pages, uint64_t *resident);

/* Whether the chunk holding byte `off` is kept (resident at scan, or beyond the map). */
static inline int mmhint_residency_kept(const mmhint_residency_t *r, int64_t off) {
  if (!r->bits || off < 0) return 1;
  uint64_t c = (uint64_t)off >> r->chunk_shift;
  if (c >= r->nchunks) return 1;
  return (int)((r->bits[c >> 6] >> (c & 63)) & 1);
}

/* Pages in [from, to) that lie in kept chunks (exact with one page per chunk). */
uint64_t mmhint_residency_kept_pages(const mmhint_residency_t *r, int64_t from, int64_t to);

/*
 * Releases with POSIX_FADV_DONTNEED every maximal run of [from, to) whose
 * chunks were not resident at the scan; ranges beyond the map are left alone.
 * Adds the bytes asked to *asked and the calls made to *calls; returns 0 or
 * the first -errno fadvise gave (it stops there).
 */
long mmhint_residency_drop(const mmhint_residency_t *r, int fd, int64_t from, int64_t to, uint64_t *asked,
                           uint64_t *calls);

#ifdef __cplusplus
}
#endif
#endif
