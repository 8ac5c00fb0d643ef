/*
 * policy/pattern.c: the slow half of the access-pattern classifier (its
 * switch log and names); the per-access part is inline in pattern.h.
 */
#include "policy/pattern.h"

void mmhint__pattern_log(mmhint_pattern_log_t *log, uint64_t ticks, int64_t offset, int from, int to) {
  /* Racing threads may both take one slot: an entry is then lost, never out of bounds. */
  uint32_t n = log->total;
  mmhint_pattern_switch_t *e = &log->e[n % MMHINT_PATTERN_LOG];
  e->ticks = ticks;
  e->offset = offset;
  e->from = (uint8_t)from;
  e->to = (uint8_t)to;
  log->total = n + 1;
}

const mmhint_pattern_switch_t *mmhint_pattern_log_get(const mmhint_pattern_log_t *log, uint32_t i) {
  uint32_t first = log->total - mmhint_pattern_log_count(log);
  return &log->e[(first + i) % MMHINT_PATTERN_LOG];
}

const char *mmhint_pattern_name(int cls) {
  static const char *const names[] = MMHINT_PATTERN_NAMES;
  return cls >= 0 && cls < MMHINT_PAT__COUNT ? names[cls] : "?";
}
