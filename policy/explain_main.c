/*
 * policy/explain_main.c: mmhint-explain, which answers "what would libmmhint
 * do with this file?" without running a program under it.
 *
 *   mmhint-explain [--config FILE] [--program NAME] [--mode read|write|rdwr] PATH...
 *
 * It loads the configuration exactly as the shim does (defaults, config file,
 * MMHINT_* environment; --config takes the place of MMHINT_CONFIG) and prints
 * JSON lines: first {"process": {...}, "config_file": ..., "warnings": [...]},
 * then for each PATH {"path", "size", "mode", "rule", "options"}, where each
 * option is {"value": text, "source": "default" | "env" | "config:FILE:LINE" |
 * "rule:FILE:LINE"}.  A path that does not exist is explained as an unknown
 * size (-1).  This is an ordinary program, so it uses stdio freely.
 */
#include "policy/options.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Writes `s` as a JSON string literal. */
static void json_string(const char *s) {
  putchar('"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", stdout);
    else if (*p == '\t')
      fputs("\\t", stdout);
    else if (*p < 0x20 || *p == 0x7f)
      printf("\\u%04x", *p);
    else
      putchar(*p);
  }
  putchar('"');
}

/* Prints {"value": ..., "source": ...} for option `id` of `v`. */
static void json_option(const mmhint_config_t *cfg, const mmhint_values_t *v, int id) {
  char val[MMHINT_STRING_MAX], src[MMHINT_STRING_MAX + 64];
  mmhint_value_format(v, id, val, sizeof val);
  switch (v->src[id].kind) {
  case MMHINT_SRC_ENV: snprintf(src, sizeof src, "env"); break;
  case MMHINT_SRC_CONFIG: snprintf(src, sizeof src, "config:%s:%d", cfg->config_path, v->src[id].line); break;
  case MMHINT_SRC_RULE: snprintf(src, sizeof src, "rule:%s:%d", cfg->config_path, v->src[id].line); break;
  default: snprintf(src, sizeof src, "default"); break;
  }
  json_string(mmhint_option_table[id].name);
  fputs(": {\"value\": ", stdout);
  json_string(val);
  fputs(", \"source\": ", stdout);
  json_string(src);
  putchar('}');
}

/* Prints the options of one scope as a JSON object. */
static void json_options(const mmhint_config_t *cfg, const mmhint_values_t *v, mmhint_opt_scope_t scope) {
  int first = 1;
  putchar('{');
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    if (mmhint_option_table[i].scope != scope) continue;
    if (!first) fputs(", ", stdout);
    first = 0;
    json_option(cfg, v, i);
  }
  putchar('}');
}

static int usage(void) {
  fputs("usage: mmhint-explain [--config FILE] [--program NAME] [--mode read|write|rdwr] PATH...\n", stderr);
  return 2;
}

int main(int argc, char **argv) {
  const char *config = NULL, *program = "";
  int mode = MMHINT_MODE_READ, i;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (strncmp(a, "--", 2) != 0) break;
    if (i + 1 >= argc) return usage();
    if (strcmp(a, "--config") == 0) config = argv[++i];
    else if (strcmp(a, "--program") == 0) program = argv[++i];
    else if (strcmp(a, "--mode") == 0) {
      const char *m = argv[++i];
      if (strcmp(m, "read") == 0) mode = MMHINT_MODE_READ;
      else if (strcmp(m, "write") == 0) mode = MMHINT_MODE_WRITE;
      else if (strcmp(m, "rdwr") == 0) mode = MMHINT_MODE_RDWR;
      else return usage();
    } else
      return usage();
  }
  if (i >= argc) return usage();

  /* --config replaces MMHINT_CONFIG in a copy of the environment. */
  size_t n = 0;
  while (environ[n]) n++;
  char **envp = calloc(n + 2, sizeof *envp);
  char *config_var = NULL;
  if (envp == NULL) return 1;
  size_t k = 0;
  for (size_t j = 0; j < n; j++)
    if (!config || strncmp(environ[j], "MMHINT_CONFIG=", 14) != 0) envp[k++] = environ[j];
  if (config) {
    config_var = malloc(strlen(config) + 15);
    if (config_var == NULL) return 1;
    sprintf(config_var, "MMHINT_CONFIG=%s", config);
    envp[k++] = config_var;
  }
  envp[k] = NULL;

  static mmhint_config_t cfg;
  mmhint_config_load(&cfg, envp, (int)getauxval(AT_SECURE));

  fputs("{\"process\": ", stdout);
  json_options(&cfg, &cfg.values, MMHINT_S_PROCESS);
  fputs(", \"config_file\": ", stdout);
  json_string(cfg.config_path);
  fputs(", \"warnings\": [", stdout);
  for (int w = 0; w < cfg.n_warnings; w++) {
    if (w) fputs(", ", stdout);
    json_string(cfg.warnings[w]);
  }
  fputs("]}\n", stdout);

  static mmhint_values_t values;
  for (; i < argc; i++) {
    char abs[PATH_MAX * 2];
    const char *path = argv[i];
    /* Rules match absolute paths, as the shim sees them. */
    if (path[0] != '/') {
      char cwd[PATH_MAX];
      if (getcwd(cwd, sizeof cwd) == NULL) cwd[0] = '\0';
      snprintf(abs, sizeof abs, "%s/%s", cwd, path);
      path = abs;
    }
    struct stat st;
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    mmhint_file_facts_t facts = {path, program, size, size < 0 ? MMHINT_MODE_READ : mode};
    int rule = mmhint_config_for_file(&cfg, &facts, &values);
    fputs("{\"path\": ", stdout);
    json_string(path);
    printf(", \"size\": %lld, \"mode\": \"%s\", \"rule\": ", size,
           facts.mode == MMHINT_MODE_WRITE ? "write" : facts.mode == MMHINT_MODE_RDWR ? "rdwr" : "read");
    if (rule > 0) {
      fputs("{\"file\": ", stdout);
      json_string(cfg.config_path);
      printf(", \"line\": %d}", cfg.rules[rule - 1].line);
    } else {
      fputs("null", stdout);
    }
    fputs(", \"options\": ", stdout);
    json_options(&cfg, &values, MMHINT_S_FILE);
    fputs("}\n", stdout);
  }
  mmhint_config_free(&cfg);
  free(config_var);
  free(envp);
  return 0;
}
