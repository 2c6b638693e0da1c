#include "agent/net/namespace_processes.h"

#include "common/netns_pids.h"

namespace emu::agent::net {

absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
NamespaceProcesses::ListMany(const std::vector<std::string>& namespaces) {
  absl::flat_hash_map<std::string, std::vector<pid_t>> found;
  for (const std::string& ns : namespaces) {
    absl::StatusOr<std::vector<pid_t>> pids = List(ns);
    if (absl::IsNotFound(pids.status())) continue;
    if (!pids.ok()) return pids.status();
    found[ns] = *std::move(pids);
  }
  return found;
}

absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
ProcNamespaceProcesses::ListMany(const std::vector<std::string>& namespaces) {
  return PidsInNetnsMany(namespaces);
}

absl::StatusOr<std::vector<pid_t>> ProcNamespaceProcesses::List(
    const std::string& ns) {
  return PidsInNetns(ns);
}

absl::Status ProcNamespaceProcesses::KillAll(const std::string& ns,
                                             absl::Duration grace) {
  return KillPidsInNetns(ns, grace);
}

}  // namespace emu::agent::net
