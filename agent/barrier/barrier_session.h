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
// Cancel, or the end of the stream for any reason, kills the process groups
// of the session's commands still running. A TimeProbe is answered at once
// from the reactor (the controller's clock offset estimate).
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
  // is then created here, before the instant).
  virtual absl::StatusOr<ProcessResult> Run(
      const std::string& lab, const emu::v1::TaskCommand& command,
      absl::Time start_at, std::function<void(pid_t)> on_started,
      std::unique_ptr<PreparedProcess> executor) = 0;
};

// Runs commands where AgentService.Exec would: inside the node's network
// namespace (emu.<host>.<lab>.<node>), or, for a QEMU guest, through the
// guest's console at the start instant. A guest command has no host pid:
// cancelling it ends it at its timeout, not at once.
class NetnsTaskCommandRunner : public TaskCommandRunner {
 public:
  // `guests` may be null (no guest support); `clock` (null: the real one)
  // times a guest command's start.
  NetnsTaskCommandRunner(std::string host, ProcessLauncher* launcher,
                         guest::GuestManager* guests = nullptr,
                         Clock* clock = nullptr)
      : host_(std::move(host)),
        launcher_(launcher),
        guests_(guests),
        clock_(clock != nullptr ? clock : RealClock::Get()) {}
  absl::StatusOr<std::unique_ptr<PreparedProcess>> Prepare(
      const std::string& lab, const std::string& node) override;
  absl::StatusOr<ProcessResult> Run(
      const std::string& lab, const emu::v1::TaskCommand& command,
      absl::Time start_at, std::function<void(pid_t)> on_started,
      std::unique_ptr<PreparedProcess> executor) override;

 private:
  absl::StatusOr<ProcessResult> RunInGuest(const std::string& lab,
                                           const emu::v1::TaskCommand& command,
                                           absl::Time start_at);

  const std::string host_;
  ProcessLauncher* const launcher_;
  guest::GuestManager* const guests_;
  Clock* const clock_;
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
      std::unique_ptr<PreparedProcess> executor) override;

 private:
  ProcessLauncher* const launcher_;
};

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
                          absl::Duration clock_offset = absl::ZeroDuration())
      : host_(std::move(host)),
        token_(std::move(token)),
        runner_(runner),
        clock_offset_(clock_offset) {}
  // Shut the server down first (that ends every session and kills their
  // commands). Then this joins the sessions' command threads: they still
  // call into `runner` (a guest command, which has no pid to kill, ends at
  // its timeout).
  ~BarrierAgentServiceImpl() override;

  grpc::ServerBidiReactor<emu::v1::BarrierToAgent, emu::v1::AgentToBarrier>*
  Session(grpc::CallbackServerContext* context) override;

 private:
  const std::string host_;
  const std::string token_;
  TaskCommandRunner* const runner_;
  const absl::Duration clock_offset_;
  // The command threads of every session.
  ThreadSet threads_;
};

}  // namespace emu::agent::barrier

#endif  // EMU_AGENT_BARRIER_BARRIER_SESSION_H_
