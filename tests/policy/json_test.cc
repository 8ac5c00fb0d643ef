// Unit tests of policy/json.c: commas, nesting, escaping, numbers.
#include <gtest/gtest.h>

#include <string>

#include "policy/json.h"

namespace {

std::string Text(mmhint_json_t *j) { return std::string(j->buf, j->len); }

TEST(Json, CommasAndNesting) {
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_json_key(&j, "a");
  mmhint_json_uint(&j, 1);
  mmhint_json_key(&j, "b");
  mmhint_json_begin_array(&j);
  mmhint_json_int(&j, -5);
  mmhint_json_bool(&j, 1);
  mmhint_json_null(&j);
  mmhint_json_begin_object(&j);
  mmhint_json_end_object(&j);
  mmhint_json_end_array(&j);
  mmhint_json_key(&j, "c");
  mmhint_json_string(&j, "x");
  mmhint_json_end_object(&j);
  EXPECT_EQ(Text(&j), "{\"a\":1,\"b\":[-5,true,null,{}],\"c\":\"x\"}");
  mmhint_json_free(&j);
}

TEST(Json, ExtremeNumbers) {
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_array(&j);
  mmhint_json_uint(&j, UINT64_MAX);
  mmhint_json_int(&j, INT64_MIN);
  mmhint_json_uint(&j, 0);
  mmhint_json_end_array(&j);
  EXPECT_EQ(Text(&j), "[18446744073709551615,-9223372036854775808,0]");
  mmhint_json_free(&j);
}

TEST(Json, EscapesControlQuotesAndInvalidUtf8ButKeepsValidUtf8) {
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_string(&j, "a\"b\\c\td\x01 \xc3\xa9 \xe2\x82\xac \xff \xc3");
  EXPECT_EQ(Text(&j), "\"a\\\"b\\\\c\\u0009d\\u0001 \xc3\xa9 \xe2\x82\xac \\u00ff \\u00c3\"");
  mmhint_json_free(&j);
}

TEST(Json, GrowsPastTheFirstBuffer) {
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_array(&j);
  for (int i = 0; i < 100000; i++) mmhint_json_uint(&j, 1234567);
  mmhint_json_end_array(&j);
  EXPECT_FALSE(j.failed);
  EXPECT_EQ(j.len, 2 + 100000 * 7 + 99999);
  mmhint_json_free(&j);
}

}  // namespace
