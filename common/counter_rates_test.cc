#include "common/counter_rates.h"

#include "gtest/gtest.h"

namespace emu {
namespace {

emu::v1::LabCounters Sample(int64_t us, uint64_t bytes, uint64_t packets,
                            double cpu) {
  emu::v1::LabCounters c;
  c.set_time_unix_us(us);
  auto* l = c.add_links();
  l->set_link("r1:eth1<->r2:eth1");
  l->mutable_a_to_b()->set_delivered_bytes(bytes);
  l->mutable_a_to_b()->set_delivered_packets(packets);
  l->mutable_b_to_a()->set_delivered_bytes(bytes / 2);
  auto* n = c.add_nodes();
  n->set_node("r1");
  n->set_cpu_seconds(cpu);
  return c;
}

TEST(CounterRatesTest, RatePerSecond) {
  EXPECT_DOUBLE_EQ(RatePerSecond(100, 350, 0.5), 500);
  EXPECT_DOUBLE_EQ(RatePerSecond(100, 100, 1), 0);
  EXPECT_DOUBLE_EQ(RatePerSecond(500, 100, 1), 0);  // re-created: reset
  EXPECT_DOUBLE_EQ(RatePerSecond(0, 100, 0), 0);     // no time passed
}

TEST(CounterRatesTest, RatesFromTwoSamples) {
  // 2 s apart: 2,500,000 bytes -> 10 Mbit/s; 2000 packets -> 1000/s.
  auto rated = WithRates(Sample(1000000, 1000000, 1000, 3.0),
                         Sample(3000000, 3500000, 3000, 4.0));
  const auto& d = rated.links(0).a_to_b();
  EXPECT_DOUBLE_EQ(d.rate_bits_per_second(), 10e6);
  EXPECT_DOUBLE_EQ(d.rate_packets_per_second(), 1000);
  EXPECT_DOUBLE_EQ(rated.links(0).b_to_a().rate_bits_per_second(), 5e6);
  EXPECT_DOUBLE_EQ(rated.nodes(0).cpu_percent(), 50);
  // The counters themselves are the later sample's.
  EXPECT_EQ(d.delivered_bytes(), 3500000u);
}

TEST(CounterRatesTest, UnmatchedAndResetObjectsGetZero) {
  emu::v1::LabCounters earlier = Sample(0, 5000, 50, 9.0);
  earlier.mutable_links(0)->set_link("other");
  earlier.mutable_nodes(0)->set_node("other");
  auto rated = WithRates(earlier, Sample(1000000, 100, 1, 1.0));
  EXPECT_DOUBLE_EQ(rated.links(0).a_to_b().rate_bits_per_second(), 0);
  EXPECT_DOUBLE_EQ(rated.nodes(0).cpu_percent(), 0);
  auto reset = WithRates(Sample(0, 5000, 50, 9.0), Sample(1000000, 100, 1, 1.0));
  EXPECT_DOUBLE_EQ(reset.links(0).a_to_b().rate_bits_per_second(), 0);
  EXPECT_DOUBLE_EQ(reset.nodes(0).cpu_percent(), 0);
}

}  // namespace
}  // namespace emu
