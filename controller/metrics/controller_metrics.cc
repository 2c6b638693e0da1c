#include "controller/metrics/controller_metrics.h"

#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "common/auth.h"
#include "common/metrics/link_metrics.h"
#include "proto/topology_names.h"

namespace emu::controller::metrics {
namespace {

using emu::metrics::Family;
using emu::metrics::MetricType;
using emu::metrics::NewFamily;

std::string Lower(std::string s) { return absl::AsciiStrToLower(s); }

std::string LabState(emu::v1::LabState s) {
  return Lower(emu::v1::LabState_Name(s));
}

std::string RunState(emu::v1::RunState s) {
  std::string name = emu::v1::RunState_Name(s);
  return Lower(std::string(absl::StripPrefix(name, "RUN_")));
}

// Every value of a state enum as a 0 sample first: a state that empties
// reads 0 instead of vanishing (PromQL rate/alerts see the drop).
void AddCounts(Family* f, const std::vector<std::string>& all,
               const std::map<std::string, int>& counts) {
  std::map<std::string, int> merged = counts;
  for (const std::string& s : all) merged.emplace(s, 0);
  for (const auto& [state, n] : merged) {
    f->samples.push_back({{state}, static_cast<double>(n)});
  }
}

}  // namespace

std::vector<Family> LabFamilies(const std::vector<emu::v1::Lab>& labs) {
  Family by_state = NewFamily("emu_labs", "Labs by state.", MetricType::kGauge,
                         {"state"});
  Family nodes = NewFamily("emu_nodes",
                      "Nodes by state: a guest's own (booting, ready, "
                      "exited) when known, else its lab's.",
                      MetricType::kGauge, {"state"});
  Family per_lab = NewFamily("emu_lab_nodes", "Nodes of each lab.",
                        MetricType::kGauge, {"lab", "owner"});
  std::map<std::string, int> lab_counts, node_counts;
  std::vector<std::string> lab_states;
  for (int s = emu::v1::LabState_MIN + 1; s <= emu::v1::LabState_MAX; ++s) {
    if (emu::v1::LabState_IsValid(s)) {
      lab_states.push_back(LabState(static_cast<emu::v1::LabState>(s)));
    }
  }
  for (const emu::v1::Lab& lab : labs) {
    const std::string state = LabState(lab.state());
    ++lab_counts[state];
    // A lab without node status (a file never deployed) counts its
    // topology's nodes.
    const int n = lab.nodes_size() > 0 ? lab.nodes_size()
                                       : lab.topology().nodes_size();
    for (const auto& node : lab.nodes()) {
      ++node_counts[node.state().empty() ? state : Lower(node.state())];
    }
    if (lab.nodes_size() == 0) node_counts[state] += n;
    // Stored labs are named by key ("alice+core"; the administrator's have
    // no owner part): labelled by short name and owner as users write them.
    const LabKeyParts key = SplitLabKey(lab.name());
    per_lab.samples.push_back(
        {{key.lab, key.owner.empty() ? std::string(Caller::kAdminName)
                                     : key.owner},
         static_cast<double>(n)});
  }
  AddCounts(&by_state, lab_states, lab_counts);
  AddCounts(&nodes, {}, node_counts);
  return {by_state, nodes, per_lab};
}

std::vector<Family> HostFamilies(
    const std::vector<emu::v1::HostStatus>& hosts) {
  Family by_state = NewFamily("emu_hosts", "Hosts by reachability.",
                         MetricType::kGauge, {"state"});
  Family up = NewFamily("emu_host_up", "1 when the host's agent answers.",
                   MetricType::kGauge, {"host"});
  std::map<std::string, int> counts;
  for (const auto& h : hosts) {
    ++counts[h.reachable() ? "up" : "down"];
    up.samples.push_back({{h.name()}, h.reachable() ? 1.0 : 0.0});
  }
  AddCounts(&by_state, {"up", "down"}, counts);
  return {by_state, up};
}

std::vector<Family> RunFamilies(
    const std::vector<emu::v1::ExperimentRunSummary>& runs) {
  Family f = NewFamily("emu_experiment_runs",
                  "Experiment runs this controller recorded, by state.",
                  MetricType::kGauge, {"state"});
  std::map<std::string, int> counts;
  for (const auto& r : runs) ++counts[RunState(r.state())];
  std::vector<std::string> all;
  for (int s = emu::v1::RunState_MIN + 1; s <= emu::v1::RunState_MAX; ++s) {
    if (emu::v1::RunState_IsValid(s)) {
      all.push_back(RunState(static_cast<emu::v1::RunState>(s)));
    }
  }
  AddCounts(&f, all, counts);
  return {f};
}

void AddControllerCollectors(emu::metrics::Registry* registry,
                             Sources sources) {
  emu::metrics::CounterFamily* errors = registry->AddCounter(
      "emu_collector_errors_total",
      "Scrapes in which a collector could not read its source (its "
      "families were left out).",
      {"collector"});
  auto add = [](std::vector<Family>* out, std::vector<Family> families) {
    for (Family& f : families) out->push_back(std::move(f));
  };
  if (sources.labs) {
    registry->AddCollector([labs = sources.labs, stats = sources.stats,
                            max_links = sources.max_links_per_lab, errors,
                            add](std::vector<Family>* out) {
      auto list = labs();
      if (!list.ok()) {
        errors->WithLabels({"labs"})->Increment();
        return;
      }
      add(out, LabFamilies(*list));
      if (!stats) return;
      std::vector<emu::v1::LabCounters> sampled;
      for (const emu::v1::Lab& lab : *list) {
        if (lab.state() != emu::v1::RUNNING &&
            lab.state() != emu::v1::DEGRADED) {
          continue;
        }
        auto counters = stats(lab.name());
        if (!counters.ok()) {
          errors->WithLabels({"link_counters"})->Increment();
          continue;
        }
        counters->set_lab(lab.name());
        sampled.push_back(*std::move(counters));
      }
      emu::metrics::LinkMetricsOptions options;
      options.max_links_per_lab = max_links;
      add(out, emu::metrics::LinkCounterFamilies(sampled, options));
    });
  }
  if (sources.hosts) {
    registry->AddCollector([hosts = sources.hosts, add](std::vector<Family>* out) {
      add(out, HostFamilies(hosts()));
    });
  }
  if (sources.runs) {
    registry->AddCollector([runs = sources.runs, errors,
                            add](std::vector<Family>* out) {
      auto list = runs();
      if (!list.ok()) {
        errors->WithLabels({"runs"})->Increment();
        return;
      }
      add(out, RunFamilies(*list));
    });
  }
}

ExperimentMetrics::ExperimentMetrics(emu::metrics::Registry* registry)
    : skew_(registry
                ->AddHistogram(
                    "emu_experiment_task_skew_seconds",
                    "Spread of a Task's command starts across its hosts.",
                    {}, emu::metrics::ExponentialBuckets(0.0001, 2, 16))
                ->WithLabels({})),
      gap_(registry
               ->AddHistogram(
                   "emu_experiment_task_gap_seconds",
                   "From the previous Task's end to a Task's first command "
                   "start: the barrier's overhead between Tasks.",
                   {}, emu::metrics::ExponentialBuckets(0.001, 2, 14))
               ->WithLabels({})),
      tasks_(registry->AddCounter("emu_experiment_tasks_total",
                                  "Tasks that ended, by status.",
                                  {"status"})) {}

void ExperimentMetrics::ObserveTask(const emu::v1::TaskResult& task,
                                    const emu::v1::TaskResult* previous) {
  std::string status = emu::v1::TaskResult::Status_Name(task.status());
  tasks_->WithLabels({Lower(status)})->Increment();
  int64_t first_start = 0;
  for (const auto& c : task.commands()) {
    if (c.start_unix_us() > 0 &&
        (first_start == 0 || c.start_unix_us() < first_start)) {
      first_start = c.start_unix_us();
    }
  }
  if (first_start == 0) return;  // skipped, or nothing started
  skew_->Observe(task.skew_us() / 1e6);
  if (previous != nullptr && previous->end_unix_us() > 0 &&
      first_start >= previous->end_unix_us()) {
    gap_->Observe((first_start - previous->end_unix_us()) / 1e6);
  }
}

}  // namespace emu::controller::metrics
