/*
 * policy/hints.c: the hints policy; see hints.h and docs/HINTS.md.
 */
#include "policy/hints.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "policy/clock.h"
#include "policy/os/os.h"
#include "policy/stats.h"

void (*mmhint_hints_warn)(const char *line);

/* ---- The statistics section ----------------------------------------------------
 * The per-file "hints" key.  The module has no init function, so it registers
 * the section the first time a hint becomes active for some file: before that
 * no file could have had the key, so the document is the same as if it had
 * been registered from the start.
 */

static void render_file_section(mmhint_json_t *j, const mmhint_file_t *f) { mmhint_hints_render(j, &f->hints); }

static const mmhint_stats_section_t hints_section = {
    .name = "hints",
    .kind = MMHINT_SECTION_FILE,
    .render_file = render_file_section,
};

/* Registers the section once; called before a file's `active` is set, off the read path. */
static void enlist(void) {
  static int registered;
  if (__builtin_expect(__atomic_load_n(&registered, __ATOMIC_RELAXED), 1)) return;
  mmhint_stats_section_register(&hints_section);
  __atomic_store_n(&registered, 1, __ATOMIC_RELAXED);
}

/* ---- Small helpers -------------------------------------------------------- */

/* POSIX_FADV_* of each `advice` choice (NONE and AUTO have none). */
static int fadv_of(int adv) {
  switch (adv) {
    case MMHINT_ADV_SEQUENTIAL: return POSIX_FADV_SEQUENTIAL;
    case MMHINT_ADV_RANDOM: return POSIX_FADV_RANDOM;
    case MMHINT_ADV_WILLNEED: return POSIX_FADV_WILLNEED;
    case MMHINT_ADV_NOREUSE: return POSIX_FADV_NOREUSE;
    default: return POSIX_FADV_NORMAL;
  }
}

/* MADV_* of each `mmap_advice` choice. */
static int madv_of(int adv) {
  switch (adv) {
    case MMHINT_MADV_SEQUENTIAL: return MADV_SEQUENTIAL;
    case MMHINT_MADV_RANDOM: return MADV_RANDOM;
    case MMHINT_MADV_WILLNEED: return MADV_WILLNEED;
    case MMHINT_MADV_HUGEPAGE: return MADV_HUGEPAGE;
    default: return MADV_NORMAL;
  }
}

static int64_t page_down(int64_t v) { return v & ~(int64_t)(mmhint_page_size() - 1); }
static int64_t page_up(int64_t v) { return page_down(v + mmhint_page_size() - 1); }

/* Warns once per process about a refused hint; later refusals are only counted. */
static void warn_refused(const char *call, long err) {
  static int warned;
  /*
   * EBADF is not the kernel refusing a hint: the descriptor was closed where
   * the shim could not see it (a raw close system call).  The description
   * stops hinting (the caller marks it refused) and the count shows it; a
   * line on the program's stderr would be noise it never asked for.
   */
  if (err == -EBADF) return;
  if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED)) return;
  /* The hook takes the whole line; mmhint_os_warn adds the prefix and the newline itself. */
  char line[256] = "mmhint: ";
  const size_t prefix = 8;
  snprintf(line + prefix, sizeof line - prefix,
           "%s was refused (error %ld%s); the program runs on without that hint, later refusals are "
           "only counted (hints.advice_errors/madvise_errors in the statistics)",
           call, -err, err == -EINVAL ? ", EINVAL: this filesystem may not support it" : "");
  if (mmhint_hints_warn) mmhint_hints_warn(line);
  else mmhint_os_warn(line + prefix, NULL, NULL, NULL);
}

/* Appends to the file's advice log. */
static void log_applied(mmhint_hints_file_t *hf, uint64_t now, int64_t offset, int advice, char source, long err) {
  uint32_t n = hf->napplied;
  mmhint_hints_applied_t *a = &hf->applied[n % MMHINT_HINTS_LOG];
  a->ticks = now;
  a->offset = offset;
  a->advice = (uint8_t)advice;
  a->source = source;
  a->err = (int16_t)(err < 0 ? -err : 0);
  hf->napplied = n + 1;
}

/* Sets the description's access advice (a MMHINT_ADV_* choice). */
static void apply(mmhint_hints_state_t *s, int fd, int adv, char source, int64_t offset, uint64_t now) {
  if (s->refused) return;
  long e = mmhint_os_fadvise(fd, 0, 0, fadv_of(adv));
  mmhint_count(&s->file->c[MMHINT_HC_advice_calls], 1);
  log_applied(s->file, now, offset, adv, source, e);
  if (e < 0) {
    mmhint_count(&s->file->c[MMHINT_HC_advice_errors], 1);
    s->refused = 1;
    warn_refused("posix_fadvise", e);
    return;
  }
  s->applied = (uint8_t)adv;
}

/* Drop-behind of [from, to), skipping pages resident at open; counts what it asked and what went. */
static void drop_range(mmhint_hints_state_t *s, int fd, int64_t from, int64_t to) {
  if (s->refused || !s->res.bits || to <= from) return;
  mmhint_hints_file_t *hf = s->file;
  unsigned long long before = 0, after = 0;
  const int measured = mmhint_os_cachestat(fd, (unsigned long long)from, (unsigned long long)(to - from), &before) == 0;
  uint64_t asked = 0, calls = 0;
  long e = mmhint_residency_drop(&s->res, fd, from, to, &asked, &calls);
  mmhint_count(&hf->c[MMHINT_HC_drop_calls], calls);
  mmhint_count(&hf->c[MMHINT_HC_drop_asked_bytes], asked);
  if (measured && mmhint_os_cachestat(fd, (unsigned long long)from, (unsigned long long)(to - from), &after) == 0) {
    if (before > after) mmhint_count(&hf->c[MMHINT_HC_dropped_bytes], (before - after) * (uint64_t)mmhint_page_size());
  } else if (calls) {
    hf->drop_unmeasured = 1;
  }
  if (e < 0) {
    mmhint_count(&hf->c[MMHINT_HC_advice_errors], 1);
    s->refused = 1;
    warn_refused("posix_fadvise(POSIX_FADV_DONTNEED)", e);
  }
}

/* ---- How much one WILLNEED can ask for --------------------------------------------
 * The kernel caps one POSIX_FADV_WILLNEED (and readahead(2)) at
 * max(io_pages, ra_pages) of the device (force_page_cache_ra in
 * mm/readahead.c): asking for 40 MiB at once reads 8 MiB here.  So the window
 * is asked for in pieces no larger than the device's read_ahead_kb, read once
 * per device from sysfs and remembered.
 */

#define RA_CACHE 16
static struct {
  uint64_t dev;
  int64_t bytes;
} ra_cache[RA_CACHE];

/* Reads a decimal number of KiB from a sysfs file; -1 when absent. */
static int64_t sysfs_kib(const char *path) {
  char *buf = NULL;
  long n = mmhint_os_slurp(path, 64, &buf);
  if (n < 0) return -1;
  int64_t v = -1; /* an empty file is mapped too, and unmapped below */
  if (n > 0 && buf[0] >= '0' && buf[0] <= '9') {
    v = 0;
    for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
  }
  mmhint_os_munmap(buf, 65);
  return v;
}

/* The WILLNEED piece for files on device `dev`: its read_ahead_kb, at least 128 KiB. */
int64_t mmhint_hints_willneed_piece(uint64_t dev) {
  for (int i = 0; i < RA_CACHE; i++)
    if (ra_cache[i].bytes && ra_cache[i].dev == dev) return ra_cache[i].bytes;
  char path[96];
  unsigned maj = (unsigned)(((dev >> 32) & 0xfffff000u) | ((dev >> 8) & 0xfffu));
  unsigned min = (unsigned)(((dev >> 12) & 0xffffff00u) | (dev & 0xffu));
  snprintf(path, sizeof path, "/sys/class/bdi/%u:%u/read_ahead_kb", maj, min);
  int64_t kb = sysfs_kib(path);
  if (kb < 0) {
    snprintf(path, sizeof path, "/sys/dev/block/%u:%u/../queue/read_ahead_kb", maj, min); /* a partition */
    kb = sysfs_kib(path);
  }
  int64_t bytes = kb > 128 ? kb * 1024 : 128 * 1024;
  for (int i = 0; i < RA_CACHE; i++)
    if (!ra_cache[i].bytes) {
      ra_cache[i].dev = dev;
      ra_cache[i].bytes = bytes;
      break;
    }
  return bytes;
}

/* ---- The hooks ------------------------------------------------------------------ */

int mmhint_hints_auto_advice(int cls) {
  switch (cls) {
    case MMHINT_PAT_SEQUENTIAL: return MMHINT_ADV_SEQUENTIAL;
    /* Readahead only extends contiguous forward runs: for a stride it reads what is skipped. */
    case MMHINT_PAT_STRIDED:
    case MMHINT_PAT_RANDOM: return MMHINT_ADV_RANDOM;
    default: return MMHINT_ADV_NORMAL;
  }
}

void mmhint_hints_open(mmhint_hints_state_t *s, int fd, mmhint_hints_file_t *hf, const long long *num,
                       uint64_t now) {
  const int saved_errno = errno;
  if (s->res.bits) mmhint_residency_release(&s->res);
  memset(s, 0, sizeof *s);
  s->res.pool_class = -1;
  s->file = hf;
  s->lo = INT64_MAX;
  s->advice = (uint8_t)num[MMHINT_OPT_advice];
  s->mmap_advice = (uint8_t)num[MMHINT_OPT_mmap_advice];
  s->willneed_ahead = num[MMHINT_OPT_willneed_ahead];
  s->drop_behind = (uint8_t)(num[MMHINT_OPT_drop_behind] != 0);
  const int read_side = s->advice != MMHINT_ADV_NONE || s->willneed_ahead > 0 || s->drop_behind;
  if (!hf || (!read_side && s->mmap_advice != MMHINT_MADV_AUTO)) goto out; /* explicit mmap advice needs nothing now */

  struct stat st;
  if (mmhint_os_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    s->advice = MMHINT_ADV_NONE; /* pipes, sockets, devices: fadvise means nothing there */
    s->willneed_ahead = 0;
    s->drop_behind = 0;
    goto out;
  }
  s->size = st.st_size;
  if (s->willneed_ahead > 0) s->willneed_piece = mmhint_hints_willneed_piece((uint64_t)st.st_dev);
  s->active = 1; /* feed the classifier: auto (either kind) and the windows need it */
  enlist();
  hf->active = 1;
  if (read_side) {
    /* Residency first: advice=willneed below would bring pages in. */
    if (mmhint_residency_scan(&s->res, fd, s->size) == 0) {
      if (!hf->res_open.ticks) {
        hf->res_open.pages = s->res.pages;
        hf->res_open.resident = s->res.resident;
        hf->res_open.exact = s->res.exact_count;
        hf->res_open.ticks = now ? now : 1;
      }
    } else {
      s->drop_behind = 0; /* nothing known: nothing may be dropped */
    }
  }
  if (s->advice != MMHINT_ADV_NONE) apply(s, fd, s->advice == MMHINT_ADV_AUTO ? MMHINT_ADV_NORMAL : s->advice, 'o', 0, now);
out:
  errno = saved_errno;
}

void mmhint__hints_read(mmhint_hints_state_t *s, int fd, int64_t offset, uint64_t len, uint64_t now) {
  mmhint_hints_file_t *hf = s->file;
  const int64_t end = offset + (int64_t)len;
  if (offset < s->lo) s->lo = offset;
  if (end > s->hi) s->hi = end;
  if (mmhint_pattern_feed(&s->pat, offset, len, now, &hf->switches) && s->advice == MMHINT_ADV_AUTO) {
    int want = mmhint_hints_auto_advice(s->pat.cls);
    if (want != s->applied) apply(s, fd, want, 'a', offset, now);
  }
  const int cls = s->pat.cls;
  mmhint_count(&hf->reads_by_class[cls], 1);
  hf->last_class = (uint8_t)cls;
  if (cls != MMHINT_PAT_SEQUENTIAL || s->refused) return;

  /* The WILLNEED window: topped up when less than half of it is left ahead of the reader. */
  if (s->willneed_ahead > 0 && end + s->willneed_ahead / 2 >= s->ahead_end) {
    int64_t from = s->ahead_end > end ? s->ahead_end : end, to = end + s->willneed_ahead;
    for (int64_t a = from; a < to; a += s->willneed_piece) {
      int64_t n = to - a < s->willneed_piece ? to - a : s->willneed_piece;
      long e = mmhint_os_fadvise(fd, a, n, POSIX_FADV_WILLNEED);
      mmhint_count(&hf->c[MMHINT_HC_willneed_calls], 1);
      if (e < 0) {
        mmhint_count(&hf->c[MMHINT_HC_advice_errors], 1);
        s->refused = 1;
        warn_refused("posix_fadvise(POSIX_FADV_WILLNEED)", e);
        return;
      }
      mmhint_count(&hf->c[MMHINT_HC_willneed_bytes], (uint64_t)n);
    }
    s->ahead_end = to;
  }

  /* Drop-behind, a chunk at a time, never closer than DROP_LAG behind the read. */
  if (s->drop_behind) {
    int64_t from = s->drop_done > page_down(s->lo) ? s->drop_done : page_down(s->lo);
    int64_t to = page_down(offset - MMHINT_HINTS_DROP_LAG);
    if (to - from >= MMHINT_HINTS_DROP_CHUNK) {
      drop_range(s, fd, from, to);
      s->drop_done = to;
    }
  }
}

void mmhint_hints_release(mmhint_hints_state_t *s) {
  mmhint_residency_release(&s->res);
  s->active = 0;
  s->drop_behind = 0;
  s->willneed_ahead = 0;
}

void mmhint_hints_close(mmhint_hints_state_t *s, int fd, uint64_t now) {
  const int saved_errno = errno;
  mmhint_hints_file_t *hf = s->file;
  if (s->active && hf) {
    const int read = s->hi > s->lo;
    if (s->drop_behind && read) {
      int64_t hi = s->hi > s->ahead_end ? s->hi : s->ahead_end;
      drop_range(s, fd, page_down(s->lo), page_up(hi + MMHINT_HINTS_CLOSE_SLACK));
    }
    if (s->res.bits) {
      uint64_t pages = 0, resident = 0;
      int e = mmhint_residency_count(fd, s->size, &pages, &resident);
      if (e >= 0) {
        hf->res_close.pages = pages;
        hf->res_close.resident = resident;
        hf->res_close.exact = (uint8_t)e;
        hf->res_close.ticks = now ? now : 1;
      }
      if (read) {
        /* The pages of [lo, hi) that were in the cache at open: reads of them needed no disk. */
        int64_t hi = s->hi < page_up(s->size) ? s->hi : page_up(s->size);
        uint64_t range = hi > s->lo ? (uint64_t)((page_up(hi) - page_down(s->lo)) / mmhint_page_size()) : 0;
        mmhint_count(&hf->c[MMHINT_HC_est_range_pages], range);
        if (range) mmhint_count(&hf->c[MMHINT_HC_est_hit_pages], mmhint_residency_kept_pages(&s->res, s->lo, hi));
      }
    }
  }
  mmhint_hints_release(s);
  errno = saved_errno;
}

int mmhint_hints_mmap_auto(int cls, size_t len) {
  switch (cls) {
    case MMHINT_PAT_SEQUENTIAL: return MMHINT_MADV_SEQUENTIAL;
    case MMHINT_PAT_STRIDED:
    case MMHINT_PAT_RANDOM: return MMHINT_MADV_RANDOM;
    default:
      /* No evidence about the accesses.  A small mapping is usually read whole: ask for it now. */
      return len <= (size_t)MMHINT_HINTS_AUTO_MMAP_SMALL ? MMHINT_MADV_WILLNEED : MMHINT_MADV_NONE;
  }
}

int mmhint_hints_mmap(void *addr, size_t len, const mmhint_hints_state_t *s, mmhint_hints_file_t *hf,
                      const long long *num, uint64_t now) {
  int choice = num ? (int)num[MMHINT_OPT_mmap_advice] : s ? s->mmap_advice : MMHINT_MADV_NONE;
  if (choice == MMHINT_MADV_NONE || !addr || !len) return -1;
  if (choice == MMHINT_MADV_AUTO) {
    int cls = s && s->pat.started ? s->pat.cls : hf ? hf->last_class : MMHINT_PAT_UNKNOWN;
    choice = mmhint_hints_mmap_auto(cls, len);
    if (choice == MMHINT_MADV_NONE) return -1;
  }
  const int saved_errno = errno;
  const int madv = madv_of(choice);
  long e = mmhint_os_madvise(addr, len, madv);
  if (hf) {
    enlist();
    hf->active = 1;
    mmhint_count(&hf->c[MMHINT_HC_madvise_calls], 1);
    log_applied(hf, now, (int64_t)(uintptr_t)addr, choice, 'm', e);
    if (e < 0) mmhint_count(&hf->c[MMHINT_HC_madvise_errors], 1);
  }
  if (e < 0) warn_refused("madvise", e);
  errno = saved_errno;
  return e < 0 ? -1 : madv;
}

/* ---- Statistics ------------------------------------------------------------------ */

static uint64_t since_start_ns(uint64_t ticks) {
  uint64_t t = mmhint_clock_ticks_to_unix_ns(ticks), start = mmhint_clock_start_unix_ns();
  return t > start ? t - start : 0;
}

static void render_residency(mmhint_json_t *j, const char *key, const mmhint_hints_residency_t *r) {
  mmhint_json_key(j, key);
  if (!r->ticks) {
    mmhint_json_null(j);
    return;
  }
  mmhint_json_begin_object(j);
  mmhint_json_kv_uint(j, "t_ns", since_start_ns(r->ticks));
  mmhint_json_kv_uint(j, "pages", r->pages);
  mmhint_json_kv_uint(j, "resident", r->resident);
  mmhint_json_kv_bool(j, "exact", r->exact);
  mmhint_json_end_object(j);
}

void mmhint_hints_render(mmhint_json_t *j, const mmhint_hints_file_t *h) {
  static const char *const adv_names[] = {"none", "normal", "sequential", "random", "willneed", "noreuse", "auto"};
  static const char *const madv_names[] = {"none", "normal", "sequential", "random", "willneed", "hugepage", "auto"};
  if (!h->active) return;
  mmhint_json_key(j, "hints");
  mmhint_json_begin_object(j);
  mmhint_json_kv_string(j, "pattern", mmhint_pattern_name(h->last_class));
  mmhint_json_key(j, "reads_by_pattern");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_PAT__COUNT; i++) {
    mmhint_json_kv_uint(j, mmhint_pattern_name(i), h->reads_by_class[i]);
  }
  mmhint_json_end_object(j);

  mmhint_json_kv_uint(j, "pattern_switches", h->switches.total);
  mmhint_json_key(j, "pattern_log"); /* the last MMHINT_PATTERN_LOG switches */
  mmhint_json_begin_array(j);
  for (uint32_t i = 0; i < mmhint_pattern_log_count(&h->switches); i++) {
    const mmhint_pattern_switch_t *e = mmhint_pattern_log_get(&h->switches, i);
    mmhint_json_begin_object(j);
    mmhint_json_kv_uint(j, "t_ns", since_start_ns(e->ticks));
    mmhint_json_kv_int(j, "offset", e->offset);
    mmhint_json_kv_string(j, "from", mmhint_pattern_name(e->from));
    mmhint_json_kv_string(j, "to", mmhint_pattern_name(e->to));
    mmhint_json_end_object(j);
  }
  mmhint_json_end_array(j);

  mmhint_json_kv_uint(j, "advice_applied", h->napplied);
  mmhint_json_key(j, "advice_log"); /* the last MMHINT_HINTS_LOG applications */
  mmhint_json_begin_array(j);
  uint32_t kept = h->napplied < MMHINT_HINTS_LOG ? h->napplied : MMHINT_HINTS_LOG;
  for (uint32_t i = h->napplied - kept; i < h->napplied; i++) {
    const mmhint_hints_applied_t *a = &h->applied[i % MMHINT_HINTS_LOG];
    mmhint_json_begin_object(j);
    mmhint_json_kv_uint(j, "t_ns", since_start_ns(a->ticks));
    mmhint_json_kv_string(j, "source", a->source == 'o' ? "open" : a->source == 'a' ? "auto" : "mmap");
    mmhint_json_kv_int(j, a->source == 'm' ? "address" : "offset", a->offset);
    mmhint_json_kv_string(j, "advice", a->advice < 7 ? (a->source == 'm' ? madv_names : adv_names)[a->advice] : "?");
    mmhint_json_kv_int(j, "errno", a->err);
    mmhint_json_end_object(j);
  }
  mmhint_json_end_array(j);

#define MMHINT_X_HC_WRITE(name, doc) \
  mmhint_json_key(j, #name);         \
  mmhint_json_uint(j, h->c[MMHINT_HC_##name]);
  MMHINT_HINT_COUNTERS(MMHINT_X_HC_WRITE)
#undef MMHINT_X_HC_WRITE
  mmhint_json_kv_bool(j, "dropped_bytes_exact", !h->drop_unmeasured);
  mmhint_json_key(j, "est_hit_permille");
  if (h->c[MMHINT_HC_est_range_pages])
    mmhint_json_uint(j, h->c[MMHINT_HC_est_hit_pages] * 1000 / h->c[MMHINT_HC_est_range_pages]);
  else
    mmhint_json_null(j);
  render_residency(j, "residency_open", &h->res_open);
  render_residency(j, "residency_close", &h->res_close);
  mmhint_json_end_object(j);
}
