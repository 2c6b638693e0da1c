#include "agent/net/host_probe.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/errno_status.h"

namespace emu::agent::net {
namespace {

constexpr char kQemuBinary[] = "qemu-system-x86_64";

// True when any "flags" line of /proc/cpuinfo has `flag` as a whole word.
bool HasCpuFlag(absl::string_view cpuinfo, absl::string_view flag) {
  for (absl::string_view line : absl::StrSplit(cpuinfo, '\n')) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::StripAsciiWhitespace(line.substr(0, colon)) != "flags") continue;
    for (absl::string_view word :
         absl::StrSplit(line.substr(colon + 1), absl::ByAnyChar(" \t"),
                        absl::SkipEmpty())) {
      if (word == flag) return true;
    }
  }
  return false;
}

// Whether /proc/modules lists `module` (first word of a line).
bool ModuleListed(absl::string_view modules, absl::string_view module) {
  for (absl::string_view line : absl::StrSplit(modules, '\n')) {
    if (line.substr(0, line.find(' ')) == module) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> LinuxSystemInfo::ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return emu::ErrnoToStatus(errno, absl::StrCat("read ", path));
  std::string data;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return emu::ErrnoToStatus(err, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

bool LinuxSystemInfo::Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string LinuxSystemInfo::FindOnPath(const std::string& name) {
  auto executable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) {
    return executable(name) ? name : "";
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(
           path != nullptr ? path : "/usr/bin:/bin", ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (executable(candidate)) return candidate;
  }
  return "";
}

uint32_t LinuxSystemInfo::Cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<uint32_t>(n);
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

uint64_t LinuxSystemInfo::MemoryMib() {
  auto meminfo = ReadFile("/proc/meminfo");
  if (meminfo.ok()) {
    for (absl::string_view line : absl::StrSplit(*meminfo, '\n')) {
      if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, "kB");
      uint64_t kib;
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
        return kib / 1024;
      }
    }
  }
  struct sysinfo si;
  if (sysinfo(&si) == 0) {
    return static_cast<uint64_t>(si.totalram) * si.mem_unit / (1024 * 1024);
  }
  return 0;
}

std::string LinuxSystemInfo::KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "";
  return u.release;
}

KvmProbe ProbeKvm(SystemInfo& system) {
  const bool dev = system.Exists("/dev/kvm");
  auto modules = system.ReadFile("/proc/modules");
  auto loaded = [&](absl::string_view module) {
    return system.Exists(absl::StrCat("/sys/module/", module)) ||
           (modules.ok() && ModuleListed(*modules, module));
  };
  const bool intel = loaded("kvm_intel");
  const bool amd = loaded("kvm_amd");
  const bool pvm = loaded("kvm_pvm");
  auto cpuinfo = system.ReadFile("/proc/cpuinfo");
  const bool vmx = cpuinfo.ok() && HasCpuFlag(*cpuinfo, "vmx");
  const bool svm = cpuinfo.ok() && HasCpuFlag(*cpuinfo, "svm");

  std::vector<std::string> why_not;
  if (!dev) {
    why_not.push_back("no /dev/kvm");
  } else if (pvm) {
    why_not.push_back("/dev/kvm is kvm_pvm (paravirtual)");
  } else if (!intel && !amd) {
    why_not.push_back("/dev/kvm without kvm_intel or kvm_amd loaded");
  }
  if (!cpuinfo.ok()) {
    why_not.push_back(
        absl::StrCat("cannot tell vmx/svm: ", cpuinfo.status().message()));
  } else if (!vmx && !svm) {
    why_not.push_back("no vmx/svm in CPU flags");
  }

  KvmProbe probe;
  if (!why_not.empty()) {
    probe.usable = false;
    probe.detail =
        absl::StrCat(absl::StrJoin(why_not, "; "), "; guests use TCG");
    return probe;
  }
  probe.usable = true;
  probe.detail =
      absl::StrCat("/dev/kvm backed by ", intel ? "kvm_intel" : "kvm_amd", "; ",
                   vmx ? "vmx" : "svm", " in CPU flags");
  return probe;
}

emu::v1::Capabilities BuildCapabilities(
    SystemInfo& system, const std::string& host_name,
    const std::vector<std::string>& qdiscs, bool bridge, bool vxlan,
    const std::vector<emu::v1::NodeKind>& kinds) {
  emu::v1::Capabilities caps;
  caps.set_host(host_name);
  caps.set_agent_version(kAgentVersion);
  caps.set_cpus(system.Cpus());
  caps.set_memory_mib(system.MemoryMib());
  for (emu::v1::NodeKind kind : kinds) caps.add_node_kinds(kind);
  for (const std::string& q : qdiscs) caps.add_qdiscs(q);
  caps.set_netem(std::find(qdiscs.begin(), qdiscs.end(), "netem") !=
                 qdiscs.end());
  KvmProbe kvm = ProbeKvm(system);
  caps.set_kvm(kvm.usable);
  caps.set_kvm_detail(kvm.detail);
  caps.set_qemu(!system.FindOnPath(kQemuBinary).empty());
  caps.set_tun(system.Exists("/dev/net/tun"));
  caps.set_bridge(bridge);
  caps.set_vxlan(vxlan);
  caps.set_kernel(system.KernelRelease());
  return caps;
}

}  // namespace emu::agent::net
