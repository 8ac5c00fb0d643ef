/*
 * rm_fuzz: the differential fuzzer of read->mmap (issue 3).
 *
 *   rm_fuzz SEED DIR [OPS]
 *
 * From SEED, makes three files in DIR and runs a random sequence of OPS
 * operations on them: open, read, pread, readv, preadv, preadv2, lseek
 * (SET/CUR/END/DATA/HOLE), dup/dup2/dup3/F_DUPFD, fork with the child
 * reading, posix_spawn of a child that reads an inherited descriptor,
 * fdopen+fread, sendfile, copy_file_range, truncate and append through
 * other descriptors, truncation by another process (a helper forked before
 * any file is opened, so that its fork stops nothing), reads into buffers
 * that are wholly or partly not the program's (EFAULT or a short read),
 * descriptions opened read-write with write, writev, pwrite and pwritev2
 * through them, close.  With RM_FUZZ_THREAD=1 in the environment an idle
 * thread runs from the start, so that the shim takes its multi-threaded
 * paths (locks, announced copies).  It prints a transcript of every return value,
 * errno, offset (lseek(fd, 0, SEEK_CUR), which the shim answers) and a
 * checksum of the data; after the operations that must put the kernel
 * offset in step (fork, spawn, fdopen, sendfile), also the kernel's own view
 * from a raw lseek system call.  tests/integration/readmap_fuzz.sh compares
 * the transcript with and without the shim byte for byte.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NFILES 3
#define NSLOTS 8

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint64_t below(uint64_t n) { return n ? next() % n : 0; }

static char paths[NFILES][4096];
static int slots[NSLOTS];
static int slot_file[NSLOTS]; /* which file a slot's description is on */
static char *buf;
static FILE *out;
/* A page the program may write, followed by one it may not: reads that run into it fault. */
static char *edge;
/* The truncating helper: commands in on cmd[1], acknowledgements back on ack[0]. */
static int cmd[2], ack[2];

static uint32_t crc(const void *p, long n) {
  uint32_t h = 2166136261u;
  for (long i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 16777619u;
  return h;
}

/* Prints "name ... -> r errno crc" for a read-like result. */
static void res(const char *what, long r, const void *data) {
  int e = errno;
  fprintf(out, "%s -> %ld", what, r);
  if (r < 0) fprintf(out, " errno=%d", e);
  if (r > 0 && data) fprintf(out, " crc=%08x", crc(data, r));
  fputc('\n', out);
}

static void pos(int s) {
  errno = 0;
  off_t p = lseek(slots[s], 0, SEEK_CUR);
  fprintf(out, "  pos[%d] = %lld errno=%d\n", s, (long long)p, p < 0 ? errno : 0);
}

/* The kernel's own offset, bypassing every wrapper. */
static void kpos(int s) {
  long p = syscall(SYS_lseek, slots[s], 0, SEEK_CUR);
  fprintf(out, "  kernel pos[%d] = %ld\n", s, p);
}

static int pick_open(void) {
  int c = 0, idx[NSLOTS];
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i] >= 0) idx[c++] = i;
  return c ? idx[below(c)] : -1;
}
static int pick_free(void) {
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i] < 0) return i;
  return -1;
}

static size_t rnd_len(void) {
  switch (below(6)) {
    case 0: return 0;
    case 1: return 1 + below(16);
    case 2: return 4096;
    case 3: return 1 + below(8192);
    case 4: return 1 + below(70000);
    default: return 512;
  }
}

static void write_random(int fd, size_t n) {
  char *b = malloc(n + 1);
  for (size_t i = 0; i < n; i++) b[i] = (char)next();
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, b + done, n - done);
    if (w <= 0) break;
    done += (size_t)w;
  }
  free(b);
}

static void make_files(const char *dir) {
  for (int i = 0; i < NFILES; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/f%d", dir, i);
    int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    size_t n = i == 0 ? below(300000) : i == 1 ? below(9000) : 1000000 + below(200000);
    write_random(fd, n);
    close(fd);
  }
}

/* One read-family operation on slot s, printed. */
static void read_op(int s, int kind) {
  int fd = slots[s];
  size_t n = rnd_len();
  char what[160];
  errno = 0;
  switch (kind) {
    case 0: {
      ssize_t r = read(fd, buf, n);
      snprintf(what, sizeof what, "read(%d, %zu)", s, n);
      res(what, r, buf);
      break;
    }
    case 1: {
      off_t off = (off_t)below(1300000) - (below(20) == 0 ? 2000000 : 0);
      ssize_t r = pread(fd, buf, n, off);
      snprintf(what, sizeof what, "pread(%d, %zu, %lld)", s, n, (long long)off);
      res(what, r, buf);
      break;
    }
    case 2:
    case 3:
    case 4: {
      struct iovec iov[3];
      int cnt = 1 + (int)below(3);
      size_t at = 0;
      for (int i = 0; i < cnt; i++) {
        iov[i].iov_base = buf + at;
        iov[i].iov_len = rnd_len();
        at += iov[i].iov_len;
      }
      off_t off = (off_t)below(1300000);
      ssize_t r;
      if (kind == 2) {
        r = readv(fd, iov, cnt);
        snprintf(what, sizeof what, "readv(%d, %d, %zu)", s, cnt, at);
      } else if (kind == 3) {
        r = preadv(fd, iov, cnt, off);
        snprintf(what, sizeof what, "preadv(%d, %d, %zu, %lld)", s, cnt, at, (long long)off);
      } else {
        int flags = below(4) == 0 ? RWF_HIPRI : 0;
        off_t o2 = below(2) ? -1 : off;
        r = preadv2(fd, iov, cnt, o2, flags);
        snprintf(what, sizeof what, "preadv2(%d, %d, %zu, %lld, %d)", s, cnt, at, (long long)o2, flags);
      }
      res(what, r, buf);
      break;
    }
  }
  pos(s);
}

static void seek_op(int s) {
  static const int whences[] = {SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, SEEK_SET, SEEK_CUR};
  int w = whences[below(7)];
  off_t off;
  switch (below(4)) {
    case 0: off = 0; break;
    case 1: off = (off_t)below(1300000); break;
    case 2: off = -(off_t)below(400000); break;
    default: off = (off_t)below(10000) - 5000; break;
  }
  errno = 0;
  off_t r = lseek(slots[s], off, w);
  fprintf(out, "lseek(%d, %lld, %d) -> %lld errno=%d\n", s, (long long)off, w, (long long)r, r < 0 ? errno : 0);
  pos(s);
}

/* The child of a fork reads a little from slot s and reports through a pipe. */
static void fork_op(int s) {
  int p[2];
  if (pipe(p) != 0) return;
  fflush(out);
  size_t n = rnd_len();
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    ssize_t r = read(slots[s], buf, n);
    off_t c = lseek(slots[s], 0, SEEK_CUR);
    char line[128];
    int len = snprintf(line, sizeof line, "  child read(%d, %zu) -> %zd crc=%08x pos=%lld\n", s, n, r,
                       r > 0 ? crc(buf, r) : 0, (long long)c);
    if (write(p[1], line, (size_t)len) < 0) _exit(2);
    _exit(0);
  }
  close(p[1]);
  int st;
  waitpid(pid, &st, 0);
  char line[256];
  ssize_t k = read(p[0], line, sizeof line - 1);
  close(p[0]);
  line[k > 0 ? k : 0] = '\0';
  fprintf(out, "fork(%d) child exit=%d\n%s", s, WIFEXITED(st) ? WEXITSTATUS(st) : -1, line);
  pos(s);
  kpos(s);
}

/* A spawned image reads from an inherited descriptor (our own binary, --child-read). */
static const char *self;
static void spawn_op(int s) {
  char fdarg[16], narg[16];
  size_t n = rnd_len();
  snprintf(fdarg, sizeof fdarg, "%d", slots[s]);
  snprintf(narg, sizeof narg, "%zu", n);
  char *argv[] = {(char *)self, "--child-read", fdarg, narg, NULL};
  fprintf(out, "spawn(%d, %zu)\n", s, n);
  fflush(out);
  pid_t pid;
  if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0) {
    fprintf(out, "  spawn failed\n");
    return;
  }
  int st;
  waitpid(pid, &st, 0);
  fprintf(out, "  spawn exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  pos(s);
  kpos(s);
}

static int child_read(int fd, size_t n) {
  char *b = malloc(n + 1);
  ssize_t r = read(fd, b, n);
  printf("  spawned read -> %zd crc=%08x\n", r, r > 0 ? crc(b, r) : 0);
  return 0;
}

/* fdopen on a copy of the descriptor (the copy shares the description), fread, fclose. */
static void fdopen_op(int s) {
  int d = dup(slots[s]);
  FILE *fp = fdopen(d, "r");
  if (!fp) {
    fprintf(out, "fdopen(%d) failed\n", s);
    close(d);
    return;
  }
  size_t n = rnd_len();
  size_t r = fread(buf, 1, n, fp);
  long t = ftell(fp);
  fprintf(out, "fdopen+fread(%d, %zu) -> %zu crc=%08x ftell=%ld\n", s, n, r, r ? crc(buf, (long)r) : 0, t);
  kpos(s);
  fclose(fp);
  pos(s);
  kpos(s);
}

static void sendfile_op(int s) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.out", paths[0]);
  int o = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  size_t n = rnd_len();
  errno = 0;
  ssize_t r;
  const char *name;
  if (below(3) == 0) {
    off_t off = (off_t)below(1200000);
    r = sendfile(o, slots[s], &off, n);
    fprintf(out, "sendfile(%d, off, %zu) -> %zd errno=%d off=%lld\n", s, n, r, r < 0 ? errno : 0, (long long)off);
    name = NULL; /* the description's offset does not move: the kernel's may lag (lazy) */
  } else {
    name = below(2) ? "sendfile" : "copy_file_range";
    r = name[0] == 's' ? sendfile(o, slots[s], NULL, n) : copy_file_range(slots[s], NULL, o, NULL, n, 0);
    fprintf(out, "%s(%d, NULL, %zu) -> %zd errno=%d\n", name, s, n, r, r < 0 ? errno : 0);
  }
  close(o);
  int in = open(tmp, O_RDONLY);
  ssize_t k = read(in, buf, 200000);
  close(in);
  fprintf(out, "  copied crc=%08x\n", k > 0 ? crc(buf, k) : 0);
  pos(s);
  if (name) kpos(s);
}

/* After a size change, reads that straddle the new end on a description of that file. */
static void read_near(int f, off_t len) {
  for (int s = 0; s < NSLOTS; s++) {
    if (slots[s] < 0 || slot_file[s] != f) continue;
    off_t at = len - (off_t)below(6000);
    if (at < 0) at = 0;
    size_t n = 1 + below(12000);
    errno = 0;
    ssize_t r = pread(slots[s], buf, n, at);
    char what[96];
    snprintf(what, sizeof what, "  near: pread(%d, %zu, %lld)", s, n, (long long)at);
    res(what, r, buf);
    lseek(slots[s], at, SEEK_SET);
    r = read(slots[s], buf, n);
    snprintf(what, sizeof what, "  near: read(%d, %zu) at %lld", s, n, (long long)at);
    res(what, r, buf);
    pos(s);
    return;
  }
}

/* A write through slot s (EBADF on a read-only one): at the position, or at an offset. */
static void write_op(int s) {
  size_t n = 1 + below(9000);
  char *b = malloc(n);
  for (size_t i = 0; i < n; i++) b[i] = (char)next();
  errno = 0;
  ssize_t r;
  const char *name;
  off_t off = (off_t)below(1300000);
  switch (below(4)) {
    case 0: name = "write"; r = write(slots[s], b, n); break;
    case 1: {
      struct iovec iov[2] = {{b, n / 2}, {b + n / 2, n - n / 2}};
      name = "writev";
      r = writev(slots[s], iov, 2);
      break;
    }
    case 2: name = "pwrite"; r = pwrite(slots[s], b, n, off); break;
    default: {
      struct iovec iov[1] = {{b, n}};
      name = "pwritev2(-1)";
      r = pwritev2(slots[s], iov, 1, -1, 0);
      break;
    }
  }
  fprintf(out, "%s(%d, %zu) -> %zd errno=%d\n", name, s, n, r, r < 0 ? errno : 0);
  free(b);
  pos(s);
}

/* A read into a buffer that is not wholly the program's: the kernel says EFAULT or returns what fit. */
static void bad_buffer_op(int s) {
  size_t fit = below(3) == 0 ? 0 : (size_t)below(5000);
  if (fit > 4096) fit = 4096;
  char *b = below(4) == 0 ? (char *)16 : edge + 4096 - fit; /* a null-page pointer, or fit bytes before the guard */
  size_t n = fit + 1 + below(9000);
  char what[96];
  errno = 0;
  ssize_t r;
  if (below(2)) {
    r = read(slots[s], b, n);
    snprintf(what, sizeof what, "bad-buffer read(%d, fit %zu, %zu)", s, b == (char *)16 ? (size_t)0 : fit, n);
  } else {
    off_t off = (off_t)below(1300000);
    r = pread(slots[s], b, n, off);
    snprintf(what, sizeof what, "bad-buffer pread(%d, fit %zu, %zu, %lld)", s, b == (char *)16 ? (size_t)0 : fit, n,
             (long long)off);
  }
  res(what, r, r > 0 ? b : NULL);
  pos(s);
}

/* The helper: truncates a file when asked, through the raw system call, and acknowledges. */
static void truncator(void) {
  long msg[2];
  while (read(cmd[0], msg, sizeof msg) == sizeof msg) {
    long r = syscall(SYS_truncate, paths[msg[0]], msg[1]);
    if (write(ack[1], &r, sizeof r) != sizeof r) break;
  }
  _exit(0);
}

/* Another process shrinks (or grows) a file: this process has no way to know but the file itself. */
static void other_truncate_op(void) {
  int f = (int)below(NFILES);
  struct stat st;
  stat(paths[f], &st);
  long msg[2] = {f, (long)below((uint64_t)st.st_size + 1)};
  if (below(4) == 0) msg[1] = (long)(st.st_size & ~4095L) + (long)below(4096); /* inside the last page */
  long r = -1;
  if (write(cmd[1], msg, sizeof msg) != sizeof msg || read(ack[0], &r, sizeof r) != sizeof r) r = -2;
  fprintf(out, "other-process truncate(f%d, %ld) -> %ld\n", f, msg[1], r);
  read_near(f, msg[1]);
}

static void change_op(void) {
  int f = (int)below(NFILES);
  struct stat st;
  stat(paths[f], &st);
  switch (below(4)) {
    case 0: {
      off_t len = (off_t)below((uint64_t)st.st_size + 1);
      int fd = open(paths[f], O_RDWR);
      int r = ftruncate(fd, len);
      close(fd);
      fprintf(out, "ftruncate(f%d, %lld) -> %d\n", f, (long long)len, r);
      read_near(f, len);
      break;
    }
    case 1: {
      off_t len = (off_t)below((uint64_t)st.st_size + 20000);
      int r = truncate(paths[f], len);
      fprintf(out, "truncate(f%d, %lld) -> %d\n", f, (long long)len, r);
      read_near(f, len);
      break;
    }
    default: {
      int fd = open(paths[f], O_WRONLY | O_APPEND);
      size_t n = 1 + below(20000);
      write_random(fd, n);
      close(fd);
      fprintf(out, "append(f%d, %zu)\n", f, n);
      break;
    }
  }
}

static void *idle_thread(void *arg) {
  for (;;) pause();
  return arg;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--child-read") == 0) return child_read(atoi(argv[2]), strtoul(argv[3], 0, 10));
  if (argc < 3) {
    fprintf(stderr, "usage: rm_fuzz SEED DIR [OPS]\n");
    return 2;
  }
  self = argv[0];
  rng = strtoull(argv[1], 0, 10) * 0x9e3779b97f4a7c15ull + 1;
  int ops = argc > 3 ? atoi(argv[3]) : 200;
  out = stdout;
  if (getenv("RM_FUZZ_THREAD") && atoi(getenv("RM_FUZZ_THREAD"))) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_thread, NULL) != 0) return 2;
  }
  buf = malloc(1 << 20);
  edge = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (edge == MAP_FAILED || mprotect(edge + 4096, 4096, PROT_NONE) != 0) return 2;
  for (int i = 0; i < NSLOTS; i++) slots[i] = -1;
  make_files(argv[2]);
  if (pipe(cmd) != 0 || pipe(ack) != 0) return 2;
  fflush(out);
  pid_t helper = fork();
  if (helper == 0) {
    close(cmd[1]);
    close(ack[0]);
    truncator();
  }
  close(cmd[0]);
  close(ack[1]);
  for (int i = 0; i < ops; i++) {
    int s = pick_open();
    int c = (int)below(100);
    if (s < 0 || c < 12) {
      int fs = pick_free();
      if (fs < 0) continue;
      int f = (int)below(NFILES);
      int rw = below(4) == 0;
      slots[fs] = open(paths[f], rw ? O_RDWR : O_RDONLY);
      slot_file[fs] = f;
      fprintf(out, "open(f%d, %s) -> slot %d\n", f, rw ? "rw" : "ro", fs);
      continue;
    }
    if (c < 56) read_op(s, (int)below(5));
    else if (c < 66) seek_op(s);
    else if (c < 72) {
      int fs = pick_free();
      if (fs < 0) continue;
      int how = (int)below(4), r;
      if (how == 0) r = dup(slots[s]);
      else if (how == 1) r = dup2(slots[s], 40 + fs);
      else if (how == 2) r = dup3(slots[s], 50 + fs, O_CLOEXEC);
      else r = fcntl(slots[s], F_DUPFD, 60);
      slots[fs] = r;
      slot_file[fs] = slot_file[s];
      fprintf(out, "dup%d(%d) -> slot %d ok=%d\n", how, s, fs, r >= 0);
      pos(fs);
    } else if (c < 73) fork_op(s); /* fork, spawn, fdopen and sendfile stop conversion: kept rare */
    else if (c < 74) spawn_op(s);
    else if (c < 76) fdopen_op(s);
    else if (c < 79) sendfile_op(s);
    else if (c < 85) change_op();
    else if (c < 88) other_truncate_op();
    else if (c < 90) bad_buffer_op(s);
    else if (c < 93) write_op(s);
    else {
      fprintf(out, "close(%d) -> %d\n", s, close(slots[s]));
      slots[s] = -1;
    }
  }
  for (int i = 0; i < NSLOTS; i++)
    if (slots[i] >= 0) pos(i);
  close(cmd[1]);
  waitpid(helper, NULL, 0);
  return 0;
}
