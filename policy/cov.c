/*
 * policy/cov.c: the coverage map of each file (policy/cov.h): making it,
 * marking the pages of the program's own mappings, and writing it as merged
 * ranges into the statistics.
 */
#include "policy/cov.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "policy/arena.h"
#include "policy/os/os.h"
#include "policy/stats.h"


/* ---- The statistics section ---------------------------------------------------- */

static void render_file_section(mmhint_json_t *j, const mmhint_file_t *f) {
  /* The bitmap is the one mutable part of a record at rendering: the
   * mappings still live add what they touched before it is written. */
  mmhint_cov_t *c = (mmhint_cov_t *)&f->cov;
  if (!__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE)) return;
  mmhint_cov_settle(c);
  mmhint_cov_map_scan(c);
  mmhint_cov_render(j, c);
}

static const mmhint_stats_section_t cov_section = {
    .name = "touched",
    .kind = MMHINT_SECTION_FILE,
    .render_file = render_file_section,
};

void mmhint_cov_configure(int on) {
  __atomic_store_n(&mmhint__cov_on, on, __ATOMIC_RELAXED);
  if (on) mmhint_stats_section_register(&cov_section);
}

/* ---- Marking --------------------------------------------------------------------- */

void mmhint_cov_mark(mmhint_cov_t *c, int64_t off, uint64_t len) {
  if (off < 0 || !len) return;
  if (__libc_single_threaded) mmhint_cov_read_as(1, c, off, len);
  else mmhint_cov_read_as(0, c, off, len);
}

uint64_t mmhint_cov_count(const mmhint_cov_t *c) {
  mmhint_cov_settle((mmhint_cov_t *)c); /* the pending run is part of the map */
  const uint64_t *b = __atomic_load_n(&c->bits, __ATOMIC_ACQUIRE);
  uint64_t n = 0;
  if (b)
    for (uint32_t w = 0; w < (c->nbits + 63) / 64; w++) n += (uint64_t)__builtin_popcountll(b[w]);
  return n;
}

/* ---- Runs ---------------------------------------------------------------------- */

/* The first set (want = 1) or clear (want = 0) bit at or after i, or n. */
static uint64_t next_bit(const uint64_t *b, uint64_t n, uint64_t i, int want) {
  while (i < n) {
    uint64_t w = __atomic_load_n(&b[i >> 6], __ATOMIC_RELAXED);
    if (!want) w = ~w;
    w &= ~0ull << (i & 63);
    if (w) {
      uint64_t k = (i & ~63ull) + (uint64_t)__builtin_ctzll(w);
      return k < n ? k : n;
    }
    i = (i & ~63ull) + 64;
  }
  return n;
}

/*
 * Walks the runs of set bits at granule 2^k bits (a coarse bit is set when
 * any of its bits is): calls emit(ctx, start, end) in coarse units when emit
 * is not NULL; returns how many runs there are.  Bits change while this
 * runs (other threads read on): each run is what the bits said when read.
 */
static uint64_t walk(const mmhint_cov_t *c, unsigned k, void (*emit)(void *, uint64_t, uint64_t), void *ctx) {
  const uint64_t *b = __atomic_load_n(&c->bits, __ATOMIC_ACQUIRE);
  const uint64_t n = c->nbits;
  uint64_t runs = 0, rs = 0, re = 0; /* the open coarse run [rs, re) */
  int open = 0;
  for (uint64_t i = next_bit(b, n, 0, 1); i < n;) {
    uint64_t j = next_bit(b, n, i, 0);
    uint64_t cs = i >> k, ce = ((j - 1) >> k) + 1;
    if (open && cs <= re) {
      if (ce > re) re = ce;
    } else {
      if (open && emit) emit(ctx, rs, re);
      rs = cs;
      re = ce;
      open = 1;
      runs++;
    }
    i = j < n ? next_bit(b, n, j, 1) : n;
  }
  if (open && emit) emit(ctx, rs, re);
  return runs;
}

typedef struct {
  const mmhint_cov_t *c;
  unsigned shift; /* of the coarse granule, in bytes */
  void (*fn)(void *ctx, uint64_t off, uint64_t len);
  void *ctx;
} emit_ctx_t;

static void emit_bytes(void *vctx, uint64_t s, uint64_t e) {
  emit_ctx_t *x = vctx;
  uint64_t off = s << x->shift, end = e << x->shift;
  if (end > (uint64_t)x->c->size) end = (uint64_t)x->c->size;
  if (end > off) x->fn(x->ctx, off, end - off);
}

uint64_t mmhint_cov_ranges(const mmhint_cov_t *c, uint32_t max_runs, void (*fn)(void *ctx, uint64_t off, uint64_t len),
                           void *ctx) {
  if (!__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE)) return 0;
  mmhint_cov_settle((mmhint_cov_t *)c); /* the pending run is part of the map */
  unsigned k = 0;
  if (max_runs == 0) max_runs = 1;
  /* Doubling the granule at least halves nothing in general, but 2^k ≥ nbits
   * leaves one run, so this ends within 20 passes of O(words + runs). */
  while (walk(c, k, NULL, NULL) > max_runs && (1ull << k) < c->nbits) k++;
  emit_ctx_t x = {c, c->shift + k, fn, ctx};
  walk(c, k, emit_bytes, &x);
  return 1ull << (c->shift + k);
}

/* ---- The document -------------------------------------------------------------- */

typedef struct {
  mmhint_json_t *j;
  uint64_t bytes;
} render_ctx_t;

static void render_range(void *vctx, uint64_t off, uint64_t len) {
  render_ctx_t *r = vctx;
  mmhint_json_begin_array(r->j);
  mmhint_json_uint(r->j, off);
  mmhint_json_uint(r->j, len);
  mmhint_json_end_array(r->j);
  r->bytes += len;
}

static void count_range(void *vctx, uint64_t off, uint64_t len) {
  (void)off;
  ((render_ctx_t *)vctx)->bytes += len;
}

void mmhint_cov_render(mmhint_json_t *j, const mmhint_cov_t *c) {
  if (!__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE)) return;
  render_ctx_t r = {j, 0};
  mmhint_json_key(j, "touched");
  mmhint_json_begin_object(j);
  /* The granule and the byte total first (a reader may want them without
   * the ranges): one counting pass, then the writing pass, at the same
   * granule.  Bits set between the two passes may make them differ by
   * what other threads read meanwhile; "bytes" is the first pass's. */
  /* A document already this large (many files with maps of many runs) gets
   * coarser maps from here on: its size stays bounded by the number of files. */
  const uint32_t max_runs = j->len < MMHINT_COV_DOC_LARGE ? MMHINT_COV_MAX_RUNS : MMHINT_COV_MAX_RUNS_LATE;
  uint64_t g = mmhint_cov_ranges(c, max_runs, count_range, &r);
  mmhint_json_kv_uint(j, "granule", g);
  mmhint_json_kv_uint(j, "map_granule", 1ull << c->shift);
  mmhint_json_kv_int(j, "size", c->size);
  mmhint_json_kv_uint(j, "bytes", r.bytes);
  mmhint_json_kv_bool(j, "from_mappings", c->from_maps);
  mmhint_json_key(j, "ranges");
  mmhint_json_begin_array(j);
  mmhint_cov_ranges(c, max_runs, render_range, &r);
  mmhint_json_end_array(j);
  mmhint_json_end_object(j);
}

/* ---- The program's own mappings ------------------------------------------------- */

typedef struct {
  uintptr_t start, end;
  int64_t off;
  mmhint_cov_t *cov; /* NULL: free; CLAIMED: being filled in */
} slot_t;

#define CLAIMED ((mmhint_cov_t *)1)
#define PAGE 4096u

static slot_t slots[MMHINT_COV_MAPS];
uint32_t mmhint_cov_maps_live;

int mmhint_cov_map_add(const void *addr, size_t len, int64_t off, mmhint_cov_t *c) {
  if (!c || !len || off < 0 || !__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE)) return -1;
  for (int i = 0; i < MMHINT_COV_MAPS; i++) {
    mmhint_cov_t *cur = NULL;
    if (__atomic_load_n(&slots[i].cov, __ATOMIC_RELAXED) != NULL) continue;
    if (!__atomic_compare_exchange_n(&slots[i].cov, &cur, CLAIMED, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    slots[i].start = (uintptr_t)addr;
    slots[i].end = (uintptr_t)addr + len;
    slots[i].off = off;
    __atomic_store_n(&slots[i].cov, c, __ATOMIC_RELEASE);
    __atomic_fetch_add(&mmhint_cov_maps_live, 1, __ATOMIC_RELAXED);
    return 0;
  }
  return -1;
}

void mmhint_cov_map_gone(const void *addr, size_t len, int mark) {
  uintptr_t a = (uintptr_t)addr, b = a + (len ? len : 1);
  for (int i = 0; i < MMHINT_COV_MAPS; i++) {
    mmhint_cov_t *c = __atomic_load_n(&slots[i].cov, __ATOMIC_ACQUIRE);
    if (!c || c == CLAIMED || slots[i].end <= a || slots[i].start >= b) continue;
    const uintptr_t start = slots[i].start, end = slots[i].end;
    const int64_t off = slots[i].off;
    /* The whole mapping is read, also when only part of it goes (bits are
     * only ever set); the parts that stay are followed on. */
    if (mark) mmhint_cov_mark_mapping(c, (const void *)start, end - start, off);
    if (!__atomic_compare_exchange_n(&slots[i].cov, &c, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    __atomic_fetch_sub(&mmhint_cov_maps_live, 1, __ATOMIC_RELAXED);
    if (start < a) mmhint_cov_map_add((const void *)start, a - start, off, c);
    if (b < end) mmhint_cov_map_add((const void *)b, end - b, off + (int64_t)(b - start), c);
  }
}

void mmhint_cov_map_scan(mmhint_cov_t *c) {
  if (!__atomic_load_n(&mmhint_cov_maps_live, __ATOMIC_RELAXED)) return;
  for (int i = 0; i < MMHINT_COV_MAPS; i++)
    if (__atomic_load_n(&slots[i].cov, __ATOMIC_ACQUIRE) == c)
      mmhint_cov_mark_mapping(c, (const void *)slots[i].start, slots[i].end - slots[i].start, slots[i].off);
}

/* Marks the 4 KiB page at file offset fo. */
static void mark_page(mmhint_cov_t *c, int64_t fo) {
  mmhint_cov_mark(c, fo, PAGE);
  c->from_maps = 1;
}

long mmhint_cov_mark_mapping(mmhint_cov_t *c, const void *addr, size_t len, int64_t off) {
  if (!__atomic_load_n(&c->bits, __ATOMIC_ACQUIRE) || !len || off < 0) return -1;
  const uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(PAGE - 1);
  const uint64_t pages = ((uintptr_t)addr + len - start + PAGE - 1) / PAGE;
  const int64_t off0 = off - (int64_t)((uintptr_t)addr - start);
  long touched = 0;
  long fd = mmhint_os_open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC, 0);
  if (fd >= 0) {
    uint64_t ent[128]; /* small: this may run on a signal's stack (docs/STATS.md, "Signals") */
    for (uint64_t p = 0; p < pages;) {
      uint64_t n = pages - p < 128 ? pages - p : 128;
      long r = mmhint_os_pread(fd, ent, n * 8, (off_t)((start / PAGE + p) * 8));
      if (r <= 0) break;
      n = (uint64_t)r / 8;
      for (uint64_t i = 0; i < n; i++)
        if (ent[i] & (3ull << 62)) { /* present, or swapped out */
          mark_page(c, off0 + (int64_t)((p + i) * PAGE));
          touched++;
        }
      p += n;
    }
    mmhint_os_close((int)fd);
    return touched;
  }
  /* No pagemap (a kernel without it, a sandbox): the page cache's view. */
  unsigned char vec[1024];
  for (uint64_t p = 0; p < pages;) {
    uint64_t n = pages - p < sizeof vec ? pages - p : sizeof vec;
    if (mmhint_os_mincore((void *)(start + p * PAGE), n * PAGE, vec) < 0) return touched ? touched : -1;
    for (uint64_t i = 0; i < n; i++)
      if (vec[i] & 1) {
        mark_page(c, off0 + (int64_t)((p + i) * PAGE));
        touched++;
      }
    p += n;
  }
  return touched;
}
