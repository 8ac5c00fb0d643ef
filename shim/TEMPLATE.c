/*
 * shim/TEMPLATE.c: how to add an interposed function.  Not part of the
 * library; tests/integration/template_current.sh compiles it and checks that
 * the pread below is, to the letter, the one in shim/read.c.
 *
 * 1. Add the name to shim/symbols.def, in its family's block.  That declares
 *    mmhint_real_<name>, resolves it at start-up, and exports it through the
 *    generated version script.  If glibc declares it only under
 *    _FORTIFY_SOURCE (the __*_chk names) or not at all, add a prototype to
 *    shim/shim.h.
 * 2. Write the wrapper in the file of its family (shim/read.c, shim/open.c,
 *    ...) in the one shape every wrapper has:
 *
 *        guard -> ask policy -> call real -> record -> return
 *
 *    The guard passes straight through when start-up has not finished, the
 *    shim is disabled, or this thread is already inside the shim (a signal
 *    handler).  The fallback expression of MMHINT_CALL_REAL is what runs when
 *    the real symbol is not resolved yet: a raw system call where there is
 *    one, else mmhint__enosys().
 * 3. Decisions and counting belong in policy/ (unit-tested without a
 *    preload); the wrapper only gathers the facts and calls it.
 * 4. Add its 64-bit, fortify and __libc_ siblings the same way: the ABI
 *    coverage test (tests/integration/pitfall_abi_coverage.sh) fails when
 *    libc exports a sibling that is not wrapped.
 */
#include "shim/readmap.h"
#include "shim/shim.h"

/* The real pread() of shim/read.c (its family's body macro does steps 2 to 5 below). */
#define MMHINT_AT(off) ((off) >= 0 ? (int64_t)(off) : (int64_t)-3)
#define MMHINT_READ1_BODY(fd, offset, op, buf, n, call) return call /* shim/read.c has the real one */

/*
 * A wrapper on the busiest paths (read, pread, write, pwrite) has two halves:
 * the fast path (MMHINT_FAST_READ in shim/shim.h: an untimed call on a plain
 * description, counted inline, the system call made here while the process
 * has one thread) and the slow half, out of line, which is the one shape
 * below.  Any other wrapper is the slow half alone, exported.
 */
static MMHINT_SLOW ssize_t pread_slow(int fd, void *buf, size_t n, off_t off) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  MMHINT_READ1_BODY(fd, MMHINT_AT(off), MMHINT_OP_PREAD, buf, n, MMHINT_REAL(pread)(fd, buf, n, off));
}

/* template: pread */
MMHINT_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off) {
  MMHINT_FAST_READ(fd, MMHINT_AT(off), MMHINT_OP_PREAD,
                   MMHINT_REAL(pread)(fd, buf, n, off), SYS_pread64, fd, buf, n, off);
  return pread_slow(fd, buf, n, off);
}
/* end template */

/* The same wrapper with MMHINT_READ1_BODY written out, step by step. */
MMHINT_EXPORT ssize_t example_pread(int fd, void *buf, size_t n, off_t off) {
  /* 1. Guard: before start-up, when disabled, or re-entered, pass through. */
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  /* 2. Ask policy: is this descriptor tracked (adopting it on first sight)? */
  mmhint_ofd_t *o = mmhint__track(fd);
  if (!o) return MMHINT_REAL(pread)(fd, buf, n, off);
  /* 3. A policy may serve the call itself: here read->mmap, on a converting description. */
  if (o->rm && __atomic_load_n(&o->rm->active, __ATOMIC_ACQUIRE)) {
    ssize_t c = mmhint__rm_read1(o, fd, buf, n, MMHINT_AT(off), MMHINT_OP_PREAD);
    if (MMHINT_LIKELY(c != MMHINT_RM_PLAIN)) return c;
  }
  /* 4. Call real, timed with the cheap clock; nothing to record and no hint to feed: no clock.
   *    Most fast calls are counted but not timed: the next timed one stands for them (shim/shim.h). */
  if (!mmhint__stats_on && !o->hints.active && !o->pf.mode) return MMHINT_REAL(pread)(fd, buf, n, off);
  if (mmhint__untimed(o)) {
    ssize_t u = MMHINT_REAL(pread)(fd, buf, n, off);
    mmhint__record_read_untimed(o, fd, u, MMHINT_AT(off), MMHINT_OP_PREAD);
    return u;
  }
  uint64_t t0 = mmhint_ticks();
  ssize_t r = MMHINT_REAL(pread)(fd, buf, n, off);
  uint64_t t1 = mmhint_ticks();
  /* 5. Record (a static inline function that preserves errno), return. */
  mmhint__record_read(o, fd, r, MMHINT_AT(off), t0, t1, MMHINT_OP_PREAD);
  return r;
}
