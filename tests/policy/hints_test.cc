// Tests of policy/hints.h and policy/residency.h on real files: the effects of
// the hints are checked in the page cache (mincore), not assumed.
//
// A "cold" file is made without dropping the machine's caches: it is written,
// fsynced and released with POSIX_FADV_DONTNEED, which works for clean pages
// of any file the test can open.  Filesystems that keep every page (tmpfs)
// cannot show the effects: those tests skip.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

extern "C" {
#include "policy/hints.h"
#include "policy/json.h"
#include "policy/os/os.h"
}

namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kPage = 4096;

std::string temp_dir() {
  const char *d = getenv("TMPDIR");
  return d && *d ? d : "/tmp";
}

// A file of `size` bytes on disk, written, synced and out of the page cache.
struct TempFile {
  std::string path;
  int64_t size = 0;
  bool ok = false;
  std::string why;

  explicit TempFile(int64_t sz, bool sparse = false) : size(sz) {
    path = temp_dir() + "/mmhint-hints-XXXXXX";
    std::vector<char> p(path.begin(), path.end());
    p.push_back('\0');
    int fd = mkstemp(p.data());
    if (fd < 0) { why = "mkstemp failed"; return; }
    path = p.data();
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
      why = "temp dir is on tmpfs/ramfs: the page cache is the file there";
      close(fd);
      return;
    }
    if (sparse) {
      ok = ftruncate(fd, sz) == 0;
    } else {
      std::vector<char> buf(kMiB);
      for (size_t i = 0; i < buf.size(); i++) buf[i] = (char)(i * 131 + 7);
      ok = true;
      for (int64_t off = 0; off < sz && ok; off += kMiB) ok = write(fd, buf.data(), kMiB) == kMiB;
      ok = ok && fsync(fd) == 0;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (!ok) why = "could not write the file";
  }
  ~TempFile() {
    if (!path.empty()) unlink(path.c_str());
  }
};

// Pages of [off, off+len) in the page cache, by mincore.
long resident(const std::string &path, int64_t off, int64_t len) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  void *m = mmap(nullptr, (size_t)len, PROT_READ, MAP_SHARED, fd, off);
  close(fd);
  if (m == MAP_FAILED) return -1;
  std::vector<unsigned char> vec((size_t)(len / kPage));
  long n = -1;
  if (mincore(m, (size_t)len, vec.data()) == 0) {
    n = 0;
    for (unsigned char c : vec) n += c & 1;
  }
  munmap(m, (size_t)len);
  return n;
}

// Releases the file's pages, waiting for readahead still in flight: its
// pages are locked while under I/O, DONTNEED skips them, and mincore does not
// show them (not yet up to date); cachestat counts them.
void evict(const TempFile &f) {
  for (int i = 0; i < 200; i++) {
    int fd = open(f.path.c_str(), O_RDONLY);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    unsigned long long cached = 1;
    long e = mmhint_os_cachestat(fd, 0, 0, &cached);
    close(fd);
    if (e == 0 && cached == 0) return;
    if (e != 0 && resident(f.path, 0, f.size) == 0 && i > 10) return;  // no cachestat: mincore, after a while
    usleep(10000);
  }
  ADD_FAILURE() << "could not make " << f.path << " cold";
}

// The i-th of a scattered sequence of pages in [0, n): no constant stride, few repeats.
int64_t scatter(uint32_t i, int64_t n) {
  uint32_t x = i * 2654435761u + 12345;
  x ^= x >> 13;
  x *= 0x5bd1e995u;
  x ^= x >> 15;
  return (int64_t)(x % (uint32_t)n);
}

mmhint_values_t values(int advice, int mmap_advice, int64_t willneed, int drop) {
  mmhint_values_t v;
  mmhint_values_defaults(&v);
  v.num[MMHINT_OPT_advice] = advice;
  v.num[MMHINT_OPT_mmap_advice] = mmap_advice;
  v.num[MMHINT_OPT_willneed_ahead] = willneed;
  v.num[MMHINT_OPT_drop_behind] = drop;
  return v;
}

// A description with the hooks called the way the shim will call them.
struct Reader {
  int fd = -1;
  mmhint_hints_state_t s{};
  mmhint_hints_file_t *hf;
  uint64_t t = 0;
  std::vector<char> buf;
  Reader(const std::string &path, mmhint_hints_file_t *file, const mmhint_values_t &v) : hf(file), buf(4 * kMiB) {
    fd = open(path.c_str(), O_RDONLY);
    mmhint_hints_open(&s, fd, hf, v.num, ++t);
  }
  long pread_at(int64_t off, size_t len) {
    long r = pread(fd, buf.data(), len, off);
    if (r > 0) mmhint_hints_read(&s, fd, off, (uint64_t)r, ++t);
    return r;
  }
  void close_all() {
    if (fd < 0) return;
    mmhint_hints_close(&s, fd, ++t);
    close(fd);
    fd = -1;
  }
  ~Reader() { close_all(); }
};

#define NEED(file) \
  if (!(file).ok) GTEST_SKIP() << (file).why

TEST(Hints, ExplicitRandomAdviceStopsReadahead) {
  TempFile f(16 * kMiB);
  NEED(f);
  for (int advice : {MMHINT_ADV_NONE, MMHINT_ADV_RANDOM}) {
    evict(f);
    mmhint_hints_file_t hf{};
    mmhint_values_t v = values(advice, MMHINT_MADV_NONE, 0, 0);
    Reader r(f.path, &hf, v);
    for (int i = 0; i < 64; i++) ASSERT_EQ(r.pread_at(i * kPage, kPage), kPage);
    long n = resident(f.path, 0, f.size);
    if (advice == MMHINT_ADV_RANDOM) {
      EXPECT_EQ(n, 64) << "POSIX_FADV_RANDOM: exactly the pages read";
      EXPECT_EQ(hf.c[MMHINT_HC_advice_calls], 1u);
      EXPECT_EQ(hf.napplied, 1u);
      EXPECT_EQ(hf.applied[0].source, 'o');
      EXPECT_EQ(hf.applied[0].advice, MMHINT_ADV_RANDOM);
    } else {
      EXPECT_GT(n, 64) << "without advice the kernel reads ahead (the control)";
      EXPECT_EQ(hf.c[MMHINT_HC_advice_calls], 0u);
    }
  }
}

TEST(Hints, AutoFollowsThePatternWithHysteresis) {
  TempFile f(64 * kMiB);
  NEED(f);
  const int64_t burst = 40 * kMiB;  // a cold region for the sequential burst
  for (int advice : {MMHINT_ADV_NONE, MMHINT_ADV_AUTO}) {
    evict(f);
    mmhint_hints_file_t hf{};
    mmhint_values_t v = values(advice, MMHINT_MADV_NONE, 0, 0);
    Reader r(f.path, &hf, v);
    // Random 4 KiB reads in the first 32 MiB, far apart.
    for (int i = 0; i < 40; i++) r.pread_at(scatter(i, 8192) * kPage, kPage);
    // A short sequential burst: too short to change the class...
    for (int i = 0; i < 8; i++) r.pread_at(burst + i * kPage, kPage);
    long in_burst = resident(f.path, burst, 4 * kMiB);
    if (advice == MMHINT_ADV_NONE) {
      EXPECT_GT(in_burst, 8) << "control: the kernel reads ahead of the burst";
      continue;
    }
    EXPECT_EQ(r.s.pat.cls, MMHINT_PAT_RANDOM);
    EXPECT_EQ(in_burst, 8) << "under RANDOM the burst reads exactly its pages";
    // ...until it lasts: then SEQUENTIAL, and readahead is back.
    for (int i = 8; i < 200; i++) r.pread_at(burst + i * kPage, kPage);
    EXPECT_EQ(r.s.pat.cls, MMHINT_PAT_SEQUENTIAL);
    EXPECT_GT(resident(f.path, burst, 4 * kMiB), 200);
    // The log: NORMAL at open, RANDOM, then SEQUENTIAL.
    ASSERT_EQ(hf.napplied, 3u);
    EXPECT_EQ(hf.applied[0].advice, MMHINT_ADV_NORMAL);
    EXPECT_EQ(hf.applied[0].source, 'o');
    EXPECT_EQ(hf.applied[1].advice, MMHINT_ADV_RANDOM);
    EXPECT_EQ(hf.applied[1].source, 'a');
    EXPECT_EQ(hf.applied[2].advice, MMHINT_ADV_SEQUENTIAL);
    EXPECT_EQ(hf.applied[2].offset, burst + MMHINT_PATTERN_DOMINANT * kPage)
        << "the switch comes DOMINANT sequential steps after the random phase";
    EXPECT_EQ(hf.switches.total, 2u);
    EXPECT_EQ(hf.c[MMHINT_HC_advice_errors], 0u);
  }
}

TEST(Hints, DropBehindReleasesOnlyWhatTheReaderBroughtIn) {
  TempFile f(64 * kMiB);
  NEED(f);
  for (int drop : {0, 1}) {
    evict(f);
    // Another program's cache: [16, 24) MiB, read before our open.
    {
      int fd = open(f.path.c_str(), O_RDONLY);
      std::vector<char> b(8 * kMiB);
      ASSERT_EQ(pread(fd, b.data(), b.size(), 16 * kMiB), (ssize_t)b.size());
      close(fd);
    }
    ASSERT_EQ(resident(f.path, 16 * kMiB, 8 * kMiB), 2048);
    mmhint_hints_file_t hf{};
    mmhint_values_t v = values(MMHINT_ADV_AUTO, MMHINT_MADV_NONE, 0, drop);
    Reader r(f.path, &hf, v);
    ASSERT_NE(hf.res_open.ticks, 0u);
    EXPECT_EQ(hf.res_open.pages, 16384u);
    EXPECT_EQ(hf.res_open.resident, 2048u);
    EXPECT_TRUE(hf.res_open.exact);
    int64_t off = 0;
    for (; off < 40 * kMiB; off += 128 * 1024) ASSERT_EQ(r.pread_at(off, 128 * 1024), 128 * 1024);
    if (drop) {
      // Behind the reader, in 8 MiB steps: [0,16) and [24,32) are gone, [16,24) stays.
      EXPECT_EQ(resident(f.path, 0, 16 * kMiB), 0);
      EXPECT_EQ(resident(f.path, 16 * kMiB, 8 * kMiB), 2048);
      EXPECT_EQ(resident(f.path, 24 * kMiB, 8 * kMiB), 0);
      EXPECT_GT(resident(f.path, 32 * kMiB, 8 * kMiB), 1000) << "not yet behind by a whole chunk";
    }
    for (; off < f.size; off += 128 * 1024) ASSERT_EQ(r.pread_at(off, 128 * 1024), 128 * 1024);
    r.close_all();
    long outside = resident(f.path, 0, 16 * kMiB) + resident(f.path, 24 * kMiB, 40 * kMiB);
    EXPECT_EQ(resident(f.path, 16 * kMiB, 8 * kMiB), 2048) << "the other program's pages survive";
    EXPECT_EQ(hf.c[MMHINT_HC_est_range_pages], 16384u);
    EXPECT_EQ(hf.c[MMHINT_HC_est_hit_pages], 2048u);
    ASSERT_NE(hf.res_close.ticks, 0u);
    if (drop) {
      EXPECT_EQ(outside, 0);
      EXPECT_EQ(hf.res_close.resident, 2048u);
      EXPECT_GE(hf.c[MMHINT_HC_dropped_bytes], (uint64_t)(55 * kMiB));
      EXPECT_LE(hf.c[MMHINT_HC_dropped_bytes], (uint64_t)(56 * kMiB));
      EXPECT_GE(hf.c[MMHINT_HC_drop_calls], 4u);
      EXPECT_FALSE(hf.drop_unmeasured);
    } else {
      EXPECT_GT(outside, 14000) << "control: without drop_behind the file stays cached";
      EXPECT_EQ(hf.c[MMHINT_HC_drop_calls], 0u);
      EXPECT_EQ(hf.c[MMHINT_HC_dropped_bytes], 0u);
    }
  }
}

// The kernel's readahead limit for the file's device (read_ahead_kb of its bdi), in bytes.
int64_t readahead_max(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 128 * 1024;
  std::string p = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) +
                  "/read_ahead_kb";
  FILE *f = fopen(p.c_str(), "r");
  long kb = 128;
  if (f) {
    if (fscanf(f, "%ld", &kb) != 1) kb = 128;
    fclose(f);
  }
  return kb * 1024;
}

TEST(Hints, WillneedWindowStaysAheadWithFewCalls) {
  // The window must reach past what readahead alone brings in (up to about
  // twice read_ahead_kb ahead, 8 MiB on this machine's disk), or the control
  // could not tell them apart.
  TempFile probe(kPage);
  NEED(probe);
  const int64_t ra = readahead_max(probe.path);
  // The window is topped up when half of it is left: at any time it reaches at
  // least reader_end + window/2, which is 4 MiB past 2 x read_ahead_kb.
  const int64_t window = 4 * ra + 8 * kMiB, reader_end = window;
  const int64_t check_from = reader_end + 2 * ra + 1 * kMiB, check_len = 3 * kMiB;
  TempFile f(reader_end + window + 8 * kMiB);
  NEED(f);
  for (int64_t w : {(int64_t)0, window}) {
    evict(f);
    mmhint_hints_file_t hf{};
    mmhint_values_t v = values(MMHINT_ADV_NONE, MMHINT_MADV_NONE, w, 0);
    Reader r(f.path, &hf, v);
    int reads = 0;
    for (int64_t off = 0; off < reader_end; off += 65536, reads++) ASSERT_EQ(r.pread_at(off, 65536), 65536);
    // WILLNEED starts the I/O and returns; give it time to land.
    long ahead = 0;
    for (int i = 0; i < 300; i++) {
      ahead = resident(f.path, check_from, check_len);
      if (w == 0 || ahead == check_len / kPage) break;
      usleep(10000);
    }
    if (w) {
      EXPECT_EQ(ahead, check_len / kPage) << "requested ahead of the reader";
      EXPECT_GE(hf.c[MMHINT_HC_willneed_calls], 2u);
      EXPECT_LE(hf.c[MMHINT_HC_willneed_calls], (uint64_t)reads / 8) << "topped up by half windows, not per read";
      EXPECT_GE((int64_t)hf.c[MMHINT_HC_willneed_bytes], reader_end + window / 2 - 2 * kMiB);
    } else {
      EXPECT_LT(ahead, check_len / kPage / 4) << "control: readahead alone does not reach that far";
      EXPECT_EQ(hf.c[MMHINT_HC_willneed_calls], 0u);
    }
  }
}

TEST(Hints, MmapRandomAdviceReadsOnlyThePagesTouched) {
  TempFile f(64 * kMiB);
  NEED(f);
  for (int advice : {MMHINT_MADV_NONE, MMHINT_MADV_RANDOM}) {
    evict(f);
    int fd = open(f.path.c_str(), O_RDONLY);
    mmhint_hints_file_t hf{};
    mmhint_values_t v = values(MMHINT_ADV_NONE, advice, 0, 0);
    mmhint_hints_state_t s{};
    mmhint_hints_open(&s, fd, &hf, v.num, 1);
    char *m = (char *)mmap(nullptr, (size_t)f.size, PROT_READ, MAP_SHARED, fd, 0);
    ASSERT_NE(m, MAP_FAILED);
    int r = mmhint_hints_mmap(m, (size_t)f.size, &s, &hf, nullptr, 2);
    std::set<int64_t> touched;
    volatile char sink = 0;
    for (int i = 0; i < 200; i++) {
      int64_t page = scatter(i, f.size / kPage);
      touched.insert(page);
      sink = sink + m[page * kPage];
    }
    long n = resident(f.path, 0, f.size);
    if (advice == MMHINT_MADV_RANDOM) {
      EXPECT_EQ(r, MADV_RANDOM);
      EXPECT_EQ(hf.c[MMHINT_HC_madvise_calls], 1u);
      EXPECT_LE(n, (long)touched.size() + 8);
    } else {
      EXPECT_EQ(r, -1);
      EXPECT_GT(n, 3 * (long)touched.size()) << "control: fault readaround reads many pages per fault";
    }
    munmap(m, (size_t)f.size);
    mmhint_hints_close(&s, fd, 3);
    close(fd);
  }
}

TEST(Hints, MmapAutoUsesWhatTheReadsShowed) {
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_SEQUENTIAL, 1 << 30), MMHINT_MADV_SEQUENTIAL);
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_RANDOM, 1 << 30), MMHINT_MADV_RANDOM);
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_STRIDED, 4096), MMHINT_MADV_RANDOM);
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_UNKNOWN, 1 << 20), MMHINT_MADV_WILLNEED);
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_UNKNOWN, 1 << 30), MMHINT_MADV_NONE);
  EXPECT_EQ(mmhint_hints_mmap_auto(MMHINT_PAT_MIXED, 1 << 30), MMHINT_MADV_NONE);

  TempFile f(8 * kMiB);
  NEED(f);
  mmhint_hints_file_t hf{};
  mmhint_values_t v = values(MMHINT_ADV_NONE, MMHINT_MADV_AUTO, 0, 0);
  Reader r(f.path, &hf, v);
  EXPECT_EQ(r.s.active, 1) << "mmap_advice=auto feeds the classifier";
  for (int i = 0; i < 40; i++) r.pread_at(scatter(i, 2048) * kPage, kPage);
  EXPECT_EQ(r.s.pat.cls, MMHINT_PAT_RANDOM);
  void *m = mmap(nullptr, (size_t)f.size, PROT_READ, MAP_SHARED, r.fd, 0);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_EQ(mmhint_hints_mmap(m, (size_t)f.size, &r.s, &hf, nullptr, 9), MADV_RANDOM);
  ASSERT_EQ(hf.napplied, 1u);
  EXPECT_EQ(hf.applied[0].source, 'm');
  EXPECT_EQ(hf.applied[0].advice, MMHINT_MADV_RANDOM);
  munmap(m, (size_t)f.size);
}

std::vector<std::string> warnings;
void capture(const char *line) { warnings.push_back(line); }

TEST(Hints, RefusedAdviceIsCountedWarnedOnceAndIgnored) {
  TempFile f(4 * kMiB);
  NEED(f);
  mmhint_hints_warn = capture;
  warnings.clear();
  mmhint_hints_file_t hf{};
  mmhint_values_t v = values(MMHINT_ADV_AUTO, MMHINT_MADV_NONE, 0, 1);
  Reader r(f.path, &hf, v);
  int fd = r.fd;
  std::vector<char> b(kPage);
  // The descriptor goes away behind the policy's back: every fadvise now fails (EBADF).
  close(fd);
  for (int i = 0; i < 100; i++) mmhint_hints_read(&r.s, fd, scatter(i, 1024) * kPage, kPage, 10 + i);
  EXPECT_EQ(r.s.pat.cls, MMHINT_PAT_RANDOM);
  EXPECT_EQ(hf.c[MMHINT_HC_advice_errors], 1u) << "refused once, then not asked again";
  EXPECT_EQ(r.s.refused, 1);
  ASSERT_EQ(hf.napplied, 2u);
  EXPECT_EQ(hf.applied[1].err, EBADF);
  // EBADF is a descriptor closed behind the shim's back, not a refusal: counted, never warned.
  EXPECT_TRUE(warnings.empty());
  // A refused madvise (unaligned address, EINVAL) is counted and warned about, once.
  char *m = (char *)mmap(nullptr, 2 * kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mmhint_values_t vm = values(MMHINT_ADV_NONE, MMHINT_MADV_RANDOM, 0, 0);
  errno = 1234;
  EXPECT_EQ(mmhint_hints_mmap(m + 1, kPage, nullptr, &hf, vm.num, 99), -1);
  EXPECT_EQ(errno, 1234) << "errno preserved";
  EXPECT_EQ(hf.c[MMHINT_HC_madvise_errors], 1u);
  munmap(m, 2 * kPage);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0].rfind("mmhint: madvise", 0), 0u) << warnings[0];
  r.s.active = 0;  // the fd is gone: closing must not touch it
  mmhint_hints_release(&r.s);
  r.fd = -1;
  mmhint_hints_warn = nullptr;
}

TEST(Hints, NothingForPipesOrWhenOff) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  mmhint_hints_file_t hf{};
  mmhint_hints_state_t s{};
  mmhint_values_t v = values(MMHINT_ADV_AUTO, MMHINT_MADV_NONE, 4 * kMiB, 1);
  mmhint_hints_open(&s, p[0], &hf, v.num, 1);
  EXPECT_EQ(s.active, 0);
  EXPECT_EQ(hf.active, 0);
  EXPECT_EQ(hf.c[MMHINT_HC_advice_calls], 0u);
  mmhint_hints_close(&s, p[0], 2);
  close(p[0]);
  close(p[1]);

  TempFile f(1 * kMiB);
  NEED(f);
  mmhint_values_t off = values(MMHINT_ADV_NONE, MMHINT_MADV_NONE, 0, 0);
  Reader r(f.path, &hf, off);
  EXPECT_EQ(r.s.active, 0);
  r.pread_at(0, 4096);
  EXPECT_EQ(r.s.pat.started, 0) << "no hint on: the read hook does nothing";
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_hints_render(&j, &hf);
  mmhint_json_end_object(&j);
  EXPECT_EQ(std::string(j.buf, j.len), "{}");
  mmhint_json_free(&j);
}

TEST(Hints, RenderWritesTheHintsObject) {
  TempFile f(32 * kMiB);
  NEED(f);
  mmhint_hints_file_t hf{};
  mmhint_values_t v = values(MMHINT_ADV_AUTO, MMHINT_MADV_NONE, 0, 1);
  {
    Reader r(f.path, &hf, v);
    for (int64_t off = 0; off < f.size; off += 65536) r.pread_at(off, 65536);
  }
  mmhint_json_t j;
  mmhint_json_init(&j);
  mmhint_json_begin_object(&j);
  mmhint_hints_render(&j, &hf);
  mmhint_json_end_object(&j);
  std::string out(j.buf, j.len);
  mmhint_json_free(&j);
  EXPECT_EQ(out.rfind("{\"hints\":{\"pattern\":\"sequential\"", 0), 0u) << out;
  for (const char *key : {"\"reads_by_pattern\":{\"unknown\":16,\"sequential\":496,", "\"pattern_switches\":1",
                          "\"from\":\"unknown\",\"to\":\"sequential\"", "\"source\":\"auto\"",
                          "\"advice\":\"sequential\"", "\"drop_calls\":", "\"dropped_bytes_exact\":true",
                          "\"est_hit_permille\":0", "\"residency_open\":{", "\"resident\":0,\"exact\":true"})
    EXPECT_NE(out.find(key), std::string::npos) << key << " in " << out;
}

TEST(Residency, CoarseMapForLargeFilesKeepsWholeChunks) {
  TempFile f(8ll << 30, /*sparse=*/true);  // 2^21 pages: two pages per bit
  NEED(f);
  int fd = open(f.path.c_str(), O_RDONLY);
  std::vector<char> b(kPage);
  ASSERT_EQ(pread(fd, b.data(), kPage, (1ll << 30) + kPage), kPage);  // the second page of a chunk
  mmhint_residency_t r;
  memset(&r, 0, sizeof r);
  ASSERT_EQ(mmhint_residency_scan(&r, fd, f.size), 0);
  EXPECT_EQ(r.chunk_shift, 13u);
  EXPECT_EQ(r.nchunks, (uint64_t)MMHINT_RES_MAX_BITS);
  EXPECT_EQ(r.pages, 1ull << 21);
  EXPECT_EQ(r.resident, 1u);
  EXPECT_TRUE(r.exact_count);
  EXPECT_TRUE(mmhint_residency_kept(&r, 1ll << 30)) << "the resident page's chunk-mate is kept too";
  EXPECT_FALSE(mmhint_residency_kept(&r, (1ll << 30) + 2 * kPage));
  EXPECT_EQ(mmhint_residency_kept_pages(&r, 0, 2ll << 30), 2u);
  EXPECT_TRUE(mmhint_residency_kept(&r, f.size + kPage)) << "beyond the map: kept";
  // Drop around the chunk: one call each side, the kept chunk is not asked.
  uint64_t asked = 0, calls = 0;
  EXPECT_EQ(mmhint_residency_drop(&r, fd, (1ll << 30) - 4 * kPage, (1ll << 30) + 8 * kPage, &asked, &calls), 0);
  EXPECT_EQ(calls, 2u);
  EXPECT_EQ(asked, (uint64_t)(10 * kPage));
  uint64_t pages = 0, res = 0;
  EXPECT_EQ(mmhint_residency_count(fd, f.size, &pages, &res), 1);
  EXPECT_EQ(res, 1u) << "the kept page was not dropped";
  mmhint_residency_release(&r);
  EXPECT_EQ(r.bits, nullptr);
  close(fd);
}

}  // namespace
