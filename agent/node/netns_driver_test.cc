// The netns driver's use of the node sandbox: a node's first command makes
// it, every command runs in it; without one, commands run in the netns only.
#include "agent/node/netns_driver.h"

#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "agent/node/testing/fake_sandbox_host.h"
#include "common/testing/fake_process_launcher.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::node {
namespace {

class NetnsDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : {"r1", "r2"}) {
      ASSERT_TRUE(net_.CreateNamespace(net::NamespaceName("h1", "lab", n)).ok());
      auto* node = spec_.add_nodes();
      node->set_name(n);
      node->set_kind(emu::v1::NODE_KIND_NETNS);
    }
    spec_.set_lab("lab");
    auto s = LinuxNodeSandbox::Create(&launcher_, &host_, {});
    ASSERT_TRUE(s.ok());
    sandbox_ = *std::move(s);
  }
  std::vector<const emu::v1::Node*> Nodes() const {
    return {&spec_.nodes(0), &spec_.nodes(1)};
  }
  emu::v1::ExecRequest Req(const std::string& node) const {
    emu::v1::ExecRequest req;
    req.set_lab("lab");
    req.set_node(node);
    req.add_argv("ps");
    return req;
  }

  net::FakeHostNetwork net_;
  FakeProcessLauncher launcher_;
  FakeSandboxHost host_;
  std::unique_ptr<LinuxNodeSandbox> sandbox_;
  emu::v1::ApplyLabRequest spec_;
};

TEST_F(NetnsDriverTest, TheFirstExecMakesTheNodesSandboxAndEveryExecRunsInIt) {
  NetnsDriver driver("h1", &net_, &launcher_);
  driver.SetSandbox(sandbox_.get());
  ASSERT_TRUE(driver.Ensure(spec_, Nodes(), [](auto&, auto&) {}).ok());
  EXPECT_TRUE(launcher_.spawns().empty()) << "a node without commands has no holder";

  ASSERT_TRUE(driver.Exec(Req("r2")).ok());
  ASSERT_TRUE(driver.Exec(Req("r2")).ok());
  auto spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 1u);
  EXPECT_EQ(spawns[0].spec.netns, net::NamespaceName("h1", "lab", "r2"));
  auto runs = launcher_.runs();
  ASSERT_EQ(runs.size(), 2u);
  for (const ProcessSpec& run : runs) {
    EXPECT_EQ(run.netns, net::NamespaceName("h1", "lab", "r2"));
    EXPECT_EQ(run.sandbox_holder, spawns[0].pid);
    EXPECT_EQ(run.sandbox_caps, NodeCapabilities());
  }
}

TEST_F(NetnsDriverTest, ExecRemakesASandboxWhoseHolderDied) {
  NetnsDriver driver("h1", &net_, &launcher_);
  driver.SetSandbox(sandbox_.get());
  ASSERT_TRUE(driver.Exec(Req("r1")).ok());
  const pid_t old = launcher_.spawns()[0].pid;
  launcher_.MarkExited(old);
  ASSERT_TRUE(driver.Exec(Req("r1")).ok());
  ASSERT_EQ(launcher_.spawns().size(), 2u);
  EXPECT_EQ(launcher_.runs()[1].sandbox_holder, launcher_.spawns()[1].pid);
  EXPECT_NE(launcher_.spawns()[1].pid, old);
}

TEST_F(NetnsDriverTest, WithoutASandboxCommandsRunInTheNetnsOnly) {
  NetnsDriver driver("h1", &net_, &launcher_);
  ASSERT_TRUE(driver.Ensure(spec_, Nodes(), [](auto&, auto&) {}).ok());
  ASSERT_TRUE(driver.Exec(Req("r1")).ok());
  EXPECT_TRUE(launcher_.spawns().empty());
  EXPECT_EQ(launcher_.runs()[0].sandbox_holder, 0);
}

TEST_F(NetnsDriverTest, ExecOnAMissingNodeMakesNoSandbox) {
  NetnsDriver driver("h1", &net_, &launcher_);
  driver.SetSandbox(sandbox_.get());
  auto r = driver.Exec(Req("nosuch"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(launcher_.spawns().empty());
}

}  // namespace
}  // namespace emu::agent::node
