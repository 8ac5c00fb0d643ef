/*
 * madvise_patterns: maps a file and reads it in one of several access
 * patterns without giving the kernel any advice, then reports how many bytes
 * it touched next to how many bytes the kernel fetched from storage for it
 * (read_bytes in /proc/self/io).  On a cold file the difference is the cost of
 * fault readahead that does not match the pattern, which is exactly what
 * advice applied from outside the program (madvise on its mapping) can remove.
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

static const char *prog = "madvise_patterns";

static void usage(FILE *to) {
  fprintf(to,
          "usage: madvise_patterns PATTERN FILE [--block B] [--count K] [--stride S] [--seed N] [--cold]\n"
          "       madvise_patterns --make FILE SIZE [--seed N]\n"
          "\n"
          "Maps FILE read-only (no madvise) and reads it in PATTERN, then prints one line\n"
          "'result workload=madvise_patterns ...' with the bytes touched and the bytes the\n"
          "kernel read from storage meanwhile (read_bytes of /proc/self/io).\n"
          "\n"
          "patterns:\n"
          "  sequential  every byte, front to back, in B pieces\n"
          "  random      K blocks of B bytes at random B-aligned offsets\n"
          "  strided     one block of B bytes every S bytes\n"
          "  mixed       first third sequential, second third random, last third strided\n"
          "\n"
          "options:\n"
          "  --block B   access size, default 4K (sizes accept K/M/G suffixes)\n"
          "  --count K   random accesses, default one per 32 blocks of the range\n"
          "  --stride S  distance between strided accesses, default 256K\n"
          "  --seed N    seed for random offsets and --make content, default 1\n"
          "  --cold      drop FILE from the page cache first, so read_bytes shows real I/O\n"
          "  --make      create FILE with SIZE bytes of deterministic content and exit\n"
          "  --help      show this text\n");
}

/* What a walk over the mapping accumulates. */
typedef struct {
  const unsigned char *map; /* The whole file, mapped read-only. */
  uint64_t size;            /* File size in bytes. */
  size_t block;             /* Bytes read per access. */
  uint64_t page;            /* System page size. */
  unsigned char *touched;   /* One flag per file page: was any byte read? */
  uint64_t accesses;
  uint64_t bytes;
  ex_checksum_t ck;
} walk_t;

/* Reads LEN bytes at OFF (clipped to the file) and marks their pages. */
static void access_at(walk_t *w, uint64_t off, uint64_t len) {
  if (off >= w->size)
    return;
  if (len > w->size - off)
    len = w->size - off;
  ex_checksum_add(&w->ck, w->map + off, (size_t)len, off);
  for (uint64_t p = off / w->page; p <= (off + len - 1) / w->page; p++)
    w->touched[p] = 1;
  w->accesses++;
  w->bytes += len;
}

/* Every byte of [BEGIN, END) in block pieces. */
static void walk_sequential(walk_t *w, uint64_t begin, uint64_t end) {
  for (uint64_t off = begin; off < end; off += w->block)
    access_at(w, off, end - off < w->block ? end - off : w->block);
}

/* COUNT blocks at random block-aligned offsets in [BEGIN, END).  A count of
 * 0 means the default: one access per 32 blocks of the range, at least one. */
static void walk_random(walk_t *w, uint64_t begin, uint64_t end, uint64_t count, uint64_t *state) {
  if (end <= begin)
    return;
  uint64_t nblocks = (end - begin + w->block - 1) / w->block;
  if (count == 0)
    count = nblocks / 32 > 0 ? nblocks / 32 : 1;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t off = begin + ex_rand_below(state, nblocks) * w->block;
    access_at(w, off, end - off < w->block ? end - off : w->block);
  }
}

/* One block every STRIDE bytes of [BEGIN, END). */
static void walk_strided(walk_t *w, uint64_t begin, uint64_t end, uint64_t stride) {
  for (uint64_t off = begin; off < end; off += stride)
    access_at(w, off, end - off < w->block ? end - off : w->block);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"block", required_argument, NULL, 'b'}, {"count", required_argument, NULL, 'k'},
      {"stride", required_argument, NULL, 't'}, {"seed", required_argument, NULL, 's'},
      {"cold", no_argument, NULL, 'c'},         {"make", no_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  uint64_t block = 4096, count = 0, stride = 256 * 1024, seed = 1;
  int make = 0, cold = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'b': block = ex_size_arg(prog, "--block", optarg); break;
    case 'k': count = ex_count_arg(prog, "--count", optarg); break;
    case 't': stride = ex_size_arg(prog, "--stride", optarg); break;
    case 's': seed = ex_count_arg(prog, "--seed", optarg); break;
    case 'c': cold = 1; break;
    case 'm': make = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  int npos = argc - optind;
  char **pos = argv + optind;
  if (make) return ex_make_command(prog, "madvise_patterns", "pattern", npos, pos, seed, usage);
  if (npos != 2) {
    usage(stderr);
    return 2;
  }
  const char *pattern = pos[0], *path = pos[1];
  int p_seq = !strcmp(pattern, "sequential"), p_rand = !strcmp(pattern, "random");
  int p_stride = !strcmp(pattern, "strided"), p_mixed = !strcmp(pattern, "mixed");
  if (!(p_seq || p_rand || p_stride || p_mixed)) {
    fprintf(stderr, "%s: unknown pattern '%s' (sequential, random, strided, mixed)\n", prog, pattern);
    return 2;
  }
  if (block == 0 || block > (1ULL << 30) || stride == 0) {
    fprintf(stderr, "%s: --block must be 1..1G and --stride at least 1\n", prog);
    return 2;
  }
  if (cold && ex_evict_file(prog, path) != 0)
    return 1;

  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  walk_t w = {0};
  w.size = (uint64_t)st.st_size;
  w.block = (size_t)block;
  w.page = (uint64_t)sysconf(_SC_PAGESIZE);
  if (w.size == 0 || w.size > SIZE_MAX) {
    fprintf(stderr, "%s: %s must be non-empty and fit in the address space\n", prog, path);
    return 1;
  }
  uint64_t npages = (w.size + w.page - 1) / w.page;
  w.touched = calloc(npages, 1);
  if (w.touched == NULL) {
    fprintf(stderr, "%s: out of memory for the page map\n", prog);
    return 1;
  }

  long long io_start = ex_proc_read_bytes();
  double t0 = ex_now();
  void *map = mmap(NULL, (size_t)w.size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    fprintf(stderr, "%s: mmap %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  w.map = map;
  uint64_t state = seed;
  /* Disk bytes per phase; the single patterns have one phase. */
  long long phase_io[3] = {0, 0, 0};
  if (p_seq) {
    walk_sequential(&w, 0, w.size);
  } else if (p_rand) {
    walk_random(&w, 0, w.size, count, &state);
  } else if (p_stride) {
    walk_strided(&w, 0, w.size, stride);
  } else {
    /* Thirds on block boundaries, so that each phase is a clean pattern. */
    uint64_t a = w.size / 3 / w.block * w.block, b = 2 * (w.size / 3) / w.block * w.block;
    long long io = io_start, now;
    walk_sequential(&w, 0, a);
    now = ex_proc_read_bytes(), phase_io[0] = now - io, io = now;
    walk_random(&w, a, b, count, &state);
    now = ex_proc_read_bytes(), phase_io[1] = now - io, io = now;
    walk_strided(&w, b, w.size, stride);
    now = ex_proc_read_bytes(), phase_io[2] = now - io;
  }
  munmap(map, (size_t)w.size);
  close(fd);
  double seconds = ex_now() - t0;
  long long io_end = ex_proc_read_bytes();

  uint64_t distinct = 0;
  for (uint64_t p = 0; p < npages; p++)
    if (w.touched[p])
      distinct += (p == npages - 1) ? w.size - p * w.page : w.page;
  free(w.touched);

  long long read_bytes = (io_start >= 0 && io_end >= 0) ? io_end - io_start : -1;
  char phases[96] = "";
  if (p_mixed)
    snprintf(phases, sizeof phases, " phase_read_bytes=%lld,%lld,%lld", phase_io[0], phase_io[1],
             phase_io[2]);
  ex_result("madvise_patterns",
            "pattern=%s file_bytes=%llu block=%zu accesses=%llu bytes=%llu touched_bytes=%llu "
            "read_bytes=%lld io_ratio=%.2f%s seconds=%.6f checksum=0x%016llx",
            pattern, (unsigned long long)w.size, w.block, (unsigned long long)w.accesses,
            (unsigned long long)w.bytes, (unsigned long long)distinct, read_bytes,
            distinct > 0 && read_bytes >= 0 ? (double)read_bytes / (double)distinct : 0.0, phases,
            seconds, (unsigned long long)w.ck.sum);
  return 0;
}
