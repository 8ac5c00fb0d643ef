/*
 * numa_place: allocates a buffer with plain malloc, touches every page of it,
 * and reports on which NUMA node its pages landed (move_pages() in query mode,
 * on an evenly spaced sample of at most 65536 pages) together with the memory
 * policy of the process and of the buffer (get_mempolicy()).  The program sets
 * no policy itself; whatever placement it reports was decided by the kernel's
 * default or by something outside the program (numactl, a preload library).
 * On a one-node machine every page is on node 0, which is still a useful check
 * that a requested binding did not break the allocation.
 */
#include "common.h"

#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <numaif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *prog = "numa_place";

/* Most nodes any kernel supports (CONFIG_NODES_SHIFT=10). */
#define MAX_NODES 1024
/* The most pages queried with one move_pages() call. */
#define MAX_SAMPLES 65536

static void usage(FILE *to) {
  fprintf(to,
          "usage: numa_place SIZE\n"
          "\n"
          "mallocs SIZE bytes (K/M/G suffixes), writes one byte per page, and prints one\n"
          "line 'result workload=numa_place ...' with pages per node (of up to %d\n"
          "sampled pages, as NODE:COUNT pairs), pages not present, and the memory policy\n"
          "of the process and of the buffer (default, local, bind:NODES, interleave:NODES,\n"
          "preferred:NODE, preferred-many:NODES).\n"
          "\n"
          "options:\n"
          "  --help   show this text\n",
          MAX_SAMPLES);
}

/* Appends NODES as a numactl-style list ("0-3,5") to OUT. */
static void format_nodes(const unsigned long *mask, char *out, size_t out_len) {
  size_t used = 0;
  const int bits = 8 * (int)sizeof(unsigned long);
  out[0] = '\0';
  for (int n = 0; n < MAX_NODES; n++) {
    if (!(mask[n / bits] >> (n % bits) & 1UL))
      continue;
    int end = n;
    while (end + 1 < MAX_NODES && (mask[(end + 1) / bits] >> ((end + 1) % bits) & 1UL))
      end++;
    int w = end > n ? snprintf(out + used, out_len - used, "%s%d-%d", used ? "," : "", n, end)
                    : snprintf(out + used, out_len - used, "%s%d", used ? "," : "", n);
    if (w < 0 || (size_t)w >= out_len - used)
      break;
    used += (size_t)w;
    n = end;
  }
}

/* Describes the policy that get_mempolicy() reports for ADDR (NULL: the
 * process policy) as "mode" or "mode:nodes"; "unknown" on failure. */
static void describe_policy(void *addr, char *out, size_t out_len) {
  unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))];
  int mode = -1;
  memset(mask, 0, sizeof mask);
  if (get_mempolicy(&mode, mask, MAX_NODES, addr, addr ? MPOL_F_ADDR : 0) != 0) {
    /* The reason goes to stderr: the result line must stay free of spaces. */
    fprintf(stderr, "%s: get_mempolicy: %s\n", prog, strerror(errno));
    snprintf(out, out_len, "unknown");
    return;
  }
  /* Mode flags such as MPOL_F_STATIC_NODES are or'ed into the high bits. */
  int base = mode & 0xff;
  static const char *const names[] = {"default", "preferred", "bind", "interleave", "local",
                                      "preferred-many", "weighted-interleave"};
  char nodes[256];
  format_nodes(mask, nodes, sizeof nodes);
  if (base < 0 || base >= (int)(sizeof names / sizeof names[0]))
    snprintf(out, out_len, "mode%d:%s", base, nodes);
  else if (base == MPOL_DEFAULT || base == MPOL_LOCAL || nodes[0] == '\0')
    snprintf(out, out_len, "%s", names[base]);
  else
    snprintf(out, out_len, "%s:%s", names[base], nodes);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (argc - optind != 1) {
    usage(stderr);
    return 2;
  }
  uint64_t size = ex_size_arg(prog, "SIZE", argv[optind]);
  if (size == 0 || size > SIZE_MAX) {
    fprintf(stderr, "%s: SIZE must be non-zero and fit in memory\n", prog);
    return 2;
  }
  const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

  double t0 = ex_now();
  unsigned char *buf = malloc((size_t)size);
  if (buf == NULL) {
    fprintf(stderr, "%s: cannot allocate %llu bytes\n", prog, (unsigned long long)size);
    return 1;
  }
  /* The pages the buffer spans, from the page holding its first byte; malloc
   * need not return a page-aligned pointer, so the first and last pages may
   * be partly outside the buffer. */
  uintptr_t first = (uintptr_t)buf & ~(uintptr_t)(page - 1);
  uint64_t npages = ((uintptr_t)buf + size - first + page - 1) / page;
  /* The first write to a page is what places it.  Writes every page-size
   * step from the first byte, plus the last byte, reach every page the
   * buffer spans whatever its alignment, and the checksum over them does not
   * depend on where malloc put the buffer. */
  ex_checksum_t ck = {0};
  for (uint64_t off = 0; off < size; off += page)
    buf[off] = (unsigned char)(off / page);
  buf[size - 1] = 0xa5;
  double touch_seconds = ex_now() - t0;
  for (uint64_t off = 0; off < size; off += page)
    ex_checksum_add(&ck, buf + off, 1, off);
  ex_checksum_add(&ck, buf + size - 1, 1, size - 1);

  uint64_t nsamples = npages < MAX_SAMPLES ? npages : MAX_SAMPLES;
  void **pages = malloc(nsamples * sizeof *pages);
  int *status = malloc(nsamples * sizeof *status);
  if (pages == NULL || status == NULL) {
    fprintf(stderr, "%s: out of memory for the page sample\n", prog);
    return 1;
  }
  /* Evenly spaced sample; the 128-bit product cannot overflow. */
  for (uint64_t i = 0; i < nsamples; i++)
    pages[i] = (void *)(first + (uint64_t)((unsigned __int128)i * npages / nsamples) * page);

  static uint64_t per_node[MAX_NODES];
  uint64_t not_present = 0, errors = 0;
  char placement[4096] = "";
  /* With a NULL node list move_pages() moves nothing: it only reports the
   * node of each page, or a negative errno (-ENOENT: not present). */
  if (move_pages(0, (unsigned long)nsamples, pages, NULL, status, 0) != 0) {
    fprintf(stderr, "%s: move_pages query failed: %s; placement unknown\n", prog, strerror(errno));
    snprintf(placement, sizeof placement, "unknown");
  } else {
    for (uint64_t i = 0; i < nsamples; i++) {
      if (status[i] >= 0 && status[i] < MAX_NODES)
        per_node[status[i]]++;
      else if (status[i] == -ENOENT)
        not_present++;
      else
        errors++;
    }
    size_t used = 0;
    for (int n = 0; n < MAX_NODES; n++) {
      if (per_node[n] == 0)
        continue;
      int w = snprintf(placement + used, sizeof placement - used, "%s%d:%llu", used ? "," : "", n,
                       (unsigned long long)per_node[n]);
      if (w < 0 || (size_t)w >= sizeof placement - used)
        break;
      used += (size_t)w;
    }
    if (used == 0)
      snprintf(placement, sizeof placement, "none");
  }

  char process_policy[300], buffer_policy[300];
  describe_policy(NULL, process_policy, sizeof process_policy);
  describe_policy(buf, buffer_policy, sizeof buffer_policy);
  int nodes_configured = numa_available() < 0 ? 1 : numa_num_configured_nodes();
  free(pages);
  free(status);
  free(buf);

  ex_result("numa_place",
            "bytes=%llu pages=%llu sampled_pages=%llu nodes_configured=%d pages_per_node=%s "
            "not_present=%llu query_errors=%llu process_policy=%s buffer_policy=%s seconds=%.6f "
            "checksum=0x%016llx",
            (unsigned long long)size, (unsigned long long)npages, (unsigned long long)nsamples,
            nodes_configured, placement, (unsigned long long)not_present, (unsigned long long)errors,
            process_policy, buffer_policy, touch_seconds, (unsigned long long)ck.sum);
  return 0;
}
