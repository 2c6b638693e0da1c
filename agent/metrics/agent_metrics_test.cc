#include "agent/metrics/agent_metrics.h"

#include "common/metrics/testing/exposition_parser.h"
#include "gtest/gtest.h"

namespace emu::agent::metrics {
namespace {

using emu::metrics::Render;
using emu::metrics::testing::FindValue;
using emu::metrics::testing::ParseExposition;

TEST(AgentMetricsTest, NodesByKindFromTheSavedSpecs) {
  emu::v1::ApplyLabRequest a, b;
  a.set_lab("admin+core");
  a.add_nodes()->set_kind(emu::v1::NODE_KIND_NETNS);
  a.add_nodes()->set_kind(emu::v1::NODE_KIND_NETNS);
  b.set_lab("alice+x");
  b.add_nodes()->set_kind(emu::v1::NODE_KIND_QEMU);
  auto parsed = ParseExposition(Render(SpecFamilies({a, b})));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_agent_labs"), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_agent_nodes", {{"kind", "netns"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_agent_nodes", {{"kind", "qemu"}}), 1);
}

TEST(AgentMetricsTest, TunnelStatesAndReconnects) {
  tunnel::TunnelStatus up, down, fresh;
  up.spec.lab = "admin+core";
  up.spec.link_id = "r1:eth1<->r2:eth1";
  up.up = true;
  up.stats.connections = 3;
  down.spec.lab = "admin+core";
  down.spec.link_id = "r1:eth2<->r3:eth1";
  down.stats.connections = 1;
  fresh.spec.lab = "alice+x";
  fresh.spec.link_id = "a:e<->b:e";
  auto parsed = ParseExposition(Render(TunnelFamilies({up, down, fresh})));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_tunnels", {{"state", "up"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnels", {{"state", "down"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnel_up", {{"link", "r1:eth1<->r2:eth1"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnel_up", {{"link", "r1:eth2<->r3:eth1"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnel_reconnects_total",
                      {{"link", "r1:eth1<->r2:eth1"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnel_reconnects_total", {{"lab", "alice+x"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_tunnel_connections_total",
                      {{"link", "r1:eth1<->r2:eth1"}}), 3);
}

TEST(AgentMetricsTest, EngineLinksPerLab) {
  std::vector<impair::EngineLinks::Served> served = {
      {"admin+core", "a", std::nullopt},
      {"admin+core", "b", std::nullopt},
      {"bob+y", "c", std::nullopt}};
  auto parsed = ParseExposition(Render(EngineFamilies(served)));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_engine_links", {{"lab", "admin+core"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_engine_links", {{"lab", "bob+y"}}), 1);
}

TEST(AgentMetricsTest, NoTunnelsStillSaysZero) {
  auto parsed = ParseExposition(Render(TunnelFamilies({})));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_tunnels", {{"state", "up"}}), 0);
}

}  // namespace
}  // namespace emu::agent::metrics
