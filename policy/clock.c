/*
 * policy/clock.c: tick reference points and conversion; see clock.h.
 */
#include "policy/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

int mmhint_clock_use_tsc;

static uint64_t start_ticks, start_mono_ns, start_unix_ns, parent_start_unix_ns;
static double ns_per_tick = 1.0;

uint64_t mmhint_clock_unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when the CPU advertises an invariant TSC (constant rate, runs in deep C-states). */
static int tsc_invariant(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return 0;
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  return (d >> 8) & 1;
#else
  return 0;
#endif
}

void mmhint_clock_init(void) {
  mmhint_clock_use_tsc = tsc_invariant();
  start_mono_ns = mmhint_clock_mono_ns();
  start_ticks = mmhint_ticks();
  start_unix_ns = mmhint_clock_unix_ns();
  ns_per_tick = 1.0;
  if (mmhint_clock_use_tsc) {
    /* A first estimate from a short busy interval; refined at write-out. */
    uint64_t t0 = mmhint_ticks(), m0 = mmhint_clock_mono_ns(), m1;
    do m1 = mmhint_clock_mono_ns(); while (m1 - m0 < 50000);
    uint64_t t1 = mmhint_ticks();
    if (t1 > t0) ns_per_tick = (double)(m1 - m0) / (double)(t1 - t0);
  }
}

void mmhint_clock_calibrate(void) {
  if (!mmhint_clock_use_tsc) return;
  uint64_t m = mmhint_clock_mono_ns(), t = mmhint_ticks();
  /* Only trust an interval long enough for the clock reads' jitter not to matter. */
  if (m - start_mono_ns > 10000000u && t > start_ticks) ns_per_tick = (double)(m - start_mono_ns) / (double)(t - start_ticks);
}

uint64_t mmhint_clock_ticks_to_ns(uint64_t ticks) { return (uint64_t)((double)ticks * ns_per_tick); }

uint64_t mmhint_clock_ticks_to_unix_ns(uint64_t ticks) {
  if (ticks == 0) return 0;
  if (ticks < start_ticks) return start_unix_ns - mmhint_clock_ticks_to_ns(start_ticks - ticks);
  return start_unix_ns + mmhint_clock_ticks_to_ns(ticks - start_ticks);
}

uint64_t mmhint_clock_start_unix_ns(void) { return start_unix_ns; }

uint64_t mmhint_clock_parent_start_unix_ns(void) { return parent_start_unix_ns; }

void mmhint_clock_fork_child(void) {
  parent_start_unix_ns = start_unix_ns;
  start_mono_ns = mmhint_clock_mono_ns();
  start_ticks = mmhint_ticks();
  start_unix_ns = mmhint_clock_unix_ns();
}
