// Where the controller records experiment runs and the state of those in
// progress, so that a restarted controller takes up every run still
// RUNNING at the Task it stood at (ExperimentServiceImpl::ResumeRuns, from
// its checkpoint); a RUNNING run without a checkpoint is ended as FAILED.
// The next generation starts above every generation recorded.
//
// SqliteExperimentStore keeps them in tables `experiment_runs` and
// `experiment_checkpoints` of the controller's SQLite file (beside the
// labs). Thread-safe.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_STORE_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/experiment.pb.h"

struct sqlite3;

namespace emu::controller::experiment {

class ExperimentStore {
 public:
  virtual ~ExperimentStore() = default;
  // Inserts or replaces the run's summary; `generation` is the highest
  // generation it may use. A run no longer RUNNING loses its checkpoint.
  virtual absl::Status Put(const emu::v1::ExperimentRunSummary& run,
                           uint64_t generation) = 0;
  // Inserts or replaces the state of a run in progress.
  virtual absl::Status PutCheckpoint(const emu::v1::RunCheckpoint& cp) = 0;
  // The checkpoints of the runs recorded RUNNING, oldest run first.
  virtual absl::StatusOr<std::vector<emu::v1::RunCheckpoint>> Checkpoints() = 0;
  // Ends the run `id` (its record keeps its generation) with `state` and
  // `why`, and drops its checkpoint.
  virtual absl::Status EndRun(const std::string& id, emu::v1::RunState state,
                              const std::string& why) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> List() = 0;
  virtual absl::StatusOr<uint64_t> MaxGeneration() = 0;
  // Ends every RUNNING run that has no checkpoint as FAILED with `why`;
  // returns how many.
  virtual absl::StatusOr<int> FailRunning(const std::string& why) = 0;
};

class SqliteExperimentStore : public ExperimentStore {
 public:
  // Opens (creating the table if needed) the SQLite file at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteExperimentStore>> Open(
      const std::string& path);
  ~SqliteExperimentStore() override;

  absl::Status Put(const emu::v1::ExperimentRunSummary& run,
                   uint64_t generation) override;
  absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> List() override;
  absl::StatusOr<uint64_t> MaxGeneration() override;
  absl::StatusOr<int> FailRunning(const std::string& why) override;
  absl::Status PutCheckpoint(const emu::v1::RunCheckpoint& cp) override;
  absl::StatusOr<std::vector<emu::v1::RunCheckpoint>> Checkpoints() override;
  absl::Status EndRun(const std::string& id, emu::v1::RunState state,
                      const std::string& why) override;

 private:
  SqliteExperimentStore(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}
  absl::Status Error(int rc, const std::string& what);
  absl::Status DeleteCheckpointLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_;
  const std::string path_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_STORE_H_
