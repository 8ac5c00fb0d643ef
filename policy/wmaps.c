/*
 * policy/wmaps.c: the table of shared writable file mappings; see wmaps.h.
 */
#include "policy/wmaps.h"

typedef struct {
  uintptr_t start, end;
  mmhint_file_t *file; /* NULL: free; CLAIMED: being filled in */
} slot_t;

#define CLAIMED ((mmhint_file_t *)1)

static slot_t slots[MMHINT_WMAPS];
uint32_t mmhint_wmaps_live;

int mmhint_wmaps_add(const void *addr, size_t len, mmhint_file_t *f) {
  if (!f || !len) return -1;
  for (int i = 0; i < MMHINT_WMAPS; i++) {
    mmhint_file_t *cur = NULL;
    if (__atomic_load_n(&slots[i].file, __ATOMIC_RELAXED) != NULL) continue;
    if (!__atomic_compare_exchange_n(&slots[i].file, &cur, CLAIMED, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    slots[i].start = (uintptr_t)addr;
    slots[i].end = (uintptr_t)addr + len;
    __atomic_store_n(&slots[i].file, f, __ATOMIC_RELEASE);
    __atomic_fetch_add(&mmhint_wmaps_live, 1, __ATOMIC_RELAXED);
    return 0;
  }
  return -1;
}

mmhint_file_t *mmhint_wmaps_find(const void *addr) {
  uintptr_t a = (uintptr_t)addr;
  for (int i = 0; i < MMHINT_WMAPS; i++) {
    mmhint_file_t *f = __atomic_load_n(&slots[i].file, __ATOMIC_ACQUIRE);
    if (f && f != CLAIMED && a >= slots[i].start && a < slots[i].end) return f;
  }
  return NULL;
}

void mmhint_wmaps_forget(const void *addr, size_t len) {
  uintptr_t a = (uintptr_t)addr, b = a + (len ? len : 1);
  for (int i = 0; i < MMHINT_WMAPS; i++) {
    mmhint_file_t *f = __atomic_load_n(&slots[i].file, __ATOMIC_ACQUIRE);
    if (!f || f == CLAIMED || slots[i].end <= a || slots[i].start >= b) continue;
    if (__atomic_compare_exchange_n(&slots[i].file, &f, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      __atomic_fetch_sub(&mmhint_wmaps_live, 1, __ATOMIC_RELAXED);
  }
}
