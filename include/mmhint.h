/*
 * mmhint.h: the public interface of libmmhint.
 *
 * Most programs never include this: libmmhint works on unmodified programs
 * loaded with LD_PRELOAD.  A program that wants to cooperate can ask for an
 * option's effective value or flush its statistics at a moment it chooses.
 * Resolve these with dlsym(RTLD_DEFAULT, ...) to run with or without the
 * library; linking against it directly is also fine.
 */
#ifndef MMHINT_H
#define MMHINT_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_VERSION_MAJOR 0
#define MMHINT_VERSION_MINOR 1
#define MMHINT_VERSION_PATCH 0
#define MMHINT_VERSION_STRING "0.1.0"
/* The statistics file's schema; changes only when a key changes meaning. */
#define MMHINT_STATS_SCHEMA "mmhint-stats/1"

/* Returns the library's version as "MAJOR.MINOR.PATCH". */
const char *mmhint_version(void);

/*
 * Writes the effective process-level value of option `name` (as the user
 * would write it, e.g. "auto", "64K" printed as "65536") into buf (size len,
 * NUL-terminated, truncated if needed).  Returns 0, or -1 with errno ENOENT
 * for an unknown option.
 */
int mmhint_option_get(const char *name, char *buf, size_t len);

/*
 * Writes the statistics gathered so far, now, to the MMHINT_STATS path (with
 * end_reason "flush").  The file written at exit will hold the whole run again.
 * Returns 0; -1 with errno ENODATA when statistics are off, or the error of
 * writing the file.
 */
int mmhint_stats_flush(void);

/*
 * Nonzero in builds that place allocations on NUMA nodes (the numa option).
 * A data symbol so that tools can test for it with nm -D without running code.
 */
extern int mmhint_numa_supported;

#ifdef __cplusplus
}
#endif
#endif
