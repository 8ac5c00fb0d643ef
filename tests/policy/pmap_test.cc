// Tests of policy/pmap.h: the prefetch map's parser and lookup.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

extern "C" {
#include "policy/pmap.h"
}

namespace {

// A map with storage sized by the header's rule (len / 4 + 1 of each).
struct Parsed {
  std::string text;  // the buffer the parser decodes in place
  std::vector<mmhint_pmap_entry_t> entries;
  std::vector<mmhint_pmap_path_t> paths;
  std::vector<mmhint_pmap_range_t> ranges;
  mmhint_pmap_t m{};
  unsigned long line = 0;
  mmhint_pmap_status_t st;

  explicit Parsed(const std::string &t, size_t cap = SIZE_MAX) : text(t) {
    size_t n = cap == SIZE_MAX ? t.size() / 4 + 1 : cap;
    entries.resize(n + 1);
    paths.resize(n + 1);
    ranges.resize(n + 1);
    m.entries = entries.data();
    m.paths = paths.data();
    m.ranges = ranges.data();
    m.entries_cap = m.paths_cap = m.ranges_cap = (uint32_t)n;
    st = mmhint_pmap_parse(&m, text.empty() ? nullptr : &text[0], text.size(), &line);
  }

  // Looks a path up; the ranges found in out.
  mmhint_pmap_lookup_t lookup(const char *path, uint64_t size, std::vector<mmhint_pmap_range_t> &out,
                              uint64_t gap = MMHINT_PMAP_MERGE_GAP, size_t cap = 64) {
    out.assign(cap, mmhint_pmap_range_t{});
    size_t n = 0;
    uint64_t bytes = 0;
    mmhint_pmap_lookup_t r = mmhint_pmap_lookup(&m, path, size, gap, out.data(), cap, &n, &bytes);
    out.resize(n);
    uint64_t sum = 0;
    for (auto &x : out) sum += x.len;
    EXPECT_EQ(sum, bytes);
    return r;
  }
};

constexpr uint64_t kMiB = 1ull << 20;

const char kGood[] =
    "mmhint-pmap 1\n"
    "# written by mmhint advise\n"
    "file 16777216 65536\n"
    "path /data/db.sqlite\n"
    "path /srv/link%20with%25space\n"
    "0 131072\n"
    "8388608 65536\n"
    "16711680 65536\n"
    "\n"
    "file 10000 4096\n"
    "path /small\n"
    "8192 1808\n"
    "end\n";

TEST(Pmap, ParsesAGoodMap) {
  Parsed p(kGood);
  ASSERT_EQ(p.st, MMHINT_PMAP_OK) << p.line;
  ASSERT_EQ(p.m.nentries, 2u);
  ASSERT_EQ(p.m.npaths, 3u);
  ASSERT_EQ(p.m.nranges, 4u);
  EXPECT_EQ(p.m.entries[0].size, 16777216u);
  EXPECT_EQ(p.m.entries[0].granule, 65536u);
  EXPECT_EQ(p.m.entries[0].nranges, 3u);
  EXPECT_EQ(p.m.entries[0].bytes, 131072u + 65536 + 65536);
  EXPECT_STREQ(p.m.paths[0].path, "/data/db.sqlite");
  EXPECT_STREQ(p.m.paths[1].path, "/srv/link with%space");
  EXPECT_EQ(p.m.paths[1].entry, 0u);
  EXPECT_EQ(p.m.paths[2].entry, 1u);
  EXPECT_EQ(p.m.ranges[3].off, 8192u);
  EXPECT_EQ(p.m.ranges[3].len, 1808u);  // the last range may end at the file's size
}

TEST(Pmap, EndWithoutNewlineAndTrailingComments) {
  EXPECT_EQ(Parsed("mmhint-pmap 1\nend").st, MMHINT_PMAP_OK);
  EXPECT_EQ(Parsed("mmhint-pmap 1\nend\n\n# done\n").st, MMHINT_PMAP_OK);
  EXPECT_EQ(Parsed("mmhint-pmap 1\nend\nfile 1 4096\n").st, MMHINT_PMAP_E_SYNTAX);
}

TEST(Pmap, LookupMergesNearRangesAndReportsMissingAndStale) {
  Parsed p(kGood);
  ASSERT_EQ(p.st, MMHINT_PMAP_OK);
  std::vector<mmhint_pmap_range_t> out;
  // Gaps of 8 MiB and ~8 MiB are above the default gap: three requests.
  ASSERT_EQ(p.lookup("/data/db.sqlite", 16777216, out), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].off, 0u);
  EXPECT_EQ(out[0].len, 131072u);
  EXPECT_EQ(out[2].off, 16711680u);
  // With a 16 MiB gap everything is one request from 0 to the end.
  ASSERT_EQ(p.lookup("/srv/link with%space", 16777216, out, 16 * kMiB), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].off, 0u);
  EXPECT_EQ(out[0].len, 16777216u);
  EXPECT_EQ(p.lookup("/data/db.sqlite", 16777217, out), MMHINT_PMAP_STALE);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.lookup("/data/db", 16777216, out), MMHINT_PMAP_MISSING);
  EXPECT_EQ(p.lookup("/srv/link%20with%25space", 16777216, out), MMHINT_PMAP_MISSING);  // decoded, not raw
  EXPECT_EQ(p.lookup(nullptr, 16777216, out), MMHINT_PMAP_MISSING);
  const mmhint_pmap_entry_t *e = mmhint_pmap_find(&p.m, "/srv/link with%space");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e, &p.m.entries[0]);
  EXPECT_EQ(e->bytes, 262144u);
  EXPECT_EQ(mmhint_pmap_find(&p.m, "/nope"), nullptr);
  EXPECT_EQ(mmhint_pmap_find(&p.m, nullptr), nullptr);
  ASSERT_EQ(p.lookup("/small", 10000, out), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].off + out[0].len, 10000u);
}

TEST(Pmap, LookupMergesOverlapsAndBoundsTheAnswer) {
  std::string t = "mmhint-pmap 1\nfile 104857600 4096\npath /f\n";
  // Overlapping and duplicate ranges, then 40 ranges 2 MiB apart.
  t += "0 8192\n0 4096\n4096 12288\n";
  for (int i = 1; i <= 40; i++) t += std::to_string(i * 2 * kMiB) + " 4096\n";
  t += "end\n";
  Parsed p(t);
  ASSERT_EQ(p.st, MMHINT_PMAP_OK) << p.line;
  std::vector<mmhint_pmap_range_t> out;
  ASSERT_EQ(p.lookup("/f", 104857600, out), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), 41u);
  EXPECT_EQ(out[0].off, 0u);
  EXPECT_EQ(out[0].len, 16384u);
  for (size_t i = 1; i < out.size(); i++) {
    EXPECT_GT(out[i].off, out[i - 1].off + out[i - 1].len);  // sorted, disjoint
    EXPECT_EQ(out[i].len, 4096u);
  }
  // Capped at 8: the eighth range covers the rest.
  ASSERT_EQ(p.lookup("/f", 104857600, out, MMHINT_PMAP_MERGE_GAP, 8), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), 8u);
  EXPECT_EQ(out[7].off, 7 * 2 * kMiB);
  EXPECT_EQ(out[7].off + out[7].len, 40 * 2 * kMiB + 4096);
  // The gaps between the 4 KiB ranges are 2 MiB - 4 KiB: not below a limit
  // of that much (only the first, smaller gap after [0, 16 KiB) merges); one
  // byte more merges them all.
  ASSERT_EQ(p.lookup("/f", 104857600, out, 2 * kMiB - 4096), MMHINT_PMAP_FOUND);
  EXPECT_EQ(out.size(), 40u);
  ASSERT_EQ(p.lookup("/f", 104857600, out, 2 * kMiB - 4096 + 1), MMHINT_PMAP_FOUND);
  EXPECT_EQ(out.size(), 1u);
}

// Bounded lookups: the smallest gaps are filled first, up to max_fill bytes.
TEST(Pmap, BoundedLookupFillsTheSmallestGapsFirst) {
  // Runs of 4 KiB with gaps of 4, 8, 12 and 16 KiB (in a scrambled order) and one of 2 MiB.
  std::string t = "mmhint-pmap 1\nfile 16777216 4096\npath /f\n";
  const uint64_t gaps[] = {12288, 4096, 16384, 8192, 2 * kMiB};
  uint64_t off = 0;
  for (uint64_t g : gaps) {
    t += std::to_string(off) + " 4096\n";
    off += 4096 + g;
  }
  t += std::to_string(off) + " 4096\nend\n";
  Parsed p(t);
  ASSERT_EQ(p.st, MMHINT_PMAP_OK) << p.line;
  auto bounded = [&p](uint64_t max_fill, std::vector<mmhint_pmap_range_t> &out, uint64_t *filled,
                      uint64_t gap = MMHINT_PMAP_MERGE_GAP) {
    out.assign(64, mmhint_pmap_range_t{});
    size_t n = 0;
    uint64_t bytes = 0;
    mmhint_pmap_lookup_t r =
        mmhint_pmap_lookup_bounded(&p.m, "/f", 16777216, gap, max_fill, out.data(), out.size(), &n, &bytes, filled);
    out.resize(n);
    uint64_t sum = 0;
    for (auto &x : out) sum += x.len;
    EXPECT_EQ(sum, bytes);
    return r;
  };
  std::vector<mmhint_pmap_range_t> out;
  uint64_t filled = 1;
  ASSERT_EQ(bounded(0, out, &filled), MMHINT_PMAP_FOUND);
  EXPECT_EQ(out.size(), 6u);
  EXPECT_EQ(filled, 0u);
  ASSERT_EQ(bounded(4096, out, &filled), MMHINT_PMAP_FOUND);  // the 4 KiB gap only
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(filled, 4096u);
  ASSERT_EQ(bounded(4096 + 8192 + 12288 - 1, out, &filled), MMHINT_PMAP_FOUND);  // 4 and 8, not 12
  EXPECT_EQ(out.size(), 4u);
  EXPECT_EQ(filled, 4096u + 8192);
  ASSERT_EQ(bounded(UINT64_MAX, out, &filled), MMHINT_PMAP_FOUND);  // every gap below 1 MiB
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(filled, 4096u + 8192 + 12288 + 16384);
  ASSERT_EQ(bounded(UINT64_MAX, out, &filled, 16 * kMiB), MMHINT_PMAP_FOUND);  // and the 2 MiB one
  EXPECT_EQ(out.size(), 1u);
  // The same answer as the unbounded lookup when nothing binds.
  std::vector<mmhint_pmap_range_t> plain;
  ASSERT_EQ(p.lookup("/f", 16777216, plain), MMHINT_PMAP_FOUND);
  ASSERT_EQ(bounded(UINT64_MAX, out, nullptr), MMHINT_PMAP_FOUND);
  ASSERT_EQ(out.size(), plain.size());
  for (size_t i = 0; i < out.size(); i++) EXPECT_EQ(out[i].off, plain[i].off);
  // Missing and stale as the unbounded one.
  size_t n = 7;
  EXPECT_EQ(mmhint_pmap_lookup_bounded(&p.m, "/g", 16777216, kMiB, 0, out.data(), 1, &n, nullptr, nullptr),
            MMHINT_PMAP_MISSING);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(mmhint_pmap_lookup_bounded(&p.m, "/f", 1, kMiB, 0, out.data(), 1, &n, nullptr, &filled),
            MMHINT_PMAP_STALE);
  EXPECT_EQ(filled, 0u);
}

TEST(Pmap, DetectsTruncationAtEveryByte) {
  const std::string good(kGood);
  for (size_t n = 0; n < good.size(); n++) {
    Parsed p(good.substr(0, n));
    // Cut right after "end" (no newline) is the whole map.
    if (n == good.size() - 1) {
      EXPECT_EQ(p.st, MMHINT_PMAP_OK) << n;
      continue;
    }
    EXPECT_EQ(p.st, MMHINT_PMAP_E_TRUNCATED) << "cut at " << n << ": " << good.substr(0, n);
  }
}

TEST(Pmap, RejectsHeadersAndVersions) {
  EXPECT_EQ(Parsed("").st, MMHINT_PMAP_E_TRUNCATED);
  EXPECT_EQ(Parsed("hello\nend\n").st, MMHINT_PMAP_E_HEADER);
  EXPECT_EQ(Parsed("mmhint-pmapx 1\nend\n").st, MMHINT_PMAP_E_HEADER);
  EXPECT_EQ(Parsed("mmhint-pmap\nend\n").st, MMHINT_PMAP_E_HEADER);
  EXPECT_EQ(Parsed("mmhint-pmap one\nend\n").st, MMHINT_PMAP_E_HEADER);
  EXPECT_EQ(Parsed("mmhint-pmap 1 x\nend\n").st, MMHINT_PMAP_E_HEADER);
  EXPECT_EQ(Parsed("mmhint-pmap 2\nend\n").st, MMHINT_PMAP_E_VERSION);
  EXPECT_EQ(Parsed("{\"schema\": \"mmhint-stats/1\"}\n").st, MMHINT_PMAP_E_HEADER);
}

TEST(Pmap, RejectsMalformedLinesWithTheirLine) {
  struct Case {
    const char *body;
    mmhint_pmap_status_t st;
    unsigned long line;  // of the whole text, the header being line 1
  } cases[] = {
      {"0 4096\n", MMHINT_PMAP_E_SYNTAX, 2},                                  // a range before any file
      {"file 8192 4096\n0 4096\n", MMHINT_PMAP_E_SYNTAX, 3},                  // a range before the path
      {"file 8192 4096\nend\n", MMHINT_PMAP_E_SYNTAX, 3},                     // an entry without a path
      {"file 8192 4096\nfile 8192 4096\n", MMHINT_PMAP_E_SYNTAX, 3},          // the same
      {"file 8192 4096\npath relative\n", MMHINT_PMAP_E_SYNTAX, 3},           // paths are absolute
      {"file 8192 4096\npath \n", MMHINT_PMAP_E_SYNTAX, 3},                   // or present
      {"file 8192 4096\npath /a%2\n", MMHINT_PMAP_E_SYNTAX, 3},               // a cut escape
      {"file 8192 4096\npath /a%zz\n", MMHINT_PMAP_E_SYNTAX, 3},              // a bad escape
      {"file 8192 4096\npath /a%00\n", MMHINT_PMAP_E_SYNTAX, 3},              // NUL
      {"file 8192 4096\npath /a\x01\n", MMHINT_PMAP_E_SYNTAX, 3},             // a raw control byte
      {"file 8192 4096\npath /a\n0 4096\npath /b\n", MMHINT_PMAP_E_SYNTAX, 5},  // a path after ranges
      {"file 8192 4096 7\n", MMHINT_PMAP_E_SYNTAX, 2},
      {"file 8192\n", MMHINT_PMAP_E_NUMBER, 2},
      {"file -1 4096\n", MMHINT_PMAP_E_NUMBER, 2},
      {"file 8192 4096\npath /a\n0 4096 1\n", MMHINT_PMAP_E_SYNTAX, 4},
      {"file 8192 4096\npath /a\n0\n", MMHINT_PMAP_E_NUMBER, 4},
      {"file 8192 4096\npath /a\n0x10 4096\n", MMHINT_PMAP_E_NUMBER, 4},
      {"file 8192 4096\npath /a\n+0 4096\n", MMHINT_PMAP_E_SYNTAX, 4},
      {"files 8192 4096\n", MMHINT_PMAP_E_SYNTAX, 2},
      {"ends\n", MMHINT_PMAP_E_SYNTAX, 2},
      {"end x\n", MMHINT_PMAP_E_SYNTAX, 2},
      {"\x7f\x45LF\n", MMHINT_PMAP_E_SYNTAX, 2},
  };
  for (const Case &c : cases) {
    Parsed p(std::string("mmhint-pmap 1\n") + c.body + "end\n");
    EXPECT_EQ(p.st, c.st) << c.body;
    EXPECT_EQ(p.line, c.line) << c.body;
  }
}

TEST(Pmap, RejectsHugeNumbersAndBadRanges) {
  struct Case {
    const char *body;
    mmhint_pmap_status_t st;
  } cases[] = {
      {"file 9223372036854775807 4096\npath /a\n9223372036854771712 4094\n", MMHINT_PMAP_E_RANGE},  // unaligned length
      {"file 9223372036854775808 4096\n", MMHINT_PMAP_E_NUMBER},                                   // 2^63
      {"file 99999999999999999999999 4096\n", MMHINT_PMAP_E_NUMBER},
      {"file 8192 4096\npath /a\n9223372036854775807 9223372036854775807\n", MMHINT_PMAP_E_RANGE},  // no wrap
      {"file 8192 4096\npath /a\n4096 8192\n", MMHINT_PMAP_E_RANGE},                                // beyond the size
      {"file 8192 4096\npath /a\n0 0\n", MMHINT_PMAP_E_RANGE},                                      // empty
      {"file 8192 4096\npath /a\n100 4096\n", MMHINT_PMAP_E_RANGE},                                 // unaligned offset
      {"file 12288 4096\npath /a\n0 6000\n", MMHINT_PMAP_E_RANGE},      // unaligned length not at the end
      {"file 12288 4096\npath /a\n4096 4096\n0 4096\n", MMHINT_PMAP_E_RANGE},  // out of order
      {"file 8192 2048\n", MMHINT_PMAP_E_RANGE},                               // granule too small
      {"file 8192 12288\n", MMHINT_PMAP_E_RANGE},                              // not a power of two
      {"file 8192 2147483648\n", MMHINT_PMAP_E_RANGE},                         // too large
  };
  for (const Case &c : cases) {
    Parsed p(std::string("mmhint-pmap 1\n") + c.body + "end\n");
    EXPECT_EQ(p.st, c.st) << c.body;
  }
  // The largest values that are allowed.
  Parsed big("mmhint-pmap 1\nfile 9223372036854775807 1073741824\npath /a\n"
             "9223372035781033984 1073741823\nend\n");
  EXPECT_EQ(big.st, MMHINT_PMAP_OK) << big.line;
}

TEST(Pmap, ReportsTooLittleStorage) {
  std::string two = "mmhint-pmap 1\nfile 8192 4096\npath /a\n0 4096\n4096 4096\nend\n";
  EXPECT_EQ(Parsed(two, 1).st, MMHINT_PMAP_E_SPACE);
  EXPECT_EQ(Parsed(two, 2).st, MMHINT_PMAP_OK);
  EXPECT_EQ(Parsed(two, 0).st, MMHINT_PMAP_E_SPACE);
}

TEST(Pmap, SurvivesGarbage) {
  // Deterministic garbage, and garbage after a good header and entry: never
  // a crash, never OK unless the text really is a map.
  uint64_t s = 42;
  for (int round = 0; round < 2000; round++) {
    std::string t = round % 2 ? "mmhint-pmap 1\nfile 1048576 4096\npath /g\n" : "";
    int n = (int)(s % 200);
    const char alphabet[] = "0123456789 \n#%/endfilpath-\t\x01\xff";
    for (int i = 0; i < n; i++) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      t += alphabet[(s >> 33) % (sizeof alphabet - 1)];
    }
    Parsed p(t);
    if (p.st == MMHINT_PMAP_OK) {
      // Whatever it accepted is consistent.
      for (uint32_t i = 0; i < p.m.nentries; i++) {
        const mmhint_pmap_entry_t &e = p.m.entries[i];
        for (uint32_t k = 0; k < e.nranges; k++) {
          const mmhint_pmap_range_t &r = p.m.ranges[e.first + k];
          EXPECT_LE(r.off + r.len, e.size);
        }
      }
    }
    std::vector<mmhint_pmap_range_t> out;
    if (p.st == MMHINT_PMAP_OK) p.lookup("/g", 1048576, out);
  }
}

TEST(Pmap, EveryStatusHasASentence) {
  for (int s = MMHINT_PMAP_OK; s <= MMHINT_PMAP_E_SPACE; s++)
    EXPECT_GT(std::string(mmhint_pmap_strerror((mmhint_pmap_status_t)s)).size(), 5u);
}

}  // namespace
