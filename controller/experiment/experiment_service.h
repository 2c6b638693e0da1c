// ExperimentService (proto/experiment.proto): runs experiments on deployed
// labs. Each RunExperiment gets one thread of its own for the run's event
// loop (ExperimentRunner), never one per host, owned by the service's
// ThreadSet. Once started, a run belongs to the service, not to the call:
// its events go to a RunProgress that the call and any WatchExperimentRun
// follow, so a caller that goes away leaves it running;
// CancelExperimentRun stops it. Shutdown() (and the destructor) refuses
// new runs, cancels every running one and joins their threads.
//
// Thread-safe. Does not own the lab manager, registry or store.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "common/thread_set.h"
#include "controller/experiment/barrier_client.h"
#include "controller/experiment/experiment_store.h"
#include "controller/experiment/run_progress.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_manager.h"
#include "controller/users/user_directory.h"
#include "proto/experiment.grpc.pb.h"

namespace emu::controller::experiment {

class ExperimentRunner;
class LinkApplier;

class ExperimentServiceImpl final
    : public emu::v1::ExperimentService::CallbackService {
 public:
  ExperimentServiceImpl(lab::LabManager* labs, hosts::HostRegistry* hosts,
                        ExperimentStore* store, users::UserDirectory* users,
                        std::string token, const TransportSecurity& transport,
                        ThreadPool* pool);
  ~ExperimentServiceImpl() override;

  // Refuses new runs, cancels the running ones and waits for their threads.
  // Idempotent. Call before the lab manager, registry or store go. (A
  // controller stopped so ends its runs CANCELLED; one that dies leaves
  // them to ResumeRuns.)
  void Shutdown();

  // Takes up every run the store holds RUNNING with a checkpoint (this
  // controller restarted during it), each on its own thread, at the Task it
  // stood at; returns how many. A run that cannot be taken up (its lab is
  // gone, its file no longer parses) is ended FAILED saying why. Call once,
  // after the store's FailRunning, before serving.
  int ResumeRuns();
  // How long a resumed run waits for its hosts' agents to register again.
  static constexpr absl::Duration kResumeHostsWait = absl::Seconds(30);

  grpc::ServerWriteReactor<emu::v1::ExperimentEvent>* RunExperiment(
      grpc::CallbackServerContext* context,
      const emu::v1::RunExperimentRequest* request) override;

  grpc::ServerWriteReactor<emu::v1::ExperimentEvent>* WatchExperimentRun(
      grpc::CallbackServerContext* context,
      const emu::v1::WatchExperimentRunRequest* request) override;

  grpc::ServerUnaryReactor* CancelExperimentRun(
      grpc::CallbackServerContext* context,
      const emu::v1::CancelExperimentRunRequest* request,
      emu::v1::CancelExperimentRunResponse* response) override;

  grpc::ServerUnaryReactor* AddTasks(
      grpc::CallbackServerContext* context,
      const emu::v1::AddTasksRequest* request,
      emu::v1::AddTasksResponse* response) override;

  // How long AddTasks waits for the run's thread to take the Tasks in.
  static constexpr absl::Duration kAddTasksWait = absl::Seconds(10);

  // Ended runs whose events WatchExperimentRun can still replay.
  static constexpr size_t kKeptRuns = 16;

  // Called as each Task of any run ends, with the Task before it in the
  // same run (null for the first): the controller's metrics. Set before
  // ResumeRuns and before serving.
  using TaskObserver = std::function<void(const emu::v1::TaskResult& task,
                                          const emu::v1::TaskResult* previous)>;
  void SetTaskObserver(TaskObserver observer) {
    task_observer_ = std::move(observer);
  }

  // The run `id` with its Tasks so far, when `caller` may view its lab
  // (the web view). Runs older than the last kKeptRuns ended ones (or
  // from before a restart) come from the store, without Tasks. NOT_FOUND
  // for an unknown run and for one the caller may not see.
  absl::StatusOr<emu::v1::RunResult> RunDetail(const Caller& caller,
                                               const std::string& id) const;
  // The recorded runs of the labs `caller` may view, newest first, labs
  // named in the caller's terms (ListExperimentRuns, the web view).
  absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> RunsVisibleTo(
      const Caller& caller) const;

  grpc::ServerUnaryReactor* ListExperimentRuns(
      grpc::CallbackServerContext* context,
      const emu::v1::ListExperimentRunsRequest* request,
      emu::v1::ListExperimentRunsResponse* response) override;

 private:
  lab::LabManager* const labs_;
  hosts::HostRegistry* const hosts_;
  ExperimentStore* const store_;
  users::UserDirectory* const users_;  // identifies callers, checks roles
  const std::string token_;            // the cluster's, for the agents
  ThreadPool* const pool_;
  RealClock clock_;
  TaskObserver task_observer_;
  GrpcBarrierLinkFactory link_factory_;
  // Shared by every run (it holds only the registry pointer).
  std::unique_ptr<LinkApplier> link_applier_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_run_ ABSL_GUARDED_BY(mu_) = 0;
  struct ActiveRun {
    // Null once ended, and while a resumed run waits for its hosts.
    std::shared_ptr<ExperimentRunner> runner;
    std::shared_ptr<RunProgress> progress;
    std::string lab_key;  // whose lab: what a caller may do to the run
  };
  // The run `id` in progress or among the last ended ones, or nullopt.
  std::optional<ActiveRun> FindRun(const std::string& id) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when the caller's role on the lab `lab_key` allows `verb` on its
  // runs; otherwise NOT_FOUND worded as for an unknown run (a run of a lab
  // the caller may not see is not revealed).
  absl::Status CheckRunAccess(const Caller& caller, const std::string& id,
                              const std::string& lab_key,
                              users::Verb verb) const;

  // The run `id` in progress, when the caller may change it (Verb::kRun on
  // its lab: cancel, add Tasks); NOT_FOUND or PERMISSION_DENIED otherwise.
  absl::StatusOr<std::shared_ptr<ExperimentRunner>> LiveRun(
      const Caller& caller, const std::string& id);

  // Runs `runner` to its end on this thread, publishing to `progress`, then
  // moves the run among the ended ones.
  void Drive(const std::string& run_id, const std::string& lab_key,
             std::shared_ptr<ExperimentRunner> runner,
             std::shared_ptr<RunProgress> progress);
  void Resume(emu::v1::RunCheckpoint cp, std::shared_ptr<RunProgress> progress);

  // Runs in progress, by id.
  std::map<std::string, ActiveRun> runs_ ABSL_GUARDED_BY(mu_);
  // The last kKeptRuns ended runs, oldest first.
  std::deque<std::pair<std::string, ActiveRun>> ended_runs_
      ABSL_GUARDED_BY(mu_);
  // Last member: destroyed (joined) first.
  ThreadSet run_threads_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
