#include "agent/net/host_probe.h"

#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A host described by its files. (Local to this test: nothing else needs
// it yet; it moves to agent/testing/ when something does.)
class FakeSystemInfo : public SystemInfo {
 public:
  std::map<std::string, std::string> files;  // readable files
  std::set<std::string> paths;               // existing, unreadable paths
  std::map<std::string, std::string> on_path;
  uint32_t cpus = 4;
  uint64_t memory_mib = 8192;
  std::string kernel = "6.1.0-test";

  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) {
      return absl::NotFoundError(
          absl::StrCat("read ", path, ": No such file or directory"));
    }
    return it->second;
  }
  bool Exists(const std::string& path) override {
    return files.count(path) > 0 || paths.count(path) > 0;
  }
  std::string FindOnPath(const std::string& name) override {
    auto it = on_path.find(name);
    return it == on_path.end() ? "" : it->second;
  }
  uint32_t Cpus() override { return cpus; }
  uint64_t MemoryMib() override { return memory_mib; }
  std::string KernelRelease() override { return kernel; }
};

std::string CpuInfo(const std::string& flags) {
  std::string out;
  for (int cpu = 0; cpu < 2; ++cpu) {
    absl::StrAppend(&out, "processor\t: ", cpu,
                    "\nmodel name\t: Test CPU\nflags\t\t: ", flags,
                    "\nbugs\t\t: spectre_v1\n\n");
  }
  return out;
}

constexpr char kPlainFlags[] = "fpu vme de pse tsc msr pae sse sse2 hypervisor";

TEST(ProbeKvmTest, Table) {
  struct Case {
    std::string name;
    std::set<std::string> paths;
    std::map<std::string, std::string> files;
    bool usable;
    std::string detail;  // exact
  };
  const std::vector<Case> cases = {
      {"intel server",
       {"/dev/kvm", "/sys/module/kvm", "/sys/module/kvm_intel"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat(kPlainFlags, " vmx ept"))}},
       true,
       "/dev/kvm backed by kvm_intel; vmx in CPU flags"},
      {"amd server seen through /proc/modules only",
       {"/dev/kvm"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat("svm ", kPlainFlags))},
        {"/proc/modules",
         "kvm_amd 155648 0 - Live 0x0\nkvm 1146880 1 kvm_amd, Live 0x0\n"}},
       true,
       "/dev/kvm backed by kvm_amd; svm in CPU flags"},
      {"this CI machine: kvm_pvm, no vmx/svm",
       {"/dev/kvm", "/sys/module/kvm", "/sys/module/kvm_pvm"},
       {{"/proc/cpuinfo", CpuInfo(kPlainFlags)}},
       false,
       "/dev/kvm is kvm_pvm (paravirtual); no vmx/svm in CPU flags; guests "
       "use TCG"},
      {"kvm_pvm next to kvm_intel is still not trusted",
       {"/dev/kvm", "/sys/module/kvm_intel", "/sys/module/kvm_pvm"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat(kPlainFlags, " vmx"))}},
       false,
       "/dev/kvm is kvm_pvm (paravirtual); guests use TCG"},
      {"no /dev/kvm",
       {"/sys/module/kvm_intel"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat(kPlainFlags, " vmx"))}},
       false,
       "no /dev/kvm; guests use TCG"},
      {"nothing at all",
       {},
       {{"/proc/cpuinfo", CpuInfo(kPlainFlags)}},
       false,
       "no /dev/kvm; no vmx/svm in CPU flags; guests use TCG"},
      {"/dev/kvm without a hardware module",
       {"/dev/kvm", "/sys/module/kvm"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat(kPlainFlags, " vmx"))}},
       false,
       "/dev/kvm without kvm_intel or kvm_amd loaded; guests use TCG"},
      {"kvm_intel but vmx hidden from the CPU",
       {"/dev/kvm", "/sys/module/kvm_intel"},
       {{"/proc/cpuinfo", CpuInfo(kPlainFlags)}},
       false,
       "no vmx/svm in CPU flags; guests use TCG"},
      {"flags that only contain vmx/svm as a substring do not count",
       {"/dev/kvm", "/sys/module/kvm_intel"},
       {{"/proc/cpuinfo", CpuInfo(absl::StrCat(kPlainFlags, " vmxe nsvm"))}},
       false,
       "no vmx/svm in CPU flags; guests use TCG"},
      {"unreadable /proc/cpuinfo",
       {"/dev/kvm", "/sys/module/kvm_intel"},
       {},
       false,
       "cannot tell vmx/svm: read /proc/cpuinfo: No such file or directory; "
       "guests use TCG"},
  };
  for (const Case& c : cases) {
    FakeSystemInfo system;
    system.paths = c.paths;
    system.files = c.files;
    KvmProbe probe = ProbeKvm(system);
    EXPECT_EQ(probe.usable, c.usable) << c.name;
    EXPECT_EQ(probe.detail, c.detail) << c.name;
  }
}

TEST(BuildCapabilitiesTest, FillsEveryField) {
  FakeSystemInfo system;
  system.paths = {"/dev/kvm", "/sys/module/kvm_pvm", "/dev/net/tun"};
  system.files = {{"/proc/cpuinfo", CpuInfo(kPlainFlags)}};
  system.on_path = {{"qemu-system-x86_64", "/usr/bin/qemu-system-x86_64"}};
  emu::v1::Capabilities caps = BuildCapabilities(
      system, "h1", {"tbf", "htb"}, /*bridge=*/true, /*vxlan=*/false,
      {emu::v1::NODE_KIND_NETNS, emu::v1::NODE_KIND_QEMU});
  EXPECT_EQ(caps.host(), "h1");
  EXPECT_EQ(caps.agent_version(), "0.1.0");
  EXPECT_EQ(caps.cpus(), 4u);
  EXPECT_EQ(caps.memory_mib(), 8192u);
  EXPECT_EQ(caps.kernel(), "6.1.0-test");
  EXPECT_THAT(caps.qdiscs(), ElementsAre("tbf", "htb"));
  EXPECT_FALSE(caps.netem());
  EXPECT_THAT(caps.node_kinds(),
              ElementsAre(emu::v1::NODE_KIND_NETNS, emu::v1::NODE_KIND_QEMU));
  EXPECT_FALSE(caps.kvm());
  EXPECT_THAT(caps.kvm_detail(), HasSubstr("kvm_pvm"));
  EXPECT_TRUE(caps.qemu());
  EXPECT_TRUE(caps.tun());
  EXPECT_TRUE(caps.bridge());
  EXPECT_FALSE(caps.vxlan());
}

TEST(BuildCapabilitiesTest, NetemQemuTunFollowTheHost) {
  struct Case {
    std::vector<std::string> qdiscs;
    bool has_qemu;
    bool has_tun;
  };
  const std::vector<Case> cases = {
      {{"tbf", "netem"}, false, false},
      {{}, true, false},
      {{"netem"}, false, true},
  };
  for (const Case& c : cases) {
    FakeSystemInfo system;
    if (c.has_tun) system.paths.insert("/dev/net/tun");
    if (c.has_qemu) system.on_path["qemu-system-x86_64"] = "/opt/q";
    emu::v1::Capabilities caps =
        BuildCapabilities(system, "h", c.qdiscs, false, true, {});
    bool want_netem = false;
    for (const auto& q : c.qdiscs) want_netem |= q == "netem";
    EXPECT_EQ(caps.netem(), want_netem);
    EXPECT_EQ(caps.qemu(), c.has_qemu);
    EXPECT_EQ(caps.tun(), c.has_tun);
    EXPECT_TRUE(caps.vxlan());
    EXPECT_EQ(caps.node_kinds_size(), 0);
  }
}

// The real implementation reads this host; only facts any Linux host has.
TEST(LinuxSystemInfoTest, ReadsTheRunningHost) {
  LinuxSystemInfo system;
  EXPECT_GE(system.Cpus(), 1u);
  EXPECT_GT(system.MemoryMib(), 0u);
  EXPECT_FALSE(system.KernelRelease().empty());
  EXPECT_TRUE(system.Exists("/proc/self"));
  auto stat = system.ReadFile("/proc/self/stat");
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_THAT(*stat, HasSubstr(absl::StrCat(getpid(), " (")));
  auto missing = system.ReadFile("/nonexistent/emu-file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/emu-file"));
  EXPECT_THAT(system.FindOnPath("sh"), HasSubstr("/sh"));
  EXPECT_EQ(system.FindOnPath("/bin/sh"), "/bin/sh");
  EXPECT_EQ(system.FindOnPath(absl::StrCat("emu-no-such-tool-", getpid())), "");
}

}  // namespace
}  // namespace emu::agent::net
