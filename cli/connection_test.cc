#include "cli/connection.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
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

}  // namespace
}  // namespace emu::cli
