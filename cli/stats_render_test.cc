#include "cli/stats_render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::HasSubstr;

TEST(StatsRenderTest, FormatBytes) {
  EXPECT_EQ(FormatBytes(0), "0B");
  EXPECT_EQ(FormatBytes(512), "512B");
  EXPECT_EQ(FormatBytes(1536), "1.5KiB");
  EXPECT_EQ(FormatBytes(12u << 20), "12MiB");
}

TEST(StatsRenderTest, DirectionsAndNodes) {
  emu::v1::LabCounters c;
  auto* l = c.add_links();
  l->set_link("r1:eth1<->r2:eth1");
  auto* d = l->mutable_a_to_b();
  d->set_from("r1:eth1");
  d->set_to("r2:eth1");
  d->set_sent_packets(10);
  d->set_sent_bytes(1500);
  d->set_delivered_packets(9);
  d->set_delivered_bytes(1400);
  d->set_dropped_packets(1);
  d->set_carrier("kernel");
  d->set_rate_bits_per_second(10e6);
  d->set_rate_packets_per_second(830.4);
  auto* n = c.add_nodes();
  n->set_node("r1");
  n->set_host("h1");
  n->set_processes(2);
  n->set_cpu_seconds(1.25);
  n->set_cpu_percent(12.5);
  n->set_memory_bytes(3u << 20);
  c.add_problems("host h2: unreachable");
  std::string out = RenderLabCounters(c, true);
  EXPECT_THAT(out, HasSubstr("r1:eth1  r2:eth1  10p/1.5KiB  9p/1.4KiB"));
  EXPECT_THAT(out, HasSubstr("10Mbit/s 830p/s"));
  EXPECT_THAT(out, HasSubstr("r1    h1    2      1.25s  12.5  3.0MiB"));
  EXPECT_THAT(out, HasSubstr("problem: host h2: unreachable"));
  EXPECT_THAT(RenderLabCounters(c, false), Not(HasSubstr("Mbit/s")));
  // A direction that carried nothing between the samples.
  d->set_rate_bits_per_second(0);
  d->set_rate_packets_per_second(0);
  EXPECT_THAT(RenderLabCounters(c, true), HasSubstr("0bit/s 0p/s"));
}

TEST(StatsRenderTest, LateFramesWhereTheEngineSends) {
  emu::v1::DirectionCounters d;
  d.set_carrier("kernel");
  d.set_late_1ms_packets(3);  // never filled for kernel; not shown
  EXPECT_EQ(FormatLate(d), "-");
  d.set_carrier("engine");
  d.set_late_1ms_packets(0);
  EXPECT_EQ(FormatLate(d), "0");
  d.set_carrier("tunnel+engine");
  d.set_late_1ms_packets(5);
  d.set_late_max_us(28'420);
  EXPECT_EQ(FormatLate(d), "5 (max 28.4ms)");
}

}  // namespace
}  // namespace emu::cli
