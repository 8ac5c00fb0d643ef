/*
 * policy/residency.c: page-cache residency maps and counts; see residency.h.
 */
#include "policy/residency.h"

#include "policy/fork.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy/arena.h"
#include "policy/os/os.h"
#include "policy/spin.h"

/* ---- Page size ------------------------------------------------------------ */

long mmhint_page_size(void) {
  static long cached;
  long p = __atomic_load_n(&cached, __ATOMIC_RELAXED);
  if (!p) {
    p = sysconf(_SC_PAGESIZE);
    if (p <= 0) p = 4096;
    __atomic_store_n(&cached, p, __ATOMIC_RELAXED);
  }
  return p;
}

static uint32_t log2u(uint64_t v) { return 63u - (uint32_t)__builtin_clzll(v); }

/* ---- The bitmap pool ---------------------------------------------------------
 * Bitmaps of 2^(class+4) words (128 B .. 128 KiB), from the arena, recycled
 * through one free list per class.  The lock is taken at open and close only.
 */

#define POOL_MIN_SHIFT 4 /* 16 words */
#define POOL_CLASSES 11  /* up to 2^14 words = 2^20 bits */

static uint64_t *pool_free[POOL_CLASSES];
static int pool_lock;


void mmhint_residency_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&pool_lock);
  else mmhint_spin_unlock(&pool_lock);
}

/* Returns a zeroed bitmap of at least `words` words and its class, or NULL. */
static uint64_t *pool_get(uint64_t words, int *cls_out) {
  int cls = 0;
  while (cls < POOL_CLASSES && (1ull << (cls + POOL_MIN_SHIFT)) < words) cls++;
  if (cls >= POOL_CLASSES) return NULL;
  mmhint_spin_lock(&pool_lock);
  uint64_t *b = pool_free[cls];
  if (b) pool_free[cls] = *(uint64_t **)b;
  mmhint_spin_unlock(&pool_lock);
  size_t bytes = (size_t)8 << (cls + POOL_MIN_SHIFT);
  if (b) memset(b, 0, bytes);
  else b = mmhint_arena_alloc(bytes);
  if (b) *cls_out = cls;
  return b;
}

static void pool_put(uint64_t *b, int cls) {
  mmhint_spin_lock(&pool_lock);
  *(uint64_t **)b = pool_free[cls];
  pool_free[cls] = b;
  mmhint_spin_unlock(&pool_lock);
}

/* ---- Scanning ----------------------------------------------------------------- */

/* Sets the bits of chunks [c0, c1). */
static void set_chunks(mmhint_residency_t *r, uint64_t c0, uint64_t c1) {
  if (c1 > r->nchunks) c1 = r->nchunks;
  for (uint64_t c = c0; c < c1;) {
    if ((c & 63) == 0 && c + 64 <= c1) {
      r->bits[c >> 6] = ~0ull;
      c += 64;
    } else {
      r->bits[c >> 6] |= 1ull << (c & 63);
      c++;
    }
  }
}

#define VEC_PAGES 4096 /* mincore answers per call: 4 KiB on the stack */

/*
 * Reads the residency of pages [p0, p0+n) page by page with mincore; sets
 * chunk bits when `r` is not NULL; returns the resident count, or -errno when
 * the range cannot be mapped.  When `sample` is nonzero only the first
 * `sample` pages of every VEC_PAGES are looked at (and the count extrapolated).
 */
static long long mincore_range(mmhint_residency_t *r, int fd, uint64_t p0, uint64_t n, uint64_t sample) {
  const long page = mmhint_page_size();
  void *m = mmhint_os_mmap(NULL, n * (uint64_t)page, PROT_READ, MAP_SHARED, fd, (off_t)(p0 * (uint64_t)page));
  if (m == MAP_FAILED) return -EACCES;
  unsigned char vec[VEC_PAGES];
  long long resident = 0;
  for (uint64_t i = 0; i < n; i += VEC_PAGES) {
    uint64_t k = n - i < VEC_PAGES ? n - i : VEC_PAGES;
    uint64_t look = sample && sample < k ? sample : k;
    if (mmhint_os_mincore((char *)m + i * (uint64_t)page, look * (uint64_t)page, vec) < 0) {
      /* Unknown: keep the whole piece and count it resident (the safe side). */
      if (r) set_chunks(r, (p0 + i) >> (r->chunk_shift - log2u((uint64_t)page)),
                        ((p0 + i + k - 1) >> (r->chunk_shift - log2u((uint64_t)page))) + 1);
      resident += (long long)k;
      continue;
    }
    long long here = 0;
    for (uint64_t j = 0; j < look; j++) {
      if (!(vec[j] & 1)) continue;
      here++;
      if (r) {
        uint64_t c = (p0 + i + j) >> (r->chunk_shift - log2u((uint64_t)page));
        r->bits[c >> 6] |= 1ull << (c & 63);
      }
    }
    resident += look == k ? here : (long long)((here * (long long)k + (long long)look / 2) / (long long)look);
  }
  mmhint_os_munmap(m, n * (uint64_t)page);
  return resident;
}

/*
 * The common walk of scan and count: cachestat per step, mincore for mixed
 * steps within the budget.  `r` (map) may be NULL for a count only.
 * Returns 1 exact, 0 sampled, -errno when nothing was learnt.
 */
static int walk(mmhint_residency_t *r, int fd, int64_t size, uint64_t *pages_out, uint64_t *resident_out,
                int *exact_map_out) {
  const long page = mmhint_page_size();
  const uint32_t pshift = log2u((uint64_t)page);
  const uint64_t pages = ((uint64_t)size + (uint64_t)page - 1) >> pshift;
  uint64_t step_pages = (uint64_t)MMHINT_RES_STEP >> pshift;
  if (r && (1ull << (r->chunk_shift - pshift)) > step_pages) step_pages = 1ull << (r->chunk_shift - pshift);
  uint64_t budget = MMHINT_RES_MINCORE_BUDGET, resident = 0;
  int exact = 1, exact_map = 1, learnt = 0, cachestat_ok = 1;

  for (uint64_t p0 = 0; p0 < pages; p0 += step_pages) {
    uint64_t n = pages - p0 < step_pages ? pages - p0 : step_pages;
    unsigned long long nr = 0;
    long cs = cachestat_ok ? mmhint_os_cachestat(fd, p0 << pshift, n << pshift, &nr) : -ENOSYS;
    if (cs < 0) cachestat_ok = 0; /* refused once, refused for this descriptor: stop asking */
    if (cs == 0) {
      learnt = 1;
      if (nr == 0) continue;
      if (nr >= n) {
        resident += n;
        if (r) set_chunks(r, p0 >> (r->chunk_shift - pshift), ((p0 + n - 1) >> (r->chunk_shift - pshift)) + 1);
        continue;
      }
    }
    /* Mixed, or cachestat unavailable: page by page while the budget lasts. */
    long long got = -1;
    int paged = 0;
    if (budget >= n) {
      got = mincore_range(r, fd, p0, n, 0);
      if (got >= 0) {
        budget -= n;
        paged = 1;
      }
    }
    if (!paged) {
      /* Not read page by page (budget spent, or the file cannot be mapped): keep every chunk. */
      exact_map = 0;
      if (r) set_chunks(r, p0 >> (r->chunk_shift - pshift), ((p0 + n - 1) >> (r->chunk_shift - pshift)) + 1);
      if (cs < 0) {
        got = mincore_range(NULL, fd, p0, n, 64); /* a sample, for the count only */
        exact = 0;
      }
    }
    if (cs == 0 && !paged) {
      resident += nr; /* cachestat's count stays exact */
    } else if (got >= 0) {
      resident += (uint64_t)got;
      learnt = 1;
    } else {
      resident += n; /* nothing known: counted resident, the safe side */
      exact = 0;
    }
  }
  if (!learnt && pages > 0) return -EACCES;
  *pages_out = pages;
  *resident_out = resident;
  if (exact_map_out) *exact_map_out = exact_map;
  return exact;
}

int mmhint_residency_scan(mmhint_residency_t *r, int fd, int64_t size) {
  memset(r, 0, sizeof *r);
  r->pool_class = -1;
  if (size < 0) return -EINVAL;
  const long page = mmhint_page_size();
  const uint32_t pshift = log2u((uint64_t)page);
  const uint64_t pages = ((uint64_t)size + (uint64_t)page - 1) >> pshift;
  uint32_t shift = pshift;
  while ((pages + (1ull << (shift - pshift)) - 1) >> (shift - pshift) > MMHINT_RES_MAX_BITS) shift++;
  r->chunk_shift = shift;
  r->nchunks = (pages + (1ull << (shift - pshift)) - 1) >> (shift - pshift);
  r->size = size;
  uint64_t words = (r->nchunks + 63) / 64;
  if (words <= MMHINT_RES_INLINE_WORDS) {
    r->bits = r->inline_bits;
  } else {
    r->bits = pool_get(words, &r->pool_class);
    if (!r->bits) {
      r->pool_class = -1;
      return -ENOMEM;
    }
  }
  int exact_map = 1;
  int e = walk(r, fd, size, &r->pages, &r->resident, &exact_map);
  if (e < 0) {
    mmhint_residency_release(r);
    return e;
  }
  r->exact_count = (uint8_t)e;
  r->exact_map = (uint8_t)exact_map;
  return 0;
}

void mmhint_residency_release(mmhint_residency_t *r) {
  if (r->bits && r->pool_class >= 0) pool_put(r->bits, r->pool_class);
  memset(r, 0, sizeof *r);
  r->pool_class = -1;
}

int mmhint_residency_count(int fd, int64_t size, uint64_t *pages, uint64_t *resident) {
  if (size < 0) return -EINVAL;
  return walk(NULL, fd, size, pages, resident, NULL);
}

/* ---- Using the map ---------------------------------------------------------------- */

uint64_t mmhint_residency_kept_pages(const mmhint_residency_t *r, int64_t from, int64_t to) {
  const long page = mmhint_page_size();
  if (from < 0) from = 0;
  if (to <= from) return 0;
  uint64_t p0 = (uint64_t)from / (uint64_t)page, p1 = ((uint64_t)to + (uint64_t)page - 1) / (uint64_t)page;
  if (!r->bits) return p1 - p0;
  const uint32_t cps = r->chunk_shift - log2u((uint64_t)page); /* log2(pages per chunk) */
  uint64_t kept = 0;
  for (uint64_t p = p0; p < p1;) {
    const uint64_t c = p >> cps;
    if (cps == 0 && (c & 63) == 0 && p + 64 <= p1 && c + 64 <= r->nchunks) {
      kept += (uint64_t)__builtin_popcountll(r->bits[c >> 6]); /* a whole word at once */
      p += 64;
      continue;
    }
    uint64_t cend = (c + 1) << cps; /* first page of the next chunk */
    if (cend > p1) cend = p1;
    if (c >= r->nchunks || ((r->bits[c >> 6] >> (c & 63)) & 1)) kept += cend - p;
    p = cend;
  }
  return kept;
}

long mmhint_residency_drop(const mmhint_residency_t *r, int fd, int64_t from, int64_t to, uint64_t *asked,
                           uint64_t *calls) {
  if (!r->bits) return 0;
  if (from < 0) from = 0;
  const int64_t map_end = (int64_t)(r->nchunks << r->chunk_shift);
  if (to > map_end) to = map_end;
  if (to <= from) return 0;
  uint64_t c = (uint64_t)from >> r->chunk_shift;
  const uint64_t cend = ((uint64_t)to + (1ull << r->chunk_shift) - 1) >> r->chunk_shift;
  while (c < cend) {
    /* Skip kept chunks, a word at a time where possible. */
    while (c < cend) {
      uint64_t w = r->bits[c >> 6] >> (c & 63);
      if (w & 1) {
        /* The run of ones from c within this word (the shift filled the top with zeros). */
        uint64_t ones = ~w ? (uint64_t)__builtin_ctzll(~w) : 64 - (c & 63);
        c += ones;
        continue;
      }
      break;
    }
    if (c >= cend) break;
    uint64_t run0 = c;
    while (c < cend) {
      uint64_t w = r->bits[c >> 6] >> (c & 63);
      if (w & 1) break;
      uint64_t zeros = w ? (uint64_t)__builtin_ctzll(w) : 64 - (c & 63);
      c += zeros;
    }
    if (c > cend) c = cend;
    int64_t a = (int64_t)(run0 << r->chunk_shift), b = (int64_t)(c << r->chunk_shift);
    if (a < from) a = from;
    if (b > to) b = to;
    if (b <= a) continue;
    long e = mmhint_os_fadvise(fd, a, b - a, POSIX_FADV_DONTNEED);
    if (calls) (*calls)++;
    if (e < 0) return e;
    if (asked) *asked += (uint64_t)(b - a);
  }
  return 0;
}
