// The netns node kind: a network namespace is the whole node. Configured
// through netlink (sysctls, addresses, routes), shaped by qdiscs on its
// interfaces, commands run inside it by the process launcher.
//
// Thread-safe (HostNetwork and ProcessLauncher are).
#ifndef EMU_AGENT_NODE_NETNS_DRIVER_H_
#define EMU_AGENT_NODE_NETNS_DRIVER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/net/host_network.h"
#include "agent/node/node_driver.h"
#include "agent/node/node_sandbox.h"
#include "common/process_launcher.h"

namespace emu::agent::node {

class NetnsDriver : public NodeDriver {
 public:
  // Commands without a timeout of their own get this one.
  static constexpr absl::Duration kDefaultExecTimeout = absl::Seconds(60);

  // Pointers are borrowed and must outlive the driver.
  NetnsDriver(std::string host, net::HostNetwork* network,
              ProcessLauncher* launcher)
      : host_(std::move(host)), net_(network), launcher_(launcher) {}

  // Commands in the nodes (Exec) run in their sandboxes (node_sandbox.h),
  // each made by its node's first command; nullptr (the default) runs them in the node's
  // network namespace only, as root on the host. Call before any other
  // method; `sandbox` is borrowed and must outlive the driver.
  void SetSandbox(NodeSandbox* sandbox) { sandbox_ = sandbox; }
  NodeSandbox* sandbox() const { return sandbox_; }

  emu::v1::NodeKind kind() const override { return emu::v1::NODE_KIND_NETNS; }
  bool ShapesOwnEgress() const override { return false; }
  absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                      const std::vector<const emu::v1::Node*>& nodes,
                      const ProgressFn& progress) override;
  absl::Status ApplyEgress(const std::string& lab, const emu::v1::Node& node,
                           const std::string& interface,
                           const linkemu::QdiscPlan& plan) override;
  bool Holds(const std::string& lab, const std::string& node) override;
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req) override;
  // The namespace is the node: the reconciler removes it, nothing else runs.
  absl::StatusOr<int> Destroy(const std::string&) override { return 0; }
  std::vector<emu::v1::OwnedResource> Observe(const std::string&) override {
    return {};
  }
  int CollectGarbage(const std::vector<std::string>&) override { return 0; }

  // Sets `spec` to run in the node whose namespace is `ns`: that network
  // namespace and, with a sandbox, the node's sandbox (made if missing).
  absl::Status EnterNode(const std::string& ns, ProcessSpec* spec);

 private:
  // Sysctls, then addresses, then routes (a gateway must be on a connected
  // subnet before a route can use it).
  absl::Status Configure(const std::string& lab, const emu::v1::Node& node);

  const std::string host_;
  net::HostNetwork* const net_;
  ProcessLauncher* const launcher_;
  NodeSandbox* sandbox_ = nullptr;
};

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_NETNS_DRIVER_H_
