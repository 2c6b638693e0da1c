// FillLinkEngines: the ENGINE of `emuctl status`, as the agents will
// decide it, for same-host, tunnel and VXLAN links.
#include "controller/lab/link_state.h"

#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

emu::v1::HostStatus Host(const std::string& name, bool netem) {
  emu::v1::HostStatus h;
  h.set_name(name);
  h.set_reachable(true);
  h.mutable_capabilities()->set_netem(netem);
  h.mutable_capabilities()->set_userspace_engine(true);
  return h;
}

emu::v1::LinkStatus* AddLink(emu::v1::Lab* lab, const std::string& a,
                             const std::string& b, const std::string& ha,
                             const std::string& hb) {
  auto* l = lab->add_links();
  l->mutable_link()->mutable_a()->set_node(a);
  l->mutable_link()->mutable_a()->set_interface("eth1");
  l->mutable_link()->mutable_b()->set_node(b);
  l->mutable_link()->mutable_b()->set_interface("eth1");
  l->set_host_a(ha);
  l->set_host_b(hb);
  return l;
}

TEST(FillLinkEnginesTest, AVxlanLinkIsShapedByTheKernelOnly) {
  emu::v1::Lab lab;
  // r1 on h1 (no NetEm), r2 on h2 (NetEm): a-to-b rate only, b-to-a a delay.
  auto* l = AddLink(&lab, "r1", "r2", "h1", "h2");
  l->mutable_link()->mutable_a_to_b()->set_rate_bps(10'000'000);
  l->mutable_link()->mutable_b_to_a()->set_delay_us(5'000);
  auto* same = AddLink(&lab, "r3", "r4", "h1", "h1");
  same->mutable_link()->mutable_a_to_b()->set_delay_us(5'000);
  const std::vector<emu::v1::HostStatus> hosts = {Host("h1", false),
                                                  Host("h2", true)};

  // The tunnel carrier: the engine where the kernel lacks NetEm.
  emu::v1::Lab tunnel = lab;
  FillLinkEngines(hosts, &tunnel);
  EXPECT_EQ(tunnel.links(0).engine_a_to_b(), "kernel");
  EXPECT_EQ(tunnel.links(0).engine_b_to_a(), "kernel");
  EXPECT_EQ(tunnel.links(1).engine_a_to_b(), "userspace");
  tunnel.mutable_topology()->set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  FillLinkEngines(hosts, &tunnel);
  EXPECT_EQ(tunnel.links(0).engine_a_to_b(), "userspace");
  EXPECT_EQ(tunnel.links(0).engine_b_to_a(), "userspace");

  // VXLAN: the kernel, both ways; the same-host link is unchanged.
  emu::v1::Lab vxlan = lab;
  vxlan.mutable_topology()->set_carrier("vxlan");
  FillLinkEngines(hosts, &vxlan);
  EXPECT_EQ(vxlan.links(0).engine_a_to_b(), "kernel");
  EXPECT_EQ(vxlan.links(0).engine_b_to_a(), "kernel");
  EXPECT_EQ(vxlan.links(1).engine_a_to_b(), "userspace");
  // A delay from h1 (no NetEm) cannot be sent into a VXLAN device: "?"
  // (placement refuses such a lab before it runs).
  vxlan.mutable_links(0)->mutable_link()->mutable_a_to_b()->set_delay_us(1'000);
  FillLinkEngines(hosts, &vxlan);
  EXPECT_EQ(vxlan.links(0).engine_a_to_b(), "?");
  // engine: userspace on a VXLAN link without conditions: nothing applies.
  emu::v1::Lab bare;
  bare.mutable_topology()->set_carrier("vxlan");
  bare.mutable_topology()->set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  AddLink(&bare, "r1", "r2", "h1", "h2");
  FillLinkEngines(hosts, &bare);
  EXPECT_EQ(bare.links(0).engine_a_to_b(), "none");
}

TEST(FillLinkEnginesTest, CompensatedDelaysShowTheEngineEvenWithNetem) {
  emu::v1::Lab lab;
  // r1 and r2 on h2 (NetEm), r1 on h2 to r3 on h1: a delay each way.
  auto* same = AddLink(&lab, "r1", "r2", "h2", "h2");
  same->mutable_link()->mutable_a_to_b()->set_delay_us(5'000);
  same->mutable_link()->mutable_b_to_a()->set_delay_us(5'000);
  auto* cross = AddLink(&lab, "r2", "r3", "h2", "h1");
  cross->mutable_link()->mutable_a_to_b()->set_delay_us(5'000);
  const std::vector<emu::v1::HostStatus> hosts = {Host("h1", false),
                                                  Host("h2", true)};
  emu::v1::Lab plain = lab;
  FillLinkEngines(hosts, &plain);
  EXPECT_EQ(plain.links(0).engine_a_to_b(), "kernel");
  EXPECT_EQ(plain.links(1).engine_a_to_b(), "kernel");
  // The lab's compensate: true: only the engine subtracts the base.
  emu::v1::Lab compensated = lab;
  compensated.mutable_topology()->set_compensate(true);
  FillLinkEngines(hosts, &compensated);
  EXPECT_EQ(compensated.links(0).engine_a_to_b(), "userspace");
  EXPECT_EQ(compensated.links(0).engine_b_to_a(), "userspace");
  EXPECT_EQ(compensated.links(1).engine_a_to_b(), "userspace");
  // VXLAN devices are never compensated: NetEm stays.
  compensated.mutable_topology()->set_carrier("vxlan");
  FillLinkEngines(hosts, &compensated);
  EXPECT_EQ(compensated.links(1).engine_a_to_b(), "kernel");
}

}  // namespace
}  // namespace emu::controller::lab
