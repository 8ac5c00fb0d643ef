// Unit tests of policy/stats.c: the per-file store, the sampler, rendering,
// path templates and the safe writer.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "policy/clock.h"
#include "policy/stats.h"
#include "policy/os/os.h"

namespace {

std::string Render(const mmhint_config_t *cfg, uint64_t reentrant = 0) {
  mmhint_process_info_t info = {};
  info.reentrant_calls = reentrant;
  info.pid = 42;
  info.ppid = 1;
  info.exe = "/bin/prog";
  static const char cmd[] = "prog\0arg \"q\"\0";
  info.cmdline = cmd;
  info.cmdline_len = sizeof cmd - 1;
  info.host = "h";
  info.end_reason = "exit";
  info.cfg = cfg;
  char *buf = nullptr;
  size_t cap = 0;
  long n = mmhint_stats_render(&info, &buf, &cap);
  EXPECT_GT(n, 0);
  std::string s(buf, (size_t)n);
  mmhint_os_munmap(buf, cap);
  return s;
}

class StatsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    mmhint_clock_init();
    mmhint_stats_init(8);
  }
};

TEST_F(StatsTest, SameDeviceAndInodeIsOneRecord) {
  mmhint_file_t *a = mmhint_stats_file(1, 100, S_IFREG, 10);
  mmhint_file_t *b = mmhint_stats_file(1, 100, S_IFREG, 99);
  mmhint_file_t *c = mmhint_stats_file(2, 100, S_IFREG, 10);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a->size_at_open, 10);  // the first open's size is kept
}

TEST_F(StatsTest, PathsAreDeduplicatedAndBounded) {
  mmhint_file_t *f = mmhint_stats_file(1, 200, S_IFREG, 0);
  mmhint_stats_add_path(f, "/a");
  mmhint_stats_add_path(f, "/a");
  EXPECT_EQ(f->npaths, 1);
  for (int i = 0; i < 20; i++) mmhint_stats_add_path(f, ("/p" + std::to_string(i)).c_str());
  EXPECT_EQ(f->npaths, MMHINT_MAX_PATHS);
}

TEST_F(StatsTest, ReadRecordingCountsSequentialAndConsecutive) {
  mmhint_file_t *f = mmhint_stats_file(1, 300, S_IFREG, 0);
  mmhint_stats_read(f, 100, 0, -1, 10, 20, MMHINT_OP_READ);    // first read: neither
  mmhint_stats_read(f, 100, 100, 100, 20, 30, MMHINT_OP_READ); // consecutive
  mmhint_stats_read(f, 50, 300, 200, 30, 40, MMHINT_OP_PREAD); // sequential with a gap
  mmhint_stats_read(f, 10, 0, 350, 40, 50, MMHINT_OP_PREAD);   // backwards
  mmhint_stats_read(f, -1, 0, 10, 50, 60, MMHINT_OP_READ);     // an error
  mmhint_stats_read(f, 0, 10, 10, 60, 70, MMHINT_OP_READ);     // end of file: a read of 0
  EXPECT_EQ(f->c[MMHINT_FC_reads], 5u);
  EXPECT_EQ(f->c[MMHINT_FC_read_errors], 1u);
  EXPECT_EQ(f->c[MMHINT_FC_bytes_read], 260u);
  EXPECT_EQ(f->c[MMHINT_FC_seq_reads], 3u);
  EXPECT_EQ(f->c[MMHINT_FC_consec_reads], 2u);
  EXPECT_EQ(f->c[MMHINT_FC_max_byte_read], 350u);
  EXPECT_EQ(f->c[MMHINT_FC_read_time_ns], 60u);  // ticks until rendered
  EXPECT_EQ(f->c[MMHINT_FC_eof_reads], 1u);      // the read of 0 is the end of the file
  EXPECT_EQ(f->hist[0], 2u);                     // 50 and 10 bytes: 0-100 (not the read of 0)
  EXPECT_EQ(f->hist[1], 2u);                     // 100 and 100 bytes: 100-1K
}

TEST_F(StatsTest, WriteRecordingIsTheReadRecordingOfTheWriteCounters) {
  mmhint_file_t *f = mmhint_stats_file(1, 301, S_IFREG, 0);
  mmhint_stats_write_dur(f, 100, 0, -1, 10, 10, 20, MMHINT_OP_WRITE);    // first write: neither
  mmhint_stats_write_dur(f, 100, 100, 100, 10, 20, 30, MMHINT_OP_WRITE); // consecutive
  mmhint_stats_write_dur(f, 5000, 300, 200, 10, 30, 40, MMHINT_OP_PWRITE); // sequential with a gap
  mmhint_stats_write_dur(f, 10, 0, 5300, 10, 40, 50, MMHINT_OP_PWRITE);  // backwards
  mmhint_stats_write_dur(f, -1, 0, 10, 10, 50, 60, MMHINT_OP_WRITE);     // an error
  mmhint_stats_write_dur(f, 7, -1, 10, 10, 60, 70, MMHINT_OP_WRITE);     // offset unknown (a pipe)
  EXPECT_EQ(f->c[MMHINT_FC_writes], 5u);
  EXPECT_EQ(f->c[MMHINT_FC_write_errors], 1u);
  EXPECT_EQ(f->c[MMHINT_FC_bytes_written], 5217u);
  EXPECT_EQ(f->c[MMHINT_FC_seq_writes], 2u);
  EXPECT_EQ(f->c[MMHINT_FC_consec_writes], 1u);
  EXPECT_EQ(f->c[MMHINT_FC_max_byte_written], 5300u);
  EXPECT_EQ(f->c[MMHINT_FC_write_time_ns], 60u);  // ticks until rendered
  EXPECT_EQ(f->whist[0], 2u);                     // 10 and 7 bytes
  EXPECT_EQ(f->whist[1], 2u);                     // 100 and 100 bytes
  EXPECT_EQ(f->whist[2], 1u);                     // 5000 bytes
  // The read side is untouched.
  EXPECT_EQ(f->c[MMHINT_FC_reads], 0u);
  EXPECT_EQ(f->hist[1], 0u);
  EXPECT_EQ(f->c[MMHINT_FC_last_access_ns], 70u);
  std::string s = Render(nullptr);
  EXPECT_NE(s.find("\"write_size_hist\":{\"0-100\":2,\"100-1K\":2,\"1K-10K\":1,"), std::string::npos);
  EXPECT_NE(s.find("\"bytes_written\":5217"), std::string::npos);
  EXPECT_EQ(s.find("writes are not observed"), std::string::npos);
}

TEST_F(StatsTest, LookupNeverCreates) {
  EXPECT_EQ(mmhint_stats_lookup(3, 777), nullptr);
  mmhint_file_t *f = mmhint_stats_file(3, 777, S_IFREG, 0);
  EXPECT_EQ(mmhint_stats_lookup(3, 777), f);
  EXPECT_EQ(mmhint_stats_lookup(4, 777), nullptr);
}

TEST(StatsFileName, TitlesBecomeSafeNames) {
  char out[64];
  mmhint_stats_file_name("cat", out, sizeof out);
  EXPECT_STREQ(out, "cat");
  mmhint_stats_file_name("nginx: master process /usr/sbin/nginx -c /etc/n.conf", out, sizeof out);
  EXPECT_STREQ(out, "nginx__master_process__usr_sbin_nginx_-c__etc_n.conf");
  mmhint_stats_file_name(".hidden", out, sizeof out);  // never a hidden file
  EXPECT_STREQ(out, "_hidden");
  mmhint_stats_file_name("python3.11", out, sizeof out);
  EXPECT_STREQ(out, "python3.11");
  mmhint_stats_file_name("", out, sizeof out);
  EXPECT_STREQ(out, "unknown");
  mmhint_stats_file_name(nullptr, out, sizeof out);
  EXPECT_STREQ(out, "unknown");
  char small[5];
  mmhint_stats_file_name("postgres", small, sizeof small);  // cut to the room there is
  EXPECT_STREQ(small, "post");
}

TEST(StatsHist, BucketBoundsMatchTheDeclaredTable) {
  static const uint64_t bounds[] = MMHINT_READ_HIST_BOUNDS;
  for (int b = 0; b < MMHINT_READ_HIST_BUCKETS - 1; b++) {
    EXPECT_EQ(mmhint_hist_bucket(bounds[b] - 1), b) << bounds[b];
    EXPECT_EQ(mmhint_hist_bucket(bounds[b]), b + 1) << bounds[b];
  }
  EXPECT_EQ(mmhint_hist_bucket(0), 0);
  EXPECT_EQ(mmhint_hist_bucket(UINT64_MAX), MMHINT_READ_HIST_BUCKETS - 1);
  // The bucket is looked up by bit length: every octave's ends and a spread
  // of sizes in between agree with counting the bounds at or below n.
  auto by_bounds = [&](uint64_t n) {
    int b = 0;
    for (uint64_t x : bounds) b += n >= x;
    return b;
  };
  for (int k = 0; k < 64; k++) {
    const uint64_t lo = 1ull << k, hi = lo + (lo - 1);
    for (uint64_t n : {lo, lo + lo / 3, lo + lo / 2, hi - lo / 5, hi})
      EXPECT_EQ(mmhint_hist_bucket(n), by_bounds(n)) << n;
  }
  for (uint64_t n = 0; n < 70000; n += 7) EXPECT_EQ(mmhint_hist_bucket(n), by_bounds(n)) << n;
}

TEST_F(StatsTest, SamplerStaysBoundedAndEvenlySpaced) {
  mmhint_file_t *f = mmhint_stats_file(1, 400, S_IFREG, 0);
  for (int i = 0; i < 1000; i++) mmhint_stats_sample(f, (uint64_t)i, i, 1, MMHINT_OP_READ);
  EXPECT_EQ(f->samples_seen, 1000u);
  EXPECT_LE(f->nsamples, 8u);
  EXPECT_GE(f->nsamples, 4u);
  // Kept samples are in order and spaced by the final stride.
  for (uint32_t i = 1; i < f->nsamples; i++)
    EXPECT_EQ(f->samples[i].offset - f->samples[i - 1].offset, (int64_t)f->sample_stride);
  EXPECT_EQ(f->samples[0].offset, 0);
  // The last kept sample is within one stride of the end.
  EXPECT_GT(f->samples[f->nsamples - 1].offset, 1000 - 1 - (int64_t)f->sample_stride);
}

TEST_F(StatsTest, RenderIsCompleteJsonWithEscapes) {
  mmhint_file_t *f = mmhint_stats_file(9, 900, S_IFREG, 5);
  mmhint_stats_add_path(f, "/dir/quote\"back\\slash\nnl\xff");
  mmhint_stats_read(f, 5, 0, -1, 1, 2, MMHINT_OP_READ);
  std::string s = Render(nullptr);
  EXPECT_NE(s.find("\"schema\":\"mmhint-stats/1\""), std::string::npos);
  EXPECT_NE(s.find("\"argv\":[\"prog\",\"arg \\\"q\\\"\"]"), std::string::npos) << s.substr(0, 400);
  EXPECT_NE(s.find("/dir/quote\\\"back\\\\slash\\u000anl\\u00ff"), std::string::npos);
  EXPECT_NE(s.find("\"ino\":900"), std::string::npos);
  // Balanced braces and brackets outside strings: a cheap structural check
  // (the integration tests parse the files with a real JSON parser).
  int depth = 0, min_depth = 0;
  bool in_str = false;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\') i++;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    if (c == '{' || c == '[') depth++;
    if (c == '}' || c == ']') depth--;
    min_depth = std::min(min_depth, depth);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_EQ(min_depth, 0);
  EXPECT_EQ(s.find(",,"), std::string::npos);
  EXPECT_EQ(s.find(",}"), std::string::npos);
  EXPECT_EQ(s.find(",]"), std::string::npos);
}

TEST_F(StatsTest, UnrecordedCallsAreCountedInUnobserved) {
  std::string s = Render(nullptr, 18446744073709551615ull);
  EXPECT_NE(s.find("(signal handlers), passed through unrecorded: 18446744073709551615\""), std::string::npos);
  EXPECT_EQ(Render(nullptr, 0).find("passed through unrecorded"), std::string::npos);
}

TEST_F(StatsTest, ResetAfterForkZeroesCountsButKeepsFiles) {
  mmhint_file_t *f = mmhint_stats_file(3, 1000, S_IFREG, 0);
  mmhint_stats_read(f, 5, 0, -1, 1, 2, MMHINT_OP_READ);
  mmhint_stats_reset_after_fork();
  EXPECT_EQ(mmhint_stats_file(3, 1000, S_IFREG, 0), f);
  EXPECT_EQ(f->c[MMHINT_FC_reads], 0u);
  EXPECT_EQ(f->nsamples, 0u);
}

TEST_F(StatsTest, OpensAreCountedByModeAndResidencyIsMeasuredOnce) {
  char path[] = "/tmp/mmhint-stats-open-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  static const char data[8192] = {1};
  ASSERT_EQ(write(fd, data, sizeof data), (ssize_t)sizeof data);  // just written: resident
  mmhint_file_t *f = mmhint_stats_file(4, 1100, S_IFREG, 0);
  mmhint_stats_opened(f, fd, O_RDONLY, 0, 1, 5);        // empty at open: nothing to measure
  EXPECT_EQ(f->residency_at_open.ticks, 0u);
  mmhint_stats_opened(f, fd, O_RDWR | O_CREAT, sizeof data, 0, 6);  // statistics off: not measured
  EXPECT_EQ(f->residency_at_open.ticks, 0u);
  mmhint_stats_opened(f, fd, O_WRONLY, sizeof data, 1, 7);
  EXPECT_EQ(f->residency_at_open.ticks, 7u);
  EXPECT_EQ(f->residency_at_open.pages, sizeof data / (uint64_t)sysconf(_SC_PAGESIZE));
  EXPECT_EQ(f->residency_at_open.resident, f->residency_at_open.pages);
  mmhint_stats_opened(f, fd, O_RDONLY, sizeof data, 1, 8);  // the first measurement stays
  EXPECT_EQ(f->residency_at_open.ticks, 7u);
  EXPECT_EQ(f->open_modes[MMHINT_OPEN_READ], 2u);
  EXPECT_EQ(f->open_modes[MMHINT_OPEN_WRITE], 1u);
  EXPECT_EQ(f->open_modes[MMHINT_OPEN_RDWR], 1u);
  mmhint_stats_read(f, 5, 0, -1, 1, 2, MMHINT_OP_READ);
  std::string doc = Render(nullptr);
  EXPECT_NE(doc.find("\"open_modes\":{\"read\":2,\"write\":1,\"rdwr\":1}"), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"residency_at_open\":{\"t_ns\":"), std::string::npos);
  mmhint_stats_reset_after_fork();
  EXPECT_EQ(f->open_modes[MMHINT_OPEN_READ], 0u);
  EXPECT_EQ(f->residency_at_open.ticks, 0u);
  close(fd);
}

// Sections registered by the tests below: a process-level one and a per-file one.
int test_resets;
void RenderTestProcess(mmhint_json_t *j) { mmhint_json_kv_uint(j, "answer", 42); }
void RenderTestFile(mmhint_json_t *j, const mmhint_file_t *f) {
  if (f->ino == 7700) mmhint_json_kv_string(j, "test_section", "here");  // nothing for other files
}
void ResetTest() { test_resets++; }
const mmhint_stats_section_t kTestProcess = {"test_process", MMHINT_SECTION_PROCESS, RenderTestProcess, nullptr,
                                             ResetTest};
const mmhint_stats_section_t kTestProcess2 = {"test_process2", MMHINT_SECTION_PROCESS, RenderTestProcess, nullptr,
                                              nullptr};
const mmhint_stats_section_t kTestFile = {"test_section", MMHINT_SECTION_FILE, nullptr, RenderTestFile, nullptr};

TEST_F(StatsTest, RegisteredSectionsAreWrittenInPlaceAndInOrder) {
  ASSERT_EQ(mmhint_stats_section_register(&kTestProcess), 0);
  ASSERT_EQ(mmhint_stats_section_register(&kTestFile), 0);
  ASSERT_EQ(mmhint_stats_section_register(&kTestProcess2), 0);
  ASSERT_EQ(mmhint_stats_section_register(&kTestProcess), 0) << "registering again is not an error";
  mmhint_file_t *f = mmhint_stats_file(77, 7700, S_IFREG, 5);
  mmhint_stats_read(f, 5, 0, -1, 1, 2, MMHINT_OP_READ);
  mmhint_file_t *g = mmhint_stats_file(77, 7701, S_IFREG, 5);
  mmhint_stats_read(g, 5, 0, -1, 1, 2, MMHINT_OP_READ);
  std::string s = Render(nullptr);
  // Process sections follow "files", each once, in registration order, on a line of their own.
  size_t files = s.find("\n,\"files\":[");
  size_t p1 = s.find("\n,\"test_process\":{\"answer\":42}");
  size_t p2 = s.find("\n,\"test_process2\":{\"answer\":42}");
  ASSERT_NE(files, std::string::npos);
  ASSERT_NE(p1, std::string::npos) << s.substr(s.size() > 300 ? s.size() - 300 : 0);
  ASSERT_NE(p2, std::string::npos);
  EXPECT_LT(files, p1);
  EXPECT_LT(p1, p2);
  EXPECT_EQ(s.find("\"test_process\":", p1 + 3), std::string::npos) << "written once";
  EXPECT_EQ(s.compare(s.size() - 2, 2, "}\n"), 0);
  // A file section sits between "policy" and "fallbacks", and only where it has something.
  size_t f_at = s.find("\"ino\":7700"), g_at = s.find("\"ino\":7701");
  ASSERT_NE(f_at, std::string::npos);
  ASSERT_NE(g_at, std::string::npos);
  size_t key = s.find("\"test_section\":\"here\"", f_at);
  ASSERT_NE(key, std::string::npos);
  EXPECT_LT(s.find("\"policy\":", f_at), key);
  EXPECT_EQ(s.compare(key + 21, 13, ",\"fallbacks\":"), 0) << s.substr(key, 40);
  size_t g_end = s.find("\"fallbacks\":", g_at);
  EXPECT_TRUE(s.find("\"test_section\"", g_at) == std::string::npos || s.find("\"test_section\"", g_at) > g_end);
  // After a fork, each section's reset runs.
  int before = test_resets;
  mmhint_stats_reset_after_fork();
  EXPECT_EQ(test_resets, before + 1);
}

// Fills the section table to the brim and beyond; exits 0 when the extra one was refused.
void FillTheTable() {
  static mmhint_stats_section_t many[MMHINT_STATS_SECTIONS + 1];
  int refused = 0;
  for (auto &m : many) {
    m = {"filler", MMHINT_SECTION_FILE, nullptr, nullptr, nullptr};
    refused += mmhint_stats_section_register(&m) != 0;
  }
  std::exit(refused >= 1 ? 0 : 1);
}

TEST(StatsSections, TheTableIsBounded) {
  // In a child process: a full table would refuse the sections of the tests that follow.
  EXPECT_EXIT(FillTheTable(), ::testing::ExitedWithCode(0), "");
}

TEST(StatsPath, TemplateExpansion) {
  char out[256];
  ASSERT_EQ(mmhint_stats_expand_path("/t/%e-%p-%h-%t-%%-%x-%", 77, "cat", "box", 123, out, sizeof out), 0);
  EXPECT_STREQ(out, "/t/cat-77-box-123-%-%x-%");
  ASSERT_EQ(mmhint_stats_expand_path("/t/dir/", 5, "grep", "h", 1, out, sizeof out), 0);
  EXPECT_STREQ(out, "/t/dir/grep.5.json");
  EXPECT_EQ(mmhint_stats_expand_path("/a/very/long/%e", 5, "prog", "h", 1, out, 10), -1);
}

class StatsWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mmhint-stats-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string dir_;
};

TEST_F(StatsWriteTest, CreatesPrivateFileAndNeverReplaces) {
  std::string p = dir_ + "/s.json";
  char final_path[512];
  ASSERT_EQ(mmhint_stats_write_file(p.c_str(), "{}", 2, final_path, sizeof final_path), 0);
  EXPECT_EQ(p, final_path);
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(mmhint_stats_write_file(p.c_str(), "{1}", 3, final_path, sizeof final_path), 0);
  EXPECT_EQ(p + ".1", final_path);
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 2);  // the first file is untouched
}

TEST_F(StatsWriteTest, DoesNotFollowAPlantedSymlink) {
  std::string target = dir_ + "/victim";
  std::string p = dir_ + "/s.json";
  int fd = open(target.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "keep", 4), 4);
  close(fd);
  ASSERT_EQ(symlink(target.c_str(), p.c_str()), 0);
  char final_path[512];
  ASSERT_EQ(mmhint_stats_write_file(p.c_str(), "{}", 2, final_path, sizeof final_path), 0);
  EXPECT_EQ(p + ".1", final_path);
  struct stat st;
  ASSERT_EQ(stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 4);
}

TEST_F(StatsWriteTest, MissingDirectoryIsAnErrorNotACrash) {
  char final_path[512];
  EXPECT_EQ(mmhint_stats_write_file((dir_ + "/no/such/dir/s.json").c_str(), "{}", 2, final_path, sizeof final_path),
            -ENOENT);
}

}  // namespace
