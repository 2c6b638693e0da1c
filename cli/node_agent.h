// For the verbs that talk to a node's own agent (console, restart): finds
// the agent that runs a node (GetLab names the node's host, ListHosts its
// agent's address) and opens a GuestService stub to it with the cluster's
// token.
#ifndef EMU_CLI_NODE_AGENT_H_
#define EMU_CLI_NODE_AGENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "cli/connection.h"
#include "proto/guest.grpc.pb.h"

namespace emu::cli {

struct NodeAgent {
  std::string host;     // the node's host name
  std::string address;  // its agent, host:port
  // The lab as the agent names it (emu::LabKey: "core", "alice+core").
  std::string lab_key;
  std::unique_ptr<v1::GuestService::Stub> stub;
};

// NOT_FOUND for an unknown lab or node; FAILED_PRECONDITION when the node
// is not a qemu guest; UNAVAILABLE when its host is unreachable.
absl::StatusOr<NodeAgent> FindGuestAgent(ControllerConnection& c,
                                         const std::string& lab,
                                         const std::string& node);

}  // namespace emu::cli

#endif  // EMU_CLI_NODE_AGENT_H_
