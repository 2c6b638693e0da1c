// containerlab's host, dummy and vxlan links on this host
// (Interface.host_end, .dummy, .vxlan; docs/topology.md, "containerlab
// files"): a veth whose other end lives in the root namespace under the
// name the file gives, an interface without a peer, or a VXLAN device to a
// VTEP outside the lab (its UDP socket in the agent's namespace). Owned by
// alias (net::HostEndAlias, net::DummyAlias, net::VxlanEndAlias) like
// every link end: created, re-created after a crash,
// removed when no longer wanted and by Destroy; an interface of the host's
// that is not this lab's is never touched.
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

// The root namespace: the one this agent runs in (HostNetwork's "").
constexpr char kRootNs[] = "";

std::string HostLinkName(const emu::v1::Node& node,
                         const emu::v1::Interface& i) {
  return absl::StrCat(node.name(), ":", i.name(), "<->host:",
                      i.host_end().name());
}

}  // namespace

std::string Reconciler::SpecialEndAlias(const std::string& lab,
                                        const emu::v1::Node& node,
                                        const emu::v1::Interface& i) const {
  if (i.dummy()) return net::DummyAlias(lab, node.name(), i.name());
  if (i.has_vxlan()) {
    return net::VxlanEndAlias(lab, node.name(), i.name(), i.vxlan().vni(),
                              i.vxlan().remote(), i.vxlan().port());
  }
  return net::HostEndAlias(host_, lab, node.name(), i.name(),
                           i.host_end().name());
}

absl::Status Reconciler::CheckSpecialEnds(
    const ApplyLabRequest& desired) const {
  bool any_dummy = false;
  bool any_vxlan = false;
  for (const auto& node : desired.nodes()) {
    for (const auto& i : node.interfaces()) {
      if ((i.bridge() || !i.master().empty()) &&
          (node.kind() != emu::v1::NODE_KIND_NETNS ||
           !node.foreign_lab().empty())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "interface ", EndpointName(node.name(), i.name()),
            ": a bridge inside a node (and its ports) need a netns node"));
      }
      if (!IsSpecialEnd(i)) continue;
      const std::string object =
          absl::StrCat("interface ", EndpointName(node.name(), i.name()));
      if (i.has_vxlan()) {
        if (i.dummy() || i.has_host_end() || i.vxlan().vni() == 0 ||
            i.vxlan().vni() >= (1u << 24) || i.vxlan().port() == 0 ||
            i.vxlan().port() > 65535 || i.vxlan().remote().empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              object, ": a vxlan end needs a remote, a VNI (1..16777215) "
                      "and a port, and is no host or dummy end"));
        }
        if (node.kind() != emu::v1::NODE_KIND_NETNS ||
            !node.foreign_lab().empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(object, ": a vxlan link needs a netns node"));
        }
        any_vxlan = true;
        continue;
      }
      if (i.dummy() && i.has_host_end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(object, ": both a dummy and a host link's end"));
      }
      if (node.kind() != emu::v1::NODE_KIND_NETNS ||
          !node.foreign_lab().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            object, ": host and dummy links need a netns node"));
      }
      any_dummy = any_dummy || i.dummy();
      if (i.has_host_end()) {
        EMU_RETURN_IF_ERROR(
            Annotate(net::ValidateInterfaceName(i.host_end().name()),
                     absl::StrCat(object, ": host end")));
      }
    }
  }
  if (any_vxlan && !features_.vxlan) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host ", host_,
        ": the kernel has no VXLAN driver (CONFIG_VXLAN), so containerlab's "
        "vxlan links cannot be made here"));
  }
  if (any_dummy && !features_.dummy && !features_.ifb) {
    return absl::FailedPreconditionError(absl::StrCat(
        "host ", host_,
        ": the kernel has neither the dummy nor the ifb interface driver "
        "(CONFIG_DUMMY, CONFIG_IFB), so containerlab's dummy links cannot "
        "be made here"));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::CheckHostEndsFree(const ApplyLabRequest& desired) {
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> root,
                       net_->ListInterfaces(kRootNs));
  absl::flat_hash_map<std::string, const net::HostNetwork::InterfaceInfo*>
      by_name;
  for (const auto& r : root) by_name[r.name] = &r;
  for (const auto& node : desired.nodes()) {
    for (const auto& i : node.interfaces()) {
      if (!i.has_host_end()) continue;
      auto it = by_name.find(i.host_end().name());
      if (it == by_name.end()) continue;
      auto owner = net::ParseHostEndAlias(it->second->alias);
      // This agent's own for this lab (wanted or stale, converged below).
      if (owner && owner->host == host_ && owner->lab == desired.lab()) {
        continue;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "interface ", EndpointName(node.name(), i.name()),
          ": host interface ", i.host_end().name(), " already exists on host ",
          host_,
          owner ? absl::StrCat(" as the host end of lab ", owner->lab,
                               " (agent ", owner->host, ")")
                : " and was not made by emu",
          ": emu never takes over an interface it did not create for this "
          "lab; choose another host-interface name"));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ReconcileSpecialEnds(const ApplyLabRequest& desired,
                                              const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  // Host end name -> the alias it must carry.
  absl::flat_hash_map<std::string, std::string> wanted_host_ends;
  for (const auto& node : desired.nodes()) {
    for (const auto& i : node.interfaces()) {
      if (i.has_host_end()) {
        wanted_host_ends[i.host_end().name()] = SpecialEndAlias(lab, node, i);
      }
    }
  }
  EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> root,
                       net_->ListInterfaces(kRootNs));
  absl::flat_hash_map<std::string, std::string> root_alias;
  absl::flat_hash_map<std::string, std::string> root_master;
  for (const auto& r : root) {
    root_master[r.name] = r.master;
    auto owner = net::ParseHostEndAlias(r.alias);
    const bool ours = owner && owner->host == host_ && owner->lab == lab;
    auto want = wanted_host_ends.find(r.name);
    if (ours && (want == wanted_host_ends.end() || want->second != r.alias)) {
      // No longer wanted, or now another node's: the pair goes.
      EMU_RETURN_IF_ERROR(net_->DeleteInterface(kRootNs, r.name));
      progress(MakeApplyEvent(ApplyLabEvent::REMOVED,
                            absl::StrCat("host interface ", r.name)));
      continue;
    }
    root_alias[r.name] = r.alias;
  }
  for (const auto& node : desired.nodes()) {
    bool special = false;
    for (const auto& i : node.interfaces()) {
      special = special || IsSpecialEnd(i);
    }
    if (!special) continue;
    const std::string ns = NamespaceOf(lab, node);
    EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> inside,
                         net_->ListInterfaces(ns));
    absl::flat_hash_map<std::string, std::string> alias_inside;
    for (const auto& x : inside) alias_inside[x.name] = x.alias;
    for (const auto& i : node.interfaces()) {
      if (!IsSpecialEnd(i)) continue;
      const std::string alias = SpecialEndAlias(lab, node, i);
      auto in = alias_inside.find(i.name());
      const bool node_end = in != alias_inside.end() && in->second == alias;
      if (i.has_vxlan()) {
        if (node_end) continue;
        const emu::v1::VxlanEnd& v = i.vxlan();
        net::HostNetwork::VxlanSpec spec;
        spec.ns = ns;
        spec.ifname = i.name();
        spec.mac = i.mac();
        spec.mtu = i.mtu();
        spec.vni = v.vni();
        spec.remote = v.remote();
        spec.port = static_cast<uint16_t>(v.port());
        const std::string what =
            absl::StrCat("link ", EndpointName(node.name(), i.name()), " (",
                         VxlanEndText(v), ")");
        absl::Status s = net_->CreateVxlan(spec, alias);
        if (!s.ok()) return Annotate(s, what);
        progress(MakeApplyEvent(ApplyLabEvent::LINK_CREATED, what,
                                "a VXLAN device to a VTEP outside the lab"));
        continue;
      }
      if (i.dummy()) {
        if (node_end) continue;
        net::HostNetwork::DummySpec spec;
        spec.ns = ns;
        spec.ifname = i.name();
        spec.kind = features_.dummy ? "dummy" : "ifb";
        spec.mac = i.mac();
        spec.mtu = i.mtu();
        absl::Status s = net_->CreateDummy(spec, alias);
        if (!s.ok()) {
          return Annotate(s, absl::StrCat("dummy link ",
                                          EndpointName(node.name(), i.name())));
        }
        progress(MakeApplyEvent(
            ApplyLabEvent::LINK_CREATED,
            absl::StrCat("dummy ", EndpointName(node.name(), i.name())),
            spec.kind == "dummy" ? "" : "ifb: this kernel has no dummy driver"));
        continue;
      }
      const std::string& peer = i.host_end().name();
      auto out = root_alias.find(peer);
      const bool host_side = out != root_alias.end() && out->second == alias;
      if (out != root_alias.end() && !host_side) {
        // Not ours (CheckHostEndsFree refuses this before anything is
        // touched; here after a restart, say): never taken over.
        return absl::FailedPreconditionError(absl::StrCat(
            "link ", HostLinkName(node, i), ": host interface ", peer,
            " exists on host ", host_, " and is not this lab's"));
      }
      if (!node_end || !host_side) {
        // A half-present pair (one end deleted by hand) is rebuilt whole.
        if (node_end) EMU_RETURN_IF_ERROR(net_->DeleteInterface(ns, i.name()));
        if (host_side) EMU_RETURN_IF_ERROR(net_->DeleteInterface(kRootNs, peer));
        net::HostNetwork::VethEnd a{ns, i.name(), i.mac(), i.mtu()};
        net::HostNetwork::VethEnd b{kRootNs, peer, i.host_end().mac(),
                                    i.mtu()};
        absl::Status s = net_->CreateVeth(a, b, alias);
        if (!s.ok()) {
          return Annotate(s, absl::StrCat("link ", HostLinkName(node, i)));
        }
        progress(MakeApplyEvent(ApplyLabEvent::LINK_CREATED,
                              absl::StrCat("link ", HostLinkName(node, i)),
                              i.mgmt() ? "on the management bridge"
                                       : "host end in the root namespace"));
      }
      if (i.mgmt()) {
        // A port of the lab's management bridge (ReconcileMgmtBridge made
        // it); a fresh pair has no master yet.
        const std::string bridge = MgmtBridgeOf(desired);
        if (!host_side || root_master[peer] != bridge) {
          EMU_RETURN_IF_ERROR(Annotate(
              net_->SetMaster(kRootNs, peer, bridge),
              absl::StrCat("link ", HostLinkName(node, i))));
        }
      }
      if (i.host_end().addresses_size() > 0) {
        std::vector<std::string> cidrs(i.host_end().addresses().begin(),
                                       i.host_end().addresses().end());
        EMU_RETURN_IF_ERROR(Annotate(net_->SetAddresses(kRootNs, peer, cidrs),
                                     absl::StrCat("link ",
                                                  HostLinkName(node, i))));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ReconcileNodeBridges(const ApplyLabRequest& desired,
                                              const ProgressFn& progress) {
  for (const auto& node : desired.nodes()) {
    bool any = false;
    for (const auto& i : node.interfaces()) any = any || i.bridge();
    if (!any) continue;
    const std::string ns = NamespaceOf(desired.lab(), node);
    EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> inside,
                         net_->ListInterfaces(ns));
    absl::flat_hash_map<std::string, const net::HostNetwork::InterfaceInfo*>
        by_name;
    for (const auto& x : inside) by_name[x.name] = &x;
    for (const auto& i : node.interfaces()) {
      if (!i.bridge()) continue;
      const std::string object = absl::StrCat(
          "bridge ", i.name(), " in node ", node.name());
      auto it = by_name.find(i.name());
      if (it != by_name.end()) {
        if (it->second->kind != "bridge") {
          return absl::FailedPreconditionError(absl::StrCat(
              object, ": node ", node.name(), " has an interface ", i.name(),
              " that is not a bridge (",
              it->second->kind.empty() ? "no kind" : it->second->kind, ")"));
        }
        continue;
      }
      EMU_RETURN_IF_ERROR(Annotate(net_->CreateBridge(ns, i.name()), object));
      progress(MakeApplyEvent(ApplyLabEvent::NODE_CREATED, object,
                              "containerlab bridge inside the node"));
    }
    for (const auto& i : node.interfaces()) {
      if (i.master().empty()) continue;
      auto it = by_name.find(i.name());
      if (it != by_name.end() && it->second->master == i.master()) continue;
      EMU_RETURN_IF_ERROR(net_->SetMaster(ns, i.name(), i.master()));
    }
  }
  return absl::OkStatus();
}

int Reconciler::RemoveHostEnds(const std::string& lab, absl::Status* first) {
  auto root = net_->ListInterfaces(kRootNs);
  if (!root.ok()) {
    if (first->ok()) *first = root.status();
    return 0;
  }
  int removed = 0;
  for (const auto& r : *root) {
    auto owner = net::ParseHostEndAlias(r.alias);
    auto bridge = net::ParseMgmtBridgeAlias(r.alias);
    const bool ours =
        (owner && owner->host == host_ && owner->lab == lab) ||
        (bridge && bridge->host == host_ && bridge->lab == lab);
    if (!ours) continue;
    absl::Status s = net_->DeleteInterface(kRootNs, r.name);
    if (s.ok()) {
      ++removed;
    } else if (first->ok()) {
      *first = s;
    }
  }
  return removed;
}

void Reconciler::AddHostEndResources(const std::string& lab,
                                     emu::v1::ListResourcesResponse* resp) {
  auto root = net_->ListInterfaces(kRootNs);
  if (!root.ok()) return;
  for (const auto& r : *root) {
    if (auto bridge = net::ParseMgmtBridgeAlias(r.alias);
        bridge && bridge->host == host_ && (lab.empty() || bridge->lab == lab)) {
      auto* res = resp->add_resources();
      res->set_kind(emu::v1::OwnedResource::INTERFACE);
      res->set_lab(bridge->lab);
      res->set_name(absl::StrCat("mgmt-bridge:", r.name));
      continue;
    }
    auto owner = net::ParseHostEndAlias(r.alias);
    if (!owner || owner->host != host_ || (!lab.empty() && owner->lab != lab)) {
      continue;
    }
    auto* res = resp->add_resources();
    res->set_kind(emu::v1::OwnedResource::INTERFACE);
    res->set_lab(owner->lab);
    res->set_node(owner->node);
    res->set_name(absl::StrCat("host:", r.name));
  }
}

}  // namespace emu::agent::reconcile
