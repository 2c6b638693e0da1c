// ExperimentService (proto/experiment.proto): runs experiments on deployed
// labs. Each RunExperiment gets one thread of its own for the run's event
// loop (ExperimentRunner), never one per host; cancelling the call cancels
// the run. The destructor cancels every run and waits for them.
//
// Thread-safe. Does not own the lab manager, registry or store.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_

#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "controller/experiment/barrier_client.h"
#include "controller/experiment/experiment_clock.h"
#include "controller/experiment/experiment_store.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_manager.h"
#include "proto/experiment.grpc.pb.h"

namespace emu::controller::experiment {

class ExperimentRunner;

class ExperimentServiceImpl final
    : public emu::v1::ExperimentService::CallbackService {
 public:
  ExperimentServiceImpl(lab::LabManager* labs, hosts::HostRegistry* hosts,
                        ExperimentStore* store, std::string token,
                        ThreadPool* pool);
  ~ExperimentServiceImpl() override;

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
  const std::string token_;
  ThreadPool* const pool_;
  RealClock clock_;
  GrpcBarrierLinkFactory link_factory_;

  absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_run_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::shared_ptr<ExperimentRunner>> runners_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SERVICE_H_
