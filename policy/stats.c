/*
 * policy/stats.c: the statistics store and its JSON writer; see stats.h.
 */
#include "policy/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "include/mmhint.h"
#include "policy/arena.h"
#include "policy/clock.h"
#include "policy/fmt.h"
#include "policy/fork.h"
#include "policy/json.h"
#include "policy/os/os.h"
#include "policy/spin.h"

#define MMHINT_BUCKETS 4096 /* power of two; chains stay short for tens of thousands of files */

static mmhint_file_t *volatile buckets[MMHINT_BUCKETS];
static int insert_lock;
static uint32_t sample_cap;

/* The registered sections, in registration order; slots fill from the start and are never emptied. */
static const mmhint_stats_section_t *sections[MMHINT_STATS_SECTIONS];

/* ---- The store ------------------------------------------------------------ */

void mmhint_stats_init(uint32_t samples) { sample_cap = samples; }

/* The "touched" maps' switch and budget (policy/cov.h), here so that the store uses nothing of that module. */
int mmhint__cov_on;
uint64_t mmhint__cov_bytes;

static unsigned bucket_of(uint64_t dev, uint64_t ino) {
  uint64_t h = (ino * 0x9E3779B97F4A7C15ull) ^ (dev * 0xC2B2AE3D27D4EB4Full);
  return (unsigned)(h >> 40) & (MMHINT_BUCKETS - 1);
}

static mmhint_file_t *find(unsigned b, uint64_t dev, uint64_t ino) {
  for (mmhint_file_t *f = __atomic_load_n(&buckets[b], __ATOMIC_ACQUIRE); f; f = f->next)
    if (f->ino == ino && f->dev == dev) return f;
  return NULL;
}

mmhint_file_t *mmhint_stats_file(uint64_t dev, uint64_t ino, uint32_t mode, int64_t size) {
  unsigned b = bucket_of(dev, ino);
  mmhint_file_t *f = find(b, dev, ino);
  if (f) return f;
  mmhint_spin_lock(&insert_lock);
  f = find(b, dev, ino);
  if (!f) {
    f = mmhint_arena_alloc(sizeof *f);
    if (f) {
      f->dev = dev;
      f->ino = ino;
      f->mode = mode;
      f->size_at_open = size;
      f->sample_stride = 1;
      f->sample_next = 1;
      f->next = buckets[b];
      __atomic_store_n(&buckets[b], f, __ATOMIC_RELEASE);
    }
  }
  mmhint_spin_unlock(&insert_lock);
  return f;
}

mmhint_file_t *mmhint_stats_lookup(uint64_t dev, uint64_t ino) { return find(bucket_of(dev, ino), dev, ino); }

void mmhint_stats_add_path(mmhint_file_t *f, const char *path) {
  if (!path || !*path) return;
  if (__atomic_load_n(&f->npaths, __ATOMIC_ACQUIRE) >= MMHINT_MAX_PATHS) return;
  mmhint_spin_lock(&f->lock);
  int known = 0;
  for (int i = 0; i < f->npaths; i++)
    if (strcmp(f->paths[i], path) == 0) known = 1;
  if (!known && f->npaths < MMHINT_MAX_PATHS) {
    size_t n = strlen(path) + 1;
    char *copy = mmhint_arena_alloc(n);
    if (copy) {
      memcpy(copy, path, n);
      f->paths[f->npaths] = copy;
      __atomic_store_n(&f->npaths, f->npaths + 1, __ATOMIC_RELEASE);
    }
  }
  mmhint_spin_unlock(&f->lock);
}

/*
 * Keeps one access in every `stride`; when the buffer is full, drops every
 * other kept sample and doubles the stride, so the kept samples stay evenly
 * spaced over the whole run and bounded by the capacity.
 */
void mmhint_stats_sample_keep(mmhint_file_t *f, uint64_t ticks, int64_t offset, uint64_t length, int op) {
  if (!sample_cap) {
    __atomic_store_n(&f->sample_next, UINT64_MAX, __ATOMIC_RELAXED);
    return;
  }
  mmhint_spin_lock(&f->lock);
  /* Another thread may have kept this slot's sample already. */
  uint64_t seen = __atomic_load_n(&f->samples_seen, __ATOMIC_RELAXED);
  if (seen >= f->sample_next) {
    if (!f->samples) f->samples = mmhint_arena_alloc(sizeof(mmhint_sample_t) * sample_cap);
    if (f->samples) {
      if (f->nsamples == sample_cap) {
        for (uint32_t i = 0; i < sample_cap / 2; i++) f->samples[i] = f->samples[2 * i];
        f->nsamples = sample_cap / 2;
        f->sample_stride *= 2;
      }
      mmhint_sample_t *s = &f->samples[f->nsamples++];
      s->ticks = ticks;
      s->offset = offset;
      s->length = length;
      s->op = (uint64_t)op;
    }
    __atomic_store_n(&f->sample_next, seen + f->sample_stride, __ATOMIC_RELAXED);
  }
  mmhint_spin_unlock(&f->lock);
}

void mmhint_stats_foreach(void (*fn)(mmhint_file_t *f, void *ctx), void *ctx) {
  for (unsigned b = 0; b < MMHINT_BUCKETS; b++)
    for (mmhint_file_t *f = __atomic_load_n(&buckets[b], __ATOMIC_ACQUIRE); f; f = f->next) fn(f, ctx);
}

static void reset_one(mmhint_file_t *f, void *ctx) {
  (void)ctx;
  memset(f->c, 0, sizeof f->c);
  memset(f->hist, 0, sizeof f->hist);
  memset(f->whist, 0, sizeof f->whist);
  memset(f->fallbacks, 0, sizeof f->fallbacks);
  f->lock = 0;
  memset(&f->hints, 0, sizeof f->hints);
  memset(&f->prefetch, 0, sizeof f->prefetch);
  memset(f->open_modes, 0, sizeof f->open_modes);
  memset(&f->residency_at_open, 0, sizeof f->residency_at_open);
  mmhint_cov_reset(&f->cov);
  f->samples_seen = 0;
  f->sample_next = 1;
  f->sample_stride = 1;
  f->nsamples = 0;
}

void mmhint_stats_opened(mmhint_file_t *f, int fd, int oflags, int64_t size, int measure, uint64_t now) {
  mmhint_count(&f->open_modes[mmhint_stats_open_mode(oflags)], 1);
  /* A map for descriptions that can read (a write-only one would leave it empty). */
  if (measure && size >= MMHINT_COV_MIN_SIZE && (oflags & O_ACCMODE) != O_WRONLY) {
    const int e = errno;
    mmhint_cov_init(&f->cov, size);
    errno = e;
  }
  if (!measure || size <= 0 || __atomic_load_n(&f->residency_at_open.ticks, __ATOMIC_RELAXED)) return;
  /* Two threads opening the file at once may both measure; either answer is right. */
  const int saved_errno = errno;
  uint64_t pages = 0, resident = 0;
  int e = mmhint_residency_count(fd, size, &pages, &resident);
  if (e >= 0) {
    f->residency_at_open.pages = pages;
    f->residency_at_open.resident = resident;
    f->residency_at_open.exact = (uint8_t)(e == 1);
    __atomic_store_n(&f->residency_at_open.ticks, now ? now : 1, __ATOMIC_RELAXED);
  }
  errno = saved_errno;
}

void mmhint_stats_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&insert_lock);
  else mmhint_spin_unlock(&insert_lock);
}

void mmhint_stats_reset_after_fork(void) {
  mmhint_stats_foreach(reset_one, NULL);
  for (int i = 0; i < MMHINT_STATS_SECTIONS; i++) {
    const mmhint_stats_section_t *s = __atomic_load_n(&sections[i], __ATOMIC_ACQUIRE);
    if (!s) break;
    if (s->reset) s->reset();
  }
}

/* ---- Sections --------------------------------------------------------------- */

int mmhint_stats_section_register(const mmhint_stats_section_t *s) {
  /*
   * Slots fill in order and are never emptied, so a thread that scans from
   * the start meets `s` before any empty slot when `s` is registered; two
   * threads registering the same section race for the same empty slot, and
   * the one that loses the exchange finds `s` there.  No lock, so no fork
   * protocol is needed.
   */
  for (int i = 0; i < MMHINT_STATS_SECTIONS; i++) {
    const mmhint_stats_section_t *cur = __atomic_load_n(&sections[i], __ATOMIC_ACQUIRE);
    if (!cur && __atomic_compare_exchange_n(&sections[i], &cur, s, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 0;
    if (cur == s) return 0;
  }
  return -1;
}

/* ---- Rendering ------------------------------------------------------------ */

/* The units of include/mmhint_counters.def: how a kept value is written. */
enum { MMHINT_UNIT_COUNT, MMHINT_UNIT_BYTES, MMHINT_UNIT_TICKS, MMHINT_UNIT_UNIX_NS };

/* A counter's value as the statistics file gives it: ticks become nanoseconds (of duration, or of unix time). */
static uint64_t counter_value(int unit, uint64_t v) {
  if (unit == MMHINT_UNIT_TICKS) return mmhint_clock_ticks_to_ns(v);
  if (unit == MMHINT_UNIT_UNIX_NS) return mmhint_clock_ticks_to_unix_ns(v);
  return v;
}

static const char *type_name(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "char";
    case S_IFBLK: return "block";
    case S_IFDIR: return "dir";
    default: return "other";
  }
}

static void render_source(mmhint_json_t *j, const mmhint_config_t *cfg, mmhint_source_t src) {
  char b[MMHINT_STRING_MAX + 32];
  switch (src.kind) {
    case MMHINT_SRC_DEFAULT: mmhint_json_string(j, "default"); return;
    case MMHINT_SRC_ENV: mmhint_json_string(j, "env"); return;
    case MMHINT_SRC_CONFIG:
    case MMHINT_SRC_RULE: {
      /* Composed by hand: snprintf of a %s may allocate in some libcs. */
      const char *kind = src.kind == MMHINT_SRC_CONFIG ? "config:" : "rule:";
      size_t n = 0;
      for (const char *p = kind; *p && n < sizeof b - 1; p++) b[n++] = *p;
      for (const char *p = cfg ? cfg->config_path : ""; *p && n < sizeof b - 24; p++) b[n++] = *p;
      b[n++] = ':';
      n += mmhint_fmt_u64(b + n, (uint64_t)(src.line < 0 ? 0 : src.line)); /* room: the path stopped 24 short */
      mmhint_json_string(j, b);
      return;
    }
  }
  mmhint_json_string(j, "unknown");
}

static void render_options(mmhint_json_t *j, const mmhint_config_t *cfg) {
  mmhint_json_key(j, "options");
  mmhint_json_begin_object(j);
  if (cfg) {
    for (int id = 0; id < MMHINT_OPT__COUNT; id++) {
      char val[MMHINT_STRING_MAX];
      mmhint_value_format(&cfg->values, id, val, sizeof val);
      mmhint_json_key(j, mmhint_option_table[id].name);
      mmhint_json_begin_object(j);
      mmhint_json_kv_string(j, "value", val);
      mmhint_json_key(j, "source");
      render_source(j, cfg, cfg->values.src[id]);
      mmhint_json_end_object(j);
    }
  }
  mmhint_json_end_object(j);
}

typedef struct {
  mmhint_json_t *j;
  const mmhint_config_t *cfg;
} render_ctx_t;

static void render_file(mmhint_file_t *f, void *vctx) {
  render_ctx_t *ctx = vctx;
  mmhint_json_t *j = ctx->j;
  /* A file that was only looked at (no counter moved) is left out. */
  int any = 0;
  for (int i = 0; i < MMHINT_FC__COUNT; i++) any |= f->c[i] != 0;
  if (!any) return;

  mmhint_json_raw(j, "\n  ");
  mmhint_json_begin_object(j);
  mmhint_json_kv_uint(j, "dev", f->dev);
  mmhint_json_kv_uint(j, "ino", f->ino);
  mmhint_json_key(j, "paths");
  mmhint_json_begin_array(j);
  int np = __atomic_load_n(&f->npaths, __ATOMIC_ACQUIRE);
  for (int i = 0; i < np; i++) mmhint_json_string(j, f->paths[i]);
  mmhint_json_end_array(j);
  mmhint_json_kv_string(j, "type", type_name(f->mode));
  mmhint_json_kv_int(j, "size_at_open", f->size_at_open);
  mmhint_json_key(j, "open_modes");
  mmhint_json_begin_object(j);
  mmhint_json_kv_uint(j, "read", f->open_modes[MMHINT_OPEN_READ]);
  mmhint_json_kv_uint(j, "write", f->open_modes[MMHINT_OPEN_WRITE]);
  mmhint_json_kv_uint(j, "rdwr", f->open_modes[MMHINT_OPEN_RDWR]);
  mmhint_json_end_object(j);
  mmhint_json_key(j, "residency_at_open");
  if (f->residency_at_open.ticks) {
    const uint64_t t = mmhint_clock_ticks_to_unix_ns(f->residency_at_open.ticks), s0 = mmhint_clock_start_unix_ns();
    mmhint_json_begin_object(j);
    mmhint_json_kv_uint(j, "t_ns", t > s0 ? t - s0 : 0);
    mmhint_json_kv_uint(j, "pages", f->residency_at_open.pages);
    mmhint_json_kv_uint(j, "resident", f->residency_at_open.resident);
    mmhint_json_kv_bool(j, "exact", f->residency_at_open.exact);
    mmhint_json_end_object(j);
  } else {
    mmhint_json_null(j);
  }

#define MMHINT_X_WRITE(name, kind, unit, doc)                                                \
  mmhint_json_key(j, #name);                                                                 \
  mmhint_json_uint(j, counter_value(MMHINT_UNIT_##unit, f->c[MMHINT_FC_##name]));
  MMHINT_FILE_COUNTERS(MMHINT_X_WRITE)
#undef MMHINT_X_WRITE

  static const char *const hist_names[] = MMHINT_READ_HIST_NAMES;
  mmhint_json_key(j, "read_size_hist");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_READ_HIST_BUCKETS; i++) {
    mmhint_json_kv_uint(j, hist_names[i], f->hist[i]);
  }
  mmhint_json_end_object(j);
  mmhint_json_key(j, "write_size_hist");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_READ_HIST_BUCKETS; i++) {
    mmhint_json_kv_uint(j, hist_names[i], f->whist[i]);
  }
  mmhint_json_end_object(j);

  mmhint_json_key(j, "samples");
  mmhint_json_begin_object(j);
  mmhint_json_kv_uint(j, "kept", f->nsamples);
  mmhint_json_kv_uint(j, "seen", f->samples_seen);
  mmhint_json_key(j, "columns");
  mmhint_json_begin_array(j);
  mmhint_json_string(j, "t_ns");
  mmhint_json_string(j, "offset");
  mmhint_json_string(j, "length");
  mmhint_json_string(j, "op");
  mmhint_json_end_array(j);
  mmhint_json_key(j, "rows");
  mmhint_json_begin_array(j);
  uint64_t start_unix = mmhint_clock_start_unix_ns();
  for (uint32_t i = 0; i < f->nsamples && f->samples; i++) {
    const mmhint_sample_t *s = &f->samples[i];
    char op[2] = {(char)s->op, 0};
    uint64_t t = mmhint_clock_ticks_to_unix_ns(s->ticks);
    mmhint_json_begin_array(j);
    mmhint_json_uint(j, t > start_unix ? t - start_unix : 0);
    mmhint_json_int(j, s->offset);
    mmhint_json_uint(j, s->length);
    mmhint_json_string(j, op);
    mmhint_json_end_array(j);
  }
  mmhint_json_end_array(j);
  mmhint_json_end_object(j);

  char b[64];
  mmhint_json_key(j, "policy");
  mmhint_json_begin_object(j);
  mmhint_json_key(j, "read_mmap");
  mmhint_option_choice_name(MMHINT_OPT_read_mmap, f->pol_read_mmap, b, sizeof b);
  mmhint_json_string(j, b);
  mmhint_json_key(j, "advice");
  mmhint_option_choice_name(MMHINT_OPT_advice, f->pol_advice, b, sizeof b);
  mmhint_json_string(j, b);
  mmhint_json_key(j, "mmap_advice");
  mmhint_option_choice_name(MMHINT_OPT_mmap_advice, f->pol_mmap_advice, b, sizeof b);
  mmhint_json_string(j, b);
  mmhint_json_kv_bool(j, "drop_behind", f->pol_drop_behind);
  mmhint_json_key(j, "prefetch");
  mmhint_option_choice_name(MMHINT_OPT_prefetch, f->pol_prefetch, b, sizeof b);
  mmhint_json_string(j, b);
  mmhint_json_key(j, "rule");
  if (f->rule > 0 && ctx->cfg && f->rule <= ctx->cfg->n_rules) {
    mmhint_json_begin_object(j);
    mmhint_json_kv_string(j, "file", ctx->cfg->config_path);
    mmhint_json_kv_int(j, "line", ctx->cfg->rules[f->rule - 1].line);
    mmhint_json_end_object(j);
  } else {
    mmhint_json_null(j);
  }
  mmhint_json_end_object(j);

  static const char *const fb_names[] = {
#define MMHINT_X_FBNAME(name, doc) #name,
      MMHINT_FALLBACKS(MMHINT_X_FBNAME)
#undef MMHINT_X_FBNAME
  };
  for (int i = 0; i < MMHINT_STATS_SECTIONS; i++) {
    const mmhint_stats_section_t *s = __atomic_load_n(&sections[i], __ATOMIC_ACQUIRE);
    if (!s) break;
    if (s->kind == MMHINT_SECTION_FILE && s->render_file) s->render_file(j, f);
  }

  mmhint_json_key(j, "fallbacks");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_FB__COUNT; i++)
    if (f->fallbacks[i]) {
      mmhint_json_kv_uint(j, fb_names[i], f->fallbacks[i]);
    }
  mmhint_json_end_object(j);
  mmhint_json_end_object(j);
}

long mmhint_stats_render(const mmhint_process_info_t *info, char **out, size_t *cap) {
  mmhint_json_t jw, *j = &jw;
  mmhint_json_init(j);
  mmhint_clock_calibrate();
  uint64_t end_ns = mmhint_clock_unix_ns();

  mmhint_json_begin_object(j);
  mmhint_json_kv_string(j, "schema", MMHINT_STATS_SCHEMA);
  mmhint_json_kv_string(j, "version", MMHINT_VERSION_STRING);
  mmhint_json_raw(j, "\n");
  mmhint_json_key(j, "process");
  mmhint_json_begin_object(j);
  mmhint_json_kv_int(j, "pid", info->pid);
  mmhint_json_kv_int(j, "ppid", info->ppid);
  mmhint_json_kv_string(j, "exe", info->exe);
  mmhint_json_key(j, "argv");
  mmhint_json_begin_array(j);
  for (size_t i = 0; i < info->cmdline_len;) {
    size_t n = strnlen(info->cmdline + i, info->cmdline_len - i);
    mmhint_json_string_n(j, info->cmdline + i, n);
    i += n + 1;
  }
  mmhint_json_end_array(j);
  mmhint_json_kv_string(j, "host", info->host);
  mmhint_json_kv_uint(j, "start_ns", mmhint_clock_start_unix_ns());
  if (mmhint_clock_parent_start_unix_ns()) mmhint_json_kv_uint(j, "parent_start_ns", mmhint_clock_parent_start_unix_ns());
  mmhint_json_kv_uint(j, "end_ns", end_ns);
  mmhint_json_kv_uint(j, "wall_ns", end_ns - mmhint_clock_start_unix_ns());
  mmhint_json_kv_string(j, "end_reason", info->end_reason);
  if (info->end_signal) mmhint_json_kv_int(j, "end_signal", info->end_signal);
  render_options(j, info->cfg);
  mmhint_json_key(j, "rules");
  mmhint_json_begin_array(j);
  for (int i = 0; info->cfg && i < info->cfg->n_rules; i++) {
    mmhint_json_begin_object(j);
    mmhint_json_kv_string(j, "file", info->cfg->config_path);
    mmhint_json_kv_int(j, "line", info->cfg->rules[i].line);
    mmhint_json_kv_string(j, "path", info->cfg->rules[i].path);
    mmhint_json_end_object(j);
  }
  mmhint_json_end_array(j);
  mmhint_json_key(j, "unobserved");
  mmhint_json_begin_array(j);
  mmhint_json_string(j, "raw system calls (syscall(2)), io_uring and statically linked programs are not observed");
  mmhint_json_string(j, "stdio reads are counted at the stdio level (fread, fgets, getline, getdelim); "
                        "getc/fgetc/fscanf and the read(2) calls stdio makes internally are not observed");
  mmhint_json_string(j, "stdio writes are counted at the stdio level (fwrite, fputs, fflush of one stream); "
                        "fputc/putc/fprintf/printf, fflush(NULL) and the write(2) calls stdio makes internally are "
                        "not observed");
  mmhint_json_string(j, "bytes that sendfile, copy_file_range and splice move into a file are not counted as writes");
  mmhint_json_string(j, "msync is counted against a file only for shared writable mappings the program made with "
                        "mmap (at most 64 at a time); stores into mappings are not observed");
  mmhint_json_string(j, "calls made after this file was written at exit are not in it: destructors of libraries "
                        "initialised before libmmhint (those the program links directly) run after it");
  if (info->reentrant_calls) {
    char b[160] = "calls made while the shim was busy on the same thread (signal handlers), passed through unrecorded: ";
    size_t n = strlen(b);
    if (n + MMHINT_FMT_U64_MAX <= sizeof b) mmhint_fmt_u64(b + n, info->reentrant_calls);
    mmhint_json_string(j, b);
  }
  if (info->untracked_fds) mmhint_json_string(j, "descriptors numbered above the table's reach (1048576) were not tracked");
  mmhint_json_end_array(j);
  mmhint_json_key(j, "warnings");
  mmhint_json_begin_array(j);
  for (int i = 0; info->cfg && i < info->cfg->n_warnings; i++) mmhint_json_string(j, info->cfg->warnings[i]);
  mmhint_json_end_array(j);
  mmhint_json_end_object(j);

  mmhint_json_raw(j, "\n");
  mmhint_json_key(j, "files");
  mmhint_json_begin_array(j);
  render_ctx_t ctx = {j, info->cfg};
  mmhint_stats_foreach(render_file, &ctx);
  mmhint_json_end_array(j);

  for (int i = 0; i < MMHINT_STATS_SECTIONS; i++) {
    const mmhint_stats_section_t *s = __atomic_load_n(&sections[i], __ATOMIC_ACQUIRE);
    if (!s) break;
    if (s->kind != MMHINT_SECTION_PROCESS || !s->render_process) continue;
    mmhint_json_raw(j, "\n");
    mmhint_json_key(j, s->name);
    mmhint_json_begin_object(j);
    s->render_process(j);
    mmhint_json_end_object(j);
  }
  mmhint_json_end_object(j);
  mmhint_json_raw(j, "\n");

  if (j->failed) {
    mmhint_json_free(j);
    return -1;
  }
  *out = j->buf;
  *cap = j->cap;
  return (long)j->len;
}

/* ---- Files ------------------------------------------------------------------ */

/* Appends src to dst (capacity len, current length *n); returns -1 when it does not fit. */
static int append(char *dst, size_t len, size_t *n, const char *src, size_t srclen) {
  if (*n + srclen >= len) return -1;
  memcpy(dst + *n, src, srclen);
  *n += srclen;
  dst[*n] = '\0';
  return 0;
}

/* Appends v in decimal, like append. */
static int append_uint(char *dst, size_t len, size_t *n, uint64_t v) {
  char d[MMHINT_FMT_U64_MAX];
  return append(dst, len, n, d, mmhint_fmt_u64(d, v));
}

void mmhint_stats_file_name(const char *name, char *out, size_t cap) {
  size_t n = 0;
  for (const char *p = name; p && *p && n + 1 < cap; p++) {
    char c = *p;
    int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
               c == '-' || (c == '.' && n > 0);
    out[n++] = keep ? c : '_';
  }
  if (n == 0) {
    const char *u = "unknown";
    while (*u && n + 1 < cap) out[n++] = *u++;
  }
  out[n] = '\0';
}

int mmhint_stats_expand_path(const char *tmpl, long pid, const char *prog, const char *host, uint64_t unix_s,
                             char *out, size_t len) {
  size_t n = 0;
  if (len == 0) return -1;
  out[0] = '\0';
  for (const char *p = tmpl; *p; p++) {
    int r = 0;
    if (*p != '%') {
      r = append(out, len, &n, p, 1);
    } else {
      p++;
      switch (*p) {
        case 'p': r = append_uint(out, len, &n, (uint64_t)pid); break;
        case 'e': r = append(out, len, &n, prog, strlen(prog)); break;
        case 'h': r = append(out, len, &n, host, strlen(host)); break;
        case 't': r = append_uint(out, len, &n, unix_s); break;
        case '%': r = append(out, len, &n, "%", 1); break;
        case '\0': r = append(out, len, &n, "%", 1); p--; break;
        default: r = append(out, len, &n, p - 1, 2); break;
      }
    }
    if (r) return -1;
  }
  if (n > 0 && out[n - 1] == '/') {
    if (append(out, len, &n, prog, strlen(prog)) || append(out, len, &n, ".", 1) ||
        append_uint(out, len, &n, (uint64_t)pid) || append(out, len, &n, ".json", 5))
      return -1;
  }
  return 0;
}

/*
 * Writes buf whole to a new temporary file beside `path` (PATH.tmp.PID, 0600,
 * O_EXCL|O_NOFOLLOW), named in tmp; fills *st (when not NULL) from it.
 * Returns 0, or -errno with the temporary file removed.
 */
static long write_temp(const char *path, const char *buf, size_t len, char *tmp, size_t tmp_len, struct stat *st) {
  size_t n = 0;
  if (append(tmp, tmp_len, &n, path, strlen(path)) || append(tmp, tmp_len, &n, ".tmp.", 5) ||
      append_uint(tmp, tmp_len, &n, (uint64_t)mmhint_os_getpid()))
    return -ENAMETOOLONG;
  long fd = mmhint_os_open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return fd;
  long r = mmhint_os_write_all((int)fd, buf, len);
  if (r == 0 && st) r = mmhint_os_fstat((int)fd, st);
  long c = mmhint_os_close((int)fd);
  if (r == 0 && c < 0) r = c;
  if (r < 0) mmhint_os_unlink(tmp);
  return r;
}

long mmhint_stats_write_file(const char *path, const char *buf, size_t len, char *final, size_t final_len) {
  char tmp[4200];
  long r = write_temp(path, buf, len, tmp, sizeof tmp, NULL);
  if (r < 0) return r;
  /* link() never replaces and never follows a symlink planted at the new name. */
  for (int i = 0; i < 1000; i++) {
    size_t m = 0;
    if (append(final, final_len, &m, path, strlen(path))) break;
    if (i > 0 && (append(final, final_len, &m, ".", 1) || append_uint(final, final_len, &m, (uint64_t)i))) break;
    long l = mmhint_os_link(tmp, final);
    if (l == 0) {
      mmhint_os_unlink(tmp);
      return 0;
    }
    if (l != -EEXIST) {
      /* Filesystems without hard links: rename without replacing. */
      long rr = mmhint_os_rename_noreplace(tmp, final);
      if (rr == 0) return 0;
      if (rr != -EEXIST) {
        mmhint_os_unlink(tmp);
        return l;
      }
    }
  }
  mmhint_os_unlink(tmp);
  return -EEXIST;
}

static void id_of(const struct stat *st, mmhint_file_id_t *id) {
  id->dev = (uint64_t)st->st_dev;
  id->ino = (uint64_t)st->st_ino;
  id->size = (uint64_t)st->st_size;
  id->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
}

int mmhint_stats_file_id(const char *path, mmhint_file_id_t *id) {
  long fd = mmhint_os_open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
  if (fd < 0) return (int)fd;
  struct stat st;
  long r = mmhint_os_fstat((int)fd, &st);
  mmhint_os_close((int)fd);
  if (r < 0) return (int)r;
  if (!S_ISREG(st.st_mode)) return -EINVAL;
  id_of(&st, id);
  return 0;
}

long mmhint_stats_replace_file(const char *path, mmhint_file_id_t *id, const char *buf, size_t len) {
  mmhint_file_id_t now;
  /* Not ours (any more): removed, or another file at the name, even one that reuses our inode number. */
  if (mmhint_stats_file_id(path, &now) != 0 || now.dev != id->dev || now.ino != id->ino || now.size != id->size ||
      now.mtime_ns != id->mtime_ns)
    return -ESTALE;
  char tmp[4200];
  struct stat st;
  long r = write_temp(path, buf, len, tmp, sizeof tmp, &st);
  if (r < 0) return r;
  r = mmhint_os_rename(tmp, path); /* atomic: a reader sees the previous file or this one */
  if (r == 0) id_of(&st, id); /* the name is this new file now */
  if (r < 0) mmhint_os_unlink(tmp);
  return r;
}

/* ---- Read sizes ------------------------------------------------------------ */

/* The histogram's table by bit length (policy/stats.h), from MMHINT_READ_HIST_BOUNDS. */
const uint8_t mmhint__hist_base[64] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 8, 8, 8,
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
};
#define NONE UINT64_MAX /* below the first bound: no n there reaches it */
const uint64_t mmhint__hist_step[64] = {
    NONE, NONE, NONE, NONE, NONE, NONE, 100u, 0, 0, 1000u, 0, 0, 0, 10000u, 0, 0, 100000u, 0, 0, 1000000u, 0,
    4000000u, 0, 10000000u, 0, 0, 100000000u, 0, 0, 1000000000u, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
#undef NONE

/* ---- Recording, out of line --------------------------------------------- */

void mmhint__stats_read_out(int timed, mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                            uint64_t t0, uint64_t t1, int op) {
  const int st = __libc_single_threaded != 0;
  if (timed && st) mmhint__stats_read_as(1, 1, f, r, offset, prev_end, dur, t0, t1, op);
  else if (timed) mmhint__stats_read_as(0, 1, f, r, offset, prev_end, dur, t0, t1, op);
  else if (st) mmhint__stats_read_as(1, 0, f, r, offset, prev_end, 0, t0, t1, op);
  else mmhint__stats_read_as(0, 0, f, r, offset, prev_end, 0, t0, t1, op);
}

void mmhint__stats_write_out(int timed, mmhint_file_t *f, long r, int64_t offset, int64_t prev_end, uint64_t dur,
                             uint64_t t0, uint64_t t1, int op) {
  const int st = __libc_single_threaded != 0;
  if (timed && st) mmhint__stats_write_as(1, 1, f, r, offset, prev_end, dur, t0, t1, op);
  else if (timed) mmhint__stats_write_as(0, 1, f, r, offset, prev_end, dur, t0, t1, op);
  else if (st) mmhint__stats_write_as(1, 0, f, r, offset, prev_end, 0, t0, t1, op);
  else mmhint__stats_write_as(0, 0, f, r, offset, prev_end, 0, t0, t1, op);
}
