// The physical hosts the controller knows: each host's agent client, its
// last reported capabilities, and whether it answered the last heartbeat.
//
// Thread-safe. Owns the clients.
#ifndef EMU_CONTROLLER_HOST_REGISTRY_H_
#define EMU_CONTROLLER_HOST_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/agent_client.h"
#include "proto/controller.pb.h"

namespace emu::controller {

// "h1=198.18.0.11:7471,h2=..." -> (name, address) pairs.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
ParseAgentList(const std::string& flag);

class HostRegistry {
 public:
  HostRegistry() = default;

  // Adds a host. ALREADY_EXISTS for a duplicate name.
  absl::Status Add(const std::string& name, const std::string& address,
                   std::unique_ptr<AgentClient> client);

  // Asks every agent for its capabilities (in parallel, each bounded by
  // `timeout`) and records who answered.
  void Refresh(absl::Duration timeout);

  // Hosts in name order, as of the last Refresh.
  std::vector<emu::v1::HostStatus> Snapshot() const;

  // NOT_FOUND for an unknown host. The pointer lives as long as the registry.
  absl::StatusOr<AgentClient*> Client(const std::string& name) const;

  bool Reachable(const std::string& name) const;

 private:
  struct Entry {
    emu::v1::HostStatus status;
    std::unique_ptr<AgentClient> client;
  };
  mutable absl::Mutex mu_;
  std::vector<Entry> hosts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller

#endif  // EMU_CONTROLLER_HOST_REGISTRY_H_
