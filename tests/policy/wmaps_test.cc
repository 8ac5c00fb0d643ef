// Unit tests of policy/wmaps.c: the table of shared writable file mappings.
#include <gtest/gtest.h>
#include <sys/stat.h>

extern "C" {
#include "policy/wmaps.h"
}

namespace {

mmhint_file_t *File(uint64_t ino) { return mmhint_stats_file(77, ino, S_IFREG, 0); }

TEST(Wmaps, FindsTheMappingThatContainsAnAddress) {
  char *a = reinterpret_cast<char *>(0x10000000), *b = reinterpret_cast<char *>(0x20000000);
  mmhint_file_t *fa = File(1), *fb = File(2);
  ASSERT_EQ(mmhint_wmaps_add(a, 8192, fa), 0);
  ASSERT_EQ(mmhint_wmaps_add(b, 4096, fb), 0);
  EXPECT_EQ(mmhint_wmaps_find(a), fa);
  EXPECT_EQ(mmhint_wmaps_find(a + 8191), fa);
  EXPECT_EQ(mmhint_wmaps_find(a + 8192), nullptr);
  EXPECT_EQ(mmhint_wmaps_find(b + 100), fb);
  // An munmap of part of a mapping forgets the whole of it (counting stops; nothing is misattributed).
  mmhint_wmaps_forget(a + 4096, 4096);
  EXPECT_EQ(mmhint_wmaps_find(a), nullptr);
  EXPECT_EQ(mmhint_wmaps_find(b), fb);
  mmhint_wmaps_forget(b, 4096);
  EXPECT_EQ(mmhint_wmaps_live, 0u);
}

TEST(Wmaps, TheTableIsBounded) {
  mmhint_file_t *f = File(3);
  char *base = reinterpret_cast<char *>(0x40000000);
  for (int i = 0; i < MMHINT_WMAPS; i++) ASSERT_EQ(mmhint_wmaps_add(base + i * 4096, 4096, f), 0);
  EXPECT_EQ(mmhint_wmaps_add(base + MMHINT_WMAPS * 4096, 4096, f), -1);
  EXPECT_EQ(mmhint_wmaps_find(base + (MMHINT_WMAPS - 1) * 4096), f);
  mmhint_wmaps_forget(base, MMHINT_WMAPS * 4096);
  EXPECT_EQ(mmhint_wmaps_live, 0u);
  EXPECT_EQ(mmhint_wmaps_add(base, 4096, nullptr), -1);
  EXPECT_EQ(mmhint_wmaps_add(base, 0, f), -1);
}

}  // namespace
