/*
 * pmap_check: parses a prefetch map with the library's own parser
 * (policy/pmap.c, compiled in: the test programs link no project library)
 * and prints what a lookup answers, for the integration tests.
 *
 *   pmap_check MAP [PATH SIZE [MERGE_GAP [MAX_FILL]]]
 * Prints "ok ENTRIES PATHS RANGES", or "error LINE: REASON" (exit 1); with a
 * PATH, then "found N BYTES" and one "OFF LEN" line per merged range, or
 * "missing" / "stale".  With MAX_FILL, the bounded lookup (the gap bytes it
 * filled follow "found N BYTES").
 */
#include <stdio.h>
#include <stdlib.h>

#include "policy/pmap.c"

int main(int argc, char **argv) {
  if (argc != 2 && (argc < 4 || argc > 6)) {
    fprintf(stderr, "usage: pmap_check MAP [PATH SIZE [MERGE_GAP [MAX_FILL]]]\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  static char buf[64 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  size_t cap = len / 4 + 1;
  mmhint_pmap_t m = {0};
  m.entries = calloc(cap, sizeof *m.entries);
  m.paths = calloc(cap, sizeof *m.paths);
  m.ranges = calloc(cap, sizeof *m.ranges);
  m.entries_cap = m.paths_cap = m.ranges_cap = (uint32_t)cap;
  unsigned long line = 0;
  mmhint_pmap_status_t st = mmhint_pmap_parse(&m, buf, len, &line);
  if (st != MMHINT_PMAP_OK) {
    printf("error %lu: %s\n", line, mmhint_pmap_strerror(st));
    return 1;
  }
  printf("ok %u %u %u\n", m.nentries, m.npaths, m.nranges);
  if (argc < 4) return 0;
  uint64_t gap = argc >= 5 ? strtoull(argv[4], NULL, 10) : MMHINT_PMAP_MERGE_GAP;
  mmhint_pmap_range_t *out = calloc(cap, sizeof *out);
  size_t n = 0;
  uint64_t bytes = 0, filled = 0;
  mmhint_pmap_lookup_t r =
      argc == 6 ? mmhint_pmap_lookup_bounded(&m, argv[2], strtoull(argv[3], NULL, 10), gap, strtoull(argv[5], NULL, 10),
                                             out, cap, &n, &bytes, &filled)
                : mmhint_pmap_lookup(&m, argv[2], strtoull(argv[3], NULL, 10), gap, out, cap, &n, &bytes);
  if (r == MMHINT_PMAP_MISSING) printf("missing\n");
  if (r == MMHINT_PMAP_STALE) printf("stale\n");
  if (r == MMHINT_PMAP_FOUND) {
    if (argc == 6) printf("found %zu %llu %llu\n", n, (unsigned long long)bytes, (unsigned long long)filled);
    else printf("found %zu %llu\n", n, (unsigned long long)bytes);
    for (size_t i = 0; i < n; i++) printf("%llu %llu\n", (unsigned long long)out[i].off, (unsigned long long)out[i].len);
  }
  return 0;
}
