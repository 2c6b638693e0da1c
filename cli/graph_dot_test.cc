#include "cli/graph_dot.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/process_launcher.h"
#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Lab Parse(const std::string& text) {
  v1::Lab lab;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &lab)) << text;
  return lab;
}

// Two hosts: a and b on h1, c on h2; a switch; a guest.
v1::Lab TwoHostLab() {
  return Parse(R"pb(
    name: "demo"
    topology {
      name: "demo"
      nodes { name: "a" kind: NODE_KIND_NETNS }
      nodes { name: "b" kind: NODE_KIND_QEMU }
      nodes { name: "c" kind: NODE_KIND_NETNS }
      nodes { name: "sw" kind: NODE_KIND_SWITCH }
      nodes { name: "c-1a2b" kind: NODE_KIND_SWITCH foreign_lab: "alice+core" foreign_node: "ix" }
      links {
        a { node: "a" interface: "eth1" }
        b { node: "b" interface: "eth1" }
        a_to_b { rate_bps: 10000000 delay_us: 5000 jitter_us: 1000 }
        b_to_a { rate_bps: 10000000 delay_us: 5000 jitter_us: 1000 }
      }
      links {
        a { node: "b" interface: "eth2" }
        b { node: "c" interface: "eth1" }
        a_to_b { loss_percent: 1 }
      }
      links {
        a { node: "c" interface: "eth2" }
        b { node: "sw" interface: "p1" }
      }
    }
    nodes { name: "a" host: "h1" }
    nodes { name: "b" host: "h1" }
    nodes { name: "c" host: "h2" }
    nodes { name: "sw" host: "h2" }
    nodes { name: "c-1a2b" host: "h2" })pb");
}

TEST(LabToDotTest, HostsAreClustersWithOneColourEach) {
  const std::string dot = LabToDot(TwoHostLab());
  EXPECT_THAT(dot, HasSubstr("graph \"demo\" {\n"));
  EXPECT_THAT(dot, HasSubstr("label=\"demo  (hosts: h1, h2)\""));
  EXPECT_THAT(dot, HasSubstr("  subgraph \"cluster_h1\" {\n    label=\"h1\""));
  EXPECT_THAT(dot, HasSubstr("    \"a\" [label=\"a\" shape=box fillcolor=\"#a6cee3\"];\n"));
  EXPECT_THAT(dot, HasSubstr("    \"b\" [label=\"b\\n(qemu)\" shape=box3d fillcolor=\"#a6cee3\"];\n"));
  EXPECT_THAT(dot, HasSubstr("    \"c\" [label=\"c\" shape=box fillcolor=\"#b2df8a\"];\n"));
  EXPECT_THAT(dot, HasSubstr("\"sw\" [label=\"sw\\n(switch)\" shape=ellipse"));
  EXPECT_THAT(dot, HasSubstr("\"c-1a2b\" [label=\"community\\nalice+core:ix\" "
                             "shape=doubleoctagon"));
}

TEST(LabToDotTest, LinksCarryConditionsAndTunnelsStandOut) {
  const std::string dot = LabToDot(TwoHostLab());
  // Same both ways: one label. Same host: plain.
  EXPECT_THAT(dot, HasSubstr("  \"a\" -- \"b\" [taillabel=\"eth1\" "
                             "headlabel=\"eth1\" label=\"10Mbit/s 5ms±1ms\"];\n"));
  // One direction shaped: says which; across hosts: bold, dashed, red.
  EXPECT_THAT(dot, HasSubstr("  \"b\" -- \"c\" [taillabel=\"eth2\" headlabel=\"eth1\" "
                             "label=\"→c: loss 1%\" style=\"bold,dashed\" "
                             "color=\"#c0392b\" tooltip=\"tunnel h1 <-> h2\"];\n"));
  // Unshaped on one host: no label, no style.
  EXPECT_THAT(dot, HasSubstr("  \"c\" -- \"sw\" [taillabel=\"eth2\" headlabel=\"p1\"];\n"));
}

TEST(LabToDotTest, FileWithoutHostsHasNoClusters) {
  v1::Lab lab = TwoHostLab();
  lab.clear_nodes();
  const std::string dot = LabToDot(lab);
  EXPECT_THAT(dot, Not(HasSubstr("subgraph")));
  EXPECT_THAT(dot, Not(HasSubstr("tunnel")));
  EXPECT_THAT(dot, HasSubstr("label=\"demo\""));
}

// containerlab's special ends: host links to a house per host, dummies, a
// bridge inside a node with the links to its ports drawn to it.
TEST(LabToDotTest, HostDummyAndInNodeBridgeEndsAreDrawn) {
  const std::string dot = LabToDot(Parse(R"pb(
    name: "sp"
    topology {
      name: "sp"
      nodes {
        name: "r1"
        interfaces { name: "eth1" host_end { name: "r1-eth1" } }
        interfaces { name: "dummy0" dummy: true }
      }
      nodes {
        name: "bp1"
        interfaces { name: "br01" bridge: true }
        interfaces { name: "c1eth1" master: "br01" }
        interfaces { name: "eth9" host_end { name: "bp1-eth9" } }
      }
      nodes { name: "c1" }
      links {
        a { node: "c1" interface: "eth1" }
        b { node: "bp1" interface: "c1eth1" }
      }
    }
    nodes { name: "r1" host: "h1" }
    nodes { name: "bp1" host: "h2" }
    nodes { name: "c1" host: "h2" })pb"));
  // One house per host, in its cluster, with the host's colour.
  EXPECT_THAT(dot, HasSubstr("    \"host/h1\" [label=\"host\\nh1\" shape=house "
                             "fillcolor=\"#a6cee3\"];\n"));
  EXPECT_THAT(dot, HasSubstr("    \"host/h2\" [label=\"host\\nh2\" shape=house "
                             "fillcolor=\"#b2df8a\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"r1\" -- \"host/h1\" [taillabel=\"eth1\" "
                             "headlabel=\"r1-eth1\" style=dotted"));
  EXPECT_THAT(dot, HasSubstr("  \"bp1\" -- \"host/h2\" [taillabel=\"eth9\" "
                             "headlabel=\"bp1-eth9\" style=dotted"));
  EXPECT_THAT(dot, HasSubstr("    \"r1/dummy0\" [label=\"dummy\" shape=plaintext"));
  EXPECT_THAT(dot, HasSubstr("  \"r1\" -- \"r1/dummy0\" [taillabel=\"dummy0\" "
                             "style=dotted];\n"));
  EXPECT_THAT(dot, HasSubstr("    \"bp1/br01\" [label=\"br01\\n(bridge in bp1)\" "
                             "shape=ellipse"));
  EXPECT_THAT(dot, HasSubstr("  \"bp1\" -- \"bp1/br01\" [style=bold];\n"));
  EXPECT_THAT(dot, HasSubstr("  \"c1\" -- \"bp1/br01\" [taillabel=\"eth1\" "
                             "headlabel=\"c1eth1\"];\n"));
  EXPECT_THAT(dot, Not(HasSubstr("\"c1\" -- \"bp1\"")));

  // A file (no hosts yet): one house.
  v1::Lab file = Parse(R"pb(
    name: "f"
    topology {
      name: "f"
      nodes { name: "a" interfaces { name: "eth1" host_end { name: "x" } } }
      nodes { name: "b" interfaces { name: "eth1" host_end { name: "y" } } }
    })pb");
  const std::string one = LabToDot(file);
  EXPECT_THAT(one, HasSubstr("  \"host/\" [label=\"host\" shape=house"));
  EXPECT_THAT(one, HasSubstr("  \"a\" -- \"host/\" [taillabel=\"eth1\" headlabel=\"x\""));
  EXPECT_THAT(one, HasSubstr("  \"b\" -- \"host/\" [taillabel=\"eth1\" headlabel=\"y\""));
}

TEST(LabToDotTest, ConditionsLabel) {
  v1::LinkParams p;
  EXPECT_EQ(ConditionsLabel(p), "");
  p.set_rate_bps(1000000000);
  p.set_delay_us(20000);
  p.set_loss_percent(0.5);
  p.set_duplicate_percent(1);
  EXPECT_EQ(ConditionsLabel(p), "1Gbit/s 20ms loss 0.5% dup 1%");
}

TEST(LabToDotTest, DefaultLayoutByGraphSize) {
  EXPECT_EQ(DefaultLayout(10), "dot");
  EXPECT_EQ(DefaultLayout(kLargeGraphNodes + 1), "sfdp");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Graphviz itself (deploy/setup.sh installs it) must accept what we write,
// for every example, and draw each node.
TEST(LabToDotTest, GraphvizDrawsEveryExample) {
  for (const char* path :
       {"examples/quickstart.yaml", "examples/netem.yaml",
        "examples/segments.yaml", "examples/guests.yaml",
        "examples/containerlab-linux.clab.yml",
        "examples/containerlab-bridge.clab.yml",
        "examples/containerlab-groups.clab.yml",
        "tests/containerlab/host-links.clab.yml",
        "tests/containerlab/dummy-links.clab.yml",
        "tests/containerlab/bridge-in-ns.clab.yml"}) {
    SCOPED_TRACE(path);
    auto parsed =
        controller::topology::ParseAndValidateTopology(ReadFile(path), path);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    v1::Lab lab;
    *lab.mutable_topology() = parsed->topology;
    lab.set_name(parsed->topology.name());
    PosixProcessLauncher launcher;
    ProcessSpec spec;
    spec.argv = {"dot", "-Tsvg"};
    spec.stdin_data = LabToDot(lab);
    auto result = launcher.Run(spec);
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->exit_code, 0)
        << "dot (Graphviz, installed by deploy/setup.sh) refused:\n"
        << result->stderr_data << "\n" << spec.stdin_data;
    EXPECT_THAT(result->stdout_data, HasSubstr("<svg"));
    for (const v1::Node& n : parsed->topology.nodes()) {
      // SVG text escapes '-' as "&#45;".
      const std::string escaped =
          absl::StrReplaceAll(n.name(), {{"-", "&#45;"}});
      EXPECT_THAT(result->stdout_data,
                  HasSubstr(absl::StrCat("<title>", escaped, "</title>")))
          << n.name();
    }
  }
}

}  // namespace
}  // namespace emu::cli
