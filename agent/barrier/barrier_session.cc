#include "agent/barrier/barrier_session.h"

#include <signal.h>

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/barrier/executor_pool.h"
#include "agent/net/resource_names.h"
#include "common/auth.h"
#include "common/log.h"

namespace emu::agent::barrier {
namespace {

using emu::v1::AgentToBarrier;
using emu::v1::BarrierToAgent;

ProcessSpec SpecFor(const emu::v1::TaskCommand& command, absl::Time start_at,
                    std::function<void(pid_t)> on_started) {
  ProcessSpec spec;
  spec.start_at = start_at;
  spec.argv.assign(command.argv().begin(), command.argv().end());
  spec.timeout = command.timeout_ms() > 0
                     ? absl::Milliseconds(command.timeout_ms())
                     : absl::Seconds(60);
  spec.on_started = std::move(on_started);
  return spec;
}

// One stream's state, shared by the reactor and its command threads, so
// that a command ending after the stream is gone finds it still alive.
class SessionState {
 public:
  using Reactor = grpc::ServerBidiReactor<BarrierToAgent, AgentToBarrier>;

  // `threads` (the service's) outlives every command thread it starts.
  SessionState(std::string host, TaskCommandRunner* runner, Reactor* reactor,
               ThreadSet* threads, absl::Duration clock_offset)
      : host_(std::move(host)),
        runner_(runner),
        reactor_(reactor),
        threads_(threads),
        clock_offset_(clock_offset) {}

  // This agent's clock (the real one, shifted in tests).
  absl::Time Now() const { return absl::Now() + clock_offset_; }

  void AnswerProbe(const BarrierToAgent::TimeProbe& probe,
                   absl::Time received) {
    AgentToBarrier msg;
    auto* t = msg.mutable_time();
    t->set_seq(probe.seq());
    t->set_probe_sent_unix_us(probe.sent_unix_us());
    t->set_received_unix_us(absl::ToUnixMicros(received));
    t->set_sent_unix_us(absl::ToUnixMicros(Now()));
    Push(std::move(msg));
  }

  void SetLab(const BarrierToAgent::Hello& hello) {
    std::shared_ptr<ExecutorPool> pool;
    {
      absl::MutexLock lock(&mu_);
      if (pool_ != nullptr || killed_all_) return;  // one Hello per session
      lab_ = hello.lab();
      Log("barrier session: lab ", lab_, ", experiment ", hello.experiment(),
          ", ", hello.nodes_size(), " nodes on this host");
      pool_ = std::make_shared<ExecutorPool>(
          [runner = runner_, lab = lab_](const std::string& node) {
            return runner->Prepare(lab, node);
          },
          threads_);
      pool = pool_;
    }
    pool->Warm({hello.nodes().begin(), hello.nodes().end()});
  }

  void Release(const BarrierToAgent::Release& release,
               std::shared_ptr<SessionState> self) {
    const int64_t received = absl::ToUnixMicros(Now());
    std::string lab;
    std::shared_ptr<ExecutorPool> pool;
    {
      absl::MutexLock lock(&mu_);
      lab = lab_;
      pool = pool_;
    }
    for (const auto& command : release.commands()) {
      threads_->Start([self, lab, pool, command, received,
                       generation = release.generation(),
                       // The instant in the real clock the processes use.
                       start = absl::FromUnixMicros(release.start_unix_us()) -
                               clock_offset_] {
        self->RunOne(lab, pool.get(), command, generation, start, received);
      });
    }
  }

  // Kills every command of `generation` (0 = every generation, and the
  // session's executors) and stops those not started yet.
  void Kill(uint64_t generation) {
    std::shared_ptr<ExecutorPool> pool;
    {
      absl::MutexLock lock(&mu_);
      if (generation == 0) {
        killed_all_ = true;
        pool = pool_;
      } else {
        killed_.insert(generation);
      }
      for (const auto& [key, pid] : pids_) {
        if (generation == 0 || key.first == generation) {
          kill(-pid, SIGKILL);
        }
      }
    }
    if (pool != nullptr) pool->Shutdown();
  }

  // ---- the stream's writes ----
  void Push(AgentToBarrier msg) {
    Reactor* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      queue_.push_back(std::move(msg));
      if (!writing_) {
        writing_ = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
        start = reactor_;
      }
    }
    if (start != nullptr) start->StartWrite(&current_);
  }

  void WriteDone(bool ok) {
    Reactor* start = nullptr;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        write_broken_ = true;
        queue_.clear();
      }
      if (!queue_.empty() && !reads_done_) {
        writing_ = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
        start = reactor_;
      } else if (reads_done_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (start != nullptr) start->StartWrite(&current_);
    if (finish) reactor_->Finish(grpc::Status::OK);
  }

  // The controller closed its side or went away: stop everything, finish
  // once no write is in flight.
  void ReadsDone() {
    Kill(0);
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      queue_.clear();
      if (!writing_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (finish) reactor_->Finish(grpc::Status::OK);
  }

 private:
  // How long a command waits for its node's executor being prepared (a
  // fork, a few ms) rather than creating a second process.
  static constexpr absl::Duration kExecutorWait = absl::Seconds(2);

  void RunOne(const std::string& lab, ExecutorPool* pool,
              const emu::v1::TaskCommand& command, uint64_t generation,
              absl::Time start, int64_t received) {
    AgentToBarrier msg;
    auto* done = msg.mutable_done();
    done->set_generation(generation);
    done->set_command_id(command.id());
    done->set_received_unix_us(received);
    const auto key = std::make_pair(generation, command.id());
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      cancelled = killed_all_ || killed_.count(generation);
    }
    if (cancelled) {
      done->set_error("cancelled before it started");
    } else {
      std::unique_ptr<PreparedProcess> executor =
          pool != nullptr ? pool->Take(command.node(), kExecutorWait) : nullptr;
      const std::string node = command.node();
      auto result = runner_->Run(
          lab, command, start,
          [this, key, pool, node](pid_t pid) {
            {
              absl::MutexLock lock(&mu_);
              pids_[key] = pid;
              // A cancel that came between the check above and the fork.
              if (killed_all_ || killed_.count(key.first)) kill(-pid, SIGKILL);
            }
            // The command has exec'd: fork the node's next executor while
            // it runs.
            if (pool != nullptr) pool->Refill(node);
          },
          std::move(executor));
      if (pool != nullptr) pool->Refill(node);
      if (!result.ok()) {
        done->set_error(
            absl::StrCat("host ", host_, ": ", result.status().message()));
      } else {
        auto* r = done->mutable_result();
        r->set_exit_code(result->exit_code);
        r->set_stdout(std::move(result->stdout_data));
        r->set_stderr(std::move(result->stderr_data));
        r->set_timed_out(result->timed_out);
        r->set_start_unix_us(absl::ToUnixMicros(result->start + clock_offset_));
        r->set_end_unix_us(absl::ToUnixMicros(result->end + clock_offset_));
        done->set_late_us(absl::ToInt64Microseconds(result->start_late));
      }
    }
    {
      absl::MutexLock lock(&mu_);
      pids_.erase(key);
    }
    Push(std::move(msg));
  }

  const std::string host_;
  TaskCommandRunner* const runner_;
  Reactor* const reactor_;  // not used once finished_
  ThreadSet* const threads_;
  const absl::Duration clock_offset_;

  absl::Mutex mu_;
  std::string lab_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ExecutorPool> pool_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<uint64_t, std::string>, pid_t> pids_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> killed_ ABSL_GUARDED_BY(mu_);
  bool killed_all_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<AgentToBarrier> queue_ ABSL_GUARDED_BY(mu_);
  AgentToBarrier current_;  // owned by the write in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_broken_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class SessionReactor
    : public grpc::ServerBidiReactor<BarrierToAgent, AgentToBarrier> {
 public:
  SessionReactor(grpc::CallbackServerContext* context, const std::string& host,
                 const std::string& token, TaskCommandRunner* runner,
                 ThreadSet* threads, absl::Duration clock_offset)
      : state_(std::make_shared<SessionState>(host, runner, this, threads,
                                              clock_offset)) {
    grpc::Status auth = CheckAuthToken(*context, token);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    const absl::Time received = state_->Now();
    if (!ok) {
      state_->ReadsDone();
      return;
    }
    switch (in_.msg_case()) {
      case BarrierToAgent::kProbe:
        state_->AnswerProbe(in_.probe(), received);
        break;
      case BarrierToAgent::kHello:
        state_->SetLab(in_.hello());
        break;
      case BarrierToAgent::kRelease:
        state_->Release(in_.release(), state_);
        break;
      case BarrierToAgent::kCancel:
        state_->Kill(in_.cancel().generation());
        break;
      default:
        break;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { state_->WriteDone(ok); }

  void OnCancel() override { state_->Kill(0); }

  void OnDone() override {
    state_->Kill(0);
    delete this;
  }

 private:
  std::shared_ptr<SessionState> state_;
  BarrierToAgent in_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedProcess>>
NetnsTaskCommandRunner::Prepare(const std::string& lab,
                                const std::string& node) {
  if (!emu::IsValidLabKey(lab) || !net::IsValidName(node)) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", node, ": bad lab or node name"));
  }
  if (guests_ != nullptr && guests_->Has(lab, node)) return nullptr;
  ProcessSpec where;
  where.netns = net::NamespaceName(host_, lab, node);
  return launcher_->Prepare(where);
}

absl::StatusOr<ProcessResult> NetnsTaskCommandRunner::Run(
    const std::string& lab, const emu::v1::TaskCommand& command,
    absl::Time start_at, std::function<void(pid_t)> on_started,
    std::unique_ptr<PreparedProcess> executor) {
  if (!emu::IsValidLabKey(lab) || !net::IsValidName(command.node())) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": bad lab or node name"));
  }
  if (command.argv().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": empty command"));
  }
  if (guests_ != nullptr && guests_->Has(lab, command.node())) {
    return RunInGuest(lab, command, start_at);
  }
  ProcessSpec spec = SpecFor(command, start_at, std::move(on_started));
  spec.netns = net::NamespaceName(host_, lab, command.node());
  auto result = executor != nullptr ? executor->Run(spec) : launcher_->Run(spec);
  if (!result.ok() && absl::IsNotFound(result.status())) {
    return absl::NotFoundError(absl::StrCat("node ", command.node(), " of lab ",
                                            lab, " is not on host ", host_));
  }
  return result;
}

absl::StatusOr<ProcessResult> NetnsTaskCommandRunner::RunInGuest(
    const std::string& lab, const emu::v1::TaskCommand& command,
    absl::Time start_at) {
  emu::v1::ExecRequest req;
  req.set_lab(lab);
  req.set_node(command.node());
  *req.mutable_argv() = command.argv();
  req.set_timeout_ms(command.timeout_ms());
  clock_->SleepUntil(start_at);
  auto resp = guests_->Exec(req);
  if (!resp.ok()) return resp.status();
  ProcessResult result;
  result.exit_code = resp->exit_code();
  result.stdout_data = resp->stdout();
  result.stderr_data = resp->stderr();
  result.timed_out = resp->timed_out();
  result.start = absl::FromUnixMicros(resp->start_unix_us());
  result.end = absl::FromUnixMicros(resp->end_unix_us());
  return result;
}

absl::StatusOr<std::unique_ptr<PreparedProcess>>
HostTaskCommandRunner::Prepare(const std::string& lab,
                               const std::string& node) {
  (void)lab;
  (void)node;
  return launcher_->Prepare(ProcessSpec{});
}

absl::StatusOr<ProcessResult> HostTaskCommandRunner::Run(
    const std::string& lab, const emu::v1::TaskCommand& command,
    absl::Time start_at, std::function<void(pid_t)> on_started,
    std::unique_ptr<PreparedProcess> executor) {
  (void)lab;
  if (command.argv().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": empty command"));
  }
  ProcessSpec spec = SpecFor(command, start_at, std::move(on_started));
  return executor != nullptr ? executor->Run(spec) : launcher_->Run(spec);
}

grpc::ServerBidiReactor<emu::v1::BarrierToAgent, emu::v1::AgentToBarrier>*
BarrierAgentServiceImpl::Session(grpc::CallbackServerContext* context) {
  return new SessionReactor(context, host_, token_, runner_, &threads_,
                            clock_offset_);
}

BarrierAgentServiceImpl::~BarrierAgentServiceImpl() {
  if (!threads_.WaitIdle(absl::Now() + absl::Seconds(10))) {
    Log("barrier: ", threads_.running(),
        " command threads still running at shutdown; waiting for them");
  }
  threads_.JoinAll();
}

}  // namespace emu::agent::barrier
