#include "agent/node/segment_driver.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "common/status_macros.h"
#include "proto/topology_names.h"

namespace emu::agent::node {
namespace {

// True when the namespace holding `ifaces` has the segment's bridge.
bool HasSegmentBridge(
    const std::vector<net::HostNetwork::InterfaceInfo>& ifaces) {
  for (const auto& i : ifaces) {
    if (i.name == kSegmentBridgeName) return i.kind == "bridge";
  }
  return false;
}

}  // namespace

SegmentDriver::SegmentDriver(emu::v1::NodeKind kind, std::string host,
                             net::HostNetwork* network, NetnsDriver* netns)
    : kind_(kind), host_(std::move(host)), net_(network), netns_(netns) {}

absl::Status SegmentDriver::Ensure(
    const emu::v1::ApplyLabRequest& desired,
    const std::vector<const emu::v1::Node*>& nodes,
    const ProgressFn& progress) {
  for (const emu::v1::Node* node : nodes) {
    int ports = 0;
    absl::Status s = EnsureSegment(desired.lab(), *node, &ports);
    if (!s.ok()) {
      return Annotate(s, absl::StrCat(NodeKindName(kind_), " ", node->name()));
    }
    progress(absl::StrCat("node ", node->name()),
             absl::StrCat(NodeKindName(kind_), ", ", ports, " ports"));
  }
  return absl::OkStatus();
}

absl::Status SegmentDriver::EnsureSegment(const std::string& lab,
                                          const emu::v1::Node& node,
                                          int* ports) {
  const std::string ns = net::NamespaceName(host_, lab, node.name());
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> ifaces,
                       net_->ListInterfaces(ns));
  const bool have_bridge = HasSegmentBridge(ifaces);
  if (!have_bridge) {
    // A non-bridge of that name cannot be a link end (the validator
    // refuses the name); ALREADY_EXISTS then says what holds it.
    EMU_RETURN_IF_ERROR(net_->CreateBridge(ns, kSegmentBridgeName));
  }
  // The ports are the link ends the reconciler made here (veths and tunnel
  // TAPs carry the lab's alias); it has removed the stale ones already.
  return EnslavePorts(lab, ns, ifaces, ports);
}

absl::Status SegmentDriver::EnslavePorts(
    const std::string& lab, const std::string& ns,
    const std::vector<net::HostNetwork::InterfaceInfo>& ifaces, int* ports) {
  const bool learning = kind_ != emu::v1::NODE_KIND_HUB;
  for (const auto& i : ifaces) {
    if (!net::IsLabAlias(i.alias, lab)) continue;
    if (i.master != kSegmentBridgeName) {
      EMU_RETURN_IF_ERROR(net_->SetMaster(ns, i.name, kSegmentBridgeName));
    }
    EMU_RETURN_IF_ERROR(net_->SetPortLearning(ns, i.name, learning));
    ++*ports;
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> SegmentDriver::AcceptsAttachments(const std::string& ns) {
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> ifaces,
                       net_->ListInterfaces(ns));
  return HasSegmentBridge(ifaces);
}

absl::Status SegmentDriver::EnsureAttachedPorts(const std::string& lab,
                                                const std::string& ns) {
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> ifaces,
                       net_->ListInterfaces(ns));
  const bool have_bridge = HasSegmentBridge(ifaces);
  if (!have_bridge) {
    return absl::NotFoundError(absl::StrCat(
        "segment namespace ", ns, " has no bridge ", kSegmentBridgeName,
        " (its lab is not deployed yet)"));
  }
  int ports = 0;
  return EnslavePorts(lab, ns, ifaces, &ports);
}

absl::Status SegmentDriver::ApplyEgress(const std::string& lab,
                                        const emu::v1::Node& node,
                                        const std::string& interface,
                                        const linkemu::QdiscPlan& plan) {
  return netns_->ApplyEgress(lab, node, interface, plan);
}

absl::StatusOr<emu::v1::ExecResponse> SegmentDriver::Exec(
    const emu::v1::ExecRequest& req) {
  return netns_->Exec(req);
}

}  // namespace emu::agent::node
