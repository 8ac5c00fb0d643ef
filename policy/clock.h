/*
 * policy/clock.h: a cheap clock for timing every intercepted call.
 *
 * clock_gettime costs ~20 ns on this kind of machine, rdtsc ~8 ns; a 4 KiB
 * read from the page cache costs ~600 ns, so two clock reads per call must be
 * rdtsc to stay near the 3% overhead budget.  Ticks are converted to
 * nanoseconds only when statistics are written, by a rate measured between
 * start-up and then.  Without an invariant TSC the tick is CLOCK_MONOTONIC ns.
 */
#ifndef MMHINT_POLICY_CLOCK_H
#define MMHINT_POLICY_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

extern __attribute__((visibility("hidden"))) int mmhint_clock_use_tsc; /* set by mmhint_clock_init */

/* Reads CLOCK_MONOTONIC in ns. */
static inline uint64_t mmhint_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Returns the current tick count (TSC, or monotonic ns). */
static inline uint64_t mmhint_ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_expect(mmhint_clock_use_tsc, 1)) {
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
  }
#endif
  return mmhint_clock_mono_ns();
}

/* Records the reference points; decides TSC or monotonic. Call once at start. */
void mmhint_clock_init(void);

/* Re-measures the tick rate (call before converting ticks at write-out). */
void mmhint_clock_calibrate(void);

/* Converts a tick duration to ns. */
uint64_t mmhint_clock_ticks_to_ns(uint64_t ticks);

/* Converts an absolute tick count to unix time in ns. */
uint64_t mmhint_clock_ticks_to_unix_ns(uint64_t ticks);

/* Unix time in ns when mmhint_clock_init ran. */
uint64_t mmhint_clock_start_unix_ns(void);

/*
 * In the child of a fork: its process starts now (start_ns, and the base of
 * the tick rate's measurement), and the parent's start is kept as
 * parent_start_ns.  The tick rate estimate so far stays.
 */
void mmhint_clock_fork_child(void);

/* The start of the process a fork child came from (unix ns), or 0 in a process that was not forked. */
uint64_t mmhint_clock_parent_start_unix_ns(void);

/* Current unix time in ns. */
uint64_t mmhint_clock_unix_ns(void);

#ifdef __cplusplus
}
#endif
#endif
