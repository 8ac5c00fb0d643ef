/*
 * policy/pmap.h: the prefetch map ("pmap"), the file that `mmhint advise`
 * writes from the statistics' `touched` maps and that `prefetch = learned`
 * reads at open to bring in exactly the ranges an earlier run touched.
 *
 * The format (docs/HINTS.md, "The prefetch map") is text, one item a line:
 *
 *     mmhint-pmap 1                  version line, always first
 *     # any comment                  ignored, anywhere after the first line
 *     file 16777216 65536            an entry: the file's size and the granule
 *     path /data/db.sqlite           one or more: the absolute paths it was opened by
 *     0 131072                       its ranges: offset and length, sorted by offset
 *     8388608 65536
 *     end                            the last line: a map without it is truncated
 *
 * Paths are the statistics' `paths`: absolute as the program opened them
 * (relative ones joined to the working directory), not symlink-resolved;
 * bytes '%', control characters and DEL are written %XX.  A path matches
 * when it is byte for byte equal to one the entry lists; then the size the
 * entry recorded must equal the file's size now, else the entry is stale.
 *
 * The parser is pure: it takes the whole file in a writable buffer (paths are
 * decoded and NUL-terminated in place, so the buffer must outlive the map),
 * never allocates, fills caller-provided arrays, and reports truncated,
 * malformed and out-of-range input by a return code with the line, so that
 * the caller prints one `mmhint:` line and falls back.  Safe for any input.
 *
 * Use at open (prefetch = learned), in this order:
 *   1. read the whole map into a writable buffer (once per process is enough:
 *      the parsed map points into it); size the three arrays len / 4 + 1;
 *   2. mmhint_pmap_parse: not OK -> one `mmhint:` line with
 *      mmhint_pmap_strerror and the line, fall back (issue 15: to `auto`);
 *   3. mmhint_pmap_find(path) for the entry's touched `bytes`, then
 *      mmhint_pmap_lookup_bounded with the path as the statistics record it
 *      (shim/track.c's absolute path) and the size fstat gives now, merge_gap
 *      MMHINT_PMAP_MERGE_GAP, max_fill = bytes * MMHINT_PMAP_FILL_PERMILLE /
 *      1000 (UINT64_MAX fills every gap below merge_gap); MISSING -> nothing
 *      to do for this file, STALE -> one line, fall back; FOUND -> the sorted
 *      requests to issue.
 * Nothing here is thread-unsafe: a parsed map is read-only.
 */
#ifndef MMHINT_POLICY_PMAP_H
#define MMHINT_POLICY_PMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MMHINT_PMAP_VERSION 1
/* Granules are powers of two in [4 KiB, 1 GiB]. */
#define MMHINT_PMAP_GRANULE_MIN 4096ull
#define MMHINT_PMAP_GRANULE_MAX (1ull << 30)
/* The default gap that mmhint_pmap_lookup fills between two ranges: below
 * this, one large sequential request is cheaper than two (docs/HINTS.md). */
#define MMHINT_PMAP_MERGE_GAP (1ull << 20)

/* Return codes of mmhint_pmap_parse (0 is success). */
typedef enum {
  MMHINT_PMAP_OK = 0,
  MMHINT_PMAP_E_HEADER,    /* the first line is not "mmhint-pmap N": not a prefetch map */
  MMHINT_PMAP_E_VERSION,   /* "mmhint-pmap N" with N other than MMHINT_PMAP_VERSION */
  MMHINT_PMAP_E_TRUNCATED, /* the input ends before the "end" line */
  MMHINT_PMAP_E_SYNTAX,    /* a line that is none of the above, or text after "end" */
  MMHINT_PMAP_E_NUMBER,    /* a number that is not decimal digits or is above INT64_MAX */
  MMHINT_PMAP_E_RANGE,     /* a bad granule, a range outside the file or not granule-aligned, ranges out of order */
  MMHINT_PMAP_E_SPACE,     /* more entries, paths or ranges than the caller's arrays hold */
} mmhint_pmap_status_t;

/* Answers of mmhint_pmap_lookup. */
typedef enum {
  MMHINT_PMAP_FOUND = 0,   /* the file's ranges are in the output */
  MMHINT_PMAP_MISSING,     /* no entry lists the path */
  MMHINT_PMAP_STALE,       /* an entry lists it, for a file of another size */
} mmhint_pmap_lookup_t;

typedef struct {
  uint64_t off, len;
} mmhint_pmap_range_t;

typedef struct {
  const char *path;  /* NUL-terminated, decoded, inside the parsed buffer */
  uint32_t entry;    /* index of its entry */
} mmhint_pmap_path_t;

typedef struct {
  uint64_t size;     /* the file's size when the map was written */
  uint64_t granule;
  uint32_t first;    /* index of its first range in mmhint_pmap_t.ranges */
  uint32_t nranges;
  uint64_t bytes;    /* the sum of its ranges' lengths (overlaps counted twice) */
} mmhint_pmap_entry_t;

/*
 * A parsed map.  The caller points the three arrays at storage and sets the
 * caps; the parser sets the counts.  Sizing: every entry, path and range
 * takes at least 4 bytes of input, so caps of len / 4 + 1 always suffice.
 */
typedef struct {
  mmhint_pmap_entry_t *entries;
  mmhint_pmap_path_t *paths;
  mmhint_pmap_range_t *ranges;
  uint32_t entries_cap, paths_cap, ranges_cap;
  uint32_t nentries, npaths, nranges;
} mmhint_pmap_t;

/*
 * Parses `len` bytes at buf (not necessarily NUL-terminated; modified in
 * place) into m.  Returns MMHINT_PMAP_OK, or an error with *line (when not
 * NULL) set to the 1-based line where it was found (the last line for
 * E_TRUNCATED).  After an error m's contents are unspecified.
 */
mmhint_pmap_status_t mmhint_pmap_parse(mmhint_pmap_t *m, char *buf, size_t len, unsigned long *line);

/* A constant sentence for a status, for the caller's `mmhint:` line. */
const char *mmhint_pmap_strerror(mmhint_pmap_status_t s);

/*
 * Looks up `path` (absolute, as opened) for a file of `size` bytes now.  When
 * an entry lists it and its size is `size`, writes its ranges to out, sorted,
 * overlaps and gaps below `merge_gap` bytes merged, and returns
 * MMHINT_PMAP_FOUND with *nout ranges and *bytes their total.  When more than
 * `cap` (≥ 1) ranges remain, the last one is widened to cover the rest, so
 * the answer is always bounded.  The first entry listing the path decides.
 */
mmhint_pmap_lookup_t mmhint_pmap_lookup(const mmhint_pmap_t *m, const char *path, uint64_t size, uint64_t merge_gap,
                                        mmhint_pmap_range_t *out, size_t cap, size_t *nout, uint64_t *bytes);

/* The first entry that lists `path` (byte for byte), or NULL (also for a NULL path). */
const mmhint_pmap_entry_t *mmhint_pmap_find(const mmhint_pmap_t *m, const char *path);

/*
 * mmhint_pmap_lookup with a bound on what merging may add: of the gaps below
 * `merge_gap`, the smallest are filled first, up to `max_fill` bytes of gap
 * in total (the largest threshold T <= merge_gap such that the gaps below T
 * add at most max_fill).  For prefetch = learned, whose target is to read at
 * most about 1.2x what the program's own reads would (issue 15):
 * max_fill = bytes * MMHINT_PMAP_FILL_PERMILLE / 1000 of the entry's touched
 * bytes.  Measured: 2,000 random lookups in a 63 MiB sqlite3 database touched
 * 1,697 runs, 7.5 MiB; every gap was below 1 MiB, so the unbounded lookup
 * answers the whole file (8.3x the touched bytes).  The widening of the last
 * range when `cap` runs out is not bounded.  `*filled` (may be NULL) gets
 * the gap bytes the answer added.
 */
#define MMHINT_PMAP_FILL_PERMILLE 200
mmhint_pmap_lookup_t mmhint_pmap_lookup_bounded(const mmhint_pmap_t *m, const char *path, uint64_t size,
                                                uint64_t merge_gap, uint64_t max_fill, mmhint_pmap_range_t *out,
                                                size_t cap, size_t *nout, uint64_t *bytes, uint64_t *filled);

#ifdef __cplusplus
}
#endif
#endif
