// The agent's reconciler: makes this host match the desired state of each
// lab (an ApplyLabRequest) and removes labs completely.
//
// Desired state is saved (LabSpecStore) before the kernel is touched; the
// observed state always comes from the kernel (HostNetwork), never from
// memory, so a restarted agent converges the same way a running one does.
// Applying the same spec twice makes no change the second time: existing
// namespaces and veths are kept, addresses/routes/qdiscs use replace
// semantics.
//
// Thread-safe: mutations of one lab are serialised; Exec runs concurrently.
#ifndef EMU_AGENT_RECONCILER_H_
#define EMU_AGENT_RECONCILER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/host_network.h"
#include "agent/lab_spec_store.h"
#include "agent/namespace_processes.h"
#include "agent/tunnel_manager.h"
#include "agent/guest_manager.h"
#include "common/process_launcher.h"
#include "proto/agent.pb.h"

namespace emu::agent {

class Reconciler {
 public:
  using ProgressFn = std::function<void(const emu::v1::ApplyLabEvent&)>;

  // All pointers are borrowed and must outlive the reconciler. `features`
  // is what HostNetwork::ProbeKernel found at start-up. `tunnels` carries
  // cross-host links (ApplyLabRequest.remote_links); null: this agent
  // refuses them (FAILED_PRECONDITION).
  Reconciler(std::string host, HostNetwork* net, ProcessLauncher* launcher,
             NamespaceProcesses* procs, const LabSpecStore* store,
             HostNetwork::KernelFeatures features,
             TunnelManager* tunnels = nullptr);

  // See AgentService.ApplyLab. FAILED_PRECONDITION (and nothing created)
  // when the spec needs something this host lacks; INVALID_ARGUMENT for a
  // malformed spec.
  absl::Status Apply(const emu::v1::ApplyLabRequest& desired,
                     const ProgressFn& progress);

  // Re-applies one link's conditions and records them in the saved spec.
  absl::Status SetLinkParams(const emu::v1::SetLinkParamsRequest& req);

  // Removes every resource of `lab` on this host; returns how many.
  // Carries on past individual failures and reports the first.
  absl::StatusOr<int> Destroy(const std::string& lab);

  // Runs a command inside a node of a lab.
  absl::StatusOr<emu::v1::ExecResponse> Exec(const emu::v1::ExecRequest& req);

  // What this agent owns, observed in the kernel. Empty lab = all labs.
  absl::StatusOr<emu::v1::ListResourcesResponse> ListResources(
      const std::string& lab);

  // Start-up: re-applies every saved lab so that what a crash or reboot
  // removed is re-created. Returns the labs recovered; failures are logged
  // through `log` and do not stop the others.
  std::vector<std::string> RecoverAll(
      const std::function<void(const std::string&)>& log);

  const std::string& host() const { return host_; }

  // QEMU guests (node kind qemu); null: this agent refuses them. Set once,
  // before the first call (agent/guest_manager.h).
  void set_guests(GuestManager* guests) { guests_ = guests; }

 private:
  absl::Status CheckSpec(const emu::v1::ApplyLabRequest& desired) const;
  absl::Status ApplyLocked(const emu::v1::ApplyLabRequest& desired,
                           const ProgressFn& progress);
  absl::StatusOr<int> DestroyLocked(const std::string& lab);
  absl::Mutex* LabMutex(const std::string& lab);

  // Cross-host link ends (reconciler_remote_links.cc).
  absl::Status CheckRemoteLinks(const emu::v1::ApplyLabRequest& desired,
                                const absl::flat_hash_set<std::string>& nodes,
                                bool has_netem) const;
  // TAPs and tunnels of the spec's remote links (closing the others), and
  // the sending direction's qdiscs on each TAP.
  absl::Status ApplyRemoteLinks(
      const emu::v1::ApplyLabRequest& desired,
      const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
      const ProgressFn& progress);
  // SetLinkParams for a remote link of `spec` (saved and applied);
  // NOT_FOUND when `spec` has no such link.
  absl::Status SetRemoteLinkParams(const emu::v1::SetLinkParamsRequest& req,
                                   emu::v1::ApplyLabRequest* spec);
  void AddTunnelResources(const std::string& lab,
                          emu::v1::ListResourcesResponse* resp);

  const std::string host_;
  HostNetwork* const net_;
  ProcessLauncher* const launcher_;
  NamespaceProcesses* const procs_;
  const LabSpecStore* const store_;
  const HostNetwork::KernelFeatures features_;
  TunnelManager* const tunnels_;
  GuestManager* guests_ = nullptr;

  absl::Mutex mu_;  // guards lab_mu_ (the map, not the labs)
  absl::flat_hash_map<std::string, std::unique_ptr<absl::Mutex>> lab_mu_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent

#endif  // EMU_AGENT_RECONCILER_H_
