#include "controller/lab/host_commands.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/topology/stage_plan.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {
namespace {

// "file:line: node n: stages.create-links on-enter exec `cmd` (target:
// host)" for each host command in scope, with `why` (empty: fine).
std::vector<std::string> Refusals(
    const emu::v1::Topology& topology, HostCommandScope scope,
    const std::function<std::string(const emu::v1::Node&)>& why) {
  std::vector<std::string> out;
  for (const emu::v1::Node& node : topology.nodes()) {
    if (scope.only != nullptr && scope.only->count(node.name()) == 0) continue;
    for (const emu::v1::StageExec& x : node.stage_execs()) {
      if (!x.on_host()) continue;
      const std::string reason = why(node);
      if (reason.empty()) continue;
      out.push_back(absl::StrCat(
          SourcePrefix(x.source()), "node ", node.name(), ": stages.",
          topology::StageName(x.stage()), x.on_exit() ? " on-exit" : " on-enter",
          " exec `", x.command(), "` (target: host): ", reason));
    }
  }
  return out;
}

}  // namespace

absl::Status CheckHostCommandCaller(const emu::v1::Topology& topology,
                                    HostCommandScope scope, bool admin,
                                    const std::string& caller) {
  if (admin) return absl::OkStatus();
  const std::vector<std::string> refused =
      Refusals(topology, scope, [&](const emu::v1::Node&) {
        return absl::StrCat(
            "it would run as root on the node's host, outside every node: "
            "only an administrator may deploy it (the cluster token, or a "
            "user added with `emuctl user add --admin`), and ",
            caller.empty() ? "the caller" : caller, " is not one");
      });
  if (refused.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrJoin(refused, "\n"));
}

absl::Status CheckHostCommandHosts(
    const emu::v1::Topology& topology, HostCommandScope scope,
    const std::map<std::string, std::string>& host_of,
    const std::vector<emu::v1::HostStatus>& hosts) {
  std::map<std::string, bool> allowed;
  for (const emu::v1::HostStatus& h : hosts) {
    allowed[h.name()] = h.capabilities().host_commands();
  }
  const std::vector<std::string> refused =
      Refusals(topology, scope, [&](const emu::v1::Node& node) {
        auto at = host_of.find(node.name());
        const std::string host = at == host_of.end() ? "" : at->second;
        auto it = allowed.find(host);
        if (it != allowed.end() && it->second) return std::string();
        return absl::StrCat(
            "the agent of host ", host.empty() ? "(none)" : host,
            ", where the node runs, was not started with "
            "--allow_host_commands, so it runs no host commands; restart it "
            "with that flag (a local cluster: `emuctl local start "
            "--allow-host-commands`), or pin the node to a host whose agent "
            "has it");
      });
  if (refused.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(refused, "\n"));
}

}  // namespace emu::controller::lab
