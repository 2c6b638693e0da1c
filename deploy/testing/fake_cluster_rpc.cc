#include "deploy/testing/fake_cluster_rpc.h"

#include <utility>

namespace emu::deploy {

void FakeClusterRpc::SetProbeResult(const std::string& address,
                                    absl::Status status) {
  absl::MutexLock lock(&mu_);
  probe_results_[address] = std::move(status);
}

void FakeClusterRpc::SetLabs(const std::string& address,
                             std::vector<std::string> labs) {
  absl::MutexLock lock(&mu_);
  labs_[address] = std::move(labs);
}

std::vector<FakeClusterRpc::Call> FakeClusterRpc::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::Status FakeClusterRpc::Probe(const char* method,
                                   const std::string& address,
                                   const ClusterAuth& auth) {
  absl::MutexLock lock(&mu_);
  calls_.push_back({method, address, auth.token,
                    /*tls=*/!auth.transport.plaintext});
  auto it = probe_results_.find(address);
  return it == probe_results_.end() ? absl::OkStatus() : it->second;
}

std::vector<std::string> FakeClusterRpc::TakeLabs(const char* method,
                                                  const std::string& address,
                                                  const ClusterAuth& auth) {
  absl::MutexLock lock(&mu_);
  calls_.push_back({method, address, auth.token,
                    /*tls=*/!auth.transport.plaintext});
  std::vector<std::string> labs = std::move(labs_[address]);
  labs_.erase(address);
  return labs;
}

absl::Status FakeClusterRpc::ProbeAgent(const std::string& address,
                                        const ClusterAuth& auth,
                                        absl::Duration) {
  return Probe("ProbeAgent", address, auth);
}

absl::Status FakeClusterRpc::ProbeController(const std::string& address,
                                             const ClusterAuth& auth,
                                             absl::Duration) {
  return Probe("ProbeController", address, auth);
}

absl::StatusOr<std::vector<std::string>> FakeClusterRpc::DestroyControllerLabs(
    const std::string& address, const ClusterAuth& auth, absl::Duration) {
  return TakeLabs("DestroyControllerLabs", address, auth);
}

absl::StatusOr<std::vector<std::string>> FakeClusterRpc::DestroyAgentLabs(
    const std::string& address, const ClusterAuth& auth, absl::Duration) {
  return TakeLabs("DestroyAgentLabs", address, auth);
}

}  // namespace emu::deploy
