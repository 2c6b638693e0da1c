#include "controller/topology/topology_parser.h"

#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string Message(const absl::StatusOr<ParsedTopology>& r) {
  return std::string(r.status().message());
}

// Fails the test unless `content` parses.
ParsedTopology MustParse(const std::string& content,
                         const std::string& file = "lab.yaml") {
  absl::StatusOr<ParsedTopology> r = ParseTopology(content, file);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ParsedTopology{};
}

const emu::v1::Node* FindNode(const emu::v1::Topology& t,
                              const std::string& name) {
  for (const emu::v1::Node& n : t.nodes()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

TEST(ParseTopologyTest, ReadsEveryKeyWithUnitsAndSources) {
  // Line numbers matter: the assertions below name them.
  ParsedTopology p = MustParse(R"(name: demo
topology:
  nodes:
    r1:
      kind: netns
      host: host1
      cpus: 2
      memory: 256MiB
      labels: {role: router}
      interfaces:
        eth1: {addresses: [10.0.1.1/24, "fd00::1/64"], mtu: 9000, mac: "02:00:00:00:00:01"}
        eth2: {ipv4: 10.0.2.1/24, ipv6: "fd00:2::1/64"}
      routes:
        - {to: 10.0.3.0/24, via: 10.0.1.2, dev: eth1, metric: 10}
        - {to: default, via: 10.0.2.2}
      sysctls: {net.ipv4.ip_forward: 1}
      exec: ["ip -br addr", "true"]
    r2:
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      rate: 100mbit
      burst: 32kb
      delay: 10ms
      jitter: 1ms
      delay-correlation: 25%
      loss: 0.1%
      loss-correlation: 25%
      duplicate: 0.1%
      reorder: 1%
      corrupt: 0.1%
      limit: 1000
      a-to-b: {rate: 10mbit}
      b-to-a: {delay: 5ms, loss: 0}
)");
  const emu::v1::Topology& t = p.topology;
  EXPECT_EQ(t.name(), "demo");
  EXPECT_EQ(t.source().file(), "lab.yaml");
  EXPECT_EQ(t.source().line(), 1);
  ASSERT_THAT(t.nodes(), SizeIs(2));
  const emu::v1::Node& r1 = t.nodes(0);
  EXPECT_EQ(r1.name(), "r1");
  EXPECT_EQ(r1.source().line(), 4);
  EXPECT_EQ(r1.kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_EQ(r1.host(), "host1");
  EXPECT_EQ(r1.resources().cpus(), 2u);
  EXPECT_EQ(r1.resources().memory_mib(), 256u);
  EXPECT_EQ(r1.labels().at("role"), "router");
  ASSERT_THAT(r1.interfaces(), SizeIs(2));
  EXPECT_EQ(r1.interfaces(0).name(), "eth1");
  EXPECT_EQ(r1.interfaces(0).source().line(), 11);
  EXPECT_THAT(r1.interfaces(0).addresses(),
              ElementsAre("10.0.1.1/24", "fd00::1/64"));
  EXPECT_EQ(r1.interfaces(0).mtu(), 9000u);
  EXPECT_EQ(r1.interfaces(0).mac(), "02:00:00:00:00:01");
  EXPECT_THAT(r1.interfaces(1).addresses(),
              ElementsAre("10.0.2.1/24", "fd00:2::1/64"));
  ASSERT_THAT(r1.routes(), SizeIs(2));
  EXPECT_EQ(r1.routes(0).destination(), "10.0.3.0/24");
  EXPECT_EQ(r1.routes(0).via(), "10.0.1.2");
  EXPECT_EQ(r1.routes(0).dev(), "eth1");
  EXPECT_EQ(r1.routes(0).metric(), 10u);
  EXPECT_EQ(r1.routes(0).source().line(), 14);
  EXPECT_EQ(r1.routes(1).destination(), "default");
  EXPECT_EQ(r1.sysctls().at("net.ipv4.ip_forward"), "1");
  EXPECT_THAT(r1.exec(), ElementsAre("ip -br addr", "true"));

  // r2 had no settings; its eth1 comes from the link.
  const emu::v1::Node& r2 = t.nodes(1);
  EXPECT_EQ(r2.kind(), emu::v1::NODE_KIND_NETNS);
  ASSERT_THAT(r2.interfaces(), SizeIs(1));
  EXPECT_EQ(r2.interfaces(0).name(), "eth1");
  EXPECT_THAT(r2.interfaces(0).addresses(), IsEmpty());
  EXPECT_EQ(r2.interfaces(0).source().line(), 20);

  ASSERT_THAT(t.links(), SizeIs(1));
  const emu::v1::Link& l = t.links(0);
  EXPECT_EQ(l.source().line(), 20);
  EXPECT_EQ(l.a().node(), "r1");
  EXPECT_EQ(l.b().interface(), "eth1");
  // a-to-b: the link's values, rate overridden.
  EXPECT_EQ(l.a_to_b().rate_bps(), 10'000'000u);
  EXPECT_EQ(l.a_to_b().burst_bytes(), 32u * 1024);
  EXPECT_EQ(l.a_to_b().delay_us(), 10'000u);
  EXPECT_EQ(l.a_to_b().jitter_us(), 1'000u);
  EXPECT_DOUBLE_EQ(l.a_to_b().delay_correlation_percent(), 25);
  EXPECT_DOUBLE_EQ(l.a_to_b().loss_percent(), 0.1);
  EXPECT_DOUBLE_EQ(l.a_to_b().loss_correlation_percent(), 25);
  EXPECT_DOUBLE_EQ(l.a_to_b().duplicate_percent(), 0.1);
  EXPECT_DOUBLE_EQ(l.a_to_b().reorder_percent(), 1);
  EXPECT_DOUBLE_EQ(l.a_to_b().corrupt_percent(), 0.1);
  EXPECT_EQ(l.a_to_b().limit_packets(), 1000u);
  // b-to-a: the link's values, delay and loss overridden.
  EXPECT_EQ(l.b_to_a().rate_bps(), 100'000'000u);
  EXPECT_EQ(l.b_to_a().delay_us(), 5'000u);
  EXPECT_DOUBLE_EQ(l.b_to_a().loss_percent(), 0);
  EXPECT_EQ(l.b_to_a().jitter_us(), 1'000u);
  EXPECT_THAT(p.warnings, IsEmpty());
}

TEST(ParseTopologyTest, GuestCpusetFromNodeOrKind) {
  ParsedTopology p = MustParse(
      "name: g\ntopology:\n  kinds:\n    qemu: {cpuset: [1]}\n  nodes:\n"
      "    vm1: {kind: qemu}\n    vm2: {kind: qemu, cpuset: [0, 1]}\n");
  const emu::v1::Node* vm1 = FindNode(p.topology, "vm1");
  const emu::v1::Node* vm2 = FindNode(p.topology, "vm2");
  ASSERT_NE(vm1, nullptr);
  ASSERT_NE(vm2, nullptr);
  EXPECT_THAT(vm1->cpu_set(), ::testing::ElementsAre(1));
  EXPECT_THAT(vm2->cpu_set(), ::testing::ElementsAre(0, 1));
  auto bad = ParseTopology(
      "name: g\ntopology:\n  nodes:\n    vm1: {kind: qemu, cpuset: [x]}\n",
      "lab.yaml");
  EXPECT_THAT(Message(bad), HasSubstr("lab.yaml:4"));
  EXPECT_THAT(Message(bad), HasSubstr("cpuset"));
}

TEST(ParseTopologyTest, CarrierIsTunnelOrVxlan) {
  EXPECT_EQ(MustParse("name: x\ncarrier: vxlan\ntopology: {nodes: {r1: }}\n")
                .topology.carrier(),
            "vxlan");
  EXPECT_EQ(MustParse("name: x\ncarrier: tunnel\ntopology: {nodes: {r1: }}\n")
                .topology.carrier(),
            "");
  EXPECT_EQ(MustParse("name: x\ntopology: {nodes: {r1: }}\n").topology.carrier(),
            "");
  EXPECT_THAT(
      Message(ParseTopology("name: x\ncarrier: gre\ntopology: {nodes: {r1: }}\n",
                            "c.yaml")),
      HasSubstr("c.yaml:2: lab: carrier: 'gre' is not one of tunnel, vxlan"));
}

TEST(ParseTopologyTest, MalformedYamlNamesFileLineAndColumn) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(
      "name: x\ntopology:\n  nodes: {r1: {kind: netns}\n  links: []\n",
      "broken.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(r), HasSubstr("broken.yaml:4:"));
  EXPECT_THAT(Message(r), HasSubstr("malformed YAML"));
}

TEST(ParseTopologyTest, EmptyOrNonMapFilesAreErrors) {
  EXPECT_THAT(Message(ParseTopology("", "e.yaml")),
              HasSubstr("e.yaml:1: lab: the file is empty"));
  EXPECT_THAT(Message(ParseTopology("- a\n- b\n", "l.yaml")),
              HasSubstr("l.yaml:1: lab: expected a map"));
  EXPECT_THAT(Message(ParseTopology("topology: {nodes: {r1: }}\n", "n.yaml")),
              HasSubstr("n.yaml:1: lab: missing required key 'name'"));
}

TEST(ParseTopologyTest, UnknownKeySuggestsTheKnownOne) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: x
topology:
  nodes: {r1: , r2: }
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      rat: 10mbit
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r),
            "lab.yaml:6: link r1:eth1<->r2:eth1: unknown key 'rat' (did you "
            "mean 'rate'?)");
}

TEST(ParseTopologyTest, BadUnitsAreAllReportedWithTheirLines) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: x
topology:
  nodes:
    r1:
      memory: 256
    r2:
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      rate: 10mbps
      delay: 5 ms
      loss: -1%
      b-to-a:
        jitter: 10
)",
                                                   "units.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines = absl::StrSplit(Message(r), '\n');
  ASSERT_THAT(lines, SizeIs(5)) << Message(r);
  EXPECT_THAT(lines[0], AllOf(HasSubstr("units.yaml:5: node r1: memory:"),
                              HasSubstr("say 256b")));
  EXPECT_THAT(lines[1],
              AllOf(HasSubstr("units.yaml:9: link r1:eth1<->r2:eth1: rate: "
                              "bad rate \"10mbps\""),
                    HasSubstr("megaBYTES"), HasSubstr("write 10mbit")));
  EXPECT_THAT(lines[2], HasSubstr("units.yaml:10: link r1:eth1<->r2:eth1: "
                                  "delay: bad duration \"5 ms\": no spaces"));
  EXPECT_THAT(lines[3], HasSubstr("units.yaml:11: link r1:eth1<->r2:eth1: "
                                  "loss: bad percentage \"-1%\""));
  EXPECT_THAT(lines[4],
              HasSubstr("units.yaml:13: link r1:eth1<->r2:eth1: b-to-a: "
                        "jitter: bad duration \"10\""));
}

TEST(ParseTopologyTest, ContainerlabLinuxNodesDeployAsNetnsWithWarnings) {
  ParsedTopology p = MustParse(R"(name: clab
prefix: ""
mgmt:
  network: clab-mgmt
  ipv4-subnet: 172.20.20.0/24
topology:
  kinds:
    linux:
      image: alpine:3
      env: {FOO: bar}
  nodes:
    srv1:
      kind: linux
      exec: ["ip addr add 10.0.0.1/24 dev eth1"]
    srv2:
      kind: linux
      image: ubuntu:22.04
      binds: [/tmp:/tmp]
      mgmt-ipv4: 172.20.20.3
  links:
    - endpoints: ["srv1:eth1", "srv2:eth1"]
      mtu: 9000
)",
                               "lab.clab.yml");
  ASSERT_THAT(p.topology.nodes(), SizeIs(2));
  for (const emu::v1::Node& n : p.topology.nodes()) {
    EXPECT_EQ(n.kind(), emu::v1::NODE_KIND_NETNS) << n.name();
    EXPECT_EQ(n.image(), "") << n.name();
    // eth1, and eth0 on the management network `mgmt:` asks for.
    ASSERT_THAT(n.interfaces(), SizeIs(2));
    EXPECT_EQ(n.interfaces(0).mtu(), 9000u) << n.name();
    EXPECT_EQ(n.interfaces(1).name(), "eth0") << n.name();
    EXPECT_TRUE(n.interfaces(1).mgmt()) << n.name();
  }
  EXPECT_EQ(p.topology.mgmt().network(), "clab-mgmt");
  EXPECT_EQ(p.topology.mgmt().ipv6_subnet(), "");  // only IPv4 was asked
  EXPECT_THAT(p.topology.nodes(0).interfaces(1).addresses(),
              ElementsAre("172.20.20.2/24"));
  EXPECT_THAT(p.topology.nodes(1).interfaces(1).addresses(),
              ElementsAre("172.20.20.3/24"));
  EXPECT_THAT(p.topology.nodes(0).exec(),
              ElementsAre("ip addr add 10.0.0.1/24 dev eth1"));
  EXPECT_THAT(
      p.warnings,
      ElementsAre(
          "lab.clab.yml:2: lab: ignored containerlab key 'prefix' (emu "
          "does not use it)",
          // The kind's image is blamed once, not once per node.
          "lab.clab.yml:9: topology.kinds.linux: image ignored: netns nodes "
          "share the host's file system (kind linux deploys as netns)",
          "lab.clab.yml:18: node srv2: ignored containerlab key 'binds' (emu "
          "does not use it)",
          "lab.clab.yml:17: node srv2: image ignored: netns nodes share the "
          "host's file system (kind linux deploys as netns)"));
}

TEST(ParseTopologyTest, DefaultsAndKindsApplyUnderTheNodesOwnSettings) {
  ParsedTopology p = MustParse(R"(name: x
topology:
  defaults:
    kind: qemu
    cpus: 1
    labels: {team: a, tier: x}
    sysctls: {net.ipv4.ip_forward: 0}
  kinds:
    qemu: {image: debian.qcow2, memory: 512MiB, labels: {tier: y}}
  nodes:
    vm1: {}
    vm2: {cpus: 4, labels: {tier: z}, sysctls: {net.ipv6.conf.all.forwarding: 1}}
    ns1: {kind: netns}
)");
  const emu::v1::Node* vm1 = FindNode(p.topology, "vm1");
  const emu::v1::Node* vm2 = FindNode(p.topology, "vm2");
  const emu::v1::Node* ns1 = FindNode(p.topology, "ns1");
  ASSERT_TRUE(vm1 && vm2 && ns1);
  EXPECT_EQ(vm1->kind(), emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(vm1->image(), "debian.qcow2");
  EXPECT_EQ(vm1->resources().cpus(), 1u);
  EXPECT_EQ(vm1->resources().memory_mib(), 512u);
  EXPECT_EQ(vm1->labels().at("team"), "a");
  EXPECT_EQ(vm1->labels().at("tier"), "y");
  EXPECT_EQ(vm2->resources().cpus(), 4u);
  EXPECT_EQ(vm2->labels().at("tier"), "z");
  EXPECT_EQ(vm2->sysctls().at("net.ipv4.ip_forward"), "0");
  EXPECT_EQ(vm2->sysctls().at("net.ipv6.conf.all.forwarding"), "1");
  EXPECT_EQ(ns1->kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_EQ(ns1->image(), "");  // kinds.qemu does not apply to netns
  EXPECT_EQ(ns1->labels().at("tier"), "x");
}

TEST(ParseTopologyTest, StructuralErrorsAreAllCollected) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: x
topology:
  nodes:
    r1: {kind: nokia_srlinux}
    r2: {kind: netns, cpus: two}
    r3:
      interfaces:
        eth1: {ipv4: "fd00::1/64"}
      routes:
        - {via: 10.0.0.1}
    r3: {}
  links:
    - endpoints: ["r2:eth1"]
    - endpoints: ["r2:eth2", "macvlan:enp0s3"]
    - endpoints: ["r2:eth3", "mgmt-net:r2-eth3"]
    - endpoints: ["r2eth4", "r3:eth4"]
    - {endpoints: ["r2:eth5", "r3:eth5"], type: macvlan}
    - {endpoints: ["r2:eth6", "r3:eth6"], endpoints: ["r2:eth6", "r3:eth6"]}
)",
                                                   "bad.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines = absl::StrSplit(Message(r), '\n');
  EXPECT_THAT(
      lines,
      ElementsAre(
          HasSubstr("bad.yaml:4: node r1: kind 'nokia_srlinux' is not "
                    "supported"),
          HasSubstr("bad.yaml:5: node r2: cpus: \"two\" is not a whole number"),
          HasSubstr("bad.yaml:8: interface r3:eth1: ipv4: \"fd00::1/64\" is "
                    "not an IPv4 address"),
          HasSubstr("bad.yaml:10: node r3: route: missing required key 'to'"),
          HasSubstr("bad.yaml:11: node r3: duplicate node: already defined at "
                    "bad.yaml:6"),
          HasSubstr("bad.yaml:13: link #1: endpoints: expected exactly two"),
          // A link has one name in every message, decided before it is read.
          HasSubstr("bad.yaml:14: link r2:eth2<->macvlan:enp0s3: endpoint "
                    "\"macvlan:enp0s3\": containerlab's 'macvlan' endpoints "
                    "are not supported"),
          HasSubstr("bad.yaml:16: link #4: endpoint \"r2eth4\": expected "
                    "node:interface"),
          HasSubstr("bad.yaml:17: link r2:eth5<->r3:eth5: containerlab link "
                    "type 'macvlan' is not supported"),
          HasSubstr("bad.yaml:18: link r2:eth6<->r3:eth6: duplicate key "
                    "'endpoints'")))
      << Message(r);
}

TEST(ParseTopologyTest, JsonIsReadAsYaml) {
  ParsedTopology p = MustParse(R"({
  "name": "j",
  "topology": {
    "nodes": {
      "a": {"interfaces": {"eth1": {"addresses": ["10.0.0.1/24"]}}},
      "b": {"kind": "netns"}
    },
    "links": [
      {"endpoints": ["a:eth1", "b:eth1"], "rate": "1gbit", "delay": "2ms"}
    ]
  }
})",
                               "lab.json");
  EXPECT_EQ(p.topology.name(), "j");
  ASSERT_THAT(p.topology.nodes(), SizeIs(2));
  EXPECT_EQ(p.topology.nodes(0).source().line(), 5);
  EXPECT_EQ(p.topology.nodes(0).source().file(), "lab.json");
  ASSERT_THAT(p.topology.links(), SizeIs(1));
  EXPECT_EQ(p.topology.links(0).source().line(), 9);
  EXPECT_EQ(p.topology.links(0).a_to_b().rate_bps(), 1'000'000'000u);
  EXPECT_EQ(p.topology.links(0).b_to_a().delay_us(), 2'000u);

  absl::StatusOr<ParsedTopology> bad = ParseTopology(
      "{\"name\": \"j\",\n \"topology\": {\"nodes\": 3}}", "bad.json");
  EXPECT_THAT(Message(bad), HasSubstr("bad.json:2: topology: nodes: expected"));
}

TEST(ParseTopologyTest, TextprotoGetsSourcesAndNormalization) {
  // The assertions below count lines of this text.
  // clang-format off
  ParsedTopology p =
      MustParse(R"pb(name: "tp"
nodes {
  name: "r1"
  interfaces { name: "eth1" addresses: "10.0.0.1/24" }
}
nodes {
  name: "r2"
  kind: NODE_KIND_QEMU
}
links {
  a { node: "r1" interface: "eth1" }
  b { node: "r2" interface: "eth1" }
  a_to_b { rate_bps: 1000000 }
}
)pb",
                "lab.textproto");
  // clang-format on
  const emu::v1::Topology& t = p.topology;
  ASSERT_THAT(t.nodes(), SizeIs(2));
  EXPECT_EQ(t.nodes(0).kind(), emu::v1::NODE_KIND_NETNS);  // defaulted
  EXPECT_EQ(t.nodes(0).source().file(), "lab.textproto");
  EXPECT_EQ(t.nodes(0).source().line(), 2);
  EXPECT_EQ(t.nodes(0).interfaces(0).source().line(), 4);
  EXPECT_EQ(t.nodes(1).kind(), emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(t.links(0).source().line(), 10);
  // r2:eth1 was implicit.
  ASSERT_THAT(t.nodes(1).interfaces(), SizeIs(1));
  EXPECT_EQ(t.nodes(1).interfaces(0).source().line(), 10);
  EXPECT_EQ(t.links(0).a_to_b().rate_bps(), 1'000'000u);

  for (const char* name : {"x.txtpb", "x.pbtxt"}) {
    EXPECT_TRUE(ParseTopology("name: \"a\"", name).ok()) << name;
  }
  absl::StatusOr<ParsedTopology> bad =
      ParseTopology("name: \"tp\"\nnodes {\n  nmae: \"r1\"\n}\n", "bad.pbtxt");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Message(bad),
              AllOf(HasSubstr("bad.pbtxt:3:"), HasSubstr("malformed textproto"),
                    HasSubstr("nmae")));
}

TEST(NormalizeTopologyTest, IsIdempotent) {
  ParsedTopology p = MustParse(R"(name: x
topology:
  nodes: {a: , b: }
  links: [{endpoints: ["a:e1", "b:e1"]}]
)");
  emu::v1::Topology again = p.topology;
  NormalizeTopology(&again);
  EXPECT_EQ(again.DebugString(), p.topology.DebugString());
}

// A hub with more interfaces than NormalizeTopology scans (it switches to
// a set of names): every name once, declared ones kept with their
// settings, names first seen on a link declared once, in link order, also
// when a second node of the same name exists (the first one wins).
TEST(NormalizeTopologyTest, HubWithManyInterfacesDeclaresEachOnce) {
  emu::v1::Topology t;
  emu::v1::Node* hub = t.add_nodes();
  hub->set_name("hub");
  for (int i = 0; i < 12; ++i) {
    hub->add_interfaces()->set_name(absl::StrCat("d", i));
  }
  hub->mutable_interfaces(3)->set_mtu(9000);
  t.add_nodes()->set_name("hub");  // a duplicate: the validator's error
  t.add_nodes()->set_name("x");
  for (int i = 0; i < 40; ++i) {
    emu::v1::Link* l = t.add_links();
    l->mutable_a()->set_node("hub");
    // d0..d11 are declared; e12..e19 appear twice each (a name used by two
    // links is the validator's error, not normalisation's).
    l->mutable_a()->set_interface(i < 12 ? absl::StrCat("d", i)
                                         : absl::StrCat("e", 12 + (i - 12) % 8));
    l->mutable_b()->set_node("x");
    l->mutable_b()->set_interface(absl::StrCat("x", i));
  }
  NormalizeTopology(&t);
  std::vector<std::string> names;
  for (const auto& i : t.nodes(0).interfaces()) names.push_back(i.name());
  std::vector<std::string> want;
  for (int i = 0; i < 12; ++i) want.push_back(absl::StrCat("d", i));
  for (int i = 12; i < 20; ++i) want.push_back(absl::StrCat("e", i));
  EXPECT_EQ(names, want);
  EXPECT_EQ(t.nodes(0).interfaces(3).mtu(), 9000u);
  EXPECT_EQ(t.nodes(1).interfaces_size(), 0);
  EXPECT_EQ(t.nodes(2).interfaces_size(), 40);
  emu::v1::Topology again = t;
  NormalizeTopology(&again);
  EXPECT_EQ(again.DebugString(), t.DebugString());
}

// Each node's implicit interfaces in the order of its links, then of its
// attachments, each with its link's source, whatever the other nodes'
// links in between (NormalizeTopology groups the ends by node).
TEST(NormalizeTopologyTest, DeclaresInLinkOrderThenAttachmentsPerNode) {
  emu::v1::Topology t;
  for (const char* name : {"a", "b", "c"}) t.add_nodes()->set_name(name);
  t.mutable_nodes(0)->add_interfaces()->set_name("e3");  // declared first
  const std::vector<std::array<const char*, 4>> links = {
      {"a", "e2", "b", "e1"}, {"c", "e1", "a", "e1"}, {"b", "e2", "a", "e3"}};
  for (size_t i = 0; i < links.size(); ++i) {
    emu::v1::Link* l = t.add_links();
    l->mutable_a()->set_node(links[i][0]);
    l->mutable_a()->set_interface(links[i][1]);
    l->mutable_b()->set_node(links[i][2]);
    l->mutable_b()->set_interface(links[i][3]);
    l->mutable_source()->set_line(static_cast<int>(i) + 1);
  }
  emu::v1::Attachment* at = t.add_attachments();
  at->mutable_local()->set_node("a");
  at->mutable_local()->set_interface("e9");
  at->mutable_source()->set_line(9);
  NormalizeTopology(&t);
  auto declared = [&](int node) {
    std::vector<std::string> out;
    for (const auto& i : t.nodes(node).interfaces()) {
      out.push_back(absl::StrCat(i.name(), "@", i.source().line()));
    }
    return out;
  };
  EXPECT_THAT(declared(0), ElementsAre("e3@0", "e2@1", "e1@2", "e9@9"));
  EXPECT_THAT(declared(1), ElementsAre("e1@1", "e2@3"));
  EXPECT_THAT(declared(2), ElementsAre("e1@2"));
}

TEST(ParseAndValidateTopologyTest, RunsTheValidatorToo) {
  absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(R"(name: x
topology:
  nodes: {a: , b: }
  links: [{endpoints: ["a:e1", "c:e1"]}]
)",
                                                              "v.yaml");
  EXPECT_THAT(Message(r), HasSubstr("v.yaml:4: link a:e1<->c:e1: unknown "
                                    "node c"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(ExamplesTest, EveryExampleParsesAndValidates) {
  const char* kExamples[] = {
      "examples/quickstart.yaml",
      "examples/containerlab-linux.clab.yml",
      "examples/netem.yaml",
      "examples/guests.yaml",
      "examples/containerlab-groups.clab.yml",
  };
  for (const char* path : kExamples) {
    std::string content = ReadFile(path);
    ASSERT_FALSE(content.empty()) << path << " is missing from runfiles";
    absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(content, path);
    ASSERT_TRUE(r.ok()) << path << ":\n" << r.status().message();
    if (std::string(path) != "examples/containerlab-linux.clab.yml") {
      EXPECT_THAT(r->warnings, IsEmpty()) << path << ":\n"
                                          << absl::StrJoin(r->warnings, "\n");
    }
  }
}

TEST(ExamplesTest, ContainerlabGroupsExampleTakesItsVariables) {
  const std::string content = ReadFile("examples/containerlab-groups.clab.yml");
  const EnvLookup env =
      [](const std::string& name) -> std::optional<std::string> {
    if (name == "SUBNET") return "10.9";
    return std::nullopt;
  };
  absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(
      content, "containerlab-groups.clab.yml", ParseOptions{env});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->topology.name(), "clab-groups");
  const emu::v1::Node* router = FindNode(r->topology, "router");
  const emu::v1::Node* server = FindNode(r->topology, "server");
  ASSERT_TRUE(router && server);
  EXPECT_EQ(router->env().at("ROLE"), "router");
  EXPECT_EQ(router->sysctls().at("net.ipv4.ip_forward"), "1");
  EXPECT_THAT(router->interfaces(0).addresses(), ElementsAre("10.9.1.1/24"));
  EXPECT_THAT(server->exec(), ElementsAre("ip route add 10.9.1.0/24 via "
                                          "10.9.2.1"));
  EXPECT_EQ(server->env().at("ROLE"), "host");
}

TEST(ExamplesTest, QuickstartIsTheRoutedFourNodeLab) {
  absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(
      ReadFile("examples/quickstart.yaml"), "quickstart.yaml");
  ASSERT_TRUE(r.ok()) << r.status();
  const emu::v1::Topology& t = r->topology;
  ASSERT_THAT(t.nodes(), SizeIs(4));
  ASSERT_THAT(t.links(), SizeIs(3));
  for (const char* router : {"r1", "r2"}) {
    const emu::v1::Node* n = FindNode(t, router);
    ASSERT_NE(n, nullptr);
    EXPECT_EQ(n->sysctls().at("net.ipv4.ip_forward"), "1");
  }
  for (const emu::v1::Link& l : t.links()) {
    // No netem on this host's kernel: the quickstart shapes rate only.
    for (const emu::v1::LinkParams* p : {&l.a_to_b(), &l.b_to_a()}) {
      EXPECT_EQ(p->delay_us(), 0u);
      EXPECT_EQ(p->loss_percent(), 0);
      EXPECT_GT(p->rate_bps(), 0u);
    }
  }
}

TEST(ParseTopologyTest, PlacementOptions) {
  ParsedTopology p = MustParse(R"(name: demo
placement: {strategy: pack, tolerance: 25%, overcommit: true}
topology:
  nodes: {a: {}}
)");
  EXPECT_EQ(p.topology.placement().strategy(), emu::v1::PlacementOptions::PACK);
  EXPECT_DOUBLE_EQ(p.topology.placement().tolerance_percent(), 25);
  EXPECT_TRUE(p.topology.placement().overcommit());

  auto bad = ParseTopology(R"(name: demo
placement:
  strategy: random
  overcommit: maybe
  colour: red
topology: {nodes: {a: {}}}
)",
                           "lab.yaml");
  EXPECT_THAT(Message(bad),
              AllOf(HasSubstr("lab.yaml:3: placement: strategy: \"random\" is "
                              "not a strategy: use spread or pack"),
                    HasSubstr("lab.yaml:4: placement: overcommit: \"maybe\""),
                    HasSubstr("lab.yaml:5: placement: unknown key 'colour'")));
}

// ---- Bounds on what a file may expand to (controller/topology/topology_limits.h) --

// Parses `content`, expects a refusal, and that it came in under a second.
std::string RefusedFast(const std::string& content,
                        const std::string& file = "bomb.yaml") {
  const absl::Time start = absl::Now();
  absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(content, file);
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(1)) << file;
  EXPECT_FALSE(r.ok()) << file;
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  return Message(r);
}

// The classic "billion laughs": ten levels of ten aliases stand for 10^10
// values in a file of under 1 KB.
std::string BillionLaughs() {
  std::string s = "name: bomb\nx0: &l0 [a, a, a, a, a, a, a, a, a, a]\n";
  for (int i = 1; i <= 10; ++i) {
    absl::StrAppend(&s, "x", i, ": &l", i, " [");
    for (int j = 0; j < 10; ++j)
      absl::StrAppend(&s, j ? ", " : "", "*l", i - 1);
    absl::StrAppend(&s, "]\n");
  }
  return s;
}

TEST(TopologyBoundsTest, AliasBombIsRefusedFastNamingTheLimit) {
  EXPECT_THAT(RefusedFast(BillionLaughs()),
              AllOf(HasSubstr("bomb.yaml:"), HasSubstr("more than 4000000"),
                    HasSubstr("kMaxYamlValues")));
}

// Few values, many bytes: every exec line of 2000 nodes repeats a 1000-byte
// string 100 times through aliases (200 MB from a 40 KB file). The reader
// would copy all of it into the topology.
TEST(TopologyBoundsTest, AliasedTextIsBoundedInBytes) {
  std::string s = absl::StrCat(
      "name: bomb\ntopology:\n  nodes:\n    n0:\n      labels: {pad: &s ",
      std::string(1000, 'x'), "}\n      exec: &e [");
  for (int j = 0; j < 100; ++j) absl::StrAppend(&s, j ? ", " : "", "*s");
  absl::StrAppend(&s, "]\n");
  for (int i = 1; i <= 2000; ++i)
    absl::StrAppend(&s, "    n", i, ": {exec: *e}\n");
  EXPECT_LT(s.size(), 64u << 10);
  EXPECT_THAT(RefusedFast(s),
              AllOf(HasSubstr("bomb.yaml:"), HasSubstr("kMaxYamlScalarBytes")));
}

TEST(TopologyBoundsTest, DeepNestingIsRefusedFastNamingTheLimit) {
  // 2 MB of '[' on line 2.
  const std::string s = "name: deep\nx: " + std::string(2 << 20, '[');
  EXPECT_THAT(RefusedFast(s), AllOf(HasSubstr("bomb.yaml:2: "),
                                    HasSubstr("deeper than 64 levels"),
                                    HasSubstr("kMaxYamlDepth")));
  // Block nesting the same.
  std::string block = "name: deep\nx:\n";
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&block, std::string(2 * i + 2, ' '), "k:\n");
  }
  EXPECT_THAT(RefusedFast(block), HasSubstr("kMaxYamlDepth"));
  // A quoted ']' does not hide nesting.
  std::string quoted = "name: deep\nx: ";
  for (int i = 0; i < 100; ++i) quoted += "[\"]\", ";
  EXPECT_THAT(RefusedFast(quoted), HasSubstr("kMaxYamlDepth"));
}

// Many exec lines with balanced braces in quotes are not nesting.
TEST(TopologyBoundsTest, QuotedBracesDoNotAddUp) {
  std::string s = "name: ok\ntopology:\n  nodes:\n";
  for (int i = 0; i < 100; ++i) {
    absl::StrAppend(&s, "    n", i, ": {exec: [\"awk '{print $1}' /x\"]}\n");
  }
  EXPECT_THAT(MustParse(s).topology.nodes(), SizeIs(100));
}

TEST(TopologyBoundsTest, BracketsInQuotesAndCommentsAreNotNesting) {
  ParsedTopology p =
      MustParse(absl::StrCat("name: ok  # ", std::string(100, '['),
                             "\ntopology:\n  nodes:\n    a: "
                             "{exec: [\"echo '",
                             std::string(100, ']'), "'\", 'it''s [x]']}\n"));
  EXPECT_THAT(p.topology.nodes(0).exec(), SizeIs(2));
}

TEST(TopologyBoundsTest, AliasCycleIsRefused) {
  EXPECT_THAT(RefusedFast("name: c\nx: &a [1, *a]\n"),
              AllOf(HasSubstr("bomb.yaml:2: "), HasSubstr("cycle")));
}

TEST(TopologyBoundsTest, AliasesWithinTheBoundsStillWork) {
  ParsedTopology p = MustParse(R"(name: ok
topology:
  nodes:
    a: {exec: &e ["true", "true"]}
    b: {exec: *e}
  links:
    - endpoints: [a:eth1, b:eth1]
)");
  EXPECT_THAT(p.topology.nodes(1).exec(), SizeIs(2));
}

TEST(TopologyBoundsTest, FileSizeIsBounded) {
  const std::string big(65 << 20, '#');
  absl::StatusOr<ParsedTopology> r = ParseTopology(big, "big.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r), AllOf(HasSubstr("big.yaml: "),
                                HasSubstr("kMaxTopologyFileBytes")));
}

TEST(TopologyBoundsTest, SecondDocumentIsRefusedNamingItsLine) {
  const struct {
    std::string content;
    std::string want;
  } kCases[] = {
      {"name: a\ntopology: {nodes: {n: {}}}\n---\nname: b\n", "lab.yaml:3: "},
      {"---\nname: a\ntopology: {nodes: {n: {}}}\n...\n---\nname: b\n",
       "lab.yaml:5: "},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<ParsedTopology> r = ParseTopology(c.content, "lab.yaml");
    ASSERT_FALSE(r.ok()) << c.content;
    EXPECT_THAT(Message(r),
                AllOf(HasSubstr(c.want), HasSubstr("second YAML document")))
        << c.content;
  }
  // One document with an explicit start is fine.
  EXPECT_TRUE(
      ParseTopology("---\nname: a\ntopology: {nodes: {n: {}}}\n", "lab.yaml")
          .ok());
}

// Only the parser sets sources: a file that spells one out could make every
// later message point at another file.
TEST(TextprotoTest, SourcesInTheFileAreRefused) {
  const struct {
    std::string content;
    std::string want;
  } kCases[] = {
      {"name: \"a\"\nsource { file: \"/etc/x\" line: 9 }\n",
       "lab.pbtxt:2: lab: 'source' is set by the parser"},
      {"name: \"a\"\nnodes {\n  name: \"r1\"\n  source { file: \"x\" }\n}\n",
       "lab.pbtxt:4: node r1: 'source'"},
      {"name: \"a\"\nnodes {\n  name: \"r1\"\n  interfaces {\n    name: "
       "\"e\"\n    source { line: 3 }\n  }\n}\n",
       "lab.pbtxt:6: interface r1:e: 'source'"},
      {"name: \"a\"\nlinks {\n  a { node: \"x\" interface: \"e\" }\n  source "
       "{ file: \"y\" }\n}\n",
       "lab.pbtxt:4: link x:e<->:: 'source'"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<ParsedTopology> r = ParseTopology(c.content, "lab.pbtxt");
    ASSERT_FALSE(r.ok()) << c.content;
    EXPECT_THAT(Message(r), HasSubstr(c.want)) << c.content;
  }
}

// Numbers and enum values the text format lets through; each is refused
// with the file and line of its node (or of the lab).
TEST(TextprotoTest, RangesAndEnumsAreChecked) {
  const struct {
    std::string node_or_top;
    std::string want;
  } kCases[] = {
      {"nodes { name: \"n\" resources { cpus: 4294968 } }",
       "lab.pbtxt:2: node n: cpus 4294968 is more than 1024"},
      {"nodes { name: \"n\" resources { memory_mib: 18446744073709551615 } }",
       "lab.pbtxt:2: node n: memory 18446744073709551615 MiB is more than"},
      {"nodes { name: \"n\" kind: 99 }",
       "lab.pbtxt:2: node n: kind 99 is not a node kind"},
      {"nodes { name: \"n\" } placement { strategy: 77 }",
       "lab.pbtxt:1: placement: strategy 77 is not a strategy"},
      {"nodes { name: \"n\" } placement { tolerance_percent: 1000 }",
       "lab.pbtxt:1: placement: tolerance 1000%"},
      {"nodes { name: \"n\" cpu_set: 70000 }",
       "lab.pbtxt:2: node n: cpuset: 70000 is not a host CPU"},
  };
  for (const auto& c : kCases) {
    const std::string content = "name: \"a\"\n" + c.node_or_top + "\n";
    absl::StatusOr<ParsedTopology> r =
        ParseAndValidateTopology(content, "lab.pbtxt");
    ASSERT_FALSE(r.ok()) << content;
    EXPECT_THAT(Message(r), HasSubstr(c.want)) << content;
  }
}

// ---- containerlab files as they are ----

TEST(ContainerlabTest, GroupsApplyNodeOverGroupOverKindOverDefaults) {
  ParsedTopology p = MustParse(R"(name: groups
topology:
  defaults:
    group: others
    env: {LEVEL: defaults, D: d}
    sysctls: {net.ipv4.ip_forward: 0}
    exec: ["echo defaults"]
  kinds:
    qemu: {memory: 512MiB, env: {LEVEL: kind, K: k}}
  groups:
    spines:
      kind: qemu
      image: debian
      env: {LEVEL: group, G: g}
      sysctls: {net.ipv4.ip_forward: 1}
      exec: ["echo group"]
    leaves:
      exec: ["echo leaf"]
    others:
      cgroup-parent: lab.slice
      exec: ["echo others"]
  nodes:
    s1: {group: spines}
    s2: {group: spines, env: {LEVEL: node}, exec: ["echo node"]}
    l1: {group: leaves, kind: linux}
    n1: {}
)",
                               "lab.clab.yml");
  const emu::v1::Node* s1 = FindNode(p.topology, "s1");
  const emu::v1::Node* s2 = FindNode(p.topology, "s2");
  const emu::v1::Node* l1 = FindNode(p.topology, "l1");
  const emu::v1::Node* n1 = FindNode(p.topology, "n1");
  ASSERT_TRUE(s1 && s2 && l1 && n1);
  // The group's kind chooses the kind's settings too.
  EXPECT_EQ(s1->kind(), emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(s1->image(), "debian");
  EXPECT_EQ(s1->resources().memory_mib(), 512u);
  EXPECT_EQ(s1->sysctls().at("net.ipv4.ip_forward"), "1");
  EXPECT_THAT(s1->exec(), ElementsAre("echo group"));
  // env merges name by name, the most specific level winning.
  EXPECT_EQ(s1->env().at("LEVEL"), "group");
  EXPECT_EQ(s1->env().at("D"), "d");
  EXPECT_EQ(s1->env().at("K"), "k");
  EXPECT_EQ(s1->env().at("G"), "g");
  EXPECT_EQ(s2->env().at("LEVEL"), "node");
  EXPECT_THAT(s2->exec(), ElementsAre("echo node"));
  EXPECT_EQ(l1->kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_THAT(l1->exec(), ElementsAre("echo leaf"));
  EXPECT_EQ(l1->env().at("LEVEL"), "defaults");
  // A node without a group takes defaults.group's.
  EXPECT_THAT(n1->exec(), ElementsAre("echo others"));
  EXPECT_EQ(n1->sysctls().at("net.ipv4.ip_forward"), "0");
}

TEST(ContainerlabTest, AKindNoNodeTakesIsNotAnErrorOneTakenIsOneError) {
  // Every node overrides defaults.kind: fine.
  ParsedTopology p = MustParse(R"(name: k
topology:
  defaults: {kind: nokia_srlinux}
  nodes:
    a: {kind: linux}
    b: {kind: linux}
)");
  EXPECT_THAT(p.topology.nodes(), SizeIs(2));
  // A group's kind that two nodes take: one error, where it is written.
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: k
topology:
  groups:
    srl: {kind: nokia_srlinux}
  nodes:
    a: {group: srl}
    b: {group: srl}
    c: {group: nosuch}
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r),
            "lab.yaml:4: topology.groups.srl: kind 'nokia_srlinux' is not "
            "supported: emu runs netns, linux (deployed as netns), qemu, "
            "bridge, switch and hub nodes (first taken by node a)");
  // ... and the warnings found on the way still show.
  EXPECT_THAT(WarningsOf(r.status()),
              ElementsAre("lab.yaml:8: node c: group 'nosuch' is not defined "
                          "under topology.groups: the node takes no settings "
                          "from it"));
}

TEST(ContainerlabTest, WarningsShowWithValidatorErrorsToo) {
  absl::StatusOr<ParsedTopology> r = ParseAndValidateTopology(R"(name: w
topology:
  nodes:
    a: {startup-config: a.cfg}
  links:
    - endpoints: ["a:eth1", "zz:eth1"]
)",
                                                              "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r), HasSubstr("zz"));
  EXPECT_THAT(WarningsOf(r.status()),
              ElementsAre("lab.yaml:4: node a: ignored containerlab key "
                          "'startup-config' (emu does not use it)"));
}

TEST(ContainerlabTest, NodeKeysThatDoNotApplyWarnNamingTheKey) {
  ParsedTopology p = MustParse(R"(name: w
topology:
  nodes:
    a:
      kind: linux
      startup-config: a.cfg
      ports: ["80:80"]
      mgmt-ipv4: 172.20.20.2
      labels: {graph-level: 1}
)");
  EXPECT_THAT(p.warnings,
              ElementsAre(HasSubstr("lab.yaml:6: node a: ignored containerlab "
                                    "key 'startup-config'"),
                          HasSubstr("lab.yaml:7: node a: ignored containerlab "
                                    "key 'ports'")));
  EXPECT_EQ(p.topology.nodes(0).labels().at("graph-level"), "1");
}

TEST(ContainerlabTest, MergeKeysExpandAndOwnKeysWin) {
  ParsedTopology p = MustParse(R"(name: merge
topology:
  defaults: &common
    exec: ["echo common"]
    env: {A: "1"}
  kinds:
    linux: &more
      sysctls: {net.ipv4.ip_forward: 1}
      exec: ["echo more"]
  nodes:
    a:
      <<: *common
      exec: ["echo a"]
    b:
      <<: [*common, *more]
    c: {<<: {<<: *more, kind: qemu}}
)");
  const emu::v1::Node* a = FindNode(p.topology, "a");
  const emu::v1::Node* b = FindNode(p.topology, "b");
  const emu::v1::Node* c = FindNode(p.topology, "c");
  ASSERT_TRUE(a && b && c);
  EXPECT_THAT(a->exec(), ElementsAre("echo a"));
  EXPECT_EQ(a->env().at("A"), "1");
  // Of several merged maps, the first that sets a key wins.
  EXPECT_THAT(b->exec(), ElementsAre("echo common"));
  EXPECT_EQ(b->sysctls().at("net.ipv4.ip_forward"), "1");
  // Merges nest.
  EXPECT_EQ(c->kind(), emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(c->sysctls().at("net.ipv4.ip_forward"), "1");
}

TEST(ContainerlabTest, BadMergeKeysAreErrorsAndAQuotedOneIsAKey) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: merge
topology:
  nodes:
    a: {<<: 3}
    b: {"<<": {kind: linux}}
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(absl::StrSplit(Message(r), '\n'),
              ElementsAre(HasSubstr("lab.yaml:4: lab: merge key '<<' expects "
                                    "a map or a list of maps"),
                          HasSubstr("lab.yaml:5: node b: unknown key '<<'")));
}

// Merged maps come through aliases, which count all they stand for where
// they are used: a merge bomb hits kMaxYamlValues like an alias bomb.
TEST(ContainerlabTest, MergeKeysCountTowardTheBounds) {
  std::string s =
      "name: bomb\nx0: &m0 {a0: 1, a1: 1, a2: 1, a3: 1, a4: 1, "
      "a5: 1, a6: 1, a7: 1, a8: 1, a9: 1}\n";
  for (int i = 1; i <= 10; ++i) {
    absl::StrAppend(&s, "x", i, ": &m", i, " {");
    for (int j = 0; j < 10; ++j) {
      absl::StrAppend(&s, j ? ", " : "", "k", j, ": {<<: *m", i - 1, "}");
    }
    absl::StrAppend(&s, "}\n");
  }
  EXPECT_THAT(RefusedFast(s), HasSubstr("kMaxYamlValues"));
}

TEST(ContainerlabTest, ExtendedLinksWithMacsAddressesAndMtu) {
  ParsedTopology p = MustParse(R"(name: links
topology:
  nodes:
    a: {interfaces: {eth1: {ipv4: 10.0.0.1/30}}}
    b: {}
  links:
    - type: veth
      mtu: 9000
      endpoints:
        - {node: a, interface: eth1, mac: "02:00:00:00:00:0a"}
        - {node: b, interface: eth1, ipv6: "fd00::2/64"}
      ipv4: [10.0.0.1/30, 10.0.0.2/30]
    - endpoints: ["a:eth2", "b:eth2"]
      ipv4: ["", 10.0.1.2/24]
      ipv6: ["fd00:1::1/64", "fd00:1::2/64"]
)");
  ASSERT_THAT(p.topology.links(), SizeIs(2));
  const emu::v1::Node* a = FindNode(p.topology, "a");
  const emu::v1::Node* b = FindNode(p.topology, "b");
  ASSERT_TRUE(a && b);
  ASSERT_THAT(a->interfaces(), SizeIs(2));
  ASSERT_THAT(b->interfaces(), SizeIs(2));
  EXPECT_EQ(a->interfaces(0).mac(), "02:00:00:00:00:0a");
  EXPECT_EQ(a->interfaces(0).mtu(), 9000u);
  EXPECT_EQ(b->interfaces(0).mtu(), 9000u);
  // The interface and the link naming one address is one address.
  EXPECT_THAT(a->interfaces(0).addresses(), ElementsAre("10.0.0.1/30"));
  EXPECT_THAT(b->interfaces(0).addresses(),
              ElementsAre("fd00::2/64", "10.0.0.2/30"));
  EXPECT_THAT(a->interfaces(1).addresses(), ElementsAre("fd00:1::1/64"));
  EXPECT_THAT(b->interfaces(1).addresses(),
              ElementsAre("10.0.1.2/24", "fd00:1::2/64"));
}

TEST(ContainerlabTest, HostAndDummyLinksBecomeTheNodesInterfaces) {
  ParsedTopology p = MustParse(R"(name: special
topology:
  nodes:
    a: {}
  links:
    - endpoints: ["host:h-a1", "a:eth1"]
      ipv4: [10.9.0.2/30, 10.9.0.1/30]
      mtu: 1400
    - type: host
      endpoint: {node: a, interface: eth2, ipv4: 10.9.1.1/30}
      host-interface: h-a2
      vars: {x: 1}
    - type: dummy
      endpoint: {node: a, interface: lo1, mac: "02:00:00:00:00:d1"}
)");
  EXPECT_THAT(p.topology.links(), SizeIs(0));
  const emu::v1::Node* a = FindNode(p.topology, "a");
  ASSERT_NE(a, nullptr);
  ASSERT_THAT(a->interfaces(), SizeIs(3));
  // The host end is the first endpoint here: its address is the first.
  EXPECT_EQ(a->interfaces(0).name(), "eth1");
  EXPECT_EQ(a->interfaces(0).host_end().name(), "h-a1");
  EXPECT_THAT(a->interfaces(0).host_end().addresses(),
              ElementsAre("10.9.0.2/30"));
  EXPECT_THAT(a->interfaces(0).addresses(), ElementsAre("10.9.0.1/30"));
  EXPECT_EQ(a->interfaces(0).mtu(), 1400u);
  EXPECT_EQ(a->interfaces(1).host_end().name(), "h-a2");
  EXPECT_THAT(a->interfaces(1).addresses(), ElementsAre("10.9.1.1/30"));
  EXPECT_TRUE(a->interfaces(2).dummy());
  EXPECT_EQ(a->interfaces(2).mac(), "02:00:00:00:00:d1");
}

TEST(ContainerlabTest, HostAndDummyLinkMistakesNameTheLink) {
  // What the parser sees.
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: special
topology:
  nodes:
    a: {}
  links:
    - endpoints: ["host:x1", "host:x2"]
    - type: host
      endpoint: {node: a, interface: eth1}
    - type: dummy
      endpoint: {node: c, interface: d0}
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> lines = absl::StrSplit(r.status().message(), '\n');
  EXPECT_THAT(
      lines,
      ElementsAre(
          HasSubstr("lab.yaml:6: link host:x1<->host:x2: both ends are in the "
                    "host's namespace"),
          HasSubstr("lab.yaml:7: link #2 (a:eth1): missing required key "
                    "'host-interface'"),
          HasSubstr("lab.yaml:9: link #3 (c:d0): unknown node c")));

  // What the validator sees.
  r = ParseAndValidateTopology(R"(name: special
topology:
  nodes:
    a: {}
    b: {}
    s: {kind: bridge}
  links:
    - type: host
      endpoint: {node: a, interface: eth2}
      host-interface: same0
    - type: host
      endpoint: {node: b, interface: eth2}
      host-interface: same0
    - endpoints: ["a:eth2", "b:eth9"]
    - type: dummy
      endpoint: {node: s, interface: d0}
    - type: host
      endpoint: {node: b, interface: eth3}
      host-interface: much-too-long-name
)",
                               "lab.yaml");
  ASSERT_FALSE(r.ok());
  lines = absl::StrSplit(r.status().message(), '\n');
  EXPECT_THAT(
      lines,
      UnorderedElementsAre(
          HasSubstr("lab.yaml:11: interface b:eth2: host interface same0 is "
                    "already the host end of interface a:eth2 at lab.yaml:8"),
          HasSubstr("lab.yaml:17: interface b:eth3: host-interface: "),
          HasSubstr("lab.yaml:15: interface s:d0: a dummy link needs a netns "
                    "(or linux) node; node s is bridge"),
          HasSubstr("lab.yaml:14: link a:eth2<->b:eth9: duplicate interface "
                    "a:eth2: already used by a host link (a:eth2) at "
                    "lab.yaml:8")));
}

TEST(ContainerlabTest, LinksEmuCannotBuildAreOneLineEach) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: links
topology:
  nodes:
    a: {}
  links:
    - type: mgmt-net
      endpoint: {node: a, interface: eth1}
      host-interface: a-eth1
    - type: macvlan
      endpoint: {node: a, interface: eth2}
      host-interface: enp0s3
      mode: bridge
    - type: host
      endpoint: {node: a, interface: eth3}
      host-interface: a-eth3
      delay: 10ms
    - type: dummy
      endpoint: [{node: a, interface: dummy0}]
    - endpoint: {node: a, interface: eth4}
    - {type: vxlan-stitch, endpoints: ["a:eth5", "a:eth6"]}
    - endpoints: ["a:eth7", {node: a, interface: eth8, ipv4: "fd00::8/64"}]
      ipv6: [10.0.0.1/24]
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      absl::StrSplit(Message(r), '\n'),
      ElementsAre(
          "lab.yaml:9: link #2 (a:eth2): containerlab link type 'macvlan' is "
          "not supported: it connects a node to a NIC of the host (macvlan), "
          "which emu does not create or own; a host link (type: host) gives "
          "a node an interface in the host's namespace",
          // A host link takes what containerlab's does, not conditions.
          "lab.yaml:16: link #3 (a:eth3): delay: a 'host' link takes no link "
          "conditions (its other end is the host's, outside the lab); put "
          "them on a link between two nodes",
          HasSubstr("lab.yaml:18: link #4: endpoint: a 'dummy' link has one "
                    "endpoint"),
          HasSubstr("lab.yaml:19: link #5 (a:eth4): a single 'endpoint' "
                    "belongs to a containerlab link with a type"),
          HasSubstr("lab.yaml:20: link a:eth5<->a:eth6: a 'vxlan-stitch' "
                    "link has one endpoint, {node: r1, interface: eth1}, and "
                    "a remote VTEP (remote:, vni:) as its other end, not "
                    "'endpoints'"),
          // Every message about one link names it the same way.
          "lab.yaml:21: link a:eth7<->a:eth8: ipv4: \"fd00::8/64\" is not an "
          "IPv4 address",
          HasSubstr("lab.yaml:22: link a:eth7<->a:eth8: ipv6: expected two "
                    "addresses, one per endpoint")));
}

TEST(ContainerlabTest, EnvironmentVariablesInTheFile) {
  const EnvLookup env =
      [](const std::string& name) -> std::optional<std::string> {
    if (name == "LAB") return "mylab";
    if (name == "MTU") return "9000";
    return std::nullopt;
  };
  absl::StatusOr<ParsedTopology> r =
      ParseTopology(R"(name: ${LAB}
topology:
  nodes:
    a:
      env: {GREETING: "${GREETING:=hello}"}
      exec: ["echo $GREETING ${UNSET}"]
    b: {}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      mtu: ${MTU:=1500}
)",
                    "lab.clab.yml", ParseOptions{env});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->topology.name(), "mylab");
  const emu::v1::Node* a = FindNode(r->topology, "a");
  ASSERT_TRUE(a != nullptr);
  EXPECT_EQ(a->env().at("GREETING"), "hello");
  // $GREETING is the shell's, at exec time, with the node's env.
  EXPECT_THAT(a->exec(), ElementsAre("echo $GREETING "));
  EXPECT_EQ(a->interfaces(0).mtu(), 9000u);
  EXPECT_THAT(r->warnings,
              ElementsAre(HasSubstr("lab.clab.yml:6: ${UNSET} is not set")));
  // Without variables, the defaults apply.
  ParsedTopology d = MustParse("name: ${LAB:=x}\ntopology: {nodes: {a: {}}}\n");
  EXPECT_EQ(d.topology.name(), "x");
}

}  // namespace
}  // namespace emu::controller::topology

namespace emu::controller::topology {
namespace {

TEST(ParseCommunityTest, ExportsAndAttachmentsWithSources) {
  ParsedTopology p = MustParse(R"(name: edge
community:
  export:
    - {name: ix1, segment: sw1, to: [bob, carol]}
    - {name: ix2, segment: sw1, to: all}
topology:
  nodes:
    sw1: {kind: switch}
    r1: {}
  links:
    - endpoints: ["r1:eth1", "community:alice/ix1"]
      rate: 100mbit
      b-to-a: {rate: 50mbit}
    - endpoints: ["community:ix2", "r1:eth2"]
)");
  const auto& c = p.topology.community();
  ASSERT_EQ(c.exports_size(), 2);
  EXPECT_EQ(c.exports(0).name(), "ix1");
  EXPECT_EQ(c.exports(0).segment(), "sw1");
  EXPECT_THAT(c.exports(0).to(), ElementsAre("bob", "carol"));
  EXPECT_EQ(c.exports(0).source().line(), 4);
  EXPECT_THAT(c.exports(1).to(), ElementsAre("all"));
  EXPECT_EQ(p.topology.links_size(), 0);
  ASSERT_EQ(p.topology.attachments_size(), 2);
  const auto& a = p.topology.attachments(0);
  EXPECT_EQ(a.local().node(), "r1");
  EXPECT_EQ(a.local().interface(), "eth1");
  EXPECT_EQ(a.endpoint(), "alice/ix1");
  EXPECT_EQ(a.to_community().rate_bps(), 100000000u);
  EXPECT_EQ(a.from_community().rate_bps(), 50000000u);
  EXPECT_EQ(a.source().line(), 11);
  // Written the other way round: the local end is still r1's.
  const auto& b = p.topology.attachments(1);
  EXPECT_EQ(b.local().interface(), "eth2");
  EXPECT_EQ(b.endpoint(), "ix2");
  // The local interfaces are declared, as for any link end.
  const emu::v1::Node* r1 = FindNode(p.topology, "r1");
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(r1->interfaces_size(), 2);
}

TEST(ParseCommunityTest, RefusesMalformedSectionsNamingTheLine) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: edge
community:
  export:
    - {name: ix1, to: [bob]}
    - {segment: sw1, to: [bob], color: red}
  import: []
topology:
  nodes:
    r1: {}
  links:
    - endpoints: ["community:a/ix1", "community:b/ix1"]
    - endpoints: ["r1:eth1", "community:alice/ix1"]
      mtu: 9000
)",
                                                   "lab.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      absl::StrSplit(Message(r), '\n'),
      ElementsAre(
          HasSubstr("lab.yaml:6: community: unknown key 'import'"),
          "lab.yaml:4: community export #1: give exactly one of 'segment' (a "
          "switch, hub or bridge) and 'interface' (a free NODE:IFACE)",
          HasSubstr("lab.yaml:5: community export #2: unknown key 'color'"),
          "lab.yaml:5: community export #2: missing required key 'name'",
          "lab.yaml:11: link community:a/ix1<->community:b/ix1: both ends "
          "are community endpoints: an attachment joins a node of this lab "
          "to a community endpoint",
          "lab.yaml:13: link r1:eth1<->community:alice/ix1: a community "
          "attachment sets no mtu, mac or address on the link: declare them "
          "under the node's interfaces"));
}

}  // namespace
}  // namespace emu::controller::topology

namespace emu::controller::topology {
namespace {

// The management network (docs/topology.md, "Management network").
TEST(MgmtTest, AFileThatNeverNamesItGetsNone) {
  ParsedTopology p = MustParse(R"(name: plain
topology:
  nodes:
    a: {kind: linux}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth0", "b:eth0"]
)");
  EXPECT_FALSE(p.topology.has_mgmt());
  for (const emu::v1::Node& n : p.topology.nodes()) {
    for (const emu::v1::Interface& i : n.interfaces()) {
      EXPECT_FALSE(i.mgmt()) << n.name() << ":" << i.name();
    }
    EXPECT_THAT(n.routes(), IsEmpty());
  }
}

TEST(MgmtTest, AnEmptySectionOptsInWithContainerlabsDefaults) {
  ParsedTopology p = MustParse(R"(name: own
mgmt: {}
topology:
  nodes:
    a: {}
    sw: {kind: switch}
    b: {}
  links:
    - endpoints: ["a:eth1", "sw:p1"]
    - endpoints: ["b:eth1", "sw:p2"]
)");
  ASSERT_TRUE(p.topology.has_mgmt());
  EXPECT_EQ(p.topology.mgmt().network(), "clab");
  EXPECT_EQ(p.topology.mgmt().ipv4_gateway(), "172.20.20.1/24");
  EXPECT_EQ(p.topology.mgmt().ipv6_gateway(), "3fff:172:20:20::1/64");
  const emu::v1::Node* a = FindNode(p.topology, "a");
  const emu::v1::Node* b = FindNode(p.topology, "b");
  const emu::v1::Node* sw = FindNode(p.topology, "sw");
  ASSERT_TRUE(a && b && sw);
  auto eth0 = [](const emu::v1::Node& n) -> const emu::v1::Interface* {
    for (const auto& i : n.interfaces()) {
      if (i.name() == "eth0") return &i;
    }
    return nullptr;
  };
  ASSERT_NE(eth0(*a), nullptr);
  ASSERT_NE(eth0(*b), nullptr);
  EXPECT_EQ(eth0(*sw), nullptr);  // a segment is no host on it
  EXPECT_THAT(eth0(*a)->addresses(),
              ElementsAre("172.20.20.2/24", "3fff:172:20:20::2/64"));
  EXPECT_THAT(eth0(*b)->addresses(),
              ElementsAre("172.20.20.3/24", "3fff:172:20:20::3/64"));
}

TEST(MgmtTest, ConflictsAreOneLineEachNamingFileAndNode) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: bad
mgmt:
  ipv4-subnet: 172.20.40.0/24
topology:
  nodes:
    a:
      mgmt-ipv4: 172.20.41.2
    b:
      mgmt-ipv4: 172.20.40.7
    c:
      mgmt-ipv4: 172.20.40.7
    d:
      mgmt-ipv4: 172.20.40.1
    e:
      mgmt-ipv6: "3fff::5"
)",
                                                   "bad.clab.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      absl::StrSplit(Message(r), '\n'),
      ElementsAre(
          "bad.clab.yml:7: node a: mgmt-ipv4 172.20.41.2: is outside the "
          "management subnet 172.20.40.0/24 (mgmt: ipv4-subnet)",
          "bad.clab.yml:11: node c: mgmt-ipv4 172.20.40.7: is already node "
          "b's management address",
          "bad.clab.yml:13: node d: mgmt-ipv4 172.20.40.1: is the management "
          "network's gateway (on its bridge, in the host's namespace)",
          "bad.clab.yml:15: node e: mgmt-ipv6 3fff::5: the management "
          "network has no ipv6 subnet (mgmt: ipv6-subnet)"));
}

TEST(MgmtTest, ALinkOnEth0IsRefusedNamingTheLink) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: eth0
topology:
  nodes:
    a: {kind: linux, mgmt-ipv4: 172.20.20.5}
    b: {kind: linux}
  links:
    - endpoints: ["a:eth0", "b:eth1"]
)",
                                                   "e.clab.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Message(r),
            "e.clab.yml:7: link a:eth0<->b:eth1: eth0 of node a is its "
            "management interface (the lab's management network, "
            "e.clab.yml:4): a link cannot use it; use another interface");
}

TEST(MgmtTest, MgmtNetEndsTakeNoAddress) {
  absl::StatusOr<ParsedTopology> r = ParseTopology(R"(name: m
topology:
  nodes:
    a: {kind: linux}
  links:
    - endpoints: ["a:eth1", {node: mgmt-net, interface: a-eth1, ipv4: 172.20.20.9/24}]
)",
                                                   "m.clab.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(Message(r), HasSubstr("m.clab.yml:6: link a:eth1<->mgmt-net:a-eth1: "
                                    "the mgmt-net end is a port of the "
                                    "management bridge: it takes no address"));
}

}  // namespace
}  // namespace emu::controller::topology
