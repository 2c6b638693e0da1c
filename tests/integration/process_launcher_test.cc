// ProcessLauncher and the netns pid helpers against the real kernel: runs
// commands and a daemon inside a network namespace this test creates (and
// deletes). Needs root.
#include "common/process_launcher.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/netns_pids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class NetnsProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns_ = absl::StrCat("emu-test-", getpid());
    auto r = Host({"ip", "netns", "add", ns_});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->exit_code, 0) << r->stderr_data;
    created_ = true;
  }

  void TearDown() override {
    for (pid_t pid : spawned_) {
      launcher_.Terminate(pid, absl::Seconds(1)).IgnoreError();
    }
    if (!created_) return;
    KillPidsInNetns(ns_, absl::Seconds(1)).IgnoreError();
    auto r = Host({"ip", "netns", "delete", ns_});
    EXPECT_TRUE(r.ok() && r->exit_code == 0)
        << "delete netns " << ns_ << ": "
        << (r.ok() ? r->stderr_data : r.status().ToString());
  }

  absl::StatusOr<ProcessResult> Host(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.timeout = absl::Seconds(20);
    return launcher_.Run(spec);
  }

  absl::StatusOr<ProcessResult> InNs(std::vector<std::string> argv) {
    ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.netns = ns_;
    spec.timeout = absl::Seconds(20);
    return launcher_.Run(spec);
  }

  // Interface names in /proc/net/dev as the command sees it.
  static std::vector<std::string> DevNames(const std::string& proc_net_dev) {
    std::vector<std::string> names;
    for (absl::string_view line : absl::StrSplit(proc_net_dev, '\n')) {
      size_t colon = line.find(':');
      if (colon == absl::string_view::npos) continue;
      names.emplace_back(absl::StripAsciiWhitespace(line.substr(0, colon)));
    }
    return names;
  }

  PosixProcessLauncher launcher_;
  std::string ns_;
  bool created_ = false;
  std::vector<pid_t> spawned_;
};

TEST_F(NetnsProcessTest, CommandsSeeOnlyTheNamespacesLoopback) {
  auto dev = InNs({"cat", "/proc/net/dev"});
  ASSERT_TRUE(dev.ok()) << dev.status();
  ASSERT_EQ(dev->exit_code, 0) << dev->stderr_data;
  EXPECT_THAT(DevNames(dev->stdout_data), ElementsAre("lo"));

  auto link = InNs({"ip", "-o", "link", "show"});
  ASSERT_TRUE(link.ok()) << link.status();
  ASSERT_EQ(link->exit_code, 0) << link->stderr_data;
  std::vector<std::string> lines =
      absl::StrSplit(link->stdout_data, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << link->stdout_data;
  EXPECT_THAT(lines[0], HasSubstr(": lo:"));

  // /sys belongs to the namespace too, as under `ip netns exec`.
  auto sys = InNs({"ls", "/sys/class/net"});
  ASSERT_TRUE(sys.ok()) << sys.status();
  EXPECT_EQ(sys->stdout_data, "lo\n") << sys->stderr_data;

  // The host itself has more than lo: the namespace really is another one.
  auto host_dev = Host({"cat", "/proc/net/dev"});
  ASSERT_TRUE(host_dev.ok()) << host_dev.status();
  EXPECT_GT(DevNames(host_dev->stdout_data).size(), 1u);
}

TEST_F(NetnsProcessTest, ShareMountsKeepsTheCallersMountNamespace) {
  auto own = Host({"readlink", "/proc/self/ns/mnt"});
  ASSERT_TRUE(own.ok()) << own.status();
  ProcessSpec spec;
  spec.argv = {"readlink", "/proc/self/ns/mnt", "/proc/self/ns/net"};
  spec.netns = ns_;
  spec.share_mounts = true;
  auto shared = launcher_.Run(spec);
  ASSERT_TRUE(shared.ok()) << shared.status();
  std::vector<std::string> lines =
      absl::StrSplit(shared->stdout_data, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << shared->stdout_data << shared->stderr_data;
  // Same mounts as the caller (so a daemon's /run/netns mounts are seen by
  // everyone), yet inside the namespace's network.
  EXPECT_EQ(lines[0] + "\n", own->stdout_data);
  auto private_mnt = InNs({"readlink", "/proc/self/ns/mnt"});
  ASSERT_TRUE(private_mnt.ok());
  EXPECT_NE(private_mnt->stdout_data, own->stdout_data);
  auto host_net = Host({"readlink", "/proc/self/ns/net"});
  ASSERT_TRUE(host_net.ok());
  EXPECT_NE(lines[1] + "\n", host_net->stdout_data);
}

TEST_F(NetnsProcessTest, TimeoutInsideNamespaceKillsTheCommand) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "sleep 30"};
  spec.netns = ns_;
  spec.timeout = absl::Milliseconds(200);
  auto r = launcher_.Run(spec);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  auto pids = PidsInNetns(ns_);
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, IsEmpty());
}

TEST_F(NetnsProcessTest, SpawnedDaemonIsFoundAndKilled) {
  auto empty = PidsInNetns(ns_);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(*empty, IsEmpty());

  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string log = absl::StrCat(tmp ? tmp : "/tmp", "/", ns_, "-sleep.log");
  ProcessSpec spec;
  spec.argv = {"sleep", "100"};
  spec.netns = ns_;
  auto pid = launcher_.Spawn(spec, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  spawned_.push_back(*pid);

  auto pids = PidsInNetns(ns_);
  ASSERT_TRUE(pids.ok()) << pids.status();
  EXPECT_THAT(*pids, ElementsAre(*pid));

  absl::Status killed = KillPidsInNetns(ns_, absl::Seconds(2));
  EXPECT_TRUE(killed.ok()) << killed;
  auto after = PidsInNetns(ns_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(*after, IsEmpty());
  EXPECT_FALSE(launcher_.IsRunning(*pid));
  std::remove(log.c_str());
}

TEST_F(NetnsProcessTest, KillEscalatesForProcessesIgnoringSigterm) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string log = absl::StrCat(tmp ? tmp : "/tmp", "/", ns_, "-trap.log");
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "trap '' TERM; echo ready; sleep 100 & wait"};
  spec.netns = ns_;
  auto pid = launcher_.Spawn(spec, log);
  ASSERT_TRUE(pid.ok()) << pid.status();
  spawned_.push_back(*pid);
  // Wait for the shell and its sleep.
  absl::Time until = absl::Now() + absl::Seconds(5);
  std::vector<pid_t> pids;
  while (pids.size() < 2 && absl::Now() < until) {
    auto p = PidsInNetns(ns_);
    ASSERT_TRUE(p.ok()) << p.status();
    pids = *p;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(pids.size(), 2u);

  absl::Time t0 = absl::Now();
  absl::Status killed = KillPidsInNetns(ns_, absl::Milliseconds(300));
  EXPECT_TRUE(killed.ok()) << killed;
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(290));
  auto after = PidsInNetns(ns_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_THAT(*after, IsEmpty());
  std::remove(log.c_str());
}

}  // namespace
}  // namespace emu
