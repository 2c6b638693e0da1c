// Every file of tests/containerlab (one per containerlab feature emu
// takes) through the parser and the validator, as emuctl reads it, with
// what each must give.
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "controller/topology/stage_plan.h"
#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/topology_names.h"

namespace emu::controller::topology {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

std::string ReadCorpus(const std::string& name) {
  std::ifstream in("tests/containerlab/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<ParsedTopology> Load(
    const std::string& name,
    const std::map<std::string, std::string>& env = {}) {
  const std::string content = ReadCorpus(name);
  EXPECT_FALSE(content.empty()) << name << " is missing from runfiles";
  ParseOptions options;
  options.env = [env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return ParseAndValidateTopology(content, name, options);
}

const emu::v1::Node& Node(const emu::v1::Topology& t, const std::string& n) {
  for (const auto& node : t.nodes()) {
    if (node.name() == n) return node;
  }
  ADD_FAILURE() << "no node " << n;
  static const emu::v1::Node kNone;
  return kNone;
}

const emu::v1::Interface* Iface(const emu::v1::Node& node,
                                const std::string& name) {
  for (const auto& i : node.interfaces()) {
    if (i.name() == name) return &i;
  }
  return nullptr;
}

TEST(ContainerlabCorpusTest, GroupsApplyNodeOverGroupOverKindOverDefaults) {
  auto r = Load("groups.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& t = r->topology;
  EXPECT_EQ(Node(t, "r1").kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_EQ(Node(t, "r1").sysctls().at("net.ipv4.ip_forward"), "1");
  // The kind's sysctls reach every node; the group's only its members.
  EXPECT_EQ(Node(t, "h1").sysctls().at("net.ipv6.conf.all.disable_ipv6"), "1");
  EXPECT_EQ(Node(t, "h1").sysctls().count("net.ipv4.ip_forward"), 0u);
  EXPECT_THAT(Node(t, "r1").exec(), ElementsAre("ip addr add 192.0.2.1/32 dev lo"));
  EXPECT_THAT(Node(t, "h1").exec(), IsEmpty());
  EXPECT_EQ(Node(t, "r1").env().at("ROLE"), "router");
  EXPECT_EQ(Node(t, "r2").env().at("ROLE"), "core");
  EXPECT_EQ(Node(t, "h1").env().at("ROLE"), "host");  // defaults.group
  EXPECT_THAT(r->warnings, IsEmpty()) << absl::StrJoin(r->warnings, "\n");
}

TEST(ContainerlabCorpusTest, EnvironmentDefaultsAndOverrides) {
  auto defaults = Load("env.clab.yml");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->topology.name(), "corpus-env");
  const auto& a = Node(defaults->topology, "a");
  EXPECT_EQ(a.env().at("GREETING"), "hello");
  EXPECT_THAT(a.exec(), Contains("ip addr add 10.11.0.1/24 dev eth1"));
  auto set = Load("env.clab.yml", {{"LAB_NAME", "mine"}, {"PREFIX", "10.99"},
                                   {"GREETING", "hi"}});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->topology.name(), "mine");
  EXPECT_EQ(Node(set->topology, "a").env().at("GREETING"), "hi");
  EXPECT_THAT(Node(set->topology, "b").exec(),
              ElementsAre("ip addr add 10.99.0.2/24 dev eth1"));
  // The exec line's own $GREETING is the shell's (env: gives it), not the
  // file's.
  EXPECT_THAT(a.exec(), Contains("sh -c 'echo \"$GREETING\" > /tmp/greeting'"));
}

TEST(ContainerlabCorpusTest, ExtendedLinksSetMacsAddressesAndMtu) {
  auto r = Load("extended-links.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& t = r->topology;
  ASSERT_THAT(t.links(), SizeIs(2));
  EXPECT_EQ(LinkName(t.links(0)), "a:eth1<->b:eth1");
  EXPECT_EQ(LinkName(t.links(1)), "b:eth2<->c:eth1");
  const emu::v1::Interface* a = Iface(Node(t, "a"), "eth1");
  const emu::v1::Interface* b = Iface(Node(t, "b"), "eth1");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->mac(), "02:00:00:00:0a:01");
  EXPECT_THAT(a->addresses(), ElementsAre("10.12.0.1/24", "2001:db8:12::1/64"));
  EXPECT_THAT(b->addresses(), ElementsAre("10.12.0.2/24", "2001:db8:12::2/64"));
  EXPECT_EQ(a->mtu(), 9000u);
  EXPECT_EQ(b->mtu(), 9000u);
  EXPECT_NE(Iface(Node(t, "c"), "eth1"), nullptr);
}

TEST(ContainerlabCorpusTest, MergeKeysGiveTheAnchorsKeysOwnKeysWin) {
  auto r = Load("merge-keys.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& t = r->topology;
  EXPECT_EQ(Node(t, "b").kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_THAT(Node(t, "b").exec(), ElementsAre("ip link set lo up"));
  EXPECT_EQ(Node(t, "a").labels().at("role"), "edge");
  EXPECT_EQ(Node(t, "b").labels().at("role"), "core");
}

TEST(ContainerlabCorpusTest, BridgeNodeJoinsItsMembers) {
  auto r = Load("bridge.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Node(r->topology, "br1").kind(), emu::v1::NODE_KIND_BRIDGE);
  EXPECT_THAT(r->topology.links(), SizeIs(3));
  EXPECT_THAT(Node(r->topology, "c").exec(),
              ElementsAre("ip addr add 10.13.0.3/24 dev eth1"));
}

TEST(ContainerlabCorpusTest, ContainerKeysWarnOneLineEach) {
  auto r = Load("container-keys.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string all = absl::StrJoin(r->warnings, "\n");
  for (const char* key : {"image", "cmd", "binds", "ports"}) {
    EXPECT_THAT(all, HasSubstr(key)) << all;
  }
  for (const std::string& w : r->warnings) {
    EXPECT_THAT(w, HasSubstr("container-keys.clab.yml:")) << w;
  }
  EXPECT_EQ(Node(r->topology, "a").kind(), emu::v1::NODE_KIND_NETNS);
  // mgmt-ipv4 is no longer ignored: it asks for the management network,
  // containerlab's default one.
  const emu::v1::Interface* a0 = Iface(Node(r->topology, "a"), "eth0");
  ASSERT_NE(a0, nullptr);
  EXPECT_THAT(a0->addresses(),
              ElementsAre("172.20.20.10/24", "3fff:172:20:20::2/64"));
  const emu::v1::Interface* b0 = Iface(Node(r->topology, "b"), "eth0");
  ASSERT_NE(b0, nullptr);
  EXPECT_THAT(b0->addresses(),
              ElementsAre("172.20.20.2/24", "3fff:172:20:20::3/64"));
}

TEST(ContainerlabCorpusTest, ManagementNetworkAsContainerlabGivesIt) {
  auto r = Load("mgmt-network.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const emu::v1::ManagementNetwork& m = r->topology.mgmt();
  EXPECT_EQ(m.network(), "corpus");
  EXPECT_EQ(m.ipv4_subnet(), "172.20.31.0/24");
  EXPECT_EQ(m.ipv4_gateway(), "172.20.31.1/24");
  EXPECT_EQ(m.ipv6_subnet(), "3fff:172:20:31::/64");
  EXPECT_EQ(m.ipv6_gateway(), "3fff:172:20:31::1/64");
  EXPECT_EQ(m.source().line(), 6);
  // a: its own; b and d: the range's first free, in file order; c: none.
  const emu::v1::Interface* a0 = Iface(Node(r->topology, "a"), "eth0");
  const emu::v1::Interface* b0 = Iface(Node(r->topology, "b"), "eth0");
  const emu::v1::Interface* d0 = Iface(Node(r->topology, "d"), "eth0");
  ASSERT_TRUE(a0 != nullptr && b0 != nullptr && d0 != nullptr);
  EXPECT_EQ(Iface(Node(r->topology, "c"), "eth0"), nullptr);
  for (const emu::v1::Interface* i : {a0, b0, d0}) {
    EXPECT_TRUE(i->mgmt());
    EXPECT_TRUE(i->has_host_end());
    EXPECT_EQ(i->host_end().name(), "");  // the agent names it
  }
  EXPECT_THAT(a0->addresses(),
              ElementsAre("172.20.31.5/24", "3fff:172:20:31::5/64"));
  EXPECT_THAT(b0->addresses(),
              ElementsAre("172.20.31.16/24", "3fff:172:20:31::2/64"));
  EXPECT_THAT(d0->addresses(),
              ElementsAre("172.20.31.17/24", "3fff:172:20:31::3/64"));
  // Docker's default routes, unless the node routes default itself.
  std::vector<std::string> a_routes, d_routes;
  for (const auto& x : Node(r->topology, "a").routes()) {
    a_routes.push_back(absl::StrCat(x.destination(), " via ", x.via()));
  }
  for (const auto& x : Node(r->topology, "d").routes()) {
    d_routes.push_back(absl::StrCat(x.destination(), " via ", x.via()));
  }
  EXPECT_THAT(a_routes, ElementsAre("default via 172.20.31.1",
                                    "default6 via 3fff:172:20:31::1"));
  EXPECT_THAT(d_routes, ElementsAre("default via 10.0.9.2",
                                    "default6 via 3fff:172:20:31::1"));
  // mgmt-net links: host ends on the management bridge, named as written.
  const emu::v1::Interface* b9 = Iface(Node(r->topology, "b"), "eth9");
  const emu::v1::Interface* d2 = Iface(Node(r->topology, "d"), "eth2");
  ASSERT_TRUE(b9 != nullptr && d2 != nullptr);
  EXPECT_TRUE(b9->mgmt());
  EXPECT_EQ(b9->host_end().name(), "b-mgmt9");
  EXPECT_TRUE(d2->mgmt());
  EXPECT_EQ(d2->host_end().name(), "d-eth2");
  EXPECT_THAT(r->topology.links(), SizeIs(2));
  const std::string all = absl::StrJoin(r->warnings, "\n");
  EXPECT_THAT(all, HasSubstr("mgmt: ignored containerlab key "
                             "'external-access'"));
}

TEST(ContainerlabCorpusTest, LinksOutsideTheLabAreRefusedOneLineEach) {
  auto r = Load("refused-link-types.clab.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(
      absl::StrSplit(r.status().message(), '\n'),
      ElementsAre(HasSubstr("refused-link-types.clab.yml:10: link #2 (b:eth2): "
                            "containerlab link type 'macvlan' is not supported"),
                  HasSubstr("refused-link-types.clab.yml:13: link a:eth4<->b:eth4: "
                            "link type 'bogus' is not a containerlab link type")));
}

TEST(ContainerlabCorpusTest, VxlanLinks) {
  auto r = Load("vxlan-links.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->topology.links(), IsEmpty());  // no lab link: VTEPs
  const emu::v1::Interface* a1 = Iface(Node(r->topology, "a"), "eth1");
  ASSERT_NE(a1, nullptr);
  ASSERT_TRUE(a1->has_vxlan());
  EXPECT_EQ(a1->vxlan().remote(), "192.0.2.10");
  EXPECT_EQ(a1->vxlan().vni(), 100u);
  EXPECT_EQ(a1->vxlan().port(), 4789u);
  EXPECT_FALSE(a1->vxlan().stitch());
  EXPECT_EQ(a1->mac(), "02:00:00:00:0a:01");
  EXPECT_EQ(a1->mtu(), 1450u);
  const emu::v1::Interface* b1 = Iface(Node(r->topology, "b"), "eth1");
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->vxlan().remote(), "2001:db8::10");
  EXPECT_EQ(b1->vxlan().vni(), 16777215u);
  EXPECT_EQ(b1->vxlan().port(), 14789u);
  EXPECT_TRUE(b1->vxlan().stitch());
  const emu::v1::Interface* b2 = Iface(Node(r->topology, "b"), "eth2");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->vxlan().port(), 14789u);
  EXPECT_THAT(r->warnings,
              Contains(HasSubstr("vxlan-links.clab.yml:19: link #2 (b:eth1): "
                                 "src-port: ignored")));
  EXPECT_THAT(r->warnings,
              Contains(HasSubstr("vxlan-links.clab.yml:20: link #2 (b:eth1): "
                                 "parent-interface: ignored")));
  // A vxlan end is connected: no "not connected" warning.
  for (const std::string& w : r->warnings) {
    EXPECT_THAT(w, Not(HasSubstr("not connected"))) << w;
  }
}

TEST(ContainerlabCorpusTest, VxlanLinkMistakesNameTheLink) {
  auto r = ParseAndValidateTopology(R"(name: vx
topology:
  nodes:
    a: {kind: linux}
  links:
    - {type: vxlan, endpoint: {node: a, interface: eth1}, vni: 5}
    - {type: vxlan, endpoint: {node: a, interface: eth3}, remote: 192.0.2.1, vni: 16777216}
    - {type: vxlan, endpoint: {node: a, interface: eth4}, remote: 192.0.2.1, vni: 5, delay: 1ms}
)",
                                    "vx.clab.yml", {});
  ASSERT_FALSE(r.ok());
  const std::string m(r.status().message());
  EXPECT_THAT(m, HasSubstr("vx.clab.yml:6: link #1 (a:eth1): missing required "
                           "key 'remote'"));
  EXPECT_THAT(m, HasSubstr("vx.clab.yml:7: link #2 (a:eth3): vni: "));
  EXPECT_THAT(m, HasSubstr("vx.clab.yml:8: link #3 (a:eth4): delay: a 'vxlan' "
                           "link takes no link conditions"));
  // What the validator checks: the remote is an address, the node netns.
  auto v = ParseAndValidateTopology(R"(name: vx
topology:
  nodes:
    a: {kind: linux}
    g: {kind: qemu}
  links:
    - {type: vxlan, endpoint: {node: a, interface: eth2}, remote: vtep.example, vni: 5}
    - {type: vxlan, endpoint: {node: g, interface: eth1}, remote: 192.0.2.1, vni: 5}
)",
                                    "vx.clab.yml", {});
  ASSERT_FALSE(v.ok());
  const std::string vm(v.status().message());
  EXPECT_THAT(vm, HasSubstr("remote 'vtep.example' is not an IPv4 or IPv6 "
                            "address"));
  EXPECT_THAT(vm, HasSubstr("a vxlan link needs a netns (or linux) node; node "
                            "g is qemu"));
}

TEST(ContainerlabCorpusTest, HostLinksInEverySpelling) {
  auto r = Load("host-links.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->topology.links(), IsEmpty());  // no lab link: host ends
  const emu::v1::Interface* a1 = Iface(Node(r->topology, "a"), "eth1");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->host_end().name(), "ch-a-eth1");
  EXPECT_THAT(a1->addresses(), ElementsAre("198.18.251.1/30"));
  EXPECT_THAT(a1->host_end().addresses(), ElementsAre("198.18.251.2/30"));
  EXPECT_EQ(a1->mtu(), 9000u);
  const emu::v1::Interface* b1 = Iface(Node(r->topology, "b"), "eth1");
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->host_end().name(), "ch-b-eth1");
  EXPECT_EQ(b1->mac(), "02:00:00:00:0b:01");
  EXPECT_THAT(b1->host_end().addresses(), IsEmpty());
  const emu::v1::Interface* b2 = Iface(Node(r->topology, "b"), "eth2");
  ASSERT_NE(b2, nullptr);
  EXPECT_EQ(b2->host_end().name(), "ch-b-eth2");
  EXPECT_THAT(b2->addresses(), ElementsAre("fd00:251::1/64"));
  EXPECT_THAT(b2->host_end().addresses(), ElementsAre("fd00:251::2/64"));
  // A host link's interface is connected: no "not connected" warning.
  for (const std::string& w : r->warnings) {
    EXPECT_THAT(w, Not(HasSubstr("not connected"))) << w;
  }
}

TEST(ContainerlabCorpusTest, DummyLinks) {
  auto r = Load("dummy-links.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->topology.links(), IsEmpty());
  const emu::v1::Interface* d0 = Iface(Node(r->topology, "a"), "dummy0");
  ASSERT_NE(d0, nullptr);
  EXPECT_TRUE(d0->dummy());
  EXPECT_FALSE(d0->has_host_end());
  EXPECT_EQ(d0->mtu(), 9500u);
  EXPECT_EQ(d0->mac(), "02:00:00:00:0d:01");
  EXPECT_THAT(d0->addresses(), ElementsAre("192.0.2.1/32"));
  const emu::v1::Interface* d1 = Iface(Node(r->topology, "a"), "dummy1");
  ASSERT_NE(d1, nullptr);
  EXPECT_TRUE(d1->dummy());
  EXPECT_EQ(d1->mtu(), 0u);
}

TEST(ContainerlabCorpusTest, BridgeInsideAnotherNodesNamespace) {
  auto r = Load("bridge-in-ns.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  const auto& t = r->topology;
  // No node "br01|bp1": a bridge br01 in bp1, the links' ends bp1's ports.
  EXPECT_EQ(t.nodes_size(), 3);
  const auto& bp1 = Node(t, "bp1");
  const auto* br01 = Iface(bp1, "br01");
  ASSERT_NE(br01, nullptr);
  EXPECT_TRUE(br01->bridge());
  EXPECT_EQ(br01->source().line(), 8);
  for (const char* port : {"c1eth1", "c2eth1"}) {
    const auto* p = Iface(bp1, port);
    ASSERT_NE(p, nullptr) << port;
    EXPECT_EQ(p->master(), "br01") << port;
  }
  ASSERT_EQ(t.links_size(), 2);
  EXPECT_EQ(LinkName(t.links(0)), "c1:eth1<->bp1:c1eth1");
  EXPECT_EQ(LinkName(t.links(1)), "c2:eth1<->bp1:c2eth1");
  // Only the images warn (network-mode is taken, not ignored).
  for (const auto& w : r->warnings) {
    EXPECT_THAT(w, HasSubstr("image ignored")) << w;
  }
}

TEST(ContainerlabCorpusTest, BridgeInsideANodeIsNamedAfterIt) {
  auto r = ParseAndValidateTopology(R"(
name: x
topology:
  nodes:
    br0:
      kind: bridge
      network-mode: container:a
    br1|b:
      kind: bridge
      network-mode: container:nobody
    a: {}
    c: {kind: qemu}
    br2|c:
      kind: bridge
      network-mode: container:c
  links:
    - endpoints: ["a:eth1", "br2|c:p1"]
)", "x.clab.yml");
  ASSERT_FALSE(r.ok());
  const std::string m(r.status().message());
  EXPECT_THAT(m, HasSubstr("x.clab.yml:7: node br0: network-mode: "
                           "container:a: a bridge inside node a's namespace "
                           "is named BRIDGE|a"));
  EXPECT_THAT(m, HasSubstr("x.clab.yml:10: node br1|b: network-mode: "
                           "container:nobody: a bridge inside node nobody's "
                           "namespace is named BRIDGE|nobody"));
  // Not parser errors, so the validator's are not reached: checked below.
  auto v = ParseAndValidateTopology(R"(
name: x
topology:
  nodes:
    c: {kind: qemu}
    br2|c:
      kind: bridge
      network-mode: container:c
  links:
    - endpoints: ["c:eth1", "br2|c:p1"]
)", "x.clab.yml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(v.status().message(),
              HasSubstr("x.clab.yml:6: interface c:br2: a bridge inside a "
                        "node needs a netns (or linux) node"));
}

TEST(ContainerlabCorpusTest, LinuxNodesShareANamespace) {
  // containerlab's tests/01-smoke/netmodes.clab.yml, plus a link and a
  // chain: b and c use a's namespace.
  auto r = ParseAndValidateTopology(R"(
name: container-mode
topology:
  nodes:
    a: {kind: linux, image: alpine:3}
    b: {kind: linux, image: alpine:3, network-mode: container:a}
    c: {kind: linux, network-mode: "container:b"}
    d: {kind: linux}
  links:
    - endpoints: ["b:net0", "d:net0"]
)", "x.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Node(r->topology, "a").netns_of(), "");
  EXPECT_EQ(Node(r->topology, "b").netns_of(), "a");
  EXPECT_EQ(Node(r->topology, "c").netns_of(), "a");  // the chain's end
  for (const auto& w : r->warnings) {
    EXPECT_THAT(w, Not(HasSubstr("network-mode"))) << w;
  }
  // A container outside the file (containerlab's 02-shared-namespace joins
  // another lab's): a namespace of its own, with a warning.
  auto w = ParseAndValidateTopology(R"(
name: x
topology:
  nodes:
    a: {kind: linux}
    b: {kind: linux, network-mode: "container:ext-node"}
)", "x.clab.yml");
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(Node(w->topology, "b").netns_of(), "");
  EXPECT_THAT(w->warnings,
              Contains(HasSubstr("x.clab.yml:6: node b: ignored containerlab "
                                 "key 'network-mode' (container:ext-node): "
                                 "ext-node is no node of this file")));
  // What cannot be shared, each named.
  auto bad = ParseAndValidateTopology(R"(
name: x
topology:
  nodes:
    vm: {kind: qemu}
    a: {kind: linux, interfaces: {eth1: {}}, host: h1}
    b: {kind: linux, network-mode: "container:vm"}
    c:
      kind: linux
      network-mode: "container:a"
      host: h2
      interfaces: {eth1: {}}
      routes: [{to: 10.0.0.0/8, dev: eth1}]
    d: {kind: linux, interfaces: {eth2: {}}}
  links:
    - endpoints: ["a:eth1", "d:eth2"]
)", "x.clab.yml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("x.clab.yml:7: node b: network-mode: "
                           "container:vm: vm is a qemu node; only a netns "
                           "(linux) node's namespace can be shared"));
  EXPECT_THAT(m, HasSubstr("node c: network-mode: container:a: pinned to "
                           "host h2 but a to h1"));
  EXPECT_THAT(m, HasSubstr("interface c:eth1: node a has an interface eth1 "
                           "too, in the network namespace they share (a's)"));
  EXPECT_THAT(m, HasSubstr("node c: route to 10.0.0.0/8: routes are the "
                           "shared namespace's: declare it on a"));
}

TEST(ContainerlabCorpusTest, StagesRunWhereEmuHasTheirMoment) {
  auto r = Load("stages.clab.yml");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->warnings, IsEmpty()) << absl::StrJoin(r->warnings, "\n");
  auto plan = PlanStages(r->topology);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<std::string> order;
  for (const auto& level : *plan) {
    for (const auto& step : level) {
      std::vector<std::string> lines;
      for (const StageCommand& c : step.commands) lines.push_back(c.line);
      order.push_back(absl::StrCat(step.node, ": ", step.what, ": ",
                                   absl::StrJoin(lines, "; ")));
    }
  }
  EXPECT_THAT(order,
              ElementsAre(
                  "server: stages.create-links on-exit: ls /sys/class/net/eth1",
                  "server: stages.configure on-enter: ip link set lo up",
                  "server: exec: echo server-exec",
                  "server: stages.healthy on-exit: echo server-healthy",
                  "client: stages.configure on-enter: ip link set lo up",
                  "client: stages.configure on-exit: echo client-configured"));
}

}  // namespace
}  // namespace emu::controller::topology
