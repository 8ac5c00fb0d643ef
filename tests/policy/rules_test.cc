// Tests of policy/rules.c: the glob matcher and the per-file values computed
// from the process values and the matching rules.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "policy/options.h"

namespace {

bool M(const char *glob, const char *path) { return mmhint_glob_match(glob, path) == 1; }

TEST(Glob, Literals) {
  EXPECT_TRUE(M("/a/b", "/a/b"));
  EXPECT_FALSE(M("/a/b", "/a/bc"));
  EXPECT_FALSE(M("/a/bc", "/a/b"));
  EXPECT_TRUE(M("", ""));
  EXPECT_FALSE(M("", "/a"));
  EXPECT_FALSE(M(nullptr, "/a"));
  EXPECT_FALSE(M("/a", nullptr));
}

TEST(Glob, StarStaysInsideAComponent) {
  EXPECT_TRUE(M("/data/*.bin", "/data/x.bin"));
  EXPECT_TRUE(M("/data/*.bin", "/data/.bin"));
  EXPECT_FALSE(M("/data/*.bin", "/data/sub/x.bin"));
  EXPECT_TRUE(M("/data/*", "/data/x"));
  EXPECT_TRUE(M("/data/*", "/data/"));
  EXPECT_FALSE(M("/data/*", "/data/x/y"));
  EXPECT_TRUE(M("/*/*/c", "/a/b/c"));
  EXPECT_FALSE(M("/*/c", "/a/b/c"));
  EXPECT_TRUE(M("*", "name"));
  EXPECT_FALSE(M("*", "/abs"));
  EXPECT_TRUE(M("/a*b*c/d", "/aXbYbZc/d"));
  EXPECT_FALSE(M("/a*b*c/d", "/aXbYbZc/e"));
  // A later component failing must not make an earlier '*' cross a '/'.
  EXPECT_FALSE(M("/*x/y", "/ax/z/bx/y"));
}

TEST(Glob, DoubleStarCrossesComponents) {
  EXPECT_TRUE(M("/a/**/b", "/a/b")) << "zero components";
  EXPECT_TRUE(M("/a/**/b", "/a/x/b"));
  EXPECT_TRUE(M("/a/**/b", "/a/x/y/z/b"));
  EXPECT_FALSE(M("/a/**/b", "/a/xb"));
  EXPECT_FALSE(M("/a/**/b", "/ab"));
  EXPECT_FALSE(M("/a/**/b", "/a/x/b/c"));
  EXPECT_TRUE(M("**/*.db", "/var/lib/x.db"));
  EXPECT_TRUE(M("**/*.db", "/x.db"));
  EXPECT_FALSE(M("**/*.db", "/var/lib/x.dbx"));
  EXPECT_TRUE(M("/data/**", "/data/a/b/c"));
  EXPECT_TRUE(M("/data/**", "/data/"));
  EXPECT_FALSE(M("/data/**", "/database"));
  EXPECT_TRUE(M("**", "/anything/at/all"));
  EXPECT_TRUE(M("/a/**.bin", "/a/b/c.bin"));
  EXPECT_FALSE(M("/a/**.bin", "/a/b/c.binx"));
  EXPECT_TRUE(M("/a/**/b/**/c", "/a/b/c"));
  EXPECT_TRUE(M("/a/**/b/**/c", "/a/1/b/2/3/c"));
  EXPECT_TRUE(M("/a/**/b/**/c", "/a/b/b/b/c"));
  EXPECT_FALSE(M("/a/**/b/**/c", "/a/1/b/2/3/d"));
  EXPECT_TRUE(M("/**/x*y/z", "/p/q/xaay/z"));
  EXPECT_TRUE(M("/**/x*y/z", "/xay/xby/z")) << "the '**' must give up the first x*y component";
  EXPECT_FALSE(M("/**/x*y/z", "/p/q/xa/y/z"));
  EXPECT_TRUE(M("/***/b", "/a/c/b")) << "three stars act as two";
}

TEST(Glob, QuestionMarkAndClasses) {
  EXPECT_TRUE(M("/f?o", "/foo"));
  EXPECT_FALSE(M("/f?o", "/fo"));
  EXPECT_FALSE(M("/a?b", "/a/b")) << "'?' never matches '/'";
  EXPECT_TRUE(M("/log[0-9]", "/log7"));
  EXPECT_FALSE(M("/log[0-9]", "/logx"));
  EXPECT_TRUE(M("/[abc]x", "/bx"));
  EXPECT_FALSE(M("/[abc]x", "/dx"));
  EXPECT_TRUE(M("/[!abc]x", "/dx"));
  EXPECT_FALSE(M("/[!abc]x", "/ax"));
  EXPECT_TRUE(M("/[^a-c]x", "/zx"));
  EXPECT_FALSE(M("/[^a-c]x", "/bx"));
  EXPECT_TRUE(M("/[]]x", "/]x")) << "']' first is a member";
  EXPECT_TRUE(M("/[!]]x", "/ax"));
  EXPECT_FALSE(M("/[!]]x", "/]x"));
  EXPECT_TRUE(M("/[a-]x", "/-x")) << "a trailing '-' is a member";
  EXPECT_TRUE(M("/[\\]]x", "/]x"));
  EXPECT_FALSE(M("/a[/]b", "/a/b")) << "a class never matches '/'";
  EXPECT_FALSE(M("/a[!x]b", "/a/b"));
  EXPECT_TRUE(M("/a[b", "/a[b")) << "an unterminated '[' is literal";
  EXPECT_FALSE(M("/a[b", "/ab"));
}

TEST(Glob, Escapes) {
  EXPECT_TRUE(M("/a\\*b", "/a*b"));
  EXPECT_FALSE(M("/a\\*b", "/axb"));
  EXPECT_TRUE(M("/a\\?", "/a?"));
  EXPECT_FALSE(M("/a\\?", "/ax"));
  EXPECT_TRUE(M("/\\[x]", "/[x]"));
  EXPECT_TRUE(M("/a\\\\b", "/a\\b"));
  EXPECT_TRUE(M("/a\\", "/a\\")) << "a trailing backslash is literal";
}

// A recursive matcher takes time exponential in the number of stars on these;
// this one must stay within a polynomial step budget.  Steps are counted, not
// timed, so the test is independent of the machine's speed.
TEST(Glob, PathologicalPatternsCostPolynomialWork) {
  std::string text = "/" + std::string(3000, 'a');
  unsigned long steps = 0;
  EXPECT_EQ(0, mmhint__glob_match_steps("/*a*a*a*a*a*a*a*a*b", text.c_str(), &steps));
  EXPECT_LT(steps, 20UL * text.size() * 20) << steps;

  std::string deep;
  for (int i = 0; i < 400; i++) deep += "/a";
  steps = 0;
  EXPECT_EQ(0, mmhint__glob_match_steps("/**/a/**/a/**/a/**/a/**/b", deep.c_str(), &steps));
  EXPECT_LT(steps, 30UL * deep.size() * deep.size()) << steps;

  steps = 0;
  EXPECT_EQ(0, mmhint__glob_match_steps("**a**a**a**a**a**a**b", text.c_str(), &steps));
  EXPECT_LT(steps, 30UL * text.size() * text.size()) << steps;

  // And the same shapes still match when they should.
  EXPECT_TRUE(M("/*a*a*a*a*a*a*a*a*b", (text + "b").c_str()));
  EXPECT_TRUE(M("/**/a/**/a/**/a/**/a/**/b", (deep + "/b").c_str()));
}

// A plainly recursive reference matcher (exponential, fine for short inputs)
// over the alphabet a, b, '/', '?', '*'; the fast matcher must agree with it.
bool Reference(const char *g, const char *start, const char *s) {
  if (*g == '\0') return *s == '\0';
  if (g[0] == '*' && g[1] == '*') {
    const char *p = g;
    while (*p == '*') p++;
    if (*p == '/' && (g == start || g[-1] == '/')) {
      // Zero or more whole components.
      if (Reference(p + 1, start, s)) return true;
      for (const char *t = s; *t; t++)
        if (*t == '/' && Reference(p + 1, start, t + 1)) return true;
      return false;
    }
    for (const char *t = s;; t++) {
      if (Reference(p, start, t)) return true;
      if (*t == '\0') return false;
    }
  }
  if (*g == '*') {
    for (const char *t = s;; t++) {
      if (Reference(g + 1, start, t)) return true;
      if (*t == '\0' || *t == '/') return false;
    }
  }
  if (*s == '\0') return false;
  if (*g == '?') return *s != '/' && Reference(g + 1, start, s + 1);
  return *g == *s && Reference(g + 1, start, s + 1);
}

TEST(Glob, AgreesWithAReferenceMatcherOnRandomInputs) {
  unsigned seed = 12345;
  auto rnd = [&seed](unsigned n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  const char *gtok[] = {"a", "b", "/", "*", "**", "?", "/**/", "**/"};
  const char *stok[] = {"a", "b", "/"};
  int matches = 0;
  for (int iter = 0; iter < 200000; iter++) {
    std::string g, s;
    for (unsigned i = 0, n = rnd(7); i < n; i++) g += gtok[rnd(8)];
    for (unsigned i = 0, n = rnd(9); i < n; i++) s += stok[rnd(3)];
    bool want = Reference(g.c_str(), g.c_str(), s.c_str());
    ASSERT_EQ(want, M(g.c_str(), s.c_str())) << "glob '" << g << "' path '" << s << "'";
    matches += want;
  }
  EXPECT_GT(matches, 1000) << "the random inputs should exercise matches too";
}

// ---- mmhint_config_for_file ---------------------------------------------

class ForFile : public ::testing::Test {
 protected:
  void SetUp() override {
    memset(&cfg_, 0, sizeof cfg_);
    mmhint_values_defaults(&cfg_.values);
  }
  void TearDown() override { mmhint_config_free(&cfg_); }
  void Parse(const std::string &text) { mmhint_config_parse(&cfg_, "/etc/mmhint.conf", text.data(), text.size()); }
  // Returns the index of the last matching rule; the values go to out_.
  int For(const char *path, long long size = 1000, int mode = MMHINT_MODE_READ, const char *program = "prog") {
    mmhint_file_facts_t f = {path, program, size, mode};
    return mmhint_config_for_file(&cfg_, &f, &out_);
  }
  long long Num(int id) const { return out_.num[id]; }

  static mmhint_config_t cfg_;
  static mmhint_values_t out_;
};
mmhint_config_t ForFile::cfg_;
mmhint_values_t ForFile::out_;

TEST_F(ForFile, NoRulesGivesProcessValues) {
  Parse("read_mmap = on\n");
  EXPECT_EQ(0, For("/x"));
  EXPECT_EQ(1, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(MMHINT_SRC_CONFIG, out_.src[MMHINT_OPT_read_mmap].kind);
}

TEST_F(ForFile, LaterRulesWin) {
  Parse("read_mmap = auto\n"
        "[rule]\npath = /data/**\nread_mmap = on\nadvice = random\n"
        "[rule]\npath = /data/tmp/*\nread_mmap = off\n");
  EXPECT_EQ(2, For("/data/tmp/x"));
  EXPECT_EQ(0, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(MMHINT_SRC_RULE, out_.src[MMHINT_OPT_read_mmap].kind);
  EXPECT_EQ(6, out_.src[MMHINT_OPT_read_mmap].line);
  EXPECT_EQ(3, Num(MMHINT_OPT_advice)) << "the first rule's other settings still apply";
  EXPECT_EQ(2, out_.src[MMHINT_OPT_advice].line);

  EXPECT_EQ(1, For("/data/a/b"));
  EXPECT_EQ(1, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(0, For("/home/x"));
  EXPECT_EQ(2, Num(MMHINT_OPT_read_mmap));
}

TEST_F(ForFile, SizeRanges) {
  Parse("[rule]\npath = **\nsize = 1M-\ndrop_behind = on\n"
        "[rule]\npath = **\nsize = -64K\nadvice = random\n"
        "[rule]\npath = **\nsize = 4K-8K\nadvice = sequential\n");
  EXPECT_EQ(1, For("/f", 1 << 20));
  EXPECT_EQ(1, Num(MMHINT_OPT_drop_behind));
  EXPECT_EQ(0, For("/f", (1 << 20) - 1));
  EXPECT_EQ(0, Num(MMHINT_OPT_drop_behind));
  EXPECT_EQ(2, For("/f", 65536));
  EXPECT_EQ(0, For("/f", 65537));
  EXPECT_EQ(3, For("/f", 4096));
  EXPECT_EQ(2, Num(MMHINT_OPT_advice));
  EXPECT_EQ(3, For("/f", 8192));
  EXPECT_EQ(2, For("/f", 8193));
  EXPECT_EQ(0, For("/f", -1)) << "an unknown size satisfies no size condition";
}

TEST_F(ForFile, ProgramAndMode) {
  Parse("[rule]\npath = **\nprogram = sqlite*\nadvice = random\n"
        "[rule]\npath = **\nmode = write\ndrop_behind = on\n"
        "[rule]\npath = **\nmode = rdwr\nwillneed_ahead = 1M\n");
  EXPECT_EQ(1, For("/db", 10, MMHINT_MODE_READ, "sqlite3"));
  EXPECT_EQ(0, For("/db", 10, MMHINT_MODE_READ, "cat"));
  EXPECT_EQ(0, For("/db", 10, MMHINT_MODE_READ, nullptr));
  EXPECT_EQ(2, For("/db", 10, MMHINT_MODE_WRITE, "cat"));
  EXPECT_EQ(0, Num(MMHINT_OPT_willneed_ahead));
  EXPECT_EQ(3, For("/db", 10, MMHINT_MODE_RDWR, "sqlite3"));
  EXPECT_EQ(3, Num(MMHINT_OPT_advice));
  EXPECT_EQ(0, Num(MMHINT_OPT_drop_behind)) << "mode = write is write-only opens, not read-write ones";
  EXPECT_EQ(1 << 20, Num(MMHINT_OPT_willneed_ahead));
}

// Each mode names one access mode exactly (docs/CLI.md, README: read is
// O_RDONLY, write O_WRONLY, rdwr O_RDWR, any all of them).
TEST_F(ForFile, ModeReadMatchesOnlyReadOnlyOpens) {
  Parse("[rule]\npath = **\nmode = read\nadvice = random\n");
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_READ));
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_RDWR)) << "sqlite3's read-write database is not opened read-only";
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_WRITE));
}

TEST_F(ForFile, ModeWriteMatchesOnlyWriteOnlyOpens) {
  Parse("[rule]\npath = **\nmode = write\nadvice = random\n");
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_READ));
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_RDWR));
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_WRITE));
}

TEST_F(ForFile, ModeRdwrMatchesOnlyReadWriteOpens) {
  Parse("[rule]\npath = **\nmode = rdwr\nadvice = random\n");
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_READ));
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_RDWR));
  EXPECT_EQ(0, For("/f", 1, MMHINT_MODE_WRITE));
}

TEST_F(ForFile, ModeAnyMatchesEveryOpen) {
  Parse("[rule]\npath = **\nmode = any\nadvice = random\n");
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_READ));
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_RDWR));
  EXPECT_EQ(1, For("/f", 1, MMHINT_MODE_WRITE));
}

TEST_F(ForFile, RuleWithoutPathMatchesNothing) {
  Parse("[rule]\nadvice = sequential\n");
  EXPECT_EQ(0, For("/anything", -1, MMHINT_MODE_WRITE, nullptr));
  EXPECT_EQ(0, Num(MMHINT_OPT_advice));
}

TEST_F(ForFile, PathDoubleStarMatchesEverything) {
  Parse("[rule]\npath = **\nadvice = sequential\n");
  EXPECT_EQ(1, For("/anything", -1, MMHINT_MODE_WRITE, nullptr));
  EXPECT_EQ(2, Num(MMHINT_OPT_advice));
}

TEST_F(ForFile, EnvironmentBeatsRules) {
  Parse("[rule]\npath = /data/**\nread_mmap = on\nadvice = random\n");
  char err[100];
  mmhint_source_t env = {MMHINT_SRC_ENV, 0};
  ASSERT_EQ(0, mmhint_value_set(&cfg_.values, MMHINT_OPT_read_mmap, "off", env, err, sizeof err));
  EXPECT_EQ(1, For("/data/x"));
  EXPECT_EQ(0, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(MMHINT_SRC_ENV, out_.src[MMHINT_OPT_read_mmap].kind);
  EXPECT_EQ(3, Num(MMHINT_OPT_advice));
}

}  // namespace
