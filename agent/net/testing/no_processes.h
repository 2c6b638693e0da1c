// NoProcesses: a NamespaceProcesses for tests whose namespaces run nothing:
// List is empty, KillAll succeeds at once.
//
// Thread-safe (no state). testonly.
#ifndef EMU_AGENT_NET_TESTING_NO_PROCESSES_H_
#define EMU_AGENT_NET_TESTING_NO_PROCESSES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/net/namespace_processes.h"

namespace emu::agent::net {

class NoProcesses : public NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string&) override {
    return std::vector<pid_t>{};
  }
  absl::Status KillAll(const std::string&, absl::Duration) override {
    return absl::OkStatus();
  }
};

}  // namespace emu::agent::net

#endif  // EMU_AGENT_NET_TESTING_NO_PROCESSES_H_
