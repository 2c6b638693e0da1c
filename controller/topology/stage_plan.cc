#include "controller/topology/stage_plan.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace emu::controller::topology {
namespace {

using emu::v1::NodeStage;

// A node's events after the lab exists, in the order the node passes them.
// create and create-links come first, as in containerlab, but run once
// emu has made every node and link of the lab (docs/topology.md, "Stages").
enum Event {
  kCreateEnter = 0,
  kCreateExit,
  kCreateLinksEnter,
  kCreateLinksExit,
  kConfigureEnter,
  kConfigureExit,
  kExecLines,
  kHealthyEnter,
  kHealthyExit,
  kEvents
};

const char* EventName(int e) {
  switch (e) {
    case kCreateEnter: return "stages.create on-enter";
    case kCreateExit: return "stages.create on-exit";
    case kCreateLinksEnter: return "stages.create-links on-enter";
    case kCreateLinksExit: return "stages.create-links on-exit";
    case kConfigureEnter: return "stages.configure on-enter";
    case kConfigureExit: return "stages.configure on-exit";
    case kExecLines: return "exec";
    case kHealthyEnter: return "stages.healthy on-enter";
    default: return "stages.healthy on-exit";
  }
}

// The events at which a node enters and leaves a stage: its waits hang at
// the first, "stage done" is the second. -1 for exit (never, for emu).
std::pair<int, int> StageEvents(NodeStage s) {
  switch (s) {
    case emu::v1::NODE_STAGE_CREATE: return {kCreateEnter, kCreateExit};
    case emu::v1::NODE_STAGE_CREATE_LINKS:
      return {kCreateLinksEnter, kCreateLinksExit};
    case emu::v1::NODE_STAGE_CONFIGURE:
      return {kConfigureEnter, kConfigureExit};
    case emu::v1::NODE_STAGE_HEALTHY: return {kHealthyEnter, kHealthyExit};
    default: return {-1, -1};
  }
}

int ExecEvent(const emu::v1::StageExec& x) {
  const auto [enter, exit] = StageEvents(x.stage());
  return x.on_exit() ? exit : enter;
}

}  // namespace

std::string StageName(NodeStage stage) {
  switch (stage) {
    case emu::v1::NODE_STAGE_CREATE: return "create";
    case emu::v1::NODE_STAGE_CREATE_LINKS: return "create-links";
    case emu::v1::NODE_STAGE_CONFIGURE: return "configure";
    case emu::v1::NODE_STAGE_HEALTHY: return "healthy";
    case emu::v1::NODE_STAGE_EXIT: return "exit";
    default: return "unspecified";
  }
}

absl::StatusOr<std::vector<std::vector<StageStep>>> PlanStages(
    const emu::v1::Topology& topology) {
  const int n = topology.nodes_size();
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < n; ++i) index.emplace(topology.nodes(i).name(), i);
  // Event id = node * kEvents + event; deps[id] = events it waits for.
  std::vector<std::vector<int>> deps(static_cast<size_t>(n) * kEvents);
  std::vector<bool> healthy_waited(n, false);
  for (int i = 0; i < n; ++i) {
    const emu::v1::Node& node = topology.nodes(i);
    for (const emu::v1::StageWait& w : node.stage_waits()) {
      const std::string what =
          absl::StrCat("node ", node.name(), ": stages.", StageName(w.stage()),
                       " waits for ", w.node(), "'s ", StageName(w.node_stage()));
      auto other = index.find(w.node());
      if (other == index.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": no node ", w.node()));
      }
      const int done = StageEvents(w.node_stage()).second;
      const int enter = StageEvents(w.stage()).first;
      if (done < 0 || enter < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": a netns node never reaches its exit stage while its lab "
                  "is up"));
      }
      if (w.node_stage() == emu::v1::NODE_STAGE_HEALTHY) {
        healthy_waited[other->second] = true;
      }
      deps[i * kEvents + enter].push_back(other->second * kEvents + done);
    }
  }
  // Within a node, every event follows the one before.
  for (int i = 0; i < n; ++i) {
    for (int e = 1; e < kEvents; ++e) {
      deps[i * kEvents + e].push_back(i * kEvents + e - 1);
    }
  }
  // Longest path from the start: an event's level is one more than its
  // latest dependency's. Iterative DFS, 0 unseen, 1 on the stack, 2 done.
  std::vector<int> level(deps.size(), 0);
  std::vector<char> state(deps.size(), 0);
  for (size_t root = 0; root < deps.size(); ++root) {
    if (state[root] == 2) continue;
    std::vector<std::pair<int, size_t>> stack{{static_cast<int>(root), 0}};
    state[root] = 1;
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      if (next < deps[id].size()) {
        const int d = deps[id][next++];
        if (state[d] == 1) {
          std::vector<std::string> cycle;
          bool in = false;
          for (const auto& [s, unused] : stack) {
            in = in || s == d;
            if (in) {
              cycle.push_back(absl::StrCat(topology.nodes(s / kEvents).name(),
                                           " (", EventName(s % kEvents), ")"));
            }
          }
          return absl::InvalidArgumentError(absl::StrCat(
              "stages: wait-for cycle: ", absl::StrJoin(cycle, " -> "),
              " -> ", topology.nodes(d / kEvents).name()));
        }
        if (state[d] == 0) {
          state[d] = 1;
          stack.push_back({d, 0});
        }
        continue;
      }
      int l = 0;
      for (int d : deps[id]) l = std::max(l, level[d] + 1);
      level[id] = l;
      state[id] = 2;
      stack.pop_back();
    }
  }
  std::map<int, std::vector<StageStep>> by_level;
  for (int i = 0; i < n; ++i) {
    const emu::v1::Node& node = topology.nodes(i);
    std::vector<std::vector<StageCommand>> commands(kEvents);
    for (const emu::v1::StageExec& x : node.stage_execs()) {
      const int e = ExecEvent(x);
      if (e < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "node ", node.name(), ": stages.", StageName(x.stage()),
            x.on_exit() ? " on-exit" : " on-enter",
            " has no moment in emu's deploy"));
      }
      commands[e].push_back(StageCommand{x.command(), x.on_host()});
    }
    for (const std::string& line : node.exec()) {
      commands[kExecLines].push_back(StageCommand{line, false});
    }
    if (!healthy_waited[i]) {
      // containerlab enters healthy only when a node waits for it.
      commands[kHealthyEnter].clear();
      commands[kHealthyExit].clear();
    }
    for (int e = 0; e < kEvents; ++e) {
      if (commands[e].empty()) continue;
      by_level[level[i * kEvents + e]].push_back(
          StageStep{node.name(), EventName(e), std::move(commands[e])});
    }
  }
  std::vector<std::vector<StageStep>> out;
  for (auto& [l, steps] : by_level) out.push_back(std::move(steps));
  return out;
}

}  // namespace emu::controller::topology
