// The barrier's sequencing state machine for one experiment run: which Task
// runs next, what each host is sent, when a Task ends (every command
// reported, a failure under on_failure: stop, a host lost, or the Task's
// deadline passed), captures, ${var} substitution and branching.
//
// Pure: no I/O and no threads. The driver (ExperimentRunner) feeds it
// events (reports, lost hosts, time passing, cancel) and carries out the
// Actions it returns; tests drive it with a FakeClock.
//
// Generations: each Release gets a new generation, above `first_generation`
// (the driver passes one above every generation persisted before, so a
// report from before a controller restart can never match). CommandDone for
// any generation but the outstanding one is ABORTED (stale).
//
// Thread-compatible: the driver serialises calls.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SEQUENCER_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SEQUENCER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/experiment/experiment_spec.h"
#include "proto/barrier.pb.h"
#include "proto/experiment.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::experiment {

// What the driver must do, in order.
struct SequencerAction {
  enum Kind {
    // Send SetLinkParams for each request to each of its hosts, then call
    // LinksApplied(generation, status).
    kApplyLinks,
    // Send each host its Release (non-empty command list per host).
    kRelease,
    // Send each host in `hosts` a Cancel for `generation`.
    kCancel,
    // The run is over: result() is final.
    kFinished,
  };
  Kind kind;
  uint64_t generation = 0;
  struct LinkChange {
    std::vector<std::string> hosts;
    bool set_params = false;  // send `request` to every host in `hosts`
    emu::v1::SetLinkParamsRequest request;
    // Set both ends administratively up or down (state: up/down).
    std::optional<bool> up;
    struct End {
      std::string host, node, interface;
    };
    std::vector<End> ends;
  };
  std::vector<LinkChange> links;
  std::map<std::string, emu::v1::BarrierToAgent::Release> releases;
  std::vector<std::string> hosts;
};

struct SequencerOptions {
  // Added to a command's timeout for the Task's deadline: a host that has
  // not reported by then is taken as lost.
  absl::Duration report_grace = absl::Seconds(5);
  // The adaptive start margin: its start and bounds, and how late a
  // command may be ready (after the instant) with the Task still on time.
  absl::Duration min_margin = absl::Microseconds(300);
  absl::Duration max_margin = absl::Milliseconds(50);
  absl::Duration initial_margin = absl::Milliseconds(2);
  absl::Duration on_time = absl::Microseconds(20);
  // The start skew the barrier aims at: a host whose clock offset is known
  // less precisely than this gets a warning in the run.
  absl::Duration skew_goal = absl::Milliseconds(1);
};

class ExperimentSequencer {
 public:
  // `node_hosts`: node -> host for every node of the lab; `topology`: the
  // deployed lab's (for link steps). `params` override the file's vars.
  ExperimentSequencer(ExperimentSpec spec, std::string lab,
                      emu::v1::Topology topology,
                      std::map<std::string, std::string> node_hosts,
                      std::map<std::string, std::string> params,
                      uint64_t first_generation, Clock* clock,
                      SequencerOptions options = {});

  // Each host's clock (agent = controller + offset_us), measured before
  // Start: its Releases carry the instant in its clock, its reported times
  // are converted to the controller's. Recorded in the result, with a
  // warning for each host whose bound exceeds options.skew_goal (or that
  // gave no sample). Call before Start.
  void SetHostClocks(const std::vector<emu::v1::HostClock>& clocks);

  // Begins the run. Call once.
  std::vector<SequencerAction> Start();

  // The link changes of `generation` are done (or failed).
  std::vector<SequencerAction> LinksApplied(uint64_t generation,
                                            const absl::Status& status);

  // A command's report from `host`. ABORTED for a stale generation or a
  // command this host was not given; the state is then unchanged.
  absl::StatusOr<std::vector<SequencerAction>> CommandDone(
      const std::string& host,
      const emu::v1::AgentToBarrier::CommandDone& done);

  // `host`'s stream ended: its outstanding commands are LOST and the run
  // fails, naming the host and the commands.
  std::vector<SequencerAction> HostLost(const std::string& host,
                                        const std::string& why);

  // Checks the running Task's deadline against the clock.
  std::vector<SequencerAction> Tick();

  // Stops the run as CANCELLED (Ctrl-C, client gone, controller stopping).
  std::vector<SequencerAction> Cancel(const std::string& why);

  // Adds Tasks (ParseAddedTasks against spec()) to the running experiment:
  // at the end, or right after the running Task (`after_current`), and
  // publishes TASKS_ADDED. The added Tasks run when the sequence reaches
  // them (gotos may name them and they may name any Task); they count
  // against max_steps like the others. FAILED_PRECONDITION once the run
  // has ended; INVALID_ARGUMENT when a name or command id is already taken.
  // `at` (may be null) gets the index the Tasks were inserted at.
  absl::Status AddTasks(std::vector<TaskSpec> tasks, bool after_current,
                        size_t* at = nullptr);
  const ExperimentSpec& spec() const { return spec_; }

  // ---- Resuming after a controller restart ----
  // The run's state, for a later Resume (RunCheckpoint's sequencer fields).
  // While a Task's link changes are pending, the state is the one before
  // that Task began: resumed, it begins again (link changes are
  // idempotent, and none of its commands was released).
  void SaveState(emu::v1::RunCheckpoint* checkpoint) const;
  // Tasks added to the run before the restart, inserted again where they
  // were (RunCheckpoint.added, in order): before Resume, no event.
  void InsertTasks(std::vector<TaskSpec> tasks, size_t at);
  // Takes the run up from SaveState's state, instead of SetHostClocks and
  // Start: publishes RUN_STARTED, a TASK_ENDED per Task ended before, and
  // RUN_RESUMED. A running Task is released again (Release.resent: agents
  // start only commands they do not have, and send again every outcome
  // they hold) to each host with outstanding commands, and its deadline is
  // at least report_grace from now; otherwise the run goes on with the
  // next Task. A state that does not fit the spec fails the run.
  std::vector<SequencerAction> Resume(const emu::v1::RunCheckpoint& state);

  // When Tick should next be called; InfiniteFuture when nothing waits.
  absl::Time NextDeadline() const;

  bool finished() const { return finished_; }
  uint64_t generation() const { return generation_; }
  const emu::v1::RunResult& result() const { return result_; }
  // Adds a warning to the run's result (what the runner learns around the
  // run, e.g. late frames on its links).
  void AddWarning(const std::string& warning) { result_.add_warnings(warning); }
  // Hosts with at least one node named by a command of the experiment
  // (nodes given by ${var} are resolved at release and not listed).
  std::set<std::string> HostsUsed() const;
  // The nodes on `host` that commands of the experiment name (as HostsUsed).
  std::set<std::string> NodesOn(const std::string& host) const;
  // Progress events since the last call.
  std::vector<emu::v1::ExperimentEvent> TakeEvents();

 private:
  // Runs Tasks from next_task_ on until one needs to wait (or the run ends).
  void Advance(std::vector<SequencerAction>* out);
  // Prepares Task `index`: returns false when it was skipped/failed at once.
  // BeginTask's steps, in order.
  void BeginTask(size_t index, std::vector<SequencerAction>* out);
  void ResetTask(size_t index);
  absl::StatusOr<bool> ShouldRun(const TaskSpec& spec);
  void SkipTask(const TaskSpec& spec, size_t index);
  // Fills task_'s commands with their substituted node, argv and host.
  absl::Status ResolveCommands(const TaskSpec& spec);
  // The Task's link changes (empty links: none); updates link_state_.
  absl::StatusOr<SequencerAction> PlanLinkChanges(const TaskSpec& spec);
  absl::StatusOr<SequencerAction::LinkChange> PlanLinkChange(
      const TaskSpec& spec, const LinkStepSpec& link);
  void ReleaseCommands(std::vector<SequencerAction>* out);
  // Adds the running Task's command `slot` to its host's Release, with the
  // instant `start_us` (controller clock).
  void AddToRelease(size_t slot, int64_t start_us, absl::Time now,
                    SequencerAction* release) const;
  void MaybeEndTask(std::vector<SequencerAction>* out);
  // Ends the running Task with `status`; chooses what runs next.
  void EndTask(emu::v1::TaskResult::Status status, const std::string& error,
               std::vector<SequencerAction>* out);
  void Finish(emu::v1::RunState state, const std::string& error,
              std::vector<SequencerAction>* out);
  void CancelOutstanding(emu::v1::CommandResult::Status as,
                         const std::string& why,
                         std::vector<SequencerAction>* out);
  void Event(emu::v1::ExperimentEvent::Kind kind, const std::string& message);
  absl::Duration Margin() const;
  void AdaptMargin(int64_t late_us);

  ExperimentSpec spec_;  // grows with AddTasks
  const emu::v1::Topology topology_;
  const std::map<std::string, std::string> node_hosts_;
  Clock* const clock_;
  const SequencerOptions options_;

  std::map<std::string, std::string> vars_;
  std::map<std::string, emu::v1::LinkParams> link_state_;  // "a<->b" a_to_b
  // link_state_ before the running Task planned its link changes.
  std::map<std::string, emu::v1::LinkParams> link_state_before_task_;
  std::set<std::string> lost_hosts_;
  std::map<std::string, int64_t> clock_offset_us_;  // host -> agent - ours
  emu::v1::RunResult result_;
  std::vector<emu::v1::ExperimentEvent> events_;
  bool started_ = false;
  bool finished_ = false;
  int steps_ = 0;
  size_t next_task_ = 0;
  uint64_t generation_;

  // The running Task.
  bool running_ = false;
  bool links_pending_ = false;
  size_t task_index_ = 0;
  emu::v1::TaskResult task_;
  std::map<std::string, int> command_slot_;          // id -> index in task_
  std::map<std::string, std::string> command_host_;  // id -> host
  std::set<std::string> outstanding_;                // ids not yet reported
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::Duration margin_;
  int64_t round_late_us_ = 0;  // the running Task's latest-ready command
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_SEQUENCER_H_
