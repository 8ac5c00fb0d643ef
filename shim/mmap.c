/*
 * shim/mmap.c: the mapping family.  File mappings are counted against their
 * file and get the file's mmap_advice (policy/hints.c); anonymous ones are
 * counted in the process's memory counters.  madvise passes through.
 *
 * Anonymous private mappings inside the hugepages/numa size windows are
 * handed to the allocation router (policy/memroute.c): aligned to 2 MiB when
 * the program gave no address, madvise(MADV_HUGEPAGE) or MAP_HUGETLB, and
 * mbind, all before the pointer is returned.  munmap rounds the length of a
 * hugetlb region it knows to 2 MiB; mremap follows a region that moves.
 *
 * Shared writable mappings of files are remembered (policy/wmaps.h), so that
 * msync is counted against the file it writes back.  File mappings of files
 * with a "touched" map are followed (policy/cov.h): the pages they touched
 * are read at munmap and mremap, and when the statistics are written.
 */
#include <stdarg.h>

#include "policy/alloc.h"
#include "policy/memroute.h"
#include "policy/wmaps.h"
#include "shim/shim.h"

/* Flags the router accepts on an anonymous mapping: anything else (FIXED, SHARED, POPULATE...) maps as asked. */
#define MMHINT_ROUTABLE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/*
 * Gives the program's anonymous mapping of len bytes to the router when it is
 * inside a window; NULL means map it as asked.
 */
static inline void *route_anon(void *addr, size_t len, int prot, int flags, int fd) {
  if (MMHINT_LIKELY(len < mmhint_memroute_min)) return NULL;
  if ((flags & ~MMHINT_ROUTABLE_FLAGS) || !(flags & MAP_ANONYMOUS) || !(flags & MAP_PRIVATE) || fd != -1) return NULL;
  if (!mmhint__enter()) return NULL;
  mmhint__busy = 1;
  void *r = mmhint_memroute_mmap(addr, len, prot, flags);
  mmhint__busy = 0;
  return r;
}

/* Records a successful mapping. */
static inline void *mapped(void *r, size_t len, int prot, int flags, int fd, off64_t off) {
  if (r == MAP_FAILED || !mmhint__enter()) return r;
  if (MMHINT_UNLIKELY(mmhint_wmaps_live != 0)) mmhint_wmaps_forget(r, len); /* MAP_FIXED over a remembered one */
  if (MMHINT_UNLIKELY(mmhint_cov_maps_live != 0)) mmhint_cov_map_gone(r, len, 0); /* the same, already replaced */
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
    mmhint_stats_touch(f, now, now);
    mmhint_stats_sample(f, now, off, len, MMHINT_OP_MMAP);
    mmhint_hints_mmap(r, len, &o->hints, &f->hints, NULL, now); /* mmap_advice, chosen at open */
    if ((flags & MAP_SHARED) && (prot & PROT_WRITE) && mmhint__stats_on) mmhint_wmaps_add(r, len, f);
    if (mmhint__stats_on) mmhint_cov_map_add(r, len, off, &f->cov); /* nothing when the file has no map */
    mmhint__busy = 0;
  }
  return r;
}

MMHINT_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  void *r = route_anon(addr, len, prot, flags, fd);
  if (r) return mapped(r, len, prot, flags, fd, off);
  r = MMHINT_CALL_REAL(mmap, mmhint_os_mmap(addr, len, prot, flags, fd, off), addr, len, prot, flags, fd, off);
  return mapped(r, len, prot, flags, fd, off);
}

MMHINT_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off) {
  void *r = route_anon(addr, len, prot, flags, fd);
  if (r) return mapped(r, len, prot, flags, fd, off);
  r = MMHINT_CALL_REAL(mmap64, mmhint_os_mmap(addr, len, prot, flags, fd, off), addr, len, prot, flags, fd, off);
  return mapped(r, len, prot, flags, fd, off);
}

MMHINT_EXPORT int munmap(void *addr, size_t len) {
  /* A region the router registered: measured before it goes, hugetlb lengths rounded to 2 MiB. */
  if (MMHINT_UNLIKELY(mmhint_memroute_regions.live != 0) && mmhint__enter()) {
    mmhint__busy = 1;
    len = mmhint_memroute_munmap(addr, len);
    mmhint__busy = 0;
  }
  if (MMHINT_UNLIKELY(mmhint_wmaps_live != 0)) mmhint_wmaps_forget(addr, len);
  if (MMHINT_UNLIKELY(mmhint_cov_maps_live != 0) && mmhint__enter()) {
    int saved_errno = errno;
    mmhint__busy = 1;
    mmhint_cov_map_gone(addr, len, 1); /* what it touched, before it goes */
    mmhint__busy = 0;
    errno = saved_errno;
  }
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
  if (MMHINT_UNLIKELY(mmhint_cov_maps_live != 0) && mmhint__enter()) {
    int saved_errno = errno;
    mmhint__busy = 1;
    mmhint_cov_map_gone(old, old_len, 1); /* a followed mapping is not followed where it moves */
    mmhint__busy = 0;
    errno = saved_errno;
  }
  void *r = MMHINT_CALL_REAL(mremap, (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr), old, old_len,
                             new_len, flags, new_addr);
  if (MMHINT_UNLIKELY(mmhint_memroute_regions.live != 0) && r != MAP_FAILED && mmhint__enter()) {
    mmhint__busy = 1;
    mmhint_memroute_moved(old, r, new_len);
    mmhint__busy = 0;
  }
  /* A remembered shared writable mapping that moved or changed size is remembered where it is now. */
  if (MMHINT_UNLIKELY(mmhint_wmaps_live != 0) && r != MAP_FAILED) {
    mmhint_file_t *f = mmhint_wmaps_find(old);
    mmhint_wmaps_forget(old, old_len);
    if (f) mmhint_wmaps_add(r, new_len, f);
  }
  return r;
}

/* msync writes a shared mapping back to its file: counted against that file when the mapping is remembered. */
MMHINT_EXPORT int msync(void *addr, size_t len, int flags) {
  int r = MMHINT_CALL_REAL(msync, (int)syscall(SYS_msync, addr, len, flags), addr, len, flags);
  if (MMHINT_UNLIKELY(mmhint_wmaps_live != 0) && r == 0 && mmhint__enter()) {
    mmhint_file_t *f = mmhint_wmaps_find(addr);
    if (f) {
      mmhint__busy = 1;
      uint64_t now = mmhint_ticks();
      mmhint_count(&f->c[MMHINT_FC_msyncs], 1);
      mmhint_stats_touch(f, now, now);
      mmhint__busy = 0;
    }
  }
  return r;
}

MMHINT_EXPORT int madvise(void *addr, size_t len, int advice) {
  return MMHINT_CALL_REAL(madvise, (int)syscall(SYS_madvise, addr, len, advice), addr, len, advice);
}
