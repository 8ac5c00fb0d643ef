/*
 * policy/alloc.c: the allocator's counters; see alloc.h.
 */
#include "policy/alloc.h"

#include <string.h>

mmhint_mem_stats_t mmhint_mem_stats;

void mmhint_alloc_render(mmhint_json_t *j) {
#define MMHINT_X_MEMW(name, doc)   \
  mmhint_json_key(j, #name);       \
  mmhint_json_uint(j, mmhint_mem_stats.c[MMHINT_MC_##name]);
  MMHINT_MEM_COUNTERS(MMHINT_X_MEMW)
#undef MMHINT_X_MEMW
  static const char *const class_names[] = MMHINT_MEM_CLASS_NAMES;
  mmhint_json_key(j, "size_classes");
  mmhint_json_begin_object(j);
  for (int i = 0; i < MMHINT_MEM_CLASSES; i++) {
    mmhint_json_kv_uint(j, class_names[i], mmhint_mem_stats.size_class[i]);
  }
  mmhint_json_end_object(j);
}

void mmhint_alloc_reset(void) { memset(&mmhint_mem_stats, 0, sizeof mmhint_mem_stats); }
