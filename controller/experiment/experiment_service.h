// ExperimentService (proto/experiment.proto): runs experiments on deployed
// labs. Each RunExperiment gets one thread of its own for the run's event
// loop (ExperimentRunner), never one per host, owned by the service's
// ThreadSet; cancelling the call cancels the run. Shutdown() (and the
// destructor) refuses new runs, cancels every running one and joins their
// threads.
//
// Thread-safe. Does not own the lab manager, registry or store.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_

#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/thread_pool.h"
#include "common/thread_set.h"
#include "controller/experiment/barrier_client.h"
#include "controller/experiment/experiment_store.h"
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
                        std::string token, ThreadPool* pool);
  ~ExperimentServiceImpl() override;

  // Refuses new runs, cancels the running ones and waits for their threads.
  // Idempotent. Call before the lab manager, registry or store go.
  void Shutdown();

  grpc::ServerWriteReactor<emu::v1::ExperimentEvent>* RunExperiment(
      grpc::CallbackServerContext* context,
      const emu::v1::RunExperimentRequest* request) override;

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
  GrpcBarrierLinkFactory link_factory_;
  // Shared by every run (it holds only the registry pointer).
  std::unique_ptr<LinkApplier> link_applier_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_run_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::shared_ptr<ExperimentRunner>> runners_ ABSL_GUARDED_BY(mu_);
  // Last member: destroyed (joined) first.
  ThreadSet run_threads_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
