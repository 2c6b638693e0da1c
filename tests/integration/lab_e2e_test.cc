// End to end through the real emu-agent and emu-controller against the real
// kernel: a routed lab deploys, forwards traffic, shapes it with TBF to the
// configured rate, runs commands with their exit statuses, rolls back a
// failed deploy, survives agent and controller restarts, and leaves nothing
// behind after destroy.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/integration/daemons.h"

namespace emu {
namespace {

using emu::testing::Daemons;

// h1 -- r1 -- r2 -- h2, routed. h1->r1 is shaped to 10 Mbit/s and r1<->r2
// to 100 Mbit/s, so h1->h2 traffic sees 10 Mbit/s and h2->h1 100 Mbit/s.
constexpr char kRouted[] = R"(name: routed
topology:
  nodes:
    h1:
      interfaces:
        eth1: {addresses: [10.0.1.2/24]}
      routes: [{to: default, via: 10.0.1.1}]
    r1:
      sysctls: {net.ipv4.ip_forward: 1}
      interfaces:
        eth1: {addresses: [10.0.1.1/24]}
        eth2: {addresses: [10.0.12.1/24]}
      routes: [{to: 10.0.2.0/24, via: 10.0.12.2}]
    r2:
      sysctls: {net.ipv4.ip_forward: 1}
      interfaces:
        eth1: {addresses: [10.0.12.2/24]}
        eth2: {addresses: [10.0.2.1/24]}
      routes: [{to: 10.0.1.0/24, via: 10.0.12.1}]
    h2:
      interfaces:
        eth1: {addresses: [10.0.2.2/24]}
      routes: [{to: default, via: 10.0.2.1}]
      exec: ["ip addr show dev eth1"]
  links:
    - endpoints: ["h1:eth1", "r1:eth1"]
      a-to-b: {rate: 10mbit}
    - endpoints: ["r1:eth2", "r2:eth1"]
      rate: 100mbit
    - endpoints: ["r2:eth2", "h2:eth1"]
)";

// The second node's exec line fails: the deploy must roll back.
constexpr char kFailing[] = R"(name: failing
topology:
  nodes:
    a: {}
    b:
      exec: ["echo about to fail", "exit 7"]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
)";

class LabE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    daemons_ = new Daemons(absl::StrCat("e2e", getpid()));
    absl::Status s = daemons_->StartAgent();
    ASSERT_TRUE(s.ok()) << s;
    s = daemons_->StartController();
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    // Whatever a failed test left: destroy both labs, then stop daemons.
    for (const char* lab : {"routed", "failing"}) {
      grpc::ClientContext ctx;
      AddAuthToken(&ctx, daemons_->token());
      emu::v1::DestroyLabRequest req;
      req.set_lab(lab);
      emu::v1::DestroyLabResponse resp;
      daemons_->Agent()->DestroyLab(&ctx, req, &resp).error_code();
    }
    delete daemons_;
    daemons_ = nullptr;
  }

  void SetUp() override {
    if (daemons_ == nullptr) GTEST_SKIP() << "daemons did not start";
  }

  grpc::Status Deploy(const std::string& name, const std::string& yaml,
                      std::vector<emu::v1::DeployEvent>* events) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    emu::v1::DeployLabRequest req;
    req.mutable_source()->mutable_file()->set_name(name);
    req.mutable_source()->mutable_file()->set_content(yaml);
    auto stub = daemons_->Controller();
    auto reader = stub->DeployLab(&ctx, req);
    emu::v1::DeployEvent e;
    while (reader->Read(&e)) events->push_back(e);
    return reader->Finish();
  }

  grpc::Status Destroy(const std::string& lab) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    emu::v1::DestroyLabRequest req;
    req.set_lab(lab);
    auto stub = daemons_->Controller();
    auto reader = stub->DestroyLab(&ctx, req);
    emu::v1::DeployEvent e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  }

  emu::v1::ExecResponse Exec(const std::string& lab, const std::string& node,
                             std::vector<std::string> argv,
                             grpc::Status* status, int timeout_ms = 30000) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    emu::v1::LabExecRequest req;
    req.set_lab(lab);
    req.set_node(node);
    for (auto& a : argv) req.add_argv(a);
    req.set_timeout_ms(timeout_ms);
    emu::v1::ExecResponse resp;
    *status = daemons_->Controller()->Exec(&ctx, req, &resp);
    return resp;
  }

  // Runs `cmd` in `node` via sh and expects exit 0.
  std::string Sh(const std::string& lab, const std::string& node,
                 const std::string& cmd) {
    grpc::Status st;
    auto r = Exec(lab, node, {"/bin/sh", "-c", cmd}, &st);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(r.exit_code(), 0) << cmd << "\n" << r.stdout() << r.stderr();
    return r.stdout();
  }

  // TCP goodput from `client` to `server_ip` (a server started in `server`).
  double IperfMbps(const std::string& lab, const std::string& server,
                   const std::string& client, const std::string& server_ip,
                   bool reverse) {
    Sh(lab, server, "iperf3 -s -1 -D");
    std::string json;
    for (int attempt = 0; attempt < 20; ++attempt) {
      grpc::Status st;
      auto r = Exec(lab, client,
                    {"iperf3", "-c", server_ip, "-t", "3", "-J",
                     reverse ? "-R" : "-4"},
                    &st);
      // iperf3 -J can exit 0 with an "error" (connection refused while the
      // server is not listening yet): tried again.
      if (st.ok() && r.exit_code() == 0 &&
          r.stdout().find("\"error\"") == std::string::npos) {
        json = r.stdout();
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    google::protobuf::Struct doc;
    if (!google::protobuf::util::JsonStringToMessage(json, &doc).ok()) {
      ADD_FAILURE() << "iperf3 output is not JSON: " << json;
      return 0;
    }
    const auto& end = doc.fields().at("end").struct_value();
    return end.fields().at("sum_received").struct_value().fields()
               .at("bits_per_second").number_value() / 1e6;
  }

  std::vector<std::string> OwnNamespaces() {
    std::vector<std::string> out;
    std::string prefix = absl::StrCat("emu.", daemons_->host(), ".");
    if (DIR* d = opendir("/run/netns")) {
      while (dirent* e = readdir(d)) {
        if (absl::StartsWith(e->d_name, prefix)) out.push_back(e->d_name);
      }
      closedir(d);
    }
    return out;
  }

  emu::v1::ListResourcesResponse AgentResources(const std::string& lab) {
    grpc::ClientContext ctx;
    AddAuthToken(&ctx, daemons_->token());
    emu::v1::ListResourcesRequest req;
    req.set_lab(lab);
    emu::v1::ListResourcesResponse resp;
    grpc::Status st = daemons_->Agent()->ListResources(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  static Daemons* daemons_;
};

Daemons* LabE2eTest::daemons_ = nullptr;

// TBF counts whole Ethernet frames: 1514 bytes carry 1448 bytes of TCP
// payload (20 IP + 32 TCP with timestamps + 14 Ethernet), so the expected
// goodput is rate * 1448 / 1514.
double ExpectedGoodputMbps(double rate_mbit) { return rate_mbit * 1448 / 1514; }

TEST_F(LabE2eTest, RoutedLabForwardsShapesRunsCommandsAndCleansUp) {
  std::vector<emu::v1::DeployEvent> events;
  grpc::Status st = Deploy("routed.yaml", kRouted, &events);
  ASSERT_TRUE(st.ok()) << st.error_message() << "\n" << daemons_->AgentLog();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().state(), emu::v1::RUNNING);
  EXPECT_EQ(OwnNamespaces().size(), 4u);

  // Connectivity across both routers, both ways.
  Sh("routed", "h1", "ping -c 2 -W 2 10.0.2.2");
  Sh("routed", "h2", "ping -c 2 -W 2 10.0.1.2");

  // Shaping: 10 Mbit/s h1->h2, 100 Mbit/s h2->h1 (iperf3 -R from h1).
  double slow = IperfMbps("routed", "h2", "h1", "10.0.2.2", false);
  double fast = IperfMbps("routed", "h2", "h1", "10.0.2.2", true);
  std::printf("TBF 10 Mbit/s: %.2f Mbit/s goodput (expected %.2f)\n", slow,
              ExpectedGoodputMbps(10));
  std::printf("TBF 100 Mbit/s: %.2f Mbit/s goodput (expected %.2f)\n", fast,
              ExpectedGoodputMbps(100));
  EXPECT_NEAR(slow, ExpectedGoodputMbps(10), ExpectedGoodputMbps(10) * 0.05);
  EXPECT_NEAR(fast, ExpectedGoodputMbps(100), ExpectedGoodputMbps(100) * 0.05);

  // Exec: exit statuses, output, timeout, unknown node.
  grpc::Status est;
  auto r = Exec("routed", "r1", {"/bin/sh", "-c", "echo out; echo err >&2; exit 3"},
                &est);
  ASSERT_TRUE(est.ok()) << est.error_message();
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_EQ(r.stdout(), "out\n");
  EXPECT_EQ(r.stderr(), "err\n");
  EXPECT_FALSE(r.timed_out());
  absl::Time start = absl::Now();
  r = Exec("routed", "r1", {"sleep", "30"}, &est, /*timeout_ms=*/500);
  ASSERT_TRUE(est.ok());
  EXPECT_TRUE(r.timed_out());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  Exec("routed", "nosuch", {"true"}, &est);
  EXPECT_EQ(est.error_code(), grpc::StatusCode::NOT_FOUND);
  r = Exec("routed", "r1", {"/nonexistent/cmd"}, &est);
  EXPECT_EQ(r.exit_code(), 127);

  // The agent knows exactly what it owns: 4 namespaces, 6 veth ends, 3 TBFs
  // (h1 eth1; r1 eth2 and r2 eth1), and the saved spec.
  auto res = AgentResources("routed");
  int netns = 0, ifaces = 0, qdiscs = 0;
  for (const auto& x : res.resources()) {
    netns += x.kind() == emu::v1::OwnedResource::NETNS;
    ifaces += x.kind() == emu::v1::OwnedResource::INTERFACE;
    qdiscs += x.kind() == emu::v1::OwnedResource::QDISC;
  }
  EXPECT_EQ(netns, 4);
  EXPECT_EQ(ifaces, 6);
  EXPECT_EQ(qdiscs, 3);

  // A process left running inside a node is the lab's and goes with it.
  Sh("routed", "h1", "sleep 300 >/dev/null 2>&1 &");
  ASSERT_TRUE(Destroy("routed").ok());
  EXPECT_TRUE(OwnNamespaces().empty());
  EXPECT_EQ(AgentResources("routed").resources_size(), 0);
  // Destroying again: NOT_FOUND from the controller, nothing else happens.
  EXPECT_EQ(Destroy("routed").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(LabE2eTest, FailedDeployRollsBackEverything) {
  std::vector<emu::v1::DeployEvent> events;
  grpc::Status st = Deploy("failing.yaml", kFailing, &events);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error_message().find("failing.yaml:5: node b: exec `exit 7` "
                                    "exited 7"),
            std::string::npos)
      << st.error_message();
  EXPECT_TRUE(OwnNamespaces().empty());
  EXPECT_EQ(AgentResources("failing").resources_size(), 0);

  // A bad topology never reaches the agent.
  events.clear();
  st = Deploy("bad.yaml", "name: bad\ntopology:\n  links:\n    - endpoints: "
                          "[\"x:eth1\", \"y:eth1\"]\n      rate: 10mbps\n",
              &events);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("bad.yaml:5"), std::string::npos)
      << st.error_message();
}

TEST_F(LabE2eTest, AgentRestartFindsAndRepairsItsLab) {
  std::vector<emu::v1::DeployEvent> events;
  ASSERT_TRUE(Deploy("routed.yaml", kRouted, &events).ok());
  ASSERT_TRUE(daemons_->KillAgent(SIGKILL).ok());
  // While the agent is dead, someone removes one node by hand.
  std::string lost = absl::StrCat("emu.", daemons_->host(), ".routed.r2");
  ASSERT_EQ(std::system(("ip netns delete " + lost).c_str()), 0);
  ASSERT_TRUE(daemons_->StartAgent().ok()) << daemons_->AgentLog();
  EXPECT_NE(daemons_->AgentLog().find("recovered lab routed"),
            std::string::npos)
      << daemons_->AgentLog();
  EXPECT_EQ(OwnNamespaces().size(), 4u);
  // The repaired lab forwards again, through the re-created r2.
  // Exec goes through the controller, which takes up to a heartbeat to see
  // the agent back: poll until the ping passes, with a deadline.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  grpc::Status st;
  emu::v1::ExecResponse ping;
  do {
    ping = Exec("routed", "h1", {"/bin/sh", "-c", "ping -c 1 -W 1 10.0.2.2"},
                &st);
    if (st.ok() && ping.exit_code() == 0) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ping.exit_code(), 0) << ping.stdout() << ping.stderr();
  ASSERT_TRUE(Destroy("routed").ok());
  EXPECT_TRUE(OwnNamespaces().empty());
}

TEST_F(LabE2eTest, ControllerRestartKeepsLabs) {
  std::vector<emu::v1::DeployEvent> events;
  ASSERT_TRUE(Deploy("routed.yaml", kRouted, &events).ok());
  ASSERT_TRUE(daemons_->KillController(SIGKILL).ok());
  ASSERT_TRUE(daemons_->StartController().ok());
  grpc::ClientContext ctx;
  AddAuthToken(&ctx, daemons_->token());
  emu::v1::GetLabRequest req;
  req.set_lab("routed");
  emu::v1::Lab lab;
  ASSERT_TRUE(daemons_->Controller()->GetLab(&ctx, req, &lab).ok());
  EXPECT_EQ(lab.state(), emu::v1::RUNNING);
  EXPECT_EQ(lab.nodes_size(), 4);
  ASSERT_TRUE(Destroy("routed").ok());
  EXPECT_TRUE(OwnNamespaces().empty());
}

TEST_F(LabE2eTest, CallsWithoutTheTokenAreRejected) {
  grpc::ClientContext ctx;
  emu::v1::ListLabsResponse resp;
  grpc::Status st = daemons_->Controller()->ListLabs(
      &ctx, emu::v1::ListLabsRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext actx;
  AddAuthToken(&actx, "wrong");
  emu::v1::Capabilities caps;
  st = daemons_->Agent()->GetCapabilities(
      &actx, emu::v1::GetCapabilitiesRequest(), &caps);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace emu
