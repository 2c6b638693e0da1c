// An in-memory ExperimentStore for tests of runs and their resumption.
#ifndef EMU_CONTROLLER_EXPERIMENT_TESTING_FAKE_EXPERIMENT_STORE_H_
#define EMU_CONTROLLER_EXPERIMENT_TESTING_FAKE_EXPERIMENT_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "controller/experiment/experiment_store.h"

namespace emu::controller::experiment::testing {

class FakeExperimentStore : public ExperimentStore {
 public:
  absl::Status Put(const emu::v1::ExperimentRunSummary& run,
                   uint64_t generation) override {
    absl::MutexLock lock(&mu_);
    runs_[run.id()] = {run, generation};
    if (run.state() != emu::v1::RUN_RUNNING) checkpoints_.erase(run.id());
    return absl::OkStatus();
  }
  absl::Status PutCheckpoint(const emu::v1::RunCheckpoint& cp) override {
    absl::MutexLock lock(&mu_);
    checkpoints_[cp.run_id()] = cp;
    ++checkpoint_writes_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<emu::v1::RunCheckpoint>> Checkpoints() override {
    absl::MutexLock lock(&mu_);
    std::vector<emu::v1::RunCheckpoint> out;
    for (const auto& [id, cp] : checkpoints_) {
      auto it = runs_.find(id);
      if (it != runs_.end() && it->second.first.state() == emu::v1::RUN_RUNNING) {
        out.push_back(cp);
      }
    }
    return out;
  }
  absl::Status EndRun(const std::string& id, emu::v1::RunState state,
                      const std::string& why) override {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(id);
    if (it != runs_.end()) {
      it->second.first.set_state(state);
      it->second.first.set_error(why);
    }
    checkpoints_.erase(id);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> List() override {
    absl::MutexLock lock(&mu_);
    std::vector<emu::v1::ExperimentRunSummary> out;
    for (const auto& [id, r] : runs_) out.push_back(r.first);
    return out;
  }
  absl::StatusOr<uint64_t> MaxGeneration() override {
    absl::MutexLock lock(&mu_);
    uint64_t g = 0;
    for (const auto& [id, r] : runs_) g = std::max(g, r.second);
    return g;
  }
  absl::StatusOr<int> FailRunning(const std::string& why) override {
    absl::MutexLock lock(&mu_);
    int n = 0;
    for (auto& [id, r] : runs_) {
      if (r.first.state() != emu::v1::RUN_RUNNING || checkpoints_.count(id)) {
        continue;
      }
      r.first.set_state(emu::v1::RUN_FAILED);
      r.first.set_error(why);
      ++n;
    }
    return n;
  }

  // The run's record, or an empty one.
  emu::v1::ExperimentRunSummary Run(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = runs_.find(id);
    return it == runs_.end() ? emu::v1::ExperimentRunSummary() : it->second.first;
  }
  // The run's checkpoint, or an empty one.
  emu::v1::RunCheckpoint Checkpoint(const std::string& id) {
    absl::MutexLock lock(&mu_);
    auto it = checkpoints_.find(id);
    return it == checkpoints_.end() ? emu::v1::RunCheckpoint() : it->second;
  }
  int checkpoint_writes() {
    absl::MutexLock lock(&mu_);
    return checkpoint_writes_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::pair<emu::v1::ExperimentRunSummary, uint64_t>>
      runs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, emu::v1::RunCheckpoint> checkpoints_
      ABSL_GUARDED_BY(mu_);
  int checkpoint_writes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emu::controller::experiment::testing

#endif  // EMU_CONTROLLER_EXPERIMENT_TESTING_FAKE_EXPERIMENT_STORE_H_
