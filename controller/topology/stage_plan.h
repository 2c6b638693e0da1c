// containerlab's node stages for emu's deploy (docs/topology.md, "Stages"):
// which commands run in which order once a lab's nodes and links exist.
//
// emu's agents make every namespace and link of a lab at once; the stage
// commands run after that, per node in containerlab's order: create
// on-enter, create on-exit, create-links on-enter, create-links on-exit,
// configure on-enter, configure on-exit, its `exec` lines, then (only when
// another node waits for this node's healthy stage, as containerlab does)
// healthy on-enter and on-exit. A `wait-for` makes a stage's entry wait
// until the other node's stage is done (its on-exit commands included).
// PlanStages turns that into levels: every step of a level may start once
// every step of the earlier levels is done; steps of one level run in
// parallel. Pure function.
#ifndef EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_
#define EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace emu::controller::topology {

// One command of a step: inside the node, or (containerlab's `target:
// host`, StageExec.on_host) on its host, in its agent's network namespace.
struct StageCommand {
  std::string line;
  bool on_host = false;
};

// Commands run in order for one node.
struct StageStep {
  std::string node;
  // "exec" for the node's exec lines, else "stages.configure on-enter", ...
  std::string what;
  std::vector<StageCommand> commands;
};

// The lab's post-deploy commands in levels (steps without commands are
// left out, and so are levels left empty). INVALID_ARGUMENT, naming the
// nodes, for a wait-for cycle or what the plan cannot honour (an exit
// stage; an unknown node): the validator reports those first, with their
// lines.
absl::StatusOr<std::vector<std::vector<StageStep>>> PlanStages(
    const emu::v1::Topology& topology);

// "create", "create-links", ... (containerlab's names).
std::string StageName(emu::v1::NodeStage stage);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_
