#include "agent/node/node_sandbox.h"

#include <thread>

#include "agent/node/testing/fake_sandbox_host.h"
#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::node {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class NodeSandboxTest : public ::testing::Test {
 protected:
  std::unique_ptr<LinuxNodeSandbox> Make(
      absl::Duration ready_timeout = absl::Seconds(5)) {
    LinuxNodeSandbox::Options o;
    o.sandbox.masked_paths = {"/etc/emu"};
    o.log_path = "/var/log/holders.log";
    o.ready_timeout = ready_timeout;
    auto s = LinuxNodeSandbox::Create(&launcher_, &host_, o);
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }
  FakeProcessLauncher launcher_;
  FakeSandboxHost host_;
};

TEST_F(NodeSandboxTest, BadOptionsAreRefusedNamingThePath) {
  LinuxNodeSandbox::Options o;
  o.sandbox.masked_paths = {"etc/emu"};
  auto s = LinuxNodeSandbox::Create(&launcher_, &host_, o);
  ASSERT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.status().message(), HasSubstr("etc/emu"));
}

TEST_F(NodeSandboxTest, EnsureAllStartsOneHolderPerNodeInItsNetns) {
  auto sandbox = Make();
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1", "emu.h.a.r2"}).ok());
  auto spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 2u);
  EXPECT_THAT(spawns[0].spec.argv,
              ElementsAre("/proc/self/exe", "emu-node-sandbox", "emu.h.a.r1",
                          "--mask=/etc/emu"));
  EXPECT_EQ(spawns[0].spec.netns, "emu.h.a.r1");
  EXPECT_TRUE(spawns[0].spec.share_mounts);
  EXPECT_THAT(spawns[0].spec.extra_env, ElementsAre("EMU_NODE_SANDBOX=1"));
  EXPECT_EQ(spawns[0].log_path, "/var/log/holders.log");
  EXPECT_EQ(spawns[1].spec.netns, "emu.h.a.r2");
}

TEST_F(NodeSandboxTest, ALiveHolderIsKeptAndReturned) {
  auto sandbox = Make();
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1"}).ok());
  const pid_t first = launcher_.spawns()[0].pid;
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1"}).ok());
  auto again = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, first);
  EXPECT_EQ(launcher_.spawns().size(), 1u);
}

TEST_F(NodeSandboxTest, ADeadHolderIsReplaced) {
  auto sandbox = Make();
  auto first = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(first.ok());
  launcher_.MarkExited(*first);
  auto second = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*second, *first);
  EXPECT_EQ(launcher_.spawns().size(), 2u);
}

TEST_F(NodeSandboxTest, APidThatIsNoLongerTheHolderIsReplaced) {
  auto sandbox = Make();
  auto first = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(first.ok());
  host_.Gone(*first);  // e.g. the pid was reused by something else
  auto second = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *first);
}

TEST_F(NodeSandboxTest, AHolderFromBeforeARestartIsFoundNotDuplicated) {
  host_.Running("emu.h.a.r1", 4242);
  auto sandbox = Make();
  auto pid = sandbox->Ensure("emu.h.a.r1");
  ASSERT_TRUE(pid.ok());
  EXPECT_EQ(*pid, 4242);
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1"}).ok());
  EXPECT_TRUE(launcher_.spawns().empty());
}

TEST_F(NodeSandboxTest, ManyNodesCostOneLookAtTheHost) {
  host_.Running("emu.h.a.r2", 4242);
  auto sandbox = Make();
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1", "emu.h.a.r2", "emu.h.a.r3"}).ok());
  EXPECT_EQ(host_.finds(), 1);
  EXPECT_EQ(launcher_.spawns().size(), 2u);  // r2's was there
  // Known and alive: no look at all.
  ASSERT_TRUE(sandbox->EnsureAll({"emu.h.a.r1", "emu.h.a.r3"}).ok());
  EXPECT_EQ(host_.finds(), 1);
}

TEST_F(NodeSandboxTest, AHolderNeverReadyIsEndedAndNamed) {
  auto sandbox = Make(absl::Milliseconds(30));
  host_.NeverReady(900001);  // the fake launcher's first pid
  absl::Status s = sandbox->EnsureAll({"emu.h.a.r1", "emu.h.a.r2"});
  ASSERT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(s.message(), HasSubstr("emu.h.a.r1"));
  EXPECT_THAT(launcher_.terminated(), ElementsAre(900001));
  // The other one is kept, the failed one tried anew next time.
  auto r2 = sandbox->Ensure("emu.h.a.r2");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(launcher_.spawns().size(), 2u);
}

TEST_F(NodeSandboxTest, AHolderThatDiesInSetupPointsAtItsLog) {
  auto sandbox = Make(absl::Seconds(20));
  host_.NeverReady(900001);  // the fake launcher's first pid
  std::thread killer([this] {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (launcher_.spawns().empty() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    launcher_.MarkExited(900001);
  });
  const absl::Time before = absl::Now();
  auto pid = sandbox->Ensure("emu.h.a.r1");
  killer.join();
  ASSERT_EQ(pid.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(pid.status().message(), HasSubstr("/var/log/holders.log"));
  EXPECT_THAT(pid.status().message(), HasSubstr("emu.h.a.r1"));
  EXPECT_LT(absl::Now() - before, absl::Seconds(15));  // not the timeout
}

TEST_F(NodeSandboxTest, ASpawnFailureNamesTheNode) {
  auto sandbox = Make();
  launcher_.FailNextSpawn(absl::NotFoundError("open netns /run/netns/x"));
  absl::Status s = sandbox->EnsureAll({"emu.h.a.r1"});
  ASSERT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("sandbox of emu.h.a.r1"));
}

}  // namespace
}  // namespace emu::agent::node
