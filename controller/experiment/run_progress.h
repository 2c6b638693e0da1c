// The events of one experiment run so far, and the streams that follow it:
// the RunExperiment call that started it and any WatchExperimentRun calls
// (proto/experiment.proto). A watcher that comes late gets every event
// already published, in order, then the live ones, so each follower sees
// the same sequence; RUN_ENDED is the last event a watcher gets.
//
// Holds every event of the run (what the run's RunResult holds, about
// twice), for as long as its owner keeps it (ExperimentServiceImpl: while
// the run lasts and for its last kKeptRuns ended runs).
//
// Thread-safe. Watchers are called with the progress's lock held, in
// publication order: they must not block or call back into it.
#ifndef EMU_CONTROLLER_EXPERIMENT_RUN_PROGRESS_H_
#define EMU_CONTROLLER_EXPERIMENT_RUN_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "proto/experiment.pb.h"

namespace emu::controller::experiment {

class RunProgress {
 public:
  using Watcher = std::function<void(const emu::v1::ExperimentEvent&)>;

  // Records `event` and passes it to every watcher. After RUN_ENDED,
  // watchers are forgotten and later events ignored.
  void Publish(const emu::v1::ExperimentEvent& event);

  // Passes every event so far to `watcher`, then each later one until
  // Unwatch or RUN_ENDED (included). Returns the id for Unwatch.
  uint64_t Watch(Watcher watcher);

  // After it returns, the watcher is not called again. Unknown ids (a
  // watcher already forgotten at RUN_ENDED) are ignored.
  void Unwatch(uint64_t id);

  bool ended() const;

  // The run as far as its events tell: RUN_ENDED's result once ended, else
  // RUN_STARTED's with every Task that ended so far (for the web view's
  // Task timeline of a live run).
  emu::v1::RunResult SoFar() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<emu::v1::ExperimentEvent> events_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_RUN_PROGRESS_H_
