/*
 * shim/TEMPLATE.c: how to add an interposed function.  Not compiled.
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
#include "shim.h"

/* Example: the shape of pread() in shim/read.c. */
MMHINT_EXPORT ssize_t example_pread(int fd, void *buf, size_t n, off_t off) {
  /* Guard: before start-up, when disabled, or re-entered, pass through. */
  if (!mmhint__enter()) return MMHINT_CALL_REAL(pread, syscall(SYS_pread64, fd, buf, n, off), fd, buf, n, off);
  /* Ask policy: is this descriptor tracked (adopting it on first sight)? */
  mmhint_ofd_t *o = mmhint__track(fd);
  if (!o) return MMHINT_REAL(pread)(fd, buf, n, off);
  /* Call real, timed with the cheap clock. */
  uint64_t t0 = mmhint_ticks();
  ssize_t r = MMHINT_REAL(pread)(fd, buf, n, off);
  uint64_t t1 = mmhint_ticks();
  /* Record (a static inline function that preserves errno), return. */
  mmhint__record_read(o, fd, r, off, t0, t1, MMHINT_OP_PREAD);
  return r;
}
