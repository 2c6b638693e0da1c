#include "controller/lab/lab_details.h"

#include <string>

#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

// A chain of `n` netns nodes (n0 - n1 - ...), deployed: every node and link
// has its status entry, every interface an address, every link a rate.
emu::v1::Lab Chain(int n) {
  emu::v1::Lab lab;
  lab.set_name("chain");
  lab.set_state(emu::v1::RUNNING);
  lab.mutable_topology()->set_name("chain");
  lab.mutable_topology()->mutable_source()->set_file("chain.yaml");
  for (int i = 0; i < n; ++i) {
    const std::string name = "n" + std::to_string(i);
    emu::v1::Node* node = lab.mutable_topology()->add_nodes();
    node->set_name(name);
    node->set_kind(emu::v1::NODE_KIND_NETNS);
    emu::v1::Interface* iface = node->add_interfaces();
    iface->set_name("eth1");
    iface->add_addresses("10.0.0." + std::to_string(i + 1) + "/24");
    emu::v1::NodeStatus* status = lab.add_nodes();
    status->set_name(name);
    status->set_kind(emu::v1::NODE_KIND_NETNS);
    status->set_host(i % 2 ? "h2" : "h1");
    *status->mutable_interfaces() = node->interfaces();
  }
  for (int i = 0; i + 1 < n; ++i) {
    emu::v1::Link* link = lab.mutable_topology()->add_links();
    link->mutable_a()->set_node("n" + std::to_string(i));
    link->mutable_a()->set_interface("eth1");
    link->mutable_b()->set_node("n" + std::to_string(i + 1));
    link->mutable_b()->set_interface("eth2");
    link->mutable_a_to_b()->set_rate_bps(100000000);
    link->mutable_b_to_a()->set_delay_us(5000);
    emu::v1::LinkStatus* status = lab.add_links();
    *status->mutable_link() = *link;
    status->set_host_a(i % 2 ? "h2" : "h1");
    status->set_host_b(i % 2 ? "h1" : "h2");
    status->set_state("up");
    status->set_engine_a_to_b("tbf");
  }
  return lab;
}

TEST(LeaveOutDetails, ZeroKeepsEverything) {
  emu::v1::Lab lab = Chain(100);
  const std::string before = lab.SerializeAsString();
  LeaveOutDetails(0, &lab);
  EXPECT_EQ(lab.SerializeAsString(), before);
}

TEST(LeaveOutDetails, SmallLabKeepsEverything) {
  emu::v1::Lab lab = Chain(10);  // 10 nodes, 9 links
  const std::string before = lab.SerializeAsString();
  LeaveOutDetails(10, &lab);
  EXPECT_EQ(lab.SerializeAsString(), before);
  EXPECT_EQ(lab.details_left_out_size(), 0);
}

TEST(LeaveOutDetails, LargeLabKeepsWhatASummaryShows) {
  emu::v1::Lab lab = Chain(100);
  const size_t full = lab.ByteSizeLong();
  LeaveOutDetails(50, &lab);
  ASSERT_EQ(lab.details_left_out_size(), 2);
  EXPECT_EQ(lab.details_left_out(0), "nodes");
  EXPECT_EQ(lab.details_left_out(1), "links");
  ASSERT_EQ(lab.nodes_size(), 100);
  EXPECT_EQ(lab.nodes(7).name(), "n7");
  EXPECT_EQ(lab.nodes(7).host(), "h2");
  EXPECT_EQ(lab.nodes(7).kind(), emu::v1::NODE_KIND_NETNS);
  EXPECT_EQ(lab.nodes(7).interfaces_size(), 0);
  ASSERT_EQ(lab.links_size(), 99);
  const emu::v1::LinkStatus& l = lab.links(3);
  EXPECT_EQ(l.link().a().node(), "n3");
  EXPECT_EQ(l.link().a().interface(), "eth1");
  EXPECT_EQ(l.link().b().node(), "n4");
  EXPECT_FALSE(l.link().has_a_to_b());
  EXPECT_FALSE(l.link().has_b_to_a());
  EXPECT_EQ(l.host_a(), "h2");
  EXPECT_EQ(l.state(), "up");
  EXPECT_EQ(l.engine_a_to_b(), "tbf");
  EXPECT_EQ(lab.topology().nodes_size(), 0);
  EXPECT_EQ(lab.topology().links_size(), 0);
  EXPECT_EQ(lab.topology().source().file(), "chain.yaml");
  EXPECT_LT(lab.ByteSizeLong() * 2, full);  // real labs: ~4x (MACs, sources)
}

TEST(LeaveOutDetails, OnlyTheLargePartLosesDetails) {
  emu::v1::Lab lab = Chain(60);  // 60 nodes, 59 links
  LeaveOutDetails(59, &lab);
  ASSERT_EQ(lab.details_left_out_size(), 1);
  EXPECT_EQ(lab.details_left_out(0), "nodes");
  EXPECT_EQ(lab.nodes(0).interfaces_size(), 0);
  EXPECT_TRUE(lab.links(0).link().has_a_to_b());
}

TEST(LeaveOutDetails, KeepsCommunityAnchorsAndTheirLinks) {
  emu::v1::Lab lab = Chain(80);
  emu::v1::Node* anchor = lab.mutable_topology()->add_nodes();
  anchor->set_name("c-0123abcd");
  anchor->set_foreign_lab("alice/ix");
  anchor->set_foreign_node("sw");
  emu::v1::Link* to_anchor = lab.mutable_topology()->add_links();
  to_anchor->mutable_a()->set_node("n0");
  to_anchor->mutable_a()->set_interface("up0");
  to_anchor->mutable_b()->set_node("c-0123abcd");
  to_anchor->mutable_b()->set_interface("x0");
  emu::v1::Attachment* at = lab.mutable_topology()->add_attachments();
  at->mutable_local()->set_node("n0");
  at->mutable_local()->set_interface("up0");
  at->set_endpoint("alice/ix");
  LeaveOutDetails(50, &lab);
  ASSERT_EQ(lab.topology().nodes_size(), 1);
  EXPECT_EQ(lab.topology().nodes(0).name(), "c-0123abcd");
  ASSERT_EQ(lab.topology().links_size(), 1);
  EXPECT_EQ(lab.topology().links(0).b().node(), "c-0123abcd");
  EXPECT_EQ(lab.topology().attachments_size(), 1);
}

TEST(OutlineLab, CountsThenLeavesOutNodesAndLinks) {
  emu::v1::Lab lab = Chain(30);
  OutlineLab(&lab);
  EXPECT_EQ(lab.node_count(), 30);
  EXPECT_EQ(lab.link_count(), 29);
  EXPECT_EQ(lab.nodes_size(), 0);
  EXPECT_EQ(lab.links_size(), 0);
  EXPECT_EQ(lab.topology().nodes_size(), 0);
  EXPECT_EQ(lab.topology().links_size(), 0);
  EXPECT_EQ(lab.name(), "chain");
  EXPECT_EQ(lab.state(), emu::v1::RUNNING);
  EXPECT_EQ(lab.topology().source().file(), "chain.yaml");

  emu::v1::Lab planned = Chain(4);  // not deployed: no states yet
  planned.clear_nodes();
  planned.clear_links();
  OutlineLab(&planned);
  EXPECT_EQ(planned.node_count(), 4);
  EXPECT_EQ(planned.link_count(), 3);
}

}  // namespace
}  // namespace emu::controller::lab
