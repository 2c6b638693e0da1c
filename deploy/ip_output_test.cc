#include "deploy/ip_output.h"

#include "gtest/gtest.h"

namespace emu::deploy {
namespace {

TEST(IpOutputTest, NetnsList) {
  EXPECT_EQ(ParseNetnsList("emuhost-local-h2 (id: 4)\nemu.h1.lab.r1\n\n"),
            (std::vector<std::string>{"emuhost-local-h2", "emu.h1.lab.r1"}));
  EXPECT_TRUE(ParseNetnsList("").empty());
}

TEST(IpOutputTest, LinkNames) {
  const char* out =
      "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN "
      "mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00\n"
      "7: emuv-local-1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master "
      "emubr-local\\    link/ether 02:fc:00:00:00:01\n"
      "8: emubr-local: <BROADCAST,MULTICAST,UP> mtu 1500\n"
      "garbage\n";
  EXPECT_EQ(ParseLinkNames(out),
            (std::vector<std::string>{"lo", "emuv-local-1", "emubr-local"}));
}

TEST(IpOutputTest, Ipv4Addresses) {
  const char* out =
      "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n"
      "8: emubr-local    inet 198.18.0.1/24 scope global emubr-local\\  x\n"
      "9: eth0    inet6 fe80::1/64 scope link\n";
  std::vector<InterfaceAddress> got = ParseIpv4Addresses(out);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ifname, "lo");
  EXPECT_EQ(got[0].cidr, "127.0.0.1/8");
  EXPECT_EQ(got[1].ifname, "emubr-local");
  EXPECT_EQ(got[1].cidr, "198.18.0.1/24");
}

}  // namespace
}  // namespace emu::deploy
