/*
 * policy/json.h: a small JSON writer into a growable buffer taken from the
 * kernel (mmap/mremap), so writing statistics never calls the program's
 * allocator.  Commas are inserted automatically.
 */
#ifndef MMHINT_POLICY_JSON_H
#define MMHINT_POLICY_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  char *buf;
  size_t len, cap;
  int failed;        /* set when memory ran out; further output is dropped */
  int depth;
  int need_comma[64];
} mmhint_json_t;

/* Starts an empty document. */
void mmhint_json_init(mmhint_json_t *j);
/* Releases the buffer. */
void mmhint_json_free(mmhint_json_t *j);

void mmhint_json_begin_object(mmhint_json_t *j);
void mmhint_json_end_object(mmhint_json_t *j);
void mmhint_json_begin_array(mmhint_json_t *j);
void mmhint_json_end_array(mmhint_json_t *j);
/* Writes a key; the next value call supplies its value. */
void mmhint_json_key(mmhint_json_t *j, const char *key);
/* Writes a string value, escaped; bytes that are not valid UTF-8 become \u00XX. */
void mmhint_json_string(mmhint_json_t *j, const char *s);
void mmhint_json_string_n(mmhint_json_t *j, const char *s, size_t n);
void mmhint_json_uint(mmhint_json_t *j, uint64_t v);
void mmhint_json_int(mmhint_json_t *j, int64_t v);
void mmhint_json_bool(mmhint_json_t *j, int v);
void mmhint_json_null(mmhint_json_t *j);
/* A key and its value in one call: the common case inside an object. */
void mmhint_json_kv_uint(mmhint_json_t *j, const char *key, uint64_t v);
void mmhint_json_kv_int(mmhint_json_t *j, const char *key, int64_t v);
void mmhint_json_kv_string(mmhint_json_t *j, const char *key, const char *s);
void mmhint_json_kv_bool(mmhint_json_t *j, const char *key, int v);

/* Writes raw text (a newline for readability). */
void mmhint_json_raw(mmhint_json_t *j, const char *s);

#ifdef __cplusplus
}
#endif
#endif
