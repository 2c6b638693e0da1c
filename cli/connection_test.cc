#include "cli/connection.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/remotes.h"
#include "common/testing/fake_process_launcher.h"
#include "deploy/cluster_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ResolveTest : public ::testing::Test {
 protected:
  ResolveTest()
      : dir_((fs::path(::testing::TempDir()) /
              absl::StrCat("connection_test_", getpid()))
                 .lexically_normal()
                 .string()) {
    fs::create_directories(dir_);
    token_file_ = dir_ + "/token";
    std::ofstream(token_file_) << "s3cret\n";
    chmod(token_file_.c_str(), 0600);
    deploy::ClusterFile f;
    f.controller = "127.0.0.1:4000";
    f.token_file = token_file_;
    cluster_file_ = dir_ + "/cluster.json";
    EXPECT_TRUE(deploy::WriteClusterFile(cluster_file_, f).ok());
  }
  ~ResolveTest() override { fs::remove_all(dir_); }

  std::string dir_, token_file_, cluster_file_;
};

TEST_F(ResolveTest, ClusterFileFromFlagThenEnv) {
  absl::StatusOr<ControllerTarget> t =
      ResolveControllerTarget({"", "", cluster_file_}, "/nonexistent.json");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->address, "127.0.0.1:4000");
  EXPECT_EQ(t->token, "s3cret");
  EXPECT_EQ(t->origin, "cluster file " + cluster_file_);

  t = ResolveControllerTarget({}, cluster_file_);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->address, "127.0.0.1:4000");
}

TEST_F(ResolveTest, ControllerFlagWinsAndTokenFileIsOptional) {
  absl::StatusOr<ControllerTarget> t =
      ResolveControllerTarget({"10.1.1.1:7470", "", cluster_file_}, "");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->address, "10.1.1.1:7470");
  EXPECT_EQ(t->token, "");
  EXPECT_EQ(t->origin, "--controller");

  t = ResolveControllerTarget({"10.1.1.1:7470", token_file_, ""}, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "s3cret");
}

TEST_F(ResolveTest, Errors) {
  absl::StatusOr<ControllerTarget> t =
      ResolveControllerTarget({"", "", dir_ + "/missing.json"}, "");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()),
              HasSubstr("no emu cluster found: run `emuctl local start` or "
                        "pass --controller"));

  chmod(token_file_.c_str(), 0644);
  t = ResolveControllerTarget({"", "", cluster_file_}, "");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kPermissionDenied);

  deploy::ClusterFile starting;
  starting.state = deploy::kClusterStateStarting;
  ASSERT_TRUE(deploy::WriteClusterFile(cluster_file_, starting).ok());
  t = ResolveControllerTarget({"", "", cluster_file_}, "");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("still running?"));
}

TEST(DescribeRpcErrorTest, PerCode) {
  ControllerTarget target{"127.0.0.1:4000", "tok", "/run/emu/local/token",
                          "cluster file /run/emu/local/cluster.json"};
  struct Case {
    grpc::StatusCode code;
    const char* message;
    std::vector<std::string> want;
  } cases[] = {
      {grpc::StatusCode::UNAVAILABLE, "failed to connect to all addresses",
       {"cannot reach the emu controller at 127.0.0.1:4000 (from cluster "
        "file /run/emu/local/cluster.json): failed to connect",
        "`emuctl local start`"}},
      {grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token",
       {"rejected the token from /run/emu/local/token: wrong bearer token",
        "--token-file"}},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded",
       {"GetLab: the controller at 127.0.0.1:4000 did not answer in time"}},
      {grpc::StatusCode::INVALID_ARGUMENT, "demo.yaml:3: node r1: bad",
       {"demo.yaml:3: node r1: bad"}},
      {grpc::StatusCode::INTERNAL, "boom", {"GetLab: INTERNAL: boom"}},
  };
  for (const Case& c : cases) {
    std::string got = DescribeRpcError(grpc::Status(c.code, c.message),
                                       "GetLab", target, /*reached_server=*/false);
    for (const std::string& want : c.want) {
      EXPECT_THAT(got, HasSubstr(want)) << c.code;
    }
  }
  EXPECT_EQ(DescribeRpcError(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                          "lab x: not found"),
                             "GetLab", target, true),
            "lab x: not found");
  // UNAVAILABLE from the controller itself is its message, not "cannot
  // reach the controller".
  EXPECT_EQ(DescribeRpcError(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                          "no agent is reachable: h1"),
                             "DeployLab", target, /*reached_server=*/true),
            "DeployLab: no agent is reachable: h1");
}

// Which gateway, if any: flags, then environment, then the default remote.
class SshPlanTest : public ResolveTest {
 protected:
  SshPlanTest() {
    env_.remotes_file = dir_ + "/config/emu/remotes.json";
    env_.ssh_persist = "0";  // an ssh per command: what the fakes play
    Remotes r;
    r.entries.push_back({"lab", "admin@gw1:2200", "unix:/run/emu/c.sock",
                         "/var/lib/emu/controller/token"});
    r.entries.push_back({"other", "gw2", "", ""});
    r.default_name = "lab";
    EXPECT_TRUE(WriteRemotes(env_.remotes_file, r).ok());
  }

  // The destination text of the plan, "direct" or the error.
  std::string Plan(const ConnectionFlags& flags) {
    absl::StatusOr<std::optional<SshPlan>> plan = ResolveSshPlan(flags, env_);
    if (!plan.ok()) return std::string(plan.status().message());
    if (!plan->has_value()) return "direct";
    return (*plan)->destination.text;
  }

  ConnectionEnv env_;
};

TEST_F(SshPlanTest, Precedence) {
  ConnectionFlags f;
  EXPECT_EQ(Plan(f), "admin@gw1:2200");  // the default remote
  env_.cluster = cluster_file_;
  EXPECT_EQ(Plan(f), "direct");  // $EMU_CLUSTER beats the default remote
  env_.ssh = "env@gw3";
  EXPECT_EQ(Plan(f), "env@gw3");  // $EMU_SSH beats $EMU_CLUSTER
  f.controller = "127.0.0.1:1";
  EXPECT_EQ(Plan(f), "direct");  // a flag beats any variable
  f.controller.clear();
  f.cluster_file = cluster_file_;
  EXPECT_EQ(Plan(f), "direct");
  f.cluster_file.clear();
  f.remote = "other";
  EXPECT_EQ(Plan(f), "gw2");
  f.remote.clear();
  f.ssh = "flag@gw4";
  EXPECT_EQ(Plan(f), "flag@gw4");
}

// A cluster file that names an "ssh" gateway is reached through it, from
// --cluster or $EMU_CLUSTER: its controller, token and CA as seen there.
TEST_F(SshPlanTest, AClusterFileWithAGatewayGoesThroughIt) {
  deploy::ClusterFile file;
  file.ssh = "admin@gw5:2201";
  file.controller = "unix:/run/emu/controller.sock";
  file.token_file = "/var/lib/emu/controller/token";
  file.pki_dir = "/etc/emu/pki";
  const std::string path = dir_ + "/remote-cluster.json";
  ASSERT_TRUE(deploy::WriteClusterFile(path, file).ok());
  ConnectionFlags f;
  f.cluster_file = path;
  absl::StatusOr<std::optional<SshPlan>> plan = ResolveSshPlan(f, env_);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->destination.text, "admin@gw5:2201");
  EXPECT_EQ((*plan)->target, "unix:/run/emu/controller.sock");
  EXPECT_EQ((*plan)->token_path, "/var/lib/emu/controller/token");
  EXPECT_EQ((*plan)->ca_path, "/etc/emu/pki/ca.crt");
  EXPECT_THAT((*plan)->origin, HasSubstr("cluster file " + path));
  // The same from $EMU_CLUSTER; flags still override what the file says.
  f = ConnectionFlags();
  env_.cluster = path;
  f.ssh_target = "127.0.0.1:7470";
  f.ssh_ca_path = "/elsewhere/ca.crt";
  plan = ResolveSshPlan(f, env_);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->destination.text, "admin@gw5:2201");
  EXPECT_EQ((*plan)->target, "127.0.0.1:7470");
  EXPECT_EQ((*plan)->ca_path, "/elsewhere/ca.crt");
  // A file without "ssh" (or none at all) stays direct.
  env_.cluster = cluster_file_;
  EXPECT_EQ(Plan(ConnectionFlags()), "direct");
  env_.cluster = dir_ + "/nosuch.json";
  EXPECT_EQ(Plan(ConnectionFlags()), "direct");
  // A bad gateway in the file is named.
  file.ssh = "-oProxyCommand=sh";
  ASSERT_TRUE(deploy::WriteClusterFile(path, file).ok());
  f = ConnectionFlags();
  f.cluster_file = path;
  EXPECT_THAT(Plan(f), HasSubstr("starts with '-'"));
  // --ssh and --cluster together stay refused.
  f.ssh = "gw";
  EXPECT_THAT(Plan(f), HasSubstr("--ssh cannot be combined"));
}

TEST_F(SshPlanTest, ConflictsAndUnknownRemote) {
  ConnectionFlags f;
  f.ssh = "gw";
  f.remote = "lab";
  EXPECT_THAT(Plan(f), HasSubstr("--ssh and --remote"));
  f.remote.clear();
  f.controller = "127.0.0.1:1";
  EXPECT_THAT(Plan(f), HasSubstr("--ssh cannot be combined with --controller"));
  f = ConnectionFlags();
  f.remote = "nosuch";
  EXPECT_THAT(Plan(f),
              HasSubstr("no remote named 'nosuch' in " + env_.remotes_file));
  f.remote.clear();
  f.ssh = "-oProxyCommand=sh";
  EXPECT_THAT(Plan(f), HasSubstr("starts with '-'"));
}

TEST_F(SshPlanTest, FlagsOverrideTheRemotesTargetTokenAndOptions) {
  env_.ssh_opts = "-F /env/cfg";
  ConnectionFlags f;
  f.remote = "lab";
  absl::StatusOr<std::optional<SshPlan>> plan = ResolveSshPlan(f, env_);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->target, "unix:/run/emu/c.sock");
  EXPECT_EQ((*plan)->token_path, "/var/lib/emu/controller/token");
  EXPECT_THAT((*plan)->options, ::testing::ElementsAre("-F", "/env/cfg"));
  EXPECT_THAT((*plan)->origin, HasSubstr("--remote lab"));
  f.ssh_target = "127.0.0.1:9";
  f.ssh_token_path = "/t";
  f.ssh_opts = "-v";
  plan = ResolveSshPlan(f, env_);
  ASSERT_TRUE(plan.ok() && plan->has_value());
  EXPECT_EQ((*plan)->target, "127.0.0.1:9");
  EXPECT_EQ((*plan)->token_path, "/t");
  EXPECT_THAT((*plan)->options, ::testing::ElementsAre("-v"));
  // --ssh uses the default target and no token path.
  f = ConnectionFlags();
  f.ssh = "gw";
  plan = ResolveSshPlan(f, env_);
  ASSERT_TRUE(plan.ok() && plan->has_value());
  EXPECT_EQ((*plan)->target, kDefaultSshTarget);
  EXPECT_EQ((*plan)->token_path, "");
}

TEST_F(SshPlanTest, OpenReadsTheRemoteTokenBeforeTheTunnelAndFailsClearly) {
  FakeProcessLauncher launcher;
  launcher.QueueResult(FakeProcessLauncher::Exited(
      255, "", "ssh: connect to host gw1 port 2200: Connection refused\n"));
  ConnectionFlags f;
  f.remote = "lab";
  absl::StatusOr<std::unique_ptr<ControllerConnection>> c =
      OpenConnection(f, env_, &launcher);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("/var/lib/emu/controller/token on admin@gw1:2200"));
  EXPECT_THAT(c.status().message(), HasSubstr("Connection refused"));
  ASSERT_EQ(launcher.runs().size(), 1u);
  EXPECT_TRUE(launcher.spawns().empty());  // no tunnel without a token
  // --token-file wins over the gateway's token: no ssh to read it.
  f.token_file = token_file_;
  env_.runtime_dir = "/nonexistent-runtime-dir";
  c = OpenConnection(f, env_, &launcher);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent-runtime-dir"));
  EXPECT_EQ(launcher.runs().size(), 1u);
}

}  // namespace
}  // namespace emu::cli
