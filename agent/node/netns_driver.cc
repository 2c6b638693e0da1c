#include "agent/node/netns_driver.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "common/status_macros.h"

namespace emu::agent::node {

absl::Status NetnsDriver::Ensure(const emu::v1::ApplyLabRequest& desired,
                                 const std::vector<const emu::v1::Node*>& nodes,
                                 const ProgressFn& progress) {
  for (const emu::v1::Node* node : nodes) {
    EMU_RETURN_IF_ERROR(Configure(desired.lab(), *node));
    progress(absl::StrCat("node ", node->name()),
             absl::StrCat(node->interfaces_size(), " interfaces, ",
                          node->routes_size(), " routes"));
  }
  // No sandbox here: a node's is made by its first command (EnterNode), so
  // nodes that never run one cost no holder (node_sandbox.h).
  return absl::OkStatus();
}

absl::Status NetnsDriver::EnterNode(const std::string& ns, ProcessSpec* spec) {
  spec->netns = ns;
  if (sandbox_ == nullptr) return absl::OkStatus();
  EMU_ASSIGN_OR_RETURN(pid_t holder, sandbox_->Ensure(ns));
  spec->sandbox_holder = holder;
  spec->sandbox_caps = NodeCapabilities();
  return absl::OkStatus();
}

absl::Status NetnsDriver::Configure(const std::string& lab,
                                    const emu::v1::Node& node) {
  const std::string ns = net::NamespaceName(host_, lab, node.name());
  const std::string what = absl::StrCat("node ", node.name());
  std::vector<std::pair<std::string, std::string>> sysctls(
      node.sysctls().begin(), node.sysctls().end());
  std::sort(sysctls.begin(), sysctls.end());
  for (const auto& [key, value] : sysctls) {
    absl::Status s = net_->SetSysctl(ns, key, value);
    if (!s.ok()) return Annotate(s, what);
  }
  for (const auto& i : node.interfaces()) {
    // Interfaces without declared addresses are left alone: their
    // addresses belong to the node's exec lines (containerlab style).
    if (i.addresses().empty()) continue;
    std::vector<std::string> addrs(i.addresses().begin(), i.addresses().end());
    absl::Status s = net_->SetAddresses(ns, i.name(), addrs);
    if (!s.ok()) return Annotate(s, what);
  }
  for (const auto& r : node.routes()) {
    net::HostNetwork::RouteSpec spec;
    spec.destination = r.destination();
    spec.via = r.via();
    spec.dev = r.dev();
    spec.metric = r.metric();
    absl::Status s = net_->ReplaceRoute(ns, spec);
    if (!s.ok()) {
      return Annotate(s, absl::StrCat(what, ": route to ", r.destination()));
    }
  }
  return absl::OkStatus();
}

absl::Status NetnsDriver::ApplyEgress(const std::string& lab,
                                      const emu::v1::Node& node,
                                      const std::string& interface,
                                      const linkemu::QdiscPlan& plan) {
  return net_->ApplyQdiscs(net::NamespaceName(host_, lab, node.name()),
                           interface, plan);
}

bool NetnsDriver::Holds(const std::string& lab, const std::string& node) {
  const std::string ns = net::NamespaceName(host_, lab, node);
  auto found = net_->ListNamespaces(ns);
  return found.ok() &&
         std::find(found->begin(), found->end(), ns) != found->end();
}

absl::StatusOr<emu::v1::ExecResponse> NetnsDriver::Exec(
    const emu::v1::ExecRequest& req) {
  if (!Holds(req.lab(), req.node())) {
    return absl::NotFoundError(absl::StrCat(
        "node ", req.node(), " of lab ", req.lab(), " is not on host ", host_));
  }
  ProcessSpec spec;
  spec.argv.assign(req.argv().begin(), req.argv().end());
  // A host command (the reconciler allowed it) stays in the agent's own
  // network namespace, outside the node's sandbox.
  if (!req.on_host()) {
    EMU_RETURN_IF_ERROR(
        EnterNode(net::NamespaceName(host_, req.lab(), req.node()), &spec));
  }
  spec.stdin_data = req.stdin();
  spec.timeout = req.timeout_ms() > 0 ? absl::Milliseconds(req.timeout_ms())
                                      : kDefaultExecTimeout;
  EMU_ASSIGN_OR_RETURN(ProcessResult result, launcher_->Run(spec));
  emu::v1::ExecResponse resp;
  resp.set_exit_code(result.exit_code);
  resp.set_stdout(std::move(result.stdout_data));
  resp.set_stderr(std::move(result.stderr_data));
  resp.set_timed_out(result.timed_out);
  resp.set_start_unix_us(absl::ToUnixMicros(result.start));
  resp.set_end_unix_us(absl::ToUnixMicros(result.end));
  return resp;
}

}  // namespace emu::agent::node
