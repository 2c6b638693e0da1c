#include "deploy/local_cluster.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/net/testing/fake_host_network.h"
#include "common/pki/pki.h"
#include "common/testing/fake_process_launcher.h"
#include "deploy/testing/fake_cluster_rpc.h"
#include "deploy/testing/fake_process_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::deploy {
namespace {

namespace fs = std::filesystem;

// A fresh path under the test's temporary directory (no double slashes, so
// paths compare equal to what the code under test normalises).
std::string TempPath(const std::string& name) {
  return (fs::path(::testing::TempDir()) / name).lexically_normal().string();
}

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

// Spawned "daemons" appear in the process table, write a line to their log,
// and the controller writes its port file, as the real ones would.
class DaemonLauncher : public FakeProcessLauncher {
 public:
  explicit DaemonLauncher(FakeProcessTable* table) : table_(table) {}

  absl::StatusOr<pid_t> Spawn(const ProcessSpec& spec,
                              const std::string& log_path) override {
    absl::StatusOr<pid_t> pid = FakeProcessLauncher::Spawn(spec, log_path);
    if (!pid.ok()) return pid;
    table_->Set(*pid, {static_cast<uint64_t>(*pid) * 10, spec.argv});
    std::ofstream(log_path, std::ios::app)
        << "daemon " << *pid << " starting\n";
    for (const std::string& arg : spec.argv) {
      absl::string_view v = arg;
      if (absl::ConsumePrefix(&v, "--port_file=")) {
        std::ofstream(std::string(v)) << "40123\n";
      }
    }
    if (exit_on_spawn) MarkExited(*pid);
    return pid;
  }
  absl::Status Terminate(pid_t pid, absl::Duration grace) override {
    table_->Remove(pid);
    return FakeProcessLauncher::Terminate(pid, grace);
  }
  bool exit_on_spawn = false;

 private:
  FakeProcessTable* table_;
};

class RecordingNamespaceProcesses : public agent::net::NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string&) override {
    return std::vector<pid_t>{};
  }
  absl::Status KillAll(const std::string& ns, absl::Duration) override {
    killed.push_back(ns);
    return absl::OkStatus();
  }
  std::vector<std::string> killed;
};

class LocalClusterTest : public ::testing::Test {
 protected:
  LocalClusterTest()
      : launcher_(&table_),
        cluster_(
            &launcher_, &rpc_, &table_, &net_, &ns_procs_,
            [this](absl::string_view line) { progress_.emplace_back(line); }) {
    root_ = TempPath(
        absl::StrCat("local_cluster_test_", getpid(), "_", counter_++));
    options_.cluster.id = "t";
    options_.cluster.hosts = 2;
    options_.cluster.state_root = root_;
    options_.binaries = {"/opt/emu/bin/emu-agent",
                         "/opt/emu/bin/emu-controller"};
    options_.ready_timeout = absl::Milliseconds(300);
  }
  ~LocalClusterTest() override { fs::remove_all(root_); }

  std::string Progress() const { return absl::StrJoin(progress_, "\n"); }

  // A daemon's kill -9: its process ends and leaves the process table.
  void Kill(pid_t pid) {
    launcher_.MarkExited(pid);
    table_.Remove(pid);
  }
  // `rounds` rounds of the supervisor, 1 ms apart.
  absl::Status Supervise(int rounds, SuperviseOptions sopts = Quick()) {
    sopts.interval = absl::Milliseconds(1);
    int done = 0;
    return cluster_.Supervise("t", root_, sopts,
                              [&] { return ++done > rounds; });
  }
  static SuperviseOptions Quick() {
    SuperviseOptions sopts;
    sopts.ready_timeout = absl::Milliseconds(300);
    return sopts;
  }

  // Namespaces under /run/netns other than the agents' node namespaces
  // (emu.*): the host namespaces and foreign ones.
  std::set<std::string> Namespaces() {
    std::set<std::string> out;
    absl::StatusOr<std::vector<std::string>> all = net_.ListNamespaces("");
    EXPECT_TRUE(all.ok()) << all.status();
    for (const std::string& ns : all.value_or(std::vector<std::string>())) {
      if (!absl::StartsWith(ns, "emu.")) out.insert(ns);
    }
    return out;
  }
  // Interfaces of the root namespace but "lo".
  std::set<std::string> Links() {
    std::set<std::string> out;
    absl::StatusOr<std::vector<agent::net::HostNetwork::InterfaceInfo>> all =
        net_.ListInterfaces("");
    EXPECT_TRUE(all.ok()) << all.status();
    for (const auto& i :
         all.value_or(std::vector<agent::net::HostNetwork::InterfaceInfo>())) {
      if (i.name != "lo") out.insert(i.name);
    }
    return out;
  }
  void AddNamespaces(const std::vector<std::string>& names) {
    for (const std::string& ns : names) {
      ASSERT_TRUE(net_.CreateNamespace(ns).ok()) << ns;
    }
  }
  // Root-namespace interfaces standing in for leftovers and foreign ones;
  // cleanup goes by name, so a bridge does for each.
  void AddLinks(const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      ASSERT_TRUE(net_.CreateBridge("", name).ok()) << name;
    }
  }

  static inline int counter_ = 0;
  FakeProcessTable table_;
  DaemonLauncher launcher_;
  FakeClusterRpc rpc_;
  agent::net::FakeHostNetwork net_;
  RecordingNamespaceProcesses ns_procs_;
  std::vector<std::string> progress_;
  LocalCluster cluster_;
  std::string root_;
  LocalClusterStartOptions options_;
};

TEST_F(LocalClusterTest, StartCreatesHostsDaemonsAndRecord) {
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();

  EXPECT_THAT(Namespaces(),
              UnorderedElementsAre("emuhost-t-h1", "emuhost-t-h2"));
  EXPECT_THAT(Links(), UnorderedElementsAre("emubr-t", "emuv-t-1", "emuv-t-2"));
  std::optional<agent::net::HostNetwork::InterfaceInfo> bridge =
      net_.GetInterface("", "emubr-t");
  ASSERT_TRUE(bridge.has_value());
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->up);
  EXPECT_THAT(bridge->addresses, ElementsAre("198.18.0.1/24"));
  for (int i : {1, 2}) {
    const std::string veth = absl::StrCat("emuv-t-", i);
    const std::string ns = absl::StrCat("emuhost-t-h", i);
    std::optional<agent::net::HostNetwork::InterfaceInfo> port =
        net_.GetInterface("", veth);
    ASSERT_TRUE(port.has_value()) << veth;
    EXPECT_EQ(port->master, "emubr-t") << veth;
    EXPECT_TRUE(port->up) << veth;
    EXPECT_EQ(net_.Peer("", veth), std::make_pair(ns, std::string("eth0")));
    std::optional<agent::net::HostNetwork::InterfaceInfo> nic =
        net_.GetInterface(ns, "eth0");
    ASSERT_TRUE(nic.has_value()) << ns;
    EXPECT_TRUE(nic->up) << ns;
    EXPECT_THAT(nic->addresses, Contains(absl::StrCat("198.18.0.1", i, "/24")));
    EXPECT_TRUE(net_.GetInterface(ns, "lo")->up) << ns;
  }
  // All through HostNetwork: no `ip` process.
  EXPECT_THAT(launcher_.runs(), IsEmpty());

  const std::string dir = root_ + "/t";
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  EXPECT_EQ(spawns[0].spec.netns, "");  // it enters emuhost-t-h1 itself
  EXPECT_EQ(spawns[0].log_path, dir + "/logs/t-h1.log");
  EXPECT_THAT(
      spawns[0].spec.argv,
      ElementsAre("/opt/emu/bin/emu-agent", "--listen=198.18.0.11:7471",
                  "--host_name=t-h1", "--state_dir=" + dir + "/agents/t-h1",
                  "--token_file=" + dir + "/token",
                  "--port_file=" + dir + "/agents/t-h1.port",
                  "--pki_dir=" + dir + "/pki",
                  "--guest_snapshot_dir=" + dir + "/snapshots",
                  "--netns=emuhost-t-h1"));
  EXPECT_THAT(spawns[1].spec.argv, Contains("--netns=emuhost-t-h2"));
  EXPECT_EQ(spawns[1].spec.netns, "");
  EXPECT_EQ(spawns[2].spec.netns, "");
  EXPECT_THAT(
      spawns[2].spec.argv,
      ElementsAre("/opt/emu/bin/emu-controller", "--listen=127.0.0.1:0",
                  "--agents=t-h1=198.18.0.11:7471,t-h2=198.18.0.12:7471",
                  "--db=" + dir + "/controller.db",
                  "--token_file=" + dir + "/token",
                  "--port_file=" + dir + "/controller.port",
                  "--pki_dir=" + dir + "/pki"));

  // The cluster's own CA, a controller certificate and one per agent, for
  // its host name and address; keys private; every probe over TLS.
  auto ca = common::pki::ReadPem(dir + "/pki/ca.crt");
  ASSERT_TRUE(ca.ok()) << ca.status();
  for (const auto& [name, role] :
       {std::pair<std::string, common::pki::Role>{
            "controller", common::pki::Role::kController},
        {"agent-t-h1", common::pki::Role::kAgent},
        {"agent-t-h2", common::pki::Role::kAgent}}) {
    auto creds = common::pki::ReadCredentials(dir + "/pki/" + name + ".crt",
                                              dir + "/pki/" + name + ".key");
    ASSERT_TRUE(creds.ok()) << creds.status();
    auto id = common::pki::Verify(*ca, creds->cert_pem, absl::Now());
    ASSERT_TRUE(id.ok()) << name << ": " << id.status();
    EXPECT_EQ(id->role, role) << name;
  }
  for (const FakeClusterRpc::Call& call : rpc_.calls()) {
    EXPECT_TRUE(call.tls) << call.method << " " << call.address;
  }

  // The token is private, random hex, and what the probes carried.
  struct stat st;
  ASSERT_EQ(stat((dir + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string token;
  std::getline(std::ifstream(dir + "/token"), token);
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::vector<FakeClusterRpc::Call> calls = rpc_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back().method, "ProbeController");
  EXPECT_EQ(calls.back().address, "127.0.0.1:40123");
  EXPECT_EQ(calls.back().token, token);

  absl::StatusOr<ClusterFile> file = ReadClusterFile(dir + "/cluster.json");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->state, kClusterStateRunning);
  EXPECT_EQ(file->controller, "127.0.0.1:40123");
  EXPECT_EQ(file->controller_pid, spawns[2].pid);
  EXPECT_EQ(file->controller_start_time, spawns[2].pid * 10u);
  ASSERT_EQ(file->hosts.size(), 2u);
  EXPECT_EQ(file->hosts[1].pid, spawns[1].pid);
  EXPECT_EQ(file->hosts[1].address, "198.18.0.12:7471");
  EXPECT_EQ(file->token_file, dir + "/token");

  absl::StatusOr<LocalClusterStatus> status = cluster_.Status("t", root_);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->all_running());
  ASSERT_EQ(status->daemons.size(), 3u);
  EXPECT_EQ(status->daemons[0].name, "controller");
  EXPECT_EQ(status->daemons[2].name, "t-h2");
  EXPECT_EQ(status->daemons[2].netns, "emuhost-t-h2");

  // A dead agent shows in status.
  Kill(spawns[1].pid);
  status = cluster_.Status("t", root_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->all_running());
  EXPECT_FALSE(status->daemons[2].running);
  EXPECT_TRUE(status->daemons[1].running);
}

TEST_F(LocalClusterTest, TheTunnelCarrierIsTheClusters) {
  options_.cluster.tunnel_carrier = "plain";
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  EXPECT_EQ(started->tunnel_carrier, "plain");
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  EXPECT_THAT(spawns[0].spec.argv, Contains("--tunnel_carrier=plain"));
  EXPECT_THAT(spawns[1].spec.argv, Contains("--tunnel_carrier=plain"));
  EXPECT_THAT(spawns[2].spec.argv, Not(Contains("--tunnel_carrier=plain")));
  // Recorded, so restarts (the supervisor) keep it.
  auto record = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->tunnel_carrier, "plain");
}

TEST_F(LocalClusterTest, NothingServesMetricsOrWebOrHostCommandsUnlessAsked) {
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  for (const auto& spawn : launcher_.spawns()) {
    EXPECT_THAT(spawn.spec.argv,
                Not(Contains(::testing::HasSubstr("--metrics"))));
    EXPECT_THAT(spawn.spec.argv, Not(Contains(::testing::HasSubstr("--web"))));
    EXPECT_THAT(spawn.spec.argv, Not(Contains("--allow_host_commands")));
  }
}

TEST_F(LocalClusterTest, MetricsOnLoopbackAndHostAddressesWebOnLoopback) {
  options_.cluster.metrics = true;
  options_.cluster.web = true;
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  // Agents h1, h2 on their own addresses (198.18.x.11, .12), port files
  // beside their gRPC port files; the controller on loopback.
  EXPECT_THAT(spawns[0].spec.argv,
              Contains(::testing::MatchesRegex("--metrics=[0-9.]+\\.11:0")));
  EXPECT_THAT(spawns[0].spec.argv,
              Contains(::testing::EndsWith("/agents/t-h1.metrics_port")));
  EXPECT_THAT(spawns[0].spec.argv, Not(Contains(::testing::HasSubstr("--web"))));
  EXPECT_THAT(spawns[2].spec.argv, Contains("--metrics=127.0.0.1:0"));
  EXPECT_THAT(spawns[2].spec.argv, Contains("--web=127.0.0.1:0"));
  EXPECT_THAT(spawns[2].spec.argv,
              Contains("--web_port_file=" + root_ + "/t/controller.web_port"));
  auto record = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->metrics);
  EXPECT_TRUE(record->web);
}

// `emuctl local start --allow-host-commands`: every agent, and only the
// agents, get the opt-in; the record keeps it for their restarts.
TEST_F(LocalClusterTest, HostCommandsGoToEveryAgentWhenAsked) {
  options_.cluster.allow_host_commands = true;
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  EXPECT_THAT(spawns[0].spec.argv, Contains("--allow_host_commands"));
  EXPECT_THAT(spawns[1].spec.argv, Contains("--allow_host_commands"));
  EXPECT_THAT(spawns[2].spec.argv, Not(Contains("--allow_host_commands")));
  auto record = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_TRUE(record->allow_host_commands);
}

// `emuctl local start --engine-threads 2 --engine-nice -5`: every agent,
// and only the agents, get them; an agent the supervisor starts again too.
TEST_F(LocalClusterTest, EngineThreadsAndNiceGoToEveryAgentAndItsRestarts) {
  options_.cluster.engine_threads = 2;
  options_.cluster.engine_nice = -5;
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  for (int i : {0, 1}) {
    EXPECT_THAT(spawns[i].spec.argv, Contains("--engine_threads=2"));
    EXPECT_THAT(spawns[i].spec.argv, Contains("--engine_nice=-5"));
  }
  EXPECT_THAT(spawns[2].spec.argv,
              Not(Contains(::testing::HasSubstr("--engine"))));
  auto record = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->engine_threads, 2);
  EXPECT_EQ(record->engine_nice, -5);

  Kill(spawns[1].pid);
  ASSERT_TRUE(Supervise(3).ok()) << Progress();
  spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 4u) << Progress();
  EXPECT_THAT(spawns[3].spec.argv, Contains("--host_name=t-h2"));
  EXPECT_THAT(spawns[3].spec.argv, Contains("--engine_threads=2"));
  EXPECT_THAT(spawns[3].spec.argv, Contains("--engine_nice=-5"));
}

TEST_F(LocalClusterTest, TheAgentsOwnEngineDefaultsUnlessAsked) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  for (const auto& spawn : launcher_.spawns()) {
    EXPECT_THAT(spawn.spec.argv,
                Not(Contains(::testing::HasSubstr("--engine"))));
  }
}

TEST_F(LocalClusterTest, TheSshCarrierAndItsConfigGoToEveryAgent) {
  options_.cluster.tunnel_carrier = "ssh";
  options_.cluster.tunnel_ssh_config = "/etc/emu/ssh_config";
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 3u);
  for (int i : {0, 1}) {
    EXPECT_THAT(spawns[i].spec.argv, Contains("--tunnel_carrier=ssh"));
    EXPECT_THAT(spawns[i].spec.argv,
                Contains("--tunnel_ssh_config=/etc/emu/ssh_config"));
  }
  auto record = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->tunnel_ssh_config, "/etc/emu/ssh_config");
}

TEST_F(LocalClusterTest, AnSshConfigWithoutTheSshCarrierIsRefused) {
  options_.cluster.tunnel_ssh_config = "/etc/emu/ssh_config";
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("--tunnel-ssh-config '/etc/emu/ssh_config'"));
  options_.cluster.tunnel_carrier = "ssh";
  options_.cluster.tunnel_ssh_config = "ssh_config";
  started = cluster_.Start(options_);
  ASSERT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(launcher_.spawns(), IsEmpty());
}

TEST_F(LocalClusterTest, AnUnknownTunnelCarrierIsRefusedBeforeAnything) {
  options_.cluster.tunnel_carrier = "ssl";
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("--tunnel-carrier 'ssl'"));
  EXPECT_THAT(launcher_.spawns(), IsEmpty());
}

TEST_F(LocalClusterTest, PlainTextOnlyWhenAskedFor) {
  options_.cluster.insecure_plaintext = true;
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << "\n" << Progress();
  EXPECT_EQ(started->pki_dir, "");
  for (const FakeProcessLauncher::SpawnCall& spawn : launcher_.spawns()) {
    EXPECT_THAT(spawn.spec.argv, Contains("--insecure_plaintext"));
  }
  EXPECT_FALSE(std::filesystem::exists(root_ + "/t/pki"));
  for (const FakeClusterRpc::Call& call : rpc_.calls()) {
    EXPECT_FALSE(call.tls) << call.method << " " << call.address;
  }
}

TEST_F(LocalClusterTest, RefusesToStartTwice) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  absl::StatusOr<ClusterFile> again = cluster_.Start(options_);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("\"t\" is already running (controller pid"));
  EXPECT_THAT(std::string(again.status().message()),
              HasSubstr("`emuctl local stop --name t`"));
  EXPECT_EQ(launcher_.spawns().size(), 3u);
  EXPECT_TRUE(launcher_.terminated().empty());
}

TEST_F(LocalClusterTest, StopWaitsForTheSupervisorsMomentaryLock) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  // What the supervisor does each round: the cluster's lock, for a moment.
  const std::string path = root_ + "/.t.lock";
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
  std::thread supervisor([fd] {
    absl::SleepFor(absl::Milliseconds(400));
    close(fd);  // releases the flock
  });
  absl::Status stopped = cluster_.Stop("t", root_);
  supervisor.join();
  EXPECT_TRUE(stopped.ok()) << stopped << "\n" << Progress();
  // A stopped cluster leaves no lock file behind; a new start makes one.
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  EXPECT_TRUE(std::filesystem::exists(path));
  ASSERT_TRUE(cluster_.Stop("t", root_).ok()) << Progress();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(LocalClusterTest, StopDestroysLabsThenEndsDaemonsAndRemovesEverything) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  rpc_.SetLabs("127.0.0.1:40123", {"lab1", "lab2"});
  rpc_.SetLabs("198.18.0.12:7471", {"orphan"});

  ASSERT_TRUE(cluster_.Stop("t", root_).ok()) << Progress();
  std::vector<std::string> methods;
  for (const auto& c : rpc_.calls()) methods.push_back(c.method);
  EXPECT_THAT(methods, Contains("DestroyControllerLabs"));
  EXPECT_THAT(Progress(), HasSubstr("destroyed lab lab1"));
  EXPECT_THAT(Progress(),
              HasSubstr("destroyed what was left of lab orphan on t-h2"));
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  EXPECT_THAT(
      launcher_.terminated(),
      UnorderedElementsAre(spawns[0].pid, spawns[1].pid, spawns[2].pid));
  EXPECT_THAT(Namespaces(), IsEmpty());
  EXPECT_THAT(Links(), IsEmpty());
  EXPECT_FALSE(fs::exists(root_ + "/t"));

  // Idempotent.
  progress_.clear();
  EXPECT_TRUE(cluster_.Stop("t", root_).ok());
  EXPECT_THAT(Progress(), HasSubstr("nothing to stop"));
  EXPECT_EQ(cluster_.Status("t", root_).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(LocalClusterTest, StopTouchesOnlyItsOwnNamesAndRecordedProcesses) {
  AddNamespaces({"emuhost-t-h3", "emuhost-tt-h1"});
  for (const char* ns :
       {"emu.t-h1.lab.r1", "emu.t-h2.lab.r2", "emu.tt-h1.lab.r1",
        "emu.t-h10x.lab.r1", "emu.h1.lab.r1", "other"}) {
    ASSERT_TRUE(net_.CreateNamespace(ns).ok());
  }
  AddLinks({"eth0", "emuv-t-3", "emuv-tt-1", "emubr-t", "emubr-tt"});
  // A record whose controller pid now belongs to another program, and whose
  // agent pid was reused by a later emu-agent.
  fs::create_directories(root_ + "/t");
  ClusterFile record;
  record.controller_pid = 4000;
  record.controller_start_time = 1;
  record.controller_binary = "/x/emu-controller";
  record.agent_binary = "/x/emu-agent";
  record.hosts.push_back(
      {"t-h1", "emuhost-t-h1", "emuv-t-1", "198.18.0.11:7471", 4001, 5, ""});
  ASSERT_TRUE(WriteClusterFile(root_ + "/t/cluster.json", record).ok());
  table_.Set(4000, {1, {"/usr/bin/vim"}});
  table_.Set(4001, {6, {"/x/emu-agent"}});

  ASSERT_TRUE(cluster_.Stop("t", root_).ok()) << Progress();
  EXPECT_THAT(launcher_.terminated(), IsEmpty());
  EXPECT_TRUE(rpc_.calls().empty());
  EXPECT_THAT(Namespaces(), UnorderedElementsAre("emuhost-tt-h1", "other"));
  EXPECT_THAT(Links(), UnorderedElementsAre("eth0", "emuv-tt-1", "emubr-tt"));
  EXPECT_THAT(Progress(), HasSubstr("pid 4000 recorded for controller now runs "
                                    "something else; left alone"));
  // The lab namespaces of its hosts go with their processes, whether or not
  // the record names the host; foreign ones stay.
  EXPECT_FALSE(net_.HasNamespace("emu.t-h1.lab.r1"));
  EXPECT_FALSE(net_.HasNamespace("emu.t-h2.lab.r2"));
  EXPECT_THAT(ns_procs_.killed,
              UnorderedElementsAre("emu.t-h1.lab.r1", "emu.t-h2.lab.r2"));
  for (const char* ns :
       {"emu.tt-h1.lab.r1", "emu.t-h10x.lab.r1", "emu.h1.lab.r1", "other"}) {
    EXPECT_TRUE(net_.HasNamespace(ns)) << ns;
  }
  EXPECT_FALSE(fs::exists(root_ + "/t"));
}

// The leak of issue 15: the agents were killed, the test ended early and the
// record is gone; stop must still remove everything of the cluster.
TEST_F(LocalClusterTest, StopWithoutRecordOrLiveAgentsRemovesWhatIsLeft) {
  const std::string dir = root_ + "/x9843";
  AddNamespaces({"emuhost-x9843-h1", "emuhost-x9843-h2"});
  AddLinks({"emubr-x9843", "emuv-x9843-1", "emuv-x9843-2", "eth0"});
  for (const char* ns : {"emu.x9843-h2.explab.b", "emu.x9843-h1.explab.a",
                         "emu.x9844-h1.explab.a", "foreign"}) {
    ASSERT_TRUE(net_.CreateNamespace(ns).ok());
  }
  // A controller of this cluster that outlived its record, one of another
  // cluster, and an unrelated program.
  table_.Set(5000, {1,
                    {"/x/emu-controller", "--listen=127.0.0.1:0",
                     "--token_file=" + dir + "/token"}});
  table_.Set(5001,
             {1, {"/x/emu-agent", "--token_file=" + root_ + "/x9844/token"}});
  table_.Set(5002, {1, {"/usr/bin/sleep", "--token_file=" + dir + "/token"}});

  ASSERT_TRUE(cluster_.Stop("x9843", root_).ok()) << Progress();
  EXPECT_THAT(launcher_.terminated(), ElementsAre(5000));
  EXPECT_FALSE(net_.HasNamespace("emu.x9843-h2.explab.b"));
  EXPECT_FALSE(net_.HasNamespace("emu.x9843-h1.explab.a"));
  EXPECT_TRUE(net_.HasNamespace("emu.x9844-h1.explab.a"));
  EXPECT_TRUE(net_.HasNamespace("foreign"));
  EXPECT_THAT(Namespaces(), UnorderedElementsAre("foreign"));
  EXPECT_THAT(Links(), ElementsAre("eth0"));
  EXPECT_THAT(Progress(), Not(HasSubstr("nothing to stop")));
}

TEST_F(LocalClusterTest, StopLeavesNamespacesOfAHostAForeignAgentServes) {
  ASSERT_TRUE(net_.CreateNamespace("emu.t-h1.lab.a").ok());
  ASSERT_TRUE(net_.CreateNamespace("emu.t-h2.lab.a").ok());
  table_.Set(6000, {1, {"/usr/local/bin/emu-agent", "--host_name=t-h1"}});
  ASSERT_TRUE(cluster_.Stop("t", root_).ok()) << Progress();
  EXPECT_TRUE(net_.HasNamespace("emu.t-h1.lab.a"));
  EXPECT_FALSE(net_.HasNamespace("emu.t-h2.lab.a"));
  EXPECT_THAT(launcher_.terminated(), IsEmpty());
  EXPECT_THAT(Progress(),
              HasSubstr("an emu-agent not of this cluster serves host t-h1"));
}

TEST_F(LocalClusterTest, GcStopsDeadClustersAndLeavesRunningOnes) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();  // "t", running
  AddNamespaces({"emuhost-x9843-h1"});
  AddLinks({"emubr-x9843"});
  ASSERT_TRUE(net_.CreateNamespace("emu.x9843-h1.lab.a").ok());
  ASSERT_TRUE(
      net_.CreateNamespace("emu.y1-h3.lab.a").ok());  // only trace of y1
  ASSERT_TRUE(net_.CreateNamespace("emu.t-h1.lab.a").ok());
  ASSERT_TRUE(net_.CreateNamespace("emu.h1.lab.a").ok());  // not a cluster's
  // A lock file an older emuctl left of a cluster long gone.
  { std::ofstream(root_ + "/.old7.lock"); }
  // Not a cluster's: the agents' default guest run directory.
  ASSERT_TRUE(std::filesystem::create_directories(root_ + "/guests/lab.vm1"));

  absl::StatusOr<std::vector<std::string>> stopped =
      cluster_.CollectGarbage(root_);
  ASSERT_TRUE(stopped.ok()) << stopped.status() << "\n" << Progress();
  EXPECT_THAT(*stopped, UnorderedElementsAre("x9843", "y1"));
  EXPECT_FALSE(net_.HasNamespace("emu.x9843-h1.lab.a"));
  EXPECT_FALSE(net_.HasNamespace("emu.y1-h3.lab.a"));
  EXPECT_FALSE(net_.HasNamespace("emuhost-x9843-h1"));
  EXPECT_FALSE(Links().count("emubr-x9843"));
  // The running cluster and foreign names are untouched.
  EXPECT_TRUE(net_.HasNamespace("emu.t-h1.lab.a"));
  EXPECT_TRUE(net_.HasNamespace("emu.h1.lab.a"));
  EXPECT_TRUE(net_.HasNamespace("emuhost-t-h1"));
  EXPECT_TRUE(Links().count("emubr-t"));
  EXPECT_THAT(launcher_.terminated(), IsEmpty());
  EXPECT_THAT(Progress(), HasSubstr("local cluster \"t\" is running"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/.old7.lock"));
  EXPECT_FALSE(std::filesystem::exists(root_ + "/.x9843.lock"));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/.t.lock"));
  EXPECT_TRUE(std::filesystem::exists(root_ + "/guests/lab.vm1"));
}

// kill -9 of the controller: the supervisor starts it again with the same
// flags; the agents and the labs they hold are left alone.
TEST_F(LocalClusterTest, SupervisorRestartsOnlyTheDeadDaemon) {
  options_.supervisor_argv = {
      "/x/emuctl", "local", "supervise", "--name", "t", "--state-root", root_};
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << started.status() << Progress();
  ASSERT_GT(started->supervisor_pid, 0);
  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 4u);  // 2 agents, controller, supervisor
  EXPECT_EQ(spawns[3].spec.argv, options_.supervisor_argv);
  Kill(started->controller_pid);
  ASSERT_TRUE(Supervise(3).ok()) << Progress();
  spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 5u) << Progress();
  EXPECT_EQ(spawns[4].spec.argv[0], "/opt/emu/bin/emu-controller");
  absl::StatusOr<ClusterFile> now = ReadClusterFile(root_ + "/t/cluster.json");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->controller_pid, spawns[4].pid);
  EXPECT_EQ(now->hosts[0].pid, started->hosts[0].pid);
  EXPECT_EQ(now->supervisor_pid, started->supervisor_pid);
  EXPECT_THAT(Progress(), HasSubstr("supervisor: restarted controller"));
  for (const auto& c : rpc_.calls()) {
    EXPECT_THAT(c.method, Not(HasSubstr("Destroy")));
  }
  absl::StatusOr<LocalClusterStatus> status = cluster_.Status("t", root_);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(status->all_running());
}

TEST_F(LocalClusterTest, SupervisorBacksOffADaemonThatKeepsDying) {
  ASSERT_TRUE(cluster_.Start(options_).ok()) << Progress();
  Kill(launcher_.spawns()[1].pid);
  launcher_.exit_on_spawn = true;  // every restart dies during startup
  SuperviseOptions sopts;
  sopts.ready_timeout = absl::Milliseconds(50);
  sopts.min_backoff = absl::Hours(1);
  ASSERT_TRUE(Supervise(20, sopts).ok());
  // One attempt in 20 rounds, then the backoff holds it.
  EXPECT_EQ(launcher_.spawns().size(), 4u) << Progress();
  EXPECT_THAT(Progress(), HasSubstr("agent t-h2"));
  EXPECT_THAT(Progress(), HasSubstr("exited during startup"));
  absl::StatusOr<LocalClusterStatus> status = cluster_.Status("t", root_);
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(status->all_running());
}

TEST_F(LocalClusterTest, StartOnAPartlyRunningClusterStartsOnlyWhatIsMissing) {
  absl::StatusOr<ClusterFile> first = cluster_.Start(options_);
  ASSERT_TRUE(first.ok()) << Progress();
  Kill(first->controller_pid);
  const int changes_before = net_.changes();

  absl::StatusOr<ClusterFile> second = cluster_.Start(options_);
  ASSERT_TRUE(second.ok()) << second.status() << Progress();
  EXPECT_NE(second->controller_pid, first->controller_pid);
  EXPECT_EQ(second->hosts[1].pid, first->hosts[1].pid);
  EXPECT_EQ(launcher_.spawns().size(), 4u);
  EXPECT_THAT(launcher_.terminated(), IsEmpty());
  EXPECT_EQ(net_.changes(), changes_before);  // no plumbing removed or made
  EXPECT_THAT(Progress(), HasSubstr("partly running"));
  // Fully running now: a third start is refused.
  EXPECT_EQ(cluster_.Start(options_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(LocalClusterTest, StopEndsTheSupervisorFirst) {
  options_.supervisor_argv = {
      "/x/emuctl", "local", "supervise", "--name", "t", "--state-root", root_};
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_TRUE(started.ok()) << Progress();
  ASSERT_TRUE(cluster_.Stop("t", root_).ok()) << Progress();
  ASSERT_FALSE(launcher_.terminated().empty());
  EXPECT_EQ(launcher_.terminated()[0], started->supervisor_pid);
  EXPECT_EQ(launcher_.terminated().size(), 4u);
}

TEST_F(LocalClusterTest, AgentThatNeverAnswersRollsBackAndShowsItsLog) {
  rpc_.SetProbeResult("198.18.0.12:7471",
                      absl::UnavailableError("connection refused"));
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_EQ(started.status().code(), absl::StatusCode::kDeadlineExceeded)
      << started.status();
  const std::string message(started.status().message());
  EXPECT_THAT(message, HasSubstr("agent t-h2 (pid"));
  EXPECT_THAT(message, HasSubstr("did not answer at 198.18.0.12:7471"));
  EXPECT_THAT(message, HasSubstr("connection refused"));
  EXPECT_THAT(message, HasSubstr("t-h2.log:\n  | daemon"));
  EXPECT_THAT(message, HasSubstr("logs kept in " + root_ + "/t/logs"));

  std::vector<FakeProcessLauncher::SpawnCall> spawns = launcher_.spawns();
  ASSERT_EQ(spawns.size(), 2u);  // no controller
  EXPECT_THAT(launcher_.terminated(),
              UnorderedElementsAre(spawns[0].pid, spawns[1].pid));
  EXPECT_THAT(Namespaces(), IsEmpty());
  EXPECT_THAT(Links(), IsEmpty());
  EXPECT_TRUE(fs::exists(root_ + "/t/logs/t-h2.log"));
  EXPECT_FALSE(fs::exists(root_ + "/t/cluster.json"));
  EXPECT_FALSE(fs::exists(root_ + "/t/token"));

  // A later start works.
  rpc_.SetProbeResult("198.18.0.12:7471", absl::OkStatus());
  EXPECT_TRUE(cluster_.Start(options_).ok()) << Progress();
}

TEST_F(LocalClusterTest, DaemonThatExitsRollsBack) {
  launcher_.exit_on_spawn = true;
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("agent t-h1 (pid 900001) exited during startup"));
  EXPECT_THAT(Namespaces(), IsEmpty());
  EXPECT_THAT(Links(), IsEmpty());
}

TEST_F(LocalClusterTest, PlumbingFailureRollsBack) {
  // SetAddresses: the bridge, t-h1's eth0, then t-h2's eth0.
  net_.FailNthCall(agent::net::FakeHostNetwork::Method::kSetAddresses, 3,
                   absl::InternalError("set addresses on emuhost-t-h2:eth0: "
                                       "something broke"));
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("create host t-h2 (namespace emuhost-t-h2): set "
                        "addresses on emuhost-t-h2:eth0: something broke"));
  EXPECT_TRUE(launcher_.spawns().empty());
  EXPECT_THAT(Namespaces(), IsEmpty());
  EXPECT_THAT(Links(), IsEmpty());
}

TEST_F(LocalClusterTest, RefusesASubnetInUse) {
  AddLinks({"br9"});
  ASSERT_TRUE(
      net_.SetAddresses("", "br9", {"fd00::1/64", "198.18.0.200/16"}).ok());
  absl::StatusOr<ClusterFile> started = cluster_.Start(options_);
  EXPECT_EQ(started.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(started.status().message()),
              HasSubstr("subnet 198.18.0.0/24 overlaps 198.18.0.200/16 on "
                        "interface br9; choose another with --subnet"));
  EXPECT_THAT(Links(), ElementsAre("br9"));
}

TEST_F(LocalClusterTest, StartRemovesLeftoversOfADeadCluster) {
  ASSERT_TRUE(cluster_.Start(options_).ok());
  for (const auto& s : launcher_.spawns()) Kill(s.pid);  // all died
  progress_.clear();
  absl::StatusOr<ClusterFile> again = cluster_.Start(options_);
  ASSERT_TRUE(again.ok()) << again.status() << Progress();
  EXPECT_THAT(Progress(), HasSubstr("previous, dead local cluster \"t\""));
  EXPECT_THAT(Progress(), HasSubstr("deleted namespace emuhost-t-h1"));
  EXPECT_EQ(launcher_.spawns().size(), 6u);
  EXPECT_THAT(Namespaces(),
              UnorderedElementsAre("emuhost-t-h1", "emuhost-t-h2"));
}

TEST(FindDaemonBinariesTest, SearchOrder) {
  const std::string root = TempPath(absl::StrCat("find_binaries_", getpid()));
  auto make_exe = [](const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << "#!/bin/sh\n";
    fs::permissions(path, fs::perms::owner_all);
  };
  // bazel-bin layout: bin/cli/emuctl, bin/agent/emu-agent,
  // bin/controller/emu-controller.
  make_exe(root + "/bin/agent/emu-agent");
  make_exe(root + "/bin/controller/emu-controller");
  absl::StatusOr<DaemonBinaries> found =
      FindDaemonBinaries("", root + "/bin/cli/emuctl", "/nonexistent");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->agent, root + "/bin/agent/emu-agent");
  EXPECT_EQ(found->controller, root + "/bin/controller/emu-controller");

  // Next to emuctl wins over the bazel layout.
  make_exe(root + "/bin/cli/emu-agent");
  found = FindDaemonBinaries("", root + "/bin/cli/emuctl", "");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->agent, root + "/bin/cli/emu-agent");

  // PATH, when nothing is near emuctl.
  make_exe(root + "/path/emu-agent");
  make_exe(root + "/path/emu-controller");
  found = FindDaemonBinaries("", root + "/elsewhere/emuctl",
                             "relative:" + root + "/empty:" + root + "/path");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->controller, root + "/path/emu-controller");

  // --bin-dir: only there.
  found = FindDaemonBinaries(root + "/bin/cli", root + "/path/emuctl",
                             root + "/path");
  ASSERT_EQ(found.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(found.status().message()),
              HasSubstr("emu-controller not found (looked for " + root +
                        "/bin/cli/emu-controller); build it with `bazel build "
                        "//controller:emu-controller` or pass --bin-dir"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace emu::deploy
