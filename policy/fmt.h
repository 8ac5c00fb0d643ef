/*
 * policy/fmt.h: decimal formatting without stdio, for the code that writes
 * statistics, paths and messages where printf may not be called (inside a
 * signal-time exit, before libc is resolved, with a lock held).
 */
#ifndef MMHINT_POLICY_FMT_H
#define MMHINT_POLICY_FMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for the decimal digits of any uint64_t (20) and a terminating NUL. */
#define MMHINT_FMT_U64_MAX 21

/* Writes v in decimal at out (at least MMHINT_FMT_U64_MAX bytes), NUL-terminated; returns the digit count. */
static inline size_t mmhint_fmt_u64(char *out, uint64_t v) {
  char d[20];
  size_t n = 0;
  do d[n++] = (char)('0' + v % 10); while (v /= 10);
  for (size_t i = 0; i < n; i++) out[i] = d[n - 1 - i];
  out[n] = '\0';
  return n;
}

#endif
