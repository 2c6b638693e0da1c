#include "agent/net/host_cleanup.h"

#include <map>
#include <string>
#include <vector>

#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class RecordingProcesses : public NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) override {
    return std::vector<pid_t>{};
  }
  absl::Status KillAll(const std::string& ns, absl::Duration) override {
    killed.push_back(ns);
    auto it = failures.find(ns);
    return it == failures.end() ? absl::OkStatus() : it->second;
  }
  std::vector<std::string> killed;
  std::map<std::string, absl::Status> failures;
};

class HostCleanupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* ns :
         {"emu.x1-h2.lab.a", "emu.x1-h2.lab.b", "emu.x1-h2.other.c",
          // Foreign: another host whose name extends ours, another host,
          // something that is not emu's at all.
          "emu.x1-h20.lab.a", "emu.x1-h3.lab.a", "emux1-h2", "mine"}) {
      ASSERT_TRUE(net_.CreateNamespace(ns).ok()) << ns;
    }
  }
  FakeHostNetwork net_;
  RecordingProcesses procs_;
};

TEST_F(HostCleanupTest, RemovesEveryNamespaceOfTheHostAfterItsProcesses) {
  HostCleanupResult r =
      RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.removed, ElementsAre("emu.x1-h2.lab.a", "emu.x1-h2.lab.b",
                                     "emu.x1-h2.other.c"));
  EXPECT_EQ(procs_.killed, r.removed);
  EXPECT_FALSE(net_.HasNamespace("emu.x1-h2.lab.a"));
  EXPECT_FALSE(net_.HasNamespace("emu.x1-h2.other.c"));
  // Nothing outside the prefix.
  for (const char* ns :
       {"emu.x1-h20.lab.a", "emu.x1-h3.lab.a", "emux1-h2", "mine"}) {
    EXPECT_TRUE(net_.HasNamespace(ns)) << ns;
  }
}

TEST_F(HostCleanupTest, RemovesTheHostsManagementBridgesOnly) {
  ASSERT_TRUE(net_.CreateBridge("", "emmaaaa0001",
                                MgmtBridgeAlias("x1-h2", "lab", "emmaaaa0001"))
                  .ok());
  ASSERT_TRUE(net_.CreateBridge("", "emmaaaa0002",
                                MgmtBridgeAlias("x1-h3", "lab", "emmaaaa0002"))
                  .ok());
  ASSERT_TRUE(net_.CreateBridge("", "docker0").ok());
  HostCleanupResult r =
      RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1));
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_THAT(r.removed_host_ends, ElementsAre("emmaaaa0001"));
  EXPECT_FALSE(net_.GetInterface("", "emmaaaa0001").has_value());
  EXPECT_TRUE(net_.GetInterface("", "emmaaaa0002").has_value());
  EXPECT_TRUE(net_.GetInterface("", "docker0").has_value());
}

TEST_F(HostCleanupTest, SecondRunFindsNothing) {
  ASSERT_TRUE(RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1))
                  .status.ok());
  HostCleanupResult again =
      RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1));
  EXPECT_TRUE(again.status.ok());
  EXPECT_THAT(again.removed, IsEmpty());
}

TEST_F(HostCleanupTest, CarriesOnPastAFailureAndNamesIt) {
  net_.FailNthCall(FakeHostNetwork::Method::kDeleteNamespace, 1,
                   absl::InternalError("Device or resource busy"));
  HostCleanupResult r =
      RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1));
  EXPECT_THAT(r.status.message(), HasSubstr("emu.x1-h2.lab.a"));
  EXPECT_THAT(r.status.message(), HasSubstr("busy"));
  EXPECT_THAT(r.removed, ElementsAre("emu.x1-h2.lab.b", "emu.x1-h2.other.c"));
}

TEST_F(HostCleanupTest, ProcessesThatSurviveAreReported) {
  procs_.failures["emu.x1-h2.lab.b"] =
      absl::DeadlineExceededError("pids 42 still alive");
  HostCleanupResult r =
      RemoveHostResources("x1-h2", &net_, &procs_, absl::Seconds(1));
  EXPECT_THAT(r.status.message(), HasSubstr("emu.x1-h2.lab.b"));
  EXPECT_THAT(r.status.message(), HasSubstr("42"));
}

TEST_F(HostCleanupTest, RefusesAHostNameThatWidensThePrefix) {
  for (const char* host : {"", "x1-h2.lab", "*"}) {
    HostCleanupResult r =
        RemoveHostResources(host, &net_, &procs_, absl::Seconds(1));
    EXPECT_TRUE(absl::IsInvalidArgument(r.status)) << host;
  }
  EXPECT_THAT(procs_.killed, IsEmpty());
  EXPECT_TRUE(net_.HasNamespace("emu.x1-h2.lab.a"));
}

TEST(ArgvIsAgentOfTest, RecognisesOnlyAnAgentServingTheHost) {
  EXPECT_TRUE(ArgvIsAgentOf(
      {"/usr/local/bin/emu-agent", "--listen=1.2.3.4:1", "--host_name=x1-h2"},
      "x1-h2"));
  EXPECT_TRUE(ArgvIsAgentOf({"emu-agent", "--host_name", "x1-h2"}, "x1-h2"));
  EXPECT_FALSE(ArgvIsAgentOf({"emu-agent", "--host_name=x1-h20"}, "x1-h2"));
  EXPECT_FALSE(
      ArgvIsAgentOf({"emu-agent", "--host_name=x1-h2", "--cleanup"}, "x1-h2"));
  EXPECT_FALSE(ArgvIsAgentOf({"vi", "--host_name=x1-h2"}, "x1-h2"));
  EXPECT_FALSE(ArgvIsAgentOf({}, "x1-h2"));
}

}  // namespace
}  // namespace emu::agent::net
