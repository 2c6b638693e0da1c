// The management network on this host (ApplyLabRequest.mgmt;
// docs/topology.md, "Management network"): one bridge per lab in the
// agent's host namespace, tagged net::MgmtBridgeAlias, carrying the
// gateway addresses; its ports are the host ends of the nodes' eth0 and
// of containerlab's mgmt-net links (Interface.mgmt), which are host ends
// (reconciler_special_ends.cc) enslaved to it. Created, re-created after a
// crash, removed when no longer wanted and by Destroy; a bridge or
// address of the host's that is not this lab's is never touched: its name
// taken, or a subnet overlapping one on the host, is refused before
// anything is.
#include <sys/socket.h>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "agent/reconcile/apply_event.h"
#include "agent/reconcile/reconciler.h"
#include "common/status_macros.h"
#include "proto/topology_names.h"

namespace emu::agent::reconcile {
namespace {

using emu::v1::ApplyLabEvent;
using emu::v1::ApplyLabRequest;

constexpr char kRootNs[] = "";

// True when the two prefixes share an address.
bool Overlap(const net::Cidr& a, const net::Cidr& b) {
  return a.SamePrefix(b, std::min(a.prefix_len, b.prefix_len));
}

std::string MgmtSource(const emu::v1::ManagementNetwork& m) {
  return m.source().file().empty()
             ? std::string()
             : absl::StrCat(" (", m.source().file(), ":", m.source().line(),
                            ")");
}

}  // namespace

bool Reconciler::HasMgmtPorts(const ApplyLabRequest& spec) {
  for (const auto& node : spec.nodes()) {
    for (const auto& i : node.interfaces()) {
      if (i.mgmt()) return true;
    }
  }
  return false;
}

std::string Reconciler::MgmtBridgeOf(const ApplyLabRequest& spec) const {
  return spec.mgmt().bridge().empty() ? net::MgmtBridgeName(host_, spec.lab())
                                      : spec.mgmt().bridge();
}

ApplyLabRequest Reconciler::WithMgmtEndNames(
    const ApplyLabRequest& spec) const {
  ApplyLabRequest out = spec;
  for (auto& node : *out.mutable_nodes()) {
    for (auto& i : *node.mutable_interfaces()) {
      if (i.mgmt() && i.host_end().name().empty()) {
        i.mutable_host_end()->set_name(
            net::MgmtHostEndName(host_, spec.lab(), node.name(), i.name()));
      }
    }
  }
  return out;
}

bool Reconciler::NeedsMgmtEndNames(const ApplyLabRequest& spec) {
  for (const auto& node : spec.nodes()) {
    for (const auto& i : node.interfaces()) {
      if (i.mgmt() && i.host_end().name().empty()) return true;
    }
  }
  return false;
}

absl::Status Reconciler::CheckMgmtSpec(const ApplyLabRequest& desired) const {
  if (!HasMgmtPorts(desired)) return absl::OkStatus();
  const std::string object =
      absl::StrCat("lab ", desired.lab(), ": management network");
  if (!desired.has_mgmt()) {
    return absl::InvalidArgumentError(absl::StrCat(
        object, ": interfaces on it, but the spec has no mgmt settings"));
  }
  EMU_RETURN_IF_ERROR(Annotate(net::ValidateInterfaceName(MgmtBridgeOf(desired)),
                               absl::StrCat(object, ": bridge")));
  for (const std::string* gw :
       {&desired.mgmt().ipv4_gateway(), &desired.mgmt().ipv6_gateway()}) {
    if (gw->empty()) continue;
    EMU_RETURN_IF_ERROR(
        Annotate(net::ParseCidr(*gw).status(), absl::StrCat(object, ": gateway")));
  }
  if (!features_.bridge) {
    return absl::FailedPreconditionError(absl::StrCat(
        object, ": the kernel of host ", host_,
        " has no bridge driver (CONFIG_BRIDGE)"));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::CheckMgmtFree(const ApplyLabRequest& desired) {
  if (!HasMgmtPorts(desired)) return absl::OkStatus();
  const emu::v1::ManagementNetwork& m = desired.mgmt();
  const std::string bridge = MgmtBridgeOf(desired);
  std::vector<std::pair<std::string, net::Cidr>> subnets;
  for (const std::string* text : {&m.ipv4_subnet(), &m.ipv6_subnet()}) {
    if (text->empty()) continue;
    EMU_ASSIGN_OR_RETURN(net::Cidr c, net::ParseCidr(*text));
    subnets.push_back({*text, c});
  }
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> root,
                       net_->ListInterfaces(kRootNs));
  std::set<std::string> ours_devs = {bridge};  // their routes are the lab's
  for (const auto& r : root) {
    auto owner = net::ParseMgmtBridgeAlias(r.alias);
    const bool ours =
        owner && owner->host == host_ && owner->lab == desired.lab();
    if (ours) {  // this lab's own bridge (now or before)
      ours_devs.insert(r.name);
      continue;
    }
    std::string whose =
        owner ? absl::StrCat("the management bridge of lab ", owner->lab,
                             " (agent ", owner->host, ")")
              : "not made by emu";
    if (r.name == bridge) {
      return absl::FailedPreconditionError(absl::StrCat(
          "lab ", desired.lab(), ": management bridge ", bridge,
          MgmtSource(m), ": an interface of that name already exists on host ",
          host_, " (", whose,
          "); emu never takes over an interface it did not create for this "
          "lab: name another (mgmt: bridge)"));
    }
    auto host_end = net::ParseHostEndAlias(r.alias);
    if (host_end && host_end->host == host_ && host_end->lab == desired.lab()) {
      ours_devs.insert(r.name);
      continue;  // this lab's host link end: its addresses are the file's
    }
    for (const std::string& a : r.addresses) {
      auto have = net::ParseCidr(a);
      if (!have.ok() || have->IsIpv6LinkLocal()) continue;
      for (const auto& [text, subnet] : subnets) {
        if (!Overlap(subnet, *have)) continue;
        return absl::FailedPreconditionError(absl::StrCat(
            "lab ", desired.lab(), ": management subnet ", text, MgmtSource(m),
            " overlaps ", a, " on interface ", r.name, " of host ", host_,
            " (", whose,
            "): its route would take that subnet's traffic; choose a free "
            "one (mgmt: ",
            subnet.family == AF_INET ? "ipv4-subnet" : "ipv6-subnet", ")"));
      }
    }
  }
  // Routes through a gateway (connected ones were the addresses above),
  // but not a default route: it is there for whatever nothing else takes.
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::RouteInfo> routes,
                       net_->ListRoutes(kRootNs));
  for (const auto& route : routes) {
    auto dst = net::ParseCidr(route.destination);
    if (!dst.ok() || dst->prefix_len == 0 || dst->IsIpv6LinkLocal() ||
        ours_devs.count(route.dev) != 0) {
      continue;
    }
    for (const auto& [text, subnet] : subnets) {
      if (!Overlap(subnet, *dst)) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "lab ", desired.lab(), ": management subnet ", text, MgmtSource(m),
          " overlaps the route to ", route.destination,
          route.dev.empty() ? "" : absl::StrCat(" (dev ", route.dev, ")"),
          " of host ", host_,
          ": the host would send that subnet's traffic two ways; choose a "
          "free one (mgmt: ",
          subnet.family == AF_INET ? "ipv4-subnet" : "ipv6-subnet", ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ReconcileMgmtBridge(const ApplyLabRequest& desired,
                                             const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  const bool want = HasMgmtPorts(desired);
  const std::string bridge = want ? MgmtBridgeOf(desired) : std::string();
  const std::string alias = net::MgmtBridgeAlias(host_, lab, bridge);
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> root,
                       net_->ListInterfaces(kRootNs));
  bool present = false;
  for (const auto& r : root) {
    auto owner = net::ParseMgmtBridgeAlias(r.alias);
    const bool ours = owner && owner->host == host_ && owner->lab == lab;
    if (want && r.name == bridge) {
      if (!ours) {
        // CheckMgmtFree refuses this before anything is touched; here
        // after a restart, say: never taken over.
        return absl::FailedPreconditionError(absl::StrCat(
            "lab ", lab, ": management bridge ", bridge, " exists on host ",
            host_, " and is not this lab's"));
      }
      present = true;
      continue;
    }
    if (!ours) continue;
    // This lab's bridge under another name, or none wanted now.
    EMU_RETURN_IF_ERROR(net_->DeleteInterface(kRootNs, r.name));
    progress(MakeApplyEvent(ApplyLabEvent::REMOVED,
                            absl::StrCat("management bridge ", r.name)));
  }
  if (!want) return absl::OkStatus();
  const std::string object = absl::StrCat("management bridge ", bridge);
  if (!present) {
    EMU_RETURN_IF_ERROR(
        Annotate(net_->CreateBridge(kRootNs, bridge, alias), object));
    progress(MakeApplyEvent(
        ApplyLabEvent::NODE_CREATED, object,
        absl::StrCat("in the host namespace of ", host_, ", network ",
                     desired.mgmt().network())));
  }
  std::vector<std::string> gateways;
  for (const std::string* gw :
       {&desired.mgmt().ipv4_gateway(), &desired.mgmt().ipv6_gateway()}) {
    if (!gw->empty()) gateways.push_back(*gw);
  }
  return Annotate(net_->SetAddresses(kRootNs, bridge, gateways), object);
}

}  // namespace emu::agent::reconcile
