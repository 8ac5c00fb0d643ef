/*
 * shim/stdio.c: the stdio read and write paths.
 *
 * glibc's stdio reads and writes through internal entry points, never the
 * public read() and write(), so those wrappers do not see what a stream
 * reads or writes.  Streams are counted here, at their own level: opens,
 * calls that moved data and their bytes (fread, fgets, getline, getdelim;
 * fwrite, fputs), flushes and positioning.  Character-at-a-time and
 * formatted output (fputc, putc, fprintf, printf...) is not wrapped, to keep
 * such programs fast, and is listed as unobserved.  Closing a stream closes its descriptor inside libc, so
 * fclose and freopen forget the descriptor themselves.
 */
#include <string.h>

#include "policy/readmap.h"
#include "shim/shim.h"
#include "shim/readmap.h"

/* glibc defines some of these as macros when optimising; the wrappers need the functions. */
#undef fread_unlocked
#undef fgets_unlocked
#undef getline
#undef fwrite_unlocked
#undef fputs_unlocked
#undef fflush_unlocked

/* Translates an fopen mode string into open(2) access flags, for rule matching. */
static int mode_flags(const char *mode) {
  int plus = mode && strchr(mode, '+') != NULL;
  if (!mode) return O_RDONLY;
  switch (mode[0]) {
    case 'r': return plus ? O_RDWR : O_RDONLY;
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return O_RDONLY;
  }
}

/*
 * Starts tracking a stream opened by path.  A "w" stream truncated the file:
 * read->mmap re-reads sizes (shim/read.c).  Streams never convert: stdio
 * reads inside libc, where the shadow offset would not be seen.
 */
static inline FILE *stream_opened(FILE *fp, const char *path, const char *mode) {
  if (fp) {
    int fl = mode_flags(mode);
    if (fl & O_TRUNC) mmhint_rm_bump_epoch();
    mmhint__track_open(fileno_unlocked(fp), AT_FDCWD, path, fl, 1);
  }
  return fp;
}

MMHINT_EXPORT FILE *fopen(const char *path, const char *mode) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(fopen, (errno = ENOSYS, (FILE *)NULL), path, mode);
  return stream_opened(MMHINT_REAL(fopen)(path, mode), path, mode);
}

MMHINT_EXPORT FILE *fopen64(const char *path, const char *mode) {
  if (!mmhint__enter()) return MMHINT_CALL_REAL(fopen64, (errno = ENOSYS, (FILE *)NULL), path, mode);
  return stream_opened(MMHINT_REAL(fopen64)(path, mode), path, mode);
}

MMHINT_EXPORT FILE *fdopen(int fd, const char *mode) {
  /* The stream reads at the kernel offset from now on: hand the shadow back, stop converting. */
  if (mmhint__state == MMHINT_STATE_READY) {
    mmhint_ofd_t *o = mmhint_ofd_get(fd);
    if (o && o->rm) mmhint__rm_stop(fd, o, MMHINT_FB_shared);
  }
  FILE *fp = MMHINT_CALL_REAL(fdopen, (errno = ENOSYS, (FILE *)NULL), fd, mode);
  if (fp && mmhint__enter()) {
    mmhint_ofd_t *o = mmhint__track(fd);
    if (o) {
      o->flags |= MMHINT_OFD_STDIO;
      mmhint_count(&o->file->c[MMHINT_FC_stdio_opens], 1);
    }
  }
  return fp;
}

/* freopen closes the stream's old descriptor inside libc; forget it first. */
static inline void forget_stream(FILE *fp) {
  if (fp && mmhint__state == MMHINT_STATE_READY) {
    int saved_errno = errno;
    int fd = fileno_unlocked(fp);
    if (fd >= 0) mmhint_ofd_detach(fd);
    errno = saved_errno;
  }
}

MMHINT_EXPORT FILE *freopen(const char *path, const char *mode, FILE *fp) {
  forget_stream(fp);
  FILE *r = MMHINT_CALL_REAL(freopen, (errno = ENOSYS, (FILE *)NULL), path, mode, fp);
  if (r && path && mmhint__enter()) stream_opened(r, path, mode);
  return r;
}

MMHINT_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *fp) {
  forget_stream(fp);
  FILE *r = MMHINT_CALL_REAL(freopen64, (errno = ENOSYS, (FILE *)NULL), path, mode, fp);
  if (r && path && mmhint__enter()) stream_opened(r, path, mode);
  return r;
}

/* fcloseall closes every stream's descriptor inside libc. */
static void forget_all_streams(int fd, mmhint_ofd_t *o, void *ctx) {
  (void)ctx;
  if (o->flags & MMHINT_OFD_STDIO) mmhint_ofd_detach(fd);
}

MMHINT_EXPORT int fcloseall(void) {
  if (mmhint__state == MMHINT_STATE_READY) mmhint_ofd_foreach(forget_all_streams, NULL);
  return MMHINT_CALL_REAL(fcloseall, (errno = ENOSYS, EOF), );
}

MMHINT_EXPORT int fclose(FILE *fp) {
  forget_stream(fp);
  return MMHINT_CALL_REAL(fclose, (errno = ENOSYS, EOF), fp);
}

/* ---- Reading ----------------------------------------------------------------- */

/* Records a stdio read that returned `bytes` (0 counts nothing). */
static inline void stream_read(FILE *fp, uint64_t bytes, uint64_t t0) {
  if (!bytes) return;
  mmhint_ofd_t *o = mmhint__track(fileno_unlocked(fp));
  if (!o) return;
  mmhint__busy = 1;
  mmhint_file_t *f = o->file;
  mmhint_count(&f->c[MMHINT_FC_stdio_reads], 1);
  mmhint_count(&f->c[MMHINT_FC_stdio_bytes_read], bytes);
  mmhint_stats_touch(f, t0, t0);
  mmhint_stats_sample(f, t0, -1, bytes, MMHINT_OP_STDIO);
  mmhint__busy = 0;
}

/* The common body of the stdio read wrappers: `call` computes r, `bytes` the bytes it returned. */
#define MMHINT_STDIO_BODY(name, fallback, fp, bytes_of_r, ...)              \
  do {                                                                      \
    if (!mmhint__enter()) return MMHINT_CALL_REAL(name, fallback, __VA_ARGS__); \
    uint64_t t0_ = mmhint_ticks();                                          \
    __typeof__(MMHINT_REAL(name)(__VA_ARGS__)) r = MMHINT_REAL(name)(__VA_ARGS__); \
    int saved_errno_ = errno;                                               \
    if (fp) stream_read(fp, (bytes_of_r), t0_);                             \
    errno = saved_errno_;                                                   \
    return r;                                                               \
  } while (0)

MMHINT_EXPORT size_t fread(void *ptr, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_BODY(fread, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, size, n, fp);
}

MMHINT_EXPORT size_t fread_unlocked(void *ptr, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_BODY(fread_unlocked, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, size, n, fp);
}

MMHINT_EXPORT size_t __fread_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_BODY(__fread_chk, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, ptrlen, size, n, fp);
}

MMHINT_EXPORT size_t __fread_unlocked_chk(void *ptr, size_t ptrlen, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_BODY(__fread_unlocked_chk, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, ptrlen, size, n, fp);
}

MMHINT_EXPORT char *fgets(char *buf, int n, FILE *fp) {
  MMHINT_STDIO_BODY(fgets, (errno = ENOSYS, (char *)NULL), fp, r ? strlen(r) : 0, buf, n, fp);
}

MMHINT_EXPORT char *fgets_unlocked(char *buf, int n, FILE *fp) {
  MMHINT_STDIO_BODY(fgets_unlocked, (errno = ENOSYS, (char *)NULL), fp, r ? strlen(r) : 0, buf, n, fp);
}

MMHINT_EXPORT char *__fgets_chk(char *buf, size_t size, int n, FILE *fp) {
  MMHINT_STDIO_BODY(__fgets_chk, (errno = ENOSYS, (char *)NULL), fp, r ? strlen(r) : 0, buf, size, n, fp);
}

MMHINT_EXPORT char *__fgets_unlocked_chk(char *buf, size_t size, int n, FILE *fp) {
  MMHINT_STDIO_BODY(__fgets_unlocked_chk, (errno = ENOSYS, (char *)NULL), fp, r ? strlen(r) : 0, buf, size, n, fp);
}

MMHINT_EXPORT ssize_t getline(char **line, size_t *n, FILE *fp) {
  MMHINT_STDIO_BODY(getline, (errno = ENOSYS, (ssize_t)-1), fp, r > 0 ? (uint64_t)r : 0, line, n, fp);
}

MMHINT_EXPORT ssize_t getdelim(char **line, size_t *n, int delim, FILE *fp) {
  MMHINT_STDIO_BODY(getdelim, (errno = ENOSYS, (ssize_t)-1), fp, r > 0 ? (uint64_t)r : 0, line, n, delim, fp);
}

MMHINT_EXPORT ssize_t __getdelim(char **line, size_t *n, int delim, FILE *fp) {
  MMHINT_STDIO_BODY(__getdelim, (errno = ENOSYS, (ssize_t)-1), fp, r > 0 ? (uint64_t)r : 0, line, n, delim, fp);
}

/* ---- Writing ----------------------------------------------------------------- */

/* Records a stdio write that took `bytes` (0 counts nothing). */
static inline void stream_wrote(FILE *fp, uint64_t bytes, uint64_t t0) {
  if (!bytes) return;
  mmhint_ofd_t *o = mmhint__track(fileno_unlocked(fp));
  if (!o) return;
  mmhint__busy = 1;
  mmhint_file_t *f = o->file;
  mmhint_count(&f->c[MMHINT_FC_stdio_writes], 1);
  mmhint_count(&f->c[MMHINT_FC_stdio_bytes_written], bytes);
  mmhint_stats_touch(f, t0, t0);
  mmhint_stats_sample(f, t0, -1, bytes, MMHINT_OP_STDIO_WRITE);
  mmhint__busy = 0;
}

/* The common body of the stdio write wrappers, as MMHINT_STDIO_BODY is of the read ones. */
#define MMHINT_STDIO_WRITE_BODY(name, fallback, fp, bytes_of_r, ...)        \
  do {                                                                      \
    if (!mmhint__enter() || !mmhint__stats_on) return MMHINT_CALL_REAL(name, fallback, __VA_ARGS__); \
    uint64_t t0_ = mmhint_ticks();                                          \
    __typeof__(MMHINT_REAL(name)(__VA_ARGS__)) r = MMHINT_REAL(name)(__VA_ARGS__); \
    int saved_errno_ = errno;                                               \
    if (fp) stream_wrote(fp, (bytes_of_r), t0_);                            \
    errno = saved_errno_;                                                   \
    return r;                                                               \
  } while (0)

MMHINT_EXPORT size_t fwrite(const void *ptr, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_WRITE_BODY(fwrite, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, size, n, fp);
}

MMHINT_EXPORT size_t fwrite_unlocked(const void *ptr, size_t size, size_t n, FILE *fp) {
  MMHINT_STDIO_WRITE_BODY(fwrite_unlocked, (errno = ENOSYS, (size_t)0), fp, r * size, ptr, size, n, fp);
}

MMHINT_EXPORT int fputs(const char *str, FILE *fp) {
  MMHINT_STDIO_WRITE_BODY(fputs, (errno = ENOSYS, EOF), fp, r != EOF ? strlen(str) : 0, str, fp);
}

MMHINT_EXPORT int fputs_unlocked(const char *str, FILE *fp) {
  MMHINT_STDIO_WRITE_BODY(fputs_unlocked, (errno = ENOSYS, EOF), fp, r != EOF ? strlen(str) : 0, str, fp);
}

/* Counts a flush of one stream (fflush(NULL) flushes them all and is not attributed to a file). */
static inline void stream_flush(FILE *fp) {
  if (!fp || !mmhint__stats_on || !mmhint__enter()) return;
  int saved_errno = errno;
  mmhint_ofd_t *o = mmhint__track(fileno_unlocked(fp));
  if (o) mmhint_count(&o->file->c[MMHINT_FC_stdio_flushes], 1);
  errno = saved_errno;
}

MMHINT_EXPORT int fflush(FILE *fp) {
  stream_flush(fp);
  return MMHINT_CALL_REAL(fflush, (errno = ENOSYS, EOF), fp);
}

MMHINT_EXPORT int fflush_unlocked(FILE *fp) {
  stream_flush(fp);
  return MMHINT_CALL_REAL(fflush_unlocked, (errno = ENOSYS, EOF), fp);
}

/* ---- Positioning ---------------------------------------------------------------- */

/* Counts a stream positioning call. */
static inline void stream_seek(FILE *fp) {
  if (!fp || !mmhint__enter()) return;
  int saved_errno = errno;
  mmhint_ofd_t *o = mmhint__track(fileno_unlocked(fp));
  if (o) mmhint_count(&o->file->c[MMHINT_FC_stdio_seeks], 1);
  errno = saved_errno;
}

MMHINT_EXPORT int fseek(FILE *fp, long off, int whence) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fseek, (errno = ENOSYS, -1), fp, off, whence);
}

MMHINT_EXPORT int fseeko(FILE *fp, off_t off, int whence) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fseeko, (errno = ENOSYS, -1), fp, off, whence);
}

MMHINT_EXPORT int fseeko64(FILE *fp, off64_t off, int whence) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fseeko64, (errno = ENOSYS, -1), fp, off, whence);
}

MMHINT_EXPORT long ftell(FILE *fp) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(ftell, (errno = ENOSYS, -1L), fp);
}

MMHINT_EXPORT off_t ftello(FILE *fp) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(ftello, (errno = ENOSYS, (off_t)-1), fp);
}

MMHINT_EXPORT off64_t ftello64(FILE *fp) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(ftello64, (errno = ENOSYS, (off64_t)-1), fp);
}

MMHINT_EXPORT void rewind(FILE *fp) {
  stream_seek(fp);
  if (MMHINT_REAL(rewind) || (mmhint__bootstrap(), MMHINT_REAL(rewind))) MMHINT_REAL(rewind)(fp);
}

MMHINT_EXPORT int fsetpos(FILE *fp, const fpos_t *pos) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fsetpos, (errno = ENOSYS, -1), fp, pos);
}

MMHINT_EXPORT int fsetpos64(FILE *fp, const fpos64_t *pos) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fsetpos64, (errno = ENOSYS, -1), fp, pos);
}

MMHINT_EXPORT int fgetpos(FILE *fp, fpos_t *pos) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fgetpos, (errno = ENOSYS, -1), fp, pos);
}

MMHINT_EXPORT int fgetpos64(FILE *fp, fpos64_t *pos) {
  stream_seek(fp);
  return MMHINT_CALL_REAL(fgetpos64, (errno = ENOSYS, -1), fp, pos);
}
