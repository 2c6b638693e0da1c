// Processes running inside a node's network namespace: the agent lists them
// as the lab's resources and ends them before removing the namespace.
// An interface so the reconciler's tests run without root.
#ifndef EMU_AGENT_NET_NAMESPACE_PROCESSES_H_
#define EMU_AGENT_NET_NAMESPACE_PROCESSES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace emu::agent::net {

class NamespaceProcesses {
 public:
  virtual ~NamespaceProcesses() = default;
  // Pids whose network namespace is /run/netns/<ns>.
  virtual absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) = 0;
  // List of each namespace that exists (a key each, maybe with no pid);
  // those that do not are left out. This default asks List once per
  // namespace; implementations override it when one look serves all.
  virtual absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
  ListMany(const std::vector<std::string>& namespaces);
  // SIGTERM, then SIGKILL after `grace`; OK once none is left.
  virtual absl::Status KillAll(const std::string& ns, absl::Duration grace) = 0;
};

// Backed by /proc (common/netns_pids.h).
class ProcNamespaceProcesses : public NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) override;
  // One pass over /proc for all of them (PidsInNetnsMany).
  absl::StatusOr<absl::flat_hash_map<std::string, std::vector<pid_t>>>
  ListMany(const std::vector<std::string>& namespaces) override;
  absl::Status KillAll(const std::string& ns, absl::Duration grace) override;
};

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_NAMESPACE_PROCESSES_H_
