// Live state of a lab's cross-host links, as the agents observe their TCP
// tunnels (AgentService.ListResources, OwnedResource TUNNEL): fills
// LinkStatus.state of every "tcp-tunnel" link whose hosts are reachable
// with "up" or the first end's reason ("h2: connecting to h1 (...)").
#ifndef EMU_CONTROLLER_LAB_LINK_STATE_H_
#define EMU_CONTROLLER_LAB_LINK_STATE_H_

#include <string>
#include <vector>

#include "controller/hosts/host_registry.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

// Asks each reachable host of a tunnel link of `lab` once (in parallel).
// Returns "LINK (STATE)" for every link that is not up, in link order
// (with `names` false none: a caller that polls counts the states). A
// host that cannot answer leaves its links' state as it was (the heartbeat
// reports the host). Thread-safe; blocks for at most one ListResources call.
std::vector<std::string> RefreshTunnelStates(hosts::HostRegistry* hosts,
                                             emu::v1::Lab* lab,
                                             bool names = true);

// Fills LinkStatus.engine_a_to_b / engine_b_to_a of every link of `lab`
// (its topology, node kinds and hosts already set) with the engine each
// direction uses on its sender's host, as the agent decides it
// (linkemu/engine_choice.h): "kernel", "userspace" or "none"; "?" when the
// host is not in `hosts` or could not serve it. A cross-host link's
// directions are its tunnel's (the egress pipeline, or TBF/NetEm on the
// TAP); with the lab's `carrier: vxlan` only the kernel's (a userspace
// choice with nothing to apply is "none"; the carrier itself is
// LinkStatus.carrier). Pure.
void FillLinkEngines(const std::vector<emu::v1::HostStatus>& hosts,
                     emu::v1::Lab* lab);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LINK_STATE_H_
