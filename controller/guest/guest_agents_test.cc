#include "controller/guest/guest_agents.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::guest {
namespace {

using ::testing::HasSubstr;

emu::v1::Lab TwoNodes() {
  emu::v1::Lab lab;
  lab.set_name("core");
  lab.set_state(emu::v1::RUNNING);
  auto* vm = lab.add_nodes();
  vm->set_name("vm1");
  vm->set_kind(emu::v1::NODE_KIND_QEMU);
  vm->set_host("h2");
  auto* ns = lab.add_nodes();
  ns->set_name("r1");
  ns->set_kind(emu::v1::NODE_KIND_NETNS);
  ns->set_host("h1");
  return lab;
}

TEST(GuestHostTest, AGuestIsOnItsHost) {
  auto host = GuestHost(TwoNodes(), "alice/core", "vm1");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(*host, "h2");
}

TEST(GuestHostTest, ANamespaceNodeIsNotAGuest) {
  auto host = GuestHost(TwoNodes(), "alice/core", "r1");
  EXPECT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(),
              HasSubstr("node r1 of lab alice/core is not a qemu guest"));
}

TEST(GuestHostTest, AnUnknownNodeIsNotFoundNamingTheLab) {
  auto host = GuestHost(TwoNodes(), "alice/core", "vm9");
  EXPECT_EQ(host.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(host.status().message(), HasSubstr("lab alice/core has no node vm9"));
}

TEST(GuestHostTest, AGuestNotPlacedYetHasNoHost) {
  emu::v1::Lab lab = TwoNodes();
  lab.set_state(emu::v1::DEPLOYING);
  lab.mutable_nodes(0)->clear_host();
  auto host = GuestHost(lab, "core", "vm1");
  EXPECT_EQ(host.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(host.status().message(), HasSubstr("DEPLOYING"));
}

TEST(GrpcGuestAgentsTest, AnUnknownHostIsNotFound) {
  hosts::HostRegistry registry;
  GrpcGuestAgents agents(&registry, "t0k", TransportSecurity::Plaintext());
  auto stub = agents.Stub("h9");
  EXPECT_EQ(stub.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(stub.status().message(), HasSubstr("host h9"));
  EXPECT_EQ(agents.token(), "t0k");
}

}  // namespace
}  // namespace emu::controller::guest
