/*
 * shim/mmap.c: the mapping family.  File mappings are counted against their
 * file; anonymous ones in the process's memory counters.  munmap, mremap and
 * madvise pass through for now: the memory and hint policies hook in here.
 */
#include <stdarg.h>

#include "shim.h"

/* Records a successful mapping. */
static inline void *mapped(void *r, size_t len, int flags, int fd, off64_t off) {
  if (r == MAP_FAILED || !mmhint__enter()) return r;
  if (flags & MAP_ANONYMOUS) {
    mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_mmap_anon_calls], 1);
    mmhint_count(&mmhint_mem_stats.c[MMHINT_MC_mmap_anon_bytes], len);
    return r;
  }
  mmhint_ofd_t *o = mmhint__track(fd);
  if (o) {
    mmhint_file_t *f = o->file;
    mmhint_count(&f->c[MMHINT_FC_mmaps], 1);
    mmhint_count(&f->c[MMHINT_FC_mmap_bytes], len);
    mmhint__busy = 1;
    uint64_t now = mmhint_ticks();
    if (!f->c[MMHINT_FC_first_access_ns]) f->c[MMHINT_FC_first_access_ns] = now;
    f->c[MMHINT_FC_last_access_ns] = now;
    mmhint_stats_sample(f, now, off, len, MMHINT_OP_MMAP);
    mmhint__busy = 0;
  }
  return r;
}

MMHINT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  void *r = MMHINT_CALL_REAL(mmap, mmhint_os_mmap(addr, len, prot, flags, fd, off), addr, len, prot, flags, fd, off);
  return mapped(r, len, flags, fd, off);
}

MMHINT_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  void *r = MMHINT_CALL_REAL(mmap64, mmhint_os_mmap(addr, len, prot, flags, fd, off), addr, len, prot, flags, fd, off);
  return mapped(r, len, flags, fd, off);
}

MMHINT_EXPORT int munmap(void *addr, size_t len) {
  return MMHINT_CALL_REAL(munmap, (int)syscall(SYS_munmap, addr, len), addr, len);
}

MMHINT_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...) {
  void *new_addr = NULL;
  if (flags & MREMAP_FIXED) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void *);
    va_end(ap);
  }
  return MMHINT_CALL_REAL(mremap, (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr), old, old_len,
                          new_len, flags, new_addr);
}

MMHINT_EXPORT int madvise(void *addr, size_t len, int advice) {
  return MMHINT_CALL_REAL(madvise, (int)syscall(SYS_madvise, addr, len, advice), addr, len, advice);
}
