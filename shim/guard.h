/*
 * shim/guard.h: the fault guard of read->mmap's copies (shim/guard.c).
 *
 * A copy out of a mapping of a file that another process truncated raises
 * SIGBUS; a copy into a buffer the program passed but does not own raises
 * SIGSEGV (where read() would fail with EFAULT).  Neither may take the
 * program down, so the copy is one `rep movsb` at a known address
 * (mmhint__rm_movsb, shim/guard.c), like the kernel's own exception table: when a
 * fault arrives with the instruction pointer on that instruction, the
 * handler moves it to the instruction after, the copy returns the bytes it
 * did not copy, and the read falls back to the real call, which gives the
 * exact answer (a short read, 0, or EFAULT).  No per-copy set-up (no
 * sigsetjmp, no per-thread state): the copy costs what the memcpy costs.
 */
#ifndef MMHINT_SHIM_GUARD_H
#define MMHINT_SHIM_GUARD_H

#include <stddef.h>

#if defined(__x86_64__)
/* Copies n bytes with one `rep movsb`; returns the bytes not copied (0: all, else a page faulted). */
size_t mmhint__rm_movsb(void *dst, const void *src, size_t n);

/* Copies n bytes out of a mapping; returns 0, or nonzero when a page faulted (the caller falls back). */
static inline size_t mmhint__guarded_copy(void *dst, const char *src, size_t n) { return mmhint__rm_movsb(dst, src, n); }
#else
/* Elsewhere: a memcpy under a per-thread jump buffer (not inline: it calls sigsetjmp). */
size_t mmhint__guarded_copy(void *dst, const char *src, size_t n);
#endif

/*
 * Installs the SIGBUS/SIGSEGV handlers once, keeping the program's own
 * actions aside; returns nonzero when they are in place (read->mmap converts
 * only then).  Safe to call from several threads.
 */
int mmhint__guard_install(void);

#endif
