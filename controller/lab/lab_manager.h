// LabManager: the controller's lifecycle of labs. Parses and validates a
// topology, places it, asks the agents to build their shares, runs the
// nodes' exec lines, and keeps each lab's state in the LabStore so a
// controller restart loses nothing. A failed deploy is rolled back on every
// host it touched; a destroy that could not reach a host stays DESTROYING
// and is finished by Reconcile() once the host answers again.
//
// Deploy returns RUNNING only when the lab carries traffic: every veth link
// is created by ApplyLab, and every cross-host link's TCP tunnel has finished
// its handshake on BOTH ends (both agents report it "up"), within
// Options::tunnel_ready_timeout.
//
// Every write to the store that recovery relies on (DEPLOYING, DESTROYING,
// FAILED) is retried a bounded number of times; one that still fails fails
// the operation and is named in its error and progress.
//
// Thread-safe: operations on one lab are serialised; different labs proceed
// in parallel. Per-host and per-node work runs on a pool the manager owns
// (joined by its destructor). Borrows the store and the registry.
#ifndef EMU_CONTROLLER_LAB_LAB_MANAGER_H_
#define EMU_CONTROLLER_LAB_LAB_MANAGER_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/thread_pool.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_diff.h"
#include "controller/lab/lab_store.h"
#include "controller/placement/placement.h"
#include "controller/topology/topology_parser.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

class LabManager {
 public:
  using ProgressFn = std::function<void(const emu::v1::DeployEvent&)>;

  struct Options {
    // How long Deploy waits for every tunnel's handshake after the shares
    // are applied; the deploy fails (and is rolled back) naming the links
    // that did not come up.
    absl::Duration tunnel_ready_timeout = absl::Seconds(30);
    // How often the agents are asked about their tunnels while waiting.
    absl::Duration tunnel_poll_interval = absl::Milliseconds(100);
    // Attempts of one store write before the operation fails with it.
    int store_attempts = 3;
    absl::Duration store_retry_delay = absl::Milliseconds(50);
    // Workers for per-host (apply, destroy) and per-node (exec lines) work,
    // shared by all labs: a bound, not one thread per item.
    int threads = 8;
  };

  LabManager(LabStore* store, hosts::HostRegistry* hosts)
      : LabManager(store, hosts, Options()) {}
  LabManager(LabStore* store, hosts::HostRegistry* hosts, Options options);

  // Parses (if given as a file) and validates. INVALID_ARGUMENT with every
  // problem, each naming file:line and the object.
  absl::StatusOr<topology::ParsedTopology> Validate(
      const emu::v1::TopologySource& source) const;

  // Who deploys and what they may use. The lab is recorded under
  // emu::LabKey(owner, name) with Lab.owner = owner, and that key is its
  // name on the agents; an empty owner (the cluster administrator) keeps
  // the plain name.
  struct DeployAs {
    std::string owner;
    // Called with the validated topology (its name already the lab key)
    // before placement, and again (under a lock that serialises it with
    // recording) just before the lab is first recorded: a refusal leaves
    // nothing created. Null: no check.
    std::function<absl::Status(const emu::v1::Topology&)> admit;
    // An administrator deploys (the cluster token or an `--admin` user):
    // only then may the file have `target: host` stage commands
    // (host_commands.h). `caller` names who deploys in the refusal.
    bool admin = false;
    std::string caller;
  };

  absl::Status Deploy(const emu::v1::TopologySource& source,
                      const ProgressFn& progress) {
    return Deploy(source, DeployAs(), progress);
  }
  absl::Status Deploy(const emu::v1::TopologySource& source,
                      const DeployAs& as, const ProgressFn& progress);
  absl::Status Destroy(const std::string& lab, const ProgressFn& progress);

  // Brings the RUNNING lab the file names to the file (ControllerService.
  // ApplyLab; lab_manager_apply.cc): diff (lab_diff.h), place only the new
  // nodes, change only the hosts whose share changes, run the new nodes'
  // exec lines, wait for new tunnels, record. The first progress event
  // carries the difference (DeployEvent.changes); `dry_run` stops there. A
  // failure re-applies the previous share on every host touched and returns
  // what failed (and what the rollback could not do); the stored lab
  // changes only on success.
  // `as`: whose lab it is (the file names the owner's lab) and the quota
  // check of the edited topology (DeployAs; the running lab itself is not
  // counted twice).
  absl::Status Apply(const emu::v1::TopologySource& source, bool dry_run,
                     const ProgressFn& progress) {
    return Apply(source, DeployAs(), dry_run, progress);
  }
  absl::Status Apply(const emu::v1::TopologySource& source, const DeployAs& as,
                     bool dry_run, const ProgressFn& progress);

  // Labs with their state as seen now: a RUNNING lab with an unreachable
  // host reads DEGRADED, with the host, its nodes and links named in
  // `error`. Get also asks the agents for the lab's tunnels: a cross-host
  // link that is not up reads DEGRADED too (List does not ask). Get sets
  // Lab.converging for a DEPLOYING lab and for one DEGRADED only because
  // tunnels are (re)connecting: clients wait for those.
  absl::StatusOr<emu::v1::Lab> Get(const std::string& lab) const;
  absl::StatusOr<std::vector<emu::v1::Lab>> List() const;
  // List as outlines (lab_details.h OutlineLab: counts, no nodes or links),
  // read without parsing the nodes and links unless a host is unreachable
  // (the state then names what is lost): ListLabs and the web view's list.
  absl::StatusOr<std::vector<emu::v1::Lab>> ListOutlines() const;

  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::LabExecRequest& request);

  // emuctl capture (lab_manager_observe.cc): the agent of the node's host
  // captures on the interface and every chunk goes to `on_chunk` (which may
  // block: backpressure reaches the agent's bounded queue) until the
  // capture ends, fails, or `cancel` fires. `request.lab` is the lab key.
  // NOT_FOUND for an unknown lab or node; FAILED_PRECONDITION when the lab
  // is not RUNNING (or DEGRADED).
  absl::Status Capture(const emu::v1::CaptureRequest& request,
                       hosts::CallCanceller* cancel,
                       const hosts::AgentClient::ChunkFn& on_chunk);

  // emuctl stats: the counters of every host of the lab, asked in
  // parallel and merged (lab_counters_merge.h); a host that does not
  // answer is named in `problems`. NOT_FOUND for an unknown lab.
  absl::StatusOr<emu::v1::LabCounters> Stats(const std::string& lab);

  // Re-pushes `host`'s share of every RUNNING lab on it (ApplyLab is
  // idempotent: what the agent lost is re-created, the rest is untouched).
  // Called when a host comes back (HostRegistry::TakeReturnedHosts). Exec
  // lines are not run again. Logs through `log`. False when a lab's share
  // could not be re-applied: that lab reads DEGRADED with the reason until a
  // later ResyncHost of the host succeeds (the caller retries).
  bool ResyncHost(const std::string& host,
                  const std::function<void(const std::string&)>& log);

  // Finishes interrupted work: labs left DEPLOYING by a controller crash are
  // rolled back and marked FAILED; DESTROYING labs are destroyed again;
  // community attachments follow their exports (ReconcileCommunity).
  // Called at start-up and after each heartbeat. Logs through `log`.
  void Reconcile(const std::function<void(const std::string&)>& log);

  // Community attachments (lab_manager_community.cc, docs/community.md):
  // brings every RUNNING lab's attachments in line with the exports as
  // stored now (community::ExpandAttachments): an attachment whose
  // exporting lab left is detached (that lab reads DEGRADED naming it),
  // one whose exporter is RUNNING again is re-attached, through the same
  // steps as `emuctl apply` (only the hosts whose share changes). A lab
  // another operation holds (after waiting up to `busy_wait` for it) is
  // left for the next call. Logs through `log`.
  void ReconcileCommunity(const std::function<void(const std::string&)>& log,
                          absl::Duration busy_wait = absl::ZeroDuration());

  // `emuctl community export` / `unexport` (ControllerService.
  // SetCommunityExport, lab_manager_community.cc): adds `spec` (a segment
  // or a free interface, community/exports.h; marked Export.runtime) to the
  // RUNNING lab keyed `lab`, or removes the export named spec.name() when
  // `remove`. Stored with the lab; an interface export's bridge is created
  // (or removed) through the apply steps. Then the labs attached to it
  // attach or detach (ReconcileCommunity). Returns the endpoint as
  // ListCommunity shows it (empty after a removal). NOT_FOUND: no such lab
  // or export; FAILED_PRECONDITION: lab not RUNNING or busy;
  // INVALID_ARGUMENT naming the segment or interface; ALREADY_EXISTS: the
  // owner exports that name already (in this lab or another).
  absl::StatusOr<emu::v1::CommunityEndpoint> SetExport(
      const std::string& lab, emu::v1::Export spec, bool remove);

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
    // Tries again to take a lease that was not held.
    void Retry();
    // FAILED_PRECONDITION naming the lab, for callers that give up.
    absl::Status BusyError() const;

   private:
    LabManager* const manager_;
    const std::string lab_;
    bool held_;
  };
  emu::v1::Lab WithLiveState(emu::v1::Lab lab) const;

  // A node of a RUNNING (or DEGRADED) lab and the agent of its host, for
  // Exec and Capture. NOT_FOUND naming the lab's nodes for an unknown one.
  struct NodePlace {
    emu::v1::Lab lab;
    std::string host;
    hosts::AgentClient* client = nullptr;
  };
  absl::StatusOr<NodePlace> LocateNode(const std::string& lab,
                                       const std::string& node) const;

  // Deploy's steps, in order. Each returns the first failure; after
  // RecordDeploying, any failure goes to RollBack.
  absl::StatusOr<topology::ParsedTopology> ParseForDeploy(
      const emu::v1::TopologySource& source) const;
  absl::Status CheckNameFree(const std::string& name) const;
  absl::StatusOr<placement::Placement> Place(
      const emu::v1::Topology& topo) const;
  static emu::v1::Lab NewLabRecord(const emu::v1::Topology& topo,
                                   const placement::Placement& placement);
  absl::Status ApplyShares(const placement::Placement& placement,
                           const ProgressFn& progress);
  absl::Status RunExecLines(const emu::v1::Lab& lab,
                            const ProgressFn& progress);
  absl::Status WaitForTunnels(emu::v1::Lab* lab, const ProgressFn& progress);
  absl::Status MarkRunning(emu::v1::Lab* lab, const ProgressFn& progress);
  // Destroys what the deploy created on `hosts` and records FAILED (or
  // DESTROYING when a host could not be reached: Reconcile finishes it).
  // Returns `failure`, with what the rollback could not do appended.
  absl::Status RollBack(emu::v1::Lab* lab,
                        const std::vector<std::string>& hosts,
                        absl::Status failure, const ProgressFn& progress);

  // Apply's steps (lab_manager_apply.cc). HostChange: what one host gets.
  struct HostChange;
  absl::StatusOr<std::map<std::string, std::string>> PlaceAroundRunning(
      const emu::v1::Lab& running, const emu::v1::Topology& desired,
      bool new_nodes) const;
  // What each host gets to go from `before` to `after`; hosts whose share
  // does not change are left out.
  static std::vector<HostChange> PlanHostChanges(
      const std::map<std::string, emu::v1::ApplyLabRequest>& before,
      const std::map<std::string, emu::v1::ApplyLabRequest>& after);
  // Runs `changes` on their hosts in parallel; the error names each host
  // that failed.
  absl::Status ChangeHosts(const std::string& lab,
                           const std::vector<HostChange>& changes,
                           const ProgressFn& progress);

  // Apply's steps once the file is parsed (its name the lab key, its
  // attachments expanded) and the lab's lease is held.
  absl::Status ApplyLeased(topology::ParsedTopology parsed, const DeployAs& as,
                           bool dry_run, const ProgressFn& progress);
  // Refuses (INVALID_ARGUMENT, each line naming FILE:LINE, the link and the
  // endpoint) attachments of `topology` to endpoints that do not exist or
  // that `key_owner` (DeployAs::owner) may not use, then adds the anchors
  // and links of those whose exporter runs (community/attachments.h).
  // Attachments `running` (the lab's record, when it runs; else null)
  // already has are not refused: their exporter may be away, and they stay
  // down until it returns, as when the lab was left untouched.
  absl::Status AttachCommunity(emu::v1::Topology* topology,
                               const std::string& key_owner,
                               const emu::v1::Lab* running) const;
  // The exports of a lab's topology made ready to record: `emuctl
  // community export`s of `running` (Export.runtime) kept when the file
  // does not name them (refused, naming them, when the edited lab no longer
  // has their segment or interface), and interface exports' bridges added
  // (community/exports.h). `running` is null at deploy.
  absl::Status PrepareExports(emu::v1::Topology* topology,
                              const emu::v1::Lab* running) const;
  // Under admission_mu_: the interface exports `topology` attaches to are
  // still free (community::CheckInterfaceExportsFree) against the store.
  absl::Status CheckInterfaceExportsStillFree(
      const emu::v1::Topology& topology, const std::string& key_owner) const;

  absl::Status DestroyOnHosts(const emu::v1::Lab& lab,
                              const std::vector<std::string>& hosts,
                              const ProgressFn& progress);
  // Writes `lab` with Options::store_attempts attempts. The error names the
  // lab and the state it was recording.
  absl::Status Record(const emu::v1::Lab& lab);
  // Runs fn(0..n-1) on pool_ and returns when every call has returned.
  void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

  const Options options_;
  LabStore* const store_;
  hosts::HostRegistry* const hosts_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> busy_ ABSL_GUARDED_BY(mu_);
  // Held across DeployAs::admit and the first Record of a deploy, so two
  // deploys of one user cannot both pass a quota meant for one.
  absl::Mutex admission_mu_;
  // Lab -> host -> why re-applying its share after the host came back
  // failed.
  std::map<std::string, std::map<std::string, std::string>> resync_errors_
      ABSL_GUARDED_BY(mu_);
  // Last member: destroyed (joined) first, while everything its work may
  // touch still exists. ParallelFor waits for its own items, so no work
  // outlives the call that queued it.
  ThreadPool pool_;
};

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_MANAGER_H_
