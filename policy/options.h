/*
 * policy/options.h: the option table, option values, the config file and its
 * rules.  Pure logic: nothing here knows it runs inside a preload.  File access
 * goes through policy/os/os.h; memory comes from malloc (inside the shim that
 * is the real allocator, because the shim's re-entrancy guard is held).
 */
#ifndef MMHINT_POLICY_OPTIONS_H
#define MMHINT_POLICY_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "include/mmhint_options.def"

/* ---- The table ---------------------------------------------------------- */

typedef enum {
#define MMHINT_X_ENUM(name, type, scope, def, min, max, choices, doc) MMHINT_OPT_##name,
  MMHINT_OPTIONS(MMHINT_X_ENUM)
#undef MMHINT_X_ENUM
  MMHINT_OPT__COUNT
} mmhint_opt_id_t;

/* DURATION values are kept in milliseconds; they are written "10s", "5m", "1h", "500ms", a bare number is seconds. */
typedef enum { MMHINT_T_BOOL, MMHINT_T_INT, MMHINT_T_SIZE, MMHINT_T_ENUM, MMHINT_T_STRING, MMHINT_T_DURATION } mmhint_opt_type_t;
typedef enum { MMHINT_S_PROCESS, MMHINT_S_FILE } mmhint_opt_scope_t;

typedef struct {
  const char *name;       /* "read_mmap" */
  const char *env_name;   /* "MMHINT_READ_MMAP" */
  mmhint_opt_type_t type;
  mmhint_opt_scope_t scope;
  const char *def;        /* default, as text */
  long long min, max;     /* bounds for INT and SIZE */
  const char *choices;    /* "off|on|auto" for ENUM */
  const char *doc;
} mmhint_option_desc_t;

/* The table, indexed by mmhint_opt_id_t. */
extern const mmhint_option_desc_t mmhint_option_table[MMHINT_OPT__COUNT];

/* Returns the id of the option called `name` (exact, case-sensitive), or -1. */
int mmhint_option_find(const char *name);

/* Returns the known option name closest to `name` (edit distance <= 3), or NULL. */
const char *mmhint_option_suggest(const char *name);

/*
 * Writes the name of choice `idx` of ENUM option `id` (the idx-th word of its
 * "a|b|c" choices, from 0) into buf (size len), cut to fit.  Returns 0, or -1
 * with buf empty (when len > 0) when `id` is not an ENUM option or `idx` is
 * not one of its choices.  The one place that turns an ENUM value into text:
 * the value formatter and the statistics use it, so a name cannot differ
 * between the verbose dump and the statistics file.
 */
int mmhint_option_choice_name(int id, long long idx, char *buf, size_t len);

/* ---- Values -------------------------------------------------------------- */

#define MMHINT_STRING_MAX 512

/* Where a value came from. */
typedef enum { MMHINT_SRC_DEFAULT, MMHINT_SRC_CONFIG, MMHINT_SRC_ENV, MMHINT_SRC_RULE } mmhint_source_kind_t;

typedef struct {
  mmhint_source_kind_t kind;
  int line;                 /* config line, for CONFIG and RULE */
} mmhint_source_t;

/*
 * One complete set of option values.  Numbers (BOOL, INT, SIZE) are in num[];
 * ENUM values are the index of the choice in num[]; STRING values are in str[]
 * (only for STRING options; other entries are empty).
 */
typedef struct {
  long long num[MMHINT_OPT__COUNT];
  char str[MMHINT_OPT__COUNT][MMHINT_STRING_MAX];
  mmhint_source_t src[MMHINT_OPT__COUNT];
} mmhint_values_t;

/* Fills `v` with every option's default. */
void mmhint_values_defaults(mmhint_values_t *v);

/*
 * Parses `text` as a value of option `id` and stores it in `v` with source
 * `src`.  Booleans: 1/0, on/off, yes/no, true/false.  Sizes: a number with an
 * optional K, M, G or T suffix (powers of 1024, case-insensitive, optional
 * trailing B/iB).  Returns 0, or -1 and writes a one-line reason (no prefix, no
 * newline) to `err` (size `errlen`) leaving `v` unchanged.
 */
int mmhint_value_set(mmhint_values_t *v, int id, const char *text, mmhint_source_t src, char *err, size_t errlen);

/* Formats option `id`'s value in `v` as text, as a user would write it. */
void mmhint_value_format(const mmhint_values_t *v, int id, char *buf, size_t len);

/* Parses a size ("64K", "2M", "1g", "4096").  Returns 0, or -1 on a bad size or overflow. */
int mmhint_parse_size(const char *text, long long *out);

/* ---- Rules --------------------------------------------------------------- */

/* Open modes a rule can ask for. */
enum { MMHINT_MODE_ANY = 0, MMHINT_MODE_READ = 1, MMHINT_MODE_WRITE = 2, MMHINT_MODE_RDWR = 3 };

typedef struct mmhint_rule {
  int line;                      /* line of the [rule] header in the config file */
  char path[MMHINT_STRING_MAX];  /* glob on the absolute path ("" matches all) */
  char program[256];             /* glob on the program name ("" matches all) */
  long long min_size, max_size;  /* file size range at open, inclusive; max -1 = none */
  int mode;                      /* MMHINT_MODE_* */
  int n_set;                     /* number of options this rule sets */
  int set_id[MMHINT_OPT__COUNT];
  long long set_num[MMHINT_OPT__COUNT];
} mmhint_rule_t;

/*
 * Matches `path` against `glob`.  `*` matches within one path component, `**`
 * across components, `?` one character, `[...]` a class (with `!` or `^`
 * negation and ranges), `\` escapes.  Returns 1 on a match, 0 otherwise.
 */
int mmhint_glob_match(const char *glob, const char *path);

/* ---- Config -------------------------------------------------------------- */

#define MMHINT_MAX_RULES 256
#define MMHINT_MAX_WARNINGS 32

typedef struct {
  mmhint_values_t values;            /* process-level values: defaults < file < env */
  char config_path[MMHINT_STRING_MAX];/* the file that was read, "" if none */
  int n_rules;
  mmhint_rule_t *rules;              /* malloc'd array of n_rules */
  int n_warnings;
  char warnings[MMHINT_MAX_WARNINGS][256]; /* each a full "mmhint: ..." line, no newline */
} mmhint_config_t;

/*
 * Parses config file text (`len` bytes, need not be NUL-terminated) into `cfg`,
 * whose values must already hold defaults.  Each problem adds one warning
 * naming `filename`, the line and the fix; the rest of the file still applies.
 * Never fails as a whole.
 */
void mmhint_config_parse(mmhint_config_t *cfg, const char *filename, const char *text, size_t len);

/*
 * Builds the effective configuration of a process: defaults, then the config
 * file (MMHINT_CONFIG from envp, else $XDG_CONFIG_HOME/mmhint/mmhint.conf or
 * $HOME/.config/mmhint/mmhint.conf, else /etc/mmhint.conf), then MMHINT_*
 * variables of `envp`.  When `secure` is nonzero (AT_SECURE), only
 * /etc/mmhint.conf is read and the environment is ignored.  Reads files through
 * policy/os.  Problems become warnings in `cfg`.
 */
void mmhint_config_load(mmhint_config_t *cfg, char *const *envp, int secure);

/* Releases what mmhint_config_load/parse allocated (not `cfg` itself). */
void mmhint_config_free(mmhint_config_t *cfg);

/* What a file looks like when it is opened, for rule matching. */
typedef struct {
  const char *path;      /* absolute path as opened, or as resolved */
  const char *program;   /* basename of the program */
  long long size;        /* st_size at open */
  int mode;              /* MMHINT_MODE_READ, _WRITE or _RDWR */
} mmhint_file_facts_t;

/*
 * Computes the values that apply to a file: the process values, then every
 * matching rule in order (later rules win).  Returns the 1-based index of the
 * last matching rule, or 0 when none matched.
 */
int mmhint_config_for_file(const mmhint_config_t *cfg, const mmhint_file_facts_t *facts, mmhint_values_t *out);

/*
 * The same as mmhint_config_for_file for the numeric values only (every
 * per-file option is numeric), without sources: what the shim computes at
 * each open, so it stays small (no 11 KiB values struct on the stack).
 */
int mmhint_config_file_num(const mmhint_config_t *cfg, const mmhint_file_facts_t *facts,
                           long long num[MMHINT_OPT__COUNT]);

/*
 * Writes the verbose dump (one "mmhint: name = value (source)" line per
 * option) through `emit`, called once per line without a newline.
 */
void mmhint_config_dump(const mmhint_config_t *cfg, void (*emit)(void *ctx, const char *line), void *ctx);

/* ---- Internal to policy/ (used by config.c, rules.c and their tests) ----- */

/*
 * Parses `text` as a value of option `id` into *num without storing it (for
 * STRING options it only checks the length and sets *num to 0).  Returns 0, or
 * -1 with a one-line reason in `err`, exactly as mmhint_value_set.
 */
int mmhint__value_parse(int id, const char *text, long long *num, char *err, size_t errlen);

/* Formats a numeric value `num` of option `id` (not STRING) as a user would write it. */
void mmhint__format_num(int id, long long num, char *buf, size_t len);

/*
 * mmhint_glob_match, also counting the matcher's steps into *steps (when not
 * NULL), so a test can show that a pathological pattern costs polynomial work.
 */
int mmhint__glob_match_steps(const char *glob, const char *path, unsigned long *steps);

#ifdef __cplusplus
}
#endif
#endif
