/*
 * numa_probe: allocates a buffer with malloc, touches every page, and reports
 * on which NUMA node each page landed (move_pages with a NULL node list only
 * queries) and which memory policy covers the buffer (get_mempolicy).  It is
 * the independent observer of the NUMA tests: the shim is judged by what this
 * program sees, not by what the shim says it did.
 *
 * Usage: numa_probe [--self-bind=NODE] [--hold] SIZE
 *   SIZE             bytes, with an optional K, M or G suffix (powers of 1024)
 *   --self-bind=N    mbind the buffer to node N before touching it; proves the
 *                    kernel, the machine and move_pages work without the shim
 *   --hold           free nothing before exit (the buffer stays allocated), so
 *                    that a shim writing statistics at exit still sees it
 *
 * Output, one line on stdout:
 *   numa_probe size=67108864 pages=16383 node0=0 node1=16383 policy=bind:1 process=default
 * pages counts the whole pages inside the buffer (a malloc'd buffer is not
 * page-aligned, so 64 MiB usually holds 16383 of them).
 * with one nodeN= field for every node 0..numa_max_node(), plus absent=N when
 * some pages were not resident (a negative status from move_pages),
 * policy= the buffer's own (mapping) policy as get_mempolicy(MPOL_F_ADDR)
 * reports it (default, local, bind:NODES, interleave:NODES, preferred:NODE),
 * and process= the process-wide policy in the same words (what numactl or
 * the numa_process option set; it applies where the mapping says default).
 * Exit status: 0 on success, 1 on a failed system call, 2 on bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_NODES 1024

/* Parses "64M"-style sizes; returns 0 on a malformed or zero size. */
static size_t parse_size(const char *s) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || end == s) return 0;
  switch (*end) {
  case 'k': case 'K': v <<= 10; end++; break;
  case 'm': case 'M': v <<= 20; end++; break;
  case 'g': case 'G': v <<= 30; end++; break;
  default: break;
  }
  if (*end != '\0') return 0;
  return (size_t)v;
}

/* Writes a node mask as "0-1,3" into buf. */
static void format_mask(const unsigned long *mask, int nbits, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  const int bpl = (int)(8 * sizeof(unsigned long));
  for (int n = 0; n < nbits; n++) {
    if (!((mask[n / bpl] >> (n % bpl)) & 1)) continue;
    int start = n;
    while (n + 1 < nbits && ((mask[(n + 1) / bpl] >> ((n + 1) % bpl)) & 1)) n++;
    int w = n > start ? snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", start, n)
                      : snprintf(buf + used, len - used, "%s%d", used ? "," : "", start);
    if (w < 0 || (size_t)w >= len - used) return;
    used += (size_t)w;
  }
}

/* Describes as policy text the policy of the mapping that holds `addr`, or
 * the process's policy when `addr` is NULL. */
static void describe_policy(void *addr, char *buf, size_t len) {
  unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))];
  int mode = -1;
  memset(mask, 0, sizeof mask);
  /* maxnode must cover the kernel's MAX_NUMNODES or the call fails with EINVAL. */
  if (get_mempolicy(&mode, mask, MAX_NODES, addr, addr != NULL ? MPOL_F_ADDR : 0) != 0) {
    snprintf(buf, len, "error(%s)", strerror(errno));
    return;
  }
  char nodes[256];
  format_mask(mask, MAX_NODES, nodes, sizeof nodes);
  /* Mode flags (MPOL_F_STATIC_NODES, ...) ride in the high bits; strip them. */
  switch (mode & 0xff) {
  case MPOL_DEFAULT: snprintf(buf, len, "default"); break;
  case MPOL_LOCAL: snprintf(buf, len, "local"); break;
  case MPOL_BIND: snprintf(buf, len, "bind:%s", nodes); break;
  case MPOL_INTERLEAVE: snprintf(buf, len, "interleave:%s", nodes); break;
  case MPOL_PREFERRED: snprintf(buf, len, "preferred:%s", nodes[0] ? nodes : "local"); break;
  default: snprintf(buf, len, "mode%d:%s", mode, nodes); break;
  }
}

int main(int argc, char **argv) {
  int self_bind = -1;
  int hold = 0;
  const char *size_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--self-bind=", 12) == 0) {
      char *end;
      long n = strtol(argv[i] + 12, &end, 10);
      if (*end != '\0' || end == argv[i] + 12 || n < 0 || n >= MAX_NODES) {
        fprintf(stderr, "numa_probe: bad node in %s\n", argv[i]);
        return 2;
      }
      self_bind = (int)n;
    } else if (strcmp(argv[i], "--hold") == 0) {
      hold = 1;
    } else if (size_arg == NULL && argv[i][0] != '-') {
      size_arg = argv[i];
    } else {
      fprintf(stderr, "usage: numa_probe [--self-bind=NODE] [--hold] SIZE\n");
      return 2;
    }
  }
  size_t size = size_arg ? parse_size(size_arg) : 0;
  if (size == 0) {
    fprintf(stderr, "usage: numa_probe [--self-bind=NODE] [--hold] SIZE  (SIZE like 64M, 65536)\n");
    return 2;
  }

  long page = sysconf(_SC_PAGESIZE);
  char *buf = malloc(size);
  if (buf == NULL) {
    fprintf(stderr, "numa_probe: malloc(%zu): %s\n", size, strerror(errno));
    return 1;
  }

  /* The first and last page of a malloc'd buffer may be shared with malloc's
   * own headers or neighbours, so only whole pages inside the buffer count. */
  uintptr_t first = ((uintptr_t)buf + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
  uintptr_t last = ((uintptr_t)buf + size) & ~((uintptr_t)page - 1);
  size_t npages = last > first ? (last - first) / (size_t)page : 0;
  if (npages == 0) {
    fprintf(stderr, "numa_probe: %zu bytes hold no whole page\n", size);
    return 2;
  }

  if (self_bind >= 0) {
    unsigned long mask[MAX_NODES / (8 * sizeof(unsigned long))];
    memset(mask, 0, sizeof mask);
    mask[self_bind / (8 * sizeof(unsigned long))] |= 1UL << (self_bind % (8 * sizeof(unsigned long)));
    /* MPOL_MF_MOVE also moves pages malloc may already have touched. */
    if (mbind((void *)first, npages * (size_t)page, MPOL_BIND, mask, MAX_NODES, MPOL_MF_MOVE | MPOL_MF_STRICT) != 0) {
      fprintf(stderr, "numa_probe: mbind to node %d: %s\n", self_bind, strerror(errno));
      return 1;
    }
  }

  /* Write one byte per page so that every page is faulted in under the policy. */
  for (size_t off = 0; off < size; off += (size_t)page) buf[off] = (char)off;
  buf[size - 1] = 1;

  void **pages = malloc(npages * sizeof *pages);
  int *status = malloc(npages * sizeof *status);
  if (pages == NULL || status == NULL) {
    fprintf(stderr, "numa_probe: malloc for %zu page entries failed\n", npages);
    return 1;
  }
  for (size_t i = 0; i < npages; i++) pages[i] = (void *)(first + i * (size_t)page);
  if (move_pages(0, (unsigned long)npages, pages, NULL, status, 0) != 0) {
    fprintf(stderr, "numa_probe: move_pages: %s\n", strerror(errno));
    return 1;
  }

  int max_node = numa_available() < 0 ? 0 : numa_max_node();
  if (max_node < 0 || max_node >= MAX_NODES) max_node = 0;
  static size_t per_node[MAX_NODES];
  size_t absent = 0;
  for (size_t i = 0; i < npages; i++) {
    if (status[i] >= 0 && status[i] < MAX_NODES) {
      per_node[status[i]]++;
      if (status[i] > max_node) max_node = status[i];
    } else {
      absent++;
    }
  }

  char policy[320], process_policy[320];
  describe_policy((void *)first, policy, sizeof policy);
  describe_policy(NULL, process_policy, sizeof process_policy);
  printf("numa_probe size=%zu pages=%zu", size, npages);
  for (int n = 0; n <= max_node; n++) printf(" node%d=%zu", n, per_node[n]);
  if (absent) printf(" absent=%zu", absent);
  printf(" policy=%s process=%s\n", policy, process_policy);
  fflush(stdout);

  free(pages);
  free(status);
  if (!hold) free(buf);
  return 0;
}
