// The agent's half of the barrier (proto/barrier.proto): serves
// BarrierAgentService.Session. Each node the session's Hello names gets a
// pre-forked executor (ExecutorPool: forked, in the node's namespaces,
// waiting for its argv); a Release hands each command's argv to its node's
// executor at once (or forks one when none is ready), and the process execs
// at the release's common start instant (it sleeps until it:
// ProcessSpec::start_at). Each command is waited for on its own
// thread of the service's ThreadSet (a command's wait never holds a gRPC
// thread or a pool worker, and a command never waits for a free worker, which
// would make it start late), and each reports one CommandDone on the stream.
// Cancel kills the process groups of a Task's commands still running; End
// (the run is over) kills the session's. A session whose Hello names a run
// (run_id) is resumable: when its stream ends without End (the controller
// died) its commands go on and their outcomes are held, until a stream with
// Hello{run_id, resume} takes the session over and gets them all again
// (docs/experiments.md, "Runs survive a controller restart"), or until
// kDetachedKeep has passed (the next Hello then ends it). A session without
// run_id ends its commands when its stream ends, for any reason. A
// TimeProbe is answered at once from the reactor (the controller's clock
// offset estimate).
//
// Thread-safe. The service does not own the runner; a session's state lives
// until its last command thread has reported.
#ifndef EMU_AGENT_BARRIER_BARRIER_SESSION_H_
#define EMU_AGENT_BARRIER_BARRIER_SESSION_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/guest/guest_manager.h"
#include "agent/node/node_sandbox.h"
#include "common/clock.h"
#include "common/process_launcher.h"
#include "common/thread_set.h"
#include "proto/barrier.grpc.pb.h"

namespace emu::agent::barrier {

// Runs one Task command somewhere on this host, exec'ing it at `start_at`
// (ProcessSpec::start_at: the process is prepared before the instant).
// `on_started` gets the command's pid (its process group) once it runs.
class TaskCommandRunner {
 public:
  virtual ~TaskCommandRunner() = default;
  // A process ready to run a later command of `node` (ProcessLauncher::
  // Prepare, in the node's namespaces); nullptr when the node's commands
  // are not host processes (a guest's).
  virtual absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const std::string& lab, const std::string& node) = 0;
  // `executor`: from Prepare for the command's node, or null (the process
  // is then created here, before the instant). `cancelled`: true once the
  // command's Task or run was cancelled, for commands without a host pid
  // to kill (a guest's: interrupted through its console at once).
  virtual absl::StatusOr<ProcessResult> Run(
      const std::string& lab, const emu::v1::TaskCommand& command,
      absl::Time start_at, std::function<void(pid_t)> on_started,
      std::unique_ptr<PreparedProcess> executor,
      std::function<bool()> cancelled) = 0;
};

// Runs commands where AgentService.Exec would: inside the node's network
// namespace (emu.<host>.<lab>.<node>), or, for a QEMU guest, through the
// guest's console at the start instant. A guest command has no host pid:
// a cancel interrupts it through the console (Ctrl-C, then its process
// group killed inside the guest), within ShellSession::kCancelPoll.
class NetnsTaskCommandRunner : public TaskCommandRunner {
 public:
  // `guests` may be null (no guest support); `clock` (null: the real one)
  // times a guest command's start; `sandbox` (null: none) is the netns
  // nodes' (node_sandbox.h), whose commands then run in it.
  NetnsTaskCommandRunner(std::string host, ProcessLauncher* launcher,
                         guest::GuestManager* guests = nullptr,
                         Clock* clock = nullptr,
                         node::NodeSandbox* sandbox = nullptr)
      : host_(std::move(host)),
        launcher_(launcher),
        guests_(guests),
        clock_(clock != nullptr ? clock : RealClock::Get()),
        sandbox_(sandbox) {}
  absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const std::string& lab, const std::string& node) override;
  absl::StatusOr<ProcessResult> Run(
      const std::string& lab, const emu::v1::TaskCommand& command,
      absl::Time start_at, std::function<void(pid_t)> on_started,
      std::unique_ptr<PreparedProcess> executor,
      std::function<bool()> cancelled) override;

 private:
  absl::StatusOr<ProcessResult> RunInGuest(const std::string& lab,
                                           const emu::v1::TaskCommand& command,
                                           absl::Time start_at,
                                           std::function<bool()> cancelled);

  const std::string host_;
  ProcessLauncher* const launcher_;
  // Sets `spec` to run in `node`'s namespace and sandbox.
  absl::Status EnterNode(const std::string& lab, const std::string& node,
                         ProcessSpec* spec);

  guest::GuestManager* const guests_;
  Clock* const clock_;
  node::NodeSandbox* const sandbox_;
};

// Runs commands in the agent's own namespace, whatever the node: for the
// barrier benchmark and tests, never in emu-agent.
class HostTaskCommandRunner : public TaskCommandRunner {
 public:
  explicit HostTaskCommandRunner(ProcessLauncher* launcher)
      : launcher_(launcher) {}
  absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const std::string& lab, const std::string& node) override;
  absl::StatusOr<ProcessResult> Run(
      const std::string& lab, const emu::v1::TaskCommand& command,
      absl::Time start_at, std::function<void(pid_t)> on_started,
      std::unique_ptr<PreparedProcess> executor,
      std::function<bool()> cancelled) override;

 private:
  ProcessLauncher* const launcher_;
};

class SessionRegistry;

class BarrierAgentServiceImpl final
    : public emu::v1::BarrierAgentService::CallbackService {
 public:
  // `token`: required bearer token (empty = none). `runner` must outlive
  // every session.
  // `clock_offset`: for tests only (emu-agent --test_clock_offset): this
  // agent behaves as if its clock were that far ahead of the real one
  // (its time replies, the instants it is given, the times it reports).
  BarrierAgentServiceImpl(std::string host, std::string token,
                          TaskCommandRunner* runner,
                          absl::Duration clock_offset = absl::ZeroDuration());
  // Shut the server down first. This kills the commands of every session
  // (those kept for a controller that may come back too) and joins the
  // sessions' command threads: they still call into `runner` (a guest
  // command ends when its console interrupt reaches it).
  ~BarrierAgentServiceImpl() override;

  grpc::ServerBidiReactor<emu::v1::BarrierToAgent, emu::v1::AgentToBarrier>*
  Session(grpc::CallbackServerContext* context) override;

  // How long a resumable run's session is kept after its stream ended
  // without End (its controller died): its commands run on, their outcomes
  // are held for the controller's return. Afterwards the session is ended
  // (commands killed, outcomes dropped) at the next Hello.
  static constexpr absl::Duration kDetachedKeep = absl::Hours(1);

 private:
  const std::string host_;
  const std::string token_;
  TaskCommandRunner* const runner_;
  const absl::Duration clock_offset_;
  // The command threads of every session.
  ThreadSet threads_;
  std::unique_ptr<SessionRegistry> registry_;
};

}  // namespace emu::agent::barrier

#endif  // EMU_AGENT_BARRIER_BARRIER_SESSION_H_
