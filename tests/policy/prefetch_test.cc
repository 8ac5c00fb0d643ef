// Unit tests of policy/prefetch.c: the decisions at open and at a read, the
// step walk over a job's ranges, clipping, the MemAvailable limit and the job
// table (join, last user stops, oldest first, process end).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "policy/json.h"
#include "policy/prefetch.h"
#include "policy/stats.h"
}

namespace {

mmhint_pf_open_facts_t Facts(int mode, int64_t size) {
  mmhint_pf_open_facts_t f;
  f.mode = mode;
  f.type = S_IFREG;
  f.oflags = O_RDONLY;
  f.size = size;
  f.min = 1 << 20;
  return f;
}

TEST(Prefetch, DecideOpen) {
  {
    mmhint_pf_open_facts_t off = Facts(MMHINT_PF_OFF, 1 << 30);
    EXPECT_EQ(mmhint_prefetch_decide_open(&off), MMHINT_PF_SKIP);
  }
  mmhint_pf_open_facts_t f = Facts(MMHINT_PF_WHOLE, 64 << 20);
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_START);
  f.mode = MMHINT_PF_AUTO;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_WAIT);
  f.mode = MMHINT_PF_LEARNED;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_WAIT);
  f.mode = MMHINT_PF_WHOLE;
  f.oflags = O_WRONLY;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_SKIP) << "a writer";
  f.oflags = O_RDWR;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_START) << "a reader that also writes";
  f.oflags = O_RDONLY | O_DIRECT;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_SKIP) << "O_DIRECT bypasses the cache";
  f.oflags = O_RDONLY;
  f.type = S_IFIFO;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_SKIP) << "not a regular file";
  f.type = S_IFREG;
  f.size = 4096;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_SKIP) << "below prefetch_min";
  f.size = 0;
  f.min = 0;
  EXPECT_EQ(mmhint_prefetch_decide_open(&f), MMHINT_PF_SKIP) << "empty";
}

TEST(Prefetch, AutoFiresOnRandomOnly) {
  EXPECT_FALSE(mmhint_prefetch_auto_fires(MMHINT_PAT_UNKNOWN));
  EXPECT_FALSE(mmhint_prefetch_auto_fires(MMHINT_PAT_SEQUENTIAL));
  EXPECT_FALSE(mmhint_prefetch_auto_fires(MMHINT_PAT_MIXED));
  EXPECT_TRUE(mmhint_prefetch_auto_fires(MMHINT_PAT_RANDOM));
  EXPECT_TRUE(mmhint_prefetch_auto_fires(MMHINT_PAT_STRIDED));
}

TEST(Prefetch, AutoNeedsTheClassifiersEvidence) {
  // A random reader starts auto only after the classifier's window (12 of 16 steps); a sequential one never.
  mmhint_pattern_t p;
  memset(&p, 0, sizeof p);
  uint64_t x = 88172645463325252ull;
  int fired_at = -1;
  for (int i = 0; i < 100 && fired_at < 0; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (mmhint_pattern_feed(&p, (int64_t)(x % 100000) * 4096, 4096, i, nullptr) && mmhint_prefetch_auto_fires(p.cls))
      fired_at = i;
  }
  EXPECT_GE(fired_at, MMHINT_PATTERN_DOMINANT);
  EXPECT_LE(fired_at, MMHINT_PATTERN_WINDOW + 1);
  memset(&p, 0, sizeof p);
  for (int i = 0; i < 1000; i++) {
    int changed = mmhint_pattern_feed(&p, (int64_t)i * 131072, 131072, i, nullptr);
    EXPECT_FALSE(changed && mmhint_prefetch_auto_fires(p.cls));
  }
}

TEST(Prefetch, Limit) {
  EXPECT_EQ(mmhint_prefetch_limit(1 << 20, 1ll << 34), 1 << 20) << "an explicit prefetch_max wins";
  EXPECT_EQ(mmhint_prefetch_limit(0, 8ll << 30), (8ll << 30) * MMHINT_PF_MEM_NUM / MMHINT_PF_MEM_DEN);
  EXPECT_EQ(mmhint_prefetch_limit(0, -1), 0) << "unknown MemAvailable: nothing is prefetched";
}

TEST(Prefetch, ParseMeminfo) {
  const std::string t = "MemTotal:       24684136 kB\nMemFree:        22626264 kB\nMemAvailable:   22944256 kB\n";
  EXPECT_EQ(mmhint_prefetch_parse_meminfo(t.data(), t.size()), 22944256ll * 1024);
  const std::string no = "MemTotal: 1 kB\nXMemAvailable: 5 kB\n";
  EXPECT_EQ(mmhint_prefetch_parse_meminfo(no.data(), no.size()), -1);
  const std::string bad = "MemAvailable: lots\n";
  EXPECT_EQ(mmhint_prefetch_parse_meminfo(bad.data(), bad.size()), -1);
  const std::string cut = "MemAvailable:   2294";
  EXPECT_EQ(mmhint_prefetch_parse_meminfo(cut.data(), cut.size()), -1) << "a line cut before its unit";
}

TEST(Prefetch, CgroupPath) {
  char out[64];
  const std::string v1 = "12:pids:/x\n4:memory:/process_api/5a\n0::/\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(v1.data(), v1.size(), out, sizeof out), 1);
  EXPECT_STREQ(out, "/process_api/5a") << "a v1 memory line wins over the v2 line";
  const std::string joined = "3:cpu,cpuacct,memory:/slice/a.scope\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(joined.data(), joined.size(), out, sizeof out), 1);
  EXPECT_STREQ(out, "/slice/a.scope");
  const std::string v2 = "0::/user.slice/user-0.slice/session-1.scope\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(v2.data(), v2.size(), out, sizeof out), 2);
  EXPECT_STREQ(out, "/user.slice/user-0.slice/session-1.scope");
  const std::string last = "0::/";  /* no final newline */
  EXPECT_EQ(mmhint_prefetch_cgroup(last.data(), last.size(), out, sizeof out), 2);
  EXPECT_STREQ(out, "/");
  const std::string none = "5:cpu:/a\n6:memoryx:/b\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(none.data(), none.size(), out, sizeof out), 0) << "memoryx is not memory";
  const std::string longp = "0::/" + std::string(100, 'a') + "\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(longp.data(), longp.size(), out, sizeof out), 0) << "a path that does not fit";
  const std::string bad = "garbage\n::\n";
  EXPECT_EQ(mmhint_prefetch_cgroup(bad.data(), bad.size(), out, sizeof out), 0);
}

TEST(Prefetch, CgroupNumbers) {
  EXPECT_EQ(mmhint_prefetch_parse_number("123\n", 4), 123);
  EXPECT_EQ(mmhint_prefetch_parse_number("max\n", 4), INT64_MAX);
  EXPECT_EQ(mmhint_prefetch_parse_number("", 0), -1);
  EXPECT_EQ(mmhint_prefetch_parse_number("12x\n", 4), -1);
  EXPECT_EQ(mmhint_prefetch_parse_number("99999999999999999999\n", 21), -1) << "overflow";
  const std::string st = "cache 5\ninactive_file 4096\ntotal_inactive_file 8192\nhierarchical_memory_limit 1048576\n";
  EXPECT_EQ(mmhint_prefetch_parse_stat(st.data(), st.size(), "inactive_file"), 4096) << "the whole key, not a suffix";
  EXPECT_EQ(mmhint_prefetch_parse_stat(st.data(), st.size(), "total_inactive_file"), 8192);
  EXPECT_EQ(mmhint_prefetch_parse_stat(st.data(), st.size(), "hierarchical_memory_limit"), 1048576);
  EXPECT_EQ(mmhint_prefetch_parse_stat(st.data(), st.size(), "active_file"), -1);
}

TEST(Prefetch, CgroupRoom) {
  EXPECT_EQ(mmhint_prefetch_cgroup_room(64 << 20, 40 << 20, 8 << 20), 32 << 20) << "limit - usage + inactive file";
  EXPECT_EQ(mmhint_prefetch_cgroup_room(64 << 20, 80 << 20, 0), 0) << "never below 0";
  EXPECT_EQ(mmhint_prefetch_cgroup_room(INT64_MAX, 1, 0), -1) << "v2 max: no limit";
  EXPECT_EQ(mmhint_prefetch_cgroup_room(9223372036854771712ll, 1, 0), -1) << "v1's unlimited";
  EXPECT_EQ(mmhint_prefetch_cgroup_room(64 << 20, -1, 0), -1) << "usage unknown";
  EXPECT_EQ(mmhint_prefetch_cgroup_room(64 << 20, 16 << 20, -1), 48 << 20) << "inactive file unknown counts 0";
  EXPECT_EQ(mmhint_prefetch_limit(0, mmhint_prefetch_cgroup_room(1ll << 30, 1ll << 29, 0)), (1ll << 29) / 2);
}

TEST(Prefetch, SeekMovesTheCursorForwardOnly) {
  const mmhint_pf_range_t r[] = {{0, 100}, {200, 0}, {300, 50}, {1000, 10}};
  int ri = 0;
  int64_t roff = 0, off, len;
  EXPECT_EQ(mmhint_prefetch_seek(r, 4, &ri, &roff, 40), 40) << "into the first range";
  ASSERT_TRUE(mmhint_prefetch_next(r, 4, &ri, &roff, 1000, &off, &len));
  EXPECT_EQ(off, 40);
  EXPECT_EQ(len, 60);
  EXPECT_EQ(mmhint_prefetch_seek(r, 4, &ri, &roff, 10), 0) << "never backwards";
  EXPECT_EQ(mmhint_prefetch_seek(r, 4, &ri, &roff, 320), 20) << "over the empty range, into the third";
  ASSERT_TRUE(mmhint_prefetch_next(r, 4, &ri, &roff, 1000, &off, &len));
  EXPECT_EQ(off, 320);
  EXPECT_EQ(len, 30);
  EXPECT_EQ(mmhint_prefetch_seek(r, 4, &ri, &roff, 5000), 10) << "past the end: the last range's bytes";
  EXPECT_FALSE(mmhint_prefetch_next(r, 4, &ri, &roff, 1000, &off, &len));
}

TEST(Prefetch, BytesFrom) {
  const mmhint_pf_range_t r[] = {{0, 100}, {200, 0}, {300, 50}};
  EXPECT_EQ(mmhint_prefetch_bytes_from(r, 3, 0), 150);
  EXPECT_EQ(mmhint_prefetch_bytes_from(r, 3, 50), 100);
  EXPECT_EQ(mmhint_prefetch_bytes_from(r, 3, 320), 30);
  EXPECT_EQ(mmhint_prefetch_bytes_from(r, 3, 350), 0);
}

TEST(Prefetch, StepSize) {
  EXPECT_EQ(mmhint_prefetch_step_size(4 << 20, 8 << 20, 4096), 4 << 20);
  EXPECT_EQ(mmhint_prefetch_step_size(32 << 20, 8 << 20, 4096), 8 << 20) << "capped at what one request reads";
  EXPECT_EQ(mmhint_prefetch_step_size(10000, 0, 4096), 8192) << "whole pages";
  EXPECT_EQ(mmhint_prefetch_step_size(100, 0, 4096), 4096);
}

TEST(Prefetch, NextWalksRangesInSteps) {
  const mmhint_pf_range_t r[] = {{0, 10}, {100, 0}, {200, 25}};
  int ri = 0;
  int64_t roff = 0, off, len;
  std::string got;
  while (mmhint_prefetch_next(r, 3, &ri, &roff, 10, &off, &len)) got += std::to_string(off) + "+" + std::to_string(len) + " ";
  EXPECT_EQ(got, "0+10 200+10 210+10 220+5 ");
  ri = 0;
  roff = 0;
  EXPECT_EQ(mmhint_prefetch_next(r, 0, &ri, &roff, 10, &off, &len), 0);
}

TEST(Prefetch, ClipMergesAndCuts) {
  mmhint_pf_range_t r[] = {{0, 4096}, {4096, 4096}, {16384, 4096}, {20480 + 100, 100}, {1 << 20, 4096}, {50, 0}};
  int n = mmhint_prefetch_clip(r, 5, 1 << 20, 0);
  ASSERT_EQ(n, 3);
  EXPECT_EQ(r[0].off, 0);
  EXPECT_EQ(r[0].len, 8192);
  EXPECT_EQ(r[1].off, 16384);
  EXPECT_EQ(r[1].len, 4096);
  EXPECT_EQ(r[2].off, 20480 + 100);
  EXPECT_EQ(mmhint_prefetch_bytes(r, n), 8192 + 4096 + 100);
  mmhint_pf_range_t g[] = {{0, 4096}, {16384, 4096}};
  EXPECT_EQ(mmhint_prefetch_clip(g, 2, 1 << 20, 65536), 1) << "within the gap: one request";
  EXPECT_EQ(g[0].len, 20480);
  mmhint_pf_range_t past[] = {{0, 1 << 20}};
  EXPECT_EQ(mmhint_prefetch_clip(past, 1, 5000, 0), 1);
  EXPECT_EQ(past[0].len, 5000) << "cut at the file's end";
}

TEST(Prefetch, JobTableJoinStopAndOrder) {
  static mmhint_file_t a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  mmhint_pf_spec_t proto;
  memset(&proto, 0, sizeof proto);
  proto.file = &a;
  proto.size = 1 << 20;
  proto.step = 4096;
  uint32_t sa, ga, sa2, ga2, sb, gb;
  ASSERT_EQ(mmhint_prefetch_submit(&proto, 10, &sa, &ga), 0);
  ASSERT_EQ(mmhint_prefetch_submit(&proto, 11, &sa2, &ga2), 1) << "a second description of the file joins";
  EXPECT_EQ(sa, sa2);
  proto.file = &b;
  ASSERT_EQ(mmhint_prefetch_submit(&proto, 12, &sb, &gb), 0);

  mmhint_pf_job_t *j = mmhint_prefetch_claim();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->file, &a) << "oldest first";
  EXPECT_EQ(j->ranges, j->own) << "the ranges are the slot's copy, not the caller's";
  EXPECT_EQ(j->nranges, 1);
  EXPECT_EQ(j->own[0].len, 1 << 20);
  mmhint_prefetch_unuse(sa, ga);
  EXPECT_FALSE(mmhint_prefetch_should_stop(j)) << "one description still holds it";
  mmhint_prefetch_unuse(sa, ga);
  EXPECT_TRUE(mmhint_prefetch_should_stop(j)) << "the last one went";
  mmhint_prefetch_finish(j, MMHINT_PFC_stopped_close, 20);
  EXPECT_EQ(a.prefetch.c[MMHINT_PFC_stopped_close], 1u);
  EXPECT_EQ(a.c[MMHINT_FC_prefetch_time_ns], 10u) << "ticks from submit to finish";
  mmhint_prefetch_unuse(sa, ga); // a stale reference: nothing happens

  j = mmhint_prefetch_claim();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->file, &b);
  EXPECT_EQ(mmhint_prefetch_claim(), nullptr);
  mmhint_prefetch_exiting(30);
  EXPECT_TRUE(mmhint_prefetch_should_stop(j));
  EXPECT_EQ(b.prefetch.c[MMHINT_PFC_stopped_exit], 1u);
  mmhint_prefetch_finish(j, MMHINT_PFC_stopped_close, 40);
  EXPECT_EQ(b.prefetch.c[MMHINT_PFC_stopped_close], 0u) << "counted once, at the process's end";
  mmhint_prefetch_resume();
  EXPECT_FALSE(mmhint_prefetch_is_exiting());
}

TEST(Prefetch, SubmitCopiesAndBoundsRanges) {
  static mmhint_file_t a;
  std::vector<mmhint_pf_range_t> many_v(MMHINT_PF_MAX_RANGES + 10);
  mmhint_pf_range_t *many = many_v.data();
  for (int i = 0; i < MMHINT_PF_MAX_RANGES + 10; i++) many[i] = {(int64_t)i * 8192, 4096};
  mmhint_pf_spec_t proto;
  memset(&proto, 0, sizeof proto);
  proto.file = &a;
  proto.ranges = many;
  proto.nranges = MMHINT_PF_MAX_RANGES + 10;
  uint32_t s, g;
  ASSERT_EQ(mmhint_prefetch_submit(&proto, 1, &s, &g), 0);
  mmhint_pf_job_t *j = mmhint_prefetch_claim();
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(j->nranges, MMHINT_PF_MAX_RANGES);
  EXPECT_NE(j->list, nullptr) << "a long list lives in memory of its own";
  EXPECT_EQ(j->ranges[1].off, 8192);
  const mmhint_pf_range_t &last = j->ranges[MMHINT_PF_MAX_RANGES - 1];
  EXPECT_EQ(last.off + last.len, many[MMHINT_PF_MAX_RANGES + 9].off + 4096) << "the last range covers the rest";
  mmhint_prefetch_finish(j, -1, 2);
  EXPECT_EQ(j->list, nullptr) << "unmapped when the job ends";
}

TEST(Prefetch, TableFullIsAFallback) {
  static mmhint_file_t files[MMHINT_PF_JOBS + 1];
  mmhint_pf_spec_t proto;
  memset(&proto, 0, sizeof proto);
  proto.size = 4096;
  uint32_t s[MMHINT_PF_JOBS + 1], g[MMHINT_PF_JOBS + 1];
  for (int i = 0; i < MMHINT_PF_JOBS; i++) {
    proto.file = &files[i];
    ASSERT_EQ(mmhint_prefetch_submit(&proto, 1, &s[i], &g[i]), 0);
  }
  proto.file = &files[MMHINT_PF_JOBS];
  EXPECT_EQ(mmhint_prefetch_submit(&proto, 1, &s[0], &g[0]), -1);
  for (mmhint_pf_job_t *j; (j = mmhint_prefetch_claim()) != nullptr;) mmhint_prefetch_finish(j, -1, 2);
}

TEST(Prefetch, RenderOnlyWhenAsked) {
  mmhint_prefetch_file_t pf;
  memset(&pf, 0, sizeof pf);
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_prefetch_render(&j, &pf);
  mmhint_json_end_object(&j);
  EXPECT_EQ(std::string(j.buf, j.len), "{}");
  mmhint_json_free(&j);
  mmhint_prefetch_note_mode(&pf, MMHINT_PF_AUTO);
  mmhint_prefetch_fallback(&pf, MMHINT_PFB_too_large);
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_prefetch_render(&j, &pf);
  mmhint_json_end_object(&j);
  std::string s(j.buf, j.len);
  mmhint_json_free(&j);
  EXPECT_NE(s.find("\"mode\":\"auto\""), std::string::npos) << s;
  EXPECT_NE(s.find("\"too_large\":1"), std::string::npos) << s;
  EXPECT_NE(s.find("\"resident_after_bytes\":null"), std::string::npos) << "not measured is not zero: " << s;
}

}  // namespace
