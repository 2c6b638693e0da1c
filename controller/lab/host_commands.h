// containerlab's `target: host` stage commands (StageExec.on_host) run as
// root on a node's host, in its agent's network namespace, outside every
// node: who may deploy them and which hosts run them (docs/security.md,
// "Host commands"). Both checks run before anything of the lab is created;
// the agent refuses such a command on its own too (ExecRequest.on_host).
#ifndef EMU_CONTROLLER_LAB_HOST_COMMANDS_H_
#define EMU_CONTROLLER_LAB_HOST_COMMANDS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/controller.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::lab {

// The nodes whose host commands run: every node, or only `only` when it is
// given (apply runs the stage commands of new nodes only).
struct HostCommandScope {
  const std::set<std::string>* only = nullptr;
};

// PERMISSION_DENIED naming each host command (file:line, node, stage) unless
// `admin` (the cluster token or an `--admin` user); `caller` is named.
absl::Status CheckHostCommandCaller(const emu::v1::Topology& topology,
                                    HostCommandScope scope, bool admin,
                                    const std::string& caller);

// FAILED_PRECONDITION naming each host command whose node is placed
// (`host_of`) on a host whose agent did not report
// Capabilities.host_commands (started without --allow_host_commands).
absl::Status CheckHostCommandHosts(
    const emu::v1::Topology& topology, HostCommandScope scope,
    const std::map<std::string, std::string>& host_of,
    const std::vector<emu::v1::HostStatus>& hosts);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_HOST_COMMANDS_H_
