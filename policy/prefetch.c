/*
 * policy/prefetch.c: the prefetch policy's decisions, its job table and its
 * statistics; see prefetch.h and docs/HINTS.md ("Prefetch").
 */
#include "policy/prefetch.h"

#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "policy/clock.h"
#include "policy/fork.h"
#include "policy/os/os.h"
#include "policy/spin.h"
#include "policy/stats.h"

/* ---- Decisions -------------------------------------------------------------------- */

int mmhint_prefetch_decide_open(const mmhint_pf_open_facts_t *f) {
  if (f->mode == MMHINT_PF_OFF) return MMHINT_PF_SKIP;
  if (f->type != S_IFREG) return MMHINT_PF_SKIP;
  if ((f->oflags & O_ACCMODE) == O_WRONLY || (f->oflags & (O_PATH | O_DIRECT))) return MMHINT_PF_SKIP;
  if (f->size <= 0 || f->size < f->min) return MMHINT_PF_SKIP;
  return f->mode == MMHINT_PF_WHOLE ? MMHINT_PF_START : MMHINT_PF_WAIT;
}

int mmhint_prefetch_auto_fires(int cls) { return cls == MMHINT_PAT_RANDOM || cls == MMHINT_PAT_STRIDED; }

int64_t mmhint_prefetch_limit(int64_t max, int64_t mem_available) {
  if (max > 0) return max;
  if (mem_available <= 0) return 0;
  return mem_available / MMHINT_PF_MEM_DEN * MMHINT_PF_MEM_NUM;
}

int64_t mmhint_prefetch_parse_meminfo(const char *text, size_t len) {
  static const char key[] = "MemAvailable:";
  const size_t kl = sizeof key - 1;
  for (size_t i = 0; i + kl <= len; i++) {
    if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, key, kl) == 0) {
      size_t p = i + kl;
      while (p < len && text[p] == ' ') p++;
      if (p >= len || text[p] < '0' || text[p] > '9') return -1;
      int64_t v = 0;
      while (p < len && text[p] >= '0' && text[p] <= '9') {
        if (v > INT64_MAX / 10 / 1024) return -1;
        v = v * 10 + (text[p++] - '0');
      }
      while (p < len && text[p] == ' ') p++;
      if (p + 2 > len || text[p] != 'k' || text[p + 1] != 'B') return -1;
      return v * 1024;
    }
  }
  return -1;
}

int mmhint_prefetch_cgroup(const char *text, size_t len, char *out, size_t cap) {
  int found = 0;
  for (size_t i = 0; i < len;) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    /* "ID:CONTROLLERS:PATH" */
    size_t c1 = i;
    while (c1 < e && text[c1] != ':') c1++;
    size_t c2 = c1 < e ? c1 + 1 : e;
    while (c2 < e && text[c2] != ':') c2++;
    if (c2 < e) {
      int kind = 0;
      if (c2 == c1 + 1 && c1 - i == 1 && text[i] == '0') {
        kind = 2;
      } else {
        for (size_t a = c1 + 1; a < c2;) { /* the comma-separated controllers */
          size_t b = a;
          while (b < c2 && text[b] != ',') b++;
          if (b - a == 6 && memcmp(text + a, "memory", 6) == 0) kind = 1;
          a = b + 1;
        }
      }
      const size_t plen = e - (c2 + 1);
      if (kind && (kind == 1 || !found) && plen >= 1 && plen < cap && text[c2 + 1] == '/') {
        memcpy(out, text + c2 + 1, plen);
        out[plen] = 0;
        found = kind;
        if (kind == 1) return 1;
      }
    }
    i = e + 1;
  }
  return found;
}

int64_t mmhint_prefetch_parse_number(const char *text, size_t len) {
  while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) len--;
  if (len == 3 && memcmp(text, "max", 3) == 0) return INT64_MAX;
  if (len == 0) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

int64_t mmhint_prefetch_parse_stat(const char *text, size_t len, const char *key) {
  const size_t kl = strlen(key);
  for (size_t i = 0; i + kl < len; i++) {
    if ((i == 0 || text[i - 1] == '\n') && memcmp(text + i, key, kl) == 0 && text[i + kl] == ' ') {
      size_t e = i + kl + 1;
      while (e < len && text[e] != '\n') e++;
      return mmhint_prefetch_parse_number(text + i + kl + 1, e - (i + kl + 1));
    }
  }
  return -1;
}

int64_t mmhint_prefetch_cgroup_room(int64_t limit, int64_t usage, int64_t inactive_file) {
  if (limit < 0 || limit >= ((int64_t)1 << 60) || usage < 0) return -1;
  if (inactive_file < 0) inactive_file = 0;
  int64_t room = limit - usage + inactive_file;
  return room < 0 ? 0 : room;
}

int64_t mmhint_prefetch_step_size(int64_t step, int64_t cap, long page) {
  if (cap > 0 && step > cap) step = cap;
  step &= ~(int64_t)(page - 1);
  return step < page ? page : step;
}

int mmhint_prefetch_next(const mmhint_pf_range_t *r, int n, int *ri, int64_t *roff, int64_t step, int64_t *off,
                         int64_t *len) {
  while (*ri < n && *roff >= r[*ri].len) {
    (*ri)++;
    *roff = 0;
  }
  if (*ri >= n) return 0;
  const mmhint_pf_range_t *c = &r[*ri];
  int64_t left = c->len - *roff;
  *off = c->off + *roff;
  *len = left < step ? left : step;
  *roff += *len;
  return 1;
}

int64_t mmhint_prefetch_seek(const mmhint_pf_range_t *r, int n, int *ri, int64_t *roff, int64_t to) {
  int64_t passed = 0;
  while (*ri < n) {
    const mmhint_pf_range_t *c = &r[*ri];
    const int64_t pos = c->off + *roff, end = c->off + (c->len > 0 ? c->len : 0);
    if (to <= pos) break;
    if (to < end) {
      passed += to - pos;
      *roff = to - c->off;
      break;
    }
    if (end > pos) passed += end - pos;
    (*ri)++;
    *roff = 0;
  }
  return passed;
}

int64_t mmhint_prefetch_bytes_from(const mmhint_pf_range_t *r, int n, int64_t from) {
  int64_t sum = 0;
  for (int i = 0; i < n; i++) {
    if (r[i].len <= 0) continue;
    const int64_t a = r[i].off > from ? r[i].off : from, b = r[i].off + r[i].len;
    if (b > a) sum += b - a;
  }
  return sum;
}

int mmhint_prefetch_clip(mmhint_pf_range_t *r, int n, int64_t size, int64_t gap) {
  int out = 0;
  for (int i = 0; i < n; i++) {
    int64_t a = r[i].off < 0 ? 0 : r[i].off, b = r[i].off + r[i].len;
    if (r[i].len <= 0 || b > size) b = r[i].len <= 0 ? a : size;
    if (b <= a) continue;
    if (out > 0 && a <= r[out - 1].off + r[out - 1].len + gap) {
      int64_t end = r[out - 1].off + r[out - 1].len;
      if (b > end) r[out - 1].len = b - r[out - 1].off;
      continue;
    }
    r[out].off = a;
    r[out].len = b - a;
    out++;
  }
  return out;
}

int64_t mmhint_prefetch_bytes(const mmhint_pf_range_t *r, int n) {
  int64_t s = 0;
  for (int i = 0; i < n; i++)
    if (r[i].len > 0) s += r[i].len;
  return s;
}

/* ---- The job table ------------------------------------------------------------------ */

static int table_lock;
static mmhint_pf_job_t jobs[MMHINT_PF_JOBS];
static uint64_t next_seq;
static int exiting;

int mmhint_prefetch_submit(const mmhint_pf_spec_t *spec, uint64_t now, uint32_t *slot, uint32_t *gen) {
  int joined = -1;
  mmhint_spin_lock(&table_lock);
  for (int i = 0; i < MMHINT_PF_JOBS; i++) {
    mmhint_pf_job_t *j = &jobs[i];
    if ((j->state == MMHINT_PFJ_QUEUED || j->state == MMHINT_PFJ_RUNNING) && j->file == spec->file && !j->stop) {
      j->users++;
      *slot = (uint32_t)i;
      *gen = j->gen;
      joined = 1;
      break;
    }
  }
  if (joined < 0) {
    for (int i = 0; i < MMHINT_PF_JOBS; i++) {
      mmhint_pf_job_t *j = &jobs[i];
      if (j->state != MMHINT_PFJ_FREE) continue;
      uint32_t g = j->gen + 1;
      j->file = spec->file;
      j->map = spec->map;
      j->map_len = spec->map_len;
      j->size = spec->size;
      j->step = spec->step;
      j->gen = g;
      j->users = 1;
      j->stop = 0;
      j->seq = ++next_seq;
      j->start_ticks = now;
      const mmhint_pf_range_t whole = {0, spec->size};
      const mmhint_pf_range_t *src = spec->ranges ? spec->ranges : &whole;
      int n = spec->ranges ? spec->nranges : 1;
      if (n < 0) n = 0;
      int keep = n > MMHINT_PF_MAX_RANGES ? MMHINT_PF_MAX_RANGES : n;
      mmhint_pf_range_t *dst = j->own;
      j->list = NULL;
      j->list_bytes = 0;
      if (keep > MMHINT_PF_INLINE_RANGES) {
        size_t bytes = (size_t)keep * sizeof *src;
        void *m = mmhint_os_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
          dst = j->list = m;
          j->list_bytes = bytes;
        } else {
          /* No memory for the list: one range over all of it (reads more, never less). */
          j->own[0].off = src[0].off;
          j->own[0].len = src[n - 1].off + src[n - 1].len - src[0].off;
          keep = n = 1;
          src = j->own;
        }
      }
      if (src != dst) memcpy(dst, src, (size_t)keep * sizeof *src);
      if (keep > 0 && keep < n) dst[keep - 1].len = src[n - 1].off + src[n - 1].len - dst[keep - 1].off;
      j->ranges = dst;
      j->nranges = keep;
      __atomic_store_n(&j->state, MMHINT_PFJ_QUEUED, __ATOMIC_RELEASE);
      *slot = (uint32_t)i;
      *gen = g;
      joined = 0;
      break;
    }
  }
  mmhint_spin_unlock(&table_lock);
  return joined;
}

void mmhint_prefetch_unuse(uint32_t slot, uint32_t gen) {
  if (slot >= MMHINT_PF_JOBS) return;
  mmhint_spin_lock(&table_lock);
  mmhint_pf_job_t *j = &jobs[slot];
  if (j->state != MMHINT_PFJ_FREE && j->gen == gen && j->users > 0 && --j->users == 0)
    __atomic_store_n(&j->stop, 1, __ATOMIC_RELEASE);
  mmhint_spin_unlock(&table_lock);
}

mmhint_pf_job_t *mmhint_prefetch_claim(void) {
  mmhint_pf_job_t *best = NULL;
  mmhint_spin_lock(&table_lock);
  for (int i = 0; i < MMHINT_PF_JOBS; i++)
    if (jobs[i].state == MMHINT_PFJ_QUEUED && (!best || jobs[i].seq < best->seq)) best = &jobs[i];
  if (best) best->state = MMHINT_PFJ_RUNNING;
  mmhint_spin_unlock(&table_lock);
  return best;
}

int mmhint_prefetch_should_stop(const mmhint_pf_job_t *j) {
  return __atomic_load_n(&j->stop, __ATOMIC_ACQUIRE) || __atomic_load_n(&exiting, __ATOMIC_ACQUIRE);
}

void mmhint_prefetch_finish(mmhint_pf_job_t *j, int how, uint64_t now) {
  mmhint_spin_lock(&table_lock);
  if (!exiting && j->file) {
    /* At the process's end mmhint_prefetch_exiting counted the job and its time already. */
    mmhint_prefetch_file_t *pf = &j->file->prefetch;
    if (how >= 0) mmhint_count(&pf->c[how], 1);
    mmhint_count(&j->file->c[MMHINT_FC_prefetch_time_ns], now - j->start_ticks);
    __atomic_store_n(&pf->state, how == MMHINT_PFC_completed ? MMHINT_PFS_DONE : MMHINT_PFS_NONE, __ATOMIC_RELAXED);
  }
  if (j->list) mmhint_os_munmap(j->list, j->list_bytes);
  j->list = NULL;
  j->map = NULL;
  j->file = NULL;
  __atomic_store_n(&j->state, MMHINT_PFJ_FREE, __ATOMIC_RELEASE);
  mmhint_spin_unlock(&table_lock);
}

void mmhint_prefetch_exiting(uint64_t now) {
  /*
   * This runs from an end signal's handler too, which may have interrupted
   * this very thread inside the table's lock: a bounded try, then on without
   * it (the counts may then miss a job that changes meanwhile, nothing worse).
   */
  int locked = 0;
  for (int i = 0; i < 100000 && !locked; i++) {
    if (!__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) locked = 1;
    else __builtin_ia32_pause();
  }
  if (!exiting) {
    for (int i = 0; i < MMHINT_PF_JOBS; i++) {
      mmhint_pf_job_t *j = &jobs[i];
      if ((j->state != MMHINT_PFJ_QUEUED && j->state != MMHINT_PFJ_RUNNING) || !j->file) continue;
      mmhint_count(&j->file->prefetch.c[MMHINT_PFC_stopped_exit], 1);
      mmhint_count(&j->file->c[MMHINT_FC_prefetch_time_ns], now - j->start_ticks);
    }
    __atomic_store_n(&exiting, 1, __ATOMIC_RELEASE);
  }
  if (locked) mmhint_spin_unlock(&table_lock);
}

void mmhint_prefetch_resume(void) { __atomic_store_n(&exiting, 0, __ATOMIC_RELEASE); }

int mmhint_prefetch_is_exiting(void) { return __atomic_load_n(&exiting, __ATOMIC_ACQUIRE); }

void mmhint_prefetch_after_fork_child(void (*unmap)(void *addr, int64_t len)) {
  table_lock = 0;
  for (int i = 0; i < MMHINT_PF_JOBS; i++) {
    mmhint_pf_job_t *j = &jobs[i];
    if (j->state != MMHINT_PFJ_FREE && j->map && unmap) unmap(j->map, j->map_len);
    if (j->state != MMHINT_PFJ_FREE && j->list) mmhint_os_munmap(j->list, j->list_bytes);
    j->list = NULL;
    j->map = NULL;
    j->file = NULL;
    j->users = 0;
    j->state = MMHINT_PFJ_FREE;
  }
}

void mmhint_prefetch_fork(int phase) {
  if (phase == MMHINT_FORK_PREPARE) mmhint_spin_lock(&table_lock);
  else if (phase == MMHINT_FORK_PARENT) mmhint_spin_unlock(&table_lock);
  else table_lock = 0;
}

/* ---- Statistics ------------------------------------------------------------------------ */

static void render_file_section(mmhint_json_t *j, const mmhint_file_t *f) { mmhint_prefetch_render(j, &f->prefetch); }

static const mmhint_stats_section_t prefetch_section = {
    .name = "prefetch",
    .kind = MMHINT_SECTION_FILE,
    .render_file = render_file_section,
};

void mmhint_prefetch_note_mode(mmhint_prefetch_file_t *pf, int mode) {
  static int registered;
  if (!__atomic_load_n(&registered, __ATOMIC_RELAXED)) {
    mmhint_stats_section_register(&prefetch_section);
    __atomic_store_n(&registered, 1, __ATOMIC_RELAXED);
  }
  pf->mode = (uint8_t)mode;
}

void mmhint_prefetch_fallback(mmhint_prefetch_file_t *pf, int reason) {
  if (pf && reason >= 0 && reason < MMHINT_PFB__COUNT) mmhint_count(&pf->fallbacks[reason], 1);
}

static uint64_t since_start_ns(uint64_t ticks) {
  uint64_t t = mmhint_clock_ticks_to_unix_ns(ticks), start = mmhint_clock_start_unix_ns();
  return t > start ? t - start : 0;
}

void mmhint_prefetch_render(mmhint_json_t *j, const mmhint_prefetch_file_t *pf) {
  static const char *const modes[] = {"off", "whole", "auto", "learned"};
  if (!pf->mode) return;
  mmhint_json_key(j, "prefetch");
  mmhint_json_begin_object(j);
  mmhint_json_kv_string(j, "mode", pf->mode < 4 ? modes[pf->mode] : "?");
#define MMHINT_X_PFC_WRITE(name, doc)                                                           \
  mmhint_json_key(j, #name);                                                                     \
  if (MMHINT_PFC_##name == MMHINT_PFC_read_ns_during || MMHINT_PFC_##name == MMHINT_PFC_read_ns_after) \
    mmhint_json_uint(j, mmhint_clock_ticks_to_ns(pf->c[MMHINT_PFC_##name]));                     \
  else if (MMHINT_PFC_##name == MMHINT_PFC_resident_after_bytes && !pf->measured)                  \
    mmhint_json_null(j);                                                                          \
  else                                                                                            \
    mmhint_json_uint(j, pf->c[MMHINT_PFC_##name]);
  MMHINT_PF_COUNTERS(MMHINT_X_PFC_WRITE)
#undef MMHINT_X_PFC_WRITE
  mmhint_json_kv_bool(j, "residency_measured", pf->measured);
  mmhint_json_kv_int(j, "last_errno", pf->last_errno);
  mmhint_json_key(j, "auto_started");
  if (pf->auto_ticks) {
    mmhint_json_begin_object(j);
    mmhint_json_kv_uint(j, "t_ns", since_start_ns(pf->auto_ticks));
    mmhint_json_kv_int(j, "offset", pf->auto_offset);
    mmhint_json_end_object(j);
  } else {
    mmhint_json_null(j);
  }
  mmhint_json_key(j, "fallbacks");
  mmhint_json_begin_object(j);
#define MMHINT_X_PFB_WRITE(name, doc) mmhint_json_kv_uint(j, #name, pf->fallbacks[MMHINT_PFB_##name]);
  MMHINT_PF_FALLBACKS(MMHINT_X_PFB_WRITE)
#undef MMHINT_X_PFB_WRITE
  mmhint_json_end_object(j);
  mmhint_json_end_object(j);
}
