// A ClusterRpc for unit tests: no network; probes answer from a table and
// destroy calls return scripted lab lists, all recorded.
#ifndef EMU_DEPLOY_TESTING_FAKE_CLUSTER_RPC_H_
#define EMU_DEPLOY_TESTING_FAKE_CLUSTER_RPC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "deploy/cluster_rpc.h"

namespace emu::deploy {

// Thread-safe. By default every probe succeeds and there are no labs.
class FakeClusterRpc : public ClusterRpc {
 public:
  struct Call {
    std::string method;  // "ProbeAgent", "DestroyControllerLabs", ...
    std::string address;
    std::string token;
    bool tls = false;  // TLS with a certificate, not plain text
  };

  // Probes of `address` return `status` from now on.
  void SetProbeResult(const std::string& address, absl::Status status);
  // DestroyControllerLabs / DestroyAgentLabs of `address` return `labs`
  // (once; later calls return none, as the labs are then gone).
  void SetLabs(const std::string& address, std::vector<std::string> labs);

  std::vector<Call> calls() const;

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

 private:
  absl::Status Probe(const char* method, const std::string& address,
                     const ClusterAuth& auth);
  std::vector<std::string> TakeLabs(const char* method,
                                    const std::string& address,
                                    const ClusterAuth& auth);

  mutable absl::Mutex mu_;
  std::map<std::string, absl::Status> probe_results_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> labs_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_TESTING_FAKE_CLUSTER_RPC_H_
