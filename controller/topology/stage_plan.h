// containerlab's node stages for emu's deploy (docs/topology.md, "Stages"):
// which commands run in which order once a lab's nodes and links exist.
//
// emu's agents make every namespace and link of a lab at once, so a node's
// `create` and `create-links` stages are done for every node when the
// commands begin. What remains, per node and in order: its create-links
// on-exit commands, configure on-enter, configure on-exit, its `exec`
// lines, then (only when another node waits for this node's healthy stage,
// as containerlab does) healthy on-enter and on-exit. A `wait-for` makes a
// stage's entry wait until the other node's stage is done (its on-exit
// commands included). PlanStages turns that into levels: every step of a
// level may start once every step of the earlier levels is done; steps of
// one level run in parallel. Pure function.
#ifndef EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_
#define EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace emu::controller::topology {

// Commands run in order inside one node.
struct StageStep {
  std::string node;
  // "exec" for the node's exec lines, else "stages.configure on-enter", ...
  std::string what;
  std::vector<std::string> commands;
};

// The lab's post-deploy commands in levels (steps without commands are
// left out, and so are levels left empty). INVALID_ARGUMENT, naming the
// nodes, for a wait-for cycle or a wait the plan cannot honour (a create or
// create-links stage waiting for a later stage; an exit stage; an unknown
// node): the validator reports those first, with their lines.
absl::StatusOr<std::vector<std::vector<StageStep>>> PlanStages(
    const emu::v1::Topology& topology);

// "create", "create-links", ... (containerlab's names).
std::string StageName(emu::v1::NodeStage stage);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_STAGE_PLAN_H_
