// Unit tests of the allocation router (policy/memroute.c and the parts its
// header includes: memregion, memcore, mempack): the size windows, the
// alignment math, the region registry and its walk, the smaps parser, the
// statistics section, and the packing allocator's classes, colours and reuse.
#include "policy/memroute.h"

#include "policy/alloc.h"
#include "policy/clock.h"
#include "policy/os/os.h"
#include "policy/stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <sys/mman.h>
#include <string>
#include <utility>
#include <vector>

namespace {

const mmhint_source_t kEnv = {MMHINT_SRC_ENV, 0};

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

// Pages of [p, p + len) that are mapped in (mincore), zero-page mappings of reads included.
size_t ResidentPages(void *p, size_t len) {
  std::vector<unsigned char> vec(len / MMHINT_PAGE_SIZE);
  if (mmhint_os_mincore(p, len, vec.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : vec) n += c & 1;
  return n;
}

// The router's registry has 65,536 slots (2 MiB) and usually holds a handful
// of regions: a walk over the live ones must read only the pages that
// inserts wrote, not fault in all 512 pages of the table (which cost ~500
// page faults at every statistics write of a process that routed anything).
TEST(MemrouteRegistry, WalkSeesTheLiveRegionsAndReadsOnlyTheSpansInsertsWrote) {
  const size_t bytes = ((size_t)1 << 16) * sizeof(mmhint_region_t);
  void *mem = mmhint_os_mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  mmhint_registry_t r;
  mmhint_registry_init(&r, (mmhint_region_t *)mem, 16);
  const uintptr_t H = MMHINT_HUGE_SIZE;
  for (uintptr_t i = 1; i <= 3; i++) ASSERT_NE(mmhint_registry_insert(&r, i * H, H, i, MMHINT_RG_MALLOC), nullptr);
  mmhint_registry_remove(&r, mmhint_registry_find(&r, 2 * H));
  size_t written = ResidentPages(mem, bytes);
  EXPECT_GE(written, 1u);
  EXPECT_LE(written, 3u);
  std::vector<uintptr_t> seen;
  size_t pos = 0;
  for (mmhint_region_t *e; (e = mmhint_registry_next(&r, &pos)) != nullptr;) seen.push_back(e->key);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<uintptr_t>{1 * H, 3 * H}));
  EXPECT_EQ(mmhint_registry_next(&r, &pos), nullptr) << "the end stays the end";
  EXPECT_EQ(ResidentPages(mem, bytes), written) << "the walk faulted in pages no insert wrote";
  mmhint_os_munmap(mem, bytes);

  // A table smaller than the span count: one slot per span, every live region seen.
  std::vector<mmhint_region_t> small(1 << 4);
  mmhint_registry_init(&r, small.data(), 4);
  for (uintptr_t i = 1; i <= 12; i++) ASSERT_NE(mmhint_registry_insert(&r, i * H, H, 1, 0), nullptr);
  size_t n = 0;
  pos = 0;
  while (mmhint_registry_next(&r, &pos)) n++;
  EXPECT_EQ(n, 12u);
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

// Writing the statistics of a process whose router is on but holds no
// region reads none of the registry's pages.
TEST(MemrouteSection, RenderFaultsInNoPageOfAnEmptyRegistry) {
  mmhint_clock_init();
  mmhint_stats_init(0);
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  char err[256];
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepages, "thp", kEnv, err, sizeof err), 0) << err;
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepage_min, "64K", kEnv, err, sizeof err), 0) << err;
  mmhint_memroute_init(&v);
  mmhint_registry_t *reg = &mmhint_memroute_regions;
  ASSERT_NE(reg->slots, nullptr);
  const size_t bytes = ((size_t)1 << reg->bits) * sizeof(mmhint_region_t);
  ASSERT_EQ(ResidentPages(reg->slots, bytes), 0u);
  mmhint_process_info_t info = {};
  info.exe = info.host = info.end_reason = "x";
  char *buf = nullptr;
  size_t cap = 0;
  long n = mmhint_stats_render(&info, &buf, &cap);
  ASSERT_GT(n, 0);
  std::string s(buf, (size_t)n);
  mmhint_os_munmap(buf, cap);
  EXPECT_NE(s.find("\"live_regions\":0,"), std::string::npos) << s;
  EXPECT_EQ(ResidentPages(reg->slots, bytes), 0u) << "rendering read the untouched registry";
}

// Packed blocks are reused last freed, first served (as glibc's bins and
// tcache do), so a malloc/free loop keeps using one block that stays in
// the cache; a reused block given to calloc is zero.
TEST(MemroutePack, TheLastFreedBlockOfAClassIsServedFirst) {
  mmhint_clock_init();
  mmhint_stats_init(0);
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  char err[256];
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepages, "thp", kEnv, err, sizeof err), 0) << err;
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepage_min, "64K", kEnv, err, sizeof err), 0) << err;
  mmhint_memroute_init(&v);
  const size_t n = 65536 + 33;  // Python's bytes object for f.read(65536)
  void *a = mmhint_memroute_alloc(n, 0, 0);
  void *b = mmhint_memroute_alloc(n, 0, 0);
  void *c = mmhint_memroute_alloc(n, 0, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(mmhint_memroute_packed(a) && mmhint_memroute_packed(b) && mmhint_memroute_packed(c));
  EXPECT_EQ(mmhint_memroute_pack_size(a), 81920u);
  for (int i = 0; i < 1000; i++) {  // the loop of one live block
    ASSERT_EQ(mmhint_memroute_pack_free(b), 1);
    ASSERT_EQ(mmhint_memroute_alloc(n, 0, 0), b) << i;
  }
  ASSERT_EQ(mmhint_memroute_pack_free(b), 1);
  ASSERT_EQ(mmhint_memroute_pack_free(a), 1);
  EXPECT_EQ(mmhint_memroute_alloc(n, 0, 0), a);
  std::memset(b, 0xab, 64);  // a freed block's bytes (and its list link) are not zero
  unsigned char *z = (unsigned char *)mmhint_memroute_alloc(n, 0, 1);
  ASSERT_EQ((void *)z, b);
  for (size_t i = 0; i < n; i += 997) ASSERT_EQ(z[i], 0) << i;
  EXPECT_EQ(z[0], 0);
  for (void *p : {(void *)a, (void *)z, c}) EXPECT_EQ(mmhint_memroute_pack_free(p), 1);
}

// Blocks of a class whose size is a multiple of the page size are coloured:
// a chunk's blocks start in the upper half of a page, not at a page start,
// so that they do not all share the L1 sets of page-aligned data
// (Python's 64 KiB read buffer collided with pymalloc's pool headers: 125,000
// more D1 misses in 16,000 reads under callgrind), and 16 bytes past a
// 32-byte boundary as glibc's blocks are (read(2) into Python's buffer, 32
// bytes into the block, was ~10 % slower 32-byte aligned).  Requests aligned
// above 16 bytes still get their alignment, from uncoloured chunks.
TEST(MemroutePack, PageMultipleClassesAreColouredAndAlignedRequestsKeepTheirAlignment) {
  const uint32_t c81920 = mmhint_pack_class(81920);
  EXPECT_EQ(mmhint_pack_colour(c81920, 0), 4096u - 64 + 16);
  EXPECT_EQ(mmhint_pack_colour(c81920, 31), 2048u + 16);
  EXPECT_EQ(mmhint_pack_colour(c81920, 32), 4096u - 64 + 16);
  EXPECT_EQ(mmhint_pack_colour(mmhint_pack_class(5000), 0), 0u) << "5120 B: blocks already spread over the page";
  EXPECT_EQ(mmhint_pack_colour(mmhint_pack_class(4096), 0), 0u) << "4 KiB divides 2 MiB: a colour would cost a block";
  EXPECT_EQ(mmhint_pack_colour(mmhint_pack_class(1u << 20), 5), 0u);
  for (uint32_t c = 0; c < MMHINT_PACK_CLASSES; c++)
    for (uint64_t k : {0ull, 1ull, 30ull, 62ull}) {
      uint64_t s = mmhint_pack_class_size(c), colour = mmhint_pack_colour(c, k);
      if (colour) {
        EXPECT_EQ(colour % 64, 16u) << "16 bytes past a line, as glibc's blocks";
      }
      EXPECT_EQ((MMHINT_HUGE_SIZE - colour) / s, MMHINT_HUGE_SIZE / s) << "a colour never costs a block: " << s;
    }

  mmhint_clock_init();
  mmhint_stats_init(0);
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  char err[256];
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepages, "thp", kEnv, err, sizeof err), 0) << err;
  ASSERT_EQ(mmhint_value_set(&v, MMHINT_OPT_hugepage_min, "64K", kEnv, err, sizeof err), 0) << err;
  mmhint_memroute_init(&v);
  const size_t n = 65536 + 33;
  char *a = (char *)mmhint_memroute_alloc(n, 0, 0);
  char *b = (char *)mmhint_memroute_alloc(n, 0, 0);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE((uintptr_t)a % MMHINT_PAGE_SIZE, 0u) << "the block starts at a page start";
  EXPECT_EQ((uintptr_t)a % 32, 16u) << "where glibc's malloc puts a block";
  EXPECT_EQ((b - a) % 81920, 0) << "blocks of a chunk follow each other from the colour on";
  EXPECT_EQ((uintptr_t)b % MMHINT_PAGE_SIZE, (uintptr_t)a % MMHINT_PAGE_SIZE);
  EXPECT_EQ(mmhint_memroute_pack_size(a), 81920u);
  EXPECT_EQ(mmhint_memroute_pack_size(a + 64), 0u) << "not a block start";
  EXPECT_EQ(mmhint_memroute_pack_size(a - ((uintptr_t)a % MMHINT_PAGE_SIZE)), 0u) << "the chunk's start is not a block";
  char *al = (char *)mmhint_memroute_alloc(n, 4096, 0);
  ASSERT_NE(al, nullptr);
  EXPECT_EQ((uintptr_t)al % 4096, 0u);
  EXPECT_EQ(mmhint_memroute_pack_size(al), 81920u);
  ASSERT_EQ(mmhint_memroute_pack_free(al), 1);
  EXPECT_EQ(mmhint_memroute_alloc(n, 4096, 0), al) << "an aligned block goes back to the aligned list";
  char *d = (char *)mmhint_memroute_alloc(n, 0, 0);
  EXPECT_NE(d, al) << "and not to the coloured one";
  EXPECT_NE((uintptr_t)d % MMHINT_PAGE_SIZE, 0u);
  for (char *p : {a, b, al, d}) EXPECT_EQ(mmhint_memroute_pack_free(p), 1);
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
