/*
 * hard_stress: stress modes for tests/integration/hard_stress.sh.
 *
 *   hard_stress mkfile FILE MIB
 *       Writes FILE: MIB MiB whose every 8-byte word holds its own offset
 *       (so any chunk read can be checked against the offset it came from).
 *   hard_stress threads FILE THREADS FORKS
 *       THREADS/2 threads read ONE shared descriptor with read() (4 KiB) and
 *       pread(); every 4 KiB chunk must arrive exactly once over all of them
 *       (the offset of a shared description is atomic).  The other threads
 *       open their own descriptors and read the whole file with varying
 *       sizes (every other time only its first few chunks, then close), or
 *       allocate (malloc/calloc/realloc/free up to 1 MiB).  The main
 *       thread forks FORKS times meanwhile; each child allocates, opens FILE,
 *       reads and checks 64 KiB and _exits 0.  Prints "ok ..." and exits 0
 *       when every byte checked and every child exited 0.
 *   hard_stress alarm FILE SECONDS
 *       A SIGALRM every 100 us whose handler preads FILE (its own descriptor
 *       and the main loop's) and writes then reads a pipe; the main loop
 *       reads FILE sequentially with read(), fread() and mmap, allocates and
 *       reopens, for SECONDS.  Checks every byte.  Prints "ok ..." and exits 0.
 *   hard_stress manyfiles DIR N
 *       Creates N small files in DIR, opens all N at once (raising the soft
 *       RLIMIT_NOFILE), reads each with read() and pread(), checks, closes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 4096

static const char *file;
static int64_t fsize;
static volatile int stop;
static long bad; /* bytes that did not match (atomic adds) */
/* The same, by where they were read: shared pread, shared read, own descriptors. */
static long bad_pread, bad_read, bad_own;

static void die(const char *what) {
  fprintf(stderr, "hard_stress: %s: %s\n", what, strerror(errno));
  exit(2);
}

/* Checks n bytes read at offset off; returns the number of wrong words. */
static long check(const char *buf, int64_t off, size_t n) {
  long wrong = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t o = off + (int64_t)i;
    uint64_t w = (uint64_t)(o & ~7LL);
    if ((unsigned char)buf[i] != (unsigned char)(w >> ((o & 7) * 8))) wrong++;
  }
  return wrong;
}

static void mkfile(const char *path, long mib) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open for writing");
  uint64_t buf[8192];
  for (uint64_t off = 0; off < (uint64_t)mib << 20; off += sizeof buf) {
    for (int i = 0; i < 8192; i++) buf[i] = off + 8 * (uint64_t)i;
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) die("write");
  }
  close(fd);
}

/* ---- threads ------------------------------------------------------------------ */

static int shared_fd;
static unsigned char *seen; /* per chunk of the shared descriptor: how many times read */
static long shared_bytes;

static void *shared_reader(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  char buf[CHUNK];
  for (;;) {
    /* Interleave a pread (does not move the offset) with the shared read. */
    int64_t po = ((int64_t)rand_r(&seed) % (fsize / CHUNK)) * CHUNK;
    ssize_t p = pread(shared_fd, buf, CHUNK, po);
    long w = p != CHUNK ? 1 : check(buf, po, CHUNK);
    __atomic_fetch_add(&bad, w, __ATOMIC_RELAXED);
    __atomic_fetch_add(&bad_pread, w, __ATOMIC_RELAXED);
    ssize_t r = read(shared_fd, buf, CHUNK);
    if (r == 0) break;
    if (r != CHUNK) {
      __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
      break;
    }
    /* The chunk tells where it came from: its first word is its offset. */
    int64_t off;
    memcpy(&off, buf, 8);
    if (off < 0 || off >= fsize || off % CHUNK) {
      __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
      continue;
    }
    w = check(buf, off, CHUNK);
    __atomic_fetch_add(&bad, w, __ATOMIC_RELAXED);
    __atomic_fetch_add(&bad_read, w, __ATOMIC_RELAXED);
    __atomic_fetch_add(&seen[off / CHUNK], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&shared_bytes, r, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void *own_reader(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  static const size_t sizes[] = {1, 100, 4096, 5000, 32768, 65536, 200000};
  char *buf = malloc(200000);
  for (long pass = 0; !stop; pass++) {
    int fd = open(file, O_RDONLY);
    if (fd < 0) die("open");
    /*
     * Every other pass reads only the first few chunks and closes: many more
     * opens and closes (descriptions recycled) while the main thread forks.
     */
    int64_t limit = pass % 2 ? INT64_MAX : (int64_t)CHUNK * (1 + rand_r(&seed) % 16);
    int64_t off = 0;
    ssize_t r = 1;
    while (off < limit && (r = read(fd, buf, sizes[rand_r(&seed) % 7])) > 0) {
      long w = check(buf, off, (size_t)r);
      __atomic_fetch_add(&bad, w, __ATOMIC_RELAXED);
      __atomic_fetch_add(&bad_own, w, __ATOMIC_RELAXED);
      off += r;
      if (stop) break;
    }
    if (r < 0 || (!stop && (limit == INT64_MAX ? off != fsize : off < limit)))
      __atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
    close(fd);
  }
  free(buf);
  return NULL;
}

static void *allocator(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void *slot[64] = {0};
  while (!stop) {
    int i = rand_r(&seed) % 64;
    size_t n = (size_t)1 << (rand_r(&seed) % 21);
    switch (rand_r(&seed) % 3) {
    case 0: free(slot[i]); slot[i] = malloc(n); break;
    case 1: free(slot[i]); slot[i] = calloc(1, n); break;
    default: {
      void *p = realloc(slot[i], n);
      if (p) slot[i] = p;
    }
    }
    if (slot[i]) memset(slot[i], 0x5a, n < 4096 ? n : 4096);
  }
  for (int i = 0; i < 64; i++) free(slot[i]);
  return NULL;
}

static int child_work(void) {
  char *p = malloc(1 << 20);
  if (!p) return 1;
  memset(p, 1, 1 << 20);
  int fd = open(file, O_RDONLY);
  if (fd < 0) return 1;
  ssize_t r = read(fd, p, 65536);
  long w = r == 65536 ? check(p, 0, 65536) : 1;
  close(fd);
  free(p);
  return w ? 1 : 0;
}

static int run_threads(int nthreads, int forks) {
  shared_fd = open(file, O_RDONLY);
  if (shared_fd < 0) die("open");
  seen = calloc((size_t)(fsize / CHUNK), 1);
  pthread_t t[64];
  if (nthreads > 64) nthreads = 64;
  int nshared = nthreads / 2 > 0 ? nthreads / 2 : 1;
  for (int i = 0; i < nthreads; i++) {
    void *(*fn)(void *) = i < nshared ? shared_reader : (i % 2 ? own_reader : allocator);
    if (pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)(i * 7919 + 1))) die("pthread_create");
  }
  int children_bad = 0;
  for (int k = 0; k < forks; k++) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) _exit(child_work());
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) children_bad++;
  }
  /* Let the shared readers finish the file, then stop the rest. */
  for (int i = 0; i < nshared; i++) pthread_join(t[i], NULL);
  stop = 1;
  for (int i = nshared; i < nthreads; i++) pthread_join(t[i], NULL);
  long once = 0, dup = 0, missing = 0;
  for (int64_t c = 0; c < fsize / CHUNK; c++) {
    if (seen[c] == 1) once++;
    else if (seen[c] == 0) missing++;
    else dup++;
  }
  printf("threads=%d forks=%d children_bad=%d chunks_once=%ld missing=%ld duplicated=%ld shared_bytes=%ld bad=%ld"
         " (pread %ld, read %ld, own %ld)\n",
         nthreads, forks, children_bad, once, missing, dup, shared_bytes, bad, bad_pread, bad_read, bad_own);
  int ok = !children_bad && !missing && !dup && !bad && shared_bytes == fsize;
  if (ok) printf("ok\n");
  return ok ? 0 : 1;
}

/* ---- alarm -------------------------------------------------------------------- */

static int h_fd, pipe_fd[2];
static volatile int main_fd;
static volatile long h_runs, h_bad;

static void on_alarm(int sig) {
  (void)sig;
  int saved = errno;
  char buf[512];
  static unsigned seed = 1;
  int64_t off = (int64_t)(rand_r(&seed) % (unsigned)(fsize - sizeof buf));
  ssize_t r = pread(h_fd, buf, sizeof buf, off);
  if (r != (ssize_t)sizeof buf || check(buf, off, sizeof buf)) h_bad++;
  r = pread(main_fd, buf, 64, off);
  if (r != 64 || check(buf, off, 64)) h_bad++;
  if (write(pipe_fd[1], "x", 1) != 1 || read(pipe_fd[0], buf, 1) != 1 || buf[0] != 'x') h_bad++;
  h_runs++;
  errno = saved;
}

static int run_alarm(double seconds) {
  h_fd = open(file, O_RDONLY);
  if (h_fd < 0 || pipe(pipe_fd)) die("open/pipe");
  main_fd = h_fd;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 100}, {0, 100}};
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  setitimer(ITIMER_REAL, &it, NULL);
  long loops = 0, main_bad = 0;
  char *buf = malloc(65536);
  do {
    /* read() */
    int mfd = open(file, O_RDONLY);
    if (mfd < 0) die("open");
    main_fd = mfd; /* only now: the handler may use it at any moment */
    int64_t off = 0;
    ssize_t r;
    while ((r = read(mfd, buf, 4096 + (loops % 3) * 1000)) > 0) {
      main_bad += check(buf, off, (size_t)r);
      off += r;
    }
    if (r < 0 || off != fsize) main_bad++;
    /* readv */
    struct iovec iov[2] = {{buf, 100}, {buf + 100, 5000}};
    r = preadv(mfd, iov, 2, 777);
    if (r != 5100 || check(buf, 777, 5100)) main_bad++;
    main_fd = h_fd; /* before the close, for the same reason */
    close(mfd);
    /* fread */
    FILE *f = fopen(file, "r");
    if (!f) die("fopen");
    off = 0;
    size_t n;
    while ((n = fread(buf, 1, 10000, f)) > 0) {
      main_bad += check(buf, off, n);
      off += (int64_t)n;
    }
    if (off != fsize) main_bad++;
    fclose(f);
    /* mmap */
    int fd = open(file, O_RDONLY);
    char *m = mmap(NULL, (size_t)fsize, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) die("mmap");
    main_bad += check(m + fsize / 2, fsize / 2, 4096);
    munmap(m, (size_t)fsize);
    close(fd);
    void *p = malloc((size_t)(loops % 20) << 16);
    free(p);
    loops++;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
  struct itimerval off_it = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off_it, NULL);
  printf("loops=%ld handler_runs=%ld handler_bad=%ld main_bad=%ld\n", loops, h_runs, h_bad, main_bad);
  int ok = loops > 0 && h_runs > 0 && !h_bad && !main_bad;
  if (ok) printf("ok\n");
  return ok ? 0 : 1;
}

/* ---- manyfiles ---------------------------------------------------------------- */

static int run_manyfiles(const char *dir, int n) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t)n + 16) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
    if (setrlimit(RLIMIT_NOFILE, &rl)) die("setrlimit");
  }
  char path[4096], buf[256], want[256];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("create");
    int len = snprintf(buf, sizeof buf, "file %d of %d\n", i, n);
    if (write(fd, buf, (size_t)len) != len) die("write");
    close(fd);
  }
  int *fds = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%05d", dir, i);
    fds[i] = open(path, O_RDONLY);
    if (fds[i] < 0) die("open (all at once)");
  }
  long wrong = 0;
  for (int i = 0; i < n; i++) {
    int len = snprintf(want, sizeof want, "file %d of %d\n", i, n);
    ssize_t r = read(fds[i], buf, sizeof buf);
    if (r != len || memcmp(buf, want, (size_t)len)) wrong++;
    r = pread(fds[i], buf, 4, 5);
    if (r != 4 || memcmp(buf, want + 5, 4)) wrong++;
    if (read(fds[i], buf, sizeof buf) != 0) wrong++;
  }
  for (int i = 0; i < n; i++) close(fds[i]);
  printf("files=%d wrong=%ld\n", n, wrong);
  if (!wrong) printf("ok\n");
  return wrong ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: hard_stress mkfile FILE MIB | threads FILE THREADS FORKS | alarm FILE SECONDS | manyfiles DIR N\n");
    return 2;
  }
  const char *mode = argv[1];
  if (!strcmp(mode, "mkfile")) {
    mkfile(argv[2], atol(argv[3]));
    return 0;
  }
  if (!strcmp(mode, "manyfiles")) return run_manyfiles(argv[2], atoi(argv[3]));
  file = argv[2];
  struct stat st;
  if (stat(file, &st)) die("stat");
  fsize = st.st_size;
  if (fsize < 65536 || fsize % CHUNK) {
    fprintf(stderr, "hard_stress: %s must be a multiple of 4 KiB, at least 64 KiB (use mkfile)\n", file);
    return 2;
  }
  if (!strcmp(mode, "threads") && argc >= 5) return run_threads(atoi(argv[3]), atoi(argv[4]));
  if (!strcmp(mode, "alarm")) return run_alarm(atof(argv[3]));
  fprintf(stderr, "hard_stress: unknown mode %s\n", mode);
  return 2;
}
