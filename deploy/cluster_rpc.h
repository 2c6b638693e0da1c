// The few gRPC calls the local cluster makes to its own daemons: readiness
// probes after start, and destroying every lab before stop so nothing is
// left on the machine.
#ifndef EMU_DEPLOY_CLUSTER_RPC_H_
#define EMU_DEPLOY_CLUSTER_RPC_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/transport_security.h"

namespace emu::deploy {

// What the local cluster's own calls present: the bearer token, and the
// controller's certificate (agents accept no other) or plain text.
struct ClusterAuth {
  std::string token;
  TransportSecurity transport;
};

// Calls to a controller or agent at "host:port" with `auth`. Every
// call has its own deadline `timeout`. Implementations are thread-safe.
class ClusterRpc {
 public:
  virtual ~ClusterRpc() = default;

  // OK when the agent answers GetCapabilities.
  virtual absl::Status ProbeAgent(const std::string& address,
                                  const ClusterAuth& auth,
                                  absl::Duration timeout) = 0;

  // OK when the controller answers ListHosts.
  virtual absl::Status ProbeController(const std::string& address,
                                       const ClusterAuth& auth,
                                       absl::Duration timeout) = 0;

  // Destroys every lab the controller lists that is not DESTROYED, one
  // after the other; returns their names. Keeps going after a failed lab
  // and then returns the first error (naming the lab).
  virtual absl::StatusOr<std::vector<std::string>> DestroyControllerLabs(
      const std::string& address, const ClusterAuth& auth,
      absl::Duration timeout) = 0;

  // Destroys every lab the agent has state or resources for (for labs a
  // dead controller can no longer destroy); returns their names. Same error
  // behaviour as DestroyControllerLabs.
  virtual absl::StatusOr<std::vector<std::string>> DestroyAgentLabs(
      const std::string& address, const ClusterAuth& auth,
      absl::Duration timeout) = 0;
};

// ClusterRpc over gRPC (mutual TLS unless the cluster runs in plain text;
// an agent is checked against the address it is dialled at, which its
// certificate carries). A fresh channel per call, so a probe of a
// daemon that is still starting is not slowed by the previous attempt's
// reconnect backoff. Stateless, thread-safe.
class GrpcClusterRpc : public ClusterRpc {
 public:
  absl::Status ProbeAgent(const std::string& address, const ClusterAuth& auth,
                          absl::Duration timeout) override;
  absl::Status ProbeController(const std::string& address,
                               const ClusterAuth& auth,
                               absl::Duration timeout) override;
  absl::StatusOr<std::vector<std::string>> DestroyControllerLabs(
      const std::string& address, const ClusterAuth& auth,
      absl::Duration timeout) override;
  absl::StatusOr<std::vector<std::string>> DestroyAgentLabs(
      const std::string& address, const ClusterAuth& auth,
      absl::Duration timeout) override;
};

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_CLUSTER_RPC_H_
