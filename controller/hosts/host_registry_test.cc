#include "controller/hosts/host_registry.h"

#include "controller/hosts/testing/fake_agent_client.h"
#include "gtest/gtest.h"

namespace emu::controller::hosts {
namespace {

emu::v1::Capabilities Caps(uint32_t cpus) {
  emu::v1::Capabilities c;
  c.set_cpus(cpus);
  c.set_tunnel_address("198.18.0.11:7472");
  return c;
}

TEST(HostRegistryTest, RegisterAddsRefreshesAndSpotsRestarts) {
  HostRegistry hosts;
  int clients = 0;
  FakeAgentClient* last = nullptr;
  auto make = [&]() -> std::unique_ptr<AgentClient> {
    ++clients;
    auto c = std::make_unique<FakeAgentClient>("h1");
    last = c.get();
    return c;
  };
  auto r = hosts.Register("h1", "198.18.0.11:7471", Caps(4), "boot-1", make);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->new_host);
  EXPECT_EQ(clients, 1);
  auto snap = hosts.Snapshot();
  ASSERT_EQ(snap.size(), 1u);
  EXPECT_EQ(snap[0].capabilities().cpus(), 4u);
  EXPECT_EQ(snap[0].capabilities().tunnel_address(), "198.18.0.11:7472");
  EXPECT_FALSE(hosts.Reachable("h1"));  // until the controller reaches it
  hosts.Refresh(absl::Seconds(1));
  EXPECT_TRUE(hosts.Reachable("h1"));
  EXPECT_TRUE(hosts.TakeReturnedHosts().empty());  // first contact

  // Heartbeat: same instance, nothing new.
  r = hosts.Register("h1", "198.18.0.11:7471", Caps(4), "boot-1", make);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->new_host);
  EXPECT_FALSE(r->restarted);
  EXPECT_EQ(clients, 1);

  // A restarted agent (new instance id) is queued for a resync.
  r = hosts.Register("h1", "198.18.0.11:7471", Caps(4), "boot-2", make);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->restarted);
  EXPECT_EQ(hosts.TakeReturnedHosts(), std::vector<std::string>{"h1"});
  EXPECT_TRUE(hosts.TakeReturnedHosts().empty());

  // A new address gets a new client.
  r = hosts.Register("h1", "198.18.0.99:7471", Caps(8), "boot-2", make);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(clients, 2);
  EXPECT_EQ(hosts.Snapshot()[0].address(), "198.18.0.99:7471");
  EXPECT_EQ(*hosts.Client("h1"), last);

  // Unreachable, then back: queued.
  last->SetReachable(false);
  hosts.Refresh(absl::Seconds(1));
  EXPECT_FALSE(hosts.Reachable("h1"));
  last->SetReachable(true);
  hosts.Refresh(absl::Seconds(1));
  EXPECT_EQ(hosts.TakeReturnedHosts(), std::vector<std::string>{"h1"});
}

TEST(HostRegistryTest, RegisterCannotMoveAStaticHost) {
  HostRegistry hosts;
  ASSERT_TRUE(
      hosts.Add("h1", "10.0.0.1:7471", std::make_unique<FakeAgentClient>("h1"))
          .ok());
  auto make = [] { return std::make_unique<FakeAgentClient>("h1"); };
  auto moved = hosts.Register("h1", "10.0.0.2:7471", Caps(2), "x", make);
  EXPECT_EQ(moved.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(moved.status().message().find("--agents list at 10.0.0.1:7471"),
            std::string::npos);
  auto same = hosts.Register("h1", "10.0.0.1:7471", Caps(2), "x", make);
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->new_host);
}

TEST(HostRegistryTest, ParseAgentList) {
  auto l = ParseAgentList("h1=127.0.0.1:7471, h2=10.0.0.2:7471");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->size(), 2u);
  EXPECT_FALSE(ParseAgentList("h1=nohostport").ok());
  EXPECT_FALSE(ParseAgentList("h1=a:1,h1=b:2").ok());
}

// --agents names become namespace names on the agents: the same rule as
// lab, node and registered host names (emu::CheckName).
TEST(HostRegistryTest, ParseAgentListChecksNames) {
  for (const char* flag :
       {"h.1=127.0.0.1:7471", "h/1=127.0.0.1:7471", "h 1=127.0.0.1:7471",
        "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh=127.0.0.1:7471"}) {
    auto l = ParseAgentList(flag);
    ASSERT_FALSE(l.ok()) << flag;
    EXPECT_EQ(l.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(l.status().message().find("agent name"), std::string::npos)
        << l.status().message();
  }
  EXPECT_TRUE(ParseAgentList("h-1_a=127.0.0.1:7471").ok());
}

}  // namespace
}  // namespace emu::controller::hosts
