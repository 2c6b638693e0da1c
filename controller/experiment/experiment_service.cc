#include "controller/experiment/experiment_service.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "controller/users/lab_access.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/reactors.h"
#include "common/status_macros.h"
#include "controller/experiment/experiment_runner.h"
#include "controller/experiment/experiment_spec.h"
#include "proto/request_names.h"

namespace emu::controller::experiment {
namespace {

// The stream of a RunExperiment or WatchExperimentRun call: it follows a
// run's RunProgress to RUN_ENDED. Cancelling the call (the client went away
// or detached) stops following; the run goes on, except a RunExperiment
// cancelled before its run started following, whose run is cancelled
// (nobody could know its id to stop it later).
//
// Completed exactly once: by its owner before Follow (a refused call), on
// RUN_ENDED, or when the call is cancelled while following. Nothing touches
// the reactor after that.
class FollowReactor : public QueuedWriteReactor<emu::v1::ExperimentEvent> {
 public:
  // For RunExperiment, before Follow: the run that a cancel before Follow
  // cancels.
  void SetRunner(std::shared_ptr<ExperimentRunner> runner) {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      runner_ = runner;
      cancelled = cancelled_;
    }
    if (cancelled) runner->Cancel("the client cancelled the run");
  }

  // Sends every event of `progress` so far, then the live ones, and
  // completes the call OK after RUN_ENDED. The caller must not touch the
  // reactor after this.
  void Follow(std::shared_ptr<RunProgress> progress) {
    const uint64_t id =
        progress->Watch([this](const emu::v1::ExperimentEvent& e) {
          Push(e);
          if (e.kind() != emu::v1::ExperimentEvent::RUN_ENDED) return;
          {
            absl::MutexLock lock(&mu_);
            ended_ = true;
            if (!following_) return;  // Follow completes the call
          }
          CompleteOnce(grpc::Status::OK);
        });
    bool ended, cancelled;
    {
      absl::MutexLock lock(&mu_);
      progress_ = std::move(progress);
      watch_id_ = id;
      following_ = true;
      ended = ended_;
      cancelled = cancelled_;
    }
    if (ended) {
      CompleteOnce(grpc::Status::OK);
    } else if (cancelled) {
      StopFollowing();
    }
  }

  // Ends a call refused before Follow.
  void Refuse(grpc::Status status) { CompleteOnce(std::move(status)); }

  void OnCancel() override {
    std::shared_ptr<ExperimentRunner> unstarted;
    bool following;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      following = following_;
      if (!following) unstarted = runner_;
    }
    if (unstarted) {
      unstarted->Cancel("the client cancelled the run before it started");
    }
    if (following) StopFollowing();
  }

 private:
  void StopFollowing() {
    std::shared_ptr<RunProgress> progress;
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      progress = progress_;
      id = watch_id_;
    }
    progress->Unwatch(id);
    CompleteOnce(grpc::Status(grpc::StatusCode::CANCELLED,
                              "stopped following the run; it goes on"));
  }

  void CompleteOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (completed_) return;
      completed_ = true;
    }
    Complete(std::move(status));
  }

  absl::Mutex mu_;
  std::shared_ptr<ExperimentRunner> runner_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<RunProgress> progress_ ABSL_GUARDED_BY(mu_);
  uint64_t watch_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool following_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool completed_ ABSL_GUARDED_BY(mu_) = false;
};

// RUN_ENDED for a run known only from its record.
emu::v1::ExperimentEvent EndedFromRecord(
    const emu::v1::ExperimentRunSummary& r) {
  emu::v1::ExperimentEvent e;
  e.set_kind(emu::v1::ExperimentEvent::RUN_ENDED);
  e.set_time_unix_us(r.end_unix_us());
  emu::v1::RunResult* run = e.mutable_run();
  run->set_id(r.id());
  run->set_lab(r.lab());
  run->set_experiment(r.experiment());
  run->set_state(r.state());
  run->set_error(r.error());
  run->set_start_unix_us(r.start_unix_us());
  run->set_end_unix_us(r.end_unix_us());
  e.set_message(absl::StrCat(
      "run ", r.id(), " ", emu::v1::RunState_Name(r.state()),
      r.error().empty() ? "" : ": ", r.error(),
      " (from the controller's record; its Tasks are no longer held)"));
  return e;
}

class RegistryLinkApplier : public LinkApplier {
 public:
  explicit RegistryLinkApplier(hosts::HostRegistry* hosts) : hosts_(hosts) {}
  absl::Status SetLinkParams(
      const std::string& host,
      const emu::v1::SetLinkParamsRequest& req) override {
    auto client = hosts_->Client(host);
    if (!client.ok()) return client.status();
    return (*client)->SetLinkParams(req);
  }
  // Through the node's own `ip`, like a command of the Task would.
  absl::Status SetInterfaceUp(const std::string& host, const std::string& lab,
                              const std::string& node,
                              const std::string& interface, bool up) override {
    auto client = hosts_->Client(host);
    if (!client.ok()) return client.status();
    emu::v1::ExecRequest req;
    req.set_lab(lab);
    req.set_node(node);
    for (const char* a : {"ip", "link", "set", "dev"}) req.add_argv(a);
    req.add_argv(interface);
    req.add_argv(up ? "up" : "down");
    req.set_timeout_ms(10000);
    auto res = (*client)->Exec(req);
    if (!res.ok()) return res.status();
    if (res->exit_code() != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("ip link set ", interface, up ? " up" : " down",
                       ": exit ", res->exit_code(), ": ", res->stderr()));
    }
    return absl::OkStatus();
  }

 private:
  hosts::HostRegistry* const hosts_;
};

// Identifies the caller of a streamed call; false, with `reactor` refused
// (UNAUTHENTICATED), when the call may not go on.
bool Authenticated(const users::UserDirectory& users,
                   const grpc::CallbackServerContext& context,
                   FollowReactor* reactor, Caller* caller) {
  grpc::Status auth = users.Authenticate(context, caller);
  if (!auth.ok()) reactor->Refuse(auth);
  return auth.ok();
}

}  // namespace

ExperimentServiceImpl::ExperimentServiceImpl(lab::LabManager* labs,
                                             hosts::HostRegistry* hosts,
                                             ExperimentStore* store,
                                             users::UserDirectory* users,
                                             std::string token,
                                             const TransportSecurity& transport,
                                             ThreadPool* pool)
    : labs_(labs),
      hosts_(hosts),
      store_(store),
      users_(users),
      token_(token),
      pool_(pool),
      link_factory_(std::move(token), transport),
      link_applier_(std::make_unique<RegistryLinkApplier>(hosts)) {}

ExperimentServiceImpl::~ExperimentServiceImpl() { Shutdown(); }

void ExperimentServiceImpl::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (const auto& [id, r] : runs_) {
      // (null: a run being resumed; it sees stopping_.)
      if (r.runner != nullptr) r.runner->Cancel("the controller is stopping");
    }
  }
  // A cancelled run ends within the runner's close bound (it aborts streams
  // that do not close in time), so this join is bounded too.
  run_threads_.JoinAll();
}

grpc::ServerWriteReactor<emu::v1::ExperimentEvent>*
ExperimentServiceImpl::RunExperiment(
    grpc::CallbackServerContext* context,
    const emu::v1::RunExperimentRequest* request) {
  auto* reactor = new FollowReactor();
  Caller caller;
  if (!Authenticated(*users_, *context, reactor, &caller)) return reactor;
  if (absl::Status n = request_names::controller::Check(*request); !n.ok()) {
    reactor->Refuse(ToGrpcStatus(n));
    return reactor;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      reactor->Refuse(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the controller is stopping"));
      return reactor;
    }
  }
  run_threads_.Start([this, reactor, caller, req = *request] {
    // OK once the reactor follows the run (and must not be touched).
    grpc::Status status = [&]() -> grpc::Status {
      auto ref = users_->Authorize(caller, req.lab(), users::Verb::kRun);
      if (!ref.ok()) return ToGrpcStatus(ref.status());
      const std::string file =
          req.file_name().empty() ? "experiment" : req.file_name();
      auto spec = ParseExperiment(file, req.content());
      if (!spec.ok()) return ToGrpcStatus(spec.status());
      auto lab = labs_->Get(ref->key);
      if (!lab.ok()) {
        return ToGrpcStatus(users::InCallerTerms(lab.status(), *ref));
      }
      if (lab->state() != emu::v1::RUNNING) {
        return grpc::Status(
            grpc::StatusCode::FAILED_PRECONDITION,
            absl::StrCat("lab ", req.lab(), " is ",
                         emu::v1::LabState_Name(lab->state()),
                         ", not RUNNING: experiments run on a deployed lab"));
      }
      std::map<std::string, std::string> addresses;
      for (const auto& h : hosts_->Snapshot())
        addresses[h.name()] = h.address();
      uint64_t first_generation = 0;
      if (store_ != nullptr) {
        auto g = store_->MaxGeneration();
        if (!g.ok()) return ToGrpcStatus(g.status());
        first_generation = *g;
      }
      std::string run_id;
      {
        absl::MutexLock lock(&mu_);
        run_id = absl::StrCat(
            ref->key, "-",
            absl::FormatTime("%Y%m%dT%H%M%S", absl::Now(), absl::UTCTimeZone()),
            "-", ++next_run_);
      }
      std::map<std::string, std::string> params(req.params().begin(),
                                                req.params().end());
      RunnerDeps deps{&clock_, &link_factory_, link_applier_.get(), store_};
      deps.lab_counters = [labs = labs_, key = ref->key] {
        return labs->Stats(key);
      };
      auto runner = std::make_shared<ExperimentRunner>(
          run_id, *std::move(spec), *std::move(lab), std::move(addresses),
          std::move(params), first_generation, deps);
      runner->EnableCheckpoints({ref->key, file, req.content()});
      auto progress = std::make_shared<RunProgress>();
      {
        absl::MutexLock lock(&mu_);
        // Shutdown cancelled the runs it saw; this one came after.
        if (stopping_) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the controller is stopping");
        }
        runs_[run_id] = {runner, progress, ref->key};
      }
      reactor->SetRunner(runner);
      reactor->Follow(progress);
      Log("experiment run ", run_id, " started");
      Drive(run_id, ref->key, runner, progress);
      return grpc::Status::OK;
    }();
    if (!status.ok()) reactor->Refuse(status);
  });
  return reactor;
}

void ExperimentServiceImpl::Drive(const std::string& run_id,
                                  const std::string& lab_key,
                                  std::shared_ptr<ExperimentRunner> runner,
                                  std::shared_ptr<RunProgress> progress) {
  std::optional<emu::v1::TaskResult> previous;
  emu::v1::RunResult result = runner->Run(
      [this, &progress, &previous](const emu::v1::ExperimentEvent& e) {
        if (task_observer_ &&
            e.kind() == emu::v1::ExperimentEvent::TASK_ENDED && e.has_task()) {
          task_observer_(e.task(), previous ? &*previous : nullptr);
          previous = e.task();
        }
        progress->Publish(e);
      });
  if (!progress->ended()) {
    // Every follower ends with RUN_ENDED, whatever the runner published.
    emu::v1::ExperimentEvent end;
    end.set_kind(emu::v1::ExperimentEvent::RUN_ENDED);
    end.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
    end.set_message(absl::StrCat("run ", run_id, " ",
                                 emu::v1::RunState_Name(result.state())));
    *end.mutable_run() = result;
    progress->Publish(end);
  }
  Log("experiment run ", run_id, ": ", emu::v1::RunState_Name(result.state()),
      result.error().empty() ? "" : ": ", result.error());
  absl::MutexLock lock(&mu_);
  runs_.erase(run_id);
  ended_runs_.emplace_back(run_id,
                           ActiveRun{nullptr, std::move(progress), lab_key});
  if (ended_runs_.size() > kKeptRuns) ended_runs_.pop_front();
}

int ExperimentServiceImpl::ResumeRuns() {
  if (store_ == nullptr) return 0;
  auto checkpoints = store_->Checkpoints();
  if (!checkpoints.ok()) {
    Log("experiment runs: reading their checkpoints: ",
        checkpoints.status().ToString(), "; none resumed");
    return 0;
  }
  int n = 0;
  for (auto& cp : *checkpoints) {
    auto progress = std::make_shared<RunProgress>();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      // Registered at once: `runs` shows it, --follow waits for its events,
      // a cancel reaches it once its runner exists.
      runs_[cp.run_id()] = {nullptr, progress, cp.lab_key()};
    }
    ++n;
    Log("experiment run ", cp.run_id(), ": resuming after a restart");
    run_threads_.Start([this, cp = std::move(cp), progress]() mutable {
      Resume(std::move(cp), std::move(progress));
    });
  }
  return n;
}

void ExperimentServiceImpl::Resume(emu::v1::RunCheckpoint cp,
                                   std::shared_ptr<RunProgress> progress) {
  const std::string id = cp.run_id();
  auto give_up = [&](const std::string& why) {
    const std::string error = absl::StrCat(
        "the controller restarted during the run and could not take it up "
        "again: ",
        why);
    Log("experiment run ", id, ": ", error);
    absl::Status st = store_->EndRun(id, emu::v1::RUN_FAILED, error);
    if (!st.ok()) Log("experiment run ", id, ": ", st.ToString());
    emu::v1::ExperimentEvent end;
    end.set_kind(emu::v1::ExperimentEvent::RUN_ENDED);
    end.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
    end.set_message(absl::StrCat("run ", id, " FAILED: ", error));
    emu::v1::RunResult* r = end.mutable_run();
    *r = cp.result();
    r->set_id(id);
    r->set_state(emu::v1::RUN_FAILED);
    r->set_error(error);
    r->set_end_unix_us(end.time_unix_us());
    progress->Publish(end);
    absl::MutexLock lock(&mu_);
    runs_.erase(id);
    ended_runs_.emplace_back(id, ActiveRun{nullptr, progress, cp.lab_key()});
    if (ended_runs_.size() > kKeptRuns) ended_runs_.pop_front();
  };
  auto spec = ParseExperiment(cp.file_name(), cp.content());
  if (!spec.ok()) return give_up(std::string(spec.status().message()));
  auto lab = labs_->Get(cp.lab_key());
  if (!lab.ok()) return give_up(std::string(lab.status().message()));
  // The hosts come back as their agents register again: wait for those the
  // run uses (bounded), rather than losing them at once.
  std::set<std::string> needed;
  for (const auto& n : lab->nodes()) {
    for (const auto& t : spec->tasks) {
      for (const auto& c : t.commands) {
        if (c.node == n.name()) needed.insert(n.host());
      }
    }
  }
  std::map<std::string, std::string> addresses;
  const absl::Time deadline = absl::Now() + kResumeHostsWait;
  for (;;) {
    addresses.clear();
    for (const auto& h : hosts_->Snapshot()) addresses[h.name()] = h.address();
    bool all = true;
    for (const auto& h : needed) all = all && addresses.count(h) > 0;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
    }
    if (all || stopping || absl::Now() > deadline) break;
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(200));
  }
  std::map<std::string, std::string> params(cp.params().begin(),
                                            cp.params().end());
  RunnerDeps deps{&clock_, &link_factory_, link_applier_.get(), store_};
  auto runner = std::make_shared<ExperimentRunner>(
      id, *std::move(spec), *std::move(lab), std::move(addresses),
      std::move(params), cp.first_generation(), deps);
  const std::string lab_key = cp.lab_key();
  runner->EnableCheckpoints({lab_key, cp.file_name(), cp.content()});
  runner->ResumeFrom(std::move(cp));
  {
    absl::MutexLock lock(&mu_);
    runs_[id].runner = runner;
    if (stopping_) runner->Cancel("the controller is stopping");
  }
  Drive(id, lab_key, runner, progress);
}

grpc::ServerWriteReactor<emu::v1::ExperimentEvent>*
ExperimentServiceImpl::WatchExperimentRun(
    grpc::CallbackServerContext* context,
    const emu::v1::WatchExperimentRunRequest* request) {
  auto* reactor = new FollowReactor();
  Caller caller;
  if (!Authenticated(*users_, *context, reactor, &caller)) return reactor;
  if (absl::Status n = request_names::controller::Check(*request); !n.ok()) {
    reactor->Refuse(ToGrpcStatus(n));
    return reactor;
  }
  // Off gRPC's thread: the access check and the store read block.
  pool_->Schedule([this, reactor, caller, id = request->run_id()] {
    std::optional<ActiveRun> live;
    {
      absl::MutexLock lock(&mu_);
      live = FindRun(id);
    }
    if (live.has_value()) {
      absl::Status access =
          CheckRunAccess(caller, id, live->lab_key, users::Verb::kView);
      if (!access.ok()) {
        reactor->Refuse(ToGrpcStatus(access));
        return;
      }
      reactor->Follow(std::move(live->progress));
      return;
    }
    // Only in the store (older, or before a restart).
    absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> runs =
        store_ != nullptr
            ? store_->List()
            : absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>>(
                  std::vector<emu::v1::ExperimentRunSummary>{});
    if (!runs.ok()) {
      reactor->Refuse(ToGrpcStatus(runs.status()));
      return;
    }
    for (const auto& r : *runs) {
      if (r.id() != id) continue;
      absl::Status access =
          CheckRunAccess(caller, id, r.lab(), users::Verb::kView);
      if (!access.ok()) {
        reactor->Refuse(ToGrpcStatus(access));
        return;
      }
      auto progress = std::make_shared<RunProgress>();
      progress->Publish(EndedFromRecord(r));
      reactor->Follow(std::move(progress));
      return;
    }
    reactor->Refuse(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no experiment run ", id, " (emuctl runs lists them)")));
  });
  return reactor;
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::CancelExperimentRun(
    grpc::CallbackServerContext* context,
    const emu::v1::CancelExperimentRunRequest* request,
    emu::v1::CancelExperimentRunResponse* response) {
  (void)response;
  return OffloadUnary(context, *users_, pool_, [this, request](
                                                    const Caller& caller) {
    EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
    absl::StatusOr<std::shared_ptr<ExperimentRunner>> live =
        LiveRun(caller, request->run_id());
    if (!live.ok()) return live.status();
    std::shared_ptr<ExperimentRunner> runner = *std::move(live);
    runner->Cancel(request->reason().empty() ? "cancelled by the client"
                                             : request->reason());
    Log("experiment run ", request->run_id(), ": cancel requested");
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::AddTasks(
    grpc::CallbackServerContext* context,
    const emu::v1::AddTasksRequest* request,
    emu::v1::AddTasksResponse* response) {
  return OffloadUnary(context, *users_, pool_, [this, request, response](
                                                    const Caller& caller) {
    EMU_RETURN_IF_ERROR(request_names::controller::Check(*request));
    absl::StatusOr<std::shared_ptr<ExperimentRunner>> live =
        LiveRun(caller, request->run_id());
    if (!live.ok()) return live.status();
    std::shared_ptr<ExperimentRunner> runner = *std::move(live);
    // Answered on the run's thread, which takes inputs within its loop.
    struct Answer {
      absl::Mutex mu;
      bool done ABSL_GUARDED_BY(mu) = false;
      absl::StatusOr<std::vector<std::string>> names ABSL_GUARDED_BY(mu);
    };
    auto answer = std::make_shared<Answer>();
    runner->AddTasks(
        request->file_name().empty() ? "tasks" : request->file_name(),
        request->content(), request->after_current(),
        [answer](absl::StatusOr<std::vector<std::string>> names) {
          absl::MutexLock lock(&answer->mu);
          answer->names = std::move(names);
          answer->done = true;
        });
    absl::MutexLock lock(&answer->mu);
    if (!answer->mu.AwaitWithTimeout(absl::Condition(&answer->done),
                                     kAddTasksWait)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "experiment run ", request->run_id(),
          ": the run did not take the Tasks within ",
          absl::FormatDuration(kAddTasksWait)));
    }
    if (!answer->names.ok()) return answer->names.status();
    for (const std::string& name : *answer->names) response->add_tasks(name);
    Log("experiment run ", request->run_id(), ": ", response->tasks_size(),
        " tasks added by ", caller.name);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::shared_ptr<ExperimentRunner>>
ExperimentServiceImpl::LiveRun(const Caller& caller, const std::string& id) {
  std::shared_ptr<ExperimentRunner> runner;
  std::string lab_key;
  {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(id);
    if (it == runs_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "no experiment run ", id, " is in progress (emuctl runs lists them)"));
    }
    runner = it->second.runner;
    lab_key = it->second.lab_key;
  }
  if (runner == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "experiment run ", id,
        " is being resumed after a controller restart; try again shortly"));
  }
  EMU_RETURN_IF_ERROR(CheckRunAccess(caller, id, lab_key, users::Verb::kRun));
  return runner;
}

std::optional<ExperimentServiceImpl::ActiveRun> ExperimentServiceImpl::FindRun(
    const std::string& id) const {
  if (auto it = runs_.find(id); it != runs_.end()) return it->second;
  for (const auto& [ended_id, run] : ended_runs_) {
    if (ended_id == id) return run;
  }
  return std::nullopt;
}

absl::Status ExperimentServiceImpl::CheckRunAccess(const Caller& caller,
                                                   const std::string& id,
                                                   const std::string& lab_key,
                                                   users::Verb verb) const {
  if (caller.admin) return absl::OkStatus();
  auto shares = users_->Shares();
  if (!shares.ok()) return shares.status();
  const users::Role role =
      users::UserDirectory::RoleOn(caller, lab_key, *shares);
  if (users::Allows(role, verb)) return absl::OkStatus();
  if (users::Allows(role, users::Verb::kView)) {
    return absl::PermissionDeniedError(
        absl::StrCat("experiment run ", id, ": ", caller.name, " may not ",
                     users::VerbPhrase(verb), " its lab ",
                     users::RefFromKey(caller, lab_key).display));
  }
  return absl::NotFoundError(
      absl::StrCat("no experiment run ", id, " (emuctl runs lists them)"));
}

absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>>
ExperimentServiceImpl::RunsVisibleTo(const Caller& caller) const {
  std::vector<emu::v1::ExperimentRunSummary> out;
  if (store_ == nullptr) return out;
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::ExperimentRunSummary> runs,
                       store_->List());
  EMU_ASSIGN_OR_RETURN(std::vector<users::ShareRecord> shares,
                       users_->Shares());
  // The runs of the labs the caller may view, named in their terms.
  for (auto& r : runs) {
    const users::Role role = users::UserDirectory::RoleOn(caller, r.lab(), shares);
    if (!users::Allows(role, users::Verb::kView)) continue;
    r.set_lab(users::RefFromKey(caller, r.lab()).display);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<emu::v1::RunResult> ExperimentServiceImpl::RunDetail(
    const Caller& caller, const std::string& id) const {
  const absl::Status not_found = absl::NotFoundError(
      absl::StrCat("no experiment run ", id, " (emuctl runs lists them)"));
  std::optional<ActiveRun> live;
  {
    absl::MutexLock lock(&mu_);
    live = FindRun(id);
  }
  if (live.has_value()) {
    EMU_RETURN_IF_ERROR(
        CheckRunAccess(caller, id, live->lab_key, users::Verb::kView));
    emu::v1::RunResult run = live->progress->SoFar();
    run.set_lab(users::RefFromKey(caller, live->lab_key).display);
    return run;
  }
  if (store_ == nullptr) return not_found;
  EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::ExperimentRunSummary> runs,
                       store_->List());
  for (const auto& r : runs) {
    if (r.id() != id) continue;
    EMU_RETURN_IF_ERROR(CheckRunAccess(caller, id, r.lab(), users::Verb::kView));
    emu::v1::RunResult run = EndedFromRecord(r).run();
    run.set_lab(users::RefFromKey(caller, r.lab()).display);
    return run;
  }
  return not_found;
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListExperimentRuns(
    grpc::CallbackServerContext* context,
    const emu::v1::ListExperimentRunsRequest* request,
    emu::v1::ListExperimentRunsResponse* response) {
  (void)request;
  return OffloadUnary(
      context, *users_, pool_,
      [this, response](const Caller& caller) -> absl::Status {
        EMU_ASSIGN_OR_RETURN(std::vector<emu::v1::ExperimentRunSummary> runs,
                             RunsVisibleTo(caller));
        for (auto& r : runs) *response->add_runs() = std::move(r);
        return absl::OkStatus();
      });
}

}  // namespace emu::controller::experiment
