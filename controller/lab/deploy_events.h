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

// One host's deploy events for the client: each agent event as a line for
// a share of at most kEventsPerObjectUpTo objects (nodes and links), else
// progress lines, one per twentieth of the share and one at the end
// ("created 5000 of 10000 nodes, 7500 of 15000 links; shaped 7500 of 15000
// links"), so a 10k-node lab sends about twenty lines a host, not 25k.
// Not thread-safe: one per host, fed by that host's stream.
class HostProgress {
 public:
  static constexpr int kEventsPerObjectUpTo = 200;

  HostProgress(std::string host, const emu::v1::ApplyLabRequest& share,
               emu::v1::LabState state,
               std::function<void(const emu::v1::DeployEvent&)> out);

  void OnAgentEvent(const emu::v1::ApplyLabEvent& e);

 private:
  std::string Summary() const;

  const std::string host_;
  const emu::v1::LabState state_;
  const std::function<void(const emu::v1::DeployEvent&)> out_;
  const int nodes_, links_;
  const bool aggregate_;
  const int step_;  // objects between two progress lines
  int created_nodes_ = 0, created_links_ = 0, configured_nodes_ = 0,
      shaped_links_ = 0, removed_ = 0;
  int since_last_ = 0;
};

// `fn` behind a mutex: progress callbacks come from one thread per host;
// the caller's callback sees them one at a time.
std::function<void(const emu::v1::DeployEvent&)> Serialized(
    const std::function<void(const emu::v1::DeployEvent&)>& fn);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_DEPLOY_EVENTS_H_
