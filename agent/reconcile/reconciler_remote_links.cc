// The Reconciler's handling of cross-host link ends (ApplyLabRequest.
// remote_links): checks, TAPs and tunnels through TunnelManager, TBF/NetEm
// on the TAP, their resources and state. Kept apart from reconciler.cc,
// which calls these from its phases.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "agent/reconcile/reconciler.h"
#include "agent/tunnel/tunnel_manager.h"
#include "common/status_macros.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent::reconcile {
namespace {

using emu::v1::ApplyLabEvent;
using emu::v1::RemoteLinkEnd;

ApplyLabEvent Event(ApplyLabEvent::Kind kind, std::string object,
                    std::string detail) {
  ApplyLabEvent e;
  e.set_kind(kind);
  e.set_object(std::move(object));
  e.set_detail(std::move(detail));
  return e;
}

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

}  // namespace

absl::Status Reconciler::CheckRemoteLinks(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_set<std::string>& nodes, bool has_netem) const {
  if (desired.remote_links().empty()) return absl::OkStatus();
  if (tunnels_ == nullptr) {
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
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    if (plan.needs_netem() && !has_netem) {
      return absl::FailedPreconditionError(absl::StrCat(
          what,
          ": delay, jitter, loss, duplicate, reorder and corrupt need NetEm, "
          "but the kernel of host ",
          host_, " has no sch_netem (only rate shaping with TBF is possible)"));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ApplyRemoteLinks(
    const emu::v1::ApplyLabRequest& desired,
    const absl::flat_hash_map<std::string, const emu::v1::Node*>& nodes,
    const ProgressFn& progress) {
  if (tunnels_ == nullptr) return absl::OkStatus();
  const std::string& lab = desired.lab();
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
    progress(Event(ApplyLabEvent::LINK_CREATED, absl::StrCat("link ", id),
                   "tcp tunnel end"));
  }
  for (const auto& r : desired.remote_links()) {
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    const auto& local = tunnel::LocalEndpoint(r);
    auto node = nodes.find(local.node());
    absl::Status s = net_->ApplyQdiscs(
        node == nodes.end() ? net::NamespaceName(host_, lab, local.node())
                            : NamespaceOf(lab, *node->second),
        local.interface(), plan);
    if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(r.link())));
    if (!plan.empty()) {
      progress(Event(ApplyLabEvent::LINK_SHAPED,
                     absl::StrCat("link ", LinkName(r.link())),
                     absl::StrCat(r.local_is_a() ? "a-to-b " : "b-to-a ",
                                  plan.DebugString())));
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
    bool has_netem = std::find(features_.qdiscs.begin(), features_.qdiscs.end(),
                               "netem") != features_.qdiscs.end();
    emu::v1::ApplyLabRequest check;
    check.set_lab(req.lab());
    *check.add_remote_links() = r;
    EMU_RETURN_IF_ERROR(CheckRemoteLinks(check, nodes, has_netem));
    EMU_RETURN_IF_ERROR(store_->Save(*spec));
    EMU_ASSIGN_OR_RETURN(linkemu::QdiscPlan plan, SendingPlan(r));
    std::string ns = net::NamespaceName(host_, req.lab(),
                                        tunnel::LocalEndpoint(r).node());
    for (const auto& n : spec->nodes()) {
      if (n.name() == tunnel::LocalEndpoint(r).node()) {
        ns = NamespaceOf(req.lab(), n);
      }
    }
    return net_->ApplyQdiscs(ns, tunnel::LocalEndpoint(r).interface(), plan);
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
