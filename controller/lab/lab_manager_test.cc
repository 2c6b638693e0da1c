#include "controller/lab/lab_manager.h"

#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "controller/hosts/testing/fake_agent_client.h"
#include "controller/lab/testing/in_memory_lab_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

constexpr char kLab[] = R"(name: lab1
topology:
  nodes:
    a:
      kind: netns
      exec: ["echo hello", "ip route"]
    b:
      kind: netns
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      rate: 10mbit
)";

emu::v1::TopologySource FileSource(const std::string& content,
                                   const std::string& name = "lab1.yaml") {
  emu::v1::TopologySource s;
  s.mutable_file()->set_name(name);
  s.mutable_file()->set_content(content);
  return s;
}

class LabManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h1 = std::make_unique<hosts::FakeAgentClient>("h1");
    h1_ = h1.get();
    ASSERT_TRUE(hosts_.Add("h1", "fake:1", std::move(h1)).ok());
    hosts_.Refresh(absl::Seconds(1));
    manager_ = std::make_unique<LabManager>(&store_, &hosts_);
  }

  absl::Status Deploy(const std::string& content) {
    events_.clear();
    return manager_->Deploy(FileSource(content),
                            [this](const auto& e) { events_.push_back(e); });
  }

  InMemoryLabStore store_;
  hosts::HostRegistry hosts_;
  hosts::FakeAgentClient* h1_ = nullptr;
  std::unique_ptr<LabManager> manager_;
  std::vector<emu::v1::DeployEvent> events_;
};

TEST_F(LabManagerTest, DeployBuildsRunsExecLinesAndRecordsRunning) {
  ASSERT_TRUE(Deploy(kLab).ok());
  EXPECT_EQ(h1_->labs().at("lab1"), (std::vector<std::string>{"a", "b"}));
  auto execs = h1_->execs();
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(execs[0].node(), "a");
  EXPECT_EQ(execs[0].argv(2), "echo hello");
  EXPECT_EQ(execs[1].argv(2), "ip route");
  auto lab = manager_->Get("lab1");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::RUNNING);
  EXPECT_EQ(lab->nodes(0).host(), "h1");
  ASSERT_FALSE(events_.empty());
  EXPECT_EQ(events_.back().state(), emu::v1::RUNNING);
  bool saw_agent_event = false;
  for (const auto& e : events_) {
    if (e.host() == "h1" && e.message() == "created node a") {
      saw_agent_event = true;
    }
  }
  EXPECT_TRUE(saw_agent_event);
}

TEST_F(LabManagerTest, ExecLinesGetTheNodesEnvAndTheFileTheClientsVars) {
  emu::v1::TopologySource source = FileSource(R"(name: ${LAB:=nolab}
topology:
  nodes:
    a:
      env: {B: "2", A: "x y"}
      exec: ["echo $A"]
)");
  (*source.mutable_file()->mutable_env())["LAB"] = "envlab";
  ASSERT_TRUE(manager_->Deploy(source, [](const auto&) {}).ok());
  auto execs = h1_->execs();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].lab(), "envlab");
  EXPECT_THAT(execs[0].argv(),
              ::testing::ElementsAre("env", "A=x y", "B=2", "/bin/sh", "-c",
                                     "echo $A"));
}

TEST_F(LabManagerTest, ExitedGuestShowsInStatusAndDegradesTheLab) {
  h1_->capabilities().add_node_kinds(emu::v1::NODE_KIND_QEMU);
  hosts_.Refresh(absl::Seconds(1));
  ASSERT_TRUE(Deploy(R"(name: lab1
topology:
  nodes:
    vm1:
      kind: qemu
      image: alpine
    b:
      kind: netns
  links:
    - endpoints: ["vm1:eth1", "b:eth1"]
)")
                  .ok());
  h1_->SetGuest("lab1", "vm1", "ready");
  auto lab = manager_->Get("lab1");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::RUNNING);
  const emu::v1::NodeStatus* vm1 = nullptr;
  for (const auto& n : lab->nodes()) {
    if (n.name() == "vm1") vm1 = &n;
    if (n.name() == "b") {
      EXPECT_EQ(n.state(), "");  // only guests have one
    }
  }
  ASSERT_NE(vm1, nullptr);
  EXPECT_EQ(vm1->state(), "ready");

  h1_->SetGuest("lab1", "vm1", "exited", "killed by signal 9 (Killed)");
  lab = manager_->Get("lab1");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_EQ(lab->error(),
            "guests not running: vm1 (killed by signal 9 (Killed)); "
            "`emuctl restart lab1 NODE` starts one again");
  for (const auto& n : lab->nodes()) {
    if (n.name() != "vm1") continue;
    EXPECT_EQ(n.state(), "exited");
    EXPECT_EQ(n.state_detail(), "killed by signal 9 (Killed)");
  }

  h1_->SetGuest("lab1", "vm1", "booting");  // restarted
  EXPECT_EQ(manager_->Get("lab1")->state(), emu::v1::RUNNING);
}

// containerlab's `target: host` (controller/lab/host_commands.h): refused
// for a caller who is not an administrator, then for a host whose agent
// lacks the opt-in, each before anything is created; with both, sent as
// host commands in their place. Apply runs the new node's stage commands
// only.
TEST_F(LabManagerTest, HostCommandsNeedAnAdministratorAndAnAgentThatAllowsThem) {
  constexpr char kHostLab[] = R"(name: lab1
topology:
  defaults: {kind: linux}
  nodes:
    a:
      stages:
        configure:
          exec:
            - {command: "touch /x", target: host}
            - {command: "ls /x"}
)";
  auto deploy = [&](bool admin) {
    LabManager::DeployAs as;
    as.admin = admin;
    as.caller = "bob";
    return manager_->Deploy(FileSource(kHostLab), as, [](const auto&) {});
  };
  absl::Status s = deploy(false);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr(
                               "lab1.yaml:9: node a: stages.configure "
                               "on-enter exec `touch /x` (target: host): it "
                               "would run as root"));
  EXPECT_TRUE(h1_->labs().empty());
  EXPECT_TRUE(absl::IsNotFound(manager_->Get("lab1").status()));

  s = deploy(true);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), ::testing::HasSubstr(
                               "the agent of host h1, where the node runs, "
                               "was not started with --allow_host_commands"));
  EXPECT_TRUE(h1_->labs().empty());
  EXPECT_TRUE(h1_->execs().empty());

  h1_->capabilities().set_host_commands(true);
  hosts_.Refresh(absl::Seconds(1));
  ASSERT_TRUE(deploy(true).ok());
  auto execs = h1_->execs();
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_TRUE(execs[0].on_host());
  EXPECT_EQ(execs[0].node(), "a");
  EXPECT_EQ(execs[0].argv(2), "touch /x");
  EXPECT_FALSE(execs[1].on_host());

  LabManager::DeployAs as;
  as.admin = true;
  const std::string more = absl::StrCat(
      kHostLab, "    c:\n      stages:\n        create:\n          exec: "
                "[{command: c-created}]\n");
  ASSERT_TRUE(manager_->Apply(FileSource(more), as, false,
                              [](const auto&) {}).ok());
  execs = h1_->execs();
  ASSERT_EQ(execs.size(), 3u);  // a's are not run again
  EXPECT_EQ(execs[2].node(), "c");
  EXPECT_EQ(execs[2].argv(2), "c-created");
}

TEST_F(LabManagerTest, SecondDeployOfALiveLabIsRefused) {
  ASSERT_TRUE(Deploy(kLab).ok());
  absl::Status again = Deploy(kLab);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find("emuctl down lab1"), std::string::npos);
}

TEST_F(LabManagerTest, BadTopologyCreatesNothing) {
  absl::Status s = Deploy("name: lab1\ntopology:\n  nodes: [\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("lab1.yaml:"), std::string::npos) << s;
  EXPECT_TRUE(h1_->labs().empty());
  EXPECT_EQ(manager_->Get("lab1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LabManagerTest, FailedApplyIsRolledBack) {
  h1_->FailApplyWith(absl::InternalError("create veth: File exists"));
  absl::Status s = Deploy(kLab);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(h1_->labs().empty()) << "rollback left nodes behind";
  auto lab = manager_->Get("lab1");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::FAILED);
  EXPECT_NE(lab->error().find("File exists"), std::string::npos);
  // A FAILED lab may be deployed again.
  h1_->FailApplyWith(absl::OkStatus());
  EXPECT_TRUE(Deploy(kLab).ok());
}

TEST_F(LabManagerTest, FailingExecLineFailsTheDeployAndNamesIt) {
  h1_->FailExecContaining("ip route", 2);
  absl::Status s = Deploy(kLab);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("node a: exec `ip route` exited 2"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("lab1.yaml:4"), std::string::npos) << s;
  EXPECT_TRUE(h1_->labs().empty());
}

TEST_F(LabManagerTest, UnreachableHostFailsBeforeCreatingAnything) {
  h1_->SetReachable(false);
  absl::Status s = Deploy(kLab);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("h1"), std::string::npos);
  EXPECT_EQ(manager_->Get("lab1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LabManagerTest, DegradedWhileHostIsGoneAndDestroyFinishesLater) {
  ASSERT_TRUE(Deploy(kLab).ok());
  h1_->SetReachable(false);
  hosts_.Refresh(absl::Seconds(1));
  auto lab = manager_->Get("lab1");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_NE(lab->error().find(
                "host h1 unreachable (nodes a, b; links a:eth1<->b:eth1)"),
            std::string::npos)
      << lab->error();

  absl::Status s = manager_->Destroy("lab1", [](const auto&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager_->Get("lab1")->state(), emu::v1::DESTROYING);

  h1_->SetReachable(true);
  manager_->Reconcile([](const std::string&) {});
  EXPECT_EQ(manager_->Get("lab1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(h1_->labs().empty());
}

TEST_F(LabManagerTest, DestroyIsIdempotentForHalfGoneLabs) {
  ASSERT_TRUE(Deploy(kLab).ok());
  ASSERT_TRUE(h1_->DestroyLab("lab1").ok());  // the host lost it already
  EXPECT_TRUE(manager_->Destroy("lab1", [](const auto&) {}).ok());
  EXPECT_EQ(manager_->Destroy("lab1", [](const auto&) {}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LabManagerTest, InterruptedDeployIsRolledBackOnReconcile) {
  ASSERT_TRUE(Deploy(kLab).ok());
  auto lab = *store_.Get("lab1");
  lab.set_state(emu::v1::DEPLOYING);  // as a crashed controller left it
  ASSERT_TRUE(store_.Put(lab).ok());
  LabManager restarted(&store_, &hosts_);
  restarted.Reconcile([](const std::string&) {});
  auto after = restarted.Get("lab1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state(), emu::v1::FAILED);
  EXPECT_TRUE(h1_->labs().empty());
}

TEST_F(LabManagerTest, ExecGoesToTheNodesHost) {
  ASSERT_TRUE(Deploy(kLab).ok());
  emu::v1::LabExecRequest req;
  req.set_lab("lab1");
  req.set_node("b");
  req.add_argv("hostname");
  auto r = manager_->Exec(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout(), "ran hostname\n");
  req.set_node("zz");
  auto missing = manager_->Exec(req);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nodes: a, b"), std::string::npos);
}

TEST_F(LabManagerTest, CaptureGoesToTheNodesHostAndRelaysItsChunks) {
  ASSERT_TRUE(Deploy(kLab).ok());
  std::vector<emu::v1::CaptureChunk> chunks(3);
  chunks[0].set_pcapng("header");
  chunks[1].set_pcapng("frame");
  chunks[2].set_packets(1);
  chunks[2].set_last(true);
  h1_->SetCapture(chunks);
  emu::v1::CaptureRequest req;
  req.set_lab("lab1");
  req.set_node("b");
  req.set_interface("eth1");
  req.set_filter("icmp");
  hosts::CallCanceller cancel;
  std::string got;
  ASSERT_TRUE(manager_
                  ->Capture(req, &cancel,
                            [&](const emu::v1::CaptureChunk& c) {
                              got += c.pcapng();
                            })
                  .ok());
  EXPECT_EQ(got, "headerframe");
  ASSERT_EQ(h1_->captures().size(), 1u);
  EXPECT_EQ(h1_->captures()[0].filter(), "icmp");
  EXPECT_EQ(h1_->captures()[0].node(), "b");
  // Cancelled before it starts: nothing relayed.
  hosts::CallCanceller cancelled;
  cancelled.Cancel();
  got.clear();
  EXPECT_EQ(manager_
                ->Capture(req, &cancelled,
                          [&](const emu::v1::CaptureChunk& c) {
                            got += c.pcapng();
                          })
                .code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(got, "");
  req.set_node("zz");
  EXPECT_EQ(manager_->Capture(req, &cancel, [](const auto&) {}).code(),
            absl::StatusCode::kNotFound);
}

// Two hosts: a and b pinned to h1, c to h2, so b:eth2<->c:eth1 crosses.
constexpr char kTwoHostLab[] = R"(name: lab2
topology:
  nodes:
    a: {host: h1}
    b: {host: h1}
    c: {host: h2}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["b:eth2", "c:eth1"]
      rate: 100mbit
)";

class LabManagerTwoHostTest : public ::testing::Test {
 protected:
  static LabManager::Options FastOptions() {
    LabManager::Options o;
    o.tunnel_ready_timeout = absl::Seconds(20);
    o.tunnel_poll_interval = absl::Milliseconds(2);
    o.store_retry_delay = absl::Milliseconds(1);
    return o;
  }
  void SetUp() override {
    auto h1 = std::make_unique<hosts::FakeAgentClient>("h1");
    auto h2 = std::make_unique<hosts::FakeAgentClient>("h2");
    h1_ = h1.get();
    h2_ = h2.get();
    h2_->capabilities().set_tunnel_address("198.18.0.12:7472");
    ASSERT_TRUE(hosts_.Add("h1", "fake:1", std::move(h1)).ok());
    ASSERT_TRUE(hosts_.Add("h2", "fake:2", std::move(h2)).ok());
    hosts_.Refresh(absl::Seconds(1));
    manager_ = std::make_unique<LabManager>(&store_, &hosts_, FastOptions());
  }

  InMemoryLabStore store_;
  hosts::HostRegistry hosts_;
  hosts::FakeAgentClient* h1_ = nullptr;
  hosts::FakeAgentClient* h2_ = nullptr;
  std::unique_ptr<LabManager> manager_;
};

TEST_F(LabManagerTwoHostTest, StatsAsksEveryHostAndAddsTheirParts) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  emu::v1::LabCounters p1, p2;
  auto* l1 = p1.add_links();
  l1->set_link("b:eth2<->c:eth1");
  l1->mutable_a_to_b()->set_sent_packets(10);
  p1.add_nodes()->set_node("a");
  p1.add_nodes()->set_node("b");
  auto* l2 = p2.add_links();
  l2->set_link("b:eth2<->c:eth1");
  l2->mutable_a_to_b()->set_delivered_packets(9);
  p2.add_nodes()->set_node("c");
  h1_->SetLabCounters("lab2", p1);
  h2_->SetLabCounters("lab2", p2);
  auto stats = manager_->Stats("lab2");
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->links_size(), 1);
  EXPECT_EQ(stats->links(0).a_to_b().sent_packets(), 10u);
  EXPECT_EQ(stats->links(0).a_to_b().delivered_packets(), 9u);
  EXPECT_EQ(stats->nodes_size(), 3);
  EXPECT_EQ(stats->problems_size(), 0);
  // An unreachable host is a problem named in the answer, not a failure.
  h2_->SetReachable(false);
  stats = manager_->Stats("lab2");
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->nodes_size(), 2);
  ASSERT_EQ(stats->problems_size(), 1);
  EXPECT_NE(stats->problems(0).find("host h2"), std::string::npos)
      << stats->problems(0);
  EXPECT_EQ(manager_->Stats("nolab").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LabManagerTwoHostTest, DegradedNamesNodesAndLinksAndResyncRecovers) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  const auto applies1 = h1_->applies();
  ASSERT_EQ(applies1.size(), 1u);
  const auto& share1 = applies1[0];
  EXPECT_EQ(share1.nodes_size(), 2);
  EXPECT_EQ(share1.links_size(), 1);
  ASSERT_EQ(share1.remote_links_size(), 1);
  EXPECT_EQ(share1.remote_links(0).peer_address(), "198.18.0.12:7472");
  EXPECT_TRUE(share1.remote_links(0).listen());
  auto lab = manager_->Get("lab2");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->links(0).carrier(), "veth");
  EXPECT_EQ(lab->links(1).carrier(), "tcp-tunnel");

  // h2 disappears: the lab reads DEGRADED, naming c and the crossing link.
  h2_->SetReachable(false);
  hosts_.Refresh(absl::Seconds(1));
  lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_EQ(lab->error(),
            "host h2 unreachable (nodes c; links b:eth2<->c:eth1)");
  EXPECT_EQ(lab->links(0).state(), "up");
  EXPECT_EQ(lab->links(1).state(), "host h2 unreachable");
  EXPECT_TRUE(hosts_.TakeReturnedHosts().empty());

  // It comes back having lost its state: only h2 gets its share again.
  h2_->LoseState();
  h2_->SetReachable(true);
  hosts_.Refresh(absl::Seconds(1));
  EXPECT_EQ(hosts_.TakeReturnedHosts(), std::vector<std::string>{"h2"});
  std::vector<std::string> log;
  manager_->ResyncHost("h2", [&](const std::string& l) { log.push_back(l); });
  EXPECT_EQ(h2_->labs().at("lab2"), std::vector<std::string>{"c"});
  const auto applies2 = h2_->applies();
  ASSERT_EQ(applies2.size(), 2u);
  EXPECT_EQ(applies2[1].SerializeAsString(), applies2[0].SerializeAsString());
  EXPECT_EQ(h1_->applies().size(), 1u);  // the rest is not redeployed
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], "resync lab lab2 on returning host h2: share re-applied");
  EXPECT_EQ(manager_->Get("lab2")->state(), emu::v1::RUNNING);
  EXPECT_EQ(manager_->Get("lab2")->links(1).state(), "up");
}

TEST_F(LabManagerTwoHostTest, FailedResyncReadsDegradedUntilARetryWorks) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  h2_->FailApplyWith(absl::FailedPreconditionError("disk full"));
  EXPECT_FALSE(manager_->ResyncHost("h2", [](const std::string&) {}));
  auto lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_EQ(lab->error(),
            "host h2 came back but its share could not be re-applied "
            "(retried): disk full");
  h2_->FailApplyWith(absl::OkStatus());
  EXPECT_TRUE(manager_->ResyncHost("h2", [](const std::string&) {}));
  EXPECT_EQ(manager_->Get("lab2")->state(), emu::v1::RUNNING);
}

TEST_F(LabManagerTwoHostTest, TunnelStateFromTheAgentsShowsInStatus) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  const std::string id = "b:eth2<->c:eth1";
  h1_->SetTunnel("lab2", id, "up");
  h2_->SetTunnel("lab2", id, "up");
  auto lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::RUNNING);
  EXPECT_EQ(lab->links(1).state(), "up");

  h2_->SetTunnel("lab2", id, "connecting to h1 (fake:7472), attempt 3");
  lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_EQ(lab->links(1).state(),
            "h2: connecting to h1 (fake:7472), attempt 3");
  EXPECT_EQ(lab->error(),
            "links not up: b:eth2<->c:eth1 (h2: connecting to "
            "h1 (fake:7472), attempt 3)");
  EXPECT_EQ(lab->links(0).state(), "up");  // the veth link is not asked
}

TEST_F(LabManagerTwoHostTest, StatusAsksAgentsForTunnelsOnly) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  const size_t before = h1_->listed_kinds().size();
  ASSERT_TRUE(manager_->Get("lab2").ok());
  const auto asked = h1_->listed_kinds();
  ASSERT_GT(asked.size(), before);
  // Never "everything": that would make the agent look into every
  // namespace of the lab (thousands in a large lab) for each status.
  for (size_t i = before; i < asked.size(); ++i) {
    EXPECT_EQ(asked[i], std::vector<emu::v1::OwnedResource::Kind>{
                            emu::v1::OwnedResource::TUNNEL});
  }
}

TEST_F(LabManagerTwoHostTest, ResyncSkipsLabsNotRunningOrNotOnTheHost) {
  ASSERT_TRUE(manager_
                  ->Deploy(FileSource(R"(name: only1
topology:
  nodes: {a: {host: h1}}
)",
                                      "only1.yaml"),
                           [](const auto&) {})
                  .ok());
  std::vector<std::string> log;
  manager_->ResyncHost("h2", [&](const std::string& l) { log.push_back(l); });
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(h2_->applies().empty());
}

constexpr char kTunnel[] = "b:eth2<->c:eth1";

TEST_F(LabManagerTwoHostTest, DeployReturnsRunningOnlyOnceBothTunnelEndsAreUp) {
  // As on a fresh cluster: h1 listens and h2 has not dialled in yet.
  h1_->SetTunnel("lab2", kTunnel, "waiting for h2 to connect");
  h2_->SetTunnel("lab2", kTunnel, "connecting to h1 (fake:7472)");
  absl::Notification waiting;
  std::vector<std::string> messages;
  absl::Mutex mu;
  std::thread peer([&] {
    // The deploy is waiting: the lab must not be recorded RUNNING yet.
    ASSERT_TRUE(waiting.WaitForNotificationWithTimeout(absl::Seconds(20)));
    EXPECT_EQ(store_.Get("lab2")->state(), emu::v1::DEPLOYING);
    h1_->SetTunnel("lab2", kTunnel, "up");  // one end alone is not enough
    EXPECT_EQ(store_.Get("lab2")->state(), emu::v1::DEPLOYING);
    h2_->SetTunnel("lab2", kTunnel, "up");
  });
  absl::Status s = manager_->Deploy(
      FileSource(kTwoHostLab, "lab2.yaml"), [&](const auto& e) {
        absl::MutexLock lock(&mu);
        messages.push_back(e.message());
        if (absl::StartsWith(e.message(), "waiting for 1 tunnel ")) {
          waiting.Notify();
        }
      });
  peer.join();
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(store_.Get("lab2")->state(), emu::v1::RUNNING);
  EXPECT_EQ(store_.Get("lab2")->links(1).state(), "up");
  EXPECT_NE(std::find(messages.begin(), messages.end(), "1 of 1 tunnels ready"),
            messages.end());
  EXPECT_EQ(messages.back(), "lab lab2 is running");
}

TEST_F(LabManagerTwoHostTest, TunnelThatNeverComesUpFailsTheDeployNamingIt) {
  LabManager::Options o = FastOptions();
  o.tunnel_ready_timeout = absl::Milliseconds(100);
  LabManager manager(&store_, &hosts_, o);
  h1_->SetTunnel("lab2", kTunnel, "waiting for h2 to connect");
  absl::Status s =
      manager.Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(s.message().find("1 of 1 tunnels not ready after 100ms: "
                             "b:eth2<->c:eth1 (h1: waiting for h2 to connect)"),
            std::string::npos)
      << s;
  EXPECT_TRUE(h1_->labs().empty() || h1_->labs().at("lab2").empty());
  EXPECT_EQ(store_.Get("lab2")->state(), emu::v1::FAILED);
}

TEST_F(LabManagerTwoHostTest, ConvergingOnlyWhileTunnelsAloneAreDown) {
  ASSERT_TRUE(
      manager_->Deploy(FileSource(kTwoHostLab, "lab2.yaml"), [](const auto&) {})
          .ok());
  EXPECT_FALSE(manager_->Get("lab2")->converging());
  h2_->SetTunnel("lab2", kTunnel, "connecting to h1 (fake:7472), attempt 2");
  auto lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_TRUE(lab->converging());
  // A lost host is not something to wait for.
  h2_->SetReachable(false);
  hosts_.Refresh(absl::Seconds(1));
  lab = manager_->Get("lab2");
  EXPECT_EQ(lab->state(), emu::v1::DEGRADED);
  EXPECT_FALSE(lab->converging());
}

// ---- Store writes that fail ----

TEST_F(LabManagerTest, DeployingRecordThatCannotBeWrittenCreatesNothing) {
  store_.FailPuts(absl::UnavailableError("disk full"), -1, emu::v1::DEPLOYING);
  absl::Status s = Deploy(kLab);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("lab lab1: record DEPLOYING (3 attempts): "),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s;
  EXPECT_EQ(store_.failed_puts(), 3);
  EXPECT_TRUE(h1_->applies().empty());
}

TEST_F(LabManagerTest, StoreWriteIsRetriedABoundedNumberOfTimes) {
  store_.FailPuts(absl::UnavailableError("database is locked"), 2);
  ASSERT_TRUE(Deploy(kLab).ok());
  EXPECT_EQ(store_.failed_puts(), 2);
  EXPECT_EQ(store_.Get("lab1")->state(), emu::v1::RUNNING);
}

TEST_F(LabManagerTest, RunningRecordThatCannotBeWrittenFailsAndRollsBack) {
  store_.FailPuts(absl::UnavailableError("disk full"), -1, emu::v1::RUNNING);
  absl::Status s = Deploy(kLab);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("record RUNNING"), std::string::npos) << s;
  EXPECT_TRUE(h1_->labs().empty()) << "rollback left nodes behind";
  EXPECT_EQ(store_.Get("lab1")->state(), emu::v1::FAILED);
  EXPECT_NE(events_.back().message().find("rolled back"), std::string::npos);
}

TEST_F(LabManagerTest, RollbackWhoseRecordsFailSaysSoAndLeavesDeploying) {
  h1_->FailApplyWith(absl::InternalError("create veth: File exists"));
  store_.FailPuts(absl::UnavailableError("disk full"), -1, emu::v1::FAILED);
  absl::Status s = Deploy(kLab);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("File exists"), std::string::npos) << s;
  EXPECT_NE(s.message().find("lab lab1: record FAILED"), std::string::npos)
      << s;
  EXPECT_TRUE(h1_->labs().empty());
  // The DESTROYING record stays: Reconcile sees it and finishes the job.
  EXPECT_EQ(store_.Get("lab1")->state(), emu::v1::DESTROYING);
  store_.FailPuts(absl::OkStatus(), 0);
  manager_->Reconcile([](const std::string&) {});
  EXPECT_EQ(store_.Get("lab1").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LabManagerTest, DestroyThatCannotRecordDestroyingTouchesNothing) {
  ASSERT_TRUE(Deploy(kLab).ok());
  store_.FailPuts(absl::UnavailableError("disk full"), -1, emu::v1::DESTROYING);
  absl::Status s = manager_->Destroy("lab1", [](const auto&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("lab lab1: record DESTROYING"), std::string::npos)
      << s;
  EXPECT_EQ(h1_->labs().at("lab1").size(), 2u);
  EXPECT_EQ(store_.Get("lab1")->state(), emu::v1::RUNNING);
}

TEST_F(LabManagerTest, ReconcileLogsARecordItCouldNotDeleteAndRetries) {
  ASSERT_TRUE(Deploy(kLab).ok());
  h1_->SetReachable(false);
  hosts_.Refresh(absl::Seconds(1));
  ASSERT_FALSE(manager_->Destroy("lab1", [](const auto&) {}).ok());
  h1_->SetReachable(true);
  store_.FailDeletes(absl::UnavailableError("disk full"));
  std::vector<std::string> log;
  manager_->Reconcile([&](const std::string& l) { log.push_back(l); });
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("could not delete its record"), std::string::npos)
      << log[0];
  EXPECT_EQ(store_.Get("lab1")->state(), emu::v1::DESTROYING);
  store_.FailDeletes(absl::OkStatus());
  manager_->Reconcile([](const std::string&) {});
  EXPECT_EQ(store_.Get("lab1").status().code(), absl::StatusCode::kNotFound);
}

TEST(LabManagerPoolTest, ExecLinesOfManyNodesRunOnABoundedPool) {
  InMemoryLabStore store;
  hosts::HostRegistry hosts;
  auto h1 = std::make_unique<hosts::FakeAgentClient>("h1");
  hosts::FakeAgentClient* agent = h1.get();
  ASSERT_TRUE(hosts.Add("h1", "fake:1", std::move(h1)).ok());
  hosts.Refresh(absl::Seconds(1));
  LabManager::Options o;
  o.threads = 2;
  LabManager manager(&store, &hosts, o);
  std::string lab = "name: many\ntopology:\n  nodes:\n";
  for (int i = 0; i < 12; ++i) {
    absl::StrAppend(&lab, "    n", i, ": {exec: [\"echo ", i, "\"]}\n");
  }
  ASSERT_TRUE(
      manager.Deploy(FileSource(lab, "many.yaml"), [](const auto&) {}).ok());
  EXPECT_EQ(agent->execs().size(), 12u);
}

// ---- Apply (emuctl apply) ----

class LabManagerApplyTest : public LabManagerTwoHostTest {
 protected:
  void SetUp() override {
    LabManagerTwoHostTest::SetUp();
    ASSERT_TRUE(
        manager_->Deploy(FileSource(kTwoHostLab), [](const auto&) {}).ok());
  }
  // kTwoHostLab with `from` replaced by `to`.
  static std::string Edit(const std::string& from, const std::string& to) {
    std::string s = kTwoHostLab;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  }
  absl::Status Apply(const std::string& content, bool dry_run = false) {
    events_.clear();
    changes_.clear();
    return manager_->Apply(FileSource(content), dry_run,
                           [this](const emu::v1::DeployEvent& e) {
                             events_.push_back(e);
                             for (const auto& c : e.changes()) {
                               changes_.push_back(c);
                             }
                           });
  }
  std::vector<emu::v1::DeployEvent> events_;
  std::vector<std::string> changes_;
};

// d on h2 beside c, linked to c: only h2 hears of it.
std::string WithD() {
  return R"(name: lab2
topology:
  nodes:
    a: {host: h1}
    b: {host: h1}
    c: {host: h2}
    d:
      exec: ["echo d is up"]
  links:
    - endpoints: ["a:eth1", "b:eth1"]
    - endpoints: ["b:eth2", "c:eth1"]
      rate: 100mbit
    - endpoints: ["c:eth2", "d:eth1"]
)";
}

TEST_F(LabManagerApplyTest, AddedNodeGoesBesideItsPeerAndOnlyThatHostIsCalled) {
  const size_t h1_applies = h1_->applies().size();
  const size_t h2_applies = h2_->applies().size();
  const size_t execs = h1_->execs().size() + h2_->execs().size();
  // d is not pinned: placement puts it with c (its only link) on h2.
  ASSERT_TRUE(
Apply(WithD()).ok());
  EXPECT_THAT(changes_, ::testing::ElementsAre("+ node d (host h2)",
                                               "+ link c:eth2<->d:eth1"));
  EXPECT_EQ(h1_->applies().size(), h1_applies) << "h1 did not change";
  ASSERT_EQ(h2_->applies().size(), h2_applies + 1);
  EXPECT_EQ(h2_->labs().at("lab2"), (std::vector<std::string>{"c", "d"}));
  // Only the new node's exec lines ran.
  auto h2_execs = h2_->execs();
  ASSERT_EQ(h1_->execs().size() + h2_execs.size(), execs + 1);
  EXPECT_EQ(h2_execs.back().node(), "d");
  auto lab = manager_->Get("lab2");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::RUNNING);
  ASSERT_EQ(lab->nodes_size(), 4);
  EXPECT_EQ(lab->nodes(3).host(), "h2");
  EXPECT_EQ(lab->topology().links_size(), 3);

  // The same file again: nothing to do, nobody called.
  ASSERT_TRUE(
Apply(WithD()).ok());
  EXPECT_TRUE(changes_.empty());
  EXPECT_EQ(h2_->applies().size(), h2_applies + 1);
}

TEST_F(LabManagerApplyTest, ConditionsOnlyGoThroughSetLinkParamsOnBothEnds) {
  const size_t applies = h1_->applies().size() + h2_->applies().size();
  ASSERT_TRUE(Apply(Edit("rate: 100mbit", "rate: 20mbit")).ok());
  EXPECT_THAT(changes_, ::testing::ElementsAre(
                            "~ link b:eth2<->c:eth1 rate 100Mbit/s -> "
                            "20Mbit/s"));
  EXPECT_EQ(h1_->applies().size() + h2_->applies().size(), applies);
  for (auto* host : {h1_, h2_}) {
    auto params = host->link_params();
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].a().node(), "b");
    EXPECT_EQ(params[0].a_to_b().rate_bps(), 20'000'000u);
  }
  auto lab = manager_->Get("lab2");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->topology().links(1).a_to_b().rate_bps(), 20'000'000u);
}

// carrier: vxlan: a change whose conditions need the userspace engine on a
// cross-host link (a kernel VXLAN device) is refused before any host is
// called (placement::CheckVxlanConditions), naming the link, the direction
// and the sending host; the stored lab stays as it was.
TEST_F(LabManagerTwoHostTest, ApplyRefusesEngineConditionsOnAVxlanLink) {
  h1_->capabilities().set_userspace_engine(true);
  h2_->capabilities().set_userspace_engine(true);
  hosts_.Refresh(absl::Seconds(1));
  std::string lab = kTwoHostLab;
  lab.replace(lab.find("name: lab2"), 10, "name: lab2\ncarrier: vxlan");
  ASSERT_TRUE(
      manager_->Deploy(FileSource(lab, "lab2.yaml"), [](const auto&) {}).ok());
  const size_t calls = h1_->link_params().size() + h2_->link_params().size() +
                       h1_->applies().size() + h2_->applies().size();
  std::string changed = lab;
  changed.replace(changed.find("rate: 100mbit"), 13,
                  "rate: 100mbit\n      b-to-a: {ber: 1e-6}");
  absl::Status s = manager_->Apply(FileSource(changed, "lab2.yaml"), false,
                                   [](const auto&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("link b:eth2<->c:eth1 b-to-a: "));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("carrier vxlan"));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("(host h2)"));
  EXPECT_EQ(h1_->link_params().size() + h2_->link_params().size() +
                h1_->applies().size() + h2_->applies().size(),
            calls);
  auto stored = store_.Get("lab2");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->topology().links(1).b_to_a().bit_error_rate(), 0);
  // A rate on it is the kernel's: applied.
  changed = lab;
  changed.replace(changed.find("rate: 100mbit"), 13, "rate: 50mbit");
  EXPECT_TRUE(manager_->Apply(FileSource(changed, "lab2.yaml"), false,
                              [](const auto&) {})
                  .ok());
}

TEST_F(LabManagerApplyTest, DryRunPrintsTheDifferenceAndChangesNothing) {
  auto before = store_.Get("lab2");
  ASSERT_TRUE(before.ok());
  const size_t applies = h1_->applies().size() + h2_->applies().size();
  ASSERT_TRUE(Apply(Edit("    - endpoints: [\"a:eth1\", \"b:eth1\"]\n", ""),
                    /*dry_run=*/true)
                  .ok());
  EXPECT_THAT(changes_, ::testing::ElementsAre("- link a:eth1<->b:eth1"));
  EXPECT_EQ(h1_->applies().size() + h2_->applies().size(), applies);
  auto after = store_.Get("lab2");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->topology().links_size(), before->topology().links_size());
}

TEST_F(LabManagerApplyTest, HostLeftWithoutNodesLosesTheLab) {
  ASSERT_TRUE(Apply(R"(name: lab2
topology:
  nodes:
    a: {host: h1}
    b: {host: h1}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
)")
                  .ok());
  EXPECT_THAT(changes_, ::testing::ElementsAre("- node c (host h2)",
                                               "- link b:eth2<->c:eth1"));
  EXPECT_EQ(h2_->destroy_calls(), 1);
  EXPECT_FALSE(h2_->labs().count("lab2"));
  ASSERT_FALSE(h1_->applies().empty());
  EXPECT_TRUE(h1_->applies().back().remote_links().empty());
}

TEST_F(LabManagerApplyTest, FailureOnOneHostRollsEveryTouchedHostBack) {
  h2_->FailApplyWith(absl::InternalError("veth create: File exists"));
  // a:eth1<->b:eth1 removed (h1) and d added on h2: both hosts touched.
  std::string edited = Edit("    - endpoints: [\"a:eth1\", \"b:eth1\"]\n", "");
  edited.replace(edited.find("    c: {host: h2}\n"),
                 std::string("    c: {host: h2}\n").size(),
                 "    c: {host: h2}\n    d: {host: h2}\n");
  absl::Status s = Apply(edited);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("host h2: veth create: File exists"));
  // h2 fails its previous share too (the fake fails every ApplyLab): the
  // error says so.
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("rollback incomplete: host h2"));
  // h1 got its previous share back (with the removed link).
  ASSERT_FALSE(h1_->applies().empty());
  EXPECT_EQ(h1_->applies().back().links_size(), 1);
  // The stored lab is the previous one, still RUNNING.
  auto lab = store_.Get("lab2");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->state(), emu::v1::RUNNING);
  EXPECT_EQ(lab->topology().nodes_size(), 3);
  EXPECT_EQ(lab->topology().links_size(), 2);

  // Once h2 works again, the same apply converges.
  h2_->FailApplyWith(absl::OkStatus());
  ASSERT_TRUE(Apply(edited).ok());
  EXPECT_EQ(h2_->labs().at("lab2"), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(h1_->applies().back().links_size(), 0);
  lab = store_.Get("lab2");
  ASSERT_TRUE(lab.ok());
  EXPECT_EQ(lab->topology().nodes_size(), 4);
}

TEST_F(LabManagerApplyTest, RefusesWhatItCannotDo) {
  // A running node cannot move.
  absl::Status s = Apply(Edit("c: {host: h2}", "c: {host: h1}"));
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_THAT(std::string(s.message()),
              ::testing::HasSubstr("node c runs on host h2"));
  // Unknown lab.
  s = Apply(Edit("name: lab2", "name: lab9"));
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  // A lab that is not RUNNING.
  auto lab = store_.Get("lab2");
  ASSERT_TRUE(lab.ok());
  lab->set_state(emu::v1::FAILED);
  ASSERT_TRUE(store_.Put(*lab).ok());
  s = Apply(Edit("rate: 100mbit", "rate: 20mbit"));
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("lab2 is FAILED"));
  EXPECT_TRUE(h1_->link_params().empty());
}

}  // namespace
}  // namespace emu::controller::lab

namespace emu::controller::lab {
namespace {

constexpr char kBackbone[] = R"(name: backbone
community:
  export: [{name: ix1, segment: sw1, to: [bob]}]
topology:
  nodes:
    sw1: {kind: switch}
)";
constexpr char kEdge[] = R"(name: edge
topology:
  nodes:
    r1: {interfaces: {eth1: {addresses: [10.100.0.11/24]}}}
  links:
    - endpoints: ["r1:eth1", "community:alice/ix1"]
)";

class LabManagerCommunityTest : public LabManagerTest {
 protected:
  void SetUp() override {
    LabManagerTest::SetUp();
    h1_->capabilities().add_node_kinds(emu::v1::NODE_KIND_SWITCH);
    // An interface export's bridge (community/exports.h).
    h1_->capabilities().add_node_kinds(emu::v1::NODE_KIND_BRIDGE);
    hosts_.Refresh(absl::Seconds(1));
  }
  absl::Status DeployAs(const std::string& owner, const std::string& content,
                        const std::string& file) {
    LabManager::DeployAs as;
    as.owner = owner;
    return manager_->Deploy(FileSource(content, file), as,
                            [](const auto&) {});
  }
  // The anchors of `lab`'s stored topology.
  std::vector<std::string> Anchors(const std::string& lab) {
    std::vector<std::string> out;
    auto got = manager_->Get(lab);
    if (!got.ok()) return {"lab not found"};
    for (const auto& n : got->topology().nodes()) {
      if (!n.foreign_lab().empty()) {
        out.push_back(n.foreign_lab() + "/" + n.foreign_node() + "@" +
                      n.host());
      }
    }
    return out;
  }
};

TEST_F(LabManagerCommunityTest, AttachRefusedBeforeAnythingIsCreated) {
  ASSERT_TRUE(DeployAs("alice", kBackbone, "backbone.yaml").ok());
  absl::Status s = DeployAs("carol", kEdge, "edge.yaml");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "edge.yaml:6: link r1:eth1<->community:alice/ix1: community "
            "endpoint alice/ix1 does not exist or is not exported to carol");
  EXPECT_EQ(h1_->labs().count("carol+edge"), 0u);
  EXPECT_TRUE(absl::IsNotFound(manager_->Get("carol+edge").status()));
}

TEST_F(LabManagerCommunityTest, ExporterLeavesAndComesBack) {
  ASSERT_TRUE(DeployAs("alice", kBackbone, "backbone.yaml").ok());
  absl::Status s = DeployAs("bob", kEdge, "edge.yaml");
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/sw1@h1"});
  // Bob's share on h1 has his router and the anchor; the anchor's
  // namespace is never his.
  auto bob_nodes = h1_->labs().at("bob+edge");
  EXPECT_EQ(bob_nodes.size(), 2u);
  ASSERT_EQ(manager_->Get("bob+edge")->state(), emu::v1::RUNNING);

  // Alice leaves: Bob is detached first and stays up, DEGRADED naming it.
  ASSERT_TRUE(manager_->Destroy("alice+backbone", [](const auto&) {}).ok());
  EXPECT_TRUE(Anchors("bob+edge").empty());
  auto bob = manager_->Get("bob+edge");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->state(), emu::v1::DEGRADED);
  EXPECT_NE(bob->error().find("r1:eth1<->community:alice/ix1"),
            std::string::npos)
      << bob->error();
  EXPECT_EQ(h1_->labs().at("bob+edge"), std::vector<std::string>{"r1"});

  // Alice returns: Bob is re-attached without being touched.
  ASSERT_TRUE(DeployAs("alice", kBackbone, "backbone.yaml").ok());
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/sw1@h1"});
  EXPECT_EQ(manager_->Get("bob+edge")->state(), emu::v1::RUNNING);
  EXPECT_EQ(h1_->labs().at("bob+edge").size(), 2u);

  // A periodic reconcile with nothing to change changes nothing.
  manager_->ReconcileCommunity([](const std::string& line) {
    ADD_FAILURE() << "unexpected change: " << line;
  });

  // Bob leaves: Alice's lab is untouched.
  ASSERT_TRUE(manager_->Destroy("bob+edge", [](const auto&) {}).ok());
  EXPECT_EQ(manager_->Get("alice+backbone")->state(), emu::v1::RUNNING);
  EXPECT_EQ(h1_->labs().count("bob+edge"), 0u);
}

// `emuctl apply` attaches a running lab (a new community: link) and
// detaches it again (the link gone from the file); Alice's lab is not
// touched either way.
TEST_F(LabManagerCommunityTest, ApplyAddsAndRemovesAnAttachment) {
  ASSERT_TRUE(DeployAs("alice", kBackbone, "backbone.yaml").ok());
  constexpr char kAlone[] = R"(name: edge
topology:
  nodes:
    r1: {interfaces: {eth1: {addresses: [10.100.0.11/24]}}}
)";
  ASSERT_TRUE(DeployAs("bob", kAlone, "edge.yaml").ok());
  EXPECT_TRUE(Anchors("bob+edge").empty());
  const auto alice_before = h1_->labs().at("alice+backbone");
  LabManager::DeployAs bob;
  bob.owner = "bob";
  std::vector<std::string> changes;
  auto apply = [&](const char* content) {
    changes.clear();
    return manager_->Apply(FileSource(content, "edge.yaml"), bob,
                           /*dry_run=*/false,
                           [&](const emu::v1::DeployEvent& e) {
                             for (const auto& c : e.changes()) {
                               changes.push_back(c);
                             }
                           });
  };
  absl::Status s = apply(kEdge);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/sw1@h1"});
  // Printed as the file names it, not by the anchor's internal name.
  EXPECT_THAT(changes, ::testing::ElementsAre(
                           "+ node community:alice/ix1 (host h1)",
                           "+ link r1:eth1<->community:alice/ix1"));
  EXPECT_EQ(h1_->labs().at("bob+edge").size(), 2u);  // r1 and the anchor
  EXPECT_EQ(manager_->Get("bob+edge")->state(), emu::v1::RUNNING);

  s = apply(kAlone);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(changes, ::testing::ElementsAre(
                           "- node community:alice/ix1 (host h1)",
                           "- link r1:eth1<->community:alice/ix1"));
  EXPECT_TRUE(Anchors("bob+edge").empty());
  EXPECT_EQ(h1_->labs().at("bob+edge"), std::vector<std::string>{"r1"});
  EXPECT_EQ(manager_->Get("bob+edge")->state(), emu::v1::RUNNING);
  EXPECT_EQ(h1_->labs().at("alice+backbone"), alice_before);
}

// A host that returns having lost its state gets the exporter's share
// before the attached lab's, whatever the names' order: the agent makes an
// attachment's port only in a segment that exists (it refuses one that does
// not appear within its short wait).
TEST_F(LabManagerCommunityTest, ResyncReappliesExportersBeforeAttachedLabs) {
  std::string backbone = kBackbone;
  std::string edge = kEdge;
  edge.replace(edge.find("alice/ix1"), 9, "zed/ix1");
  // "bob+edge" sorts before "zed+backbone".
  ASSERT_TRUE(DeployAs("zed", backbone, "backbone.yaml").ok());
  absl::Status s = DeployAs("bob", edge, "edge.yaml");
  ASSERT_TRUE(s.ok()) << s;
  const size_t before = h1_->applies().size();
  h1_->LoseState();
  std::vector<std::string> log;
  manager_->ResyncHost("h1", [&](const std::string& l) { log.push_back(l); });
  const auto applies = h1_->applies();
  ASSERT_EQ(applies.size(), before + 2) << absl::StrJoin(log, "\n");
  EXPECT_EQ(applies[before].lab(), "zed+backbone");
  EXPECT_EQ(applies[before + 1].lab(), "bob+edge");
}

// `emuctl community export`/`unexport` on a running lab, and interface
// exports (docs/community.md).
constexpr char kPlainBackbone[] = R"(name: backbone
topology:
  nodes:
    sw1: {kind: switch}
    rs: {interfaces: {eth1: {}, eth9: {}}}
  links:
    - endpoints: ["sw1:p0", "rs:eth1"]
)";

emu::v1::Export SegmentExport(const std::string& name,
                              const std::string& segment,
                              const std::string& to) {
  emu::v1::Export ex;
  ex.set_name(name);
  ex.set_segment(segment);
  ex.add_to(to);
  return ex;
}

TEST_F(LabManagerCommunityTest, ExportOnARunningLabAttachesAndSurvives) {
  ASSERT_TRUE(DeployAs("alice", kPlainBackbone, "backbone.yaml").ok());
  // Bob's file names alice/ix1, which nobody exports yet.
  EXPECT_TRUE(absl::IsInvalidArgument(DeployAs("bob", kEdge, "edge.yaml")));

  auto ep = manager_->SetExport("alice+backbone",
                                SegmentExport("ix1", "sw1", "bob"), false);
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->owner(), "alice");
  EXPECT_EQ(ep->lab(), "backbone");
  EXPECT_EQ(ep->segment(), "sw1");
  EXPECT_EQ(ep->state(), "up");
  ASSERT_TRUE(DeployAs("bob", kEdge, "edge.yaml").ok());
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/sw1@h1"});

  // Refusals name what is wrong; nothing changes.
  EXPECT_TRUE(absl::IsAlreadyExists(
      manager_
          ->SetExport("alice+backbone", SegmentExport("ix1", "sw1", "all"),
                      false)
          .status()));
  auto bad = manager_->SetExport("alice+backbone",
                                 SegmentExport("ix2", "rs", "all"), false);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("community export ix2: node rs is of kind"));
  EXPECT_TRUE(absl::IsNotFound(
      manager_->SetExport("alice+backbone", SegmentExport("ix9", "", ""), true)
          .status()));
  EXPECT_TRUE(absl::IsNotFound(
      manager_->SetExport("alice+nope", SegmentExport("ix3", "sw1", "all"),
                          false)
          .status()));

  // Stored with the lab: a new controller over the same store sees it, and
  // applying Alice's file (which does not name it) keeps it.
  manager_ = std::make_unique<LabManager>(&store_, &hosts_);
  LabManager::DeployAs alice;
  alice.owner = "alice";
  absl::Status applied = manager_->Apply(
      FileSource(kPlainBackbone, "backbone.yaml"), alice, false,
      [](const auto&) {});
  ASSERT_TRUE(applied.ok()) << applied;
  ASSERT_EQ(manager_->Get("alice+backbone")->topology().community().exports_size(), 1);
  EXPECT_TRUE(
      manager_->Get("alice+backbone")->topology().community().exports(0).runtime());

  // Unexport: Bob stays up, detached (DEGRADED naming it).
  ASSERT_TRUE(manager_
                  ->SetExport("alice+backbone", SegmentExport("ix1", "", ""),
                              true)
                  .ok());
  EXPECT_TRUE(Anchors("bob+edge").empty());
  EXPECT_EQ(manager_->Get("bob+edge")->state(), emu::v1::DEGRADED);
  // Exported again: Bob is re-attached by itself.
  ASSERT_TRUE(manager_
                  ->SetExport("alice+backbone",
                              SegmentExport("ix1", "sw1", "bob"), false)
                  .ok());
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/sw1@h1"});
  EXPECT_EQ(manager_->Get("bob+edge")->state(), emu::v1::RUNNING);
}

constexpr char kEdgeOnPort[] = R"(name: edge
topology:
  nodes:
    r1: {interfaces: {eth1: {addresses: [10.101.0.2/30]}}}
  links:
    - endpoints: ["r1:eth1", "community:alice/p1"]
)";

TEST_F(LabManagerCommunityTest, InterfaceExportTakesOneAttachmentAtATime) {
  ASSERT_TRUE(DeployAs("alice",
                       absl::StrCat(kPlainBackbone,
                                    "community:\n  export: [{name: p1, "
                                    "interface: \"rs:eth9\", to: all}]\n"),
                       "backbone.yaml")
                  .ok());
  // A bridge carries the interface: rs:eth9 is linked to it.
  auto alice = manager_->Get("alice+backbone");
  ASSERT_TRUE(alice.ok());
  const std::string bridge = alice->topology().community().exports(0).segment();
  EXPECT_EQ(bridge.substr(0, 2), "e-");
  bool linked = false;
  for (const auto& l : alice->topology().links()) {
    linked = linked || (l.a().node() == "rs" && l.a().interface() == "eth9" &&
                        l.b().node() == bridge);
  }
  EXPECT_TRUE(linked);
  ASSERT_TRUE(DeployAs("bob", kEdgeOnPort, "edge.yaml").ok());
  EXPECT_EQ(Anchors("bob+edge"),
            std::vector<std::string>{"alice+backbone/" + bridge + "@h1"});
  // Carol is refused at up, naming the endpoint and who has it.
  absl::Status s = DeployAs("carol", kEdgeOnPort, "edge.yaml");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "edge.yaml:6: link r1:eth1<->community:alice/p1: community "
            "endpoint alice/p1 is the interface rs:eth9 of alice/backbone, "
            "which takes one attachment at a time; lab bob/edge has it");
  EXPECT_EQ(h1_->labs().count("carol+edge"), 0u);
  // Re-applying Alice's file changes nothing (the bridge is the same).
  LabManager::DeployAs as;
  as.owner = "alice";
  std::vector<std::string> messages;
  ASSERT_TRUE(manager_
                  ->Apply(FileSource(absl::StrCat(
                                         kPlainBackbone,
                                         "community:\n  export: [{name: p1, "
                                         "interface: \"rs:eth9\", to: all}]\n"),
                                     "backbone.yaml"),
                          as, /*dry_run=*/true,
                          [&](const auto& e) { messages.push_back(e.message()); })
                  .ok());
  ASSERT_FALSE(messages.empty());
  EXPECT_THAT(messages[0], ::testing::HasSubstr("no change"));
  // Bob leaves: Carol may attach.
  ASSERT_TRUE(manager_->Destroy("bob+edge", [](const auto&) {}).ok());
  EXPECT_TRUE(DeployAs("carol", kEdgeOnPort, "edge.yaml").ok());
}

TEST_F(LabManagerCommunityTest, InterfaceExportAtRunTimeAddsItsBridge) {
  ASSERT_TRUE(DeployAs("alice", kPlainBackbone, "backbone.yaml").ok());
  emu::v1::Export ex;
  ex.set_name("p1");
  ex.mutable_interface()->set_node("rs");
  ex.mutable_interface()->set_interface("eth9");
  ex.add_to("bob");
  auto ep = manager_->SetExport("alice+backbone", ex, false);
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->segment(), "rs:eth9");
  const auto nodes = h1_->labs().at("alice+backbone");
  EXPECT_EQ(nodes.size(), 3u);  // sw1, rs and the bridge
  ASSERT_TRUE(DeployAs("bob", kEdgeOnPort, "edge.yaml").ok());
  EXPECT_EQ(Anchors("bob+edge").size(), 1u);
  // A used interface is refused, naming it.
  ex.set_name("p2");
  ex.mutable_interface()->set_interface("eth1");
  auto used = manager_->SetExport("alice+backbone", ex, false);
  EXPECT_TRUE(absl::IsInvalidArgument(used.status()));
  EXPECT_THAT(std::string(used.status().message()),
              ::testing::HasSubstr("interface rs:eth1 is used by link"));
  // Unexport removes the bridge; Bob is detached.
  ex.set_name("p1");
  ASSERT_TRUE(manager_->SetExport("alice+backbone", ex, true).ok());
  EXPECT_EQ(h1_->labs().at("alice+backbone").size(), 2u);
  EXPECT_TRUE(Anchors("bob+edge").empty());
}

}  // namespace
}  // namespace emu::controller::lab
