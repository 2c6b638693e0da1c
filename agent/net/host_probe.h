// What this host can do, for GetCapabilities: CPUs, memory, kernel, QEMU,
// TUN and whether KVM is really usable. The kernel's qdisc/bridge/VXLAN
// support is probed by HostNetwork::ProbeKernel and passed in.
#ifndef EMU_AGENT_NET_HOST_PROBE_H_
#define EMU_AGENT_NET_HOST_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/agent.pb.h"
#include "proto/topology.pb.h"

namespace emu::agent::net {

inline constexpr char kAgentVersion[] = "0.1.0";

// The host facts the probe reads: an interface so tests describe a host in
// a table. Implementations are thread-compatible.
class SystemInfo {
 public:
  virtual ~SystemInfo() = default;
  // Whole contents of a file ("/proc/cpuinfo"); NOT_FOUND when missing.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  // Full path of the executable `name` on $PATH, or "" when there is none.
  virtual std::string FindOnPath(const std::string& name) = 0;
  // CPUs this process may run on.
  virtual uint32_t Cpus() = 0;
  // Total memory, MiB (MemTotal).
  virtual uint64_t MemoryMib() = 0;
  // `uname -r`.
  virtual std::string KernelRelease() = 0;
};

// SystemInfo of the running Linux host: files, $PATH, sched_getaffinity,
// /proc/meminfo, uname. Stateless.
class LinuxSystemInfo : public SystemInfo {
 public:
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  bool Exists(const std::string& path) override;
  std::string FindOnPath(const std::string& name) override;
  uint32_t Cpus() override;
  uint64_t MemoryMib() override;
  std::string KernelRelease() override;
};

// The name agent/main.cc was written against.
using RealSystemInfo = LinuxSystemInfo;

struct KvmProbe {
  bool usable = false;
  // Why not (or what backs it when usable), one line:
  // "/dev/kvm is kvm_pvm (paravirtual); no vmx/svm in CPU flags; guests use
  // TCG".
  std::string detail;
};

// KVM is usable only with /dev/kvm AND vmx or svm in the CPU flags AND
// kvm_intel or kvm_amd loaded (/sys/module or /proc/modules) AND no
// kvm_pvm: a paravirtual KVM answers on /dev/kvm but stock guests hang
// under it, so /dev/kvm alone proves nothing.
KvmProbe ProbeKvm(SystemInfo& system);

// GetCapabilities' answer: the facts above plus the kernel probe's results
// (`qdiscs` kinds the kernel accepted, bridge and VXLAN support) and the
// node kinds this agent runs. netem is "netem" in qdiscs; qemu is
// qemu-system-x86_64 on $PATH; tun is /dev/net/tun.
emu::v1::Capabilities BuildCapabilities(
    SystemInfo& system, const std::string& host_name,
    const std::vector<std::string>& qdiscs, bool bridge, bool vxlan,
    const std::vector<emu::v1::NodeKind>& kinds);

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_HOST_PROBE_H_
