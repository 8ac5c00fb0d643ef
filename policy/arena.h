/*
 * policy/arena.h: memory for the shim's own bookkeeping, taken straight from
 * the kernel so that it never enters the program's allocator (which the shim
 * interposes, and which another preloaded allocator may own).
 */
#ifndef MMHINT_POLICY_ARENA_H
#define MMHINT_POLICY_ARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Returns `size` bytes of zeroed memory aligned to 16, or NULL when the kernel
 * refuses (ENOMEM, RLIMIT_AS).  Never freed: the arena holds records that live
 * as long as the process.  Thread-safe and async-signal-safe (lock-free).
 */
void *mmhint_arena_alloc(size_t size);

/* Bytes the arena has taken from the kernel so far. */
size_t mmhint_arena_mapped(void);

#ifdef __cplusplus
}
#endif
#endif
