/*
 * fileread: reads one file by read(), pread() or its own mapping, so that the
 * cost of each path can be compared and a policy that converts one into
 * another can be judged.  Every mode feeds the bytes it obtains, with their
 * file offsets, into the same position-aware checksum, so a sequential read()
 * pass and a sequential mapping pass of the same file print the same checksum,
 * and pread-random and mmap-random with the same seed do too.
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

static const char *prog = "fileread";

static void usage(FILE *to) {
  fprintf(to,
          "usage: fileread MODE FILE [BLOCK] [--passes N] [--count K] [--seed S] [--cold]\n"
          "       fileread --make FILE SIZE [--seed S]\n"
          "\n"
          "Reads FILE and prints one line 'result workload=fileread ...' with the\n"
          "throughput and a checksum of the bytes obtained.\n"
          "\n"
          "modes:\n"
          "  read          read() loop of BLOCK bytes to end of file, N passes (lseek to 0 between)\n"
          "  pread-random  K pread()s of BLOCK bytes at random BLOCK-aligned offsets\n"
          "  mmap-seq      map FILE and walk it front to back in BLOCK pieces, N passes\n"
          "  mmap-random   map FILE and touch the same K random blocks pread-random reads\n"
          "\n"
          "options:\n"
          "  BLOCK         access size, default 4K (sizes accept K/M/G suffixes)\n"
          "  --passes N    sequential passes for read and mmap-seq, default 1\n"
          "  --count K     random accesses, default: as many as the file has blocks\n"
          "  --seed S      seed for random offsets and for --make content, default 1\n"
          "  --cold        drop FILE from the page cache before starting (set-up step)\n"
          "  --make        create FILE with SIZE bytes of deterministic content and exit\n"
          "  --help        show this text\n");
}

/* One run's totals, filled by the mode functions. */
typedef struct {
  uint64_t bytes; /* Bytes obtained from the file, over all passes. */
  uint64_t ops;   /* read()/pread() calls, or blocks walked in a mapping. */
  ex_checksum_t ck;
} totals_t;

/* Reads all of FD with read() calls of BLOCK bytes, PASSES times. */
static int run_read(int fd, const char *path, size_t block, uint64_t passes, totals_t *t) {
  char *buf = malloc(block);
  if (buf == NULL) {
    fprintf(stderr, "%s: cannot allocate a %zu-byte buffer\n", prog, block);
    return -1;
  }
  for (uint64_t pass = 0; pass < passes; pass++) {
    if (pass > 0 && lseek(fd, 0, SEEK_SET) != 0) {
      fprintf(stderr, "%s: lseek %s: %s\n", prog, path, strerror(errno));
      free(buf);
      return -1;
    }
    uint64_t offset = 0;
    for (;;) {
      ssize_t n = read(fd, buf, block);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        fprintf(stderr, "%s: read %s: %s\n", prog, path, strerror(errno));
        free(buf);
        return -1;
      }
      t->ops++;
      if (n == 0)
        break;
      ex_checksum_add(&t->ck, buf, (size_t)n, offset);
      offset += (uint64_t)n;
      t->bytes += (uint64_t)n;
    }
  }
  free(buf);
  return 0;
}

/* Picks the next random block: a BLOCK-aligned offset inside a file of SIZE
 * bytes and the length to access there, which is shorter only for the last
 * block of a file whose size is not a multiple of BLOCK. */
static void next_block(uint64_t *state, uint64_t size, size_t block, uint64_t *off, size_t *len) {
  uint64_t nblocks = size / block + (size % block != 0);
  *off = ex_rand_below(state, nblocks) * block;
  uint64_t left = size - *off;
  *len = left < block ? (size_t)left : block;
}

/* COUNT pread()s of up to BLOCK bytes at random block offsets. */
static int run_pread_random(int fd, const char *path, uint64_t size, size_t block, uint64_t count,
                            uint64_t seed, totals_t *t) {
  if (size == 0)
    return 0;
  char *buf = malloc(block);
  if (buf == NULL) {
    fprintf(stderr, "%s: cannot allocate a %zu-byte buffer\n", prog, block);
    return -1;
  }
  uint64_t state = seed;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t off;
    size_t len;
    next_block(&state, size, block, &off, &len);
    /* pread may return less than asked; keep going until the block is whole
     * or the file ends (it may have shrunk since fstat). */
    size_t got = 0;
    while (got < len) {
      ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0) {
        fprintf(stderr, "%s: pread %s: %s\n", prog, path, strerror(errno));
        free(buf);
        return -1;
      }
      t->ops++;
      if (n == 0)
        break;
      got += (size_t)n;
    }
    ex_checksum_add(&t->ck, buf, got, off);
    t->bytes += got;
  }
  free(buf);
  return 0;
}

/* Maps FD's SIZE bytes read-only; returns NULL (with a message) on failure. */
static const unsigned char *map_file(int fd, const char *path, uint64_t size) {
  void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    fprintf(stderr, "%s: mmap %s: %s\n", prog, path, strerror(errno));
    return NULL;
  }
  return p;
}

/* Walks a mapping of the whole file front to back in BLOCK pieces, PASSES
 * times, reading every byte (the checksum touches each one). */
static int run_mmap_seq(int fd, const char *path, uint64_t size, size_t block, uint64_t passes,
                        totals_t *t) {
  if (size == 0)
    return 0; /* A zero-length mapping is invalid; an empty file has no bytes. */
  const unsigned char *map = map_file(fd, path, size);
  if (map == NULL)
    return -1;
  for (uint64_t pass = 0; pass < passes; pass++) {
    for (uint64_t off = 0; off < size; off += block) {
      size_t len = size - off < block ? (size_t)(size - off) : block;
      ex_checksum_add(&t->ck, map + off, len, off);
      t->bytes += len;
      t->ops++;
    }
  }
  munmap((void *)map, (size_t)size);
  return 0;
}

/* Touches the same COUNT random blocks as run_pread_random with SEED. */
static int run_mmap_random(int fd, const char *path, uint64_t size, size_t block, uint64_t count,
                           uint64_t seed, totals_t *t) {
  if (size == 0)
    return 0;
  const unsigned char *map = map_file(fd, path, size);
  if (map == NULL)
    return -1;
  uint64_t state = seed;
  for (uint64_t i = 0; i < count; i++) {
    uint64_t off;
    size_t len;
    next_block(&state, size, block, &off, &len);
    ex_checksum_add(&t->ck, map + off, len, off);
    t->bytes += len;
    t->ops++;
  }
  munmap((void *)map, (size_t)size);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"passes", required_argument, NULL, 'p'}, {"count", required_argument, NULL, 'k'},
      {"seed", required_argument, NULL, 's'},   {"cold", no_argument, NULL, 'c'},
      {"make", no_argument, NULL, 'm'},         {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  uint64_t passes = 1, count = 0, seed = 1;
  int have_count = 0, make = 0, cold = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'p': passes = ex_count_arg(prog, "--passes", optarg); break;
    case 'k': count = ex_count_arg(prog, "--count", optarg); have_count = 1; break;
    case 's': seed = ex_count_arg(prog, "--seed", optarg); break;
    case 'c': cold = 1; break;
    case 'm': make = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  int npos = argc - optind;
  char **pos = argv + optind;

  if (make) return ex_make_command(prog, "fileread", "mode", npos, pos, seed, usage);

  if (npos < 2 || npos > 3) {
    usage(stderr);
    return 2;
  }
  const char *mode = pos[0], *path = pos[1];
  uint64_t block64 = npos == 3 ? ex_size_arg(prog, "BLOCK", pos[2]) : 4096;
  if (block64 == 0 || block64 > (1ULL << 30)) {
    fprintf(stderr, "%s: BLOCK must be between 1 and 1G\n", prog);
    return 2;
  }
  size_t block = (size_t)block64;
  int m_read = !strcmp(mode, "read"), m_pread = !strcmp(mode, "pread-random");
  int m_mseq = !strcmp(mode, "mmap-seq"), m_mrand = !strcmp(mode, "mmap-random");
  if (!(m_read || m_pread || m_mseq || m_mrand)) {
    fprintf(stderr, "%s: unknown mode '%s' (read, pread-random, mmap-seq, mmap-random)\n", prog, mode);
    return 2;
  }
  if (cold && ex_evict_file(prog, path) != 0)
    return 1;

  totals_t t = {0, 0, {0}};
  double t0 = ex_now();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    fprintf(stderr, "%s: fstat %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  uint64_t size = (uint64_t)st.st_size;
  if ((m_mseq || m_mrand) && size > SIZE_MAX) {
    fprintf(stderr, "%s: %s is too large to map in this address space\n", prog, path);
    return 1;
  }
  if (!have_count)
    count = size / block + (size % block != 0);
  int rc;
  if (m_read)
    rc = run_read(fd, path, block, passes, &t);
  else if (m_pread)
    rc = run_pread_random(fd, path, size, block, count, seed, &t);
  else if (m_mseq)
    rc = run_mmap_seq(fd, path, size, block, passes, &t);
  else
    rc = run_mmap_random(fd, path, size, block, count, seed, &t);
  close(fd);
  double seconds = ex_now() - t0;
  if (rc != 0)
    return 1;

  double mib_per_s = seconds > 0 ? (double)t.bytes / (1024.0 * 1024.0) / seconds : 0.0;
  ex_result("fileread",
            "mode=%s block=%zu passes=%llu file_bytes=%llu bytes=%llu ops=%llu seconds=%.6f "
            "mib_per_s=%.1f checksum=0x%016llx",
            mode, block, (unsigned long long)((m_read || m_mseq) ? passes : 1),
            (unsigned long long)size, (unsigned long long)t.bytes, (unsigned long long)t.ops, seconds,
            mib_per_s, (unsigned long long)t.ck.sum);
  return 0;
}
