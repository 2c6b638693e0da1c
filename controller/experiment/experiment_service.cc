#include "controller/experiment/experiment_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "controller/users/lab_access.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/reactors.h"
#include "controller/experiment/experiment_runner.h"
#include "controller/experiment/experiment_spec.h"

namespace emu::controller::experiment {
namespace {

// The run's event stream; cancelling the call cancels the run.
class RunReactor : public QueuedWriteReactor<emu::v1::ExperimentEvent> {
 public:
  void SetRunner(std::shared_ptr<ExperimentRunner> runner) {
    bool cancelled;
    {
      absl::MutexLock lock(&mu_);
      runner_ = runner;
      cancelled = cancelled_;
    }
    if (cancelled) runner->Cancel("the client cancelled the run");
  }

  void OnCancel() override {
    std::shared_ptr<ExperimentRunner> runner;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      runner = runner_;
    }
    if (runner) runner->Cancel("the client cancelled the run (Ctrl-C?)");
  }

 private:
  absl::Mutex mu_;
  std::shared_ptr<ExperimentRunner> runner_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

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

}  // namespace

ExperimentServiceImpl::ExperimentServiceImpl(lab::LabManager* labs,
                                             hosts::HostRegistry* hosts,
                                             ExperimentStore* store,
                                             users::UserDirectory* users,
                                             std::string token,
                                             ThreadPool* pool)
    : labs_(labs),
      hosts_(hosts),
      store_(store),
      users_(users),
      token_(token),
      pool_(pool),
      link_factory_(std::move(token)),
      link_applier_(std::make_unique<RegistryLinkApplier>(hosts)) {}

ExperimentServiceImpl::~ExperimentServiceImpl() { Shutdown(); }

void ExperimentServiceImpl::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (const auto& r : runners_) r->Cancel("the controller is stopping");
  }
  // A cancelled run ends within the runner's close bound (it aborts streams
  // that do not close in time), so this join is bounded too.
  run_threads_.JoinAll();
}

grpc::ServerWriteReactor<emu::v1::ExperimentEvent>*
ExperimentServiceImpl::RunExperiment(
    grpc::CallbackServerContext* context,
    const emu::v1::RunExperimentRequest* request) {
  auto* reactor = new RunReactor();
  Caller caller;
  grpc::Status auth = users_->Authenticate(*context, &caller);
  if (!auth.ok()) {
    reactor->Reject(auth);
    return reactor;
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      reactor->Reject(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "the controller is stopping"));
      return reactor;
    }
  }
  run_threads_.Start([this, reactor, caller, req = *request] {
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
      auto runner = std::make_shared<ExperimentRunner>(
          run_id, *std::move(spec), *std::move(lab), std::move(addresses),
          std::move(params), first_generation, deps);
      {
        absl::MutexLock lock(&mu_);
        // Shutdown cancelled the runs it saw; this one came after.
        if (stopping_) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the controller is stopping");
        }
        runners_.insert(runner);
      }
      reactor->SetRunner(runner);
      Log("experiment run ", run_id, " started");
      emu::v1::RunResult result = runner->Run(
          [reactor](const emu::v1::ExperimentEvent& e) { reactor->Push(e); });
      Log("experiment run ", run_id, ": ",
          emu::v1::RunState_Name(result.state()),
          result.error().empty() ? "" : ": ", result.error());
      {
        absl::MutexLock lock(&mu_);
        runners_.erase(runner);
      }
      return grpc::Status::OK;
    }();
    reactor->Complete(status);
  });
  return reactor;
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListExperimentRuns(
    grpc::CallbackServerContext* context,
    const emu::v1::ListExperimentRunsRequest* request,
    emu::v1::ListExperimentRunsResponse* response) {
  (void)request;
  return OffloadUnary(
      context, *users_, pool_,
      [this, response](const Caller& caller) -> absl::Status {
        if (store_ == nullptr) return absl::OkStatus();
        auto runs = store_->List();
        if (!runs.ok()) return runs.status();
        auto shares = users_->Shares();
        if (!shares.ok()) return shares.status();
        // The runs of the labs the caller may view, named in their terms.
        for (auto& r : *runs) {
          const users::Role role =
              users::UserDirectory::RoleOn(caller, r.lab(), *shares);
          if (!users::Allows(role, users::Verb::kView)) continue;
          r.set_lab(users::RefFromKey(caller, r.lab()).display);
          *response->add_runs() = std::move(r);
        }
        return absl::OkStatus();
      });
}

}  // namespace emu::controller::experiment
