/*
 * Helpers shared by the example workloads: size parsing, a monotonic clock,
 * a deterministic content generator, a position-aware checksum, readers for
 * /proc/self files, and the one-line result printer.
 *
 * The example programs are ordinary programs.  They know nothing about any
 * preload library, so that running them unmodified under one shows what the
 * library changes.  Names here are prefixed ex_ to keep them apart from the
 * library's own names.
 */
#ifndef EXAMPLES_COMMON_H
#define EXAMPLES_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------------------
 * Argument parsing
 * ------------------------------------------------------------------------- */

/*
 * Parses a byte count such as "4096", "4K", "64KiB", "1M", "2G" or "1T"
 * (binary multiples; the suffix is case-insensitive and may be followed by
 * "B" or "iB").  Returns 0 and stores the value in *out on success; returns -1
 * for empty input, junk, a negative number or a value that overflows 64 bits.
 */
int ex_parse_size(const char *text, uint64_t *out);

/*
 * Parses a plain non-negative decimal (or 0x hexadecimal) integer; a K/M/G
 * suffix is accepted as for sizes so counts like "1M" work.  Same return
 * convention as ex_parse_size.
 */
int ex_parse_count(const char *text, uint64_t *out);

/*
 * Like ex_parse_size, but on failure prints "PROG: bad WHAT 'TEXT'" to stderr
 * and exits with status 2.  Meant for command-line arguments only.
 */
uint64_t ex_size_arg(const char *prog, const char *what, const char *text);

/* Like ex_parse_count with the same exit-on-error behaviour as ex_size_arg. */
uint64_t ex_count_arg(const char *prog, const char *what, const char *text);

/* ---------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------- */

/* Returns CLOCK_MONOTONIC in seconds as a double; never fails on Linux. */
double ex_now(void);

/* ---------------------------------------------------------------------------
 * Deterministic data
 * ------------------------------------------------------------------------- */

/*
 * The splitmix64 generator: advances *state and returns the next 64-bit value.
 * Used for file contents and for random offsets so that every run with the
 * same seed sees the same data and the same access sequence.
 */
uint64_t ex_rand64(uint64_t *state);

/*
 * Returns a uniformly distributed value in [0, bound) for bound > 0, without
 * modulo bias (Lemire's multiply-and-reject method).
 */
uint64_t ex_rand_below(uint64_t *state, uint64_t bound);

/*
 * Creates (or truncates) PATH and fills it with SIZE bytes of pseudo-random
 * content derived from SEED: 64-bit little-endian words of splitmix64 output.
 * The same PATH, SIZE and SEED always give the same bytes.  Written with plain
 * write() in 1 MiB pieces and fsync()ed so that a later run can evict the file
 * from the page cache.  Returns 0, or -1 with errno set and a message on
 * stderr prefixed with PROG.
 */
int ex_make_file(const char *prog, const char *path, uint64_t size, uint64_t seed);

/*
 * The `--make FILE SIZE` mode every file workload shares: npos/pos are the
 * positional arguments (FILE SIZE), `key` names the mode field of the result
 * line ("mode" or "pattern").  Creates the file, prints
 * "result workload=WORKLOAD KEY=make bytes=... seconds=...", and returns the
 * exit status: 0, 1 when the file could not be made, 2 (after usage) on bad
 * arguments.
 */
int ex_make_command(const char *prog, const char *workload, const char *key, int npos, char **pos, uint64_t seed,
                    void (*usage)(FILE *));

/*
 * Asks the kernel to drop PATH's clean pages from the page cache
 * (posix_fadvise POSIX_FADV_DONTNEED on a descriptor opened only for this and
 * closed again), so that the run that follows starts cold.  This is a set-up
 * step, not a hint to the workload's own accesses.  Returns 0, or -1 with a
 * message on stderr prefixed with PROG.
 */
int ex_evict_file(const char *prog, const char *path);

/* ---------------------------------------------------------------------------
 * Checksum
 * ------------------------------------------------------------------------- */

/*
 * A checksum over a byte stream that depends on every byte and its position:
 * the sum, modulo 2^64, of w_i * (2i + 1) over the little-endian 64-bit words
 * w_i of the stream (the last word zero-padded).  Because it is linear in the
 * bytes, data may be fed in pieces of any size and in any order as long as
 * each piece comes with its stream offset, and two pieces that cover the same
 * bytes give the same contribution however they are split.  The same bytes
 * read by read(), pread() or out of a mapping give the same value.
 */
typedef struct {
  uint64_t sum;
} ex_checksum_t;

/* Adds LEN bytes at BUF, which sit at stream offset OFFSET, to *CK. */
void ex_checksum_add(ex_checksum_t *ck, const void *buf, size_t len, uint64_t offset);

/* ---------------------------------------------------------------------------
 * /proc readers
 * ------------------------------------------------------------------------- */

/*
 * Returns the "read_bytes" field of /proc/self/io: bytes this process caused
 * to be fetched from storage.  Returns -1 if the file cannot be read (kernels
 * without task I/O accounting).
 */
long long ex_proc_read_bytes(void);

/*
 * Returns the value in KiB of field NAME (for example "AnonHugePages") in
 * /proc/self/smaps_rollup, or -1 if the file or the field is missing.
 */
long long ex_smaps_rollup_kib(const char *name);

/*
 * Copies the bracketed choice of a sysfs selector file such as
 * /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never" gives
 * "madvise") into OUT (OUT_LEN bytes).  Writes "unknown" if the file cannot
 * be read.
 */
void ex_sysfs_choice(const char *path, char *out, size_t out_len);

/* ---------------------------------------------------------------------------
 * Result line
 * ------------------------------------------------------------------------- */

/*
 * Prints the one machine-readable line each example ends with:
 * "result workload=NAME " followed by FMT (printf-style; a list of key=value
 * pairs separated by single spaces) and a newline, then flushes stdout.
 */
void ex_result(const char *workload, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
