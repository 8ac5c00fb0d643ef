/*
 * policy/pattern.h: a classifier of one open file description's access
 * stream.  It is fed the (offset, length) of every access and says whether the
 * stream is sequential, strided (a constant distance between starts), random,
 * or mixed.  Fixed-size state, no allocation, O(1) per access: it runs on
 * every read.
 *
 * How it decides.  Each access is compared with the one before it and the
 * step between them gets one of three kinds:
 *   SEQ     it starts at the previous end, a little before it (an overlap, a
 *           re-read of the last record) or a little after it (a gap of at
 *           most max(length, 4 KiB): reads that skip less than they read keep
 *           readahead useful); or it continues the access before the previous
 *           one in the same way, so a stray access (an index lookup, a header
 *           re-read) costs one non-sequential step, not two, and two
 *           interleaved streams read as half sequential;
 *   STRIDE  not SEQ, and the distance between starts equals the previous one
 *           (a column of records, or a file read backwards);
 *   RANDOM  anything else.
 * The last MMHINT_PATTERN_WINDOW step kinds are kept in a 32-bit shift
 * register with a count per kind.  A class takes over only when its kind fills
 * MMHINT_PATTERN_DOMINANT of the window (a whole window's worth of evidence);
 * the class becomes MIXED only after MMHINT_PATTERN_MIXED_AFTER (two
 * windows) consecutive steps in which no kind dominated, so a burst of up to
 * DOMINANT-1 odd accesses inside a stream moves nothing.  A new class needs at
 * least DOMINANT accesses to win, and noise below a quarter of the steps never
 * moves it: the classifier does not flap.
 */
#ifndef MMHINT_POLICY_PATTERN_H
#define MMHINT_POLICY_PATTERN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The classes, in the order of mmhint_pattern_names. */
enum {
  MMHINT_PAT_UNKNOWN = 0, /* fewer than a window of accesses so far */
  MMHINT_PAT_SEQUENTIAL,
  MMHINT_PAT_STRIDED,
  MMHINT_PAT_RANDOM,
  MMHINT_PAT_MIXED,
  MMHINT_PAT__COUNT
};
#define MMHINT_PATTERN_NAMES {"unknown", "sequential", "strided", "random", "mixed"}

#define MMHINT_PATTERN_WINDOW 16   /* steps remembered (2 bits each in a 32-bit register) */
#define MMHINT_PATTERN_DOMINANT 12 /* steps of one kind in the window for its class to win */
#define MMHINT_PATTERN_MIXED_AFTER 32 /* consecutive undominated steps before the class becomes mixed */
#define MMHINT_PATTERN_LOG 8       /* class switches kept per log (the most recent ones) */

/* The largest forward gap that still counts as sequential, for an access of `len` bytes. */
#define MMHINT_PATTERN_SEQ_GAP(len) ((len) > 4096 ? (int64_t)(len) : (int64_t)4096)

/* One class switch. */
typedef struct {
  uint64_t ticks;  /* mmhint_ticks() of the access that caused it */
  int64_t offset;  /* that access's offset */
  uint8_t from, to;
} mmhint_pattern_switch_t;

/* A bounded log of switches: the last MMHINT_PATTERN_LOG, and how many there were. */
typedef struct {
  uint32_t total;
  mmhint_pattern_switch_t e[MMHINT_PATTERN_LOG]; /* a ring: switch number n is at e[n % LOG] */
} mmhint_pattern_log_t;

/* The classifier's state; all-zero bytes are a valid fresh state. */
typedef struct {
  int64_t last_off;    /* start of the previous access */
  int64_t last_end;    /* its end */
  int64_t prev_end;    /* the end of the access before it */
  int64_t last_delta;  /* distance between the previous two starts */
  uint32_t hist;       /* the last WINDOW step kinds, newest in the low bits */
  uint8_t cnt[3];      /* how many of each kind are in hist */
  uint8_t steps;       /* steps in hist (saturates at WINDOW) */
  uint8_t cls;         /* current class, MMHINT_PAT_* */
  uint8_t undominated; /* consecutive steps without a dominant kind (saturates at MIXED_AFTER) */
  uint8_t started;     /* an access has been seen */
} mmhint_pattern_t;

/* Records a switch in `log` (the slow path of mmhint_pattern_feed). */
void mmhint__pattern_log(mmhint_pattern_log_t *log, uint64_t ticks, int64_t offset, int from, int to);

/*
 * Returns the i-th oldest of the switches still held in `log` (0 <= i <
 * mmhint_pattern_log_count(log)).
 */
const mmhint_pattern_switch_t *mmhint_pattern_log_get(const mmhint_pattern_log_t *log, uint32_t i);

/* How many switches `log` still holds (at most MMHINT_PATTERN_LOG). */
static inline uint32_t mmhint_pattern_log_count(const mmhint_pattern_log_t *log) {
  return log->total < MMHINT_PATTERN_LOG ? log->total : MMHINT_PATTERN_LOG;
}

/*
 * Feeds one access of `len` bytes at `offset` (>= 0) made at `ticks`.
 * Returns 1 when the class changed (the switch is then recorded in `log`,
 * which may be NULL), 0 otherwise.  Zero-length accesses are ignored.  Not
 * thread-safe; a race between two threads on one description gives a wrong
 * class for a while, never a wrong memory access.
 */
static inline int mmhint_pattern_feed(mmhint_pattern_t *p, int64_t offset, uint64_t len, uint64_t ticks,
                                      mmhint_pattern_log_t *log) {
  if (len == 0) return 0;
  const int64_t end = offset + (int64_t)len;
  if (__builtin_expect(!p->started, 0)) {
    p->started = 1;
    p->last_off = offset;
    p->last_end = end;
    p->prev_end = INT64_MIN / 2; /* no access before the first: no gap to it fits */
    p->last_delta = 0;
    return 0;
  }
  const int64_t gap = offset - p->last_end, gap2 = offset - p->prev_end, delta = offset - p->last_off;
  unsigned kind;
  if ((gap >= p->last_off - p->last_end && gap <= MMHINT_PATTERN_SEQ_GAP(len)) ||
      (gap2 >= 0 && gap2 <= MMHINT_PATTERN_SEQ_GAP(len)))
    kind = 0; /* SEQ */
  else if (delta == p->last_delta)
    kind = 1; /* STRIDE */
  else
    kind = 2; /* RANDOM */
  p->prev_end = p->last_end;
  p->last_off = offset;
  p->last_end = end;
  p->last_delta = delta;

  if (p->steps >= MMHINT_PATTERN_WINDOW) p->cnt[(p->hist >> (2 * (MMHINT_PATTERN_WINDOW - 1))) & 3]--;
  else p->steps++;
  p->hist = (p->hist << 2) | kind;
  p->cnt[kind]++;
  if (p->steps < MMHINT_PATTERN_WINDOW) return 0;

  int next = p->cls;
  const int dom = p->cnt[0] >= MMHINT_PATTERN_DOMINANT   ? MMHINT_PAT_SEQUENTIAL
                  : p->cnt[1] >= MMHINT_PATTERN_DOMINANT ? MMHINT_PAT_STRIDED
                  : p->cnt[2] >= MMHINT_PATTERN_DOMINANT ? MMHINT_PAT_RANDOM
                                                         : -1;
  if (dom >= 0) {
    p->undominated = 0;
    next = dom;
  } else if (p->undominated < MMHINT_PATTERN_MIXED_AFTER && ++p->undominated >= MMHINT_PATTERN_MIXED_AFTER) {
    next = MMHINT_PAT_MIXED;
  }
  if (__builtin_expect(next == p->cls, 1)) return 0;
  if (log) mmhint__pattern_log(log, ticks, offset, p->cls, next);
  p->cls = (uint8_t)next;
  return 1;
}

/* The name of class `cls` ("sequential"...), "?" when out of range. */
const char *mmhint_pattern_name(int cls);

#ifdef __cplusplus
}
#endif
#endif
