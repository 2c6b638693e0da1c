#include "agent/node/sandbox_plan.h"

#include <linux/capability.h>
#include <sys/mount.h>

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::node {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using K = MountStep::Kind;

int IndexOf(const std::vector<MountStep>& steps, K kind,
            const std::string& target) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind == kind && steps[i].target == target) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

TEST(SandboxPlanTest, TheHostTreeIsPrivateAndReadOnlyBeforeAnythingElse) {
  auto steps = BuildSandboxMounts({});
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[0].kind, K::kPrivateTree);
  EXPECT_EQ(steps[0].target, "/");
  EXPECT_EQ(steps[1].kind, K::kReadOnlyTree);
  EXPECT_EQ(steps[1].target, "/");
}

TEST(SandboxPlanTest, TheNodeGetsItsOwnProcSysDevTmpRun) {
  auto steps = BuildSandboxMounts({});
  struct Want {
    const char* target;
    const char* fstype;
  };
  for (const Want& w : {Want{"/proc", "proc"}, Want{"/sys", "sysfs"},
                        Want{"/dev", "tmpfs"}, Want{"/dev/pts", "devpts"},
                        Want{"/dev/shm", "tmpfs"}, Want{"/tmp", "tmpfs"},
                        Want{"/run", "tmpfs"}}) {
    const int i = IndexOf(steps, K::kMount, w.target);
    ASSERT_GE(i, 0) << w.target;
    EXPECT_EQ(steps[i].fstype, w.fstype) << w.target;
    EXPECT_TRUE(steps[i].flags & MS_NOSUID) << w.target;
  }
  EXPECT_TRUE(steps[IndexOf(steps, K::kMount, "/sys")].flags & MS_RDONLY);
  // Its own pts: another node's terminals are not its.
  EXPECT_THAT(steps[IndexOf(steps, K::kMount, "/dev/pts")].data,
              HasSubstr("newinstance"));
}

TEST(SandboxPlanTest, ProcSysIsReadOnlyButForTheNetwork) {
  auto steps = BuildSandboxMounts({});
  const int sys = IndexOf(steps, K::kBind, "/proc/sys");
  const int net = IndexOf(steps, K::kBind, "/proc/sys/net");
  ASSERT_GE(sys, 0);
  ASSERT_GE(net, 0);
  EXPECT_TRUE(steps[sys].read_only);
  EXPECT_FALSE(steps[net].read_only);
  // Order: proc first, then /proc/sys read-only, then net writable on top.
  EXPECT_LT(IndexOf(steps, K::kMount, "/proc"), sys);
  EXPECT_LT(sys, net);
  EXPECT_TRUE(steps[IndexOf(steps, K::kBind, "/proc/sysrq-trigger")].read_only);
}

TEST(SandboxPlanTest, DevHoldsOnlyHarmlessDevices) {
  auto steps = BuildSandboxMounts({});
  std::vector<std::string> devices;
  for (const MountStep& s : steps) {
    if (s.kind != K::kMknod) continue;
    devices.push_back(s.target);
    EXPECT_GT(IndexOf(steps, K::kMknod, s.target),
              IndexOf(steps, K::kMount, "/dev"));
  }
  EXPECT_THAT(devices, ElementsAre("/dev/null", "/dev/zero", "/dev/full",
                                   "/dev/random", "/dev/urandom", "/dev/tty"));
  const MountStep& null = steps[IndexOf(steps, K::kMknod, "/dev/null")];
  EXPECT_EQ(null.major, 1u);
  EXPECT_EQ(null.minor, 3u);
}

TEST(SandboxPlanTest, MaskedPathsComeLastAfterDev) {
  SandboxOptions o;
  o.masked_paths = {"/etc/emu", "/var/lib/emu/agent/token"};
  auto steps = BuildSandboxMounts(o);
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[steps.size() - 2].kind, K::kMask);
  EXPECT_EQ(steps[steps.size() - 2].target, "/etc/emu");
  EXPECT_EQ(steps.back().target, "/var/lib/emu/agent/token");
  // A file is masked with the node's own /dev/null: made before.
  EXPECT_LT(IndexOf(steps, K::kMknod, "/dev/null"),
            IndexOf(steps, K::kMask, "/etc/emu"));
  EXPECT_GE(IndexOf(steps, K::kMask, "/proc/kcore"), 0);
  // Files root owns on the host are hidden, not only capability-guarded.
  EXPECT_GE(IndexOf(steps, K::kMask, "/etc/shadow"), 0);
  EXPECT_GE(IndexOf(steps, K::kMask, "/etc/ssh"), 0);
}

TEST(SandboxPlanTest, CapabilitiesKeepTheNetworkNotTheHost) {
  const uint64_t caps = NodeCapabilities();
  auto has = [&](int cap) { return ((caps >> cap) & 1) != 0; };
  for (int cap : {CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE,
                  CAP_SETUID, CAP_SETGID, CAP_KILL}) {
    EXPECT_TRUE(has(cap)) << cap;
  }
  for (int cap : {CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_RAWIO,
                  CAP_SYS_PTRACE, CAP_SYS_TIME, CAP_SYS_BOOT, CAP_MKNOD,
                  CAP_DAC_READ_SEARCH, CAP_SYS_NICE, CAP_SYS_RESOURCE,
                  CAP_BPF, CAP_PERFMON, CAP_SYSLOG}) {
    EXPECT_FALSE(has(cap)) << cap;
  }
}

TEST(SandboxPlanTest, HolderArgvRoundTrips) {
  SandboxOptions o;
  o.masked_paths = {"/etc/emu", "/root"};
  auto argv = HolderArgv("emu.h1.alice+core.r1", o);
  EXPECT_THAT(argv, ElementsAre("emu-node-sandbox", "emu.h1.alice+core.r1",
                                "--mask=/etc/emu", "--mask=/root"));
  auto back = ParseHolderArgv(argv);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->netns, "emu.h1.alice+core.r1");
  EXPECT_EQ(back->options.masked_paths, o.masked_paths);
}

TEST(SandboxPlanTest, BadHolderArgvIsRefusedNamingTheCulprit) {
  struct Case {
    std::vector<std::string> argv;
    const char* culprit;
  };
  for (const Case& c : std::vector<Case>{
           {{"emu-node-sandbox"}, "NETNS"},
           {{"other", "ns"}, "NETNS"},
           {{"emu-node-sandbox", "a/b"}, "NETNS"},
           {{"emu-node-sandbox", "ns", "--bogus"}, "--bogus"},
           {{"emu-node-sandbox", "ns", "--mask=relative"}, "relative"},
           {{"emu-node-sandbox", "ns", "--mask=/a/../etc"}, "/a/../etc"},
           {{"emu-node-sandbox", "ns", "--mask=/"}, "\"/\""},
       }) {
    auto r = ParseHolderArgv(c.argv);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << c.culprit;
    EXPECT_THAT(r.status().message(), HasSubstr(c.culprit));
  }
}

}  // namespace
}  // namespace emu::agent::node
