/*
 * tests/fuzz/config_fuzz.c: a libFuzzer target for the config parser and the
 * glob matcher.  Built and run by tests/integration/fuzz_config.sh with
 * -fsanitize=fuzzer,address,undefined; any crash, leak, sanitizer report or
 * hang there fails the test.
 */
#include "policy/options.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One config, reused: it is large (the warnings and the value strings), and
 * the parser must cope with a config that already holds values and rules. */
static mmhint_config_t cfg;

/* Feeds one input to the parser, the per-file matcher and the glob matcher.
 * Returns 0 as libFuzzer requires. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(&cfg, 0, sizeof cfg);
  mmhint_values_defaults(&cfg.values);
  mmhint_config_parse(&cfg, "fuzz.conf", (const char *)data, size);

  /* Every warning is one NUL-terminated line starting "mmhint: ". */
  if (cfg.n_warnings < 0 || cfg.n_warnings > MMHINT_MAX_WARNINGS) abort();
  for (int i = 0; i < cfg.n_warnings; i++)
    if (strncmp(cfg.warnings[i], "mmhint: ", 8) != 0 || memchr(cfg.warnings[i], '\0', sizeof cfg.warnings[i]) == NULL)
      abort();
  if (cfg.n_rules < 0 || cfg.n_rules > MMHINT_MAX_RULES) abort();

  static mmhint_values_t out;
  mmhint_file_facts_t facts = {"/data/x/file.bin", "prog", 1 << 20, MMHINT_MODE_READ};
  int last = mmhint_config_for_file(&cfg, &facts, &out);
  if (last < 0 || last > cfg.n_rules) abort();
  char buf[MMHINT_STRING_MAX];
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) mmhint_value_format(&out, i, buf, sizeof buf);
  mmhint_config_free(&cfg);

  /* The glob matcher: the input split at its first newline (or in half) into
   * a pattern and a path, both NUL-terminated copies. */
  const uint8_t *nl = memchr(data, '\n', size);
  size_t cut = nl ? (size_t)(nl - data) : size / 2;
  char *glob = malloc(cut + 1);
  char *path = malloc(size - cut + 1);
  if (glob && path) {
    memcpy(glob, data, cut);
    glob[cut] = '\0';
    size_t rest = nl ? size - cut - 1 : size - cut;
    memcpy(path, data + size - rest, rest);
    path[rest] = '\0';
    int r = mmhint_glob_match(glob, path);
    if (r != 0 && r != 1) abort();
    /* A pattern without wildcards or escapes matches exactly itself. */
    if (strpbrk(glob, "*?[\\") == NULL && r != (strcmp(glob, path) == 0)) abort();
    if (strpbrk(glob, "*?[\\") == NULL && !mmhint_glob_match(glob, glob)) abort();
  }
  free(glob);
  free(path);
  return 0;
}
