#include "deploy/local_cluster_layout.h"

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::deploy {
namespace {

using ::testing::HasSubstr;

TEST(LocalClusterLayoutTest, DefaultLocalCluster) {
  absl::StatusOr<LocalClusterLayout> l = MakeLocalClusterLayout({});
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->id, "local");
  EXPECT_EQ(l->subnet, "198.18.0.0/24");
  EXPECT_EQ(l->bridge, "emubr-local");
  EXPECT_EQ(l->bridge_cidr, "198.18.0.1/24");
  EXPECT_EQ(l->state_dir, "/run/emu/local");
  EXPECT_EQ(l->token_file, "/run/emu/local/token");
  EXPECT_EQ(l->cluster_file, "/run/emu/local/cluster.json");
  EXPECT_EQ(l->controller_log, "/run/emu/local/logs/controller.log");
  ASSERT_EQ(l->hosts.size(), static_cast<size_t>(kDefaultHosts));
  EXPECT_EQ(l->hosts[0].name, "h1");
  EXPECT_EQ(l->hosts[0].cidr, "198.18.0.11/24");

  LocalClusterOptions two;
  two.hosts = 2;
  l = MakeLocalClusterLayout(two);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->hosts.size(), 2u);
  const LocalHostLayout& h2 = l->hosts[1];
  EXPECT_EQ(h2.index, 2);
  EXPECT_EQ(h2.name, "h2");
  EXPECT_EQ(h2.netns, "emuhost-local-h2");
  EXPECT_EQ(h2.veth, "emuv-local-2");
  EXPECT_EQ(h2.cidr, "198.18.0.12/24");
  EXPECT_EQ(h2.agent_address, "198.18.0.12:7471");
  EXPECT_EQ(h2.state_dir, "/run/emu/local/agents/h2");
  EXPECT_EQ(h2.port_file, "/run/emu/local/agents/h2.port");
  EXPECT_EQ(h2.log_path, "/run/emu/local/logs/h2.log");
}

TEST(LocalClusterLayoutTest, OtherIdPrefixesHostNamesAndFitsIfnamsiz) {
  LocalClusterOptions o;
  o.id = "t1234567";  // 8 chars: too long
  EXPECT_EQ(MakeLocalClusterLayout(o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.id = "t123456";
  o.hosts = kMaxHosts;
  o.subnet = "10.99.0.0/16";
  o.state_root = "/tmp/x/";
  absl::StatusOr<LocalClusterLayout> l = MakeLocalClusterLayout(o);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->state_dir, "/tmp/x/t123456");
  EXPECT_EQ(l->bridge_cidr, "10.99.0.1/16");
  const LocalHostLayout& last = l->hosts.back();
  EXPECT_EQ(last.name, "t123456-h99");
  EXPECT_EQ(last.veth, "emuv-t123456-99");
  EXPECT_LE(last.veth.size(), 15u);
  EXPECT_LE(l->bridge.size(), 15u);
  EXPECT_EQ(last.cidr, "10.99.0.109/16");
}

TEST(LocalClusterLayoutTest, RejectsBadOptions) {
  struct Case {
    LocalClusterOptions options;
    const char* want;
  } cases[] = {
      {{"", 2, kDefaultSubnet, "/run/emu"}, "1 to 7 characters"},
      {{"Local", 2, kDefaultSubnet, "/run/emu"}, "lowercase letter"},
      {{"1abc", 2, kDefaultSubnet, "/run/emu"}, "lowercase letter"},
      {{"a-b", 2, kDefaultSubnet, "/run/emu"}, "only lowercase"},
      {{"a.b", 2, kDefaultSubnet, "/run/emu"}, "only lowercase"},
      {{"local", 0, kDefaultSubnet, "/run/emu"}, "out of range"},
      {{"local", 100, kDefaultSubnet, "/run/emu"}, "out of range"},
      {{"local", 2, "198.18.0.0/25", "/run/emu"},
       "prefix length must be 8..24"},
      {{"local", 2, "198.18.0.0", "/run/emu"}, "prefix length must be 8..24"},
      {{"local", 2, "198.18.0.5/24", "/run/emu"}, "did you mean 198.18.0.0/24"},
      {{"local", 2, "198.18.0/24", "/run/emu"}, "want a.b.c.d"},
      {{"local", 2, "fd00::/64", "/run/emu"}, "want a.b.c.d"},
      {{"local", 2, "300.1.1.0/24", "/run/emu"}, "0..255"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LocalClusterLayout> l = MakeLocalClusterLayout(c.options);
    ASSERT_FALSE(l.ok()) << c.options.id << " " << c.options.subnet;
    EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(l.status().message()), HasSubstr(c.want));
  }
}

TEST(LocalClusterLayoutTest, EngineThreadsAndNiceInRange) {
  LocalClusterOptions o;
  o.engine_threads = 0;
  o.engine_nice = -20;
  EXPECT_TRUE(MakeLocalClusterLayout(o).ok());
  o.engine_threads = 64;
  o.engine_nice = 19;
  EXPECT_TRUE(MakeLocalClusterLayout(o).ok());
  struct Case {
    int threads, nice;
    const char* want;
  } cases[] = {
      {65, 0, "--engine-threads 65: want 0 (no userspace engine) to 64"},
      {-2, 0, "--engine-threads -2"},
      {1, -21, "--engine-nice: nice -21 is outside -20..19"},
      {1, 20, "--engine-nice: nice 20 is outside"},
  };
  for (const Case& c : cases) {
    o.engine_threads = c.threads;
    o.engine_nice = c.nice;
    absl::StatusOr<LocalClusterLayout> l = MakeLocalClusterLayout(o);
    ASSERT_FALSE(l.ok()) << c.threads << " " << c.nice;
    EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(l.status().message()), HasSubstr(c.want));
  }
}

TEST(LocalClusterLayoutTest, ParsesOwnNamesOnly) {
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h1"), 1);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h99"), 99);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h0"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h01"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h100"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local-h1x"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("loc", "emuhost-local-h1"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("local", "emuhost-local2-h1"), std::nullopt);
  EXPECT_EQ(ParseHostNetns("local", "emu.h1.lab.r1"), std::nullopt);
  EXPECT_EQ(ParseHostVeth("local", "emuv-local-3"), 3);
  EXPECT_EQ(ParseHostVeth("local", "emuv-local-"), std::nullopt);
  EXPECT_EQ(ParseHostVeth("l", "emuv-local-3"), std::nullopt);
  EXPECT_EQ(BridgeName("local"), "emubr-local");
}

TEST(Ipv4NetTest, ParseFormatOverlap) {
  absl::StatusOr<Ipv4Net> a = ParseIpv4Net("198.18.0.0/24");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(FormatIpv4(a->address), "198.18.0.0");
  EXPECT_EQ(a->prefix_length, 24);
  absl::StatusOr<Ipv4Net> host = ParseIpv4Net("198.18.0.77");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->prefix_length, 32);
  EXPECT_TRUE(Overlaps(*a, *host));
  EXPECT_TRUE(Overlaps(*a, *ParseIpv4Net("198.0.0.0/8")));
  EXPECT_FALSE(Overlaps(*a, *ParseIpv4Net("198.18.1.0/24")));
  EXPECT_FALSE(Overlaps(*a, *ParseIpv4Net("10.0.0.1/8")));
  EXPECT_FALSE(ParseIpv4Net("1.2.3.4/33").ok());
  EXPECT_FALSE(ParseIpv4Net("1.2.3.4/").ok());
  EXPECT_FALSE(ParseIpv4Net("1.2.3.4/2/3").ok());
  EXPECT_FALSE(ParseIpv4Net("1.2.3.+4").ok());
}

TEST(LocalClusterLayoutTest, ClusterHostNamesParseBack) {
  EXPECT_EQ(ClusterHostName("local", 3), "h3");
  EXPECT_EQ(ClusterHostName("x9843", 2), "x9843-h2");
  EXPECT_EQ(ParseClusterHostName("x9843", "x9843-h2"), 2);
  EXPECT_EQ(ParseClusterHostName("local", "h12"), 12);
  EXPECT_EQ(ParseClusterHostName("x9843", "x98430-h2"), std::nullopt);
  EXPECT_EQ(ParseClusterHostName("x9843", "x9843-h2x"), std::nullopt);
  EXPECT_EQ(ParseClusterHostName("x9843", "x9843-h0"), std::nullopt);
  EXPECT_EQ(ParseClusterHostName("local", "x9843-h2"), std::nullopt);
}

}  // namespace
}  // namespace emu::deploy
