#include "controller/hosts/registration_service.h"

#include <vector>

#include "controller/hosts/testing/fake_agent_client.h"
#include "gtest/gtest.h"

namespace emu::controller::hosts {
namespace {

class RegistrationServiceTest : public ::testing::Test {
 protected:
  RegistrationServiceTest()
      : pool_(1),
        service_(
            &hosts_, "", &pool_,
            [this](const std::string& host, const std::string& address) {
              made_.push_back(host + "@" + address);
              return std::make_unique<FakeAgentClient>(host);
            },
            absl::Seconds(2),
            [this](const std::string& line) { log_.push_back(line); }) {}

  emu::v1::RegisterRequest Request(const std::string& host,
                                   const std::string& address,
                                   const std::string& instance) {
    emu::v1::RegisterRequest r;
    r.set_host(host);
    r.set_agent_address(address);
    r.set_instance_id(instance);
    r.mutable_capabilities()->set_cpus(2);
    r.mutable_capabilities()->set_memory_mib(4096);
    r.mutable_capabilities()->set_tunnel_address("10.1.0.2:7472");
    return r;
  }

  HostRegistry hosts_;
  ThreadPool pool_;
  std::vector<std::string> made_;
  std::vector<std::string> log_;
  RegistrationServiceImpl service_;
};

TEST_F(RegistrationServiceTest, RegistersHeartbeatsAndSeesRestarts) {
  emu::v1::RegisterResponse resp;
  ASSERT_TRUE(
      service_.Handle(Request("h1", "10.1.0.2:7471", "i1"), &resp).ok());
  EXPECT_TRUE(resp.new_host());
  EXPECT_EQ(resp.heartbeat_interval_ms(), 2000u);
  EXPECT_EQ(made_, std::vector<std::string>{"h1@10.1.0.2:7471"});
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            "host h1 registered from 10.1.0.2:7471 (2 CPUs, 4096 MiB, tunnel "
            "10.1.0.2:7472)");
  hosts_.Refresh(absl::Seconds(1));
  EXPECT_TRUE(hosts_.Reachable("h1"));

  ASSERT_TRUE(
      service_.Handle(Request("h1", "10.1.0.2:7471", "i1"), &resp).ok());
  EXPECT_FALSE(resp.new_host());
  EXPECT_EQ(log_.size(), 1u);

  ASSERT_TRUE(
      service_.Handle(Request("h1", "10.1.0.2:7471", "i2"), &resp).ok());
  EXPECT_EQ(log_.size(), 2u);
  EXPECT_EQ(hosts_.TakeReturnedHosts(), std::vector<std::string>{"h1"});
}

TEST_F(RegistrationServiceTest, RejectsBadNamesAndAddresses) {
  emu::v1::RegisterResponse resp;
  EXPECT_EQ(
      service_.Handle(Request("bad name", "10.0.0.1:1", "i"), &resp).code(),
      absl::StatusCode::kInvalidArgument);
  auto s = service_.Handle(Request("h1", "0.0.0.0:7471", "i"), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--advertise"), std::string::npos);
  EXPECT_EQ(service_.Handle(Request("h1", "nohost", "i"), &resp).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(made_.empty());
}

TEST_F(RegistrationServiceTest, RemovedHostIsForgottenAndItsAgentRefused) {
  emu::v1::RegisterResponse resp;
  ASSERT_TRUE(service_
                  .Handle(Request("h1", "10.1.0.2:7471", "i1"), &resp,
                          "OLD-CERT")
                  .ok());
  ASSERT_TRUE(service_.Handle(Request("h2", "10.1.0.3:7471", "j1"), &resp)
                  .ok());
  ASSERT_TRUE(hosts_.Remove("h1").ok());
  ASSERT_EQ(hosts_.Snapshot().size(), 1u);
  EXPECT_EQ(hosts_.Snapshot()[0].name(), "h2");
  EXPECT_TRUE(absl::IsNotFound(hosts_.Client("h1").status()));
  EXPECT_TRUE(absl::IsNotFound(hosts_.Remove("h1")));

  // The old agent's heartbeat: by its certificate, or (plain text) by its
  // running instance.
  absl::Status again = service_.Handle(Request("h1", "10.1.0.2:7471", "i2"),
                                       &resp, "OLD-CERT");
  EXPECT_TRUE(absl::IsPermissionDenied(again)) << again;
  EXPECT_NE(again.message().find("emuctl cluster add"), std::string::npos)
      << again;
  again = service_.Handle(Request("h1", "10.1.0.2:7471", "i1"), &resp);
  EXPECT_TRUE(absl::IsPermissionDenied(again)) << again;
  EXPECT_EQ(hosts_.Snapshot().size(), 1u);

  // Added again: a new certificate and a new agent are accepted.
  ASSERT_TRUE(service_
                  .Handle(Request("h1", "10.1.0.2:7471", "i3"), &resp,
                          "NEW-CERT")
                  .ok());
  EXPECT_TRUE(resp.new_host());
  EXPECT_EQ(hosts_.Snapshot().size(), 2u);
  // Another host's name is not affected by h1's removal.
  EXPECT_TRUE(service_.Handle(Request("h2", "10.1.0.3:7471", "i1"), &resp,
                              "OLD-CERT")
                  .ok());
}

}  // namespace
}  // namespace emu::controller::hosts
