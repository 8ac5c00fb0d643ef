/*
 * index_lookup: a "big in-memory index" program.  It loads a file of
 * fixed-size records with ordinary 4 KiB read() calls, copies every record
 * into memory obtained from malloc (an arena of 16 MiB blocks) and indexes it
 * in an open-addressing hash table (one calloc'd array), then answers N
 * lookups.  Each record names four other records by key; the key looked up
 * next is taken from the record just found, so every lookup depends on the
 * one before it: a hash-table probe at a random slot, then a load from a
 * random record, each a cache miss and, with 4 KiB pages over hundreds of
 * MiB, a TLB miss.  That is the pattern of key-value caches, graph traversals
 * over an in-memory index and join probes.
 *
 * Like the other examples it knows nothing about any preload library: it
 * calls read() and malloc() like any program.  stdout gets one result line
 * whose fields depend only on the input and the arguments (so two runs under
 * different policies print the same line); timings and the huge-page status
 * go to stderr.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *prog = "index_lookup";

#define READ_BLOCK 4096u
#define ARENA_BLOCK ((size_t)16 << 20)
#define MAGIC "IDXLOOK1"

static void usage(FILE *to) {
  fprintf(to,
          "usage: index_lookup FILE [--lookups N]\n"
          "       index_lookup --make FILE SIZE [--seed S]\n"
          "\n"
          "Loads FILE (made by --make) with 4 KiB read() calls, copies its 64-byte\n"
          "records into malloc'd 16 MiB arena blocks, indexes them by key in an\n"
          "open-addressing hash table (one calloc'd array, 2 slots of 16 bytes per\n"
          "record, rounded up to a power of two), then performs N dependent lookups:\n"
          "each record holds the keys of four others and the next key to look up is\n"
          "taken from the record just found.  Memory used is about 1.5 x FILE's size\n"
          "(up to 2x when the table rounds up).\n"
          "\n"
          "stdout: one line 'result workload=index_lookup records=... lookups=...\n"
          "found=... checksum=0x...' that depends only on FILE and N; timings and\n"
          "AnonHugePages go to stderr.\n"
          "\n"
          "options:\n"
          "  --lookups N   lookups to perform (K/M/G suffixes), default: one per record\n"
          "  --make        create FILE with SIZE bytes of records (SIZE with K/M/G\n"
          "                suffixes, rounded down to 64 bytes, at least 2 records) and exit\n"
          "  --seed S      seed for --make content, default 1\n"
          "  --help        show this text\n");
}

/* One record, in the file and in memory: one cache line. */
typedef struct {
  uint64_t key;
  uint64_t ref[4]; /* Keys of other records. */
  uint64_t value;
  uint64_t aux[2];
} record_t;

_Static_assert(sizeof(record_t) == 64, "a record must be 64 bytes");

/* The file starts with one header of the same size. */
typedef struct {
  char magic[8];
  uint64_t records;
  uint64_t seed;
  uint64_t pad[5];
} header_t;

_Static_assert(sizeof(header_t) == 64, "the header must be 64 bytes");

/* A bijection of 64-bit integers (the splitmix64 finaliser), so that record
 * i's key is unique without a lookup. */
static uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t key_of(uint64_t i, uint64_t seed) { return mix64(i + seed * 0x9e3779b97f4a7c15ULL); }

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int make_file(const char *path, uint64_t size, uint64_t seed) {
  uint64_t n = size / sizeof(record_t);
  if (n < 3) {
    fprintf(stderr, "%s: SIZE must hold a header and at least two 64-byte records\n", prog);
    return 2;
  }
  n -= 1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot create %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  enum { BATCH = 16384 };
  record_t *buf = malloc(BATCH * sizeof(record_t));
  if (buf == NULL) {
    fprintf(stderr, "%s: out of memory\n", prog);
    close(fd);
    return 1;
  }
  header_t h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, MAGIC, 8);
  h.records = n;
  h.seed = seed;
  uint64_t state = seed ^ 0x5eed5eed5eed5eedULL;
  int rc = write_all(fd, &h, sizeof h);
  for (uint64_t i = 0; rc == 0 && i < n;) {
    size_t k = 0;
    for (; k < BATCH && i < n; k++, i++) {
      record_t *r = &buf[k];
      r->key = key_of(i, seed);
      for (int j = 0; j < 4; j++)
        r->ref[j] = key_of(ex_rand_below(&state, n), seed);
      r->value = ex_rand64(&state);
      r->aux[0] = i;
      r->aux[1] = ex_rand64(&state);
    }
    rc = write_all(fd, buf, k * sizeof(record_t));
  }
  free(buf);
  if (rc != 0 || fsync(fd) != 0) {
    fprintf(stderr, "%s: write %s: %s\n", prog, path, strerror(errno));
    close(fd);
    return 1;
  }
  close(fd);
  return 0;
}

/* ---- the index ----------------------------------------------------------- */

typedef struct {
  uint64_t key;
  record_t *rec; /* NULL: empty slot. */
} slot_t;

typedef struct {
  slot_t *slots;
  uint64_t mask;
  int shift;
  /* The arena: records are copied into 16 MiB blocks obtained from malloc. */
  record_t **blocks;
  size_t nblocks, cap_blocks;
  size_t used_in_block; /* Records used in the last block. */
} index_t;

static inline uint64_t slot_of(const index_t *ix, uint64_t key) {
  return (key * 0x9e3779b97f4a7c15ULL) >> ix->shift;
}

static record_t *arena_put(index_t *ix, const record_t *r) {
  const size_t per_block = ARENA_BLOCK / sizeof(record_t);
  if (ix->nblocks == 0 || ix->used_in_block == per_block) {
    if (ix->nblocks == ix->cap_blocks) {
      size_t cap = ix->cap_blocks ? 2 * ix->cap_blocks : 16;
      record_t **b = realloc(ix->blocks, cap * sizeof *b);
      if (b == NULL)
        return NULL;
      ix->blocks = b;
      ix->cap_blocks = cap;
    }
    record_t *blk = malloc(ARENA_BLOCK);
    if (blk == NULL)
      return NULL;
    ix->blocks[ix->nblocks++] = blk;
    ix->used_in_block = 0;
  }
  record_t *dst = &ix->blocks[ix->nblocks - 1][ix->used_in_block++];
  *dst = *r;
  return dst;
}

/* Inserts R (already in the arena); a repeated key replaces the older record. */
static void index_insert(index_t *ix, record_t *r) {
  uint64_t s = slot_of(ix, r->key);
  for (;;) {
    slot_t *sl = &ix->slots[s];
    if (sl->rec == NULL || sl->key == r->key) {
      sl->key = r->key;
      sl->rec = r;
      return;
    }
    s = (s + 1) & ix->mask;
  }
}

static record_t *index_find(const index_t *ix, uint64_t key) {
  uint64_t s = slot_of(ix, key);
  for (;;) {
    const slot_t *sl = &ix->slots[s];
    if (sl->rec == NULL)
      return NULL;
    if (sl->key == key)
      return sl->rec;
    s = (s + 1) & ix->mask;
  }
}

static int read_full(int fd, void *buf, size_t len, size_t *got) {
  size_t have = 0;
  while (have < len) {
    ssize_t n = read(fd, (char *)buf + have, len - have);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    if (n == 0)
      break;
    have += (size_t)n;
  }
  *got = have;
  return 0;
}

static int run(const char *path, uint64_t lookups, int have_lookups) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
    return 1;
  }
  double t0 = ex_now();
  header_t h;
  size_t got;
  if (read_full(fd, &h, sizeof h, &got) != 0 || got != sizeof h || memcmp(h.magic, MAGIC, 8) != 0 ||
      h.records < 2) {
    fprintf(stderr, "%s: %s is not an index_lookup data file (make one with --make)\n", prog, path);
    close(fd);
    return 1;
  }
  uint64_t n = h.records;
  if (!have_lookups)
    lookups = n;

  index_t ix;
  memset(&ix, 0, sizeof ix);
  uint64_t cap = 2;
  int bits = 1;
  while (cap < 2 * n) {
    cap <<= 1;
    bits++;
  }
  ix.mask = cap - 1;
  ix.shift = 64 - bits;
  ix.slots = calloc((size_t)cap, sizeof(slot_t));
  if (ix.slots == NULL) {
    fprintf(stderr, "%s: cannot allocate a table of %llu slots\n", prog, (unsigned long long)cap);
    close(fd);
    return 1;
  }

  /* The load: 4 KiB read() calls into a small buffer, one record at a time
   * copied into the arena and indexed. */
  unsigned char buf[READ_BLOCK];
  uint64_t loaded = 0, read_calls = 0;
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, buf + have, sizeof buf - have);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      fprintf(stderr, "%s: read %s: %s\n", prog, path, strerror(errno));
      close(fd);
      return 1;
    }
    read_calls++;
    if (r == 0)
      break;
    have += (size_t)r;
    size_t off = 0;
    for (; off + sizeof(record_t) <= have && loaded < n; off += sizeof(record_t), loaded++) {
      record_t rec;
      memcpy(&rec, buf + off, sizeof rec);
      record_t *dst = arena_put(&ix, &rec);
      if (dst == NULL) {
        fprintf(stderr, "%s: out of memory after %llu records\n", prog, (unsigned long long)loaded);
        close(fd);
        return 1;
      }
      index_insert(&ix, dst);
    }
    memmove(buf, buf + off, have - off);
    have -= off;
  }
  close(fd);
  if (loaded != n) {
    fprintf(stderr, "%s: %s is truncated: %llu of %llu records\n", prog, path, (unsigned long long)loaded,
            (unsigned long long)n);
    return 1;
  }
  double t_load = ex_now() - t0;

  /* The lookups: the next key comes out of the record just found. */
  double t1 = ex_now();
  uint64_t key = ix.blocks[0][0].key, found = 0, ck = 0xcbf29ce484222325ULL;
  for (uint64_t s = 0; s < lookups; s++) {
    record_t *r = index_find(&ix, key);
    if (r == NULL) {
      ck = (ck ^ key) * 0x100000001b3ULL;
      key = mix64(key + s);
      continue;
    }
    found++;
    uint64_t v = r->value;
    ck = (ck ^ v ^ r->aux[0]) * 0x100000001b3ULL;
    key = r->ref[(v ^ s ^ (s >> 2)) & 3];
  }
  double t_lookup = ex_now() - t1;

  char thp[32];
  ex_sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof thp);
  long long anon_huge_kib = ex_smaps_rollup_kib("AnonHugePages");
  uint64_t table_bytes = cap * sizeof(slot_t), arena_bytes = (uint64_t)ix.nblocks * ARENA_BLOCK;
  fprintf(stderr,
          "%s: load+index %.3fs (%llu read() calls), %llu lookups %.3fs (%.1f ns/lookup); "
          "memory: table %llu MiB + arena %zu x 16 MiB; thp_enabled=%s anon_huge_kib=%lld\n",
          prog, t_load, (unsigned long long)read_calls, (unsigned long long)lookups, t_lookup,
          lookups ? t_lookup * 1e9 / (double)lookups : 0.0, (unsigned long long)(table_bytes >> 20), ix.nblocks,
          thp, anon_huge_kib);
  for (size_t i = 0; i < ix.nblocks; i++)
    free(ix.blocks[i]);
  free(ix.blocks);
  free(ix.slots);
  ex_result("index_lookup", "records=%llu table_slots=%llu memory_bytes=%llu lookups=%llu found=%llu "
                            "checksum=0x%016llx",
            (unsigned long long)n, (unsigned long long)cap, (unsigned long long)(table_bytes + arena_bytes),
            (unsigned long long)lookups, (unsigned long long)found, (unsigned long long)ck);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"lookups", required_argument, NULL, 'n'},
      {"seed", required_argument, NULL, 's'},
      {"make", no_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  uint64_t lookups = 0, seed = 1;
  int have_lookups = 0, make = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'n': lookups = ex_count_arg(prog, "--lookups", optarg); have_lookups = 1; break;
    case 's': seed = ex_count_arg(prog, "--seed", optarg); break;
    case 'm': make = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (make) {
    if (argc - optind != 2) {
      usage(stderr);
      return 2;
    }
    return make_file(argv[optind], ex_size_arg(prog, "SIZE", argv[optind + 1]), seed);
  }
  if (argc - optind != 1) {
    usage(stderr);
    return 2;
  }
  return run(argv[optind], lookups, have_lookups);
}
