// Tests of policy/pattern.h: the access-pattern classifier.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

extern "C" {
#include "policy/pattern.h"
}

namespace {

struct Classifier {
  mmhint_pattern_t p{};
  mmhint_pattern_log_t log{};
  uint64_t t = 0;
  int switches = 0;
  // Feeds one access; returns the class after it.
  int feed(int64_t off, uint64_t len) {
    switches += mmhint_pattern_feed(&p, off, len, ++t, &log);
    return p.cls;
  }
};

// A small deterministic generator, so that "random" runs are reproducible.
struct Lcg {
  uint64_t s;
  explicit Lcg(uint64_t seed) : s(seed) {}
  uint64_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return s >> 17;
  }
};

constexpr int64_t kPage = 4096;
constexpr int64_t kGiB = 1ll << 30;

TEST(Pattern, UnknownUntilAWholeWindow) {
  Classifier c;
  for (int i = 0; i < MMHINT_PATTERN_WINDOW; i++) EXPECT_EQ(c.feed(i * kPage, kPage), MMHINT_PAT_UNKNOWN) << i;
  // The 17th access makes the 16th step: a full window.
  EXPECT_EQ(c.feed(MMHINT_PATTERN_WINDOW * kPage, kPage), MMHINT_PAT_SEQUENTIAL);
  EXPECT_EQ(c.switches, 1);
}

TEST(Pattern, PureSequential) {
  Classifier c;
  for (int i = 0; i < 10000; i++) c.feed(i * 131072ll, 131072);
  EXPECT_EQ(c.p.cls, MMHINT_PAT_SEQUENTIAL);
  ASSERT_EQ(c.log.total, 1u);
  EXPECT_EQ(c.log.e[0].from, MMHINT_PAT_UNKNOWN);
  EXPECT_EQ(c.log.e[0].to, MMHINT_PAT_SEQUENTIAL);
  EXPECT_EQ(c.log.e[0].offset, 16 * 131072ll);
  EXPECT_EQ(c.log.e[0].ticks, 17u);
}

TEST(Pattern, SequentialWithSmallGapsAndOverlaps) {
  Classifier c;
  Lcg r(1);
  int64_t off = 0;
  for (int i = 0; i < 5000; i++) {
    uint64_t len = 4096 + r.next() % 8192;
    c.feed(off, len);
    // Gaps of up to the read's own size, and now and then a re-read of the last bytes.
    off += (int64_t)len + (i % 7 == 0 ? -(int64_t)(r.next() % 512) : (int64_t)(r.next() % 4096));
  }
  EXPECT_EQ(c.p.cls, MMHINT_PAT_SEQUENTIAL);
  EXPECT_EQ(c.switches, 1);
}

TEST(Pattern, StridedForwardAndBackward) {
  Classifier fwd;
  for (int i = 0; i < 200; i++) fwd.feed(i * (1ll << 20), 4096);  // 4 KiB of every MiB
  EXPECT_EQ(fwd.p.cls, MMHINT_PAT_STRIDED);
  EXPECT_EQ(fwd.switches, 1);

  Classifier back;  // a file read backwards, a block at a time
  for (int i = 0; i < 200; i++) back.feed(kGiB - (i + 1) * 65536ll, 65536);
  EXPECT_EQ(back.p.cls, MMHINT_PAT_STRIDED);
}

TEST(Pattern, LargeGapsAreNotSequential) {
  // 4 KiB reads 64 KiB apart skip 15 pages in 16: readahead would read 16x the bytes.
  Classifier c;
  Lcg r(2);
  int64_t off = 0;
  for (int i = 0; i < 500; i++) {
    c.feed(off, 4096);
    off += 4096 + 32768 + (int64_t)(r.next() % 65536);  // gaps of 32-96 KiB, never constant
  }
  EXPECT_EQ(c.p.cls, MMHINT_PAT_RANDOM);
}

TEST(Pattern, Random) {
  Classifier c;
  Lcg r(3);
  for (int i = 0; i < 5000; i++) c.feed((int64_t)(r.next() % (kGiB / kPage)) * kPage, kPage);
  EXPECT_EQ(c.p.cls, MMHINT_PAT_RANDOM);
  EXPECT_EQ(c.switches, 1);
}

TEST(Pattern, PhasesSwitchOncePerPhaseWithoutPassingThroughMixed) {
  Classifier c;
  Lcg r(4);
  int64_t off = 0;
  for (int phase = 0; phase < 6; phase++) {
    for (int i = 0; i < 300; i++) {
      if (phase % 2 == 0) {
        c.feed(off, 65536);
        off += 65536;
      } else {
        c.feed((int64_t)(r.next() % (kGiB / kPage)) * kPage, kPage);
      }
    }
    EXPECT_EQ(c.p.cls, phase % 2 == 0 ? MMHINT_PAT_SEQUENTIAL : MMHINT_PAT_RANDOM) << "phase " << phase;
  }
  // unknown->seq, then seq->random and random->seq at each of the 5 phase changes.
  EXPECT_EQ(c.switches, 6);
  ASSERT_EQ(mmhint_pattern_log_count(&c.log), 6u);
  EXPECT_EQ(c.log.total, 6u);
  for (uint32_t i = 0; i < 6; i++) {
    const mmhint_pattern_switch_t *e = mmhint_pattern_log_get(&c.log, i);
    EXPECT_NE(e->to, MMHINT_PAT_MIXED);
    if (i > 0) {
      EXPECT_EQ(e->from, mmhint_pattern_log_get(&c.log, i - 1)->to);
    }
  }
  // The switch to random needs DOMINANT random steps: it comes 12 accesses into the phase.
  const mmhint_pattern_switch_t *to_random = mmhint_pattern_log_get(&c.log, 1);
  EXPECT_EQ(to_random->to, MMHINT_PAT_RANDOM);
  EXPECT_EQ(to_random->ticks, 300u + MMHINT_PATTERN_DOMINANT);
}

TEST(Pattern, NoiseDoesNotFlap) {
  // One stray access in every 5 (a header re-read, an index lookup) costs one
  // non-sequential step (the return continues the stream before it): 20% of
  // the window, under the 25% that could move it.
  Classifier c;
  Lcg r(5);
  int64_t off = 0;
  for (int i = 0; i < 20000; i++) {
    if (i % 5 == 4) {
      c.feed((int64_t)(r.next() % (kGiB / kPage)) * kPage, kPage);
    } else {
      c.feed(off, 8192);
      off += 8192;
    }
  }
  EXPECT_EQ(c.p.cls, MMHINT_PAT_SEQUENTIAL);
  EXPECT_EQ(c.switches, 1);
}

TEST(Pattern, ShortBurstDoesNotSwitch) {
  Classifier c;
  Lcg r(6);
  int64_t off = 0;
  for (int i = 0; i < 100; i++, off += 4096) c.feed(off, 4096);
  // DOMINANT-1 odd accesses (DOMINANT random steps with the jump back would win: one less).
  for (int i = 0; i < MMHINT_PATTERN_DOMINANT - 2; i++) c.feed((int64_t)(r.next() % 100000) * kPage, kPage);
  EXPECT_EQ(c.p.cls, MMHINT_PAT_SEQUENTIAL);  // not enough to dominate, not long enough to be mixed
  for (int i = 0; i < 100; i++, off += 4096) c.feed(off, 4096);
  EXPECT_EQ(c.p.cls, MMHINT_PAT_SEQUENTIAL);
  EXPECT_EQ(c.switches, 1);
}

TEST(Pattern, EvenMixBecomesMixedAndStays) {
  Classifier c;
  Lcg r(7);
  int64_t off = 0;
  for (int i = 0; i < 4000; i++) {
    if (i % 2) {
      c.feed((int64_t)(r.next() % (kGiB / kPage)) * kPage, kPage);
    } else {
      c.feed(off, 4096);
      off += 4096;
    }
  }
  // Half the steps continue the stream, half jump: no kind dominates, so mixed.
  EXPECT_EQ(c.p.cls, MMHINT_PAT_MIXED);
  EXPECT_EQ(c.switches, 1);
  // Mixed is only declared after MIXED_AFTER undominated steps past the first full window.
  EXPECT_EQ(c.log.e[0].ticks, (uint64_t)(MMHINT_PATTERN_WINDOW + MMHINT_PATTERN_MIXED_AFTER));
}

TEST(Pattern, ZeroLengthIgnoredAndLogRingKeepsTheLast) {
  Classifier c;
  c.feed(0, 0);
  EXPECT_FALSE(c.p.started);
  Lcg r(8);
  int64_t off = 0;
  for (int phase = 0; phase < 20; phase++)
    for (int i = 0; i < 40; i++) {
      if (phase % 2 == 0) {
        c.feed(off, 4096);
        off += 4096;
      } else {
        c.feed((int64_t)(r.next() % (kGiB / kPage)) * kPage, kPage);
      }
    }
  EXPECT_EQ(c.log.total, 20u);
  ASSERT_EQ(mmhint_pattern_log_count(&c.log), (uint32_t)MMHINT_PATTERN_LOG);
  uint64_t prev = 0;
  for (uint32_t i = 0; i < MMHINT_PATTERN_LOG; i++) {
    const mmhint_pattern_switch_t *e = mmhint_pattern_log_get(&c.log, i);
    EXPECT_GT(e->ticks, prev);  // oldest first
    prev = e->ticks;
  }
  EXPECT_EQ(mmhint_pattern_log_get(&c.log, MMHINT_PATTERN_LOG - 1)->to, MMHINT_PAT_RANDOM);  // the last switch
  EXPECT_STREQ(mmhint_pattern_name(MMHINT_PAT_STRIDED), "strided");
  EXPECT_STREQ(mmhint_pattern_name(99), "?");
}

}  // namespace
