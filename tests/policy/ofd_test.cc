// Unit tests of policy/ofd.c: descriptions shared by copies, forgetting,
// ranges, and the table's reach.
#include <gtest/gtest.h>

#include "policy/ofd.h"

namespace {

TEST(Ofd, CopiesShareOneDescriptionUntilTheLastCloses) {
  mmhint_ofd_t *o = mmhint_ofd_new();
  ASSERT_NE(o, nullptr);
  ASSERT_EQ(mmhint_ofd_attach(10, o), 0);
  ASSERT_EQ(mmhint_ofd_attach(11, o), 0);  // dup
  EXPECT_EQ(o->refs, 2);
  EXPECT_EQ(mmhint_ofd_get(10), mmhint_ofd_get(11));
  o->pos = 1234;
  EXPECT_EQ(mmhint_ofd_get(11)->pos, 1234);  // one offset for both numbers
  mmhint_ofd_detach(10);
  EXPECT_EQ(mmhint_ofd_get(10), nullptr);
  EXPECT_EQ(mmhint_ofd_get(11), o);
  EXPECT_EQ(o->refs, 1);
  mmhint_ofd_detach(11);
  EXPECT_EQ(mmhint_ofd_get(11), nullptr);
}

TEST(Ofd, AttachingOverANumberDropsWhatItHeld) {  // dup2 onto an open descriptor
  mmhint_ofd_t *a = mmhint_ofd_new();
  mmhint_ofd_t *b = mmhint_ofd_new();
  mmhint_ofd_attach(20, a);
  mmhint_ofd_attach(21, b);
  mmhint_ofd_attach(21, a);
  EXPECT_EQ(mmhint_ofd_get(21), a);
  EXPECT_EQ(a->refs, 2);
  mmhint_ofd_detach(20);
  mmhint_ofd_detach(21);
  // b went back to the free list; a new description may reuse it, zeroed.
  mmhint_ofd_t *c = mmhint_ofd_new();
  EXPECT_EQ(c->refs, 0);
  EXPECT_EQ(c->last_end, -1);
}

TEST(Ofd, DetachRangeForgetsOnlyThatRange) {
  for (int fd = 30; fd < 40; fd++) mmhint_ofd_attach(fd, mmhint_ofd_new());
  mmhint_ofd_detach_range(33, 36);
  for (int fd = 30; fd < 40; fd++) EXPECT_EQ(mmhint_ofd_get(fd) != nullptr, fd < 33 || fd > 36) << fd;
  mmhint_ofd_detach_range(0, ~0u);
  for (int fd = 30; fd < 40; fd++) EXPECT_EQ(mmhint_ofd_get(fd), nullptr);
}

TEST(Ofd, NumbersBeyondTheTableAreCountedNotTracked) {
  uint64_t before = mmhint_ofd_untracked;
  mmhint_ofd_t *o = mmhint_ofd_new();
  EXPECT_EQ(mmhint_ofd_attach(MMHINT_FD_MAX + 5, o), -1);
  EXPECT_EQ(mmhint_ofd_get(MMHINT_FD_MAX + 5), nullptr);
  EXPECT_EQ(mmhint_ofd_untracked, before + 1);
  // The highest number it reaches works, and costs only its own chunk.
  mmhint_ofd_t *p = mmhint_ofd_new();
  EXPECT_EQ(mmhint_ofd_attach(MMHINT_FD_MAX - 1, p), 0);
  EXPECT_EQ(mmhint_ofd_get(MMHINT_FD_MAX - 1), p);
  mmhint_ofd_detach(MMHINT_FD_MAX - 1);
  EXPECT_EQ(mmhint_ofd_get(-1), nullptr);
}

TEST(OfdFacts, StatisticsForFilesNotForSocketsDirectoriesOrLinks) {
  EXPECT_TRUE(mmhint_ofd_type_has_stats(S_IFREG));
  EXPECT_TRUE(mmhint_ofd_type_has_stats(S_IFBLK));
  EXPECT_TRUE(mmhint_ofd_type_has_stats(S_IFCHR));
  EXPECT_TRUE(mmhint_ofd_type_has_stats(S_IFIFO));
  EXPECT_FALSE(mmhint_ofd_type_has_stats(S_IFSOCK));
  EXPECT_FALSE(mmhint_ofd_type_has_stats(S_IFDIR));
  EXPECT_FALSE(mmhint_ofd_type_has_stats(S_IFLNK));
}

TEST(OfdFacts, SeekableByTypeSharedWhenWritable) {
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFREG, O_RDONLY), (uint32_t)MMHINT_OFD_SEEKABLE);
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFBLK, O_RDONLY | O_CLOEXEC), (uint32_t)MMHINT_OFD_SEEKABLE);
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFREG, O_RDWR), (uint32_t)(MMHINT_OFD_SEEKABLE | MMHINT_OFD_SHARED));
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFREG, O_WRONLY | O_APPEND), (uint32_t)(MMHINT_OFD_SEEKABLE | MMHINT_OFD_SHARED));
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFIFO, O_RDONLY), 0u);  // a pipe: no offsets
  EXPECT_EQ(mmhint_ofd_flags_for(S_IFCHR, O_RDWR), (uint32_t)MMHINT_OFD_SHARED);
}

}  // namespace
