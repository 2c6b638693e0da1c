// DeployEvent helpers shared by LabManager's operations (deploy, apply,
// destroy): one event, an agent's ApplyLabEvent as a line, and a progress
// callback that several threads may call.
#ifndef EMU_CONTROLLER_LAB_DEPLOY_EVENTS_H_
#define EMU_CONTROLLER_LAB_DEPLOY_EVENTS_H_

#include <functional>
#include <string>

#include "proto/agent.pb.h"
#include "proto/controller.pb.h"

namespace emu::controller::lab {

// An event stamped now.
emu::v1::DeployEvent MakeEvent(std::string host, std::string message,
                               emu::v1::LabState state);

// "created node r1", "shaped link r1:eth1<->r2:eth1 (...)".
std::string AgentEventText(const emu::v1::ApplyLabEvent& e);

// `fn` behind a mutex: progress callbacks come from one thread per host;
// the caller's callback sees them one at a time.
std::function<void(const emu::v1::DeployEvent&)> Serialized(
    const std::function<void(const emu::v1::DeployEvent&)>& fn);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_DEPLOY_EVENTS_H_
