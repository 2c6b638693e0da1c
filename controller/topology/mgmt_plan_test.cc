#include "controller/topology/mgmt_plan.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

MgmtNodeAsk Ask(const std::string& node, const std::string& ipv4 = "",
                const std::string& ipv6 = "") {
  MgmtNodeAsk a;
  a.node = node;
  a.line = 10;
  a.ipv4 = ipv4;
  a.ipv6 = ipv6;
  a.ipv4_line = ipv4.empty() ? 0 : 11;
  a.ipv6_line = ipv6.empty() ? 0 : 12;
  return a;
}

std::vector<std::string> Causes(const std::vector<MgmtProblem>& problems) {
  std::vector<std::string> out;
  for (const MgmtProblem& p : problems) {
    out.push_back(p.object + ": " + p.cause);
  }
  return out;
}

TEST(MgmtPlanTest, ContainerlabsDefaultsAndFileOrder) {
  MgmtPlan plan = PlanManagementNetwork(
      {}, {Ask("a"), Ask("b", "172.20.20.2"), Ask("c"), Ask("d", "", "3fff:172:20:20::99")});
  EXPECT_THAT(plan.errors, IsEmpty());
  EXPECT_EQ(plan.net.network(), "clab");
  EXPECT_EQ(plan.net.ipv4_subnet(), "172.20.20.0/24");
  EXPECT_EQ(plan.net.ipv4_gateway(), "172.20.20.1/24");
  EXPECT_EQ(plan.net.ipv6_subnet(), "3fff:172:20:20::/64");
  EXPECT_EQ(plan.net.ipv6_gateway(), "3fff:172:20:20::1/64");
  // b's own address first; the others get the lowest free in file order.
  EXPECT_THAT(plan.addresses["a"],
              ElementsAre("172.20.20.3/24", "3fff:172:20:20::2/64"));
  EXPECT_THAT(plan.addresses["b"],
              ElementsAre("172.20.20.2/24", "3fff:172:20:20::3/64"));
  EXPECT_THAT(plan.addresses["c"],
              ElementsAre("172.20.20.4/24", "3fff:172:20:20::4/64"));
  EXPECT_THAT(plan.addresses["d"],
              ElementsAre("172.20.20.5/24", "3fff:172:20:20::99/64"));
}

TEST(MgmtPlanTest, OneSubnetGivenMeansOnlyThatFamily) {
  MgmtSettings s;
  s.net.set_ipv4_subnet("10.77.0.0/16");
  s.net.set_ipv4_gateway("10.77.255.254");
  MgmtPlan plan = PlanManagementNetwork(s, {Ask("a")});
  EXPECT_THAT(plan.errors, IsEmpty());
  EXPECT_EQ(plan.net.ipv4_gateway(), "10.77.255.254/16");
  EXPECT_EQ(plan.net.ipv6_subnet(), "");
  EXPECT_THAT(plan.addresses["a"], ElementsAre("10.77.0.1/16"));
}

TEST(MgmtPlanTest, RangeBoundsTheDynamicAddressesAndRunsOut) {
  MgmtSettings s;
  s.net.set_ipv4_subnet("172.20.30.0/24");
  s.ipv4_range = "172.20.30.8/30";
  MgmtPlan plan = PlanManagementNetwork(
      s, {Ask("a"), Ask("b", "172.20.30.9"), Ask("c"), Ask("d"), Ask("e")});
  EXPECT_THAT(plan.addresses["a"], ElementsAre("172.20.30.8/24"));
  EXPECT_THAT(plan.addresses["b"], ElementsAre("172.20.30.9/24"));
  EXPECT_THAT(plan.addresses["c"], ElementsAre("172.20.30.10/24"));
  EXPECT_THAT(plan.addresses["d"], ElementsAre("172.20.30.11/24"));
  EXPECT_THAT(Causes(plan.errors),
              ElementsAre("node e: no free ipv4 management address left in "
                          "172.20.30.8/30 (mgmt: ipv4-range)"));
}

TEST(MgmtPlanTest, BadSettingsAndAddressesAreRefused) {
  MgmtSettings s;
  s.net.set_ipv4_subnet("172.20.30.5/24");
  EXPECT_THAT(Causes(PlanManagementNetwork(s, {Ask("a")}).errors),
              ElementsAre("mgmt: ipv4-subnet 172.20.30.5/24 has host bits "
                          "set: did you mean 172.20.30.0/24?"));
  s.net.set_ipv4_subnet("fd00::/64");
  EXPECT_THAT(Causes(PlanManagementNetwork(s, {Ask("a")}).errors),
              ElementsAre("mgmt: ipv4-subnet \"fd00::/64\" is not an IPv4 "
                          "subnet"));
  s.net.set_ipv4_subnet("172.20.30.0/24");
  s.net.set_ipv4_gateway("172.20.31.1");
  EXPECT_THAT(Causes(PlanManagementNetwork(s, {Ask("a")}).errors),
              ElementsAre("mgmt: ipv4-gw 172.20.31.1: is outside "
                          "172.20.30.0/24"));
  s.net.clear_ipv4_gateway();
  EXPECT_THAT(
      Causes(PlanManagementNetwork(
                 s, {Ask("a", "172.20.30.255"), Ask("b", "172.20.30.4/16"),
                     Ask("c", "fd00::1")})
                 .errors),
      ElementsAre("node a: mgmt-ipv4 172.20.30.255: is the broadcast "
                  "address of 172.20.30.0/24",
                  "node b: mgmt-ipv4 172.20.30.4/16: has prefix length 16; "
                  "the management subnet's is 24 (write the bare address)",
                  "node c: mgmt-ipv4 fd00::1: is not an IPv4 address"));
}

TEST(MgmtPlanTest, NodesOffTheNetworkGetNothingAndTheirAddressesWarn) {
  MgmtNodeAsk off = Ask("host-mode", "172.20.20.9");
  off.attached = false;
  MgmtPlan plan = PlanManagementNetwork({}, {off, Ask("a")});
  EXPECT_THAT(plan.errors, IsEmpty());
  EXPECT_EQ(plan.addresses.count("host-mode"), 0u);
  EXPECT_THAT(plan.addresses["a"],
              ElementsAre("172.20.20.2/24", "3fff:172:20:20::2/64"));
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_EQ(plan.warnings[0].line, 11);
  EXPECT_EQ(plan.warnings[0].object, "node host-mode");
}

}  // namespace
}  // namespace emu::controller::topology
