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
#include "common/status_macros.h"

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

}  // namespace

namespace session_internal {

using emu::v1::AgentToBarrier;
using emu::v1::BarrierToAgent;
using Reactor = grpc::ServerBidiReactor<BarrierToAgent, AgentToBarrier>;

// The writes of one stream, in order, one in flight at a time. Shared by
// the reactor and the session attached to it; nothing is written once the
// stream has finished.
class StreamWriter {
 public:
  explicit StreamWriter(Reactor* reactor) : reactor_(reactor) {}

  // Queues `msg`; dropped once the stream is ending.
  void Push(AgentToBarrier msg) {
    bool start = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || reads_done_) return;
      queue_.push_back(std::move(msg));
      if (!writing_) {
        writing_ = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
        start = true;
      }
    }
    if (start) reactor_->StartWrite(&current_);
  }

  void WriteDone(bool ok) {
    bool start = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) queue_.clear();
      if (!queue_.empty() && !reads_done_) {
        writing_ = true;
        current_ = std::move(queue_.front());
        queue_.pop_front();
        start = true;
      } else if (reads_done_ && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    if (start) reactor_->StartWrite(&current_);
    if (finish) reactor_->Finish(grpc::Status::OK);
  }

  // The controller closed its side or went away: finish once no write is
  // in flight. Idempotent.
  void ReadsDone() {
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
  Reactor* const reactor_;  // not used once finished_
  absl::Mutex mu_;
  std::deque<AgentToBarrier> queue_ ABSL_GUARDED_BY(mu_);
  AgentToBarrier current_;  // owned by the write in flight
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// One run's state on this host: its executors, its commands (running, and
// the outcomes not yet acknowledged), and the stream it reports on, if any.
// Shared by the reactor of that stream, its command threads and (for a
// resumable run) the service's registry, so that a command ending after
// the stream is gone finds it still alive and its outcome is kept.
class SessionState {
 public:
  // `threads` (the service's) outlives every command thread it starts.
  // `resumable`: the Hello named a run (its stream may end without End).
  SessionState(std::string host, TaskCommandRunner* runner, ThreadSet* threads,
               absl::Duration clock_offset, std::string run_id, bool resumable)
      : host_(std::move(host)),
        runner_(runner),
        threads_(threads),
        clock_offset_(clock_offset),
        run_id_(std::move(run_id)),
        resumable_(resumable) {}

  bool resumable() const { return resumable_; }

  // This agent's clock (the real one, shifted in tests).
  absl::Time Now() const { return absl::Now() + clock_offset_; }

  void SetLab(const BarrierToAgent::Hello& hello) {
    std::shared_ptr<ExecutorPool> pool;
    {
      absl::MutexLock lock(&mu_);
      if (pool_ != nullptr || killed_all_) return;  // one Hello per session
      lab_ = hello.lab();
      Log("barrier session: lab ", lab_, ", experiment ", hello.experiment(),
          run_id_.empty() ? "" : absl::StrCat(", run ", run_id_), ", ", hello.nodes_size(),
          " nodes on this host");
      pool_ = std::make_shared<ExecutorPool>(
          [runner = runner_, lab = lab_](const std::string& node) {
            return runner->Prepare(lab, node);
          },
          threads_, kExecutorDepth);
      pool = pool_;
    }
    pool->Warm({hello.nodes().begin(), hello.nodes().end()});
    // The first Release must find them ready: a node's first executor may
    // have to start its sandbox's holder (tens of ms, hundreds on a loaded
    // host), and a command that waits for it starts late. The stream reads
    // nothing more until then, so the controller's clock probes, which it
    // answers before it releases the first Task, wait too.
    const absl::Time start = absl::Now();
    if (!pool->AwaitWarm(kWarmWait)) {
      Log("barrier session: executors of lab ", hello.lab(), " not ready after ",
          absl::FormatDuration(kWarmWait), "; the first Task may start late");
    } else if (absl::Now() - start > absl::Milliseconds(50)) {
      Log("barrier session: executors of lab ", hello.lab(), " ready in ",
          absl::FormatDuration(absl::Now() - start));
    }
  }

  // The session found no run to resume (this agent restarted, or dropped
  // the run): a resent Release's commands are answered with an error.
  void MarkOrphan() {
    absl::MutexLock lock(&mu_);
    orphan_ = true;
  }

  // Reports go to `writer` from now on; with `resend`, every outcome held
  // is sent again (a restarted controller takes the run up).
  void Attach(std::shared_ptr<StreamWriter> writer, bool resend) {
    std::vector<AgentToBarrier> again;
    {
      absl::MutexLock lock(&mu_);
      writer_ = writer;
      detached_ = false;
      if (resend) {
        for (const auto& [key, msg] : retained_) again.push_back(msg);
      }
    }
    if (!again.empty()) {
      Log("barrier session: run ", run_id_, " resumed: sending ", again.size(),
          " outcomes again");
    }
    for (auto& msg : again) writer->Push(std::move(msg));
  }

  // `writer`'s stream ended without End: keep running, hold the outcomes.
  // A no-op when another stream has taken the session over.
  void Detach(const StreamWriter* writer) {
    absl::MutexLock lock(&mu_);
    if (writer_.get() != writer) return;
    writer_ = nullptr;
    detached_ = true;
    detached_at_ = absl::Now();
    Log("barrier session: run ", run_id_,
        ": the controller's stream ended without End; its ", pids_.size(),
        " running commands go on, their outcomes are kept");
  }

  // True when detached for longer than `keep`.
  bool DetachedLongerThan(absl::Duration keep) {
    absl::MutexLock lock(&mu_);
    return detached_ && absl::Now() - detached_at_ > keep;
  }

  void Release(const BarrierToAgent::Release& release,
               std::shared_ptr<SessionState> self) {
    const int64_t received = absl::ToUnixMicros(Now());
    std::string lab;
    std::shared_ptr<ExecutorPool> pool;
    std::vector<emu::v1::TaskCommand> start, refuse;
    {
      absl::MutexLock lock(&mu_);
      lab = lab_;
      pool = pool_;
      // A Release of generation G acknowledges the outcomes of every
      // generation below G: the controller has recorded them.
      for (auto it = retained_.begin(); it != retained_.end();) {
        it = it->first.first < release.generation() ? retained_.erase(it)
                                                    : std::next(it);
      }
      for (auto it = known_.begin(); it != known_.end();) {
        it = it->first < release.generation() ? known_.erase(it)
                                              : std::next(it);
      }
      for (const auto& command : release.commands()) {
        const auto key = std::make_pair(release.generation(), command.id());
        if (release.resent() && orphan_) {
          refuse.push_back(command);
        } else if (known_.insert(key).second) {
          start.push_back(command);
        }
        // else: resent, and this session has it (running or reported).
      }
    }
    for (const auto& command : refuse) {
      AgentToBarrier msg;
      auto* done = msg.mutable_done();
      done->set_generation(release.generation());
      done->set_command_id(command.id());
      done->set_received_unix_us(received);
      done->set_error(absl::StrCat(
          "host ", host_, ": the agent has no record of run ", run_id_,
          " (it restarted while the controller was down, or dropped the run "
          "after ", absl::FormatDuration(BarrierAgentServiceImpl::kDetachedKeep),
          "): command ", command.id(), "'s process and outcome are gone"));
      Report(std::move(msg));
    }
    for (const auto& command : start) {
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

 private:
  // How long a command waits for its node's executor being prepared (a
  // fork, a few ms) rather than creating a second process.
  static constexpr absl::Duration kExecutorWait = absl::Seconds(2);
  // How long a Hello waits for the session's first executors: below the
  // controller's clock-probe deadline (ExperimentRunner::kClockDeadline,
  // 2 s), so its probes are still answered in time.
  static constexpr absl::Duration kWarmWait = absl::Milliseconds(1500);
  // Ready executors per node. Two would spare a Task released right after
  // a short one the wait for the refill fork, but measured
  // (bench/barrier_bench, 16 agents, same load, back to back) the second
  // fork per node raised the start skew p50 from 0.6 ms to 100-190 ms on
  // these 2-core machines: one it is (docs/experiments.md).
  static constexpr int kExecutorDepth = 1;

  // A command's outcome: held until acknowledged (resumable runs), and
  // sent on the current stream if there is one.
  void Report(AgentToBarrier msg) {
    std::shared_ptr<StreamWriter> writer;
    {
      absl::MutexLock lock(&mu_);
      if (resumable_ && msg.has_done()) {
        retained_[{msg.done().generation(), msg.done().command_id()}] = msg;
      }
      writer = writer_;
    }
    if (writer != nullptr) writer->Push(std::move(msg));
  }

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
          std::move(executor),
          [this, generation] {
            absl::MutexLock lock(&mu_);
            return killed_all_ || killed_.count(generation) > 0;
          });
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
    Report(std::move(msg));
  }

  const std::string host_;
  TaskCommandRunner* const runner_;
  ThreadSet* const threads_;
  const absl::Duration clock_offset_;
  const std::string run_id_;
  const bool resumable_;

  absl::Mutex mu_;
  std::string lab_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<ExecutorPool> pool_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<uint64_t, std::string>, pid_t> pids_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> killed_ ABSL_GUARDED_BY(mu_);
  bool killed_all_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<StreamWriter> writer_ ABSL_GUARDED_BY(mu_);
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time detached_at_ ABSL_GUARDED_BY(mu_);
  bool orphan_ ABSL_GUARDED_BY(mu_) = false;
  // Commands given (running or reported), and the outcomes not yet
  // acknowledged, by (generation, command id).
  std::set<std::pair<uint64_t, std::string>> known_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<uint64_t, std::string>, AgentToBarrier> retained_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace session_internal

using session_internal::Reactor;
using session_internal::SessionState;
using session_internal::StreamWriter;

// The sessions of resumable runs, by lab and run id: they outlive their
// streams (a controller restart) until End, kDetachedKeep after their
// stream ended, or the service's end.
class SessionRegistry {
 public:
  SessionRegistry(std::string host, TaskCommandRunner* runner,
                  ThreadSet* threads, absl::Duration clock_offset)
      : host_(std::move(host)),
        runner_(runner),
        threads_(threads),
        clock_offset_(clock_offset) {}

  // The session a Hello opens, attached to `writer`: a resumable run's
  // existing session when the Hello resumes it, else a new one.
  std::shared_ptr<SessionState> Open(const BarrierToAgent::Hello& hello,
                                     std::shared_ptr<StreamWriter> writer) {
    Sweep();
    if (hello.run_id().empty()) {
      auto s = std::make_shared<SessionState>(host_, runner_, threads_,
                                              clock_offset_, "", false);
      s->SetLab(hello);
      s->Attach(std::move(writer), false);
      return s;
    }
    const std::string key = absl::StrCat(hello.lab(), "\n", hello.run_id());
    std::shared_ptr<SessionState> s, replaced;
    bool resumed = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(key);
      if (it != sessions_.end() && hello.resume()) {
        s = it->second;
        resumed = true;
      } else {
        if (it != sessions_.end()) replaced = it->second;
        s = std::make_shared<SessionState>(host_, runner_, threads_,
                                           clock_offset_, hello.run_id(), true);
        sessions_[key] = s;
      }
    }
    if (replaced != nullptr) replaced->Kill(0);
    if (hello.resume() && !resumed) {
      Log("barrier session: run ", hello.run_id(),
          " to resume is unknown here (this agent restarted?)");
      s->MarkOrphan();
    }
    s->SetLab(hello);  // once per session: a resumed one keeps its own
    s->Attach(std::move(writer), resumed);
    return s;
  }

  // The run ended (End): forget it.
  void Forget(const std::shared_ptr<SessionState>& s) {
    absl::MutexLock lock(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second == s) {
        sessions_.erase(it);
        return;
      }
    }
  }

  // Ends every session (the service is going away).
  void KillAll() {
    std::map<std::string, std::shared_ptr<SessionState>> all;
    {
      absl::MutexLock lock(&mu_);
      all.swap(sessions_);
    }
    for (auto& [key, s] : all) s->Kill(0);
  }

 private:
  // Drops the sessions detached for longer than kDetachedKeep.
  void Sweep() {
    std::vector<std::shared_ptr<SessionState>> old;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second->DetachedLongerThan(
                BarrierAgentServiceImpl::kDetachedKeep)) {
          old.push_back(it->second);
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : old) s->Kill(0);
  }

  const std::string host_;
  TaskCommandRunner* const runner_;
  ThreadSet* const threads_;
  const absl::Duration clock_offset_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SessionState>> sessions_
      ABSL_GUARDED_BY(mu_);
};

namespace {

class SessionReactor : public Reactor {
 public:
  SessionReactor(grpc::CallbackServerContext* context, const std::string& token,
                 SessionRegistry* registry, absl::Duration clock_offset)
      : registry_(registry),
        clock_offset_(clock_offset),
        writer_(std::make_shared<StreamWriter>(this)) {
    grpc::Status auth = CheckAuthToken(*context, token);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    const absl::Time received = absl::Now() + clock_offset_;
    if (!ok) {
      StreamEnded();
      writer_->ReadsDone();
      return;
    }
    switch (in_.msg_case()) {
      case BarrierToAgent::kProbe: {
        AgentToBarrier msg;
        auto* t = msg.mutable_time();
        t->set_seq(in_.probe().seq());
        t->set_probe_sent_unix_us(in_.probe().sent_unix_us());
        t->set_received_unix_us(absl::ToUnixMicros(received));
        t->set_sent_unix_us(absl::ToUnixMicros(absl::Now() + clock_offset_));
        writer_->Push(std::move(msg));
        break;
      }
      case BarrierToAgent::kHello: {
        std::shared_ptr<SessionState> s;
        {
          absl::MutexLock lock(&mu_);
          if (session_ != nullptr || ended_) break;
        }
        s = registry_->Open(in_.hello(), writer_);
        absl::MutexLock lock(&mu_);
        session_ = s;
        break;
      }
      case BarrierToAgent::kRelease:
        if (auto s = session(); s != nullptr) s->Release(in_.release(), s);
        break;
      case BarrierToAgent::kCancel:
        if (auto s = session(); s != nullptr) s->Kill(in_.cancel().generation());
        break;
      case BarrierToAgent::kEnd:
        // The run is over: end what is left, forget it.
        if (auto s = session(); s != nullptr) {
          {
            absl::MutexLock lock(&mu_);
            got_end_ = true;
          }
          s->Kill(0);
          registry_->Forget(s);
        }
        break;
      default:
        break;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { writer_->WriteDone(ok); }

  void OnCancel() override { StreamEnded(); }

  void OnDone() override {
    StreamEnded();
    delete this;
  }

 private:
  std::shared_ptr<SessionState> session() {
    absl::MutexLock lock(&mu_);
    return session_;
  }

  // The stream ended (idempotent): a resumable run's session is detached
  // and goes on, unless End came; any other is ended.
  void StreamEnded() {
    std::shared_ptr<SessionState> s;
    bool got_end;
    {
      absl::MutexLock lock(&mu_);
      if (ended_) return;
      ended_ = true;
      s = session_;
      got_end = got_end_;
    }
    if (s == nullptr) return;
    if (s->resumable() && !got_end) {
      s->Detach(writer_.get());
    } else {
      s->Kill(0);
    }
  }

  SessionRegistry* const registry_;
  const absl::Duration clock_offset_;
  const std::shared_ptr<StreamWriter> writer_;
  BarrierToAgent in_;
  absl::Mutex mu_;
  std::shared_ptr<SessionState> session_ ABSL_GUARDED_BY(mu_);
  bool got_end_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
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
  EMU_RETURN_IF_ERROR(EnterNode(lab, node, &where));
  return launcher_->Prepare(where);
}

absl::Status NetnsTaskCommandRunner::EnterNode(const std::string& lab,
                                               const std::string& node,
                                               ProcessSpec* spec) {
  spec->netns = net::NamespaceName(host_, lab, node);
  if (sandbox_ == nullptr) return absl::OkStatus();
  absl::StatusOr<pid_t> holder = sandbox_->Ensure(spec->netns);
  if (!holder.ok()) {
    // The node itself may be missing: the same answer as without a sandbox.
    return Annotate(holder.status(), absl::StrCat("node ", node, " of lab ", lab));
  }
  spec->sandbox_holder = *holder;
  spec->sandbox_caps = node::NodeCapabilities();
  return absl::OkStatus();
}

absl::StatusOr<ProcessResult> NetnsTaskCommandRunner::Run(
    const std::string& lab, const emu::v1::TaskCommand& command,
    absl::Time start_at, std::function<void(pid_t)> on_started,
    std::unique_ptr<PreparedProcess> executor,
    std::function<bool()> cancelled) {
  if (!emu::IsValidLabKey(lab) || !net::IsValidName(command.node())) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": bad lab or node name"));
  }
  if (command.argv().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": empty command"));
  }
  if (guests_ != nullptr && guests_->Has(lab, command.node())) {
    return RunInGuest(lab, command, start_at, std::move(cancelled));
  }
  ProcessSpec spec = SpecFor(command, start_at, std::move(on_started));
  if (executor == nullptr) {
    EMU_RETURN_IF_ERROR(EnterNode(lab, command.node(), &spec));
  }
  auto result = executor != nullptr ? executor->Run(spec) : launcher_->Run(spec);
  if (!result.ok() && absl::IsNotFound(result.status())) {
    return absl::NotFoundError(absl::StrCat("node ", command.node(), " of lab ",
                                            lab, " is not on host ", host_));
  }
  return result;
}

absl::StatusOr<ProcessResult> NetnsTaskCommandRunner::RunInGuest(
    const std::string& lab, const emu::v1::TaskCommand& command,
    absl::Time start_at, std::function<bool()> cancelled) {
  emu::v1::ExecRequest req;
  req.set_lab(lab);
  req.set_node(command.node());
  *req.mutable_argv() = command.argv();
  req.set_timeout_ms(command.timeout_ms());
  clock_->SleepUntil(start_at);
  auto resp = guests_->Exec(req, std::move(cancelled));
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
    std::unique_ptr<PreparedProcess> executor,
    std::function<bool()> cancelled) {
  (void)lab;
  (void)cancelled;  // its process group is killed
  if (command.argv().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("command ", command.id(), ": empty command"));
  }
  ProcessSpec spec = SpecFor(command, start_at, std::move(on_started));
  return executor != nullptr ? executor->Run(spec) : launcher_->Run(spec);
}

BarrierAgentServiceImpl::BarrierAgentServiceImpl(std::string host,
                                                 std::string token,
                                                 TaskCommandRunner* runner,
                                                 absl::Duration clock_offset)
    : host_(std::move(host)),
      token_(std::move(token)),
      runner_(runner),
      clock_offset_(clock_offset),
      registry_(std::make_unique<SessionRegistry>(host_, runner_, &threads_,
                                                  clock_offset_)) {}

grpc::ServerBidiReactor<emu::v1::BarrierToAgent, emu::v1::AgentToBarrier>*
BarrierAgentServiceImpl::Session(grpc::CallbackServerContext* context) {
  return new SessionReactor(context, token_, registry_.get(), clock_offset_);
}

BarrierAgentServiceImpl::~BarrierAgentServiceImpl() {
  // Runs kept for a controller that may come back end with the agent.
  registry_->KillAll();
  if (!threads_.WaitIdle(absl::Now() + absl::Seconds(10))) {
    Log("barrier: ", threads_.running(),
        " command threads still running at shutdown; waiting for them");
  }
  threads_.JoinAll();
}

}  // namespace emu::agent::barrier
