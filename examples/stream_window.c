/*
 * stream_window: a sliding-window stream processor.  It reads a file once,
 * front to back, with read() in fixed-size chunks, cuts the stream into
 * fixed-size records, and keeps the last W bytes' worth of record values in a
 * ring so it can report a rolling statistic (the highest and lowest mean byte
 * value over any window).  Each byte is needed exactly once, so every page the
 * stream brings into the page cache is dead weight once the window has moved
 * on; the program reports how much of the file is still cached when it ends
 * (mincore() on a fresh mapping, after the reading descriptor is closed), which
 * is what a drop-behind policy applied from outside the program reduces.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "stream_window";

static void usage(FILE *to) {
  fprintf(to,
          "usage: stream_window FILE [--chunk C] [--window W] [--record R] [--cold] [--no-residency]\n"
          "       stream_window --make FILE SIZE [--seed S]\n"
          "\n"
          "Reads FILE once with read() in C-byte chunks, splits it into R-byte records,\n"
          "and keeps a sliding window of the last W bytes of records.  Prints one line\n"
          "'result workload=stream_window ...' with the throughput, the highest and lowest\n"
          "window mean, the bytes read from storage and the bytes of FILE left in the\n"
          "page cache at the end.\n"
          "\n"
          "options (sizes accept K/M/G suffixes):\n"
          "  --chunk C       read() size, default 64K\n"
          "  --window W      window size in bytes, rounded down to whole records, default 1M\n"
          "  --record R      record size, 1..1M, default 64\n"
          "  --cold          drop FILE from the page cache first (set-up step)\n"
          "  --no-residency  skip the page-cache residency check at the end\n"
          "  --seed S        content seed for --make, default 1\n"
          "  --make          create FILE with SIZE bytes of deterministic content and exit\n"
          "  --help          show this text\n");
}

/* The rolling state: a ring of the values of the last NREC complete records. */
typedef struct {
  uint32_t *ring;
  uint64_t nrec;     /* Records per window. */
  uint64_t pos;      /* Next ring slot to write. */
  uint64_t filled;   /* Complete records seen so far. */
  uint64_t sum;      /* Sum of the values in the ring. */
  uint64_t max_sum;  /* Largest window sum seen. */
  uint64_t min_sum;  /* Smallest window sum seen. */
  uint64_t windows;  /* Complete windows seen. */
  uint32_t acc;      /* Sum of the bytes of the record being assembled. */
  size_t acc_len;    /* Bytes of that record seen so far. */
  size_t record;     /* Record size in bytes. */
} window_t;

/* Adds one complete record's value and updates the window statistics. */
static void push_record(window_t *w, uint32_t value) {
  if (w->filled >= w->nrec)
    w->sum -= w->ring[w->pos];
  w->ring[w->pos] = value;
  w->sum += value;
  w->pos = w->pos + 1 == w->nrec ? 0 : w->pos + 1;
  w->filled++;
  if (w->filled >= w->nrec) {
    if (w->windows == 0 || w->sum > w->max_sum)
      w->max_sum = w->sum;
    if (w->windows == 0 || w->sum < w->min_sum)
      w->min_sum = w->sum;
    w->windows++;
  }
}

/* Feeds LEN bytes of the stream; records may span calls. */
static void feed(window_t *w, const unsigned char *p, size_t len) {
  while (len > 0) {
    size_t take = w->record - w->acc_len;
    if (take > len)
      take = len;
    uint32_t acc = w->acc;
    for (size_t i = 0; i < take; i++)
      acc += p[i];
    w->acc = acc;
    w->acc_len += take;
    p += take;
    len -= take;
    if (w->acc_len == w->record) {
      push_record(w, w->acc);
      w->acc = 0;
      w->acc_len = 0;
    }
  }
}

/* Returns how many bytes of PATH are in the page cache (mincore on a fresh
 * read-only mapping), or -1 if that cannot be determined. */
static long long cached_bytes(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
    close(fd);
    return st.st_size == 0 ? 0 : -1;
  }
  size_t size = (size_t)st.st_size;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED)
    return -1;
  size_t npages = (size + page - 1) / page;
  unsigned char *vec = malloc(npages);
  long long cached = -1;
  if (vec != NULL && mincore(map, size, vec) == 0) {
    cached = 0;
    for (size_t i = 0; i < npages; i++)
      if (vec[i] & 1)
        cached += (long long)((i == npages - 1) ? size - i * page : page);
  }
  free(vec);
  munmap(map, size);
  return cached;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"chunk", required_argument, NULL, 'c'}, {"window", required_argument, NULL, 'w'},
      {"record", required_argument, NULL, 'r'}, {"seed", required_argument, NULL, 's'},
      {"cold", no_argument, NULL, 'C'},         {"no-residency", no_argument, NULL, 'N'},
      {"make", no_argument, NULL, 'm'},         {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  uint64_t chunk = 64 * 1024, window = 1024 * 1024, record = 64, seed = 1;
  int make = 0, cold = 0, residency = 1, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'c': chunk = ex_size_arg(prog, "--chunk", optarg); break;
    case 'w': window = ex_size_arg(prog, "--window", optarg); break;
    case 'r': record = ex_size_arg(prog, "--record", optarg); break;
    case 's': seed = ex_count_arg(prog, "--seed", optarg); break;
    case 'C': cold = 1; break;
    case 'N': residency = 0; break;
    case 'm': make = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  int npos = argc - optind;
  char **pos = argv + optind;
  if (make) return ex_make_command(prog, "stream_window", "mode", npos, pos, seed, usage);
  if (npos != 1) {
    usage(stderr);
    return 2;
  }
  const char *path = pos[0];
  if (chunk == 0 || chunk > (1ULL << 30) || record == 0 || record > (1ULL << 20) || window < record ||
      window / record > (1ULL << 28)) {
    fprintf(stderr, "%s: need 1 <= chunk <= 1G, 1 <= record <= 1M, record <= window <= 2^28 records\n",
            prog);
    return 2;
  }
  window_t w = {0};
  w.record = (size_t)record;
  w.nrec = window / record;
  w.ring = malloc(w.nrec * sizeof *w.ring);
  unsigned char *buf = malloc((size_t)chunk);
  if (w.ring == NULL || buf == NULL) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  }
  if (cold && ex_evict_file(prog, path) != 0)
    return 1;

  long long io_start = ex_proc_read_bytes();
  double t0 = ex_now();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  ex_checksum_t ck = {0};
  uint64_t bytes = 0, reads = 0;
  for (;;) {
    ssize_t n = read(fd, buf, (size_t)chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "%s: read %s: %s\n", prog, path, strerror(errno));
      return 1;
    }
    reads++;
    if (n == 0)
      break;
    feed(&w, buf, (size_t)n);
    ex_checksum_add(&ck, buf, (size_t)n, bytes);
    bytes += (uint64_t)n;
  }
  close(fd);
  double seconds = ex_now() - t0;
  long long io_end = ex_proc_read_bytes();
  long long cached = residency ? cached_bytes(path) : -1;
  free(buf);
  free(w.ring);

  /* Means are per byte, so they compare across record and window sizes. */
  double per_window = (double)w.nrec * (double)w.record;
  ex_result("stream_window",
            "bytes=%llu chunk=%llu record=%zu window=%llu reads=%llu windows=%llu "
            "max_window_mean=%.4f min_window_mean=%.4f read_bytes=%lld cached_after_bytes=%lld "
            "seconds=%.6f mib_per_s=%.1f checksum=0x%016llx",
            (unsigned long long)bytes, (unsigned long long)chunk, w.record,
            (unsigned long long)(w.nrec * w.record), (unsigned long long)reads,
            (unsigned long long)w.windows, w.windows ? (double)w.max_sum / per_window : 0.0,
            w.windows ? (double)w.min_sum / per_window : 0.0,
            (io_start >= 0 && io_end >= 0) ? io_end - io_start : -1LL, cached, seconds,
            seconds > 0 ? (double)bytes / (1024.0 * 1024.0) / seconds : 0.0,
            (unsigned long long)ck.sum);
  return 0;
}
