#include "agent/guest/guest_config.h"

#include "agent/guest/console_session.h"
#include "agent/guest/testing/fake_console.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::guest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

emu::v1::Node Vm() {
  emu::v1::Node n;
  n.set_name("vm1");
  auto* i = n.add_interfaces();
  i->set_name("eth1");
  i->add_addresses("10.0.1.2/24");
  i->add_addresses("fd00::2/64");
  i->set_mtu(1400);
  n.add_interfaces()->set_name("eth2");  // no address: left to exec lines
  auto* r = n.add_routes();
  r->set_destination("default");
  r->set_via("10.0.1.1");
  (*n.mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  return n;
}

TEST(GuestConfigScript, RenamesInTwoPhasesThenConfigures) {
  std::string s = GuestConfigScript(Vm(), {{"eth1", "02:00:00:00:00:01", 1400},
                                           {"eth2", "02:00:00:00:00:02", 0}});
  size_t tmp1 = s.find("name emutmp1");
  size_t final0 = s.find("ip link set dev emutmp0 name eth1");
  ASSERT_NE(tmp1, std::string::npos);
  ASSERT_NE(final0, std::string::npos);
  EXPECT_LT(tmp1, final0);  // all temporary names before any final name
  EXPECT_THAT(s, HasSubstr("dev_by_mac 02:00:00:00:00:02"));
  EXPECT_THAT(s, HasSubstr("ip link set dev eth1 mtu 1400\n"));
  EXPECT_THAT(s, Not(HasSubstr("dev eth2 mtu")));
  EXPECT_THAT(s, HasSubstr("hostname vm1\n"));
  EXPECT_THAT(s, HasSubstr("echo 1 > /proc/sys/net/ipv4/ip_forward\n"));
  EXPECT_THAT(s, HasSubstr("ip addr replace 10.0.1.2/24 dev eth1\n"));
  EXPECT_THAT(s, HasSubstr("ip addr replace fd00::2/64 dev eth1 nodad\n"));
  EXPECT_THAT(s, Not(HasSubstr("addr flush dev eth2")));
  EXPECT_THAT(s, HasSubstr("ip -4 route replace default via 10.0.1.1\n"));
  EXPECT_LT(s.find("addr replace"), s.find("route replace"));
}

TEST(GuestConfigScript, IsValidShell) {
  // dash -n parses without running: catches quoting mistakes.
  FakeConsole console;
  ShellSession session(&console);
  std::string script = GuestConfigScript(
      Vm(),
      {{"eth1", "02:00:00:00:00:01", 0}, {"eth2", "02:00:00:00:00:02", 0}});
  auto r = session.Run("sh -n <<'EOF_SCRIPT'\n" + script + "EOF_SCRIPT",
                       absl::Seconds(10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->stderr_data;
}

TEST(ArpProbeAddress, TheInterfacesOwnIpv4FirstThenAnyOfTheNodes) {
  emu::v1::Node node;
  auto* eth1 = node.add_interfaces();
  eth1->set_name("eth1");
  eth1->add_addresses("2001:db8::1/64");
  auto* eth2 = node.add_interfaces();
  eth2->set_name("eth2");
  eth2->add_addresses("fd00::2/64");
  eth2->add_addresses("10.0.2.1/24");
  // eth1 has IPv6 only: the guest answers ARP for eth2's address on it.
  EXPECT_EQ(ArpProbeAddress(node, "eth1"), "10.0.2.1");
  eth1->add_addresses("10.0.1.1/24");
  EXPECT_EQ(ArpProbeAddress(node, "eth1"), "10.0.1.1");
  EXPECT_EQ(ArpProbeAddress(node, "eth2"), "10.0.2.1");
  EXPECT_EQ(ArpProbeAddress(node, "eth3"), "10.0.1.1");  // not declared
  emu::v1::Node v6;
  v6.add_interfaces()->set_name("eth1");
  v6.mutable_interfaces(0)->add_addresses("2001:db8::1/64");
  EXPECT_EQ(ArpProbeAddress(v6, "eth1"), "");
}

TEST(GuestQdiscScript, Table) {
  linkemu::QdiscPlan none;
  EXPECT_EQ(GuestQdiscScript("eth1", none),
            "tc qdisc del dev eth1 root 2>/dev/null || true\n");

  linkemu::QdiscPlan tbf;
  tbf.tbf = linkemu::TbfSpec{1250000, 5000, 62500};
  EXPECT_THAT(GuestQdiscScript("eth1", tbf),
              HasSubstr("tc qdisc add dev eth1 root handle 10: tbf rate "
                        "10000000bit burst 5000 limit 62500\n"));

  linkemu::QdiscPlan both = tbf;
  both.netem = linkemu::NetemSpec{};
  both.netem->delay_us = 20000;
  both.netem->jitter_us = 1000;
  both.netem->loss_percent = 0.5;
  std::string s = GuestQdiscScript("eth1", both);
  EXPECT_THAT(s, HasSubstr("tc qdisc add dev eth1 root handle 1: netem "
                           "delay 20000us 1000us loss 0.5%\n"));
  EXPECT_THAT(s, HasSubstr("tc qdisc add dev eth1 parent 1:1 handle 10: tbf"));
}

// What a guest's own NetEm does beyond a host's (issue 10): the link's
// distribution and the engine-era extras reach the guest's tc line, from
// the link's parameters (PlanForLinkParams for a guest sender).
TEST(GuestQdiscScript, CarriesDistributionAndNetemExtras) {
  emu::v1::LinkParams p;
  p.set_delay_us(20000);
  p.set_jitter_us(5000);
  p.set_delay_correlation_percent(25);
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_PARETO_NORMAL);
  p.set_duplicate_percent(1);
  p.set_duplicate_correlation_percent(10);
  p.set_reorder_percent(5);
  p.set_reorder_correlation_percent(50);
  p.set_reorder_gap(3);
  p.set_corrupt_percent(0.1);
  p.set_corrupt_correlation_percent(20);
  p.mutable_gilbert_elliott()->set_p_percent(1);
  p.mutable_gilbert_elliott()->set_r_percent(30);
  p.mutable_gilbert_elliott()->set_loss_in_bad_percent(90);
  p.mutable_gilbert_elliott()->set_loss_in_good_percent(0.5);
  p.set_engine(emu::v1::LINK_ENGINE_KERNEL);  // the guest's own NetEm
  // A host's NetEm cannot: refused there, naming the keys.
  auto host = linkemu::PlanForLinkParams(p);
  ASSERT_FALSE(host.ok());
  EXPECT_THAT(std::string(host.status().message()),
              HasSubstr("distribution, gilbert-elliott, reorder-gap"));
  auto plan = linkemu::PlanForLinkParams(p, /*guest_sender=*/true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(GuestQdiscScript("eth1", *plan),
            "tc qdisc del dev eth1 root 2>/dev/null || true\n"
            "tc qdisc add dev eth1 root handle 1: netem delay 20000us 5000us "
            "25% distribution paretonormal loss gemodel 1% 30% 90% 0.5% "
            "duplicate 1% 10% reorder 5% 50% gap 3 corrupt 0.1% 20%\n");
  // A uniform distribution is netem's own default: not written.
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_UNIFORM);
  p.clear_gilbert_elliott();
  p.set_loss_percent(2);
  p.set_loss_correlation_percent(15);
  plan = linkemu::PlanForLinkParams(p, true);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(GuestQdiscScript("eth1", *plan),
              HasSubstr("netem delay 20000us 5000us 25% loss 2% 15% "
                        "duplicate"));
  // What NetEm has no word for stays the engine's, also in a guest.
  p.set_bit_error_rate(1e-6);
  auto ber = linkemu::PlanForLinkParams(p, true);
  ASSERT_FALSE(ber.ok());
  EXPECT_THAT(std::string(ber.status().message()),
              HasSubstr("ber needs the userspace engine"));
}

}  // namespace
}  // namespace emu::agent::guest
