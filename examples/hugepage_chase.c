/*
 * hugepage_chase: two workloads whose speed depends on the page size backing
 * a large malloc'd buffer.
 *
 *   chase        follows a random cyclic permutation through an array of
 *                64-byte nodes; every step is a dependent load to a random
 *                cache line, so the time per step is dominated by cache and
 *                TLB misses, and larger pages mean fewer TLB misses.
 *   first-touch  mallocs a buffer and writes one byte per 4 KiB; the time is
 *                the page-fault cost, paid once per 4 KiB page or once per
 *                2 MiB huge page.
 *
 * Both end by reading AnonHugePages from /proc/self/smaps_rollup while the
 * buffer is still allocated, so the result shows whether huge pages were used.
 * The program itself asks for nothing: it calls malloc like any program.
 */
#include "common.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "hugepage_chase";

static void usage(FILE *to) {
  fprintf(to,
          "usage: hugepage_chase chase SIZE [--steps N] [--seed S]\n"
          "       hugepage_chase first-touch SIZE\n"
          "\n"
          "chase: malloc SIZE bytes as 64-byte nodes linked in one random cycle\n"
          "(Sattolo's algorithm) and follow N links (default: the whole cycle, which\n"
          "also checks that every node is visited exactly once).  Reports ns per step.\n"
          "first-touch: malloc SIZE bytes and write one byte per 4 KiB page.  Reports the time.\n"
          "Both print one line 'result workload=hugepage_chase ...' including anon_huge_kib,\n"
          "the AnonHugePages of the process while the buffer is live.\n"
          "\n"
          "options:\n"
          "  SIZE        buffer size (K/M/G suffixes)\n"
          "  --steps N   links to follow in chase mode, default SIZE/64\n"
          "  --seed S    seed for the permutation, default 1\n"
          "  --help      show this text\n");
}

/* One node per cache line, so consecutive steps never share a line. */
typedef struct {
  uint64_t next;
  unsigned char pad[56];
} node_t;

_Static_assert(sizeof(node_t) == 64, "a node must fill exactly one cache line");

/* Reports the THP setting and AnonHugePages into the caller's strings. */
static void huge_status(char *thp, size_t thp_len, long long *anon_huge_kib) {
  ex_sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled", thp, thp_len);
  *anon_huge_kib = ex_smaps_rollup_kib("AnonHugePages");
}

static int run_chase(uint64_t size, uint64_t steps, int have_steps, uint64_t seed) {
  uint64_t n = size / sizeof(node_t);
  if (n < 2 || size > SIZE_MAX) {
    fprintf(stderr, "%s: SIZE must hold at least two 64-byte nodes and fit in memory\n", prog);
    return 1;
  }
  if (!have_steps)
    steps = n;
  double t_setup = ex_now();
  node_t *nodes = malloc((size_t)(n * sizeof(node_t)));
  uint64_t *perm = malloc((size_t)(n * sizeof(uint64_t)));
  if (nodes == NULL || perm == NULL) {
    fprintf(stderr, "%s: cannot allocate %llu bytes\n", prog, (unsigned long long)size);
    return 1;
  }
  /* Sattolo's algorithm: like Fisher-Yates but j is drawn strictly below i,
   * which yields a permutation that is a single cycle through all n
   * elements, so the chase cannot get stuck in a short loop. */
  for (uint64_t i = 0; i < n; i++)
    perm[i] = i;
  uint64_t state = seed;
  for (uint64_t i = n - 1; i > 0; i--) {
    uint64_t j = ex_rand_below(&state, i);
    uint64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
  for (uint64_t i = 0; i < n; i++)
    nodes[i].next = perm[i];
  free(perm);
  t_setup = ex_now() - t_setup;

  /* The chase.  The checksum folds in every position visited; it runs
   * beside the dependent chain of loads and does not lengthen it. */
  uint64_t p = 0, ck = 0xcbf29ce484222325ULL, first_return = 0;
  double t0 = ex_now();
  for (uint64_t s = 1; s <= steps; s++) {
    p = nodes[p].next;
    ck = (ck ^ p) * 0x100000001b3ULL;
    if (p == 0 && first_return == 0)
      first_return = s;
  }
  double seconds = ex_now() - t0;

  char thp[32];
  long long anon_huge_kib;
  huge_status(thp, sizeof thp, &anon_huge_kib);
  free(nodes);
  /* A full cycle must come back to node 0 after exactly n steps. */
  if (steps >= n && first_return != n) {
    fprintf(stderr, "%s: the permutation is not one cycle (returned after %llu of %llu steps)\n", prog,
            (unsigned long long)first_return, (unsigned long long)n);
    return 1;
  }
  ex_result("hugepage_chase",
            "mode=chase bytes=%llu nodes=%llu steps=%llu cycle_checked=%d setup_seconds=%.6f "
            "seconds=%.6f ns_per_step=%.2f thp_enabled=%s anon_huge_kib=%lld checksum=0x%016llx",
            (unsigned long long)size, (unsigned long long)n, (unsigned long long)steps, steps >= n,
            t_setup, seconds, steps > 0 ? seconds * 1e9 / (double)steps : 0.0, thp, anon_huge_kib,
            (unsigned long long)ck);
  return 0;
}

static int run_first_touch(uint64_t size) {
  if (size == 0 || size > SIZE_MAX) {
    fprintf(stderr, "%s: SIZE must be non-zero and fit in memory\n", prog);
    return 1;
  }
  const uint64_t step = 4096;
  double t0 = ex_now();
  unsigned char *buf = malloc((size_t)size);
  if (buf == NULL) {
    fprintf(stderr, "%s: cannot allocate %llu bytes\n", prog, (unsigned long long)size);
    return 1;
  }
  for (uint64_t off = 0; off < size; off += step)
    buf[off] = (unsigned char)(off / step);
  double seconds = ex_now() - t0;

  /* Read the bytes back so the writes cannot be optimised away and the
   * output proves the memory holds what was written. */
  ex_checksum_t ck = {0};
  uint64_t pages = 0;
  for (uint64_t off = 0; off < size; off += step, pages++)
    ex_checksum_add(&ck, buf + off, 1, off);
  char thp[32];
  long long anon_huge_kib;
  huge_status(thp, sizeof thp, &anon_huge_kib);
  free(buf);
  ex_result("hugepage_chase",
            "mode=first-touch bytes=%llu pages_4k=%llu seconds=%.6f ns_per_page=%.1f mib_per_s=%.1f "
            "thp_enabled=%s anon_huge_kib=%lld checksum=0x%016llx",
            (unsigned long long)size, (unsigned long long)pages, seconds,
            pages > 0 ? seconds * 1e9 / (double)pages : 0.0,
            seconds > 0 ? (double)size / (1024.0 * 1024.0) / seconds : 0.0, thp, anon_huge_kib,
            (unsigned long long)ck.sum);
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"steps", required_argument, NULL, 'n'},
      {"seed", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  uint64_t steps = 0, seed = 1;
  int have_steps = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'n': steps = ex_count_arg(prog, "--steps", optarg); have_steps = 1; break;
    case 's': seed = ex_count_arg(prog, "--seed", optarg); break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (argc - optind != 2) {
    usage(stderr);
    return 2;
  }
  const char *mode = argv[optind];
  uint64_t size = ex_size_arg(prog, "SIZE", argv[optind + 1]);
  if (!strcmp(mode, "chase"))
    return run_chase(size, steps, have_steps, seed);
  if (!strcmp(mode, "first-touch"))
    return run_first_touch(size);
  fprintf(stderr, "%s: unknown mode '%s' (chase, first-touch)\n", prog, mode);
  return 2;
}
