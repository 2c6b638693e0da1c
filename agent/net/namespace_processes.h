// Processes running inside a node's network namespace: the agent lists them
// as the lab's resources and ends them before removing the namespace.
// An interface so the reconciler's tests run without root.
#ifndef EMU_AGENT_NET_NAMESPACE_PROCESSES_H_
#define EMU_AGENT_NET_NAMESPACE_PROCESSES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace emu::agent::net {

class NamespaceProcesses {
 public:
  virtual ~NamespaceProcesses() = default;
  // Pids whose network namespace is /run/netns/<ns>.
  virtual absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) = 0;
  // SIGTERM, then SIGKILL after `grace`; OK once none is left.
  virtual absl::Status KillAll(const std::string& ns, absl::Duration grace) = 0;
};

// Backed by /proc (common/netns_pids.h).
class ProcNamespaceProcesses : public NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) override;
  absl::Status KillAll(const std::string& ns, absl::Duration grace) override;
};

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_NAMESPACE_PROCESSES_H_
