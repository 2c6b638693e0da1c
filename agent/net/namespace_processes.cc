#include "agent/net/namespace_processes.h"

#include "common/netns_pids.h"

namespace emu::agent::net {

absl::StatusOr<std::vector<pid_t>> ProcNamespaceProcesses::List(
    const std::string& ns) {
  return PidsInNetns(ns);
}

absl::Status ProcNamespaceProcesses::KillAll(const std::string& ns,
                                             absl::Duration grace) {
  return KillPidsInNetns(ns, grace);
}

}  // namespace emu::agent::net
