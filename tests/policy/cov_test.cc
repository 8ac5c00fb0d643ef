// Tests of policy/cov.h: the "touched" coverage map of a file.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern "C" {
#include "policy/cov.h"
}

namespace {

constexpr int64_t kKiB = 1024, kMiB = 1024 * 1024, kGiB = 1024 * kMiB;

// Recording on for the test's duration (off again after: other tests of the
// store must not get maps).
struct CovOn {
  CovOn() { mmhint_cov_configure(1); }
  ~CovOn() { mmhint_cov_configure(0); }
};

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

Ranges ranges_of(const mmhint_cov_t *c, uint32_t max_runs = MMHINT_COV_MAX_RUNS, uint64_t *granule = nullptr) {
  Ranges out;
  uint64_t g = mmhint_cov_ranges(
      c, max_runs, [](void *ctx, uint64_t off, uint64_t len) { static_cast<Ranges *>(ctx)->push_back({off, len}); },
      &out);
  if (granule) *granule = g;
  return out;
}

TEST(Cov, GranuleIsTheSmallestThatKeepsTheMapAt64KiB) {
  EXPECT_EQ(mmhint_cov_shift_for(0), 12u);
  EXPECT_EQ(mmhint_cov_shift_for(kMiB), 12u);
  EXPECT_EQ(mmhint_cov_shift_for(2 * kGiB), 12u);  // 2^19 granules of 4 KiB
  EXPECT_EQ(mmhint_cov_shift_for(2 * kGiB + 1), 13u);
  EXPECT_EQ(mmhint_cov_shift_for(4 * kGiB), 13u);
  EXPECT_EQ(mmhint_cov_shift_for(1ll << 40), 21u);
  EXPECT_EQ(mmhint_cov_shift_for(INT64_MAX), 44u);
  for (int64_t size : std::vector<int64_t>{kMiB, 410 * kMiB, 2 * kGiB - 1, 2 * kGiB + 1, 3 * kGiB + 12345, 1ll << 40, INT64_MAX}) {
    unsigned s = mmhint_cov_shift_for(size);
    uint64_t nbits = ((uint64_t)size + (1ull << s) - 1) >> s;
    EXPECT_LE(nbits, MMHINT_COV_MAX_BITS) << size;
    EXPECT_LE((nbits + 63) / 64 * 8, 64u * 1024) << size;
    if (s > 12) {
      EXPECT_GT(((uint64_t)size + (1ull << (s - 1)) - 1) >> (s - 1), MMHINT_COV_MAX_BITS) << size;
    }
  }
}

TEST(Cov, NoMapWhenOffOrSmall) {
  mmhint_cov_t c{};
  EXPECT_EQ(mmhint_cov_init(&c, 16 * kMiB), -1);  // recording off
  EXPECT_EQ(c.bits, nullptr);
  CovOn on;
  EXPECT_EQ(mmhint_cov_init(&c, kMiB - 1), -1);
  EXPECT_EQ(c.bits, nullptr);
  // Without a map a read costs nothing and does nothing.
  mmhint_cov_mark(&c, 0, 4096);
  EXPECT_EQ(mmhint_cov_count(&c), 0u);
  EXPECT_TRUE(ranges_of(&c).empty());
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_cov_render(&j, &c);
  EXPECT_EQ(j.len, 0u);
  mmhint_json_free(&j);
}

TEST(Cov, MapIsMadeOnceWithTheFirstSize) {
  CovOn on;
  mmhint_cov_t c{};
  ASSERT_EQ(mmhint_cov_init(&c, 16 * kMiB + 100), 0);
  uint64_t *b = c.bits;
  EXPECT_EQ(c.nbits, 4097u);
  EXPECT_EQ(c.shift, 12u);
  EXPECT_EQ(mmhint_cov_init(&c, 64 * kMiB), 0);  // the file grew: same map
  EXPECT_EQ(c.bits, b);
  EXPECT_EQ(c.nbits, 4097u);
}

TEST(Cov, SetsRangesAtTheEdges) {
  CovOn on;
  mmhint_cov_t c{};
  const int64_t size = 16 * kMiB + 100;  // 4097 granules, the last one 100 bytes
  ASSERT_EQ(mmhint_cov_init(&c, size), 0);
  mmhint_cov_mark(&c, 0, 1);                     // granule 0
  mmhint_cov_mark(&c, 63 * 4096 + 4000, 200);    // 63 and 64: across a word
  mmhint_cov_mark(&c, 130 * 4096, 3 * 64 * 4096);  // 130..321: several whole words
  mmhint_cov_mark(&c, size - 1, 1);              // the last granule
  EXPECT_EQ(mmhint_cov_count(&c), 1u + 2 + 192 + 1);
  Ranges r = ranges_of(&c);
  Ranges want = {{0, 4096}, {63 * 4096, 2 * 4096}, {130 * 4096, 192 * 4096}, {4096ull * 4096, 100}};
  EXPECT_EQ(r, want);
}

TEST(Cov, OffsetsPastTheFirstSizeAreIgnored) {
  CovOn on;
  mmhint_cov_t c{};
  const int64_t size = 2 * kMiB;
  ASSERT_EQ(mmhint_cov_init(&c, size), 0);
  mmhint_cov_mark(&c, size, 4096);            // at the end: the file grew since
  mmhint_cov_mark(&c, 100 * kGiB, 1 << 20);   // far beyond
  mmhint_cov_mark(&c, INT64_MAX - 10, 5);     // no wrap
  mmhint_cov_mark(&c, INT64_MAX, 1);
  mmhint_cov_mark(&c, -4096, 4096);           // unknown offset
  mmhint_cov_mark(&c, 0, 0);                  // nothing read
  EXPECT_EQ(mmhint_cov_count(&c), 0u);
  mmhint_cov_mark(&c, size - 4096, 1 << 30);  // runs past the end: clipped
  EXPECT_EQ(mmhint_cov_count(&c), 1u);
  Ranges want = {{(uint64_t)size - 4096, 4096}};
  EXPECT_EQ(ranges_of(&c), want);
}

TEST(Cov, TooManyRunsCoarsenTheGranule) {
  CovOn on;
  mmhint_cov_t c{};
  const int64_t size = 64 * kMiB;  // 16384 granules
  ASSERT_EQ(mmhint_cov_init(&c, size), 0);
  std::vector<uint64_t> set;
  for (uint64_t g = 0; g < 16384; g += 7) {  // 2341 isolated granules
    mmhint_cov_mark(&c, (int64_t)(g * 4096), 4096);
    set.push_back(g * 4096);
  }
  uint64_t granule = 0;
  EXPECT_EQ(ranges_of(&c, UINT32_MAX, &granule).size(), set.size());
  EXPECT_EQ(granule, 4096u);
  for (uint32_t max : {1000u, 100u, 10u, 1u}) {
    Ranges r = ranges_of(&c, max, &granule);
    EXPECT_LE(r.size(), max);
    EXPECT_GT(granule, 4096u);
    EXPECT_EQ(granule & (granule - 1), 0u);
    for (size_t i = 0; i < r.size(); i++) {
      EXPECT_EQ(r[i].first % granule, 0u);
      if (i) {
        EXPECT_GT(r[i].first, r[i - 1].first + r[i - 1].second);  // sorted, merged
      }
    }
    // Every touched granule is inside a written range.
    size_t k = 0;
    for (uint64_t off : set) {
      while (k < r.size() && r[k].first + r[k].second <= off) k++;
      ASSERT_LT(k, r.size());
      EXPECT_GE(off, r[k].first);
    }
  }
}

TEST(Cov, RendersTheTouchedKey) {
  CovOn on;
  mmhint_cov_t c{};
  ASSERT_EQ(mmhint_cov_init(&c, 4 * kMiB), 0);
  mmhint_cov_mark(&c, 8192, 100);
  mmhint_cov_mark(&c, 3 * kMiB, kMiB);
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_cov_render(&j, &c);
  mmhint_json_end_object(&j);
  std::string s(j.buf, j.len);
  mmhint_json_free(&j);
  EXPECT_NE(s.find("\"touched\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"granule\":4096"), std::string::npos) << s;
  EXPECT_NE(s.find("\"size\":4194304"), std::string::npos) << s;
  EXPECT_NE(s.find("\"bytes\":1052672"), std::string::npos) << s;
  EXPECT_NE(s.find("\"from_mappings\":false"), std::string::npos) << s;
  EXPECT_NE(s.find("\"ranges\":[[8192,4096],[3145728,1048576]]"), std::string::npos) << s;
}

TEST(Cov, ResetKeepsTheMapAndClearsIt) {
  CovOn on;
  mmhint_cov_t c{};
  ASSERT_EQ(mmhint_cov_init(&c, 4 * kMiB), 0);
  mmhint_cov_mark(&c, 0, 4 * kMiB);
  EXPECT_EQ(mmhint_cov_count(&c), 1024u);
  uint64_t *b = c.bits;
  mmhint_cov_reset(&c);
  EXPECT_EQ(c.bits, b);
  EXPECT_EQ(mmhint_cov_count(&c), 0u);
}

TEST(Cov, ThreadsSettingBitsOfOneWordLoseNone) {
  CovOn on;
  mmhint_cov_t c{};
  ASSERT_EQ(mmhint_cov_init(&c, 64 * kMiB), 0);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++)
    ts.emplace_back([&c, t] {
      // Thread t sets granules t, t+4, t+8...: every word is shared by all four.
      for (int round = 0; round < 20; round++)
        for (uint64_t g = (uint64_t)t; g < 16384; g += 4) mmhint_cov_read_as(0, &c, (int64_t)(g * 4096), 4096);
    });
  for (auto &t : ts) t.join();
  EXPECT_EQ(mmhint_cov_count(&c), 16384u);
}

// A temporary file of `size` bytes.
struct TempFile {
  std::string path;
  int fd = -1;
  explicit TempFile(int64_t size) {
    char tmpl[] = "/tmp/mmhint-cov-XXXXXX";
    fd = mkstemp(tmpl);
    path = tmpl;
    std::vector<char> buf(1 << 20, 'x');
    for (int64_t done = 0; done < size; done += (int64_t)buf.size())
      EXPECT_EQ(write(fd, buf.data(), buf.size()), (ssize_t)buf.size());
  }
  ~TempFile() {
    close(fd);
    unlink(path.c_str());
  }
};

TEST(Cov, MappingsMarkThePagesTheyTouched) {
  CovOn on;
  TempFile f(4 * kMiB);
  mmhint_cov_t c{};
  ASSERT_EQ(mmhint_cov_init(&c, 4 * kMiB), 0);
  // A mapping of the file's second half: pages 0 and 300 of it are touched.
  const int64_t off = 2 * kMiB;
  auto *p = static_cast<volatile char *>(mmap(nullptr, 2 * kMiB, PROT_READ, MAP_SHARED, f.fd, off));
  ASSERT_NE((void *)p, MAP_FAILED);
  (void)p[0];
  (void)p[300 * 4096 + 17];
  ASSERT_EQ(mmhint_cov_maps_live, 0u);
  ASSERT_EQ(mmhint_cov_map_add((const void *)p, 2 * kMiB, off, &c), 0);
  EXPECT_EQ(mmhint_cov_maps_live, 1u);
  mmhint_cov_map_scan(&c);  // at rendering: marked, still followed
  EXPECT_EQ(mmhint_cov_maps_live, 1u);
  EXPECT_TRUE(c.from_maps);
  // A fault maps more than its page: fault-around maps cached neighbours,
  // and a large folio of the page cache (ext4 on 6.x) is mapped whole, so
  // only "what it touched is in, and nothing outside the mapping" holds.
  Ranges r = ranges_of(&c);
  ASSERT_FALSE(r.empty());
  auto covered = [&r](uint64_t o) {
    for (auto &x : r)
      if (o >= x.first && o < x.first + x.second) return true;
    return false;
  };
  EXPECT_TRUE(covered((uint64_t)off));
  EXPECT_TRUE(covered((uint64_t)off + 300 * 4096));
  EXPECT_FALSE(covered(0));                             // before the mapping
  EXPECT_LE(mmhint_cov_count(&c), 512u);
  mmhint_cov_reset(&c);
  // Page 1 goes: all of the mapping is read, and the two parts left are followed on.
  mmhint_cov_map_gone((const void *)(p + 4096), 4096, 1);
  EXPECT_EQ(mmhint_cov_maps_live, 2u);
  r = ranges_of(&c);
  EXPECT_TRUE(covered((uint64_t)off + 300 * 4096));
  mmhint_cov_reset(&c);
  mmhint_cov_map_scan(&c);  // the part after page 1 still marks page 300, at its file offset
  r = ranges_of(&c);
  EXPECT_TRUE(covered((uint64_t)off + 300 * 4096));
  EXPECT_FALSE(covered(0));
  mmhint_cov_map_gone((const void *)p, 2 * kMiB, 0);  // replaced (MAP_FIXED): forgotten unread
  EXPECT_EQ(mmhint_cov_maps_live, 0u);
  mmhint_cov_reset(&c);
  munmap((void *)p, 2 * kMiB);
  // Not followed any more; a mapping of a file without a map is refused.
  mmhint_cov_map_scan(&c);
  EXPECT_EQ(mmhint_cov_count(&c), 0u);
  mmhint_cov_t none{};
  EXPECT_EQ(mmhint_cov_map_add((const void *)p, 4096, 0, &none), -1);
  EXPECT_EQ(mmhint_cov_maps_live, 0u);
}

}  // namespace
