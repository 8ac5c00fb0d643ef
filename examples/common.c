/*
 * Helpers shared by the example workloads.  See common.h for the contracts.
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------
 * Argument parsing
 * ------------------------------------------------------------------------- */

/* Parses NUMBER[SUFFIX]; ALLOW_HEX permits a 0x prefix (counts only). */
static int parse_scaled(const char *text, uint64_t *out, int allow_hex) {
  if (text == NULL || *text == '\0' || *text == '-' || isspace((unsigned char)*text))
    return -1;
  errno = 0;
  char *end = NULL;
  unsigned long long value = strtoull(text, &end, allow_hex ? 0 : 10);
  if (errno != 0 || end == text)
    return -1;
  unsigned shift = 0;
  switch (tolower((unsigned char)*end)) {
  case '\0': break;
  case 'k': shift = 10; end++; break;
  case 'm': shift = 20; end++; break;
  case 'g': shift = 30; end++; break;
  case 't': shift = 40; end++; break;
  case 'b': break; /* A bare "B" suffix means bytes; it is consumed below. */
  default: return -1;
  }
  /* Accept "K", "KB", "KiB" (and "B" alone) so humans can write either. */
  if (shift != 0 && tolower((unsigned char)*end) == 'i')
    end++;
  if (tolower((unsigned char)*end) == 'b')
    end++;
  if (*end != '\0')
    return -1;
  if (shift != 0 && value > (UINT64_MAX >> shift))
    return -1;
  *out = (uint64_t)value << shift;
  return 0;
}

int ex_parse_size(const char *text, uint64_t *out) { return parse_scaled(text, out, 0); }

int ex_parse_count(const char *text, uint64_t *out) { return parse_scaled(text, out, 1); }

uint64_t ex_size_arg(const char *prog, const char *what, const char *text) {
  uint64_t value;
  if (ex_parse_size(text, &value) != 0) {
    fprintf(stderr, "%s: bad %s '%s' (expected a byte count such as 4096, 4K, 1M, 2G)\n", prog, what,
            text ? text : "");
    exit(2);
  }
  return value;
}

uint64_t ex_count_arg(const char *prog, const char *what, const char *text) {
  uint64_t value;
  if (ex_parse_count(text, &value) != 0) {
    fprintf(stderr, "%s: bad %s '%s' (expected a non-negative integer)\n", prog, what, text ? text : "");
    exit(2);
  }
  return value;
}

/* ---------------------------------------------------------------------------
 * Time
 * ------------------------------------------------------------------------- */

double ex_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------------------
 * Deterministic data
 * ------------------------------------------------------------------------- */

uint64_t ex_rand64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t ex_rand_below(uint64_t *state, uint64_t bound) {
  /* Lemire, "Fast Random Integer Generation in an Interval" (2019): the high
   * half of a 128-bit product is uniform once the low half clears a
   * threshold, which avoids both modulo bias and a division per call. */
  unsigned __int128 m = (unsigned __int128)ex_rand64(state) * bound;
  uint64_t low = (uint64_t)m;
  if (low < bound) {
    uint64_t threshold = -bound % bound;
    while (low < threshold) {
      m = (unsigned __int128)ex_rand64(state) * bound;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

int ex_make_file(const char *prog, const char *path, uint64_t size, uint64_t seed) {
  enum { CHUNK = 1 << 20 };
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot create %s: %s\n", prog, path, strerror(errno));
    return -1;
  }
  unsigned char *buf = malloc(CHUNK);
  if (buf == NULL) {
    fprintf(stderr, "%s: out of memory\n", prog);
    close(fd);
    return -1;
  }
  uint64_t state = seed;
  uint64_t done = 0;
  while (done < size) {
    size_t piece = (size - done < CHUNK) ? (size_t)(size - done) : CHUNK;
    /* Words are written byte by byte in little-endian order so the content
     * does not depend on the host's byte order. */
    for (size_t i = 0; i < piece; i += 8) {
      uint64_t w = ex_rand64(&state);
      for (size_t b = 0; b < 8 && i + b < piece; b++)
        buf[i + b] = (unsigned char)(w >> (8 * b));
    }
    size_t off = 0;
    while (off < piece) {
      ssize_t n = write(fd, buf + off, piece - off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        fprintf(stderr, "%s: write %s: %s\n", prog, path, n < 0 ? strerror(errno) : "short write");
        free(buf);
        close(fd);
        return -1;
      }
      off += (size_t)n;
    }
    done += piece;
  }
  free(buf);
  /* Dirty pages cannot be evicted; syncing lets a later "cold" run drop them. */
  if (fsync(fd) != 0 || close(fd) != 0) {
    fprintf(stderr, "%s: sync %s: %s\n", prog, path, strerror(errno));
    return -1;
  }
  return 0;
}

int ex_evict_file(const char *prog, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
    return -1;
  }
  /* Dirty pages are not dropped, so write them back first. */
  (void)fdatasync(fd);
  int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot evict %s from the page cache: %s\n", prog, path, strerror(rc));
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Checksum
 * ------------------------------------------------------------------------- */

/* The contribution of one byte B at stream offset OFF: its place inside word
 * OFF/8 shifted into position, times that word's odd weight. */
static inline uint64_t byte_term(unsigned char b, uint64_t off) {
  return ((uint64_t)b << (8 * (off & 7))) * (2 * (off >> 3) + 1);
}

void ex_checksum_add(ex_checksum_t *ck, const void *buf, size_t len, uint64_t offset) {
  const unsigned char *p = buf;
  uint64_t sum = ck->sum;
  /* Bytes before the first word boundary. */
  while (len > 0 && (offset & 7) != 0) {
    sum += byte_term(*p++, offset++);
    len--;
  }
  /* Whole words: weight 2i+1 for word index i, stepped by 2 per word. */
  uint64_t weight = 2 * (offset >> 3) + 1;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    sum += w * weight;
    weight += 2;
    p += 8;
    offset += 8;
    len -= 8;
  }
  /* The tail, shorter than a word. */
  while (len > 0) {
    sum += byte_term(*p++, offset++);
    len--;
  }
  ck->sum = sum;
}

/* ---------------------------------------------------------------------------
 * /proc readers
 * ------------------------------------------------------------------------- */

/* Finds "NAME:" at the start of a line in FILE and returns the number after
 * it, or -1.  Used for the "key: value" files under /proc. */
static long long proc_field(const char *file, const char *name) {
  FILE *f = fopen(file, "re");
  if (f == NULL)
    return -1;
  char line[256];
  size_t name_len = strlen(name);
  long long value = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
      value = strtoll(line + name_len + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return value;
}

long long ex_proc_read_bytes(void) { return proc_field("/proc/self/io", "read_bytes"); }

long long ex_smaps_rollup_kib(const char *name) { return proc_field("/proc/self/smaps_rollup", name); }

void ex_sysfs_choice(const char *path, char *out, size_t out_len) {
  snprintf(out, out_len, "unknown");
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return;
  char line[256];
  if (fgets(line, sizeof line, f) != NULL) {
    char *open_br = strchr(line, '[');
    char *close_br = open_br ? strchr(open_br, ']') : NULL;
    if (open_br != NULL && close_br != NULL)
      snprintf(out, out_len, "%.*s", (int)(close_br - open_br - 1), open_br + 1);
  }
  fclose(f);
}

/* ---------------------------------------------------------------------------
 * Result line
 * ------------------------------------------------------------------------- */

void ex_result(const char *workload, const char *fmt, ...) {
  va_list ap;
  printf("result workload=%s ", workload);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

int ex_make_command(const char *prog, const char *workload, const char *key, int npos, char **pos, uint64_t seed,
                    void (*usage)(FILE *)) {
  if (npos != 2) {
    usage(stderr);
    return 2;
  }
  uint64_t size = ex_size_arg(prog, "SIZE", pos[1]);
  double t0 = ex_now();
  if (ex_make_file(prog, pos[0], size, seed) != 0) return 1;
  ex_result(workload, "%s=make bytes=%llu seconds=%.6f", key, (unsigned long long)size, ex_now() - t0);
  return 0;
}
