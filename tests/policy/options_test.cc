// Tests of policy/options.c: the option table, lookup and suggestions, and the
// one value parser and formatter.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "policy/hints.h"
#include "policy/memroute.h"
#include "policy/options.h"
#include "policy/readmap.h"

namespace {

mmhint_source_t Src(mmhint_source_kind_t k = MMHINT_SRC_CONFIG, int line = 0) { return {k, line}; }

// Sets option `name` to `text` in a defaulted value set; returns the error
// text, or "" on success.
std::string Set(mmhint_values_t *v, const char *name, const char *text) {
  char err[200] = "";
  int id = mmhint_option_find(name);
  EXPECT_GE(id, 0) << name;
  if (mmhint_value_set(v, id, text, Src(), err, sizeof err) == 0) return "";
  EXPECT_NE(err[0], '\0') << "a failure must say why";
  return err;
}

std::string Format(const mmhint_values_t *v, const char *name) {
  char buf[MMHINT_STRING_MAX];
  mmhint_value_format(v, mmhint_option_find(name), buf, sizeof buf);
  return buf;
}

TEST(OptionTable, EnvNamesAreDerivedFromNames) {
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    std::string expect = "MMHINT_";
    for (const char *p = mmhint_option_table[i].name; *p; p++) expect += (char)toupper((unsigned char)*p);
    EXPECT_EQ(expect, mmhint_option_table[i].env_name);
  }
  EXPECT_STREQ("MMHINT_READ_MMAP", mmhint_option_table[MMHINT_OPT_read_mmap].env_name);
}

TEST(OptionTable, EveryDefaultParsesAndFormatsBack) {
  static mmhint_values_t v;
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    char err[200] = "";
    EXPECT_EQ(0, mmhint_value_set(&v, i, mmhint_option_table[i].def, Src(MMHINT_SRC_DEFAULT), err, sizeof err))
        << mmhint_option_table[i].name << ": " << err;
  }
  mmhint_values_defaults(&v);
  for (int i = 0; i < MMHINT_OPT__COUNT; i++) {
    EXPECT_EQ(MMHINT_SRC_DEFAULT, v.src[i].kind);
    // Formatting a value and parsing the text again gives the same value.
    char text[MMHINT_STRING_MAX], err[200];
    mmhint_value_format(&v, i, text, sizeof text);
    static mmhint_values_t w;
    w = v;
    ASSERT_EQ(0, mmhint_value_set(&w, i, text, Src(), err, sizeof err)) << text;
    EXPECT_EQ(v.num[i], w.num[i]) << mmhint_option_table[i].name;
  }
  EXPECT_EQ(64 * 1024, v.num[MMHINT_OPT_read_mmap_min_file]);
  EXPECT_EQ(8LL << 30, v.num[MMHINT_OPT_read_mmap_max_mapped]);
  EXPECT_EQ(512, v.num[MMHINT_OPT_stats_samples]);
  EXPECT_STREQ("off", v.str[MMHINT_OPT_numa]);
}

TEST(OptionTable, FindIsExact) {
  EXPECT_EQ(MMHINT_OPT_read_mmap, mmhint_option_find("read_mmap"));
  EXPECT_EQ(-1, mmhint_option_find("READ_MMAP"));
  EXPECT_EQ(-1, mmhint_option_find("read_mmap "));
  EXPECT_EQ(-1, mmhint_option_find(""));
  EXPECT_EQ(-1, mmhint_option_find(nullptr));
}

TEST(OptionTable, Suggest) {
  EXPECT_STREQ("hugepages", mmhint_option_suggest("hugepage"));
  EXPECT_STREQ("read_mmap", mmhint_option_suggest("read_map"));
  EXPECT_STREQ("read_mmap", mmhint_option_suggest("READ_MMAP"));
  EXPECT_STREQ("stats", mmhint_option_suggest("stat"));
  EXPECT_EQ(nullptr, mmhint_option_suggest("completely_unrelated"));
  EXPECT_EQ(nullptr, mmhint_option_suggest("x"));
  EXPECT_EQ(nullptr, mmhint_option_suggest(""));
  EXPECT_EQ(nullptr, mmhint_option_suggest(std::string(5000, 'a').c_str()));
}

TEST(Size, Suffixes) {
  long long v = -1;
  EXPECT_EQ(0, mmhint_parse_size("4096", &v));
  EXPECT_EQ(4096, v);
  EXPECT_EQ(0, mmhint_parse_size("0", &v));
  EXPECT_EQ(0, v);
  EXPECT_EQ(0, mmhint_parse_size("64K", &v));
  EXPECT_EQ(65536, v);
  EXPECT_EQ(0, mmhint_parse_size("64k", &v));
  EXPECT_EQ(65536, v);
  EXPECT_EQ(0, mmhint_parse_size("2M", &v));
  EXPECT_EQ(2LL << 20, v);
  EXPECT_EQ(0, mmhint_parse_size("1g", &v));
  EXPECT_EQ(1LL << 30, v);
  EXPECT_EQ(0, mmhint_parse_size("3T", &v));
  EXPECT_EQ(3LL << 40, v);
  EXPECT_EQ(0, mmhint_parse_size("16KB", &v));
  EXPECT_EQ(16384, v);
  EXPECT_EQ(0, mmhint_parse_size("16KiB", &v));
  EXPECT_EQ(16384, v);
  EXPECT_EQ(0, mmhint_parse_size("100B", &v));
  EXPECT_EQ(100, v);
  EXPECT_EQ(0, mmhint_parse_size(" 8 M ", &v));
  EXPECT_EQ(8LL << 20, v);
}

TEST(Size, Rejects) {
  long long v = 12345;
  for (const char *bad : {"", " ", "abc", "-1", "-64K", "+5", "1.5G", "64X", "64KK", "64iB", "K", "0x10", "64K junk",
                          "1P", "9223372036854775808", "99999999999999999999999", "8388608T", "9223372036854775807K"})
    EXPECT_EQ(-1, mmhint_parse_size(bad, &v)) << "'" << bad << "'";
  EXPECT_EQ(12345, v) << "a failed parse leaves the output alone";
  EXPECT_EQ(0, mmhint_parse_size("9223372036854775807", &v));
  EXPECT_EQ(LLONG_MAX, v);
  EXPECT_EQ(0, mmhint_parse_size("8388607T", &v));
  EXPECT_EQ(8388607LL << 40, v);
  EXPECT_EQ(-1, mmhint_parse_size(nullptr, &v));
}

TEST(Value, SizeOptionErrorsAndBounds) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  EXPECT_EQ("", Set(&v, "read_mmap_min_file", "1M"));
  EXPECT_EQ(1 << 20, v.num[MMHINT_OPT_read_mmap_min_file]);
  EXPECT_EQ("expected a size such as 64K or 2M, got 'abc'", Set(&v, "read_mmap_min_file", "abc"));
  EXPECT_EQ(1 << 20, v.num[MMHINT_OPT_read_mmap_min_file]) << "a bad value leaves the old one";
  // read_mmap_max_read is 1..1G.
  EXPECT_NE("", Set(&v, "read_mmap_max_read", "0"));
  EXPECT_EQ("2G is out of range; use 1 to 1G", Set(&v, "read_mmap_max_read", "2G"));
  EXPECT_EQ("", Set(&v, "read_mmap_max_read", "1G"));
  EXPECT_EQ("", Set(&v, "read_mmap_max_read", " 4k "));
  EXPECT_EQ(4096, v.num[MMHINT_OPT_read_mmap_max_read]);
  // An overlong input is quoted, shortened, in the message.
  std::string err = Set(&v, "read_mmap_max_read", std::string(300, 'z').c_str());
  EXPECT_LT(err.size(), 120u);
  EXPECT_NE(std::string::npos, err.find("..."));
}

TEST(Value, Booleans) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  for (const char *t : {"1", "on", "ON", "yes", "True", " on "}) {
    v.num[MMHINT_OPT_drop_behind] = 0;
    EXPECT_EQ("", Set(&v, "drop_behind", t)) << t;
    EXPECT_EQ(1, v.num[MMHINT_OPT_drop_behind]) << t;
  }
  for (const char *t : {"0", "off", "No", "false"}) {
    v.num[MMHINT_OPT_drop_behind] = 1;
    EXPECT_EQ("", Set(&v, "drop_behind", t)) << t;
    EXPECT_EQ(0, v.num[MMHINT_OPT_drop_behind]) << t;
  }
  for (const char *t : {"", "2", "onn", "y", "enable", "o"})
    EXPECT_EQ("expected on or off (or 1/0, yes/no, true/false), got '" + std::string(t) + "'",
              Set(&v, "drop_behind", t));
  EXPECT_EQ("off", Format(&v, "drop_behind"));
  Set(&v, "drop_behind", "yes");
  EXPECT_EQ("on", Format(&v, "drop_behind"));
}

TEST(Value, Integers) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  EXPECT_EQ("", Set(&v, "verbose", "2"));
  EXPECT_EQ(2, v.num[MMHINT_OPT_verbose]);
  EXPECT_EQ("3 is out of range; use 0 to 2", Set(&v, "verbose", "3"));
  EXPECT_EQ("-1 is out of range; use 0 to 2", Set(&v, "verbose", "-1"));
  EXPECT_EQ("expected a whole number, got '1K'", Set(&v, "verbose", "1K"));
  EXPECT_EQ("expected a whole number, got ''", Set(&v, "verbose", ""));
  EXPECT_EQ("expected a whole number, got '-'", Set(&v, "verbose", "-"));
  EXPECT_NE("", Set(&v, "stats_samples", "99999999999999999999999"));
  EXPECT_EQ("", Set(&v, "stats_samples", "65536"));
  EXPECT_EQ("65536", Format(&v, "stats_samples"));
  EXPECT_EQ(2, v.num[MMHINT_OPT_verbose]);
}

TEST(Value, Enums) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  EXPECT_EQ(0, v.num[MMHINT_OPT_read_mmap]);
  EXPECT_EQ("", Set(&v, "read_mmap", "auto"));
  EXPECT_EQ(2, v.num[MMHINT_OPT_read_mmap]);
  EXPECT_EQ("auto", Format(&v, "read_mmap"));
  EXPECT_EQ("", Set(&v, "advice", "NoReuse"));
  EXPECT_EQ("noreuse", Format(&v, "advice"));
  EXPECT_EQ("expected one of off|on|auto, got 'yes'", Set(&v, "read_mmap", "yes"));
  EXPECT_EQ("expected one of off|on|auto, got 'o'", Set(&v, "read_mmap", "o"));
  EXPECT_EQ("expected one of off|on|auto, got 'autox'", Set(&v, "read_mmap", "autox"));
  EXPECT_EQ("expected one of off|on|auto, got ''", Set(&v, "read_mmap", ""));
  EXPECT_EQ(2, v.num[MMHINT_OPT_read_mmap]);
}

TEST(Value, Strings) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  EXPECT_EQ("", Set(&v, "stats", "/tmp/mmhint.%p.json"));
  EXPECT_EQ("/tmp/mmhint.%p.json", Format(&v, "stats"));
  EXPECT_EQ("", Set(&v, "stats", ""));
  EXPECT_EQ("", Format(&v, "stats"));
  std::string longest(MMHINT_STRING_MAX - 1, 'p');
  EXPECT_EQ("", Set(&v, "stats", longest.c_str()));
  EXPECT_EQ(longest, Format(&v, "stats"));
  std::string too_long(MMHINT_STRING_MAX, 'p');
  EXPECT_EQ("value is 512 bytes long; the limit is 511", Set(&v, "stats", too_long.c_str()));
  EXPECT_EQ(longest, Format(&v, "stats"));
}

TEST(Value, SourceIsRecorded) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  char err[100];
  ASSERT_EQ(0, mmhint_value_set(&v, MMHINT_OPT_read_mmap, "on", Src(MMHINT_SRC_CONFIG, 12), err, sizeof err));
  EXPECT_EQ(MMHINT_SRC_CONFIG, v.src[MMHINT_OPT_read_mmap].kind);
  EXPECT_EQ(12, v.src[MMHINT_OPT_read_mmap].line);
  ASSERT_NE(0, mmhint_value_set(&v, MMHINT_OPT_read_mmap, "bad", Src(MMHINT_SRC_ENV), err, sizeof err));
  EXPECT_EQ(MMHINT_SRC_CONFIG, v.src[MMHINT_OPT_read_mmap].kind) << "a failed set keeps the old source";
  EXPECT_NE(0, mmhint_value_set(&v, -1, "on", Src(), err, sizeof err));
  EXPECT_NE(0, mmhint_value_set(&v, MMHINT_OPT__COUNT, "on", Src(), err, sizeof err));
}

TEST(Value, SizesFormatWithTheLargestExactSuffix) {
  static mmhint_values_t v;
  mmhint_values_defaults(&v);
  EXPECT_EQ("64K", Format(&v, "read_mmap_min_file"));
  EXPECT_EQ("64T", Format(&v, "hugepage_max"));
  EXPECT_EQ("0", Format(&v, "willneed_ahead"));
  Set(&v, "willneed_ahead", "1536K");
  EXPECT_EQ("1536K", Format(&v, "willneed_ahead"));
  Set(&v, "willneed_ahead", "1000");
  EXPECT_EQ("1000", Format(&v, "willneed_ahead"));
  Set(&v, "willneed_ahead", "2048M");
  EXPECT_EQ("2G", Format(&v, "willneed_ahead"));
}

std::string ChoiceName(int id, long long idx) {
  char buf[64];
  int r = mmhint_option_choice_name(id, idx, buf, sizeof buf);
  return r == 0 ? std::string(buf) : "<none:" + std::string(buf) + ">";
}

TEST(Choice, NamesComeFromTheTable) {
  EXPECT_EQ("off", ChoiceName(MMHINT_OPT_read_mmap, 0));
  EXPECT_EQ("auto", ChoiceName(MMHINT_OPT_read_mmap, 2));
  EXPECT_EQ("<none:>", ChoiceName(MMHINT_OPT_read_mmap, 3)) << "past the last choice";
  EXPECT_EQ("<none:>", ChoiceName(MMHINT_OPT_read_mmap, -1));
  EXPECT_EQ("<none:>", ChoiceName(MMHINT_OPT_stats_samples, 0)) << "not an ENUM option";
  EXPECT_EQ("<none:>", ChoiceName(-1, 0));
  EXPECT_EQ("<none:>", ChoiceName(MMHINT_OPT__COUNT, 0));
  char small[3];
  EXPECT_EQ(0, mmhint_option_choice_name(MMHINT_OPT_advice, MMHINT_ADV_SEQUENTIAL, small, sizeof small));
  EXPECT_STREQ("se", small) << "cut to fit";
  // The formatter writes a value outside the choices as "?".
  char buf[16];
  mmhint__format_num(MMHINT_OPT_read_mmap, 7, buf, sizeof buf);
  EXPECT_STREQ("?", buf);
  mmhint__format_num(MMHINT_OPT_hugepages, MMHINT_HP_HUGETLB, buf, sizeof buf);
  EXPECT_STREQ("hugetlb", buf);
}

// C enums that mirror an ENUM option's choices: the value of each constant
// must be the index of its choice in include/mmhint_options.def, and every
// choice must have a constant, so reordering the choices (or the enum) fails
// here instead of silently changing what an option means.
struct Mirror {
  int id;
  std::vector<std::pair<long long, const char *>> constants;  // in choice order
};

TEST(Choice, CEnumsMatchTheChoicesOfTheirOption) {
  const std::vector<Mirror> mirrors = {
      {MMHINT_OPT_read_mmap, {{MMHINT_RM_OFF, "off"}, {MMHINT_RM_ON, "on"}, {MMHINT_RM_AUTO, "auto"}}},
      {MMHINT_OPT_advice,
       {{MMHINT_ADV_NONE, "none"},
        {MMHINT_ADV_NORMAL, "normal"},
        {MMHINT_ADV_SEQUENTIAL, "sequential"},
        {MMHINT_ADV_RANDOM, "random"},
        {MMHINT_ADV_WILLNEED, "willneed"},
        {MMHINT_ADV_NOREUSE, "noreuse"},
        {MMHINT_ADV_AUTO, "auto"}}},
      {MMHINT_OPT_mmap_advice,
       {{MMHINT_MADV_NONE, "none"},
        {MMHINT_MADV_NORMAL, "normal"},
        {MMHINT_MADV_SEQUENTIAL, "sequential"},
        {MMHINT_MADV_RANDOM, "random"},
        {MMHINT_MADV_WILLNEED, "willneed"},
        {MMHINT_MADV_HUGEPAGE, "hugepage"},
        {MMHINT_MADV_AUTO, "auto"}}},
      {MMHINT_OPT_hugepages, {{MMHINT_HP_OFF, "off"}, {MMHINT_HP_THP, "thp"}, {MMHINT_HP_HUGETLB, "hugetlb"}}},
  };
  for (const Mirror &m : mirrors) {
    const char *opt = mmhint_option_table[m.id].name;
    ASSERT_EQ(mmhint_option_table[m.id].type, MMHINT_T_ENUM) << opt;
    for (size_t i = 0; i < m.constants.size(); i++) {
      const auto &c = m.constants[i];
      long long parsed = -1;
      char err[160] = "";
      EXPECT_EQ(0, mmhint__value_parse(m.id, c.second, &parsed, err, sizeof err)) << opt << ": " << err;
      EXPECT_EQ(c.first, parsed) << opt << ": the constant for '" << c.second << "' is not its choice index";
      EXPECT_EQ(c.second, ChoiceName(m.id, c.first)) << opt;
    }
    EXPECT_EQ("<none:>", ChoiceName(m.id, (long long)m.constants.size()))
        << opt << " has a choice without a C constant: " << mmhint_option_table[m.id].choices;
  }
}

}  // namespace
