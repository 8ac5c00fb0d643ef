/*
 * shim/seek.c: lseek and lseek64.  On a description that read->mmap
 * converts, the offset is the shim's shadow and is answered from it
 * (shim/readmap.c); elsewhere the real call moves it and the tracked
 * position follows.
 */
#include "shim/readmap.h"
#include "shim/shim.h"

/* Records a seek that returned r on fd. */
static inline off64_t sought(int fd, off64_t r) {
  if (r >= 0 && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(fd);
    if (o) {
      o->pos = r;
      mmhint_count(&o->file->c[MMHINT_FC_seeks], 1);
    }
  }
  return r;
}

#define MMHINT_LSEEK_BODY(name, fd, off, whence)                                  \
  do {                                                                            \
    if (mmhint__enter()) {                                                        \
      mmhint_ofd_t *o_ = mmhint_ofd_get(fd);                                      \
      if (o_ && o_->rm && __atomic_load_n(&o_->rm->active, __ATOMIC_ACQUIRE)) {   \
        int done_;                                                                \
        off64_t r_ = mmhint__rm_lseek(fd, o_, off, whence, &done_);                       \
        if (done_) return r_;                                                     \
      }                                                                           \
    } else {                                                                      \
      mmhint_ofd_t *n_ = mmhint__rm_nested(fd);                                           \
      if (MMHINT_UNLIKELY(n_ != NULL)) return mmhint__rm_nested_lseek(n_, fd, off, whence); \
    }                                                                             \
    return sought(fd, MMHINT_CALL_REAL(name, syscall(SYS_lseek, fd, off, whence), fd, off, whence)); \
  } while (0)

MMHINT_EXPORT off_t lseek(int fd, off_t off, int whence) { MMHINT_LSEEK_BODY(lseek, fd, off, whence); }

MMHINT_EXPORT off64_t lseek64(int fd, off64_t off, int whence) { MMHINT_LSEEK_BODY(lseek64, fd, off, whence); }
