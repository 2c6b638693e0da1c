// The embedded local cluster behind `emuctl local start|stop|status`: N
// emulated physical hosts on this one machine, each a network namespace
// joined to a bridge and running one emu-agent, plus one emu-controller in
// the root namespace. Names and addresses follow local_cluster_layout.h; the
// running cluster is recorded in <state_dir>/cluster.json (cluster_file.h).
#ifndef EMU_DEPLOY_LOCAL_CLUSTER_H_
#define EMU_DEPLOY_LOCAL_CLUSTER_H_

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/net/host_network.h"
#include "agent/net/namespace_processes.h"
#include "common/process_launcher.h"
#include "deploy/cluster_file.h"
#include "deploy/cluster_rpc.h"
#include "deploy/local_cluster_layout.h"
#include "deploy/process_table.h"

namespace emu::deploy {

inline constexpr char kAgentBinaryName[] = "emu-agent";
inline constexpr char kControllerBinaryName[] = "emu-controller";
// The supervisor is `emuctl local supervise`.
inline constexpr char kSupervisorBinaryName[] = "emuctl";

struct DaemonBinaries {
  std::string agent;       // absolute path of emu-agent
  std::string controller;  // absolute path of emu-controller
};

// Finds emu-agent and emu-controller. With `bin_dir` set, only there.
// Otherwise, in order: the directory of `self_exe` (emuctl's own), then
// <that dir>/../agent and <that dir>/../controller (the bazel-bin layout),
// then each directory of `path_env` (a $PATH value). NOT_FOUND lists where
// it looked and how to build the binaries.
absl::StatusOr<DaemonBinaries> FindDaemonBinaries(const std::string& bin_dir,
                                                  const std::string& self_exe,
                                                  const std::string& path_env);

struct LocalClusterStartOptions {
  LocalClusterOptions cluster;
  DaemonBinaries binaries;
  // How long each daemon may take to answer its first call.
  absl::Duration ready_timeout = absl::Seconds(30);
  // The command that supervises the cluster once it runs (`emuctl local
  // supervise --name ID --state-dir=DIR ...`); empty: no supervisor.
  std::vector<std::string> supervisor_argv;
};

// How `Supervise` restarts daemons that died.
struct SuperviseOptions {
  absl::Duration interval = absl::Milliseconds(500);  // between checks
  // A daemon that dies again is restarted after min_backoff, then twice as
  // long each time up to max_backoff; once it stayed up for stable_after the
  // delay starts again at min_backoff (as systemd's Restart= with a limit).
  absl::Duration min_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration stable_after = absl::Minutes(1);
  absl::Duration ready_timeout = absl::Seconds(30);
};

// One daemon as `emuctl local status` shows it.
struct DaemonStatus {
  std::string name;  // "controller" or the host name
  int pid = 0;
  bool running = false;  // the recorded process is alive and is the daemon
  std::string address;   // where it listens
  std::string netns;     // empty for the controller
  std::string log;
};

struct LocalClusterStatus {
  ClusterFile file;
  std::vector<DaemonStatus> daemons;  // controller first, then hosts in order
  bool all_running() const;
};

// Starts, stops and inspects local clusters. Needs root (namespaces,
// bridges). Not thread-safe; concurrent emuctl processes working on the same
// cluster id are serialised by a lock file (<state_root>/.<id>.lock), and
// the second one fails with FAILED_PRECONDITION instead of waiting.
// Borrows every dependency; they must outlive this object.
class LocalCluster {
 public:
  // Receives one human-readable line per step.
  using ProgressFn = std::function<void(absl::string_view line)>;

  // `net` and `ns_processes` reach the node namespaces the cluster's agents
  // made (emu.<host>.*), to remove them when no agent can.
  LocalCluster(ProcessLauncher* launcher, ClusterRpc* rpc,
               ProcessTable* processes, agent::net::HostNetwork* net,
               agent::net::NamespaceProcesses* ns_processes,
               ProgressFn progress);

  // Brings up the cluster and returns its record (also written to
  // cluster.json). On a partly running cluster (some recorded daemons
  // alive) it starts only the missing ones, so the labs stay.
  // FAILED_PRECONDITION when it is already fully running or the subnet is in
  // use on this machine.
  // Leftovers of a dead cluster with the same id are removed first. On any
  // failure everything started so far is stopped and removed again (only
  // the logs stay, in <state_dir>/logs), and the error names the failing
  // step; for a daemon that did not come up it includes its log's tail.
  absl::StatusOr<ClusterFile> Start(const LocalClusterStartOptions& options);

  // Destroys every lab (through the controller, then through each agent for
  // what a dead controller left), ends the recorded daemons (SIGTERM, SIGKILL
  // after 5 s) and any other emu-agent/emu-controller whose command line
  // names this cluster's state dir (a daemon whose record was lost), then
  // removes what no live agent could: the node namespaces of the cluster's
  // hosts (emu.<host>.*) with the processes inside; then the host
  // namespaces, veths and bridge of cluster `id`, and its state dir.
  // Works without cluster.json and without live daemons. Idempotent:
  // stopping a half-dead or absent cluster removes whatever remains and
  // succeeds. Deletes only interfaces and namespaces whose names this id
  // owns; node namespaces of a host that a foreign emu-agent (not started
  // for this cluster) serves are left. An error lists what could not be
  // removed.
  absl::Status Stop(absl::string_view id, absl::string_view state_root);

  // `emuctl local supervise`: until `stopping()` or cluster.json is gone,
  // checks every options.interval that the recorded daemons run and starts
  // a dead one again (same flags, same state: the controller's SQLite store
  // and the agents' saved specs keep the labs), with backoff. Skips a round
  // while `local start/stop` holds the cluster's lock.
  absl::Status Supervise(absl::string_view id, absl::string_view state_root,
                         const SuperviseOptions& options,
                         const std::function<bool()>& stopping);

  // `emuctl local gc`: finds every local cluster id that left something on
  // this machine (host namespaces emuhost-<id>-h<N>, node namespaces
  // emu.<id>-h<N>.*, interfaces emubr-<id>/emuv-<id>-<N>, state dirs under
  // `state_root`) and stops each one none of whose daemons runs, as Stop
  // does. Running clusters are left and named. Returns the ids it stopped.
  absl::StatusOr<std::vector<std::string>> CollectGarbage(
      absl::string_view state_root);

  // The recorded cluster and which of its daemons run. NOT_FOUND (with a
  // hint to start one) when there is no cluster.json.
  absl::StatusOr<LocalClusterStatus> Status(absl::string_view id,
                                            absl::string_view state_root);

 private:
  absl::StatusOr<ClusterFile> StartLocked(
      const LocalClusterStartOptions& options, const LocalClusterLayout& layout,
      const ClusterAuth& auth, ClusterFile& record);
  // Removes everything of cluster `id`; counts what it removed in *actions.
  // A `rollback` (of a start that just failed) keeps the logs and skips
  // destroying labs: a cluster that never came up has none.
  absl::Status StopLocked(absl::string_view id, absl::string_view state_root,
                          bool rollback, int* actions);
  absl::StatusOr<pid_t> SpawnAgent(const LocalClusterLayout& layout, size_t i,
                                   const std::string& binary,
                                   ClusterFile& record);
  // Spawns the controller and waits until it answers; records it.
  absl::Status StartController(const LocalClusterLayout& layout,
                               const std::string& binary,
                               const ClusterAuth& auth,
                               absl::Duration ready_timeout,
                               ClusterFile& record);
  absl::Status SpawnSupervisor(const LocalClusterLayout& layout,
                               const std::vector<std::string>& supervisor_argv,
                               ClusterFile& record);
  // Starts again each recorded daemon of `existing` that is dead and that
  // `may_restart(name)` allows ("controller" or the host name), waits for
  // them to answer, and records them. Returns their names. Lock held.
  absl::StatusOr<std::vector<std::string>> RestartDeadLocked(
      absl::string_view state_root, const ClusterFile& existing,
      const DaemonBinaries& binaries, absl::Duration ready_timeout,
      const std::function<bool(const std::string&)>& may_restart);
  absl::Status WaitForAgent(const LocalHostLayout& host, int pid,
                            const ClusterAuth& auth, absl::Time deadline);
  absl::StatusOr<std::string> WaitForController(
      const LocalClusterLayout& layout, int pid, const ClusterAuth& auth,
      absl::Time deadline);
  absl::Status CheckSubnetFree(const LocalClusterLayout& layout);
  bool IsRecordedDaemon(int pid, uint64_t start_time,
                        const std::string& binary_path,
                        absl::string_view default_name);
  // Pids of running emu-agent/emu-controller processes started for the
  // cluster whose state dir is `dir` (their --token_file is in it).
  std::vector<int> FindClusterDaemons(const std::string& dir);
  // Removes node namespaces of this cluster's hosts that no agent serves;
  // reports each through `done`, failures into `failures`.
  void RemoveNodeNamespaces(absl::string_view id,
                            const std::function<void(const std::string&)>& done,
                            std::vector<std::string>* failures);

  ProcessLauncher* launcher_;
  // Daemons spawned by this object: a rollback ends them even when their
  // command line no longer names the binary (a wrapper that exec'd).
  std::set<int> own_daemons_;
  ClusterRpc* rpc_;
  ProcessTable* processes_;
  agent::net::HostNetwork* net_;
  agent::net::NamespaceProcesses* ns_processes_;
  ProgressFn progress_;
};

// A random 32-byte token as 64 lowercase hex digits, from /dev/urandom.
absl::StatusOr<std::string> GenerateToken();

// The last `lines` lines of the file at `path` ("" when unreadable).
std::string TailOfFile(const std::string& path, int lines);

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_LOCAL_CLUSTER_H_
