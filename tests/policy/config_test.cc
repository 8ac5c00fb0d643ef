// Tests of policy/config.c: the config file parser, its warnings, loading
// from files and the environment, secure mode and the verbose dump.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "policy/options.h"

namespace {

class Config : public ::testing::Test {
 protected:
  void SetUp() override {
    memset(&cfg_, 0, sizeof cfg_);
    mmhint_values_defaults(&cfg_.values);
  }
  void TearDown() override { mmhint_config_free(&cfg_); }
  // Starts over within one test.
  void Reset() {
    mmhint_config_free(&cfg_);
    SetUp();
  }

  void Parse(const std::string &text, const char *file = "/etc/mmhint.conf") {
    mmhint_config_parse(&cfg_, file, text.data(), text.size());
  }
  std::vector<std::string> Warnings() const {
    return std::vector<std::string>(cfg_.warnings, cfg_.warnings + cfg_.n_warnings);
  }
  // Asserts exactly one warning, which contains every fragment; returns it.
  std::string OneWarning(std::initializer_list<const char *> fragments) {
    EXPECT_EQ(1, cfg_.n_warnings);
    if (cfg_.n_warnings < 1) return "";
    std::string w = cfg_.warnings[0];
    EXPECT_EQ(0u, w.find("mmhint: ")) << w;
    for (const char *f : fragments) EXPECT_NE(std::string::npos, w.find(f)) << "'" << f << "' not in: " << w;
    return w;
  }
  long long Num(int id) const { return cfg_.values.num[id]; }

  static mmhint_config_t cfg_;
};
mmhint_config_t Config::cfg_;

TEST_F(Config, GlobalKeysCommentsAndBlankLines) {
  Parse("# a comment\n"
        "\n"
        "   \t\n"
        "read_mmap = on\n"
        "  advice=random   # trailing comment\n"
        "stats = /tmp/s#1.json # the '#' inside a word is kept\n"
        "verbose = 1\r\n"
        "willneed_ahead = 2M\n");
  EXPECT_EQ(0, cfg_.n_warnings) << Warnings()[0];
  EXPECT_EQ(1, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(MMHINT_SRC_CONFIG, cfg_.values.src[MMHINT_OPT_read_mmap].kind);
  EXPECT_EQ(4, cfg_.values.src[MMHINT_OPT_read_mmap].line);
  EXPECT_EQ(3, Num(MMHINT_OPT_advice));
  EXPECT_EQ(5, cfg_.values.src[MMHINT_OPT_advice].line);
  EXPECT_STREQ("/tmp/s#1.json", cfg_.values.str[MMHINT_OPT_stats]);
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
  EXPECT_EQ(2 << 20, Num(MMHINT_OPT_willneed_ahead));
  EXPECT_EQ(0, cfg_.n_rules);
}

TEST_F(Config, LastLineWithoutNewlineAndByteOrderMark) {
  Parse("\xEF\xBB\xBFread_mmap = auto");
  EXPECT_EQ(0, cfg_.n_warnings);
  EXPECT_EQ(2, Num(MMHINT_OPT_read_mmap));
}

TEST_F(Config, UnknownKeySuggestsAndTheRestApplies) {
  Parse("read_mmap = on\n"
        "\n"
        "hugepage = thp\n"
        "hugepages = thp\n");
  std::string w = OneWarning({"/etc/mmhint.conf:3:", "unknown key 'hugepage'", "(did you mean 'hugepages'?)",
                              "ignoring it"});
  EXPECT_EQ("mmhint: /etc/mmhint.conf:3: unknown key 'hugepage' (did you mean 'hugepages'?); ignoring it", w);
  EXPECT_EQ(1, Num(MMHINT_OPT_read_mmap));
  EXPECT_EQ(1, Num(MMHINT_OPT_hugepages));
}

TEST_F(Config, UnknownKeyWithoutSuggestion) {
  Parse("zzzzzzzzzz = 1\nverbose = 2\n");
  std::string w = OneWarning({":1:", "unknown key 'zzzzzzzzzz'; ignoring it"});
  EXPECT_EQ(std::string::npos, w.find("did you mean"));
  EXPECT_EQ(2, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, BadValueWarnsAndKeepsTheDefault) {
  Parse("verbose = 1\nread_mmap_min_file = abc\nread_mmap = yes\n");
  ASSERT_EQ(2, cfg_.n_warnings);
  EXPECT_EQ(
      "mmhint: /etc/mmhint.conf:2: read_mmap_min_file: expected a size such as 64K or 2M, got 'abc'; ignoring it",
      std::string(cfg_.warnings[0]));
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[1]).find(":3: read_mmap: expected one of off|on|auto"));
  EXPECT_EQ(64 * 1024, Num(MMHINT_OPT_read_mmap_min_file));
  EXPECT_EQ(MMHINT_SRC_DEFAULT, cfg_.values.src[MMHINT_OPT_read_mmap_min_file].kind);
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, LinesThatAreNotKeyValue) {
  Parse("verbose = 1\njust some words\n");
  OneWarning({":2:", "expected 'key = value', got 'just some words'"});
  Reset();
  Parse("= 3\nverbose = 1\n");
  OneWarning({":1:", "missing key"});
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, MatchKeysOutsideARule) {
  Parse("path = /data/*\nverbose = 1\n");
  OneWarning({":1:", "'path' only makes sense inside a rule", "[rule]"});
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, ConfigKeyIsEnvironmentOnly) {
  Parse("config = /tmp/other.conf\n");
  OneWarning({":1:", "MMHINT_CONFIG"});
  EXPECT_STREQ("", cfg_.values.str[MMHINT_OPT_config]);
}

TEST_F(Config, Rules) {
  Parse("read_mmap = auto\n"
        "[rule]\n"
        "path = /data/**/*.bin\n"
        "program = sqlite*\n"
        "size = 1M-1G\n"
        "mode = read\n"
        "read_mmap = on\n"
        "advice = random\n"
        "advice = sequential\n"
        "[ rule ]  # second\n"
        "path = **\n"
        "drop_behind = yes\n");
  EXPECT_EQ(0, cfg_.n_warnings) << Warnings()[0];
  ASSERT_EQ(2, cfg_.n_rules);
  const mmhint_rule_t &r = cfg_.rules[0];
  EXPECT_EQ(2, r.line);
  EXPECT_STREQ("/data/**/*.bin", r.path);
  EXPECT_STREQ("sqlite*", r.program);
  EXPECT_EQ(1 << 20, r.min_size);
  EXPECT_EQ(1 << 30, r.max_size);
  EXPECT_EQ(MMHINT_MODE_READ, r.mode);
  ASSERT_EQ(2, r.n_set) << "setting an option twice in a rule keeps one entry";
  EXPECT_EQ(MMHINT_OPT_read_mmap, r.set_id[0]);
  EXPECT_EQ(1, r.set_num[0]);
  EXPECT_EQ(MMHINT_OPT_advice, r.set_id[1]);
  EXPECT_EQ(2, r.set_num[1]);
  EXPECT_EQ(10, cfg_.rules[1].line);
  EXPECT_EQ(1, cfg_.rules[1].n_set);
  EXPECT_EQ(2, Num(MMHINT_OPT_read_mmap)) << "a rule does not change process values";
}

TEST_F(Config, ProcessOptionInsideARule) {
  Parse("[rule]\npath = /x\nstats = /tmp/s.json\nadvice = random\n");
  std::string w = OneWarning({":3:", "'stats' is a process option; put it before the first [rule]"});
  ASSERT_EQ(1, cfg_.n_rules);
  EXPECT_EQ(1, cfg_.rules[0].n_set);
  EXPECT_STREQ("", cfg_.values.str[MMHINT_OPT_stats]);
}

TEST_F(Config, BadValueInsideARule) {
  Parse("[rule]\npath = **\nadvice = sideways\ndrop_behind = on\n");
  OneWarning({":3:", "advice: expected one of none|normal"});
  ASSERT_EQ(1, cfg_.n_rules);
  ASSERT_EQ(1, cfg_.rules[0].n_set);
  EXPECT_EQ(MMHINT_OPT_drop_behind, cfg_.rules[0].set_id[0]);
}

TEST_F(Config, BadMatchKeysMakeTheRuleMatchNothing) {
  const char *cases[][2] = {
      {"size = big", "expected a size range"},   {"size = 1M", "expected a size range"},
      {"size = 2M-1M", "is empty"},              {"size = -1-", "expected a size range"},
      {"mode = readonly", "expected mode read"},
  };
  for (auto &c : cases) {
    Reset();
    Parse(std::string("[rule]\npath = **\n") + c[0] + "\nadvice = random\n");
    OneWarning({":3:", c[1], "match nothing"});
    mmhint_values_t out;
    mmhint_file_facts_t f = {"/x", "p", 1 << 20, MMHINT_MODE_RDWR};
    EXPECT_EQ(0, mmhint_config_for_file(&cfg_, &f, &out)) << c[0];
  }
}

TEST_F(Config, RuleWithoutPathMatchesNothingAndSaysSo) {
  Parse("[rule]\nsize = 1M-\nadvice = random\n[rule]\npath = /a\n[rule]\nmode = read\n");
  std::vector<std::string> w = Warnings();
  ASSERT_EQ(2u, w.size());
  EXPECT_NE(std::string::npos, w[0].find(":1: this [rule] has no 'path' line")) << w[0];
  EXPECT_NE(std::string::npos, w[0].find("path = **")) << w[0];
  EXPECT_NE(std::string::npos, w[1].find(":6: this [rule] has no 'path' line")) << w[1];
  mmhint_values_t out;
  mmhint_file_facts_t f = {"/x", "p", 1 << 20, MMHINT_MODE_READ};
  EXPECT_EQ(0, mmhint_config_for_file(&cfg_, &f, &out));
  Reset();
  Parse("[rule]\npath =\nadvice = random\n");
  OneWarning({":1:", "no 'path' line"});
  Reset();
  Parse("[rule]\npath = **\nadvice = random\n[weird]\n");
  ASSERT_EQ(1, cfg_.n_warnings);
  EXPECT_EQ(1, mmhint_config_for_file(&cfg_, &f, &out)) << "path = ** matches every file";
  Reset();
  Parse("[rule]\nadvice = random\n[weird]\nx = 1\n");
  EXPECT_EQ(2, cfg_.n_warnings) << "the rule ends at the next section header";
}

TEST_F(Config, OpenEndedSizeRanges) {
  Parse("[rule]\npath = **\nsize = 1M-\n[rule]\npath = **\nsize = -64K\n[rule]\npath = **\nsize = 1K - 2K\n"
        "[rule]\npath = **\nsize = -\n");
  EXPECT_EQ(0, cfg_.n_warnings) << Warnings()[0];
  ASSERT_EQ(4, cfg_.n_rules);
  EXPECT_EQ(1 << 20, cfg_.rules[0].min_size);
  EXPECT_EQ(-1, cfg_.rules[0].max_size);
  EXPECT_EQ(0, cfg_.rules[1].min_size);
  EXPECT_EQ(65536, cfg_.rules[1].max_size);
  EXPECT_EQ(1024, cfg_.rules[2].min_size);
  EXPECT_EQ(2048, cfg_.rules[2].max_size);
}

TEST_F(Config, RelativePathGlobCannotMatch) {
  Parse("[rule]\npath = data/*.bin\n[rule]\npath = **/x\n[rule]\npath = *.bin\n");
  OneWarning({":2:", "path glob 'data/*.bin' can never match", "start it with / or **/"});
  EXPECT_EQ(3, cfg_.n_rules);
}

TEST_F(Config, ProgramGlobWithADirectoryCannotMatch) {
  Parse("[rule]\npath = **\nprogram = /usr/bin/sqlite3\n[rule]\npath = **\nprogram = sqlite?\n");
  OneWarning({":3:", "program glob '/usr/bin/sqlite3' can never match", "drop the directory"});
}

TEST_F(Config, UnknownSectionSkipsItsKeys) {
  Parse("[global]\nverbose = 2\nbogus = 1\n[rule]\npath = **\nadvice = random\n");
  OneWarning({":1:", "unknown section '[global]'"});
  EXPECT_EQ(0, Num(MMHINT_OPT_verbose));
  EXPECT_EQ(1, cfg_.n_rules);
  Reset();
  Parse("[rule\nverbose = 1\n");
  OneWarning({":1:", "expected a section header"});
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, LongLineIsIgnoredOnce) {
  std::string text = "verbose = 1\nstats = " + std::string(5000, 'x') + "\nadvice = random\n";
  Parse(text);
  OneWarning({":2:", "longer than 4096 bytes"});
  EXPECT_EQ(1, Num(MMHINT_OPT_verbose));
  EXPECT_EQ(3, Num(MMHINT_OPT_advice));
}

TEST_F(Config, TenMegabyteLineIsHandled) {
  std::string text = "verbose = 1\n# " + std::string(10 << 20, 'y') + "\nadvice = random";
  Parse(text);
  OneWarning({":2:", "longer than 4096 bytes"});
  EXPECT_EQ(3, Num(MMHINT_OPT_advice));
}

TEST_F(Config, StringValueTooLong) {
  Parse("stats = " + std::string(600, 's') + "\n");
  OneWarning({":1:", "stats: value is", "the limit is 511"});
}

TEST_F(Config, BinaryDataIgnoresTheWholeFile) {
  std::string text = "verbose = 1\nadvice = random\n";
  text += std::string("\x7f" "ELF\0\0\0junk", 11);
  text += "\nread_mmap = on\n";
  Parse(text);
  OneWarning({":3:", "binary data; is this a config file?"});
  EXPECT_EQ(0, Num(MMHINT_OPT_verbose));
  EXPECT_EQ(0, Num(MMHINT_OPT_read_mmap));
}

TEST_F(Config, TooManyWarningsAreSuppressed) {
  std::string text;
  for (int i = 0; i < 40; i++) text += "nonsense" + std::to_string(i) + " = 1\n";
  text += "verbose = 2\n";
  Parse(text);
  ASSERT_EQ(MMHINT_MAX_WARNINGS, cfg_.n_warnings);
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[0]).find(":1: unknown key 'nonsense0'"));
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[MMHINT_MAX_WARNINGS - 2]).find(":31:"));
  EXPECT_EQ("mmhint: 9 more warnings suppressed", std::string(cfg_.warnings[MMHINT_MAX_WARNINGS - 1]));
  EXPECT_EQ(2, Num(MMHINT_OPT_verbose));
}

TEST_F(Config, ExactlyMaxWarningsAreAllKept) {
  std::string text;
  for (int i = 0; i < MMHINT_MAX_WARNINGS; i++) text += "nonsense" + std::to_string(i) + " = 1\n";
  Parse(text);
  ASSERT_EQ(MMHINT_MAX_WARNINGS, cfg_.n_warnings);
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[MMHINT_MAX_WARNINGS - 1]).find("nonsense31"));
}

TEST_F(Config, TooManyRules) {
  std::string text;
  for (int i = 0; i < MMHINT_MAX_RULES + 5; i++) text += "[rule]\npath = **\nadvice = random\n";
  Parse(text);
  EXPECT_EQ(MMHINT_MAX_RULES, cfg_.n_rules);
  OneWarning({"too many rules"});
}

TEST_F(Config, EmptyAndNullText) {
  Parse("");
  mmhint_config_parse(&cfg_, nullptr, nullptr, 0);
  EXPECT_EQ(0, cfg_.n_warnings);
  EXPECT_EQ(0, cfg_.n_rules);
}

// ---- Loading from files and the environment -------------------------------

class Load : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mmhint-config-test.XXXXXX";
    ASSERT_NE(nullptr, mkdtemp(tmpl));
    dir_ = tmpl;
  }
  void TearDown() override {
    mmhint_config_free(&cfg_);
    std::string cmd = "rm -rf '" + dir_ + "'";
    (void)!system(cmd.c_str());
  }
  std::string Write(const std::string &name, const std::string &text) {
    std::string path = dir_ + "/" + name;
    std::string parent = path.substr(0, path.rfind('/'));
    std::string cmd = "mkdir -p '" + parent + "'";
    (void)!system(cmd.c_str());
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ((ssize_t)text.size(), write(fd, text.data(), text.size()));
    close(fd);
    return path;
  }
  void LoadEnv(std::vector<std::string> env, int secure = 0) {
    std::vector<char *> envp;
    for (auto &e : env) envp.push_back(&e[0]);
    envp.push_back(nullptr);
    mmhint_config_load(&cfg_, envp.data(), secure);
  }
  std::string AllWarnings() const {
    std::string s;
    for (int i = 0; i < cfg_.n_warnings; i++) s += std::string(cfg_.warnings[i]) + "\n";
    return s;
  }
  std::string dir_;
  static mmhint_config_t cfg_;
};
mmhint_config_t Load::cfg_;

TEST_F(Load, EnvironmentOverridesTheFile) {
  std::string conf = Write("a.conf", "read_mmap = on\nadvice = random\nverbose = 1\n");
  LoadEnv({"MMHINT_CONFIG=" + conf, "MMHINT_READ_MMAP=auto", "MMHINT_BUILD_DIR=/x", "MMHINT_SOURCE_DIR=/y",
           "PATH=/bin"});
  EXPECT_EQ(0, cfg_.n_warnings) << AllWarnings();
  EXPECT_EQ(conf, cfg_.config_path);
  EXPECT_EQ(2, cfg_.values.num[MMHINT_OPT_read_mmap]);
  EXPECT_EQ(MMHINT_SRC_ENV, cfg_.values.src[MMHINT_OPT_read_mmap].kind);
  EXPECT_EQ(3, cfg_.values.num[MMHINT_OPT_advice]);
  EXPECT_EQ(MMHINT_SRC_CONFIG, cfg_.values.src[MMHINT_OPT_advice].kind);
  EXPECT_EQ(2, cfg_.values.src[MMHINT_OPT_advice].line);
  EXPECT_STREQ(conf.c_str(), cfg_.values.str[MMHINT_OPT_config]);
  EXPECT_EQ(MMHINT_SRC_ENV, cfg_.values.src[MMHINT_OPT_config].kind);
}

TEST_F(Load, UnknownEnvironmentVariableSuggests) {
  LoadEnv({"MMHINT_CONFIG=", "MMHINT_READ_MAP=on", "MMHINT_VERBOSE=2"});
  ASSERT_EQ(1, cfg_.n_warnings) << AllWarnings();
  EXPECT_EQ("mmhint: unknown environment variable MMHINT_READ_MAP (did you mean MMHINT_READ_MMAP?); ignoring it",
            std::string(cfg_.warnings[0]));
  EXPECT_EQ(2, cfg_.values.num[MMHINT_OPT_verbose]);
}

TEST_F(Load, BadEnvironmentValue) {
  LoadEnv({"MMHINT_CONFIG=", "MMHINT_HUGEPAGE_MIN=lots", "MMHINT_VERBOSE=1"});
  ASSERT_EQ(1, cfg_.n_warnings) << AllWarnings();
  EXPECT_EQ("mmhint: MMHINT_HUGEPAGE_MIN: expected a size such as 64K or 2M, got 'lots'; ignoring it",
            std::string(cfg_.warnings[0]));
  EXPECT_EQ(1, cfg_.values.num[MMHINT_OPT_verbose]);
}

TEST_F(Load, FirstDuplicateWinsAsWithGetenv) {
  LoadEnv({"MMHINT_CONFIG=", "MMHINT_VERBOSE=1", "MMHINT_VERBOSE=2"});
  EXPECT_EQ(1, cfg_.values.num[MMHINT_OPT_verbose]);
}

TEST_F(Load, MissingNamedFileWarns) {
  LoadEnv({"MMHINT_CONFIG=" + dir_ + "/missing.conf"});
  ASSERT_EQ(1, cfg_.n_warnings);
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[0]).find("missing.conf: no such file"));
  EXPECT_STREQ("", cfg_.config_path);
}

TEST_F(Load, MissingDefaultFileIsSilent) {
  // XDG_CONFIG_HOME points at an empty directory; /etc/mmhint.conf is the
  // fallback, which a test machine normally lacks.
  if (access("/etc/mmhint.conf", F_OK) == 0) GTEST_SKIP() << "/etc/mmhint.conf exists here";
  LoadEnv({"XDG_CONFIG_HOME=" + dir_, "HOME=" + dir_});
  EXPECT_EQ(0, cfg_.n_warnings) << AllWarnings();
  EXPECT_STREQ("", cfg_.config_path);
}

TEST_F(Load, XdgThenHome) {
  std::string xdg = Write("xdg/mmhint/mmhint.conf", "verbose = 1\n");
  std::string home = Write("home/.config/mmhint/mmhint.conf", "verbose = 2\n");
  LoadEnv({"XDG_CONFIG_HOME=" + dir_ + "/xdg", "HOME=" + dir_ + "/home"});
  EXPECT_EQ(xdg, cfg_.config_path);
  EXPECT_EQ(1, cfg_.values.num[MMHINT_OPT_verbose]);
  mmhint_config_free(&cfg_);
  LoadEnv({"HOME=" + dir_ + "/home"});
  EXPECT_EQ(home, cfg_.config_path);
  EXPECT_EQ(2, cfg_.values.num[MMHINT_OPT_verbose]);
}

TEST_F(Load, SecureModeIgnoresTheEnvironment) {
  std::string conf = Write("a.conf", "verbose = 2\n");
  LoadEnv({"MMHINT_CONFIG=" + conf, "MMHINT_READ_MMAP=on", "MMHINT_NOPE=1", "HOME=" + dir_}, 1);
  EXPECT_EQ(0, cfg_.values.num[MMHINT_OPT_read_mmap]);
  EXPECT_EQ(MMHINT_SRC_DEFAULT, cfg_.values.src[MMHINT_OPT_read_mmap].kind);
  if (access("/etc/mmhint.conf", F_OK) != 0) {
    EXPECT_EQ(0, cfg_.values.num[MMHINT_OPT_verbose]) << "MMHINT_CONFIG is not read";
    EXPECT_EQ(0, cfg_.n_warnings) << AllWarnings();
  }
}

TEST_F(Load, LargeFileIsIgnored) {
  std::string conf = Write("big.conf", "verbose = 1\n" + std::string(1100 * 1024, '#'));
  LoadEnv({"MMHINT_CONFIG=" + conf});
  ASSERT_EQ(1, cfg_.n_warnings);
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[0]).find("larger than 1 MiB"));
  EXPECT_EQ(0, cfg_.values.num[MMHINT_OPT_verbose]);
}

TEST_F(Load, DirectoryIsNotAConfigFile) {
  LoadEnv({"MMHINT_CONFIG=" + dir_});
  ASSERT_EQ(1, cfg_.n_warnings);
  EXPECT_NE(std::string::npos, std::string(cfg_.warnings[0]).find("not a regular file"));
}

TEST_F(Load, WarningsNameTheFile) {
  std::string conf = Write("w.conf", "\n\nhugepage = thp\n");
  LoadEnv({"MMHINT_CONFIG=" + conf});
  ASSERT_EQ(1, cfg_.n_warnings);
  EXPECT_EQ("mmhint: " + conf + ":3: unknown key 'hugepage' (did you mean 'hugepages'?); ignoring it",
            std::string(cfg_.warnings[0]));
}

void Collect(void *ctx, const char *line) { static_cast<std::vector<std::string> *>(ctx)->push_back(line); }

TEST_F(Load, DumpShowsEveryOptionAndItsSource) {
  std::string conf = Write("d.conf", "advice = random\n[rule]\npath = /data/*\nread_mmap = on\n");
  LoadEnv({"MMHINT_CONFIG=" + conf, "MMHINT_VERBOSE=1"});
  std::vector<std::string> lines;
  mmhint_config_dump(&cfg_, Collect, &lines);
  ASSERT_EQ((size_t)MMHINT_OPT__COUNT + 1, lines.size());
  EXPECT_EQ("mmhint: disable = off (default)", lines[MMHINT_OPT_disable]);
  EXPECT_EQ("mmhint: verbose = 1 (environment MMHINT_VERBOSE)", lines[MMHINT_OPT_verbose]);
  EXPECT_EQ("mmhint: advice = random (" + conf + ":1)", lines[MMHINT_OPT_advice]);
  EXPECT_EQ("mmhint: read_mmap_min_file = 64K (default)", lines[MMHINT_OPT_read_mmap_min_file]);
  EXPECT_EQ("mmhint: rule " + conf + ":2: path=/data/* sets read_mmap=on", lines.back());
}

}  // namespace
