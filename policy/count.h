/*
 * policy/count.h: the counting primitives every module uses for its
 * statistics.  They are static inline because they sit on the per-read and
 * per-malloc paths, where the budget for recording is a few nanoseconds: one
 * non-locked add while the process has one thread, a relaxed atomic add once
 * it has several (docs/ARCHITECTURE.md, "Statistics").
 *
 * A module includes this header, not policy/stats.h, so that counting does
 * not tie it to the statistics store.
 */
#ifndef MMHINT_POLICY_COUNT_H
#define MMHINT_POLICY_COUNT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* glibc clears this when the process creates its first thread, and never sets it again. */
extern char __libc_single_threaded;

/*
 * Adds n to a counter.  One thread: a single non-locked add instruction, which
 * a signal handler on the same thread cannot tear.  Several threads: an atomic
 * add.
 */
static inline void mmhint_count(uint64_t *p, uint64_t n) {
#if defined(__x86_64__)
  if (__builtin_expect(__libc_single_threaded, 1)) {
    __asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(n));
    return;
  }
#endif
  __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* mmhint_count with the thread question already answered (for runs of counts). */
static inline void mmhint_count_st(int single, uint64_t *p, uint64_t n) {
#if defined(__x86_64__)
  if (__builtin_expect(single, 1)) {
    __asm__ __volatile__("addq %1, %0" : "+m"(*p) : "er"(n));
    return;
  }
#endif
  __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

/* Raises a counter to at least v. */
static inline void mmhint_count_max(uint64_t *p, uint64_t v) {
  uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
  if (cur >= v) return;
  if (__builtin_expect(__libc_single_threaded, 1)) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
    return;
  }
  while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

#ifdef __cplusplus
}
#endif
#endif
