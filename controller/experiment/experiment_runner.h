// Runs one experiment run: the driver around ExperimentSequencer. It opens
// one barrier stream per host (BarrierLinkFactory), carries out the
// sequencer's actions (releases and cancels pushed on the streams, link
// changes through a LinkApplier), feeds it the agents' reports, lost hosts,
// cancels and time, publishes progress events, and records the run in the
// ExperimentStore (RUNNING at the start, its end state at the end). With
// EnableCheckpoints it also saves the run's state before every Release and
// link change (ExperimentStore::PutCheckpoint), and a runner made after a
// controller restart takes the run up from it (ResumeFrom). Every stream's
// Hello names the run, and the run's end sends End on every stream before
// closing it: a stream cut otherwise (the controller died) leaves the
// agents' commands running for the run's resumption.
//
// One thread per run (the caller's, inside Run()), whatever the number of
// hosts: stream callbacks only queue what they receive.
//
// Thread-safe: Cancel may be called from any thread at any time.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_RUNNER_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_RUNNER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "controller/experiment/barrier_client.h"
#include "controller/experiment/clock_offset.h"
#include "controller/experiment/experiment_sequencer.h"
#include "controller/experiment/experiment_spec.h"
#include "controller/experiment/experiment_store.h"
#include "proto/agent.pb.h"
#include "proto/controller.pb.h"
#include "proto/counters.pb.h"
#include "proto/experiment.pb.h"

namespace emu::controller::experiment {

// Applies a link change on one host (AgentService.SetLinkParams).
class LinkApplier {
 public:
  virtual ~LinkApplier() = default;
  virtual absl::Status SetLinkParams(
      const std::string& host, const emu::v1::SetLinkParamsRequest& req) = 0;
  // Sets one interface of a node administratively up or down.
  virtual absl::Status SetInterfaceUp(const std::string& host,
                                      const std::string& lab,
                                      const std::string& node,
                                      const std::string& interface,
                                      bool up) = 0;
};

struct RunnerDeps {
  Clock* clock = nullptr;
  BarrierLinkFactory* links = nullptr;
  LinkApplier* link_applier = nullptr;
  ExperimentStore* store = nullptr;  // may be null (no persistence)
  // The lab's counters now (LabManager::Stats), read at the run's start and
  // at the end of a run that succeeded: a link direction whose sender sent
  // frames 10 ms or more late in between is named in the run's warnings
  // (linkemu/late_frames.h). Empty, or a run resumed after a controller
  // restart: not reported.
  std::function<absl::StatusOr<emu::v1::LabCounters>()> lab_counters;
};

class ExperimentRunner {
 public:
  using EventFn = std::function<void(const emu::v1::ExperimentEvent&)>;

  // `lab`: the deployed lab (topology and node placement); `addresses`:
  // host -> agent address. `first_generation`: above every generation used
  // before (ExperimentStore::MaxGeneration).
  ExperimentRunner(std::string run_id, ExperimentSpec spec, emu::v1::Lab lab,
                   std::map<std::string, std::string> addresses,
                   std::map<std::string, std::string> params,
                   uint64_t first_generation, RunnerDeps deps,
                   SequencerOptions options = {});
  ~ExperimentRunner();

  // Runs to the end and returns the result; `on_event` gets every progress
  // event (from this thread). Call once.
  emu::v1::RunResult Run(const EventFn& on_event);

  // Stops the run as CANCELLED: every command still running is killed.
  void Cancel(const std::string& why);

  // Adds the Tasks of `content` (a file of `tasks:`, ParseAddedTasks) to the
  // run, on the run's thread; `done` gets the added names or why not
  // (INVALID_ARGUMENT naming FILE:LINE, FAILED_PRECONDITION once the run
  // ended), exactly once, from the run's thread or this one. Must not block.
  using AddTasksDone =
      std::function<void(absl::StatusOr<std::vector<std::string>>)>;
  void AddTasks(std::string file, std::string content, bool after_current,
                AddTasksDone done);

  // The highest generation this run may use (persisted at its start).
  uint64_t GenerationCeiling() const;

  // What the run is made of, recorded in its checkpoints (call before Run;
  // without it, with a store, no checkpoint is written).
  struct Source {
    std::string lab_key;
    std::string file_name;
    std::string content;
  };
  void EnableCheckpoints(Source source);

  // Takes the run up from `checkpoint` (a controller restart) instead of
  // starting it: Run then skips the clock measurement (the offsets are the
  // recorded ones), opens the streams with Hello.resume and goes on where
  // the run stood. Call before Run.
  void ResumeFrom(emu::v1::RunCheckpoint checkpoint);

  // Stops driving the run as a controller that dies would: Run returns at
  // once with the run still RUNNING, its streams cut without End (the
  // agents keep its commands running), its record and checkpoint as they
  // were. For tests of resumption.
  void Abandon();

 private:
  struct Input {
    enum Kind { kReport, kLost, kCancel, kAddTasks, kAbandon } kind;
    std::string host;
    emu::v1::AgentToBarrier msg;
    std::string why;
    // kAddTasks: the file (`host`: its name, `why`: its content).
    bool after_current = false;
    AddTasksDone added;
    absl::Time received;  // kReport: when it arrived (a TimeReply's t4)
  };
  // Measures the clock of every host with an open stream (kClockProbes
  // exchanges each, one at a time, within kClockDeadline) and gives the
  // estimates to the sequencer. Inputs other than time replies that arrive
  // meanwhile are kept, in order, for the run's loop.
  void MeasureClocks();
  // The warnings of late frames since counters_at_start_ (none when there
  // is no start sample or the lab's counters cannot be read now).
  std::vector<std::string> LateWarnings();
  static constexpr int kClockProbes = 8;
  static constexpr absl::Duration kClockDeadline = absl::Seconds(2);
  void ApplyAddTasks(Input& in);
  void Push(Input in);
  void Execute(std::vector<SequencerAction> actions);
  BarrierLink* LinkTo(const std::string& host);
  // Closes every stream, in parallel, within kCloseTimeout.
  void CloseLinks();

  static constexpr absl::Duration kCloseTimeout = absl::Seconds(5);
  // Saves the run's summary in the store (retried); the error says the
  // record was not saved.
  absl::Status Persist();
  static constexpr int kPersistAttempts = 3;
  // Saves the run's state (with checkpoints enabled); a failure is logged
  // and recorded once in the run's warnings.
  void SaveCheckpoint();

  const std::string run_id_;
  const emu::v1::Lab lab_;
  const std::map<std::string, std::string> addresses_;
  const uint64_t first_generation_;
  const int max_steps_;
  RunnerDeps deps_;
  ExperimentSequencer seq_;
  std::map<std::string, std::unique_ptr<BarrierLink>> links_;
  int stale_reports_ = 0;
  std::optional<Source> source_;
  std::optional<emu::v1::RunCheckpoint> resume_;
  // The lab's counters at the run's start (deps_.lab_counters).
  std::optional<emu::v1::LabCounters> counters_at_start_;
  std::vector<emu::v1::RunCheckpoint::Added> added_;
  bool checkpoint_warned_ = false;
  bool abandoned_ = false;

  absl::Mutex mu_;
  std::deque<Input> inputs_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;  // no more inputs are read
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_RUNNER_H_
