#include "controller/lab/lab_counters_merge.h"

#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

TEST(LabCountersMergeTest, CrossHostLinkIsTheSumOfBothHostsParts) {
  // h1 holds r1 (a): it sees a->b leave and b->a arrive; h2 the reverse.
  emu::v1::LabCounters h1, h2;
  h1.set_lab("core");
  h1.set_time_unix_us(100);
  auto* l1 = h1.add_links();
  l1->set_link("r1:eth1<->r2:eth1");
  l1->set_cross_host(true);
  l1->mutable_a_to_b()->set_from("r1:eth1");
  l1->mutable_a_to_b()->set_to("r2:eth1");
  l1->mutable_a_to_b()->set_carrier("tunnel+engine");
  l1->mutable_a_to_b()->set_sent_bytes(1000);
  l1->mutable_a_to_b()->set_sent_packets(10);
  l1->mutable_a_to_b()->set_dropped_packets(2);
  l1->mutable_b_to_a()->set_delivered_bytes(400);
  // The sender's host compensates the direction it sends.
  l1->mutable_a_to_b()->set_compensated(true);
  l1->mutable_a_to_b()->set_base_latency_us(31);
  l1->mutable_a_to_b()->set_applied_delay_us(1969);
  l1->mutable_a_to_b()->set_base_source("tunnel echo min RTT/2");
  // Late frames: counted by the sender's host (its egress pipeline); the
  // receiver's part adds nothing, the worst is the larger.
  l1->mutable_a_to_b()->set_late_1ms_packets(4);
  l1->mutable_a_to_b()->set_late_10ms_packets(1);
  l1->mutable_a_to_b()->set_late_max_us(12'500);
  h1.add_nodes()->set_node("r1");
  h2.set_time_unix_us(150);
  auto* l2 = h2.add_links();
  l2->set_link("r1:eth1<->r2:eth1");
  l2->set_cross_host(true);
  l2->mutable_a_to_b()->set_carrier("tunnel");
  l2->mutable_a_to_b()->set_delivered_bytes(980);
  l2->mutable_a_to_b()->set_delivered_packets(8);
  l2->mutable_a_to_b()->set_late_max_us(900);
  l2->mutable_b_to_a()->set_sent_bytes(400);
  h2.add_nodes()->set_node("r2");
  h2.add_problems("r2:eth9: no such interface on host h2");

  emu::v1::LabCounters lab;
  MergeLabCounters(h1, &lab);
  MergeLabCounters(h2, &lab);
  EXPECT_EQ(lab.lab(), "core");
  EXPECT_EQ(lab.time_unix_us(), 150);
  ASSERT_EQ(lab.links_size(), 1);
  const auto& d = lab.links(0).a_to_b();
  EXPECT_TRUE(lab.links(0).cross_host());
  EXPECT_EQ(d.from(), "r1:eth1");
  EXPECT_EQ(d.carrier(), "tunnel+engine");
  EXPECT_EQ(d.sent_bytes(), 1000u);
  EXPECT_EQ(d.sent_packets(), 10u);
  EXPECT_EQ(d.delivered_bytes(), 980u);
  EXPECT_EQ(d.delivered_packets(), 8u);
  EXPECT_EQ(d.dropped_packets(), 2u);
  EXPECT_TRUE(d.compensated());
  EXPECT_EQ(d.base_latency_us(), 31u);
  EXPECT_EQ(d.applied_delay_us(), 1969u);
  EXPECT_EQ(d.base_source(), "tunnel echo min RTT/2");
  EXPECT_EQ(d.late_1ms_packets(), 4u);
  EXPECT_EQ(d.late_10ms_packets(), 1u);
  EXPECT_EQ(d.late_max_us(), 12'500u);
  EXPECT_EQ(lab.links(0).b_to_a().sent_bytes(), 400u);
  EXPECT_EQ(lab.links(0).b_to_a().delivered_bytes(), 400u);
  ASSERT_EQ(lab.nodes_size(), 2);
  EXPECT_EQ(lab.problems_size(), 1);
}

}  // namespace
}  // namespace emu::controller::lab
