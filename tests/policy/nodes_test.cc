// Unit tests of policy/nodes.c: NUMA policy strings, node lists and their
// validation against a described machine (a fake 4-node and 1-node topology,
// and one with a cpuset and a hole in the node numbers).
#include <gtest/gtest.h>

#include <linux/mempolicy.h>

#include <string>

#include "policy/nodes.h"

namespace {

// Parses `text`, asserting success, and returns the policy.
mmhint_numa_policy_t Parse(const char *text) {
  mmhint_numa_policy_t p;
  char err[256];
  EXPECT_EQ(mmhint_numa_parse(text, &p, err, sizeof err), 0) << text << ": " << err;
  return p;
}

// Parses `text`, asserting failure, and returns the message.
std::string ParseError(const char *text) {
  mmhint_numa_policy_t p;
  char err[512];
  EXPECT_EQ(mmhint_numa_parse(text, &p, err, sizeof err), -1) << text;
  EXPECT_EQ(p.mode, MMHINT_NUMA_OFF) << "a failed parse must leave the policy off: " << text;
  return err;
}

std::string ListText(const mmhint_nodemask_t &m) {
  char buf[4096];
  mmhint_nodelist_format(&m, buf, sizeof buf);
  return buf;
}

std::string PolicyText(const mmhint_numa_policy_t &p) {
  char buf[4096];
  mmhint_numa_format(&p, buf, sizeof buf);
  return buf;
}

mmhint_nodemask_t List(const char *text) {
  mmhint_nodemask_t m;
  char err[256];
  EXPECT_EQ(mmhint_nodelist_parse(text, strlen(text), &m, err, sizeof err), 0) << text << ": " << err;
  return m;
}

// A machine with the given present and allowed node lists.
mmhint_numa_topology_t Machine(const char *present, const char *allowed) {
  mmhint_numa_topology_t t;
  t.present = List(present);
  t.allowed = List(allowed);
  return t;
}

struct Resolved {
  mmhint_numa_resolve_t result;
  mmhint_numa_policy_t policy;
  std::string err;
};

Resolved Resolve(const char *text, const mmhint_numa_topology_t &topo) {
  Resolved r;
  mmhint_numa_policy_t p = Parse(text);
  char err[512];
  r.result = mmhint_numa_resolve(&p, &topo, &r.policy, err, sizeof err);
  r.err = err;
  return r;
}

}  // namespace

// ---- Node lists -------------------------------------------------------------

TEST(NodeList, SingleRangesAndLists) {
  mmhint_nodemask_t m = List("0-3,6");
  EXPECT_EQ(mmhint_nodemask_count(&m), 5);
  for (int n : {0, 1, 2, 3, 6}) EXPECT_TRUE(mmhint_nodemask_test(&m, n)) << n;
  for (int n : {4, 5, 7, 1023}) EXPECT_FALSE(mmhint_nodemask_test(&m, n)) << n;
  EXPECT_EQ(mmhint_nodemask_first(&m), 0);
  EXPECT_EQ(mmhint_nodemask_last(&m), 6);

  m = List("2");
  EXPECT_EQ(mmhint_nodemask_count(&m), 1);
  EXPECT_EQ(mmhint_nodemask_first(&m), 2);
  // Overlapping and repeated items are a set union, as in numactl.
  m = List("1,1,0-2");
  EXPECT_EQ(ListText(m), "0-2");
}

TEST(NodeList, HighNodesSpanWords) {
  mmhint_nodemask_t m = List("63-64,127,1023");
  EXPECT_EQ(mmhint_nodemask_count(&m), 4);
  EXPECT_EQ(m.bits[0], uint64_t{1} << 63);
  EXPECT_EQ(m.bits[1], (uint64_t{1} << 0) | (uint64_t{1} << 63));
  EXPECT_EQ(m.bits[15], uint64_t{1} << 63);
  EXPECT_EQ(mmhint_nodemask_last(&m), 1023);
  EXPECT_EQ(ListText(m), "63-64,127,1023");
  EXPECT_EQ(mmhint_nodemask_count(&(m = List("0-1023"))), 1024);
}

TEST(NodeList, AcceptsSysfsNewline) {
  // /sys/devices/system/node/online and Mems_allowed_list end in a newline.
  const char sysfs[] = "0-1\n";
  mmhint_nodemask_t m;
  char err[128];
  ASSERT_EQ(mmhint_nodelist_parse(sysfs, sizeof sysfs - 1, &m, err, sizeof err), 0) << err;
  EXPECT_EQ(ListText(m), "0-1");
  // The length bounds the parse: text beyond `len` is not read.
  ASSERT_EQ(mmhint_nodelist_parse("0,1,2", 3, &m, err, sizeof err), 0) << err;
  EXPECT_EQ(ListText(m), "0-1");
}

TEST(NodeList, RejectsBadLists) {
  const char *bad[] = {"", "\n", ",", "0,", ",0", "0,,1", "1-", "-1", "3-1", "a", "0-1a", "0 1", " 0",
                       "1024", "0-1024", "99999999999999999999", "!0", "all", "0-1-2", "+1"};
  for (const char *text : bad) {
    mmhint_nodemask_t m;
    char err[256] = "untouched";
    EXPECT_EQ(mmhint_nodelist_parse(text, strlen(text), &m, err, sizeof err), -1) << "'" << text << "'";
    EXPECT_EQ(mmhint_nodemask_count(&m), 0) << text;
    EXPECT_NE(std::string(err).find("bad node list"), std::string::npos) << err;
  }
}

TEST(NodeList, ErrorsNameTheProblem) {
  mmhint_nodemask_t m;
  char err[256];
  mmhint_nodelist_parse("3-1", 3, &m, err, sizeof err);
  EXPECT_EQ(std::string(err), "bad node list '3-1': a range must go from low to high (like 0-3)");
  mmhint_nodelist_parse("2000", 4, &m, err, sizeof err);
  EXPECT_EQ(std::string(err), "bad node list '2000': node numbers must be below 1024");
}

TEST(NodeList, FormatCompressesRuns) {
  EXPECT_EQ(ListText(List("0,1,2,3")), "0-3");
  EXPECT_EQ(ListText(List("0,2,4")), "0,2,4");
  EXPECT_EQ(ListText(List("5,0-1,3")), "0-1,3,5");
  mmhint_nodemask_t empty;
  mmhint_nodemask_clear(&empty);
  EXPECT_EQ(ListText(empty), "");
}

TEST(NodeList, FormatTruncatesLikeSnprintf) {
  mmhint_nodemask_t m = List("0,2,4,6,8,10");  // "0,2,4,6,8,10" is 12 characters
  char buf[6];
  memset(buf, 'x', sizeof buf);
  EXPECT_EQ(mmhint_nodelist_format(&m, buf, sizeof buf), 12u);
  EXPECT_STREQ(buf, "0,2,4");
  char none[1] = {'x'};
  EXPECT_EQ(mmhint_nodelist_format(&m, none, 0), 12u);
  EXPECT_EQ(none[0], 'x') << "a zero-length buffer must not be written";
}

// ---- Policy strings -------------------------------------------------------

TEST(NumaParse, Modes) {
  mmhint_numa_policy_t p = Parse("off");
  EXPECT_EQ(p.mode, MMHINT_NUMA_OFF);
  EXPECT_EQ(Parse("").mode, MMHINT_NUMA_OFF);
  EXPECT_EQ(Parse("local").mode, MMHINT_NUMA_LOCAL);

  p = Parse("bind:1");
  EXPECT_EQ(p.mode, MMHINT_NUMA_BIND);
  EXPECT_EQ(p.kind, MMHINT_NODES_LISTED);
  EXPECT_EQ(ListText(p.nodes), "1");

  p = Parse("interleave:0-3,6");
  EXPECT_EQ(p.mode, MMHINT_NUMA_INTERLEAVE);
  EXPECT_EQ(ListText(p.nodes), "0-3,6");

  p = Parse("interleave:all");
  EXPECT_EQ(p.kind, MMHINT_NODES_ALL);
  EXPECT_EQ(mmhint_nodemask_count(&p.nodes), 0);

  p = Parse("bind:!0");
  EXPECT_EQ(p.mode, MMHINT_NUMA_BIND);
  EXPECT_EQ(p.kind, MMHINT_NODES_ALL_BUT);
  EXPECT_EQ(ListText(p.nodes), "0");

  p = Parse("preferred:2");
  EXPECT_EQ(p.mode, MMHINT_NUMA_PREFERRED);
  EXPECT_EQ(ListText(p.nodes), "2");
}

TEST(NumaParse, RejectsBadInput) {
  const char *bad[] = {"on", "Bind:0", "bind", "bind:", "bind:x", "bind:0-", "bind:1,", "interleave:!", "off:0",
                       "local:1", "bind:0:1", "preferred:all", "preferred:0-1", "preferred:0,2", "preferred:!1",
                       "membind:0", "bind:1024", "bind: 0", " off"};
  for (const char *text : bad) {
    std::string err = ParseError(text);
    // Every message quotes the input and says what would have been accepted.
    EXPECT_NE(err.find(std::string("'") + text + "'"), std::string::npos) << err;
    EXPECT_NE(err.find("bind:NODES"), std::string::npos) << err;
  }
}

TEST(NumaParse, ErrorsSayWhatIsWrong) {
  EXPECT_NE(ParseError("membind:0").find("unknown mode"), std::string::npos);
  EXPECT_NE(ParseError("bind").find("bind needs nodes after ':'"), std::string::npos);
  EXPECT_NE(ParseError("local:0").find("local takes no node list"), std::string::npos);
  EXPECT_NE(ParseError("preferred:0-1").find("exactly one node"), std::string::npos);
  EXPECT_NE(ParseError("bind:0-").find("expected a node number after '-'"), std::string::npos);
}

TEST(NumaParse, ErrorFitsSmallBuffers) {
  mmhint_numa_policy_t p;
  char err[16];
  memset(err, 'x', sizeof err);
  EXPECT_EQ(mmhint_numa_parse("nonsense", &p, err, sizeof err), -1);
  EXPECT_EQ(strlen(err), sizeof err - 1) << "the message must be cut and NUL-terminated";
}

TEST(NumaFormat, RoundTrips) {
  const char *texts[] = {"off",         "local",          "bind:1",      "bind:0-3,6", "interleave:all",
                         "bind:!0",     "interleave:!1-2", "preferred:3", "bind:1023",  "interleave:0,2,4"};
  for (const char *text : texts) {
    mmhint_numa_policy_t p = Parse(text);
    EXPECT_EQ(PolicyText(p), text);
    mmhint_numa_policy_t again = Parse(PolicyText(p).c_str());
    EXPECT_EQ(again.mode, p.mode);
    EXPECT_EQ(again.kind, p.kind);
    EXPECT_EQ(memcmp(&again.nodes, &p.nodes, sizeof p.nodes), 0) << text;
  }
  // Formatting normalises the list.
  EXPECT_EQ(PolicyText(Parse("bind:3,0,1,2")), "bind:0-3");
}

TEST(NumaParse, KernelModes) {
  EXPECT_EQ(mmhint_numa_kernel_mode(MMHINT_NUMA_OFF), -1);
  EXPECT_EQ(mmhint_numa_kernel_mode(MMHINT_NUMA_LOCAL), MPOL_LOCAL);
  EXPECT_EQ(mmhint_numa_kernel_mode(MMHINT_NUMA_BIND), MPOL_BIND);
  EXPECT_EQ(mmhint_numa_kernel_mode(MMHINT_NUMA_INTERLEAVE), MPOL_INTERLEAVE);
  EXPECT_EQ(mmhint_numa_kernel_mode(MMHINT_NUMA_PREFERRED), MPOL_PREFERRED);
}

// ---- Validation against a machine -----------------------------------------

TEST(NumaResolve, FourNodes) {
  mmhint_numa_topology_t four;
  mmhint_numa_topology_simple(&four, 4);
  EXPECT_EQ(ListText(four.present), "0-3");

  Resolved r = Resolve("bind:1-2", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(PolicyText(r.policy), "bind:1-2");

  r = Resolve("interleave:all", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(r.policy.kind, MMHINT_NODES_LISTED);
  EXPECT_EQ(PolicyText(r.policy), "interleave:0-3");

  r = Resolve("bind:!0,2", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(r.policy), "bind:1,3");

  r = Resolve("preferred:3", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(r.policy), "preferred:3");

  EXPECT_EQ(Resolve("local", four).result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(Resolve("local", four).policy), "local");
  EXPECT_EQ(PolicyText(Resolve("off", four).policy), "off");
}

TEST(NumaResolve, FourNodesMissingOnes) {
  mmhint_numa_topology_t four;
  mmhint_numa_topology_simple(&four, 4);

  Resolved r = Resolve("bind:2-5", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_PARTIAL);
  EXPECT_EQ(r.err, "nodes 4-5 do not exist; this machine has nodes 0-3");
  EXPECT_EQ(PolicyText(r.policy), "bind:2-3") << "the usable nodes are kept for the caller to decide";

  r = Resolve("interleave:0,7", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_PARTIAL);
  EXPECT_EQ(r.err, "node 7 does not exist; this machine has nodes 0-3");
  EXPECT_EQ(PolicyText(r.policy), "interleave:0");

  r = Resolve("preferred:9", four);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_NONE);
  EXPECT_EQ(r.err, "node 9 does not exist; this machine has nodes 0-3");
  EXPECT_EQ(r.policy.mode, MMHINT_NUMA_OFF);
}

TEST(NumaResolve, OneNode) {
  mmhint_numa_topology_t one;
  mmhint_numa_topology_simple(&one, 1);

  Resolved r = Resolve("bind:3", one);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_NONE);
  EXPECT_EQ(r.err, "node 3 does not exist; this machine has node 0");
  EXPECT_EQ(r.policy.mode, MMHINT_NUMA_OFF);
  EXPECT_EQ(mmhint_nodemask_count(&r.policy.nodes), 0);

  r = Resolve("interleave:all", one);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(r.policy), "interleave:0");

  r = Resolve("bind:!0", one);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_NONE);
  EXPECT_EQ(r.err, "no nodes left: the allowed nodes are 0");

  r = Resolve("bind:0-1", one);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_PARTIAL);
  EXPECT_EQ(PolicyText(r.policy), "bind:0");
}

TEST(NumaResolve, CpusetAndHoles) {
  // Nodes 0, 1 and 4 exist (a hole at 2-3); the cpuset allows only 1 and 4.
  mmhint_numa_topology_t m = Machine("0-1,4", "1,4");

  Resolved r = Resolve("interleave:all", m);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(r.policy), "interleave:1,4") << "all means the allowed nodes, not the present ones";

  r = Resolve("bind:0-4", m);
  EXPECT_EQ(r.result, MMHINT_NUMA_RESOLVED_PARTIAL);
  EXPECT_EQ(r.err,
            "nodes 2-3 do not exist; this machine has nodes 0-1,4; "
            "node 0 is outside this process's allowed nodes (cpuset) 1,4");
  EXPECT_EQ(PolicyText(r.policy), "bind:1,4");

  r = Resolve("bind:!4", m);
  EXPECT_EQ(PolicyText(r.policy), "bind:1");
}

TEST(NumaResolve, InPlace) {
  mmhint_numa_topology_t four;
  mmhint_numa_topology_simple(&four, 4);
  mmhint_numa_policy_t p = Parse("interleave:!3");
  char err[128];
  EXPECT_EQ(mmhint_numa_resolve(&p, &four, &p, err, sizeof err), MMHINT_NUMA_RESOLVED_OK);
  EXPECT_EQ(PolicyText(p), "interleave:0-2");
}

TEST(NumaResolve, TopologyClamps) {
  mmhint_numa_topology_t t;
  mmhint_numa_topology_simple(&t, 0);
  EXPECT_EQ(ListText(t.present), "0");
  mmhint_numa_topology_simple(&t, 5000);
  EXPECT_EQ(mmhint_nodemask_count(&t.present), MMHINT_NUMA_MAX_NODES);
}
