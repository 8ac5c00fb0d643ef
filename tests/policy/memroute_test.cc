// Unit tests of the allocation router's pure parts (policy/memroute.c):
// the size windows, the alignment math, the region registry and the smaps parser.
#include "policy/memroute.h"

#include "policy/alloc.h"
#include "policy/clock.h"
#include "policy/os/os.h"
#include "policy/stats.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

mmhint_memroute_cfg_t Cfg(int hp, uint64_t hmin, uint64_t hmax, int numa, uint64_t nmin, uint64_t nmax) {
  mmhint_memroute_cfg_t c;
  std::memset(&c, 0, sizeof c);
  c.hugepages = hp;
  c.hp_min = hmin;
  c.hp_max = hmax;
  c.numa_wanted = numa;
  c.numa_min = nmin;
  c.numa_max = nmax;
  return c;
}

TEST(MemrouteDecide, WindowsAreInclusiveAndIndependent) {
  auto c = Cfg(MMHINT_HP_THP, 4096, 1 << 20, 1, 1 << 16, 1 << 30);
  EXPECT_EQ(mmhint_memroute_decide(&c, 4095), 0u);
  EXPECT_EQ(mmhint_memroute_decide(&c, 4096), (uint32_t)MMHINT_RG_THP);
  EXPECT_EQ(mmhint_memroute_decide(&c, 1 << 16), (uint32_t)(MMHINT_RG_THP | MMHINT_RG_NUMA));
  EXPECT_EQ(mmhint_memroute_decide(&c, 1 << 20), (uint32_t)(MMHINT_RG_THP | MMHINT_RG_NUMA));
  EXPECT_EQ(mmhint_memroute_decide(&c, (1 << 20) + 1), (uint32_t)MMHINT_RG_NUMA);
  EXPECT_EQ(mmhint_memroute_decide(&c, (1ull << 30) + 1), 0u);
  EXPECT_EQ(mmhint_memroute_threshold(&c), 4096u);
}

TEST(MemrouteDecide, SizeZeroAndOffAreNeverRouted) {
  auto c = Cfg(MMHINT_HP_HUGETLB, 0, UINT64_MAX, 1, 0, UINT64_MAX);
  EXPECT_EQ(mmhint_memroute_decide(&c, 0), 0u);
  EXPECT_EQ(mmhint_memroute_decide(&c, 1), (uint32_t)(MMHINT_RG_HUGETLB | MMHINT_RG_NUMA));
  EXPECT_EQ(mmhint_memroute_threshold(&c), 1u);  // min 0 still never routes size 0
  auto off = Cfg(MMHINT_HP_OFF, 0, UINT64_MAX, 0, 0, UINT64_MAX);
  EXPECT_EQ(mmhint_memroute_decide(&off, 1 << 30), 0u);
  EXPECT_EQ(mmhint_memroute_threshold(&off), UINT64_MAX);
  auto empty = Cfg(MMHINT_HP_THP, 10, 5, 0, 0, 0);  // min > max: an empty window
  EXPECT_EQ(mmhint_memroute_threshold(&empty), UINT64_MAX);
  EXPECT_EQ(mmhint_memroute_decide(&empty, 7), 0u);
}

TEST(MemrouteAlign, RoundUpAndOverflow) {
  EXPECT_EQ(mmhint_round_up(1, 4096), 4096u);
  EXPECT_EQ(mmhint_round_up(4096, 4096), 4096u);
  EXPECT_EQ(mmhint_round_up(MMHINT_HUGE_SIZE + 1, MMHINT_HUGE_SIZE), 2 * MMHINT_HUGE_SIZE);
  EXPECT_EQ(mmhint_round_up(UINT64_MAX - 5, 4096), 0u);
}

TEST(MemrouteAlign, TrimFindsTheAlignedStartInsideTheOvermap) {
  size_t head = 99, tail = 99;
  const size_t H = MMHINT_HUGE_SIZE;
  // A raw mapping 4 KiB past a 2 MiB boundary: the start is the next boundary.
  uintptr_t raw = 0x7f0000000000 + 4096;
  size_t len = 8 * H, raw_len = len + H - 4096;
  EXPECT_EQ(mmhint_memroute_trim(raw, raw_len, len, H, &head, &tail), (uintptr_t)0x7f0000000000 + H);
  EXPECT_EQ(head, H - 4096);
  EXPECT_EQ(tail, 0u);
  // Already aligned: nothing before, the slack after.
  EXPECT_EQ(mmhint_memroute_trim(0x7f0000000000, len + H, len, H, &head, &tail), (uintptr_t)0x7f0000000000);
  EXPECT_EQ(head, 0u);
  EXPECT_EQ(tail, H);
  // Larger alignment than the slack allows: no fit.
  EXPECT_EQ(mmhint_memroute_trim(raw, raw_len, len, 4 * H, &head, &tail), (uintptr_t)0);
}

TEST(MemrouteRegistry, InsertFindRemove) {
  std::vector<mmhint_region_t> mem(1 << 6);
  mmhint_registry_t r;
  mmhint_registry_init(&r, mem.data(), 6);
  const uintptr_t H = MMHINT_HUGE_SIZE;
  for (uintptr_t i = 1; i <= 40; i++)
    ASSERT_NE(mmhint_registry_insert(&r, i * H, H, 100 + i, MMHINT_RG_MALLOC), nullptr) << i;
  EXPECT_EQ(r.live, 40u);
  for (uintptr_t i = 1; i <= 40; i++) {
    mmhint_region_t *e = mmhint_registry_find(&r, i * H);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->req, 100 + i);
  }
  EXPECT_EQ(mmhint_registry_find(&r, 41 * H), nullptr);
  EXPECT_EQ(mmhint_registry_find(&r, H + 16), nullptr);
  // Removing leaves the others findable past the deleted slot.
  for (uintptr_t i = 1; i <= 40; i += 2) mmhint_registry_remove(&r, mmhint_registry_find(&r, i * H));
  for (uintptr_t i = 1; i <= 40; i++) EXPECT_EQ(mmhint_registry_find(&r, i * H) != nullptr, i % 2 == 0) << i;
  EXPECT_EQ(r.live, 20u);
}

TEST(MemrouteRegistry, RefusesBeyondThreeQuartersAndReusesDeletedSlots) {
  std::vector<mmhint_region_t> mem(1 << 4);
  mmhint_registry_t r;
  mmhint_registry_init(&r, mem.data(), 4);
  const uintptr_t H = MMHINT_HUGE_SIZE;
  for (uintptr_t i = 1; i <= 12; i++) ASSERT_NE(mmhint_registry_insert(&r, i * H, H, 1, 0), nullptr);
  EXPECT_EQ(mmhint_registry_insert(&r, 13 * H, H, 1, 0), nullptr);  // 12 of 16: full
  EXPECT_EQ(r.live, 12u);
  // Churn far beyond the capacity: deleted slots are reused and lookups still end.
  std::vector<uintptr_t> fifo;
  for (uintptr_t i = 1; i <= 12; i++) fifo.push_back(i);
  for (uintptr_t i = 100; i < 2000; i++) {
    mmhint_region_t *e = mmhint_registry_find(&r, fifo[i - 100] * H);
    fifo.push_back(i);
    ASSERT_NE(e, nullptr) << i;
    mmhint_registry_remove(&r, e);
    ASSERT_NE(mmhint_registry_insert(&r, i * H, H, 1, 0), nullptr) << i;
  }
  EXPECT_EQ(mmhint_registry_find(&r, 5 * H), nullptr);
  EXPECT_NE(mmhint_registry_find(&r, 1999 * H), nullptr);
  EXPECT_EQ(mmhint_registry_insert(&r, 0, H, 1, 0), nullptr);  // 0 and 1 are not keys
  EXPECT_EQ(mmhint_registry_find(&r, 1), nullptr);
}

uint64_t Feed(const std::string &text, uint64_t lo, uint64_t hi, size_t chunk) {
  mmhint_smaps_state_t st;
  std::memset(&st, 0, sizeof st);
  uint64_t bytes = 0;
  for (size_t i = 0; i < text.size(); i += chunk)
    mmhint_smaps_feed(&st, text.data() + i, std::min(chunk, text.size() - i), lo, hi, &bytes);
  mmhint_smaps_feed(&st, "", 0, lo, hi, &bytes);
  return bytes;
}

TEST(MemrouteSmaps, SumsAnonHugePagesOfOverlappingVmasAcrossChunkBoundaries) {
  std::string t =
      "7f0000000000-7f0004000000 rw-p 00000000 00:00 0 \n"
      "Size:              65536 kB\n"
      "AnonHugePages:     61440 kB\n"
      "VmFlags: rd wr mr mw me ac hg\n"
      "7f0004000000-7f0004200000 rw-p 00000000 00:00 0          [heap]\n"
      "AnonHugePages:      2048 kB\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n"
      "AnonHugePages:         0 kB";  // no final newline: flushed by the len-0 call
  for (size_t chunk : {1, 7, 64, 100000}) {
    EXPECT_EQ(Feed(t, 0x7f0000000000, 0x7f0004000000, chunk), 61440ull * 1024) << chunk;
    EXPECT_EQ(Feed(t, 0x7f0000000000, 0x7f0004200000, chunk), 63488ull * 1024) << chunk;
    // Half of the first VMA: half its huge pages (the share rule for merged VMAs).
    EXPECT_EQ(Feed(t, 0x7f0000000000, 0x7f0002000000, chunk), 30720ull * 1024) << chunk;
    EXPECT_EQ(Feed(t, 0x100000, 0x200000, chunk), 0u) << chunk;
  }
}

uint64_t FeedRanges(const std::string &text, const std::vector<std::pair<uint64_t, uint64_t>> &ranges, size_t chunk) {
  std::vector<uint64_t> flat;
  for (const auto &r : ranges) {
    flat.push_back(r.first);
    flat.push_back(r.second);
  }
  const uint64_t(*rs)[2] = reinterpret_cast<const uint64_t(*)[2]>(flat.data());
  mmhint_smaps_state_t st;
  std::memset(&st, 0, sizeof st);
  uint64_t bytes = 0;
  for (size_t i = 0; i < text.size(); i += chunk)
    mmhint_smaps_feed_ranges(&st, text.data() + i, std::min(chunk, text.size() - i), rs, ranges.size(), &bytes);
  mmhint_smaps_feed_ranges(&st, "", 0, rs, ranges.size(), &bytes);
  return bytes;
}

// The parser serves both measurements: one region at free time (a single
// range) and every live region at the end (many sorted ranges in one pass).
TEST(MemrouteSmaps, OneParserForOneRangeAndForManyRanges) {
  const uint64_t M = 1 << 20;
  std::string t =
      "7f0000000000-7f0000800000 rw-p 00000000 00:00 0 \n"  // 8 MiB VMA merged from two regions
      "AnonHugePages:      8192 kB\n"
      "7f0000800000-7f0000a00000 rw-p 00000000 00:00 0 \n"  // 2 MiB VMA outside every range
      "AnonHugePages:      2048 kB\n"
      "7f0001000000-7f0000f00000 rw-p 00000000 00:00 0 \n"  // end before start: not a VMA
      "AnonHugePages:      4096 kB\n"
      "7f0002000000-7f0002400000 rw-p 00000000 00:00 0 \n"  // 4 MiB VMA, the last line has no newline
      "AnonHugePages:      4096 kB";
  const uint64_t base = 0x7f0000000000ull;
  for (size_t chunk : {1, 7, 64, 4096}) {
    // Two regions that make up the merged VMA: all of its huge pages.
    EXPECT_EQ(FeedRanges(t, {{base, base + 2 * M}, {base + 2 * M, base + 8 * M}}, chunk), 8 * M) << chunk;
    // A quarter of it: a quarter of its huge pages.
    EXPECT_EQ(FeedRanges(t, {{base + 6 * M, base + 8 * M}}, chunk), 2 * M) << chunk;
    // Ranges in two VMAs, one of them on the unterminated last line.
    EXPECT_EQ(FeedRanges(t, {{base + 4 * M, base + 8 * M}, {base + 0x2000000, base + 0x2400000}}, chunk), 8 * M)
        << chunk;
    // The single-range entry point is the same parser.
    EXPECT_EQ(Feed(t, base + 6 * M, base + 8 * M, chunk), 2 * M) << chunk;
    EXPECT_EQ(Feed(t, base + 0xf00000, base + 0x1000000, chunk), 0u) << "an inverted VMA counts nothing";
    EXPECT_EQ(FeedRanges(t, {}, chunk), 0u);
  }
}

TEST(MemrouteSection, InitRegistersTheMemoryObject) {
  mmhint_clock_init();
  mmhint_stats_init(0);
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  mmhint_memroute_init(&v);
  mmhint_process_info_t info = {};
  info.exe = info.host = info.end_reason = "x";
  char *buf = nullptr;
  size_t cap = 0;
  long n = mmhint_stats_render(&info, &buf, &cap);
  ASSERT_GT(n, 0);
  std::string s(buf, (size_t)n);
  mmhint_os_munmap(buf, cap);
  // The allocator's counters first, then the router's keys, as the last member of the document.
  size_t mem = s.find("\n,\"memory\":{\"malloc_calls\":");
  ASSERT_NE(mem, std::string::npos) << s;
  size_t classes = s.find("\"size_classes\":{\"0-64\":", mem);
  size_t policy = s.find("\"policy\":{\"hugepages\":\"off\"", mem);
  size_t fallbacks = s.find("\"fallbacks\":{\"hugetlb_pool\":", mem);
  ASSERT_NE(classes, std::string::npos);
  ASSERT_NE(policy, std::string::npos);
  ASSERT_NE(fallbacks, std::string::npos);
  EXPECT_LT(classes, policy);
  EXPECT_LT(policy, fallbacks);
  EXPECT_EQ(s.compare(s.size() - 4, 4, "}}}\n"), 0) << s.substr(s.size() - 40);
  EXPECT_EQ(s.find("\"memory\":", mem + 3), std::string::npos) << "registered once, written once";
  mmhint_memroute_init(&v);  // a second init does not add a second section
  n = mmhint_stats_render(&info, &buf, &cap);
  ASSERT_GT(n, 0);
  std::string t(buf, (size_t)n);
  mmhint_os_munmap(buf, cap);
  size_t first = t.find("\"memory\":");
  EXPECT_EQ(t.find("\"memory\":", first + 1), std::string::npos);
}

// Packing classes: every size below a huge page maps to the smallest class
// that holds it, classes grow by at most 25 %, and aligned requests get a
// class whose slots (at multiples of its size in a 2 MiB chunk) are aligned.
TEST(MemroutePack, ClassesHoldTheSizeAndRoundByAtMostAQuarter) {
  uint64_t prev = 0;
  for (uint32_t c = 0; c < MMHINT_PACK_CLASSES; c++) {
    uint64_t s = mmhint_pack_class_size(c);
    EXPECT_GT(s, prev) << c;
    EXPECT_EQ(s % 16, 0u) << c;
    EXPECT_EQ(mmhint_pack_class(s), c) << s;
    if (prev) {
      EXPECT_EQ(mmhint_pack_class(prev + 1), c) << prev + 1;
    }
    if (prev >= 128) {
      EXPECT_LE(s * 4, prev * 5) << c;
    }
    prev = s;
  }
  EXPECT_EQ(mmhint_pack_class_size(MMHINT_PACK_CLASSES - 1), MMHINT_HUGE_SIZE);
  EXPECT_EQ(mmhint_pack_class(1), 0u);
  EXPECT_EQ(mmhint_pack_class_size(mmhint_pack_class(65536 + 33)), 81920u);  // Python's 64 KiB bytes object
  for (uint64_t n = 1; n < MMHINT_HUGE_SIZE; n = n * 3 / 2 + 1) {
    uint64_t s = mmhint_pack_class_size(mmhint_pack_class(n));
    EXPECT_GE(s, n);
  }
}

TEST(MemroutePack, AlignedClassesAreAlignedOrRefused) {
  for (uint64_t a = 16; a <= MMHINT_HUGE_SIZE; a *= 2)
    for (uint64_t n : {1ull, 100ull, 5000ull, 70000ull, 1000000ull}) {
      uint32_t c = mmhint_pack_class_aligned(n, a);
      if (c == MMHINT_PACK_CLASSES) {
        EXPECT_GE(n < a ? a : n, MMHINT_HUGE_SIZE / 2) << n << " " << a;  // only when nothing below 2 MiB fits
        continue;
      }
      uint64_t s = mmhint_pack_class_size(c);
      EXPECT_GE(s, n);
      EXPECT_LT(s, MMHINT_HUGE_SIZE);
      EXPECT_EQ(s & (a - 1), 0u) << n << " " << a;
    }
  EXPECT_EQ(mmhint_pack_class_aligned(0, 0), (uint32_t)MMHINT_PACK_CLASSES);
  EXPECT_EQ(mmhint_pack_class_aligned(MMHINT_HUGE_SIZE, 0), (uint32_t)MMHINT_PACK_CLASSES);
}

}  // namespace

// The size classes of the allocation counters (policy/alloc.h) by their bounds: <= 64, 512, 4 KiB, 64 KiB, 1 MiB, 32 MiB, more.
TEST(MemClass, BoundsAreInclusive) {
  struct {
    uint64_t n;
    int cls;
  } cases[] = {{0, 0},        {1, 0},        {64, 0},       {65, 1},          {512, 1},         {513, 2},
               {4096, 2},     {4097, 3},     {65536, 3},    {65537, 4},       {1048576, 4},     {1048577, 5},
               {33554432, 5}, {33554433, 6}, {1ULL << 40, 6}, {UINT64_MAX, 6}, {1ULL << 63, 6}};
  for (auto &c : cases) EXPECT_EQ(mmhint_mem_class(c.n), c.cls) << c.n;
  // Every size up to 40 MiB in steps that cross each bound lands where the chain of compares put it.
  for (uint64_t n = 0; n < 40ULL * 1048576; n += 4093) {
    int want = n <= 64 ? 0 : n <= 512 ? 1 : n <= 4096 ? 2 : n <= 65536 ? 3 : n <= 1048576 ? 4 : n <= 33554432 ? 5 : 6;
    ASSERT_EQ(mmhint_mem_class(n), want) << n;
  }
}
