/*
 * hint_measure: measures the hints policy's hooks directly (without the
 * shim) on real files.  Figures and commands are in docs/HINTS.md.
 *
 *   hint_measure stream BIG OTHER [runs]
 *       (a) a cat-like reader (128 KiB reads) of the cold file BIG: plain,
 *       with drop_behind, and `nocache cat BIG` for comparison.  Reports
 *       page-cache growth (peak and at the end, /proc/meminfo Cached), MB/s,
 *       and whether OTHER (read whole beforehand) is still fully cached.
 *   hint_measure mmap BIG [pages]
 *       (b) maps the cold file BIG and reads `pages` (20000) random 4 KiB
 *       pages with mmap_advice none, random and auto; reports read_bytes
 *       from /proc/self/io against the bytes asked.
 *
 * It includes the policy sources it needs (tests/programs are built without
 * the policy library), so it measures exactly the code the shim will call.
 * Files are made cold with POSIX_FADV_DONTNEED on them alone (no global
 * drop_caches), waiting until cachestat reports no page left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "policy/arena.c"
#include "policy/clock.c"
#include "policy/hints.c"
#include "policy/json.c"
#include "policy/os/os.c"
#include "policy/pattern.c"
#include "policy/residency.c"

/*
 * The hints policy registers its per-file section with the statistics store
 * (policy/stats.c), which this program does not build: it writes no
 * statistics document, so the registration is accepted and forgotten.
 */
int mmhint_stats_section_register(const mmhint_stats_section_t *s) {
  (void)s;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Cached: from /proc/meminfo, in bytes. */
static long long meminfo_cached(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "Cached: %lld kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb * 1024;
}

static long long proc_io(const char *key) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[256];
  long long v = -1;
  size_t kl = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, kl) && line[kl] == ':') v = atoll(line + kl + 1);
  if (f) fclose(f);
  return v;
}

static unsigned long long cached_pages(const char *path) {
  int fd = open(path, O_RDONLY);
  unsigned long long n = 0;
  if (fd < 0 || mmhint_os_cachestat(fd, 0, 0, &n) != 0) n = (unsigned long long)-1;
  if (fd >= 0) close(fd);
  return n;
}

static long long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Whether OTHER is wholly in the page cache; says what is missing when not. */
static int other_full(const char *other) {
  unsigned long long have = cached_pages(other), want = ((unsigned long long)file_size(other) + 4095) / 4096;
  if (have >= want) return 1;
  fprintf(stderr, "hint_measure: %s: %llu of %llu pages cached\n", other, have, want);
  return 0;
}

static void make_cold(const char *path) {
  for (int i = 0; i < 500; i++) {
    int fd = open(path, O_RDONLY);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (cached_pages(path) == 0) return;
    usleep(10000);
  }
  fprintf(stderr, "hint_measure: %s would not leave the page cache\n", path);
}

static void read_whole(const char *path) {
  int fd = open(path, O_RDONLY);
  static char buf[1 << 20];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void values_for(mmhint_values_t *v, int advice, int mmap_advice, long long willneed, int drop) {
  memset(v->num, 0, sizeof v->num);
  v->num[MMHINT_OPT_advice] = advice;
  v->num[MMHINT_OPT_mmap_advice] = mmap_advice;
  v->num[MMHINT_OPT_willneed_ahead] = willneed;
  v->num[MMHINT_OPT_drop_behind] = drop;
}

/* ---- (a) streaming ------------------------------------------------------------- */

typedef struct {
  double mbps;
  long long peak_growth, end_growth; /* /proc/meminfo Cached: the whole machine (noisy) */
  long long file_peak, file_end;     /* BIG's own pages in the cache (cachestat): exact */
  int other_cached;
  uint64_t dropped, drop_calls;
} stream_result_t;

/* Reads BIG like cat (128 KiB reads); mode 0 plain, 1 drop_behind hooks. */
static stream_result_t stream_in_process(const char *big, const char *other, int mode) {
  static char buf[128 * 1024];
  static mmhint_values_t v;
  stream_result_t r = {0};
  mmhint_hints_file_t hf;
  memset(&hf, 0, sizeof hf);
  mmhint_hints_state_t s;
  memset(&s, 0, sizeof s);
  const long long base = meminfo_cached();
  long long peak = base;
  double t0 = now_s();
  int fd = open(big, O_RDONLY);
  values_for(&v, MMHINT_ADV_NONE, MMHINT_MADV_NONE, 0, mode == 1);
  if (mode) mmhint_hints_open(&s, fd, &hf, v.num, mmhint_ticks());
  long long off = 0, next_sample = 0;
  for (;;) {
    long n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    if (mode) mmhint_hints_read(&s, fd, off, (uint64_t)n, mmhint_ticks());
    off += n;
    if (off >= next_sample) {
      long long c = meminfo_cached();
      if (c > peak) peak = c;
      unsigned long long fp = 0;
      if (mmhint_os_cachestat(fd, 0, 0, &fp) == 0 && (long long)fp * 4096 > r.file_peak) r.file_peak = (long long)fp * 4096;
      next_sample = off + (4 << 20);
    }
  }
  if (mode) mmhint_hints_close(&s, fd, mmhint_ticks());
  close(fd);
  double t1 = now_s();
  r.file_end = (long long)cached_pages(big) * 4096;
  long long end = meminfo_cached();
  if (end > peak) peak = end;
  r.mbps = off / 1e6 / (t1 - t0);
  r.peak_growth = peak - base;
  r.end_growth = end - base;
  r.other_cached = other_full(other);
  r.dropped = hf.c[MMHINT_HC_dropped_bytes];
  r.drop_calls = hf.c[MMHINT_HC_drop_calls];
  return r;
}

/* Runs `nocache cat BIG >/dev/null`, sampling Cached every 20 ms. */
static stream_result_t stream_nocache(const char *big, const char *other) {
  stream_result_t r = {0};
  const long long base = meminfo_cached();
  long long peak = base;
  double t0 = now_s();
  pid_t pid = fork();
  if (pid == 0) {
    int dn = open("/dev/null", O_WRONLY);
    dup2(dn, 1);
    execlp("nocache", "nocache", "cat", big, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    long long c = meminfo_cached();
    if (c > peak) peak = c;
    long long fp = (long long)cached_pages(big) * 4096;
    if (fp > r.file_peak) r.file_peak = fp;
    if (w == pid) break;
    usleep(20000);
  }
  double t1 = now_s();
  long long end = meminfo_cached();
  r.file_end = (long long)cached_pages(big) * 4096;
  r.mbps = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? file_size(big) / 1e6 / (t1 - t0) : -1;
  r.peak_growth = peak - base;
  r.end_growth = end - base;
  r.other_cached = other_full(other);
  return r;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int stream(const char *big, const char *other, int runs) {
  static const char *const names[] = {"plain read", "drop_behind", "nocache cat"};
  printf("(a) cold sequential read of %s (%lld MiB), 128 KiB reads; %s (%lld MiB) cached beforehand\n", big,
         file_size(big) >> 20, other, file_size(other) >> 20);
  printf("%-12s %4s %7s %16s %15s %17s %16s %7s %8s\n", "mode", "run", "MB/s", "file peak (MiB)", "file end (MiB)",
         "Cached peak +MiB", "Cached end +MiB", "other", "dropped");
  double mbps[3][16], med[3];
  for (int run = 0; run < runs && run < 16; run++) {
    for (int mode = 0; mode < 3; mode++) { /* interleaved, so drift in the disk's speed hits every mode */
      read_whole(other);
      make_cold(big);
      stream_result_t r = mode < 2 ? stream_in_process(big, other, mode) : stream_nocache(big, other);
      mbps[mode][run] = r.mbps;
      printf("%-12s %4d %7.0f %16.1f %15.1f %17.1f %16.1f %7s %8.1f\n", names[mode], run + 1, r.mbps,
             r.file_peak / 1048576.0, r.file_end / 1048576.0, r.peak_growth / 1048576.0, r.end_growth / 1048576.0,
             r.other_cached ? "cached" : "NO", r.dropped / 1048576.0);
    }
  }
  for (int mode = 0; mode < 3; mode++) {
    qsort(mbps[mode], (size_t)runs, sizeof mbps[mode][0], cmp_double);
    med[mode] = mbps[mode][runs / 2];
  }
  printf("median MB/s: plain %.0f, drop_behind %.0f (%.3fx), nocache cat %.0f (%.3fx)\n", med[0], med[1],
         med[1] / med[0], med[2], med[2] / med[0]);
  make_cold(big);
  return 0;
}

/* ---- (b) random reads through a mapping ------------------------------------------- */

static int mmap_random(const char *big, int pages) {
  static const char *const names[] = {"none", "normal", "sequential", "random", "willneed", "hugepage", "auto"};
  const int modes[] = {MMHINT_MADV_NONE, MMHINT_MADV_RANDOM, MMHINT_MADV_AUTO};
  long long size = file_size(big);
  printf("(b) %d random 4 KiB page reads through a mapping of the cold %s (%lld MiB); asked %.1f MB\n", pages, big,
         size >> 20, pages * 4096 / 1e6);
  printf("%-12s %10s %14s %10s %9s\n", "mmap_advice", "madvise", "read_bytes MB", "x asked", "seconds");
  for (unsigned m = 0; m < sizeof modes / sizeof modes[0]; m++) {
    make_cold(big);
    static mmhint_values_t v;
    values_for(&v, MMHINT_ADV_NONE, modes[m], 0, 0);
    mmhint_hints_file_t hf;
    memset(&hf, 0, sizeof hf);
    mmhint_hints_state_t s;
    memset(&s, 0, sizeof s);
    int fd = open(big, O_RDONLY);
    mmhint_hints_open(&s, fd, &hf, v.num, mmhint_ticks());
    long long rb0 = proc_io("read_bytes");
    double t0 = now_s();
    char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    int madv = mmhint_hints_mmap(map, (size_t)size, &s, &hf, NULL, mmhint_ticks());
    unsigned long long x = 88172645463325252ull, npages = (unsigned long long)size / 4096;
    volatile unsigned sum = 0;
    for (int i = 0; i < pages; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      sum += (unsigned char)map[(x % npages) * 4096];
    }
    double t1 = now_s();
    long long rb1 = proc_io("read_bytes");
    munmap(map, (size_t)size);
    mmhint_hints_close(&s, fd, mmhint_ticks());
    close(fd);
    printf("%-12s %10s %14.1f %10.2f %9.2f\n", names[modes[m]],
           madv < 0 ? "(none)" : madv == MADV_RANDOM ? "RANDOM" : madv == MADV_WILLNEED ? "WILLNEED" : "other",
           (rb1 - rb0) / 1e6, (rb1 - rb0) / (pages * 4096.0), t1 - t0);
  }
  make_cold(big);
  return 0;
}

int main(int argc, char **argv) {
  mmhint_clock_init();
  if (argc >= 4 && !strcmp(argv[1], "stream")) return stream(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 3);
  if (argc >= 3 && !strcmp(argv[1], "mmap")) return mmap_random(argv[2], argc > 3 ? atoi(argv[3]) : 20000);
  fprintf(stderr, "usage: hint_measure stream BIG OTHER [runs] | hint_measure mmap BIG [pages]\n");
  return 2;
}
