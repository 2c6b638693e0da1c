// Where the controller records experiment runs, so that a run is never left
// "running" across a controller restart: at start-up every run still marked
// RUNNING is ended as FAILED ("controller restarted during the run"), and
// the next generation starts above every generation recorded.
//
// SqliteExperimentStore keeps them in table `experiment_runs` of the
// controller's SQLite file (beside the labs). Thread-safe.
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
  // generation it has used so far.
  virtual absl::Status Put(const emu::v1::ExperimentRunSummary& run,
                           uint64_t generation) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>> List() = 0;
  virtual absl::StatusOr<uint64_t> MaxGeneration() = 0;
  // Ends every RUNNING run as FAILED with `why`; returns how many.
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

 private:
  SqliteExperimentStore(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}
  absl::Status Error(int rc, const std::string& what);

  absl::Mutex mu_;
  sqlite3* const db_;
  const std::string path_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_STORE_H_
