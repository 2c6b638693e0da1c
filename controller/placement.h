// Placement: which physical host runs each virtual node. A pure function of
// the topology and the hosts' reported state, so it is deterministic and
// tested without agents.
//
// This version keeps every link on one host (links between hosts need the
// TCP tunnel carrier): pinned nodes go to their host; the other nodes join
// the host that already holds most pinned nodes, or else the first host (by
// name) that supports every node kind and has the most free CPUs. A link
// whose ends are pinned to different hosts is refused with an error saying
// so. Capabilities are checked here, before anything is created: node kind
// per host, and sch_netem on the sending host of every direction that asks
// for delay/jitter/loss/duplicate/reorder/corrupt.
#ifndef EMU_CONTROLLER_PLACEMENT_H_
#define EMU_CONTROLLER_PLACEMENT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/controller.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller {

struct Placement {
  std::map<std::string, std::string> host_of_node;  // node -> host
  // Host -> that host's share (nodes and links), ready for ApplyLab.
  std::map<std::string, emu::v1::ApplyLabRequest> per_host;
};

// True when `p` asks for anything only NetEm can do.
bool NeedsNetem(const emu::v1::LinkParams& p);

// Only hosts with reachable() set are used. INVALID_ARGUMENT for a pin to an
// unknown host; FAILED_PRECONDITION when no host can take a node or a link;
// UNAVAILABLE when no host is reachable.
absl::StatusOr<Placement> PlaceTopology(
    const emu::v1::Topology& topology,
    const std::vector<emu::v1::HostStatus>& hosts);

}  // namespace emu::controller

#endif  // EMU_CONTROLLER_PLACEMENT_H_
