// The segment kinds (bridge, switch, hub): a shared L2 segment is a Linux
// bridge (kSegmentBridgeName) inside the node's own network namespace, and
// every link end the reconciler made in that namespace (veth or tunnel TAP)
// is one of its ports. So a port's conditions are its link's, programmed on
// the port as on any link end, and a member on another host reaches the
// segment through its link's tunnel like any cross-host link.
//
// bridge (containerlab's kind) and switch learn addresses; a hub's ports
// learn nothing, so every frame is flooded to every other port.
//
// Thread-safe (HostNetwork is); one instance per kind.
#ifndef EMU_AGENT_NODE_SEGMENT_DRIVER_H_
#define EMU_AGENT_NODE_SEGMENT_DRIVER_H_

#include <string>
#include <vector>

#include "agent/net/host_network.h"
#include "agent/node/netns_driver.h"
#include "agent/node/node_driver.h"

namespace emu::agent::node {

class SegmentDriver : public NodeDriver {
 public:
  // `kind` is BRIDGE, SWITCH or HUB. A segment's namespace is a netns
  // node's: commands (tcpdump on a port, say) and port conditions go
  // through `netns`. Pointers are borrowed and must outlive the driver.
  SegmentDriver(emu::v1::NodeKind kind, std::string host,
                net::HostNetwork* network, NetnsDriver* netns);

  emu::v1::NodeKind kind() const override { return kind_; }
  bool ShapesOwnEgress() const override { return false; }
  // Creates the bridge if absent and makes every link end in the node's
  // namespace a port of it, learning or not as the kind says.
  absl::Status Ensure(const emu::v1::ApplyLabRequest& desired,
                      const std::vector<const emu::v1::Node*>& nodes,
                      const ProgressFn& progress) override;
  // An attaching lab's ports in another lab's segment: enslaved to its
  // bridge, learning as the kind says; the segment's own ports untouched.
  // NOT_FOUND while the segment has no bridge yet.
  absl::Status EnsureAttachedPorts(const std::string& lab,
                                   const std::string& ns) override;
  // The segment's bridge exists in `ns`.
  absl::StatusOr<bool> AcceptsAttachments(const std::string& ns) override;
  absl::Status ApplyEgress(const std::string& lab, const emu::v1::Node& node,
                           const std::string& interface,
                           const linkemu::QdiscPlan& plan) override;
  // The reconciler's netns driver serves commands in any namespace; a
  // segment claims none of its own.
  bool Holds(const std::string&, const std::string&) override { return false; }
  absl::StatusOr<emu::v1::ExecResponse> Exec(
      const emu::v1::ExecRequest& req) override;
  // The bridge lives and dies with the namespace, which is the reconciler's.
  absl::StatusOr<int> Destroy(const std::string&) override { return 0; }
  std::vector<emu::v1::OwnedResource> Observe(const std::string&) override {
    return {};
  }
  int CollectGarbage(const std::vector<std::string>&) override { return 0; }

 private:
  absl::Status EnsureSegment(const std::string& lab, const emu::v1::Node& node,
                             int* ports);
  // Makes the link ends of `lab` among `ifaces` (of `ns`) bridge ports.
  absl::Status EnslavePorts(
      const std::string& lab, const std::string& ns,
      const std::vector<net::HostNetwork::InterfaceInfo>& ifaces, int* ports);

  const emu::v1::NodeKind kind_;
  const std::string host_;
  net::HostNetwork* const net_;
  NetnsDriver* const netns_;
};

}  // namespace emu::agent::node

#endif  // EMU_AGENT_NODE_SEGMENT_DRIVER_H_
