/*
 * policy/spin.h: the one spin lock of shim/ and policy/.
 *
 * Every lock in the library guards a short section off the hot path (a table
 * insert, a window change, a handler swap), is taken with signals possibly
 * arriving, and must work before the shim has resolved a single libc symbol:
 * so no pthread mutex, only an int, an atomic exchange and a pause while it
 * is held by someone else (test-and-test-and-set, so that waiters spin on a
 * shared cache line instead of bouncing it).  A lock that a fork may find
 * held has a fork protocol (policy/fork.h).
 */
#ifndef MMHINT_POLICY_SPIN_H
#define MMHINT_POLICY_SPIN_H

/* Takes the lock at *l (0 free, 1 held); spins until it is free. */
static inline void mmhint_spin_lock(int *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
    while (__atomic_load_n(l, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}

/* Releases the lock at *l, which the caller holds. */
static inline void mmhint_spin_unlock(int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

#endif
