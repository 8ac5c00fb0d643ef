/*
 * shim/transfer.c: the calls that move file data inside the kernel
 * (sendfile, copy_file_range, splice).  They move the offsets of
 * descriptions read->mmap may be converting, so those hand their offset
 * back first; the bytes moved out of a file are counted.
 */
#include "shim/readmap.h"
#include "shim/shim.h"

/*
 * Before a call that moves fd's offset in the kernel (a NULL offset pointer,
 * on the input side, or on the output side of a read-write description that
 * converts), an active description hands its offset back to the kernel and
 * stops converting.
 */
static inline void moving(int fd, const void *offp) {
  if (!offp && mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o && o->rm) mmhint__rm_stop(fd, o, MMHINT_FB_shared);
  }
}

/*
 * Counts bytes moved out of in_fd.  With a NULL offset pointer the call moved
 * in_fd's position, so the tracked position follows.
 */
static inline ssize_t moved(int in_fd, const void *offp, ssize_t r, int counter) {
  if (r > 0 && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(in_fd);
    if (o) {
      mmhint_count(&o->file->c[counter], (uint64_t)r);
      if (!offp) o->pos += r;
    }
  }
  return r;
}

/*
 * With a NULL offset pointer on the output side, the call moved out_fd's
 * position too: the tracked position that writes follow (shim/shim.h)
 * moves with it.
 */
static inline ssize_t moved_out(int out_fd, const void *offp, ssize_t r) {
  if (r > 0 && !offp && mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(out_fd);
    if (o) o->pos += r;
  }
  return r;
}

MMHINT_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *off, size_t n) {
  moving(in_fd, off);
  moving(out_fd, NULL);
  return moved(in_fd, off,
               moved_out(out_fd, NULL,
                         MMHINT_CALL_REAL(sendfile, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off, n)),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *off, size_t n) {
  moving(in_fd, off);
  moving(out_fd, NULL);
  return moved(in_fd, off,
               moved_out(out_fd, NULL,
                         MMHINT_CALL_REAL(sendfile64, syscall(SYS_sendfile, out_fd, in_fd, off, n), out_fd, in_fd, off,
                                          n)),
               MMHINT_FC_sendfile_bytes);
}

MMHINT_EXPORT ssize_t copy_file_range(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n,
                                      unsigned int flags) {
  moving(in_fd, in_off);
  moving(out_fd, out_off);
  return moved(in_fd, in_off,
               moved_out(out_fd, out_off,
                         MMHINT_CALL_REAL(copy_file_range,
                                          syscall(SYS_copy_file_range, in_fd, in_off, out_fd, out_off, n, flags), in_fd,
                                          in_off, out_fd, out_off, n, flags)),
               MMHINT_FC_copy_range_bytes);
}

MMHINT_EXPORT ssize_t splice(int in_fd, off64_t *in_off, int out_fd, off64_t *out_off, size_t n, unsigned int flags) {
  moving(in_fd, in_off);
  moving(out_fd, out_off);
  return moved(in_fd, in_off,
               moved_out(out_fd, out_off,
                         MMHINT_CALL_REAL(splice, syscall(SYS_splice, in_fd, in_off, out_fd, out_off, n, flags), in_fd,
                                          in_off, out_fd, out_off, n, flags)),
               MMHINT_FC_splice_bytes);
}
