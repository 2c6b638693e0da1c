// Table tests for the validation and parsing every HostNetwork shares.
#include "agent/net/host_network.h"

#include <sys/socket.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

using ::testing::HasSubstr;

TEST(ValidateNamesTest, Namespace) {
  for (const char* ok : {"a", "emu-h1-lab-r1", "x_y.z"}) {
    EXPECT_TRUE(ValidateNamespaceName(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateNamespaceName(std::string(200, 'n')).ok());
  for (const char* bad : {"", ".", "..", "a/b", "a b", "ä", "x\n"}) {
    EXPECT_EQ(ValidateNamespaceName(bad).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_FALSE(ValidateNamespaceName(std::string(201, 'n')).ok());
}

TEST(ValidateNamesTest, Interface) {
  for (const char* ok : {"eth0", "e", "r1-eth1.100", "123456789012345"}) {
    EXPECT_TRUE(ValidateInterfaceName(ok).ok()) << ok;
  }
  for (const char* bad :
       {"", ".", "..", "1234567890123456", "a/b", "a:b", "a b", "a\tb"}) {
    EXPECT_EQ(ValidateInterfaceName(bad).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ValidateMacTest, Table) {
  for (const char* ok : {"02:00:00:00:00:01", "aa:BB:cc:dd:ee:f0"}) {
    EXPECT_TRUE(ValidateMac(ok).ok()) << ok;
  }
  for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:01:02",
                          "0g:00:00:00:00:01", "2:00:00:00:00:01",
                          "01:00:5e:00:00:01" /* multicast */}) {
    EXPECT_EQ(ValidateMac(bad).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseCidrTest, Valid) {
  struct Case {
    const char* text;
    int family;
    int prefix;
    const char* canonical;
  };
  const Case cases[] = {
      {"10.0.1.1/24", AF_INET, 24, "10.0.1.1/24"},
      {"10.0.1.1", AF_INET, 32, "10.0.1.1/32"},
      {"0.0.0.0/0", AF_INET, 0, "0.0.0.0/0"},
      {"fd00::1/64", AF_INET6, 64, "fd00::1/64"},
      {"FD00:0:0::1/64", AF_INET6, 64, "fd00::1/64"},
      {"fd00::1", AF_INET6, 128, "fd00::1/128"},
      {"::/0", AF_INET6, 0, "::/0"},
  };
  for (const Case& c : cases) {
    auto cidr = ParseCidr(c.text);
    ASSERT_TRUE(cidr.ok()) << c.text << ": " << cidr.status();
    EXPECT_EQ(cidr->family, c.family) << c.text;
    EXPECT_EQ(cidr->prefix_len, c.prefix) << c.text;
    EXPECT_EQ(cidr->ToString(), c.canonical) << c.text;
  }
}

TEST(ParseCidrTest, Invalid) {
  for (const char* bad : {"", "10.0.1/24", "10.0.1.1/33", "10.0.1.1/",
                          "10.0.1.1/-1", "10.0.1.1/+8", "fd00::1/129",
                          "host/24", "10.0.0.256", "10.0.1.1/24/1"}) {
    auto cidr = ParseCidr(bad);
    ASSERT_FALSE(cidr.ok()) << bad;
    EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(cidr.status().message()),
                HasSubstr(std::string("\"") + bad + "\""));
  }
}

TEST(CidrTest, SamePrefix) {
  const Cidr net = *ParseCidr("172.20.20.0/24");
  EXPECT_TRUE(net.SamePrefix(*ParseCidr("172.20.20.99"), 24));
  EXPECT_FALSE(net.SamePrefix(*ParseCidr("172.20.21.1"), 24));
  EXPECT_TRUE(net.SamePrefix(*ParseCidr("172.20.21.1"), 16));
  EXPECT_FALSE(net.SamePrefix(*ParseCidr("fd00::1"), 0));  // family
  EXPECT_TRUE(ParseCidr("fd00:1::/32")->SamePrefix(*ParseCidr("fd00:1:2::5"), 32));
}

TEST(CidrTest, HostBitsAndLinkLocal) {
  EXPECT_TRUE(ParseCidr("10.1.0.0/16")->HostBitsZero());
  EXPECT_FALSE(ParseCidr("10.1.2.3/16")->HostBitsZero());
  EXPECT_TRUE(ParseCidr("10.1.2.3/32")->HostBitsZero());
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->HostBitsZero());
  EXPECT_FALSE(ParseCidr("10.1.0.0/15")->HostBitsZero());
  EXPECT_TRUE(ParseCidr("fd00:1::/32")->HostBitsZero());
  EXPECT_FALSE(ParseCidr("fd00:1::1/64")->HostBitsZero());
  EXPECT_TRUE(ParseCidr("fe80::1/64")->IsIpv6LinkLocal());
  EXPECT_TRUE(ParseCidr("febf::1/64")->IsIpv6LinkLocal());
  EXPECT_FALSE(ParseCidr("fec0::1/64")->IsIpv6LinkLocal());
  EXPECT_FALSE(ParseCidr("10.0.0.1/8")->IsIpv6LinkLocal());
}

TEST(ValidateRouteTest, Table) {
  struct Case {
    HostNetwork::RouteSpec route;
    std::string error;  // empty = valid
  };
  const Case cases[] = {
      {{"10.2.0.0/24", "10.1.0.1", "", 0}, ""},
      {{"default", "10.1.0.1", "", 0}, ""},
      {{"default6", "fd00::1", "", 0}, ""},
      {{"10.2.0.0/24", "", "eth1", 10}, ""},
      {{"10.2.0.0/24", "10.1.0.1", "eth1", 0}, ""},
      {{"10.2.0.1/24", "10.1.0.1", "", 0}, "host bits set"},
      {{"10.2.0.0/24", "", "", 0}, "needs a gateway (via) or an interface"},
      {{"10.2.0.0/24", "fd00::1", "", 0}, "not of the destination's"},
      {{"default6", "10.0.0.1", "", 0}, "not of the destination's"},
      {{"10.2.0.0/24", "10.1.0.1/24", "", 0}, "want a plain address"},
      {{"10.2.0.0/24", "gw", "", 0}, "bad gateway \"gw\""},
      {{"nowhere", "10.1.0.1", "", 0}, "bad address \"nowhere\""},
      {{"10.2.0.0/24", "", "bad/dev", 0}, "bad interface name"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateRoute(c.route);
    if (c.error.empty()) {
      EXPECT_TRUE(s.ok()) << c.route.destination << ": " << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
          << c.route.destination;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.error))
          << c.route.destination;
      EXPECT_THAT(std::string(s.message()),
                  HasSubstr("route " + c.route.destination));
    }
  }
}

TEST(SysctlPathTest, Table) {
  EXPECT_EQ(*SysctlPath("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ(*SysctlPath("net.ipv6.conf.all.forwarding"),
            "/proc/sys/net/ipv6/conf/all/forwarding");
  EXPECT_EQ(*SysctlPath("net.ipv4.conf.r1-eth1.rp_filter"),
            "/proc/sys/net/ipv4/conf/r1-eth1/rp_filter");
  for (const char* bad : {"kernel.hostname", "vm.swappiness", "net", "net.",
                          "net..ipv4", "net.ipv4/../../kernel",
                          "net.ipv4.ip forward", ""}) {
    auto p = SysctlPath(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(SysctlPath("kernel.hostname").status().message()),
              HasSubstr("would change the whole host"));
}

}  // namespace
}  // namespace emu::agent::net
