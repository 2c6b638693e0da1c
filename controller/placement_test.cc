#include "controller/placement.h"

#include "gtest/gtest.h"

namespace emu::controller {
namespace {

emu::v1::HostStatus Host(const std::string& name, bool up, uint32_t cpus,
                         bool netem = false) {
  emu::v1::HostStatus h;
  h.set_name(name);
  h.set_reachable(up);
  h.set_error(up ? "" : "connection refused");
  h.mutable_capabilities()->set_cpus(cpus);
  h.mutable_capabilities()->set_netem(netem);
  h.mutable_capabilities()->add_node_kinds(emu::v1::NODE_KIND_NETNS);
  return h;
}

emu::v1::Topology Chain(int n) {
  emu::v1::Topology t;
  t.set_name("lab");
  for (int i = 0; i < n; ++i) {
    auto* node = t.add_nodes();
    node->set_name("n" + std::to_string(i));
    node->set_kind(emu::v1::NODE_KIND_NETNS);
  }
  for (int i = 0; i + 1 < n; ++i) {
    auto* l = t.add_links();
    l->mutable_a()->set_node("n" + std::to_string(i));
    l->mutable_a()->set_interface("e1");
    l->mutable_b()->set_node("n" + std::to_string(i + 1));
    l->mutable_b()->set_interface("e0");
  }
  return t;
}

TEST(PlacementTest, AllOnTheLargestReachableHost) {
  auto p = PlaceTopology(Chain(3), {Host("h1", true, 2), Host("h2", true, 8),
                                    Host("h3", false, 64)});
  ASSERT_TRUE(p.ok()) << p.status();
  for (const auto& [node, host] : p->host_of_node) EXPECT_EQ(host, "h2");
  ASSERT_EQ(p->per_host.size(), 1u);
  EXPECT_EQ(p->per_host["h2"].nodes_size(), 3);
  EXPECT_EQ(p->per_host["h2"].links_size(), 2);
  EXPECT_EQ(p->per_host["h2"].lab(), "lab");
}

TEST(PlacementTest, PinsDrawTheRestAlong) {
  auto t = Chain(3);
  t.mutable_nodes(1)->set_host("h1");
  auto p = PlaceTopology(t, {Host("h1", true, 2), Host("h2", true, 8)});
  ASSERT_TRUE(p.ok()) << p.status();
  for (const auto& [node, host] : p->host_of_node) EXPECT_EQ(host, "h1");
}

TEST(PlacementTest, Deterministic) {
  auto hosts = {Host("h1", true, 4), Host("h2", true, 4)};
  auto a = PlaceTopology(Chain(5), hosts);
  auto b = PlaceTopology(Chain(5), hosts);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->host_of_node, b->host_of_node);
  EXPECT_EQ(a->host_of_node.begin()->second, "h1");
}

TEST(PlacementTest, Errors) {
  auto t = Chain(2);
  t.mutable_nodes(0)->set_host("h9");
  t.mutable_nodes(0)->mutable_source()->set_file("lab.yaml");
  t.mutable_nodes(0)->mutable_source()->set_line(7);
  auto unknown = PlaceTopology(t, {Host("h1", true, 2)});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("lab.yaml:7: node n0"),
            std::string::npos)
      << unknown.status();

  t.mutable_nodes(0)->set_host("h2");
  auto down = PlaceTopology(t, {Host("h1", true, 2), Host("h2", false, 2)});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);

  auto none = PlaceTopology(Chain(2), {Host("h1", false, 2)});
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(none.status().message().find("h1 (connection refused)"),
            std::string::npos);

  t.mutable_nodes(0)->set_host("h1");
  t.mutable_nodes(1)->set_host("h2");
  auto split = PlaceTopology(t, {Host("h1", true, 2), Host("h2", true, 2)});
  EXPECT_EQ(split.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(split.status().message().find("n0:e1<->n1:e0"), std::string::npos);
}

TEST(PlacementTest, NetemNeedsAHostWithNetem) {
  auto t = Chain(2);
  t.mutable_links(0)->mutable_b_to_a()->set_delay_us(10000);
  auto no = PlaceTopology(t, {Host("h1", true, 2, /*netem=*/false)});
  EXPECT_EQ(no.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no.status().message().find("no sch_netem"), std::string::npos);
  EXPECT_TRUE(PlaceTopology(t, {Host("h1", true, 2, true)}).ok());
  // Rate alone is TBF, which every host has.
  auto rate = Chain(2);
  rate.mutable_links(0)->mutable_a_to_b()->set_rate_bps(10'000'000);
  EXPECT_TRUE(PlaceTopology(rate, {Host("h1", true, 2)}).ok());
}

TEST(PlacementTest, KindMustBeSupported) {
  auto t = Chain(1);
  t.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  auto p = PlaceTopology(t, {Host("h1", true, 2)});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("NODE_KIND_QEMU"), std::string::npos);
}

}  // namespace
}  // namespace emu::controller
