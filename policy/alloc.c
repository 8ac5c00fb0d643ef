/*
 * policy/alloc.c: the allocator's counters; see alloc.h.
 */
#include "policy/alloc.h"

#include <string.h>

mmhint_mem_stats_t mmhint_mem_stats;
unsigned mmhint_malloc_mode = MMHINT_AM_UNRESOLVED;
unsigned mmhint_free_mode = MMHINT_AM_UNRESOLVED;

void mmhint_alloc_render(mmhint_json_t *j) {
#define MMHINT_X_MEMW(name, doc)   \
  mmhint_json_key(j, #name);       \
  mmhint_json_uint(j, mmhint_mem_stats.c[MMHINT_MC_##name]);
  MMHINT_MEM_COUNTERS(MMHINT_X_MEMW)
#undef MMHINT_X_MEMW
  static const char *const class_names[] = MMHINT_MEM_CLASS_NAMES;
  mmhint_json_key(j, "size_classes");
  mmhint_json_begin_object(j);
  uint64_t cls[MMHINT_MEM_CLASSES] = {0};
  for (unsigned long b = 0; b < MMHINT_MEM_BITS; b++) {
    cls[mmhint_mem_class_of_bits(b)] += __atomic_load_n(&mmhint_mem_stats.by_bits[b], __ATOMIC_RELAXED);
  }
  for (int i = 0; i < MMHINT_MEM_CLASSES; i++) mmhint_json_kv_uint(j, class_names[i], cls[i]);
  mmhint_json_end_object(j);
}

void mmhint_alloc_reset(void) { memset(&mmhint_mem_stats, 0, sizeof mmhint_mem_stats); }
