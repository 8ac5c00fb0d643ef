// tests/policy/readmap_test.cc: the read->mmap engine's decisions and windows
// (policy/readmap.c), without LD_PRELOAD.  The copies themselves, offsets
// across fork/exec and the SIGBUS guard are tested end to end by
// tests/integration/readmap_fuzz.sh and readmap_semantics.sh.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

extern "C" {
#include "policy/options.h"
#include "policy/readmap.h"
}

namespace {

mmhint_rm_params_t Params(int mode = MMHINT_RM_ON, int64_t min_file = 0) {
  mmhint_rm_params_t p{};
  p.mode = mode;
  p.min_file = min_file;
  p.max_read = 32768;
  return p;
}

mmhint_rm_facts_t Regular(int64_t size) {
  mmhint_rm_facts_t f{};
  f.oflags = O_RDONLY;
  f.opened = 1;
  f.type = S_IFREG;
  f.size = size;
  f.dev = 1;
  f.ino = 2;
  return f;
}

TEST(ReadmapEligible, RegularReadOnlyFileConverts) {
  mmhint_rm_params_t p = Params();
  mmhint_rm_facts_t f = Regular(100000);
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), -1);
}

TEST(ReadmapEligible, EachReasonIsReported) {
  mmhint_rm_params_t p = Params(MMHINT_RM_ON, 65536);
  mmhint_rm_facts_t f = Regular(100000);
  f.type = S_IFIFO;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_not_regular);
  f = Regular(100000);
  f.opened = 0;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_inherited);
  for (int fl : {O_RDWR, O_WRONLY, O_RDONLY | O_DIRECT, O_RDONLY | O_APPEND, O_PATH}) {  // O_RDWR: not asked
    f = Regular(100000);
    f.oflags = fl;
    EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_open_flags) << fl;
  }
  for (long magic : {0x9fa0L, 0x62656572L, 0x65735546L}) {  // proc, sysfs, fuse
    f = Regular(100000);
    f.fs_magic = magic;
    EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_filesystem) << magic;
  }
  f = Regular(1000);
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_too_small);
  f = Regular(0);  // /proc-like files report 0 even on other filesystems
  p.min_file = 0;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_too_small);
}

TEST(ReadmapEligible, ReadWriteOnlyWhenAsked) {
  mmhint_rm_params_t p = Params();
  mmhint_rm_facts_t f = Regular(100000);
  f.oflags = O_RDWR;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_open_flags);
  p.writable = 1;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), -1);
  f.oflags = O_WRONLY;  // nothing to read
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_open_flags);
  f.oflags = O_RDWR | O_APPEND;  // every write moves the offset to an end the shim cannot see
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_open_flags);
}

TEST(ReadmapEligible, AnEmptyFileConvertsOnlyReadWriteOnARealFilesystem) {
  mmhint_rm_params_t p = Params();
  p.writable = 1;
  mmhint_rm_facts_t f = Regular(0);
  f.fs_magic = 0xEF53;  // ext4
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_too_small);  // read-only: a pseudo-file may report 0
  f.oflags = O_RDWR;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), -1);  // a database this program is about to fill
  f.fs_magic = 0x27e0eb;  // cgroup v1: files report 0 whatever they hold
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_too_small);
  f.fs_magic = 0xEF53;
  p.min_file = 4096;
  EXPECT_EQ(mmhint_rm_eligible(&p, &f), MMHINT_FB_too_small);
}

TEST(ReadmapWindowSize, AQuarterOfASmallCapNotBelowTwoMiB) {
  EXPECT_EQ(mmhint_rm_window_shift_for((int64_t)8 << 30), MMHINT_RM_WINDOW_SHIFT);  // the default cap: 128 MiB
  EXPECT_EQ(mmhint_rm_window_shift_for((int64_t)512 << 20), MMHINT_RM_WINDOW_SHIFT);
  EXPECT_EQ(mmhint_rm_window_shift_for((int64_t)511 << 20), MMHINT_RM_WINDOW_SHIFT - 1);
  EXPECT_EQ(mmhint_rm_window_shift_for((int64_t)8 << 20), 21);  // 2 MiB windows under an 8 MiB cap
  EXPECT_EQ(mmhint_rm_window_shift_for(0), MMHINT_RM_MIN_WINDOW_SHIFT);
}

TEST(ReadmapSeek, MatchesTheKernelRules) {
  EXPECT_EQ(mmhint_rm_seek(100, 1000, 5, SEEK_SET), 5);
  EXPECT_EQ(mmhint_rm_seek(100, 1000, -5, SEEK_CUR), 95);
  EXPECT_EQ(mmhint_rm_seek(100, 1000, -5, SEEK_END), 995);
  EXPECT_EQ(mmhint_rm_seek(100, 1000, 50, SEEK_END), 1050);  // past the end is allowed
  EXPECT_EQ(mmhint_rm_seek(100, 1000, -101, SEEK_CUR), -EINVAL);
  EXPECT_EQ(mmhint_rm_seek(100, 1000, -1, SEEK_SET), -EINVAL);
  EXPECT_EQ(mmhint_rm_seek(INT64_MAX, 1000, 1, SEEK_CUR), -EINVAL);  // overflow
  EXPECT_EQ(mmhint_rm_seek(0, 0, MMHINT_RM_MAX_OFFSET, SEEK_SET), -E2BIG);  // the kernel decides
  EXPECT_EQ(mmhint_rm_seek(0, 0, 0, SEEK_DATA), -E2BIG);
}

// A sparse temporary file of `size` bytes on the disk filesystem (no blocks used).
class ReadmapWindows : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/mmhint-rmtest.XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    ASSERT_EQ(ftruncate(fd_, size_), 0);
    ASSERT_EQ(pwrite(fd_, "A", 1, 0), 1);
    ASSERT_EQ(pwrite(fd_, "B", 1, MMHINT_RM_WINDOW), 1);
    ASSERT_EQ(pwrite(fd_, "C", 1, 2 * MMHINT_RM_WINDOW + 5), 1);
    struct stat st;
    fstat(fd_, &st);
    facts_ = Regular(size_);
    facts_.dev = st.st_dev;
    facts_.ino = st.st_ino;
    saved_cap_ = mmhint_rm_cap;
  }
  void TearDown() override {
    mmhint_rm_cap = saved_cap_;
    close(fd_);
    unlink(path_.c_str());
  }
  const int64_t size_ = 2 * MMHINT_RM_WINDOW + (1 << 20);
  int fd_ = -1;
  std::string path_;
  mmhint_rm_facts_t facts_;
  int64_t saved_cap_;
};

TEST_F(ReadmapWindows, WindowsAreAlignedAndShared) {
  mmhint_rm_params_t p = Params();
  int64_t before = mmhint_rm_mapped;
  mmhint_rm_t *a = mmhint_rm_new(&p, &facts_, -1);
  mmhint_rm_t *b = mmhint_rm_new(&p, &facts_, -1);
  ASSERT_TRUE(a && b && a->active);
  const char *pa, *pb;
  int reason = -1;
  int64_t n = mmhint_rm_map(a, fd_, 0, 4096, &pa, &reason);
  ASSERT_EQ(n, MMHINT_RM_WINDOW);  // a whole window: up to its end
  EXPECT_EQ(pa[0], 'A');
  n = mmhint_rm_map(a, fd_, MMHINT_RM_WINDOW - 1, MMHINT_RM_WINDOW + 10, &pa, &reason);
  EXPECT_EQ(n, 1);  // the window ends there: the caller continues in the next
  n = mmhint_rm_map(b, fd_, MMHINT_RM_WINDOW, MMHINT_RM_WINDOW + 10, &pb, &reason);
  ASSERT_GT(n, 0);
  EXPECT_EQ(pb[0], 'B');
  n = mmhint_rm_map(b, fd_, 2 * MMHINT_RM_WINDOW + 5, 2 * MMHINT_RM_WINDOW + 6, &pb, &reason);
  ASSERT_GT(n, 0);
  EXPECT_EQ(pb[0], 'C');
  // The last window is mapped to the file's end, not a whole window; being under
  // 2 MiB it is rounded to a page only (small files must not take 2 MiB each).
  EXPECT_EQ(n, (1 << 20) - 5);
  // b mapping window 0 again finds a's mapping: one mapping per window per file.
  int64_t mapped = mmhint_rm_mapped;
  mmhint_rm_map(b, fd_, 10, 20, &pb, &reason);
  EXPECT_EQ(mmhint_rm_mapped, mapped);
  mmhint_rm_release(a);
  EXPECT_EQ(mmhint_rm_mapped, mapped);  // b still uses the file
  mmhint_rm_release(b);
  EXPECT_EQ(mmhint_rm_mapped, before);  // the last one gone: unmapped
}

TEST_F(ReadmapWindows, TheCapEvictsOtherWindowsOrRefuses) {
  mmhint_rm_params_t p = Params();
  mmhint_rm_t *a = mmhint_rm_new(&p, &facts_, -1);
  ASSERT_TRUE(a);
  mmhint_rm_cap = mmhint_rm_mapped + MMHINT_RM_WINDOW;  // room for one window
  const char *m;
  int reason = -1;
  ASSERT_GT(mmhint_rm_map(a, fd_, 0, 10, &m, &reason), 0);
  uint64_t gen = *a->gen;
  ASSERT_GT(mmhint_rm_map(a, fd_, MMHINT_RM_WINDOW, MMHINT_RM_WINDOW + 10, &m, &reason), 0);
  EXPECT_EQ(m[0], 'B');
  EXPECT_NE(*a->gen, gen);  // window 0 went away: cached pointers to it are stale
  mmhint_rm_cap = mmhint_rm_mapped;  // no room at all beyond the window in use
  int64_t n = mmhint_rm_map(a, fd_, 2 * MMHINT_RM_WINDOW, 2 * MMHINT_RM_WINDOW + 10, &m, &reason);
  // Window 1 (not the one asked for) may be evicted: it is.
  EXPECT_GT(n, 0);
  mmhint_rm_cap = 0;
  n = mmhint_rm_map(a, fd_, 0, 10, &m, &reason);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(reason, MMHINT_FB_address_cap);
  mmhint_rm_release(a);
}

TEST(ReadmapState, InactiveStatesKeepTheirReason) {
  mmhint_rm_params_t p = Params();
  mmhint_rm_facts_t f = Regular(10);
  mmhint_rm_t *rm = mmhint_rm_new(&p, &f, MMHINT_FB_too_small);
  ASSERT_TRUE(rm);
  EXPECT_FALSE(rm->active);
  EXPECT_EQ(rm->reason, MMHINT_FB_too_small);
  mmhint_rm_release(rm);
}

TEST(ReadmapAdvice, SwitchesToSequentialAfterConsecutiveReads) {
  mmhint_rm_params_t p = Params();
  mmhint_rm_facts_t f = Regular(1 << 20);
  mmhint_rm_t *rm = mmhint_rm_new(&p, &f, -1);
  ASSERT_TRUE(rm);
  mmhint_rm_advise(rm, 0, 4096);
  EXPECT_FALSE(rm->seq);
  mmhint_rm_advise(rm, 4096, 8192);
  mmhint_rm_advise(rm, 8192, 12288);
  EXPECT_TRUE(rm->seq);
  mmhint_rm_advise(rm, 500000, 504096);
  EXPECT_FALSE(rm->seq);
  mmhint_rm_release(rm);
}

TEST(ReadmapConfigure, TheCapComesFromTheProcessOptions) {
  mmhint_values_t v;
  mmhint_values_defaults(&v);
  const int64_t saved = mmhint_rm_cap;
  mmhint_rm_configure(v.num);
  EXPECT_EQ(mmhint_rm_cap, (int64_t)8 << 30);  // the table's default, 8G
  v.num[MMHINT_OPT_read_mmap_max_mapped] = (int64_t)8 << 20;
  mmhint_rm_configure(v.num);
  EXPECT_EQ(mmhint_rm_cap, (int64_t)8 << 20);
  mmhint_rm_set_cap(saved);
}

TEST(ReadmapDecisions, AutoStopsOnAReadLargerThanMaxRead) {
  mmhint_rm_t rm{};
  rm.mode = MMHINT_RM_AUTO;
  rm.max_read = 131072;
  EXPECT_FALSE(mmhint_rm_large_read(&rm, 131072));  // at the limit: still converted
  EXPECT_TRUE(mmhint_rm_large_read(&rm, 131073));
  rm.mode = MMHINT_RM_ON;  // `on` never stops for good on a read size
  EXPECT_FALSE(mmhint_rm_large_read(&rm, (size_t)1 << 30));
}

TEST(ReadmapDecisions, OnSendsReadsAboveOneMiBToTheKernel) {
  mmhint_rm_t rm{};
  rm.mode = MMHINT_RM_ON;
  EXPECT_FALSE(mmhint_rm_on_large_read(&rm, (size_t)MMHINT_RM_ON_MAX_READ));  // 1 MiB: copying is even
  EXPECT_TRUE(mmhint_rm_on_large_read(&rm, (size_t)MMHINT_RM_ON_MAX_READ + 1));
  EXPECT_TRUE(mmhint_rm_on_large_read(&rm, (size_t)2 << 20));
  rm.mode = MMHINT_RM_AUTO;  // auto has its own, lower limit (large_read) and stops
  EXPECT_FALSE(mmhint_rm_on_large_read(&rm, (size_t)2 << 20));
}

TEST(ReadmapDecisions, ZeroTailsStopOnlyWhenManyAndFrequent) {
  mmhint_rm_t rm{};
  rm.reads = 100;
  rm.zero_tails = MMHINT_RM_ZERO_TAIL_MIN - 1;  // frequent, but too few to judge
  EXPECT_FALSE(mmhint_rm_zero_tail_stops(&rm));
  rm.zero_tails = MMHINT_RM_ZERO_TAIL_MIN;  // 64 of 100: more than a quarter
  EXPECT_TRUE(mmhint_rm_zero_tail_stops(&rm));
  rm.reads = 4 * MMHINT_RM_ZERO_TAIL_MIN;  // exactly a quarter: the copies stay cheaper than plain reads
  EXPECT_FALSE(mmhint_rm_zero_tail_stops(&rm));
  rm.reads = 4 * MMHINT_RM_ZERO_TAIL_MIN - 1;
  EXPECT_TRUE(mmhint_rm_zero_tail_stops(&rm));
}

TEST(ReadmapDecisions, PlainReadsCountTheReasonTheyDoNotConvert) {
  mmhint_rm_t rm{};
  rm.reason = MMHINT_FB_open_flags;
  EXPECT_EQ(mmhint_rm_plain_reason(&rm, MMHINT_RM_ON, 1, S_IFREG), MMHINT_FB_open_flags);
  rm.reason = MMHINT_RM_NO_REASON;  // converting, or a call left to the kernel's error: nothing counted
  EXPECT_EQ(mmhint_rm_plain_reason(&rm, MMHINT_RM_ON, 1, S_IFREG), -1);
  // No state: read_mmap was off at open, or the description was not opened here.
  EXPECT_EQ(mmhint_rm_plain_reason(nullptr, MMHINT_RM_OFF, 0, S_IFREG), -1);
  EXPECT_EQ(mmhint_rm_plain_reason(nullptr, MMHINT_RM_ON, 1, S_IFREG), -1);
  EXPECT_EQ(mmhint_rm_plain_reason(nullptr, MMHINT_RM_ON, 0, S_IFREG), MMHINT_FB_inherited);
  EXPECT_EQ(mmhint_rm_plain_reason(nullptr, MMHINT_RM_AUTO, 0, S_IFIFO), MMHINT_FB_not_regular);
}

}  // namespace
