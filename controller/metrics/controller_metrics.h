// What the controller tells Prometheus (besides RPC latencies,
// common/metrics/rpc_metrics.h): labs by state, nodes by state, hosts up
// or down, experiment runs by state (collectors over snapshots, so each
// scrape reads the truth, not a copy kept in step), and the barrier's
// timing per Task (histograms fed as Tasks end).
//
// Per-link and per-node counters: with Sources.stats, the emu_link_* and
// emu_node_* families (common/metrics/link_metrics.h) of every RUNNING or
// DEGRADED lab, as `emuctl stats` shows them (every host's share, merged);
// each agent's /metrics has its own share.
#ifndef EMU_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
#define EMU_CONTROLLER_METRICS_CONTROLLER_METRICS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics/metrics.h"
#include "proto/controller.pb.h"
#include "proto/experiment.pb.h"

namespace emu::controller::metrics {

// emu_labs{state}: every state, 0 included ("running", "degraded", ...);
// emu_nodes{state}: a guest's own state ("booting", "ready", "exited")
// when its agent reported one, else its lab's; emu_lab_nodes{lab,owner}
// (the store's keys "alice+core" as lab "core", owner "alice").
std::vector<emu::metrics::Family> LabFamilies(
    const std::vector<emu::v1::Lab>& labs);

// emu_hosts{state="up"|"down"}, emu_host_up{host}.
std::vector<emu::metrics::Family> HostFamilies(
    const std::vector<emu::v1::HostStatus>& hosts);

// emu_experiment_runs{state}: every state, 0 included.
std::vector<emu::metrics::Family> RunFamilies(
    const std::vector<emu::v1::ExperimentRunSummary>& runs);

// The sources of the collectors; each may fail (the family is then left
// out of that scrape, and emu_collector_errors_total{collector} counts it).
struct Sources {
  std::function<absl::StatusOr<std::vector<emu::v1::Lab>>()> labs;
  std::function<std::vector<emu::v1::HostStatus>()> hosts;
  std::function<absl::StatusOr<std::vector<emu::v1::ExperimentRunSummary>>()>
      runs;
  // The merged counters of a lab by key (LabManager::Stats); null: no
  // per-link families. Asked once per running lab at every scrape.
  std::function<absl::StatusOr<emu::v1::LabCounters>(const std::string&)>
      stats;
  int max_links_per_lab = 1000;
};
void AddControllerCollectors(emu::metrics::Registry* registry,
                             Sources sources);

// The barrier's timing, one observation per ended Task:
//   emu_experiment_task_skew_seconds: spread of its commands' starts
//     across hosts (what the barrier exists to keep small);
//   emu_experiment_task_gap_seconds: from the previous Task's end to this
//     Task's first command start (the barrier's overhead between Tasks;
//     not observed for a run's first Task);
//   emu_experiment_tasks_total{status}.
// Thread-safe.
class ExperimentMetrics {
 public:
  explicit ExperimentMetrics(emu::metrics::Registry* registry);
  // `previous`: the Task that ended before it in the same run, or null.
  void ObserveTask(const emu::v1::TaskResult& task,
                   const emu::v1::TaskResult* previous);

 private:
  emu::metrics::Histogram* const skew_;
  emu::metrics::Histogram* const gap_;
  emu::metrics::CounterFamily* const tasks_;
};

}  // namespace emu::controller::metrics

#endif  // EMU_CONTROLLER_METRICS_CONTROLLER_METRICS_H_
