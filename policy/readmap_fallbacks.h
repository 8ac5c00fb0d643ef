/*
 * policy/readmap_fallbacks.h: why read->mmap (policy/readmap.h) falls back to
 * the real call, declared once.  A header of its own because two modules need
 * the list and neither should pull in the other: the statistics store embeds
 * one counter per reason in every file record (mmhint_file_t.fallbacks) and
 * writes them under "fallbacks", and read->mmap and the shim count them.
 */
#ifndef MMHINT_POLICY_READMAP_FALLBACKS_H
#define MMHINT_POLICY_READMAP_FALLBACKS_H

/* F(name, doc): the name is the JSON key under "fallbacks" (docs/STATS.md). */
#define MMHINT_FALLBACKS(F)                                       \
  F(not_regular, "not a regular file")                           \
  F(too_small, "smaller than read_mmap_min_file")                \
  F(open_flags, "opened O_DIRECT, O_APPEND, O_PATH or for writing") \
  F(inherited, "a description this process did not open")        \
  F(shared, "shared with another process (fork, SCM_RIGHTS)")     \
  F(large_read, "read larger than read_mmap_max_read under auto") \
  F(flags, "preadv2 flags that a mapping cannot honour")          \
  F(map_failed, "the file could not be mapped")                   \
  F(address_cap, "read_mmap_max_mapped reached")                  \
  F(filesystem, "a filesystem that does not support mapping")     \
  F(changed, "the file changed size or was truncated")           \
  F(fault, "a page faulted during the copy: the file shrank under the mapping, or the buffer is not the program's") \
  F(zero_tail, "reads kept ending in zero bytes, each of which costs a size check") \
  F(on_large_read, "under on, a read larger than 1 MiB: read() is faster than a copy out of a fresh mapping")

typedef enum {
#define MMHINT_X_FALLBACK(name, doc) MMHINT_FB_##name,
  MMHINT_FALLBACKS(MMHINT_X_FALLBACK)
#undef MMHINT_X_FALLBACK
  MMHINT_FB__COUNT
} mmhint_fb_id_t;

#endif
