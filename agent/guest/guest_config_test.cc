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

}  // namespace
}  // namespace emu::agent::guest
