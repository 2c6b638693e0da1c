// Live state of a lab's QEMU guests, as their agents observe them
// (AgentService.ListResources: a guest's STATE_FILE carries "booting",
// "ready" or "exited" and the exit reason): fills NodeStatus.state and
// state_detail of every qemu node whose host is reachable.
#ifndef EMU_CONTROLLER_LAB_GUEST_STATE_H_
#define EMU_CONTROLLER_LAB_GUEST_STATE_H_

#include <string>
#include <vector>

#include "controller/hosts/host_registry.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

// Asks each reachable host of a qemu node of `lab` once (in parallel).
// Returns "NODE (REASON)" for every guest whose QEMU is not running, in node
// order. A host that cannot answer leaves its guests' state as it was (the
// heartbeat reports the host). Thread-safe; blocks for at most one
// ListResources call.
std::vector<std::string> RefreshGuestStates(hosts::HostRegistry* hosts,
                                            emu::v1::Lab* lab);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_GUEST_STATE_H_
