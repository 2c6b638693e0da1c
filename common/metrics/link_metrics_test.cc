#include "common/metrics/link_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/metrics/testing/exposition_parser.h"
#include "gtest/gtest.h"

namespace emu::metrics {
namespace {

using testing::FindValue;
using testing::ParseExposition;

emu::v1::DirectionCounters Dir(const std::string& from, const std::string& to,
                               uint64_t sent, uint64_t delivered) {
  emu::v1::DirectionCounters d;
  d.set_from(from);
  d.set_to(to);
  d.set_sent_bytes(sent);
  d.set_sent_packets(sent / 100);
  d.set_delivered_bytes(delivered);
  d.set_delivered_packets(delivered / 100);
  d.set_dropped_packets(3);
  d.set_backlog_bytes(1500);
  d.set_backlog_packets(1);
  d.set_late_1ms_packets(sent / 500);
  d.set_late_10ms_packets(sent / 1000);
  return d;
}

emu::v1::LabCounters TwoLinks() {
  emu::v1::LabCounters lab;
  lab.set_lab("alice+core");
  auto* l = lab.add_links();
  l->set_link("r1:eth1<->r2:eth1");
  *l->mutable_a_to_b() = Dir("r1:eth1", "r2:eth1", 1000, 900);
  *l->mutable_b_to_a() = Dir("r2:eth1", "r1:eth1", 500, 500);
  // Cross-host: r3 is on another host; this host has r1 and r2.
  auto* x = lab.add_links();
  x->set_link("r1:eth2<->r3:eth1");
  x->set_cross_host(true);
  *x->mutable_a_to_b() = Dir("r1:eth2", "r3:eth1", 7000, 0);
  *x->mutable_b_to_a() = Dir("r3:eth1", "r1:eth2", 0, 6000);
  for (const char* n : {"r1", "r2"}) {
    auto* u = lab.add_nodes();
    u->set_node(n);
    u->set_cpu_seconds(1.5);
    u->set_memory_bytes(4096);
    u->set_processes(2);
  }
  return lab;
}

TEST(LinkMetricsTest, EveryDirectionLabelledAndParsable) {
  auto parsed = ParseExposition(Render(LinkCounterFamilies({TwoLinks()}, {})));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_link_tx_bytes_total",
                      {{"lab", "alice+core"},
                       {"link", "r1:eth1<->r2:eth1"},
                       {"direction", "a_to_b"},
                       {"from", "r1:eth1"},
                       {"to", "r2:eth1"}}),
            1000);
  EXPECT_EQ(FindValue(*parsed, "emu_link_rx_bytes_total",
                      {{"link", "r1:eth1<->r2:eth1"}, {"direction", "a_to_b"}}),
            900);
  EXPECT_EQ(FindValue(*parsed, "emu_link_rx_packets_total",
                      {{"link", "r1:eth1<->r2:eth1"}, {"direction", "b_to_a"}}),
            5);
  EXPECT_EQ(FindValue(*parsed, "emu_link_dropped_packets_total",
                      {{"link", "r1:eth1<->r2:eth1"}, {"direction", "b_to_a"}}),
            3);
  EXPECT_EQ(FindValue(*parsed, "emu_link_backlog_bytes",
                      {{"link", "r1:eth1<->r2:eth1"}, {"direction", "b_to_a"}}),
            1500);
  EXPECT_EQ(FindValue(*parsed, "emu_link_late_packets_total",
                      {{"link", "r1:eth1<->r2:eth1"},
                       {"direction", "a_to_b"},
                       {"at_least", "1ms"}}),
            2);
  EXPECT_EQ(FindValue(*parsed, "emu_link_late_packets_total",
                      {{"link", "r1:eth1<->r2:eth1"},
                       {"direction", "a_to_b"},
                       {"at_least", "10ms"}}),
            1);
  // Merged (controller): a cross-host link's every field is exported.
  EXPECT_EQ(FindValue(*parsed, "emu_link_rx_bytes_total",
                      {{"link", "r1:eth2<->r3:eth1"}, {"direction", "a_to_b"}}),
            0);
  EXPECT_EQ(FindValue(*parsed, "emu_node_cpu_seconds_total", {{"node", "r1"}}),
            1.5);
  EXPECT_EQ(FindValue(*parsed, "emu_node_memory_bytes", {{"node", "r2"}}), 4096);
  EXPECT_EQ(FindValue(*parsed, "emu_node_processes", {{"node", "r2"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_link_series_omitted", {{"lab", "alice+core"}}),
            0);
}

TEST(LinkMetricsTest, PerHostLeavesOutWhatAnotherHostObserves) {
  LinkMetricsOptions options;
  options.per_host = true;
  auto parsed =
      ParseExposition(Render(LinkCounterFamilies({TwoLinks()}, options)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const std::string x = "r1:eth2<->r3:eth1";
  // r1 -> r3 leaves here: tx yes, rx is r3's host's.
  EXPECT_EQ(FindValue(*parsed, "emu_link_tx_bytes_total",
                      {{"link", x}, {"direction", "a_to_b"}}),
            7000);
  EXPECT_FALSE(FindValue(*parsed, "emu_link_rx_bytes_total",
                         {{"link", x}, {"direction", "a_to_b"}})
                   .has_value());
  // r3 -> r1 arrives here: rx yes, tx is the other host's.
  EXPECT_EQ(FindValue(*parsed, "emu_link_rx_bytes_total",
                      {{"link", x}, {"direction", "b_to_a"}}),
            6000);
  EXPECT_FALSE(FindValue(*parsed, "emu_link_tx_bytes_total",
                         {{"link", x}, {"direction", "b_to_a"}})
                   .has_value());
  EXPECT_FALSE(FindValue(*parsed, "emu_link_backlog_bytes",
                         {{"link", x}, {"direction", "b_to_a"}})
                   .has_value());
  // Late frames are the sender's: r1 -> r3's here, r3 -> r1's not.
  EXPECT_EQ(FindValue(*parsed, "emu_link_late_packets_total",
                      {{"link", x}, {"direction", "a_to_b"}, {"at_least", "1ms"}}),
            14);
  EXPECT_FALSE(FindValue(*parsed, "emu_link_late_packets_total",
                         {{"link", x}, {"direction", "b_to_a"}})
                   .has_value());
  // A same-host link is all this host's.
  EXPECT_EQ(FindValue(*parsed, "emu_link_rx_bytes_total",
                      {{"link", "r1:eth1<->r2:eth1"}, {"direction", "a_to_b"}}),
            900);
}

TEST(LinkMetricsTest, LargeLabIsCappedAndCountsWhatItLeftOut) {
  emu::v1::LabCounters lab;
  lab.set_lab("big");
  for (int i = 0; i < 500; ++i) {
    auto* l = lab.add_links();
    const std::string a = absl::StrCat("n", i, ":eth1");
    const std::string b = absl::StrCat("n", i + 1, ":eth2");
    l->set_link(absl::StrCat(a, "<->", b));
    *l->mutable_a_to_b() = Dir(a, b, i, i);
    *l->mutable_b_to_a() = Dir(b, a, i, i);
  }
  LinkMetricsOptions options;
  options.max_links_per_lab = 100;
  auto parsed = ParseExposition(Render(LinkCounterFamilies({lab}, options)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->at("emu_link_tx_bytes_total").samples.size(), 200u);
  EXPECT_EQ(FindValue(*parsed, "emu_link_series_omitted", {{"lab", "big"}}),
            400);
  EXPECT_TRUE(FindValue(*parsed, "emu_link_tx_bytes_total",
                        {{"link", "n99:eth1<->n100:eth2"}, {"direction", "a_to_b"}})
                  .has_value());
  EXPECT_FALSE(FindValue(*parsed, "emu_link_tx_bytes_total",
                         {{"link", "n100:eth1<->n101:eth2"}, {"direction", "a_to_b"}})
                   .has_value());
}

}  // namespace
}  // namespace emu::metrics
