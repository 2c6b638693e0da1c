#include "deploy/cluster_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::deploy {
namespace {

using ::testing::HasSubstr;

ClusterFile Sample() {
  ClusterFile f;
  f.id = "local";
  f.state = kClusterStateRunning;
  f.state_dir = "/run/emu/local";
  f.controller = "127.0.0.1:40123";
  f.controller_pid = 4242;
  f.controller_start_time = 123456789012ULL;
  f.controller_log = "/run/emu/local/logs/controller.log";
  f.token_file = "/run/emu/local/token";
  f.bridge = "emubr-local";
  f.subnet = "198.18.0.0/24";
  f.log_dir = "/run/emu/local/logs";
  f.agent_binary = "/usr/bin/emu-agent";
  f.controller_binary = "/usr/bin/emu-controller";
  f.hosts.push_back({"h1", "emuhost-local-h1", "emuv-local-1",
                     "198.18.0.11:7471", 4240, 77,
                     "/run/emu/local/logs/h1.log"});
  f.hosts.push_back({"h2", "emuhost-local-h2", "emuv-local-2",
                     "198.18.0.12:7471", 0, 0, "/run/emu/local/logs/h2.log"});
  return f;
}

void ExpectSame(const ClusterFile& a, const ClusterFile& b) {
  EXPECT_EQ(ClusterFileToJson(a), ClusterFileToJson(b));
  EXPECT_EQ(a.controller_pid, b.controller_pid);
  EXPECT_EQ(a.controller_start_time, b.controller_start_time);
  ASSERT_EQ(a.hosts.size(), b.hosts.size());
  for (size_t i = 0; i < a.hosts.size(); ++i) {
    EXPECT_EQ(a.hosts[i].pid, b.hosts[i].pid);
    EXPECT_EQ(a.hosts[i].start_time, b.hosts[i].start_time);
    EXPECT_EQ(a.hosts[i].address, b.hosts[i].address);
  }
}

TEST(ClusterFileTest, JsonRoundTrip) {
  const ClusterFile f = Sample();
  const std::string json = ClusterFileToJson(f);
  EXPECT_THAT(json, HasSubstr("\"controller\": \"127.0.0.1:40123\""));
  EXPECT_THAT(json, HasSubstr("\"h1\": \"/run/emu/local/logs/h1.log\""));
  absl::StatusOr<ClusterFile> back = ClusterFileFromJson(json, "x.json");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(f, *back);
  EXPECT_THAT(json, ::testing::Not(HasSubstr("\"ssh\"")));  // none: absent
}

// A cluster reached through an SSH gateway (written by hand).
TEST(ClusterFileTest, TheSshGatewayRoundTrips) {
  ClusterFile f = Sample();
  f.ssh = "admin@gw.example.org:2222";
  const std::string json = ClusterFileToJson(f);
  EXPECT_THAT(json, HasSubstr("\"ssh\": \"admin@gw.example.org:2222\""));
  absl::StatusOr<ClusterFile> back = ClusterFileFromJson(json, "x.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ssh, "admin@gw.example.org:2222");
}

// `local start --engine-threads 0 --engine-nice -5`; absent: not given.
TEST(ClusterFileTest, EngineFlagsRoundTripOnlyWhenGiven) {
  ClusterFile f = Sample();
  EXPECT_THAT(ClusterFileToJson(f), ::testing::Not(HasSubstr("engine")));
  f.engine_threads = 0;
  f.engine_nice = -5;
  const std::string json = ClusterFileToJson(f);
  EXPECT_THAT(json, HasSubstr("\"engine_threads\": 0"));
  EXPECT_THAT(json, HasSubstr("\"engine_nice\": -5"));
  absl::StatusOr<ClusterFile> back = ClusterFileFromJson(json, "x.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->engine_threads, 0);
  EXPECT_EQ(back->engine_nice, -5);
  absl::StatusOr<ClusterFile> absent =
      ClusterFileFromJson(ClusterFileToJson(Sample()), "x.json");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_EQ(absent->engine_threads, -1);
  EXPECT_EQ(absent->engine_nice, 0);
}

TEST(ClusterFileTest, EscapesStrings) {
  ClusterFile f;
  f.state_dir = "/tmp/a \"quoted\" \\ dir\n\x01";
  absl::StatusOr<ClusterFile> back =
      ClusterFileFromJson(ClusterFileToJson(f), "x.json");
  ASSERT_TRUE(back.ok()) << back.status() << ClusterFileToJson(f);
  EXPECT_EQ(back->state_dir, f.state_dir);
}

// A cluster.json as the hand-written writer before nlohmann-json wrote it
// (a cluster started by an older emuctl must still stop).
TEST(ClusterFileTest, ReadsFilesOfTheEarlierWriter) {
  constexpr char kOld[] = R"({
  "id": "x9843",
  "state": "running",
  "state_dir": "/run/emu/x9843",
  "controller": "127.0.0.1:40123",
  "controller_pid": 123,
  "controller_start_time": 456789,
  "token_file": "/run/emu/x9843/token",
  "bridge": "emubr-x9843",
  "subnet": "198.18.0.0/24",
  "agent_binary": "/usr/local/bin/emu-agent",
  "controller_binary": "/usr/local/bin/emu-controller",
  "hosts": [
    {
      "name": "x9843-h1",
      "netns": "emuhost-x9843-h1",
      "veth": "emuv-x9843-1",
      "address": "198.18.0.11:7471",
      "pid": 124,
      "start_time": 456790,
      "log": "/run/emu/x9843/logs/x9843-h1.log"
    }
  ],
  "logs": {
    "dir": "/run/emu/x9843/logs",
    "controller": "/run/emu/x9843/logs/controller.log",
    "x9843-h1": "/run/emu/x9843/logs/x9843-h1.log"
  }
}
)";
  absl::StatusOr<ClusterFile> f = ClusterFileFromJson(kOld, "old.json");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->controller_pid, 123);
  EXPECT_EQ(f->controller_start_time, 456789u);
  EXPECT_EQ(f->log_dir, "/run/emu/x9843/logs");
  EXPECT_EQ(f->controller_log, "/run/emu/x9843/logs/controller.log");
  ASSERT_EQ(f->hosts.size(), 1u);
  EXPECT_EQ(f->hosts[0].address, "198.18.0.11:7471");
  EXPECT_EQ(f->hosts[0].start_time, 456790u);
  // And the new writer writes the same text for the same record.
  EXPECT_EQ(ClusterFileToJson(*f), kOld);
}

TEST(ClusterFileTest, MissingKeysStayDefaultUnknownIgnored) {
  absl::StatusOr<ClusterFile> f = ClusterFileFromJson(
      R"({"controller": "127.0.0.1:1", "future": [1, 2]})", "x.json");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->controller, "127.0.0.1:1");
  EXPECT_EQ(f->token_file, "");
  EXPECT_TRUE(f->hosts.empty());
}

TEST(ClusterFileTest, ErrorsNameTheFileAndKey) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {"{not json", "cluster file x.json: not valid JSON"},
      {R"({"controller": 5})", "\"controller\" must be a string"},
      {R"({"controller_pid": -1})",
       "\"controller_pid\" must be a non-negative"},
      {R"({"controller_pid": 1.5})",
       "\"controller_pid\" must be a non-negative"},
      {R"({"engine_nice": "-5"})", "\"engine_nice\" must be an integer"},
      {R"({"engine_nice": -0.5})", "\"engine_nice\" must be an integer"},
      {R"({"hosts": {}})", "\"hosts\" must be a list"},
      {R"({"hosts": [3]})", "hosts[0] must be an object"},
      {R"({"hosts": [{"pid": "x"}]})",
       "hosts[0]: \"pid\" must be a non-negative integer"},
      {"[1, 2]", "cluster file x.json: not a JSON object"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<ClusterFile> f = ClusterFileFromJson(c.json, "x.json");
    ASSERT_FALSE(f.ok()) << c.json;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(c.want)) << c.json;
  }
}

TEST(ClusterFileTest, WriteThenRead) {
  const std::string dir =
      absl::StrCat(testing::TempDir(), "/cluster_file_test_", getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/cluster.json";
  EXPECT_EQ(ReadClusterFile(path).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(WriteClusterFile(path, Sample()).ok());
  absl::StatusOr<ClusterFile> back = ReadClusterFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(Sample(), *back);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace emu::deploy
