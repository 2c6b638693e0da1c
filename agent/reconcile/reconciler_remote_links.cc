// The Reconciler's handling of cross-host link ends (ApplyLabRequest.
// remote_links): checks, TAPs and tunnels through TunnelManager, TBF/NetEm
// on the TAP, their resources and state. Kept apart from reconciler.cc,
// which calls these from its phases.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "agent/reconcile/apply_event.h"
#include "agent/reconcile/reconciler.h"
#include "agent/tunnel/tunnel_manager.h"
#include "common/status_macros.h"
#include "linkemu/engine_choice.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent::reconcile {
namespace {

using emu::v1::ApplyLabEvent;
using emu::v1::RemoteLinkEnd;

// The conditions this end sends with: a's are a_to_b.
const emu::v1::LinkParams& SendingParams(const RemoteLinkEnd& r) {
  return r.local_is_a() ? r.link().a_to_b() : r.link().b_to_a();
}

const emu::v1::Endpoint& PeerEndpoint(const RemoteLinkEnd& r) {
  return r.local_is_a() ? r.link().b() : r.link().a();
}

absl::StatusOr<linkemu::QdiscPlan> SendingPlan(const RemoteLinkEnd& r) {
  auto plan = linkemu::PlanForLinkParams(SendingParams(r));
  if (!plan.ok()) {
    return Annotate(plan.status(),
                    absl::StrCat("link ", LinkName(r.link()),
                                 r.local_is_a() ? " a-to-b" : " b-to-a"));
  }
  return plan;
}

const char* DirectionName(const RemoteLinkEnd& r) {
  return r.local_is_a() ? "a-to-b" : "b-to-a";
}

// The engine of the direction this end sends (linkemu/engine_choice.h, as
// the controller's placement and status decide it): the kernel (TBF/NetEm
// on the TAP) or the tunnel's egress pipeline (TunnelPump::SetEgress). A
// guest's tunnel end is a host TAP too, so no guest exception here.
absl::StatusOr<linkemu::EngineUse> SendingEngine(
    const RemoteLinkEnd& r, const emu::v1::ApplyLabRequest& spec,
    bool has_netem, bool userspace, const std::string& host) {
  linkemu::SenderSide side;
  side.netem = has_netem;
  side.userspace = userspace;
  // A VXLAN device is never compensated (the engine is not on its path).
  auto use = linkemu::ChooseDirectionEngine(
      SendingParams(r), spec.engine(),
      spec.compensate() && !IsVxlanCarrier(spec), side);
  if (!use.ok()) {
    return absl::Status(
        use.status().code(),
        absl::StrCat("link ", LinkName(r.link()), " ", DirectionName(r), ": ",
                     use.status().message(), " (host ", host, ")"));
  }
  return use;
}

// Puts this end's sending conditions where `use` says: TBF/NetEm on the TAP
// (the pipeline passes through), or the tunnel's egress pipeline (no qdisc).
// Seeded as the engine seeds a same-host link's directions: 2·seed for
// a-to-b, 2·seed + 1 for b-to-a (linkemu/impair/link_engine.cc). A
// userspace direction that asks for compensation (its own `compensate`,
// else the lab's) gets its delay less the tunnel path's base and `parts`
// (TunnelManager::SetEgress).
absl::Status ApplySendingConditions(net::HostNetwork* net,
                                    tunnel::TunnelManager* tunnels,
                                    const std::string& lab, uint64_t lab_seed,
                                    bool lab_compensate, const std::string& ns,
                                    const RemoteLinkEnd& r,
                                    linkemu::EngineUse use,
                                    const linkemu::QdiscPlan& plan,
                                    const std::vector<linkemu::BasePart>& parts) {
  const bool userspace = use == linkemu::EngineUse::kUserspace;
  absl::Status s = net->ApplyQdiscs(ns, tunnel::LocalEndpoint(r).interface(),
                                    userspace ? linkemu::QdiscPlan() : plan);
  if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(r.link())));
  const uint64_t seed =
      linkemu::LinkSeed(lab_seed, LinkName(r.link()), std::random_device()());
  return tunnels->SetEgress(
      lab, r.link_id(),
      userspace ? linkemu::ImpairmentSpecFor(SendingParams(r))
                : linkemu::ImpairmentSpec(),
      seed * 2 + (r.local_is_a() ? 0 : 1),
      userspace &&
          linkemu::CompensationWanted(SendingParams(r), lab_compensate),
      parts);
}

}  // namespace

bool IsVxlanCarrier(const emu::v1::ApplyLabRequest& spec) {
  return spec.carrier() == "vxlan";
}

std::string PeerHostOf(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    size_t end = address.find(']');
    return end == absl::string_view::npos
               ? ""
               : std::string(address.substr(1, end - 1));
  }
  size_t colon = address.rfind(':');
  return std::string(colon == absl::string_view::npos
                         ? address
                         : address.substr(0, colon));
}

std::string VxlanAlias(absl::string_view lab, const RemoteLinkEnd& r,
                       uint16_t port) {
  return absl::StrCat(net::LinkAlias(lab, r.link()), " carrier=vxlan vni=",
                      r.vxlan_vni(), " remote=", PeerHostOf(r.peer_address()),
                      " port=", port);
}

bool Reconciler::EngineAvailable() const {
  return engine_links_ != nullptr && engine_links_->available();
}

absl::Status Reconciler::CheckRemoteLinks(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_set<std::string>& nodes, bool has_netem) const {
  if (desired.remote_links().empty()) return absl::OkStatus();
  const bool vxlan = IsVxlanCarrier(desired);
  if (!desired.carrier().empty() && !vxlan) {
    return absl::InvalidArgumentError(
        absl::StrCat("lab ", desired.lab(), ": carrier '", desired.carrier(),
                     "' is not one of tunnel, vxlan"));
  }
  if (vxlan && !features_.vxlan) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lab ", desired.lab(),
        " carries its cross-host links in kernel VXLAN devices (carrier: "
        "vxlan), but the kernel of host ",
        host_, " cannot create them (no CONFIG_VXLAN); use carrier: tunnel"));
  }
  if (tunnels_ == nullptr && !vxlan) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lab ", desired.lab(), " has cross-host links, but the agent on host ",
        host_,
        " carries no tunnels (started with --tunnel_listen=none, or "
        "its tunnel port was taken)"));
  }
  absl::flat_hash_set<std::string> ends, ids;
  for (const auto& link : desired.links()) {
    ends.insert(EndpointName(link.a()));
    ends.insert(EndpointName(link.b()));
  }
  for (const auto& r : desired.remote_links()) {
    std::string what = absl::StrCat("link ", LinkName(r.link()));
    const auto& local = tunnel::LocalEndpoint(r);
    if (!nodes.contains(local.node())) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": node ", local.node(),
                       " is not in this host's share of lab ", desired.lab()));
    }
    if (nodes.contains(PeerEndpoint(r).node())) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": both ends are on host ", host_,
          "; a link within one host is a veth (ApplyLabRequest.links)"));
    }
    if (r.link_id().empty() || r.peer_address().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what,
                       ": a cross-host link needs link_id and "
                       "peer_address"));
    }
    if (!ids.insert(r.link_id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": link id ", r.link_id(), " appears twice"));
    }
    if (!ends.insert(EndpointName(local)).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": interface ", EndpointName(local), " is used twice"));
    }
    EMU_RETURN_IF_ERROR(SendingPlan(r).status());
    EMU_RETURN_IF_ERROR(SendingEngine(r, desired, has_netem,
                                      EngineAvailable(), host_)
                            .status());
    if (!vxlan) continue;
    if (r.vxlan_vni() == 0 || r.vxlan_vni() > 0xFFFFFF) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": carrier vxlan needs a VNI in 1..16777215, got ",
          r.vxlan_vni()));
    }
    if (PeerHostOf(r.peer_address()).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": peer address '", r.peer_address(),
                       "' names no host for the VXLAN device"));
    }
    // The userspace engine cannot sit on a kernel VXLAN path: such a
    // direction is refused, before anything is created (the controller's
    // placement refuses it first; docs/tunnel.md, "Kernel VXLAN").
    linkemu::SenderSide side;
    side.netem = has_netem;
    side.userspace = EngineAvailable();
    const std::string problem = linkemu::VxlanDirectionProblem(
        SendingParams(r), desired.engine(), side);
    if (!problem.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, " ", DirectionName(r), ": ", problem, " (host ",
                       host_, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ApplyRemoteLinks(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
    const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  if (IsVxlanCarrier(desired)) {
    // Tunnels of this lab, if any, are no longer wanted (a lab's carrier
    // never changes while it runs; this only tidies).
    if (tunnels_ != nullptr) {
      EMU_RETURN_IF_ERROR(tunnels_->Apply(lab, {}).status());
    }
    return ApplyVxlanLinks(desired, nodes, progress);
  }
  if (tunnels_ == nullptr) return absl::OkStatus();
  std::vector<tunnel::TunnelEndSpec> ends;
  for (const auto& r : desired.remote_links()) {
    const auto& local = tunnel::LocalEndpoint(r);
    auto node = nodes.find(local.node());
    ends.push_back(tunnel::TunnelEndFor(
        lab,
        node == nodes.end() ? net::NamespaceName(host_, lab, local.node())
                            : NamespaceOf(lab, *node->second),
        r, node == nodes.end() ? nullptr : node->second));
  }
  // Also with no remote links: closes the tunnels the spec no longer names.
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> created,
                       tunnels_->Apply(lab, ends));
  for (const auto& id : created) {
    progress(MakeApplyEvent(ApplyLabEvent::LINK_CREATED, absl::StrCat("link ", id),
                   "tcp tunnel end"));
  }
  return absl::OkStatus();
}

std::vector<linkemu::BasePart> Reconciler::RemoteSendingParts(
    const emu::v1::ApplyLabRequest& spec, const RemoteLinkEnd& r,
    const emu::v1::Node* node, linkemu::EngineUse use) {
  std::vector<linkemu::BasePart> parts;
  const emu::v1::LinkParams& p = SendingParams(r);
  if (use != linkemu::EngineUse::kUserspace || p.delay_us() == 0 ||
      !linkemu::CompensationWanted(p, spec.compensate())) {
    return parts;
  }
  if (engine_links_ != nullptr) {
    if (auto part = engine_links_->EnginePathPart(); part.has_value()) {
      parts.push_back(*std::move(part));
    }
  }
  node::NodeDriver* driver = node != nullptr ? DriverFor(*node) : nullptr;
  if (driver != nullptr) {
    if (auto part = driver->PathPart(spec, *node,
                                     tunnel::LocalEndpoint(r).interface());
        part.has_value()) {
      parts.push_back(*std::move(part));
    }
  }
  return parts;
}

absl::Status Reconciler::ApplyRemoteLinkConditions(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
    const ProgressFn& progress) {
  if (IsVxlanCarrier(desired) || tunnels_ == nullptr) {
    return absl::OkStatus();  // ApplyVxlanLinks shaped those
  }
  const std::string& lab = desired.lab();
  for (const auto& r : desired.remote_links()) {
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    EMU_ASSIGN_OR_RETURN(linkemu::EngineUse use,
                         SendingEngine(r, desired, HasNetem(),
                                       EngineAvailable(), host_));
    const auto& local = tunnel::LocalEndpoint(r);
    auto node = nodes.find(local.node());
    const emu::v1::Node* n = node == nodes.end() ? nullptr : node->second;
    EMU_RETURN_IF_ERROR(ApplySendingConditions(
        net_, tunnels_, lab, desired.seed(), desired.compensate(),
        n == nullptr ? net::NamespaceName(host_, lab, local.node())
                     : NamespaceOf(lab, *n),
        r, use, plan, RemoteSendingParts(desired, r, n, use)));
    if (!plan.empty()) {
      progress(MakeApplyEvent(
          ApplyLabEvent::LINK_SHAPED, absl::StrCat("link ", LinkName(r.link())),
          absl::StrCat(DirectionName(r), " ",
                       use == linkemu::EngineUse::kUserspace
                           ? "userspace engine (tunnel egress) "
                           : "",
                       plan.DebugString())));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ApplyVxlanLinks(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
    const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  for (const auto& r : desired.remote_links()) {
    const auto& local = tunnel::LocalEndpoint(r);
    auto node = nodes.find(local.node());
    const std::string ns =
        node == nodes.end() ? net::NamespaceName(host_, lab, local.node())
                            : NamespaceOf(lab, *node->second);
    const std::string alias = VxlanAlias(lab, r, vxlan_port_);
    // RemoveStaleLinkEnds removed an end of ours with another alias (other
    // VNI, peer or port); one with this alias is kept as it is.
    EMU_ASSIGN_OR_RETURN(std::vector<net::HostNetwork::InterfaceInfo> ifaces,
                         net_->ListInterfaces(ns));
    bool present = false;
    for (const auto& i : ifaces) {
      if (i.name == local.interface() && i.alias == alias) present = true;
    }
    if (!present) {
      net::HostNetwork::VxlanSpec spec;
      spec.ns = ns;
      spec.ifname = local.interface();
      spec.vni = r.vxlan_vni();
      spec.remote = PeerHostOf(r.peer_address());
      spec.port = vxlan_port_;
      if (node != nodes.end()) {
        for (const auto& i : node->second->interfaces()) {
          if (i.name() != local.interface()) continue;
          spec.mac = i.mac();
          spec.mtu = i.mtu();
        }
      }
      absl::Status s = net_->CreateVxlan(spec, alias);
      if (!s.ok()) {
        return Annotate(s, absl::StrCat("link ", LinkName(r.link()), " (host ",
                                        host_, ")"));
      }
      progress(MakeApplyEvent(
          ApplyLabEvent::LINK_CREATED, absl::StrCat("link ", r.link_id()),
          absl::StrCat("vxlan end, VNI ", r.vxlan_vni(), " to ", spec.remote,
                       " port ", vxlan_port_)));
    }
    // The kernel shapes what this end sends: TBF (and NetEm where the host
    // has it) on the device; CheckRemoteLinks refused engine conditions.
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    absl::Status s = net_->ApplyQdiscs(ns, local.interface(), plan);
    if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(r.link())));
    if (!plan.empty()) {
      progress(MakeApplyEvent(
          ApplyLabEvent::LINK_SHAPED, absl::StrCat("link ", LinkName(r.link())),
          absl::StrCat(DirectionName(r), " ", plan.DebugString())));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::SetRemoteLinkParams(
    const emu::v1::SetLinkParamsRequest& req, emu::v1::ApplyLabRequest* spec) {
  for (auto& r : *spec->mutable_remote_links()) {
    emu::v1::Link& link = *r.mutable_link();
    bool same = EndpointName(link.a()) == EndpointName(req.a()) &&
                EndpointName(link.b()) == EndpointName(req.b());
    bool swapped = EndpointName(link.a()) == EndpointName(req.b()) &&
                   EndpointName(link.b()) == EndpointName(req.a());
    if (!same && !swapped) continue;
    *link.mutable_a_to_b() = same ? req.a_to_b() : req.b_to_a();
    *link.mutable_b_to_a() = same ? req.b_to_a() : req.a_to_b();
    absl::flat_hash_set<std::string> nodes = {tunnel::LocalEndpoint(r).node()};
    emu::v1::ApplyLabRequest check;
    check.set_lab(req.lab());
    check.set_engine(spec->engine());
    check.set_carrier(spec->carrier());
    *check.add_remote_links() = r;
    EMU_RETURN_IF_ERROR(CheckRemoteLinks(check, nodes, HasNetem()));
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    EMU_ASSIGN_OR_RETURN(linkemu::EngineUse use,
                         SendingEngine(r, *spec, HasNetem(),
                                       EngineAvailable(), host_));
    EMU_RETURN_IF_ERROR(store_->Save(*spec));
    std::string ns = net::NamespaceName(host_, req.lab(),
                                        tunnel::LocalEndpoint(r).node());
    const emu::v1::Node* local_node = nullptr;
    for (const auto& n : spec->nodes()) {
      if (n.name() == tunnel::LocalEndpoint(r).node()) {
        ns = NamespaceOf(req.lab(), n);
        local_node = &n;
      }
    }
    if (IsVxlanCarrier(*spec)) {
      // The qdisc is replaced in place (netlink replace).
      absl::Status s =
          net_->ApplyQdiscs(ns, tunnel::LocalEndpoint(r).interface(), plan);
      return s.ok() ? s
                    : Annotate(s, absl::StrCat("link ", LinkName(r.link())));
    }
    // A live change: the egress pipeline keeps held frames on their
    // schedule (docs/linkemu.md, "Live changes").
    return ApplySendingConditions(
        net_, tunnels_, req.lab(), spec->seed(), spec->compensate(), ns, r,
        use, plan, RemoteSendingParts(*spec, r, local_node, use));
  }
  return absl::NotFoundError(
      absl::StrCat("link ", EndpointName(req.a()), "<->", EndpointName(req.b()),
                   " is not in lab ", req.lab(), " on host ", host_));
}

void Reconciler::AddTunnelResources(const std::string& lab,
                                    emu::v1::ListResourcesResponse* resp) {
  if (tunnels_ == nullptr) return;
  for (const auto& t : tunnels_->List(lab)) {
    auto ref = net::ParseNamespaceName(host_, t.spec.tap.netns);
    auto* r = resp->add_resources();
    r->set_kind(emu::v1::OwnedResource::TUNNEL);
    r->set_lab(t.spec.lab);
    if (ref) r->set_node(ref->node);
    r->set_name(t.spec.link_id);
    r->set_state(t.state);
    r->set_peer_host(t.spec.peer_host);
    r->set_detail(t.connection.empty()
                      ? t.spec.tap.ifname
                      : absl::StrCat(t.spec.tap.ifname, " tcp ", t.connection));
  }
}

}  // namespace emu::agent::reconcile
