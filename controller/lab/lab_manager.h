// LabManager: the controller's lifecycle of labs. Parses and validates a
// topology, places it, asks the agents to build their shares, runs the
// nodes' exec lines, and keeps each lab's state in the LabStore so a
// controller restart loses nothing. A failed deploy is rolled back on every
// host it touched; a destroy that could not reach a host stays DESTROYING
// and is finished by Reconcile() once the host answers again.
//
// Thread-safe: operations on one lab are serialised; different labs proceed
// in parallel. Borrows the store and the registry.
#ifndef EMU_CONTROLLER_LAB_LAB_MANAGER_H_
#define EMU_CONTROLLER_LAB_LAB_MANAGER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_store.h"
#include "controller/topology/topology_parser.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

class LabManager {
 public:
  using ProgressFn = std::function<void(const emu::v1::DeployEvent&)>;

  LabManager(LabStore* store, hosts::HostRegistry* hosts);

  // Parses (if given as a file) and validates. INVALID_ARGUMENT with every
  // problem, each naming file:line and the object.
  absl::StatusOr<topology::ParsedTopology> Validate(
      const emu::v1::TopologySource& source) const;

  absl::Status Deploy(const emu::v1::TopologySource& source,
                      const ProgressFn& progress);
  absl::Status Destroy(const std::string& lab, const ProgressFn& progress);

  // Labs with their state as seen now: a RUNNING lab with an unreachable
  // host reads DEGRADED, with the host, its nodes and links named in
  // `error`. Get also asks the agents for the lab's tunnels: a cross-host
  // link that is not up reads DEGRADED too (List does not ask).
  absl::StatusOr<emu::v1::Lab> Get(const std::string& lab) const;
  absl::StatusOr<std::vector<emu::v1::Lab>> List() const;

  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::LabExecRequest& request);

  // Re-pushes `host`'s share of every RUNNING lab on it (ApplyLab is
  // idempotent: what the agent lost is re-created, the rest is untouched).
  // Called when a host comes back (HostRegistry::TakeReturnedHosts). Exec
  // lines are not run again. Logs through `log`. False when a lab's share
  // could not be re-applied: that lab reads DEGRADED with the reason until a
  // later ResyncHost of the host succeeds (the caller retries).
  bool ResyncHost(const std::string& host,
                  const std::function<void(const std::string&)>& log);

  // Finishes interrupted work: labs left DEPLOYING by a controller crash are
  // rolled back and marked FAILED; DESTROYING labs are destroyed again.
  // Called at start-up and after each heartbeat. Logs through `log`.
  void Reconcile(const std::function<void(const std::string&)>& log);

 private:
  // Holds a lab name for one operation (RAII); held() is false when another
  // operation on the lab is in progress.
  class Lease {
   public:
    Lease(LabManager* manager, std::string lab);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    bool held() const { return held_; }
    // FAILED_PRECONDITION naming the lab, for callers that give up.
    absl::Status BusyError() const;

   private:
    LabManager* const manager_;
    const std::string lab_;
    bool held_;
  };
  emu::v1::Lab WithLiveState(emu::v1::Lab lab) const;
  absl::Status DestroyOnHosts(const emu::v1::Lab& lab,
                              const std::vector<std::string>& hosts,
                              const ProgressFn& progress);
  absl::Status RunExecLines(const emu::v1::Lab& lab,
                            const ProgressFn& progress);

  LabStore* const store_;
  hosts::HostRegistry* const hosts_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  // Lab -> host -> why re-applying its share after the host came back
  // failed.
  std::map<std::string, std::map<std::string, std::string>> resync_errors_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_MANAGER_H_
