#include "controller/placement/placement.h"

#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/topology_names.h"

namespace emu::controller::placement {
namespace {

using emu::v1::PlacementOptions;
using ::testing::HasSubstr;

emu::v1::HostStatus Host(const std::string& name, bool up, uint32_t cpus,
                         bool netem = false, uint64_t memory_mib = 16384) {
  emu::v1::HostStatus h;
  h.set_name(name);
  h.set_reachable(up);
  h.set_error(up ? "" : "connection refused");
  h.mutable_capabilities()->set_cpus(cpus);
  h.mutable_capabilities()->set_memory_mib(memory_mib);
  h.mutable_capabilities()->set_netem(netem);
  h.mutable_capabilities()->add_node_kinds(emu::v1::NODE_KIND_NETNS);
  h.mutable_capabilities()->set_tunnel_address(name + ".example:7472");
  return h;
}

emu::v1::HostStatus QemuHost(const std::string& name, uint32_t cpus,
                             uint64_t memory_mib) {
  auto h = Host(name, true, cpus, false, memory_mib);
  h.mutable_capabilities()->add_node_kinds(emu::v1::NODE_KIND_QEMU);
  return h;
}

std::string N(int i) { return "n" + std::to_string(i); }

void AddLink(emu::v1::Topology* t, int a, int b, uint64_t rate = 0) {
  auto* l = t->add_links();
  l->mutable_a()->set_node(N(a));
  l->mutable_a()->set_interface("e" + std::to_string(b));
  l->mutable_b()->set_node(N(b));
  l->mutable_b()->set_interface("e" + std::to_string(a));
  l->mutable_a_to_b()->set_rate_bps(rate);
  l->mutable_b_to_a()->set_rate_bps(rate);
}

emu::v1::Topology Nodes(int n) {
  emu::v1::Topology t;
  t.set_name("lab");
  for (int i = 0; i < n; ++i) {
    auto* node = t.add_nodes();
    node->set_name(N(i));
    node->set_kind(emu::v1::NODE_KIND_NETNS);
  }
  return t;
}

emu::v1::Topology Chain(int n) {
  auto t = Nodes(n);
  for (int i = 0; i + 1 < n; ++i) AddLink(&t, i, i + 1);
  return t;
}

// Two dense clusters (cliques of `size`) joined by one link, nodes
// interleaved in the file so that file order does not give the answer.
emu::v1::Topology TwoClusters(int size) {
  auto t = Nodes(2 * size);
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < size; ++i) {
      for (int j = i + 1; j < size; ++j) AddLink(&t, 2 * i + c, 2 * j + c);
    }
  }
  AddLink(&t, 0, 1);
  return t;
}

std::map<std::string, int> Counts(const Placement& p) {
  std::map<std::string, int> out;
  for (const auto& [node, host] : p.host_of_node) ++out[host];
  return out;
}

TEST(PlacementTest, OneHostTakesAllWithNoCut) {
  auto p =
      PlaceTopology(Chain(3), {Host("h1", true, 2), Host("h3", false, 64)});
  ASSERT_TRUE(p.ok()) << p.status();
  for (const auto& [node, host] : p->host_of_node) EXPECT_EQ(host, "h1");
  ASSERT_EQ(p->per_host.size(), 1u);
  EXPECT_EQ(p->per_host["h1"].nodes_size(), 3);
  EXPECT_EQ(p->per_host["h1"].links_size(), 2);
  EXPECT_EQ(p->per_host["h1"].remote_links_size(), 0);
  EXPECT_EQ(p->per_host["h1"].lab(), "lab");
  EXPECT_TRUE(p->cut_links.empty());
}

TEST(PlacementTest, TwoClustersAreSplitBetweenTheirClusters) {
  auto p = PlaceTopology(TwoClusters(10),
                         {Host("h1", true, 4), Host("h2", true, 4)});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->cut_links.size(), 1u);
  EXPECT_EQ(p->cut_links[0].link(), "n0:e1<->n1:e0");
  std::set<std::string> even, odd;
  for (int i = 0; i < 20; ++i) {
    (i % 2 ? odd : even).insert(p->host_of_node[N(i)]);
  }
  EXPECT_EQ(even.size(), 1u);
  EXPECT_EQ(odd.size(), 1u);
  EXPECT_NE(*even.begin(), *odd.begin());
}

TEST(PlacementTest, ChainOnFourHostsCutsThreeLinks) {
  auto p = PlaceTopology(Chain(40), {Host("a", true, 2), Host("b", true, 2),
                                     Host("c", true, 2), Host("d", true, 2)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->cut_links.size(), 3u);
  // Within the share (10) and the default tolerance (10%), as the header
  // promises; METIS may use the tolerance.
  for (const auto& [host, n] : Counts(*p)) EXPECT_LE(n, 11) << host;
}

TEST(PlacementTest, CutsTheLowBandwidthLinkWhenLinkCountTies) {
  // A ring of 4: any balanced 2-way split cuts 2 links; the cheap ones
  // (10 Mbit/s) are n1-n2 and n3-n0.
  auto t = Nodes(4);
  AddLink(&t, 0, 1, 10'000'000'000);
  AddLink(&t, 1, 2, 10'000'000);
  AddLink(&t, 2, 3, 10'000'000'000);
  AddLink(&t, 3, 0, 10'000'000);
  PlacementOptions exact;
  exact.set_tolerance_percent(1);
  auto p = PlaceTopology(t, {Host("h1", true, 2), Host("h2", true, 2)});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->cut_links.size(), 2u);
  EXPECT_EQ(p->host_of_node["n0"], p->host_of_node["n1"]);
  EXPECT_EQ(p->host_of_node["n2"], p->host_of_node["n3"]);
}

TEST(PlacementTest, SpreadKeepsEachHostWithinShareAndTolerance) {
  // 300 unlinked netns nodes on hosts of 2, 4 and 6 CPUs: shares 50/100/150.
  auto t = Nodes(300);
  PlacementOptions o;
  o.set_tolerance_percent(5);
  auto p = PlaceTopology(
      t, {Host("h1", true, 2), Host("h2", true, 4), Host("h3", true, 6)}, o);
  ASSERT_TRUE(p.ok()) << p.status();
  auto c = Counts(*p);
  EXPECT_LE(c["h1"], 53);
  EXPECT_LE(c["h2"], 105);
  EXPECT_LE(c["h3"], 158);
  EXPECT_GE(c["h1"], 40);
  for (const auto& l : p->loads) EXPECT_LE(l.cpu_milli(), l.cpu_limit_milli());
}

TEST(PlacementTest, ToleranceTradesBalanceForCut) {
  // Chain of 10 on two equal hosts: with 10% tolerance a split is 5/5 (±1).
  auto p = PlaceTopology(Chain(10), {Host("h1", true, 2), Host("h2", true, 2)});
  ASSERT_TRUE(p.ok());
  auto c = Counts(*p);
  EXPECT_LE(std::abs(c["h1"] - c["h2"]), 2);
  EXPECT_EQ(p->cut_links.size(), 1u);
  // With a huge tolerance nothing stops one host from taking everything,
  // and then the cut is 0.
  PlacementOptions loose;
  loose.set_tolerance_percent(100);
  auto q = PlaceTopology(Chain(10), {Host("h1", true, 2), Host("h2", true, 2)},
                         loose);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->cut_links.empty());
  EXPECT_EQ(Counts(*q).size(), 1u);
}

TEST(PlacementTest, PackFillsAsFewHostsAsFit) {
  // 6 qemu nodes of 1 CPU: hosts of 2, 4 and 4 CPUs; pack takes the two
  // largest (4 + 4 >= 6), spread would use all three.
  auto t = Chain(6);
  for (auto& n : *t.mutable_nodes()) n.set_kind(emu::v1::NODE_KIND_QEMU);
  std::vector<emu::v1::HostStatus> hosts = {
      QemuHost("a", 2, 8192), QemuHost("b", 4, 8192), QemuHost("c", 4, 8192)};
  PlacementOptions pack;
  pack.set_strategy(PlacementOptions::PACK);
  auto p = PlaceTopology(t, hosts, pack);
  ASSERT_TRUE(p.ok()) << p.status();
  auto c = Counts(*p);
  EXPECT_EQ(c.count("a"), 0u);
  EXPECT_EQ(c["b"] + c["c"], 6);
  EXPECT_EQ(p->cut_links.size(), 1u);
  // Spread holds b and c to their share (2.4 CPUs) plus one node.
  auto s = PlaceTopology(t, hosts);
  ASSERT_TRUE(s.ok());
  for (const auto& l : s->loads) {
    EXPECT_LE(l.cpu_milli(), l.cpu_limit_milli()) << l.host();
    if (l.host() != "a") {
      EXPECT_EQ(l.cpu_limit_milli(), 3400u);
    }
  }
  // Everything fits on one host: pack uses one.
  auto small =
      PlaceTopology(Chain(3), {Host("a", true, 2), Host("b", true, 8)}, pack);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(Counts(*small), (std::map<std::string, int>{{"b", 3}}));
}

TEST(PlacementTest, PinsAreHonouredAndPullNeighbours) {
  auto t = Chain(6);
  t.mutable_nodes(0)->set_host("h2");
  t.mutable_nodes(5)->set_host("h1");
  auto p = PlaceTopology(t, {Host("h1", true, 2), Host("h2", true, 2)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host_of_node["n0"], "h2");
  EXPECT_EQ(p->host_of_node["n5"], "h1");
  EXPECT_EQ(p->host_of_node["n1"], "h2");
  EXPECT_EQ(p->host_of_node["n4"], "h1");
  EXPECT_EQ(p->cut_links.size(), 1u);
}

// A lab with a management network: eth0 of each node on it.
emu::v1::Topology WithMgmt(emu::v1::Topology t) {
  t.mutable_mgmt()->set_ipv4_subnet("172.20.20.0/24");
  t.mutable_mgmt()->mutable_source()->set_file("lab.clab.yml");
  t.mutable_mgmt()->mutable_source()->set_line(2);
  for (auto& n : *t.mutable_nodes()) {
    auto* eth0 = n.add_interfaces();
    eth0->set_name("eth0");
    eth0->set_mgmt(true);
    eth0->mutable_host_end();
  }
  return t;
}

// Its nodes stay on one host: packed by default (TwoClusters would be
// split), and every host's share carries the management settings.
TEST(PlacementTest, AManagementNetworkKeepsItsNodesOnOneHost) {
  auto p = PlaceTopology(WithMgmt(TwoClusters(4)),
                         {Host("h1", true, 4), Host("h2", true, 4)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->options.strategy(), PlacementOptions::PACK);
  ASSERT_EQ(p->per_host.size(), 1u);
  const auto& share = p->per_host.begin()->second;
  EXPECT_EQ(share.mgmt().ipv4_subnet(), "172.20.20.0/24");
  // eth0 is no link's end and still sent: it is the management port.
  ASSERT_EQ(share.nodes(0).interfaces_size(), 1);
  EXPECT_TRUE(share.nodes(0).interfaces(0).mgmt());
}

TEST(PlacementTest, AManagementNetworkOverTwoHostsIsRefused) {
  auto t = WithMgmt(Chain(4));
  t.mutable_nodes(0)->set_host("h1");
  t.mutable_nodes(3)->set_host("h2");
  auto p = PlaceTopology(t, {Host("h1", true, 4), Host("h2", true, 4)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr("lab.clab.yml:2: lab lab: its management network is "
                        "one bridge on one host, but its nodes on it would "
                        "run on 2 hosts (h1: n0"));
  // Without the management network the same pins are fine.
  t.clear_mgmt();
  for (auto& n : *t.mutable_nodes()) n.clear_interfaces();
  EXPECT_TRUE(
      PlaceTopology(t, {Host("h1", true, 4), Host("h2", true, 4)}).ok());
}

// Nodes that share another's namespace go with it: the two clusters stay
// apart, and the sharers (spread over both clusters, one pinned) follow
// their targets, not their own links.
TEST(PlacementTest, NodesSharingANamespaceGoWhereItGoes) {
  auto t = TwoClusters(6);  // even n0..n10 one cluster, odd n1..n11 the other
  t.mutable_nodes(1)->set_host("h2");  // n1 (odd cluster) pinned
  for (int s : {0, 1}) {
    auto* n = t.add_nodes();  // s0 shares n1 (odd), s1 shares n0 (even)
    n->set_name("s" + std::to_string(s));
    n->set_kind(emu::v1::NODE_KIND_NETNS);
    n->set_netns_of(N(1 - s));
  }
  t.mutable_nodes(13)->set_host("h1");  // s1's pin goes to n0
  // s0 linked to every even node: alone it would join the even cluster.
  for (int i = 0; i < 12; i += 2) {
    auto* l = t.add_links();
    l->mutable_a()->set_node("s0");
    l->mutable_a()->set_interface("x" + std::to_string(i));
    l->mutable_b()->set_node(N(i));
    l->mutable_b()->set_interface("s0");
  }
  auto p = PlaceTopology(t, {Host("h1", true, 4), Host("h2", true, 4)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host_of_node["n1"], "h2");
  EXPECT_EQ(p->host_of_node["n0"], "h1");
  EXPECT_EQ(p->host_of_node["s0"], "h2");
  EXPECT_EQ(p->host_of_node["s1"], "h1");
  // s0's links to the even cluster cross hosts, on both ends' shares.
  EXPECT_EQ(p->cut_links.size(), 7u);
  EXPECT_EQ(p->per_host["h2"].nodes_size(), 7);
  EXPECT_EQ(p->per_host["h1"].nodes_size(), 7);
}

TEST(PlacementTest, CutLinksBecomeRemoteEndsOnBothHosts) {
  auto t = Chain(2);
  t.mutable_nodes(0)->set_host("h2");
  t.mutable_nodes(1)->set_host("h1");
  auto p = PlaceTopology(t, {Host("h1", true, 2), Host("h2", true, 2)});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->per_host["h1"].remote_links_size(), 1);
  ASSERT_EQ(p->per_host["h2"].remote_links_size(), 1);
  const auto& e1 = p->per_host["h1"].remote_links(0);
  const auto& e2 = p->per_host["h2"].remote_links(0);
  EXPECT_EQ(e1.link_id(), "n0:e1<->n1:e0");
  EXPECT_EQ(e2.link_id(), e1.link_id());
  EXPECT_FALSE(e1.local_is_a());  // n1 (b) is on h1
  EXPECT_TRUE(e2.local_is_a());
  EXPECT_TRUE(e1.listen());  // "h1" < "h2"
  EXPECT_FALSE(e2.listen());
  EXPECT_EQ(e1.peer_host(), "h2");
  EXPECT_EQ(e1.peer_address(), "h2.example:7472");
  EXPECT_EQ(e2.peer_address(), "h1.example:7472");
  EXPECT_EQ(p->per_host["h1"].links_size(), 0);
}

TEST(PlacementTest, SharesCarryOnlyTheInterfacesLinksUse) {
  // n0:e1 is a link end on h2 (remote); n0:e9 and the guest's eth9 are no
  // link's: the namespace node's is not sent (nothing to connect it to),
  // the guest's is (its NIC).
  auto t = Chain(2);
  t.mutable_nodes(0)->set_host("h2");
  t.mutable_nodes(1)->set_host("h1");
  for (const char* name : {"e1", "e9"}) {
    auto* i = t.mutable_nodes(0)->add_interfaces();
    i->set_name(name);
    i->add_addresses("10.0.0.1/30");
  }
  auto* vm = t.add_nodes();
  vm->set_name("vm");
  vm->set_kind(emu::v1::NODE_KIND_QEMU);
  vm->set_host("h1");
  vm->add_interfaces()->set_name("eth9");
  auto shares = BuildShares(
      t, {{"n0", "h2"}, {"n1", "h1"}, {"vm", "h1"}},
      {Host("h1", true, 2), Host("h2", true, 2)}, nullptr);
  ASSERT_EQ(shares["h2"].nodes_size(), 1);
  ASSERT_EQ(shares["h2"].nodes(0).interfaces_size(), 1);
  EXPECT_EQ(shares["h2"].nodes(0).interfaces(0).name(), "e1");
  ASSERT_EQ(shares["h1"].nodes_size(), 2);
  EXPECT_EQ(shares["h1"].nodes(1).interfaces_size(), 1);  // the guest's
}

TEST(PlacementTest, VxlanCarrierGivesBothEndsOfACutLinkTheSameVni) {
  auto t = Chain(4);  // n0-n1-n2-n3
  t.set_name("lab1");
  t.set_carrier("vxlan");
  auto shares = BuildShares(
      t, {{"n0", "h1"}, {"n1", "h2"}, {"n2", "h1"}, {"n3", "h1"}},
      {Host("h1", true, 2), Host("h2", true, 2)}, nullptr);
  EXPECT_EQ(shares["h1"].carrier(), "vxlan");
  EXPECT_EQ(shares["h2"].carrier(), "vxlan");
  ASSERT_EQ(shares["h1"].remote_links_size(), 2);
  ASSERT_EQ(shares["h2"].remote_links_size(), 2);
  absl::flat_hash_set<uint32_t> seen;
  for (int i = 0; i < 2; ++i) {
    const auto& e1 = shares["h1"].remote_links(i);
    const auto& e2 = shares["h2"].remote_links(i);
    EXPECT_EQ(e1.link_id(), e2.link_id());
    EXPECT_EQ(e1.vxlan_vni(), e2.vxlan_vni());
    EXPECT_GE(e1.vxlan_vni(), 1u);
    EXPECT_LE(e1.vxlan_vni(), 0xFFFFFFu);
    seen.insert(e1.vxlan_vni());
  }
  EXPECT_EQ(seen.size(), 2u);  // unique within the lab
  // Stable: the same names give the same VNI, in another placement too.
  EXPECT_EQ(shares["h1"].remote_links(0).vxlan_vni(),
            VxlanVni("lab1", shares["h1"].remote_links(0).link_id(), {}));
  // The tunnel carrier names no VNI.
  t.set_carrier("");
  auto plain = BuildShares(
      t, {{"n0", "h1"}, {"n1", "h2"}, {"n2", "h1"}, {"n3", "h1"}},
      {Host("h1", true, 2), Host("h2", true, 2)}, nullptr);
  EXPECT_EQ(plain["h1"].remote_links(0).vxlan_vni(), 0u);
}

// carrier: vxlan puts cross-host links in kernel VXLAN devices: a direction
// whose conditions need the userspace engine on its sender's host is
// refused by placement, naming the link, its source line, the direction and
// the host; the same conditions on a same-host link, or on a host whose
// kernel has NetEm, or with the tunnel carrier, are placed.
TEST(PlacementTest, VxlanRefusesEngineOnlyConditionsOnCrossHostLinks) {
  auto t = Nodes(2);
  t.set_carrier("vxlan");
  t.mutable_nodes(0)->set_host("h1");
  t.mutable_nodes(1)->set_host("h2");
  AddLink(&t, 0, 1, 10'000'000);
  t.mutable_links(0)->mutable_source()->set_file("lab.yaml");
  t.mutable_links(0)->mutable_source()->set_line(12);
  t.mutable_links(0)->mutable_b_to_a()->set_delay_us(10'000);
  auto h1 = Host("h1", true, 2);
  auto h2 = Host("h2", true, 2);
  h1.mutable_capabilities()->set_userspace_engine(true);
  h2.mutable_capabilities()->set_userspace_engine(true);
  // Rate only: TBF in the kernel, both ways.
  auto rate_only = t;
  rate_only.mutable_links(0)->mutable_b_to_a()->set_delay_us(0);
  EXPECT_TRUE(PlaceTopology(rate_only, {h1, h2}).ok());
  // A delay sent from h2, which has no sch_netem: refused.
  auto p = PlaceTopology(t, {h1, h2});
  ASSERT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition)
      << p.status();
  EXPECT_THAT(p.status().message(), HasSubstr("lab.yaml:12"));
  EXPECT_THAT(p.status().message(), HasSubstr("link n0:e1<->n1:e0 b-to-a"));
  EXPECT_THAT(p.status().message(), HasSubstr("carrier vxlan"));
  EXPECT_THAT(p.status().message(), HasSubstr("(host h2)"));
  // h2 with NetEm sends it in the kernel.
  auto h2_netem = Host("h2", true, 2, /*netem=*/true);
  EXPECT_TRUE(PlaceTopology(t, {h1, h2_netem}).ok());
  // ... unless the lab asks for the engine.
  auto userspace = t;
  userspace.set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  h2_netem.mutable_capabilities()->set_userspace_engine(true);
  EXPECT_EQ(PlaceTopology(userspace, {h1, h2_netem}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // The tunnel carrier takes it; so does a same-host link.
  auto tunnel = t;
  tunnel.set_carrier("");
  EXPECT_TRUE(PlaceTopology(tunnel, {h1, h2}).ok());
  auto same_host = t;
  same_host.mutable_nodes(1)->set_host("h1");
  EXPECT_TRUE(PlaceTopology(same_host, {h1, h2}).ok());
}

TEST(PlacementTest, VxlanVniSkipsTakenOnes) {
  uint32_t first = VxlanVni("lab", "a:e1<->b:e1", {});
  uint32_t next = VxlanVni("lab", "a:e1<->b:e1", {first});
  EXPECT_NE(next, first);
  EXPECT_EQ(next, first == 0xFFFFFFu ? 1u : first + 1);
  EXPECT_EQ(VxlanVni("lab", "a:e1<->b:e1", {0xFFFFFFu}) == 0xFFFFFFu, false);
  EXPECT_NE(VxlanVni("lab", "a:e1<->b:e1", {}),
            VxlanVni("lab2", "a:e1<->b:e1", {}));
}

TEST(PlacementTest, DeterministicAndIndependentOfHostOrder) {
  auto t = TwoClusters(6);
  AddLink(&t, 2, 3);
  std::vector<emu::v1::HostStatus> hosts = {
      Host("x", true, 2), Host("y", true, 2), Host("z", true, 2)};
  auto a = PlaceTopology(t, hosts);
  std::reverse(hosts.begin(), hosts.end());
  auto b = PlaceTopology(t, hosts);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->host_of_node, b->host_of_node);
}

// A lab big enough that the shares are built on several threads (from
// 20,000 nodes + links): each host's share holds exactly its nodes and
// same-host links, in topology order, and both ends of every cut link,
// as one thread would make them.
TEST(PlacementTest, BigSharesAreWhatOneThreadWouldMake) {
  auto t = Chain(12000);
  for (int i = 0; i + 7 < 12000; i += 7) AddLink(&t, i, i + 7);
  std::vector<emu::v1::HostStatus> hosts = {
      Host("h1", true, 64, false, 65536), Host("h2", true, 64, false, 65536),
      Host("h3", true, 64, false, 65536), Host("h4", true, 64, false, 65536),
      Host("h5", true, 64, false, 65536)};
  auto p = PlaceTopology(t, hosts);
  ASSERT_TRUE(p.ok()) << p.status();
  std::map<std::string, std::vector<std::string>> nodes, links, remote;
  for (const auto& n : t.nodes()) {
    nodes[p->host_of_node.at(n.name())].push_back(n.name());
  }
  for (const auto& l : t.links()) {
    const std::string& a = p->host_of_node.at(l.a().node());
    const std::string& b = p->host_of_node.at(l.b().node());
    if (a == b) {
      links[a].push_back(LinkName(l));
    } else {
      remote[a].push_back(LinkName(l) + " a");
      remote[b].push_back(LinkName(l) + " b");
    }
  }
  ASSERT_GT(remote.size(), 1u);
  for (const auto& [host, share] : p->per_host) {
    std::vector<std::string> got_nodes, got_links, got_remote;
    for (const auto& n : share.nodes()) got_nodes.push_back(n.name());
    for (const auto& l : share.links()) got_links.push_back(LinkName(l));
    for (const auto& r : share.remote_links()) {
      got_remote.push_back(LinkName(r.link()) + (r.local_is_a() ? " a" : " b"));
      EXPECT_EQ(r.link_id(), LinkName(r.link()));
      EXPECT_EQ(r.peer_address(), r.peer_host() + ".example:7472");
      EXPECT_NE(r.peer_host(), host);
    }
    EXPECT_EQ(got_nodes, nodes[host]) << host;
    EXPECT_EQ(got_links, links[host]) << host;
    EXPECT_EQ(got_remote, remote[host]) << host;
  }
  EXPECT_EQ(p->per_host.size(), nodes.size());
}

TEST(PlacementTest, CapabilityKindAndNetem) {
  auto t = Chain(4);
  t.mutable_nodes(3)->set_kind(emu::v1::NODE_KIND_QEMU);
  t.mutable_links(0)->mutable_a_to_b()->set_delay_us(10000);  // n0 sends
  auto netem = Host("net", true, 4, /*netem=*/true);
  auto p = PlaceTopology(t, {netem, QemuHost("vm", 4, 8192)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->host_of_node["n3"], "vm");
  EXPECT_EQ(p->host_of_node["n0"], "net");

  auto no_qemu = PlaceTopology(t, {Host("h1", true, 2, true)});
  EXPECT_EQ(no_qemu.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(
      no_qemu.status().message(),
      HasSubstr("node n3: no reachable host runs kind qemu (h1 do not)"));

  auto no_netem = PlaceTopology(Chain(2), {Host("h1", true, 2)});
  ASSERT_TRUE(no_netem.ok());
  auto d = Chain(2);
  d.mutable_links(0)->mutable_b_to_a()->set_loss_percent(1);
  auto bad = PlaceTopology(d, {Host("h1", true, 2), Host("h2", true, 2)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("node n1: no reachable host that runs it can apply "
                        "the conditions of its links (h1, h2: "));
  EXPECT_THAT(bad.status().message(), HasSubstr("no sch_netem"));
}

TEST(PlacementTest, AHostWithTheUserspaceEngineTakesDelayWithoutNetem) {
  auto d = Chain(2);
  d.mutable_links(0)->mutable_b_to_a()->set_loss_percent(1);
  auto engine = Host("h1", true, 2);
  engine.mutable_capabilities()->set_userspace_engine(true);
  auto ok = PlaceTopology(d, {engine});
  ASSERT_TRUE(ok.ok()) << ok.status();
  // engine: kernel keeps today's refusal.
  d.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  auto kernel = PlaceTopology(d, {engine});
  EXPECT_EQ(kernel.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(kernel.status().message(), HasSubstr("with engine kernel"));
  // A userspace-only condition needs the engine even where NetEm is.
  auto u = Chain(2);
  u.mutable_links(0)->mutable_a_to_b()->set_bit_error_rate(1e-6);
  auto netem_only = PlaceTopology(u, {Host("h2", true, 2, /*netem=*/true)});
  EXPECT_EQ(netem_only.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(netem_only.status().message(),
              HasSubstr("ber needs the userspace engine"));
  EXPECT_TRUE(PlaceTopology(u, {engine}).ok());
}

// Issue 10: a cross-host link's sending side applies delay and loss in the
// tunnel's egress pipeline, so hosts with the userspace engine and no
// sch_netem take both ends of such a link, on different hosts.
TEST(PlacementTest, CrossHostLinksWithDelayGoToEngineHostsWithoutNetem) {
  auto t = Chain(2);
  t.mutable_nodes(0)->set_host("h1");
  t.mutable_nodes(1)->set_host("h2");
  t.mutable_links(0)->mutable_a_to_b()->set_delay_us(20'000);
  t.mutable_links(0)->mutable_b_to_a()->set_loss_percent(1);
  auto h1 = Host("h1", true, 2);
  auto h2 = Host("h2", true, 2);
  h1.mutable_capabilities()->set_userspace_engine(true);
  h2.mutable_capabilities()->set_userspace_engine(true);
  auto p = PlaceTopology(t, {h1, h2});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->per_host.size(), 2u);
  ASSERT_EQ(p->per_host["h1"].remote_links_size(), 1);
  EXPECT_EQ(p->per_host["h1"].remote_links(0).link().a_to_b().delay_us(),
            20'000u);
  ASSERT_EQ(p->cut_links.size(), 1u);
  // Without the engine on the receiving host (which sends b-to-a with
  // loss), the pin cannot be honoured.
  h2.mutable_capabilities()->set_userspace_engine(false);
  auto bad = PlaceTopology(t, {h1, h2});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bad.status().message(), HasSubstr("node n1: host h2"));
}

TEST(PlacementTest, GuestSendersRunNetemInsideTheGuest) {
  // n1 (a guest) sends with loss: its own kernel has sch_netem, so a host
  // without netem will do; n0 (a namespace) sending with delay would not.
  auto t = Chain(2);
  t.mutable_nodes(1)->set_kind(emu::v1::NODE_KIND_QEMU);
  t.mutable_links(0)->mutable_b_to_a()->set_loss_percent(1);
  auto ok = PlaceTopology(t, {QemuHost("vm", 4, 8192)});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->host_of_node["n1"], "vm");
  t.mutable_links(0)->mutable_a_to_b()->set_delay_us(1000);
  auto bad = PlaceTopology(t, {QemuHost("vm", 4, 8192)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("node n0: no reachable host that runs it can apply"));
}

TEST(PlacementTest, PinsThatCannotWork) {
  auto t = Chain(2);
  t.mutable_nodes(0)->set_host("h9");
  t.mutable_nodes(0)->mutable_source()->set_file("lab.yaml");
  t.mutable_nodes(0)->mutable_source()->set_line(7);
  auto unknown = PlaceTopology(t, {Host("h1", true, 2)});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("lab.yaml:7: node n0: pinned to host h9, which is not "
                        "in the cluster"));

  t.mutable_nodes(0)->set_host("h2");
  auto down = PlaceTopology(t, {Host("h1", true, 2), Host("h2", false, 2)});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);

  auto none = PlaceTopology(Chain(2), {Host("h1", false, 2)});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(none.status().message(), HasSubstr("h1 (connection refused)"));

  t.mutable_nodes(0)->set_host("h1");
  t.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  auto kind = PlaceTopology(t, {Host("h1", true, 2), QemuHost("h2", 2, 4096)});
  EXPECT_THAT(kind.status().message(),
              HasSubstr("node n0: kind qemu is not supported by host h1"));
}

TEST(PlacementTest, InfeasibleCapacitySaysWhatIsShortWhere) {
  auto t = Chain(5);
  for (auto& n : *t.mutable_nodes()) n.set_kind(emu::v1::NODE_KIND_QEMU);
  std::vector<emu::v1::HostStatus> hosts = {QemuHost("h1", 2, 4096),
                                            QemuHost("h2", 2, 4096)};
  auto p = PlaceTopology(t, hosts);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(p.status().message(),
              HasSubstr("lab lab needs 5 CPUs and 2560 MiB; the reachable "
                        "hosts have 4 CPUs and 8192 MiB (h1 2 CPUs/4096 MiB, "
                        "h2 2 CPUs/4096 MiB): short by 1 CPUs"));
  // Overcommit lets it through.
  PlacementOptions over;
  over.set_overcommit(true);
  EXPECT_TRUE(PlaceTopology(t, hosts, over).ok());

  // Pins beyond a host's capacity.
  auto pinned = Chain(3);
  for (auto& n : *pinned.mutable_nodes()) {
    n.set_kind(emu::v1::NODE_KIND_QEMU);
    n.set_host("h1");
  }
  auto q = PlaceTopology(pinned, hosts);
  EXPECT_THAT(q.status().message(),
              HasSubstr("the nodes pinned to host h1 need 3 CPUs and 1536 MiB; "
                        "it has 2 CPUs"));

  // Enough in total, but no single host can hold a 3-CPU node.
  auto big = Chain(1);
  big.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  big.mutable_nodes(0)->mutable_resources()->set_cpus(3);
  auto r = PlaceTopology(big, hosts);
  EXPECT_THAT(r.status().message(),
              HasSubstr("node n0: needs 3 CPUs and 512 MiB, and no host that "
                        "can run it has that left (h1 has 2 of 2 CPUs"));

  // Memory, per kind: netns hosts have room but only h2 runs qemu.
  auto vm = Chain(2);
  vm.mutable_nodes(1)->set_kind(emu::v1::NODE_KIND_QEMU);
  vm.mutable_nodes(1)->mutable_resources()->set_memory_mib(6000);
  auto m = PlaceTopology(
      vm, {Host("h1", true, 8, false, 65536), QemuHost("h2", 8, 4096)});
  EXPECT_THAT(
      m.status().message(),
      HasSubstr("the qemu nodes of lab lab need 1 CPUs and 6000 MiB; "
                "the hosts that run them (h2) have 8 CPUs and 4096 MiB"));
}

TEST(PlacementTest, KindDefaultsAndOverrides) {
  emu::v1::Node n;
  EXPECT_EQ(DemandOf(n).cpu_milli, kNetnsDemand.cpu_milli);
  n.set_kind(emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(DemandOf(n).memory_mib, 512u);
  n.mutable_resources()->set_cpus(2);
  EXPECT_EQ(DemandOf(n).cpu_milli, 2000u);
  EXPECT_EQ(DemandOf(n).memory_mib, 512u);
}

TEST(PlacementTest, BadTolerance) {
  PlacementOptions o;
  o.set_tolerance_percent(-5);
  EXPECT_EQ(PlaceTopology(Chain(2), {Host("h1", true, 2)}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}


// ---- Quality on generated graphs (fixed seeds); speed is bench's
// (bench/placement_bench, beside METIS). ----

// A side x side grid: the best 4-way split cuts 2 * side links.
emu::v1::Topology Grid(int side) {
  auto t = Nodes(side * side);
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) {
      if (c + 1 < side) AddLink(&t, r * side + c, r * side + c + 1);
      if (r + 1 < side) AddLink(&t, r * side + c, (r + 1) * side + c);
    }
  }
  return t;
}

std::vector<emu::v1::HostStatus> Hosts(int n) {
  std::vector<emu::v1::HostStatus> hosts;
  for (int i = 0; i < n; ++i) {
    hosts.push_back(Host(absl::StrCat("h", i < 10 ? "0" : "", i), true, 2));
  }
  return hosts;
}

TEST(PlacementQualityTest, GridOnFourHostsCutsNearTheTwoStraightLines) {
  auto p = PlaceTopology(Grid(20), Hosts(4));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_LE(p->cut_links.size(), 60u);  // best: 40
}

TEST(PlacementQualityTest, ClustersStayTogether) {
  // 16 clusters of 40 nodes, 3 random links a node inside its cluster,
  // 32 links between clusters; nodes interleaved in file order.
  std::mt19937 rng(7);
  constexpr int kClusters = 16, kSize = 40;
  auto t = Nodes(kClusters * kSize);
  auto node = [](int cluster, int i) { return i * kClusters + cluster; };
  for (int c = 0; c < kClusters; ++c) {
    for (int i = 0; i < kSize; ++i) {
      for (int k = 0; k < 3; ++k) {
        int j = static_cast<int>(rng() % kSize);
        if (j != i) AddLink(&t, node(c, i), node(c, j));
      }
    }
  }
  for (int k = 0; k < 32; ++k) {
    int a = static_cast<int>(rng() % kClusters);
    int b = (a + 1 + static_cast<int>(rng() % (kClusters - 1))) % kClusters;
    AddLink(&t, node(a, static_cast<int>(rng() % kSize)),
            node(b, static_cast<int>(rng() % kSize)));
  }
  auto p = PlaceTopology(t, Hosts(16));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_LE(p->cut_links.size(), 48u);  // best: at most 32
  for (const auto& [host, n] : Counts(*p)) EXPECT_LE(n, 44) << host;
}

TEST(PlacementQualityTest, RandomGraphCutsFarLessThanRoundRobin) {
  std::mt19937 rng(11);
  constexpr int kNodes = 2000;
  auto t = Nodes(kNodes);
  for (int made = 0; made < 4000;) {
    int a = static_cast<int>(rng() % kNodes), b = static_cast<int>(rng() % kNodes);
    if (a == b) continue;
    AddLink(&t, a, b);
    ++made;
  }
  auto p = PlaceTopology(t, Hosts(16));
  ASSERT_TRUE(p.ok()) << p.status();
  int round_robin = 0;
  for (const auto& l : t.links()) {
    int a = std::stoi(l.a().node().substr(1)), b = std::stoi(l.b().node().substr(1));
    round_robin += a % 16 != b % 16;
  }
  EXPECT_LE(p->cut_links.size(), static_cast<size_t>(round_robin * 0.7))
      << "round robin " << round_robin;
  for (const auto& [host, n] : Counts(*p)) EXPECT_LE(n, 138) << host;
}

}  // namespace
}  // namespace emu::controller::placement

namespace emu::controller::placement {
namespace {

// Issue 9: a lab whose cross-host link joins agents of different tunnel
// carriers is refused at placement, naming both hosts and carriers, instead
// of failing at the tunnels' handshake.
struct TwoHosts {
  emu::v1::Topology topology = Chain(2);  // n0 on h1, n1 on h2
  std::vector<emu::v1::HostStatus> hosts = {Host("h1", true, 4),
                                            Host("h2", true, 4)};
  TwoHosts(const std::string& carrier1, const std::string& carrier2) {
    topology.mutable_nodes(0)->set_host("h1");
    topology.mutable_nodes(1)->set_host("h2");
    hosts[0].mutable_capabilities()->set_tunnel_carrier(carrier1);
    hosts[1].mutable_capabilities()->set_tunnel_carrier(carrier2);
  }
};

TEST(TunnelCarrierCheckTest, ALinkBetweenDifferentCarriersIsRefused) {
  TwoHosts c("ssh", "tls");
  auto p = PlaceTopology(c.topology, c.hosts);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "link n0:e1<->n1:e0 would join host h1 (tunnel carrier ssh) and "
            "host h2 (tunnel carrier tls): the two agents cannot connect; "
            "start every agent of the cluster with the same "
            "--tunnel_carrier (docs/tunnel.md)");
}

TEST(TunnelCarrierCheckTest, SameCarrierOrUnknownOrNoCutPasses) {
  EXPECT_TRUE(PlaceTopology(TwoHosts("ssh", "ssh").topology,
                            TwoHosts("ssh", "ssh").hosts)
                  .ok());
  TwoHosts older("ssh", "");  // h2 runs an agent from before carriers
  EXPECT_TRUE(PlaceTopology(older.topology, older.hosts).ok());
  // Both nodes on h1: no cross-host link, h2's carrier does not matter.
  TwoHosts one("ssh", "plain");
  one.topology.mutable_nodes(1)->set_host("h1");
  EXPECT_TRUE(PlaceTopology(one.topology, one.hosts).ok());
}

}  // namespace
}  // namespace emu::controller::placement
