/*
 * policy/wmaps.h: the program's shared writable mappings of files, so that
 * msync can be counted against the file it writes back.
 *
 * A small fixed table (MMHINT_WMAPS entries), lock-free: a slot is claimed
 * with a compare-and-swap, so there is no lock to hold across fork and no
 * allocation.  Mappings beyond the table's size are not remembered; msync on
 * them is not attributed (docs/STATS.md lists this under "unobserved").
 */
#ifndef MMHINT_POLICY_WMAPS_H
#define MMHINT_POLICY_WMAPS_H

#include <stddef.h>
#include <stdint.h>

#include "policy/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_WMAPS 64

/* Number of remembered mappings: zero makes munmap's check one load. */
extern uint32_t mmhint_wmaps_live;

/* Remembers [addr, addr+len) as a shared writable mapping of f.  Returns 0, or -1 when the table is full. */
int mmhint_wmaps_add(const void *addr, size_t len, mmhint_file_t *f);

/* Returns the file of the remembered mapping that contains addr, or NULL. */
mmhint_file_t *mmhint_wmaps_find(const void *addr);

/* Forgets every remembered mapping that overlaps [addr, addr+len) (munmap, mremap, MAP_FIXED over it). */
void mmhint_wmaps_forget(const void *addr, size_t len);

#ifdef __cplusplus
}
#endif
#endif
