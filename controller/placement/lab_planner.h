// PlanLab: what a deploy would do with a topology (where each node runs,
// each host's load against its capacity and balance limit, the links that
// cross hosts) without deploying anything. Backs `emuctl plan`.
#ifndef EMU_CONTROLLER_PLACEMENT_LAB_PLANNER_H_
#define EMU_CONTROLLER_PLACEMENT_LAB_PLANNER_H_

#include <string>

#include "absl/status/statusor.h"
#include "controller/hosts/host_registry.h"
#include "controller/lab/lab_manager.h"
#include "proto/controller.pb.h"
#include "proto/plan.pb.h"

namespace emu::controller::placement {

// Validates `request.source` (the errors DeployLab would give), refreshes
// the hosts, and places the topology with `request.options` if set, else
// the topology's own. Refuses what DeployLab would refuse of its `target:
// host` stage commands (docs/security.md, "Host commands"): a caller who
// is not `admin` (`caller` named), or a node placed on a host whose agent
// does not allow them. Thread-safe; no side effects on labs or agents.
absl::StatusOr<emu::v1::PlanLabResponse> PlanLab(
    const lab::LabManager& labs, hosts::HostRegistry* hosts,
    const emu::v1::PlanLabRequest& request, bool admin,
    const std::string& caller);

}  // namespace emu::controller::placement

#endif  // EMU_CONTROLLER_PLACEMENT_LAB_PLANNER_H_
