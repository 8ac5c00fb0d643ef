/*
 * policy/memregion.c: the router's region registry, the smaps parser and the
 * measurements of ranges of this process; see memregion.h.
 */
#include "policy/memregion.h"

#include <fcntl.h>
#include <string.h>

#include "policy/os/os.h"

/* ---- The registry ------------------------------------------------------------ */

#define SLOT_EMPTY ((uintptr_t)0)
#define SLOT_DELETED ((uintptr_t)1)

static inline uint32_t slot_of(uintptr_t key, uint32_t bits) {
  /* Keys are mostly 2 MiB aligned: hash the bits above the page offset. */
  return (uint32_t)(((uint64_t)(key >> 12) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* log2 of the slots per span of the `used` bitmap. */
static inline uint32_t span_shift(uint32_t bits) {
  return bits > 9 ? bits - 9 : 0; /* 2^9 == MMHINT_REGISTRY_SPANS */
}

void mmhint_registry_init(mmhint_registry_t *r, mmhint_region_t *mem, uint32_t bits) {
  r->slots = mem;
  r->bits = bits;
  r->live = 0;
  memset(r->used, 0, sizeof r->used);
}

mmhint_region_t *mmhint_registry_insert(mmhint_registry_t *r, uintptr_t key, size_t len, size_t req, uint32_t flags) {
  uint32_t cap = 1u << r->bits, mask = cap - 1;
  if (!r->slots || key <= SLOT_DELETED) return NULL;
  uint32_t live = __atomic_add_fetch(&r->live, 1, __ATOMIC_RELAXED);
  if (live > cap - cap / 4) {
    __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
    return NULL;
  }
  for (uint32_t i = slot_of(key, r->bits), n = 0; n < cap; i = (i + 1) & mask, n++) {
    mmhint_region_t *e = &r->slots[i];
    uintptr_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
    if (k != SLOT_EMPTY && k != SLOT_DELETED) continue;
    if (!__atomic_compare_exchange_n(&e->key, &k, key, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    e->req = req;
    e->flags = flags;
    uint32_t span = i >> span_shift(r->bits);
    uint64_t bit = (uint64_t)1 << (span % 64);
    if (!(__atomic_load_n(&r->used[span / 64], __ATOMIC_RELAXED) & bit))
      __atomic_fetch_or(&r->used[span / 64], bit, __ATOMIC_RELAXED);
    __atomic_store_n(&e->len, len, __ATOMIC_RELEASE); /* publishes the span bit with the region */
    return e;
  }
  __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
  return NULL;
}

mmhint_region_t *mmhint_registry_find(const mmhint_registry_t *r, uintptr_t key) {
  uint32_t cap = 1u << r->bits, mask = cap - 1;
  if (!r->slots || key <= SLOT_DELETED) return NULL;
  for (uint32_t i = slot_of(key, r->bits), n = 0; n < cap; i = (i + 1) & mask, n++) {
    uintptr_t k = __atomic_load_n(&r->slots[i].key, __ATOMIC_ACQUIRE);
    if (k == key) return &r->slots[i];
    if (k == SLOT_EMPTY) return NULL;
  }
  return NULL;
}

void mmhint_registry_remove(mmhint_registry_t *r, mmhint_region_t *e) {
  __atomic_store_n(&e->len, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&e->key, SLOT_DELETED, __ATOMIC_RELEASE);
  __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
}

mmhint_region_t *mmhint_registry_next(const mmhint_registry_t *r, size_t *pos) {
  if (!r->slots) return NULL;
  size_t cap = (size_t)1 << r->bits, shift = span_shift(r->bits);
  for (size_t i = *pos; i < cap;) {
    size_t span = i >> shift;
    if (!(__atomic_load_n(&r->used[span / 64], __ATOMIC_ACQUIRE) & ((uint64_t)1 << (span % 64)))) {
      i = (span + 1) << shift; /* never written: skip the span without reading it */
      continue;
    }
    mmhint_region_t *e = &r->slots[i++];
    uintptr_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
    if (k <= SLOT_DELETED || !__atomic_load_n(&e->len, __ATOMIC_ACQUIRE)) continue;
    *pos = i;
    return e;
  }
  *pos = cap;
  return NULL;
}

/* ---- smaps ------------------------------------------------------------------------ */

static uint64_t parse_hex(const char **p) {
  uint64_t v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (uint64_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (uint64_t)(c - 'a' + 10);
    else return v;
  }
}

static uint64_t parse_dec(const char *p) {
  uint64_t v = 0;
  while (*p == ' ' || *p == '\t') p++;
  while (*p >= '0' && *p <= '9') v = v * 10 + (uint64_t)(*p++ - '0');
  return v;
}

/* The bytes of [start, end) inside the ranges (sorted by start, not overlapping). */
static uint64_t inside_ranges(uint64_t start, uint64_t end, const uint64_t (*r)[2], size_t n) {
  /* Binary search for the first range that ends after start. */
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r[mid][1] <= start) lo = mid + 1;
    else hi = mid;
  }
  uint64_t inside = 0;
  for (size_t k = lo; k < n && r[k][0] < end; k++) {
    uint64_t a = r[k][0] > start ? r[k][0] : start, b = r[k][1] < end ? r[k][1] : end;
    if (b > a) inside += b - a;
  }
  return inside;
}

/* One complete line of smaps. */
static void smaps_line(mmhint_smaps_state_t *st, const char *l, const uint64_t (*r)[2], size_t n, uint64_t *bytes) {
  if ((l[0] >= '0' && l[0] <= '9') || (l[0] >= 'a' && l[0] <= 'f')) {
    const char *p = l;
    uint64_t s = parse_hex(&p);
    if (*p == '-') {
      p++;
      st->start = s;
      st->end = parse_hex(&p);
      st->have_vma = st->end > st->start;
      return;
    }
  }
  if (!st->have_vma || strncmp(l, "AnonHugePages:", 14) != 0) return;
  uint64_t kb = parse_dec(l + 14);
  if (!kb) return;
  uint64_t inside = inside_ranges(st->start, st->end, r, n), vlen = st->end - st->start;
  /* A VMA merged from several regions, or holding more than the ranges: attribute its huge pages by share. */
  if (inside) *bytes += inside >= vlen ? kb * 1024 : (uint64_t)((unsigned __int128)kb * 1024 * inside / vlen);
}

void mmhint_smaps_feed_ranges(mmhint_smaps_state_t *st, const char *text, size_t len, const uint64_t (*ranges)[2],
                              size_t n, uint64_t *bytes) {
  if (len == 0) {
    if (st->n) {
      st->line[st->n] = '\0';
      smaps_line(st, st->line, ranges, n, bytes);
      st->n = 0;
    }
    return;
  }
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == '\n') {
      st->line[st->n] = '\0';
      smaps_line(st, st->line, ranges, n, bytes);
      st->n = 0;
    } else if (st->n < sizeof st->line - 1) {
      st->line[st->n++] = c; /* longer lines (paths) are cut: only their start matters */
    }
  }
}

void mmhint_smaps_feed(mmhint_smaps_state_t *st, const char *text, size_t len, uint64_t lo, uint64_t hi,
                       uint64_t *bytes) {
  const uint64_t range[1][2] = {{lo, hi}};
  mmhint_smaps_feed_ranges(st, text, len, range, 1, bytes);
}

/* ---- Measuring ranges of this process ------------------------------------------ */

uint64_t mmhint_memregion_huge_bytes(const uint64_t (*ranges)[2], size_t n) {
  uint64_t bytes = 0;
  long fd = mmhint_os_open("/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return 0;
  mmhint_smaps_state_t st;
  memset(&st, 0, sizeof st);
  char buf[8192];
  long got;
  while ((got = mmhint_os_read((int)fd, buf, sizeof buf)) > 0)
    mmhint_smaps_feed_ranges(&st, buf, (size_t)got, ranges, n, &bytes);
  mmhint_smaps_feed_ranges(&st, buf, 0, ranges, n, &bytes);
  mmhint_os_close((int)fd);
  return bytes;
}

int mmhint_memregion_nodes(uintptr_t base, size_t len, uint64_t *per_node) {
  size_t pages = len / MMHINT_PAGE_SIZE;
  size_t n = pages < MMHINT_SAMPLE_PAGES ? pages : MMHINT_SAMPLE_PAGES;
  uint64_t counts[MMHINT_ROUTE_NODES + 1];
  memset(counts, 0, sizeof counts);
  void *addrs[256];
  int status[256];
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    for (; k < 256 && i < n; k++, i++)
      addrs[k] = (void *)(base + (size_t)((unsigned __int128)i * pages / n) * MMHINT_PAGE_SIZE);
    if (mmhint_os_move_pages(0, k, addrs, NULL, status, 0) < 0) return 0;
    for (size_t j = 0; j < k; j++)
      if (status[j] >= 0) counts[status[j] < MMHINT_ROUTE_NODES ? status[j] : MMHINT_ROUTE_NODES]++;
  }
  for (int i = 0; i <= MMHINT_ROUTE_NODES; i++)
    if (counts[i]) per_node[i] += n == pages ? counts[i] : (uint64_t)((unsigned __int128)counts[i] * pages / n);
  return n != pages;
}

int mmhint_memregion_can_hold_huge(uintptr_t start, size_t len) {
  uint64_t a = mmhint_round_up(start, MMHINT_HUGE_SIZE);
  return a && a - start <= len && len - (a - start) >= MMHINT_HUGE_SIZE;
}

int64_t mmhint_memregion_rollup_bytes(const char *name) {
  char buf[4096];
  if (mmhint_os_read_small("/proc/self/smaps_rollup", buf, sizeof buf) <= 0) return -1;
  const char *p = strstr(buf, name);
  if (!p) return -1;
  return (int64_t)parse_dec(p + strlen(name)) * 1024;
}
