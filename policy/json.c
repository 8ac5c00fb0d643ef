/*
 * policy/json.c: see json.h.
 */
#include "policy/json.h"

#include <string.h>
#include <sys/mman.h>

#include "policy/fmt.h"
#include "policy/os/os.h"

void mmhint_json_init(mmhint_json_t *j) { memset(j, 0, sizeof *j); }

void mmhint_json_free(mmhint_json_t *j) {
  if (j->buf) mmhint_os_munmap(j->buf, j->cap);
  j->buf = NULL;
  j->cap = j->len = 0;
}

/* Makes room for n more bytes; returns 0, or -1 (and marks the writer failed). */
static int reserve(mmhint_json_t *j, size_t n) {
  if (j->failed) return -1;
  if (j->len + n <= j->cap) return 0;
  size_t cap = j->cap ? j->cap : 65536;
  while (cap < j->len + n) cap *= 2;
  char *nb = mmhint_os_mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (nb == MAP_FAILED) {
    j->failed = 1;
    return -1;
  }
  if (j->buf) {
    memcpy(nb, j->buf, j->len);
    mmhint_os_munmap(j->buf, j->cap);
  }
  j->buf = nb;
  j->cap = cap;
  return 0;
}

static void put(mmhint_json_t *j, const char *s, size_t n) {
  if (reserve(j, n)) return;
  memcpy(j->buf + j->len, s, n);
  j->len += n;
}

static void putc_(mmhint_json_t *j, char c) { put(j, &c, 1); }

/*
 * Comma state per depth: 0 nothing written yet, 1 a comma is due before the
 * next element, 2 a key was just written and its value comes next.
 */
static void value_prefix(mmhint_json_t *j) {
  if (j->depth <= 0 || j->depth >= 64) return;
  if (j->need_comma[j->depth] == 1) putc_(j, ',');
  j->need_comma[j->depth] = 1;
}

static void open_(mmhint_json_t *j, char c) {
  value_prefix(j);
  putc_(j, c);
  j->depth++;
  if (j->depth < 64) j->need_comma[j->depth] = 0;
}

static void close_(mmhint_json_t *j, char c) {
  putc_(j, c);
  if (j->depth > 0) j->depth--;
}

void mmhint_json_begin_object(mmhint_json_t *j) { open_(j, '{'); }
void mmhint_json_end_object(mmhint_json_t *j) { close_(j, '}'); }
void mmhint_json_begin_array(mmhint_json_t *j) { open_(j, '['); }
void mmhint_json_end_array(mmhint_json_t *j) { close_(j, ']'); }

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, min = 0x80;
  else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800;
  else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000;
  else return 0;
  if (len > n) return 0;
  unsigned cp = c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static void put_escaped(mmhint_json_t *j, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  putc_(j, '"');
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      put(j, e, 2);
      i++;
    } else if (c < 0x20 || c == 0x7F) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(j, e, 6);
      i++;
    } else if (c < 0x80) {
      putc_(j, (char)c);
      i++;
    } else {
      size_t l = utf8_len(p + i, n - i);
      if (l) {
        put(j, s + i, l);
        i += l;
      } else {
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(j, e, 6);
        i++;
      }
    }
  }
  putc_(j, '"');
}

void mmhint_json_key(mmhint_json_t *j, const char *key) {
  if (j->depth > 0 && j->depth < 64 && j->need_comma[j->depth] == 1) putc_(j, ',');
  put_escaped(j, key, strlen(key));
  putc_(j, ':');
  if (j->depth > 0 && j->depth < 64) j->need_comma[j->depth] = 2;
}

void mmhint_json_string_n(mmhint_json_t *j, const char *s, size_t n) {
  value_prefix(j);
  put_escaped(j, s, n);
}
void mmhint_json_string(mmhint_json_t *j, const char *s) { mmhint_json_string_n(j, s ? s : "", s ? strlen(s) : 0); }

void mmhint_json_uint(mmhint_json_t *j, uint64_t v) {
  char b[MMHINT_FMT_U64_MAX];
  size_t n = mmhint_fmt_u64(b, v);
  value_prefix(j);
  put(j, b, n);
}

void mmhint_json_int(mmhint_json_t *j, int64_t v) {
  if (v < 0) {
    value_prefix(j);
    putc_(j, '-');
    /* The sign is out; write the magnitude as the value already started. */
    char b[MMHINT_FMT_U64_MAX];
    put(j, b, mmhint_fmt_u64(b, (uint64_t)(-(v + 1)) + 1));
    return;
  }
  mmhint_json_uint(j, (uint64_t)v);
}

void mmhint_json_bool(mmhint_json_t *j, int v) {
  value_prefix(j);
  if (v) put(j, "true", 4);
  else put(j, "false", 5);
}

void mmhint_json_null(mmhint_json_t *j) {
  value_prefix(j);
  put(j, "null", 4);
}

void mmhint_json_raw(mmhint_json_t *j, const char *s) { put(j, s, strlen(s)); }

void mmhint_json_kv_uint(mmhint_json_t *j, const char *key, uint64_t v) {
  mmhint_json_key(j, key);
  mmhint_json_uint(j, v);
}

void mmhint_json_kv_int(mmhint_json_t *j, const char *key, int64_t v) {
  mmhint_json_key(j, key);
  mmhint_json_int(j, v);
}

void mmhint_json_kv_string(mmhint_json_t *j, const char *key, const char *s) {
  mmhint_json_key(j, key);
  mmhint_json_string(j, s);
}

void mmhint_json_kv_bool(mmhint_json_t *j, const char *key, int v) {
  mmhint_json_key(j, key);
  mmhint_json_bool(j, v);
}
