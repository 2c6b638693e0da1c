// A netns node's sandbox: what makes an operator of a lab root only inside
// their node, not on the host (docs/security.md, "What a command in a node
// can do").
//
// A network namespace alone isolates a node's network, not its commands:
// `emuctl exec` used to run as root with every capability, seeing the
// host's processes and file system. Each netns node now has a holder, a
// small process (this agent's program exec'd again as "emu-node-sandbox
// NETNS") in the node's network namespace that made a PID namespace and a
// mount namespace of the node's own (sandbox_plan.h: the host's tree
// read-only, its own /proc, /sys, /dev, /tmp, /run, secrets masked), whose
// init (pid 1 inside) reaps what the node's commands leave behind. Every
// command run in the node (exec, a file's exec: lines, experiment and
// barrier commands) joins those namespaces (ProcessSpec::sandbox_holder)
// with only NodeCapabilities(). Killing the holder ends every process in
// the node; the reconciler does it on `down` (every process in the
// namespace is killed before it is deleted).
//
// A node's holder is made by its first command (NetnsDriver::EnterNode,
// the barrier runner's Prepare), not at deploy: a node that never runs a
// command costs nothing (two processes of this program each otherwise).
// It is not the agent's to keep alive: it survives an agent restart, and
// Ensure finds it again by its command line and namespace, or makes a new
// one (a node whose holder died lost its processes with it).
#ifndef EMU_AGENT_NODE_NODE_SANDBOX_H_
#define EMU_AGENT_NODE_NODE_SANDBOX_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/node/sandbox_plan.h"
#include "common/process_launcher.h"

namespace emu::agent::node {

// Thread-safe.
class NodeSandbox {
 public:
  virtual ~NodeSandbox() = default;
  // Makes sure each node (by network namespace name, which must exist)
  // has its sandbox; the holders of several are started together.
  virtual absl::Status EnsureAll(const std::vector<std::string>& netns) = 0;
  // Ensure for one node; returns its holder's pid.
  virtual absl::StatusOr<pid_t> Ensure(const std::string& netns) = 0;
};

// What LinuxNodeSandbox asks of the host about holders: the OS boundary
// (ProcSandboxHost reads /proc; tests use testing/fake_sandbox_host.h).
class SandboxHost {
 public:
  virtual ~SandboxHost() = default;
  // True when `pid` is alive and is the holder of `netns`.
  virtual bool IsHolderOf(pid_t pid, const std::string& netns) = 0;
  // The holders already running (started before an agent restart) of the
  // namespaces in `netns`, in one look at the host; those without one are
  // left out.
  virtual absl::flat_hash_map<std::string, pid_t> FindHolders(
      const std::vector<std::string>& netns) = 0;
  // True once the holder `pid` has set the node's namespaces up.
  virtual bool IsReady(pid_t pid) = 0;
};

// SandboxHost on /proc: a holder is a process of this PID namespace whose
// argv is (program, kHolderMarker, NETNS, ...) and whose network namespace
// is /run/netns/NETNS; it is ready when kReadyMarker exists in its mounts.
class ProcSandboxHost : public SandboxHost {
 public:
  bool IsHolderOf(pid_t pid, const std::string& netns) override;
  absl::flat_hash_map<std::string, pid_t> FindHolders(
      const std::vector<std::string>& netns) override;
  bool IsReady(pid_t pid) override;
};

// NodeSandbox with holders started by a ProcessLauncher (Spawn of
// /proc/self/exe). Pointers are borrowed and must outlive it.
class LinuxNodeSandbox : public NodeSandbox {
 public:
  struct Options {
    SandboxOptions sandbox;
    // The holders' stdout and stderr (a failed setup says why there).
    std::string log_path = "/dev/null";
    // How long a new holder may take to be ready.
    absl::Duration ready_timeout = absl::Seconds(10);
    // How often readiness is checked meanwhile.
    absl::Duration poll = absl::Milliseconds(1);
  };
  // INVALID_ARGUMENT for bad options (ValidateSandboxOptions).
  static absl::StatusOr<std::unique_ptr<LinuxNodeSandbox>> Create(
      ProcessLauncher* launcher, SandboxHost* host, Options options);

  absl::Status EnsureAll(const std::vector<std::string>& netns) override;
  absl::StatusOr<pid_t> Ensure(const std::string& netns) override;

  // The spec that starts the holder of `netns` (for tests and the docs).
  ProcessSpec HolderSpec(const std::string& netns) const;

 private:
  LinuxNodeSandbox(ProcessLauncher* launcher, SandboxHost* host,
                   Options options)
      : launcher_(launcher), host_(host), options_(std::move(options)) {}

  // The live holders of `netns` known or found (one look at the host for
  // all those not known); claims the others for creation (creating_) and
  // returns them in `claimed`. Waits for other callers' creations first.
  absl::flat_hash_map<std::string, pid_t> LiveOrClaim(
      const std::vector<std::string>& netns, std::vector<std::string>* claimed);
  // Starts the holders of `netns` (claimed), waits for them; releases them.
  absl::Status StartHolders(const std::vector<std::string>& netns);

  ProcessLauncher* const launcher_;
  SandboxHost* const host_;
  const Options options_;
  absl::Mutex mu_;
  absl::CondVar created_;
  absl::flat_hash_map<std::string, pid_t> holders_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> creating_ ABSL_GUARDED_BY(mu_);
};

// The holder itself: when this program was exec'd as a holder (by
// LinuxNodeSandbox), runs it from a static initializer, before main(), and
// never returns. Exposed for its test only.
bool RunNodeSandboxHolderIfAsked();

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_NODE_SANDBOX_H_
