/*
 * policy/memrender.h: the statistics' "memory" object.  The allocator's
 * counters (policy/alloc.h) first, then the router's: its policy as given and
 * as resolved, its counters, what is live at the end (regions and packed
 * chunks, measured now: pages per node, AnonHugePages in one pass over
 * smaps), the huge-page outcome, and the fallbacks.  docs/MEMORY.md explains
 * every key.  Reads the router's shared state (memcore.h), its regions
 * (memregion.h) and its chunks (mempack.h); the router registers the section
 * at start-up.
 */
#ifndef MMHINT_POLICY_MEMRENDER_H
#define MMHINT_POLICY_MEMRENDER_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Registers the "memory" section of the statistics (mmhint_stats_section_register:
 * once, however often it is called).  Its reset zeroes the allocator's and
 * the router's counters in the child of a fork.
 */
void mmhint_memrender_register(void);

#ifdef __cplusplus
}
#endif
#endif
