#include "agent/reconcile/reconciler.h"

#include <algorithm>
#include <optional>
#include <random>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/net/resource_names.h"
#include "agent/reconcile/apply_event.h"
#include "common/status_macros.h"
#include "linkemu/qdisc_plan.h"
#include "proto/topology_names.h"

namespace emu::agent::reconcile {
namespace {

using emu::v1::ApplyLabEvent;
using emu::v1::ApplyLabRequest;

constexpr absl::Duration kKillGrace = absl::Seconds(2);

const emu::v1::Interface* FindInterface(const emu::v1::Node& node,
                                        const std::string& name) {
  for (const auto& i : node.interfaces()) {
    if (i.name() == name) return &i;
  }
  return nullptr;
}

// Qdisc plans of both directions of a link, validated.
struct LinkPlans {
  linkemu::QdiscPlan a_to_b;
  linkemu::QdiscPlan b_to_a;
};

// `guest_a`/`guest_b`: that end is a guest shaping its own egress (its
// NetEm takes more than a host's: linkemu::IsGuestNetemKey).
absl::StatusOr<LinkPlans> PlansFor(const emu::v1::Link& link, bool guest_a,
                                   bool guest_b) {
  LinkPlans plans;
  auto ab = linkemu::PlanForLinkParams(link.a_to_b(), guest_a);
  if (!ab.ok()) {
    return Annotate(ab.status(),
                    absl::StrCat("link ", LinkName(link), " a-to-b"));
  }
  auto ba = linkemu::PlanForLinkParams(link.b_to_a(), guest_b);
  if (!ba.ok()) {
    return Annotate(ba.status(),
                    absl::StrCat("link ", LinkName(link), " b-to-a"));
  }
  plans.a_to_b = *std::move(ab);
  plans.b_to_a = *std::move(ba);
  return plans;
}

}  // namespace

Reconciler::Reconciler(std::string host, net::HostNetwork* network,
                       ProcessLauncher* launcher,
                       net::NamespaceProcesses* procs,
                       const LabSpecStore* store,
                       net::HostNetwork::KernelFeatures features,
                       tunnel::TunnelManager* tunnels,
                       impair::EngineLinks* engine_links)
    : host_(std::move(host)),
      net_(network),
      launcher_(launcher),
      procs_(procs),
      store_(store),
      features_(std::move(features)),
      tunnels_(tunnels),
      engine_links_(engine_links),
      netns_(host_, network, launcher) {
  drivers_[emu::v1::NODE_KIND_NETNS] = &netns_;
}

void Reconciler::AddDriver(node::NodeDriver* driver) {
  drivers_[driver->kind()] = driver;
}

node::NodeDriver* Reconciler::DriverFor(const emu::v1::Node& node) const {
  int kind = node.kind() == emu::v1::NODE_KIND_UNSPECIFIED
                 ? emu::v1::NODE_KIND_NETNS
                 : node.kind();
  auto it = drivers_.find(kind);
  return it == drivers_.end() ? nullptr : it->second;
}

absl::Status Reconciler::ApplyEgress(const std::string& lab,
                                     const emu::v1::Node* node,
                                     const emu::v1::Endpoint& end,
                                     const linkemu::QdiscPlan& plan) {
  emu::v1::Node unknown;
  if (node == nullptr) {
    unknown.set_name(end.node());
    node = &unknown;
  }
  node::NodeDriver* driver = DriverFor(*node);
  if (driver == nullptr) driver = &netns_;
  if (!node->foreign_lab().empty()) {
    // This lab's port in another lab's segment: that namespace.
    emu::v1::Node there = *node;
    there.set_name(node->foreign_node());
    return driver->ApplyEgress(node->foreign_lab(), there, end.interface(),
                               plan);
  }
  return driver->ApplyEgress(lab, *node, end.interface(), plan);
}

std::string Reconciler::NamespaceOf(const std::string& lab,
                                    const emu::v1::Node& node) const {
  return net::NodeNamespace(host_, lab, node);
}

absl::StatusOr<std::vector<const emu::v1::Node*>> Reconciler::AbsentAnchors(
    const ApplyLabRequest& spec) {
  std::vector<const emu::v1::Node*> absent;
  for (const auto& node : spec.nodes()) {
    if (node.foreign_lab().empty()) continue;
    const std::string ns = NamespaceOf(spec.lab(), node);
    EMU_ASSIGN_OR_RETURN(std::vector<std::string> found,
                         net_->ListNamespaces(ns));
    bool ready = std::find(found.begin(), found.end(), ns) != found.end();
    if (ready) {
      // The exporter's ApplyLab makes the namespace before the bridge.
      node::NodeDriver* driver = DriverFor(node);
      if (driver == nullptr) driver = &netns_;
      auto accepts = driver->AcceptsAttachments(ns);
      ready = accepts.ok() && *accepts;
    }
    if (!ready) absent.push_back(&node);
  }
  return absent;
}

absl::Status Reconciler::WaitForAnchors(const ApplyLabRequest& spec) {
  const absl::Time deadline = absl::Now() + anchor_wait_;
  while (true) {
    EMU_ASSIGN_OR_RETURN(std::vector<const emu::v1::Node*> absent,
                         AbsentAnchors(spec));
    if (absent.empty()) return absl::OkStatus();
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      std::vector<std::string> names;
      for (const emu::v1::Node* n : absent) {
        names.push_back(absl::StrCat("node ", n->name(), " (segment ",
                                     n->foreign_lab(), "/", n->foreign_node(),
                                     ")"));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "lab ", spec.lab(), ": community segment not deployed on host ",
          host_, " after ", absl::FormatDuration(anchor_wait_), ": ",
          absl::StrJoin(names, ", "),
          " (its lab is not running here now, or is still being deployed); "
          "the attachment's port cannot be made, nothing changed"));
    }
    // The exporter's own ApplyLab may be creating it right now.
    absl::SleepFor(std::min(absl::Milliseconds(20), left));
  }
}

ApplyLabRequest Reconciler::WithoutAnchors(
    const ApplyLabRequest& spec,
    const std::vector<const emu::v1::Node*>& absent_nodes) {
  if (absent_nodes.empty()) return spec;
  absl::flat_hash_set<std::string> absent;
  for (const emu::v1::Node* n : absent_nodes) absent.insert(n->name());
  ApplyLabRequest out = spec;
  out.clear_nodes();
  out.clear_links();
  out.clear_remote_links();
  for (const auto& node : spec.nodes()) {
    if (!absent.contains(node.name())) *out.add_nodes() = node;
  }
  for (const auto& link : spec.links()) {
    if (!absent.contains(link.a().node()) &&
        !absent.contains(link.b().node())) {
      *out.add_links() = link;
    }
  }
  for (const auto& r : spec.remote_links()) {
    if (!absent.contains(tunnel::LocalEndpoint(r).node())) {
      *out.add_remote_links() = r;
    }
  }
  return out;
}

absl::Mutex* Reconciler::LabMutex(const std::string& lab) {
  absl::MutexLock lock(&mu_);
  auto& m = lab_mu_[lab];
  if (m == nullptr) m = std::make_unique<absl::Mutex>();
  return m.get();
}

absl::Status Reconciler::CheckSpec(const ApplyLabRequest& desired) const {
  if (!emu::IsValidLabKey(desired.lab())) {
    return absl::InvalidArgumentError(
        absl::StrCat("lab name '", desired.lab(),
                     "': use 1-32 letters, digits, '-' or '_' (a user's lab: "
                     "OWNER+LAB, proto/topology_names.h)"));
  }
  const bool has_netem = HasNetem();
  absl::flat_hash_set<std::string> nodes;
  absl::flat_hash_set<std::string> guest_nodes;  // NetEm inside the node
  for (const auto& node : desired.nodes()) {
    if (!net::IsValidName(node.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("node name '", node.name(), "' is not valid"));
    }
    if (!nodes.insert(node.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node.name(), " appears twice"));
    }
    if (!node.foreign_lab().empty() &&
        (!emu::IsValidLabKey(node.foreign_lab()) ||
         !net::IsValidName(node.foreign_node()) ||
         node.foreign_lab() == desired.lab() ||
         !emu::IsSegmentKind(node.kind()))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ", node.name(), ": an anchor names a segment (switch, hub, "
          "bridge) of another lab by lab key and node name"));
    }
    const node::NodeDriver* driver = DriverFor(node);
    if (driver != nullptr && driver->ShapesOwnEgress()) {
      guest_nodes.insert(node.name());
    } else if (driver == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", node.name(), ": kind ", emu::v1::NodeKind_Name(node.kind()),
          " is not supported by the agent on host ", host_));
    }
  }
  for (const auto& link : desired.links()) {
    for (const auto* e : {&link.a(), &link.b()}) {
      if (!nodes.contains(e->node())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "link ", LinkName(link), ": node ", e->node(),
            " is not in this host's share of lab ", desired.lab()));
      }
    }
    EMU_RETURN_IF_ERROR(PlansFor(link, guest_nodes.contains(link.a().node()),
                                 guest_nodes.contains(link.b().node()))
                            .status());
    EMU_RETURN_IF_ERROR(EnginesFor(desired, link, guest_nodes).status());
  }
  EMU_RETURN_IF_ERROR(CheckSpecialEnds(desired));
  EMU_RETURN_IF_ERROR(CheckMgmtSpec(desired));
  return CheckRemoteLinks(desired, nodes, has_netem);
}

absl::Status Reconciler::Apply(const ApplyLabRequest& request,
                               const ProgressFn& progress) {
  // Management interfaces' host ends get this agent's names first: the
  // saved spec has them, so every later reconcile finds the same ends.
  std::optional<ApplyLabRequest> named;
  if (NeedsMgmtEndNames(request)) named = WithMgmtEndNames(request);
  const ApplyLabRequest& desired = named ? *named : request;
  EMU_RETURN_IF_ERROR(CheckSpec(desired));
  absl::MutexLock lock(LabMutex(desired.lab()));
  // A host end's or the management bridge's name taken by something not
  // ours, or a management subnet the host routes already: refused before
  // the spec is saved or anything touched.
  EMU_RETURN_IF_ERROR(CheckHostEndsFree(desired));
  EMU_RETURN_IF_ERROR(CheckMgmtFree(desired));
  return ApplyLocked(desired, progress);
}

absl::Status Reconciler::ApplyLocked(const ApplyLabRequest& spec,
                                     const ProgressFn& progress,
                                     AbsentAnchor absent) {
  // Anchors before anything is saved or touched: a refused spec leaves the
  // host and its saved spec as they were.
  if (absent == AbsentAnchor::kWaitThenFail) {
    EMU_RETURN_IF_ERROR(WaitForAnchors(spec));
  }
  EMU_RETURN_IF_ERROR(store_->Save(spec));
  std::vector<const emu::v1::Node*> skipped;
  if (absent == AbsentAnchor::kSkip) {
    EMU_ASSIGN_OR_RETURN(skipped, AbsentAnchors(spec));
  }
  const ApplyLabRequest desired = WithoutAnchors(spec, skipped);
  EMU_ASSIGN_OR_RETURN(EngineIndex engines, EnginesOf(desired));
  if (engine_links_ != nullptr) {
    // Engine links no longer wanted go first: their TAPs vanish with them
    // (and an open TAP would pin a namespace about to be deleted).
    absl::flat_hash_set<std::string> keep;
    for (const auto& [name, e] : engines) {
      if (e.userspace_link()) keep.insert(name);
    }
    engine_links_->Retain(desired.lab(), keep);
  }
  EMU_RETURN_IF_ERROR(ReconcileNamespaces(desired, progress));
  NodeIndex nodes;
  for (const auto& node : desired.nodes()) nodes[node.name()] = &node;
  EMU_ASSIGN_OR_RETURN(InterfaceIndex ifaces, ObserveInterfaces(desired));
  EMU_RETURN_IF_ERROR(RemoveStaleLinkEnds(desired, ifaces, engines, progress));
  EMU_RETURN_IF_ERROR(
      CreateMissingLinks(desired, nodes, ifaces, engines, progress));
  EMU_RETURN_IF_ERROR(ReconcileMgmtBridge(desired, progress));
  EMU_RETURN_IF_ERROR(ReconcileSpecialEnds(desired, progress));
  EMU_RETURN_IF_ERROR(ApplyRemoteLinks(desired, nodes, progress));
  EMU_RETURN_IF_ERROR(ReconcileNodeBridges(desired, progress));
  EMU_RETURN_IF_ERROR(EnsureNodes(desired, progress));
  EMU_RETURN_IF_ERROR(ApplyLinkConditions(desired, nodes, engines, progress));
  EMU_RETURN_IF_ERROR(ApplyRemoteLinkConditions(desired, nodes, progress));
  progress(MakeApplyEvent(ApplyLabEvent::DONE, absl::StrCat("lab ", desired.lab()),
                 absl::StrCat(desired.nodes_size(), " nodes, ",
                              desired.links_size(), " links")));
  return absl::OkStatus();
}

absl::Status Reconciler::ReconcileNamespaces(const ApplyLabRequest& desired,
                                             const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> existing,
                       net_->ListNamespaces(net::NamespacePrefix(host_, lab)));
  absl::flat_hash_set<std::string> present(existing.begin(), existing.end());
  absl::flat_hash_set<std::string> wanted;
  for (const auto& node : desired.nodes()) {
    wanted.insert(net::NamespaceName(host_, lab, node.name()));
  }
  // Identities of the wanted namespaces, looked up only when a name goes:
  // a name that shares a namespace that stays (Node.netns_of) is only
  // unmounted, its processes are the other name's too.
  std::optional<absl::flat_hash_set<std::string>> wanted_ids;
  auto stays = [&](const std::string& ns) {
    if (!wanted_ids) {
      wanted_ids.emplace();
      for (const auto& w : wanted) {
        if (!present.contains(w)) continue;
        if (auto id = net_->NamespaceId(w); id.ok()) wanted_ids->insert(*id);
      }
    }
    auto id = net_->NamespaceId(ns);
    return id.ok() && wanted_ids->contains(*id);
  };
  // Anchors' namespaces are their own lab's: never created or removed here.
  for (const auto& ns : existing) {
    if (wanted.contains(ns)) continue;
    if (!stays(ns)) EMU_RETURN_IF_ERROR(procs_->KillAll(ns, kKillGrace));
    EMU_RETURN_IF_ERROR(net_->DeleteNamespace(ns));
    progress(MakeApplyEvent(ApplyLabEvent::REMOVED, absl::StrCat("namespace ", ns)));
  }
  // Own namespaces first, then the names that share one of them.
  for (bool sharing : {false, true}) {
    for (const auto& node : desired.nodes()) {
      if (!node.foreign_lab().empty()) continue;
      if (node.netns_of().empty() == sharing) continue;
      std::string ns = net::NamespaceName(host_, lab, node.name());
      if (sharing) {
        EMU_RETURN_IF_ERROR(Annotate(
            EnsureSharedNamespace(lab, node, present.contains(ns)),
            absl::StrCat("node ", node.name())));
        if (present.contains(ns)) continue;
      } else {
        if (present.contains(ns)) continue;
        absl::Status s = net_->CreateNamespace(ns);
        if (!s.ok() && !absl::IsAlreadyExists(s)) {
          return Annotate(s, absl::StrCat("node ", node.name()));
        }
      }
      progress(MakeApplyEvent(ApplyLabEvent::NODE_CREATED,
                              absl::StrCat("node ", node.name()), ns));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::EnsureSharedNamespace(const std::string& lab,
                                               const emu::v1::Node& node,
                                               bool present) {
  const std::string ns = net::NamespaceName(host_, lab, node.name());
  const std::string target = net::NamespaceName(host_, lab, node.netns_of());
  if (present) {
    auto mine = net_->NamespaceId(ns);
    auto theirs = net_->NamespaceId(target);
    if (mine.ok() && theirs.ok() && *mine == *theirs) return absl::OkStatus();
    // Its own namespace from before (the node did not share), or a name of
    // a target namespace that was made anew: replaced.
    if (mine.ok() && theirs.ok()) {
      EMU_RETURN_IF_ERROR(procs_->KillAll(ns, kKillGrace));
    }
    EMU_RETURN_IF_ERROR(net_->DeleteNamespace(ns));
  }
  return net_->ShareNamespace(target, ns);
}

absl::StatusOr<Reconciler::InterfaceIndex> Reconciler::ObserveInterfaces(
    const ApplyLabRequest& desired) {
  InterfaceIndex ifaces;
  for (const auto& node : desired.nodes()) {
    EMU_ASSIGN_OR_RETURN(
        ifaces[node.name()],
        net_->ListInterfaces(NamespaceOf(desired.lab(), node)));
  }
  return ifaces;
}

absl::Status Reconciler::RemoveStaleLinkEnds(const ApplyLabRequest& desired,
                                             const InterfaceIndex& ifaces,
                                             const EngineIndex& engines,
                                             const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  absl::flat_hash_set<std::string> wanted_ends;
  for (const auto& link : desired.links()) {
    wanted_ends.insert(EndpointName(link.a()));
    wanted_ends.insert(EndpointName(link.b()));
  }
  for (const auto& r : desired.remote_links()) {
    wanted_ends.insert(EndpointName(tunnel::LocalEndpoint(r)));
  }
  // The alias each wanted end must carry to still be the same link.
  absl::flat_hash_map<std::string, std::string> alias_of_end;
  for (const auto& link : desired.links()) {
    const std::string alias = engines.at(LinkName(link)).userspace_link()
                                  ? net::EngineLinkAlias(lab, link)
                                  : net::LinkAlias(lab, link);
    alias_of_end[EndpointName(link.a())] = alias;
    alias_of_end[EndpointName(link.b())] = alias;
  }
  for (const auto& r : desired.remote_links()) {
    alias_of_end[EndpointName(tunnel::LocalEndpoint(r))] =
        IsVxlanCarrier(desired) ? VxlanAlias(lab, r, vxlan_port_)
                                : tunnel::TunnelAlias(lab, r.link());
  }
  for (const auto& node : desired.nodes()) {
    for (const auto& i : node.interfaces()) {
      if (IsSpecialEnd(i)) {
        alias_of_end[EndpointName(node.name(), i.name())] =
            SpecialEndAlias(lab, node, i);
      }
    }
  }
  // A namespace that nodes share (Node.netns_of) holds all their ends: it
  // is looked at once, through its owner, and an end found there is wanted
  // when any node of the namespace wants it.
  absl::flat_hash_map<std::string, std::vector<std::string>> sharers;
  for (const auto& node : desired.nodes()) {
    if (!node.netns_of().empty()) {
      sharers[node.netns_of()].push_back(node.name());
    }
  }
  for (const auto& node : desired.nodes()) {
    if (!node.netns_of().empty()) continue;
    auto shared = sharers.find(node.name());
    for (const auto& i : ifaces.at(node.name())) {
      if (!net::IsLabAlias(i.alias, lab)) continue;
      const std::string end = absl::StrCat(node.name(), ":", i.name);
      auto wanted_as = [&](const std::string& e) {
        auto want = alias_of_end.find(e);
        return want != alias_of_end.end() && want->second == i.alias;
      };
      bool keep = wanted_as(end);
      if (!keep && shared != sharers.end()) {
        for (const std::string& other : shared->second) {
          keep = keep || wanted_as(absl::StrCat(other, ":", i.name));
        }
      }
      if (keep) continue;
      EMU_RETURN_IF_ERROR(
          net_->DeleteInterface(NamespaceOf(lab, node), i.name));
      progress(MakeApplyEvent(ApplyLabEvent::REMOVED, absl::StrCat("interface ", end)));
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::CreateMissingLinks(const ApplyLabRequest& desired,
                                            const NodeIndex& nodes,
                                            const InterfaceIndex& ifaces,
                                            const EngineIndex& engines,
                                            const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  // 1: the end exists with the link's alias; -1: the name is taken by
  // something else; 0: absent.
  auto has_iface = [&](const std::string& node, const std::string& name,
                       const std::string& alias) {
    for (const auto& i : ifaces.at(node)) {
      if (i.name == name) return i.alias == alias ? 1 : -1;
    }
    return 0;
  };
  auto end_for = [&](const emu::v1::Endpoint& e) {
    net::HostNetwork::VethEnd end;
    end.ns = NamespaceOf(lab, *nodes.at(e.node()));
    end.ifname = e.interface();
    if (const auto* i = FindInterface(*nodes.at(e.node()), e.interface())) {
      end.mac = i->mac();
      end.mtu = i->mtu();
    }
    return end;
  };
  for (const auto& link : desired.links()) {
    const std::string name = LinkName(link);
    const linkemu::LinkEngines& use = engines.at(name);
    std::string alias = use.userspace_link() ? net::EngineLinkAlias(lab, link)
                                             : net::LinkAlias(lab, link);
    int a = has_iface(link.a().node(), link.a().interface(), alias);
    int b = has_iface(link.b().node(), link.b().interface(), alias);
    if (use.userspace_link()) {
      if (a == 1 && b == 1 && engine_links_->Has(lab, name)) continue;
      // TAPs of ours without their engine link (or one end gone): rebuilt.
      for (const auto* e : {&link.a(), &link.b()}) {
        if ((e == &link.a() ? a : b) != 1) continue;
        EMU_RETURN_IF_ERROR(net_->DeleteInterface(
            net::NamespaceName(host_, lab, e->node()), e->interface()));
      }
      auto tap_for = [&](const emu::v1::Endpoint& e) {
        net::HostNetwork::VethEnd end = end_for(e);
        return linkemu::TapSpec{end.ns, end.ifname, end.mac, end.mtu, alias};
      };
      impair::EngineLinkSpec spec;
      spec.link = name;
      spec.tap_a = tap_for(link.a());
      spec.tap_b = tap_for(link.b());
      // Conditions follow in ApplyLinkConditions; the link starts clean.
      spec.seed = linkemu::LinkSeed(desired.seed(), name, std::random_device()());
      absl::Status s = engine_links_->Create(lab, spec);
      if (!s.ok()) return Annotate(s, absl::StrCat("host ", host_));
      progress(MakeApplyEvent(ApplyLabEvent::LINK_CREATED, absl::StrCat("link ", name),
                     "two TAPs served by the userspace engine"));
      continue;
    }
    if (a == 1 && b == 1) continue;
    // A half-present link (one end deleted by hand) is rebuilt whole.
    for (const auto* e : {&link.a(), &link.b()}) {
      if ((e == &link.a() ? a : b) != 1) continue;
      EMU_RETURN_IF_ERROR(net_->DeleteInterface(
          NamespaceOf(lab, *nodes.at(e->node())), e->interface()));
    }
    absl::Status s =
        net_->CreateVeth(end_for(link.a()), end_for(link.b()), alias);
    if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(link)));
    progress(MakeApplyEvent(ApplyLabEvent::LINK_CREATED,
                   absl::StrCat("link ", LinkName(link))));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::EnsureNodes(const ApplyLabRequest& desired,
                                     const ProgressFn& progress) {
  // Kinds in a fixed order (netns first: cheap, and guests' boots overlap
  // with nothing else of this lab).
  std::vector<int> kinds;
  absl::flat_hash_map<int, std::vector<const emu::v1::Node*>> by_kind;
  std::vector<const emu::v1::Node*> anchors;
  for (const auto& node : desired.nodes()) {
    node::NodeDriver* driver = DriverFor(node);
    if (driver == nullptr) continue;  // CheckSpec refused it already
    if (!node.foreign_lab().empty()) {
      anchors.push_back(&node);
      continue;
    }
    auto& list = by_kind[driver->kind()];
    if (list.empty()) kinds.push_back(driver->kind());
    list.push_back(&node);
  }
  std::sort(kinds.begin(), kinds.end());
  for (int kind : kinds) {
    EMU_RETURN_IF_ERROR(drivers_.at(kind)->Ensure(
        desired, by_kind[kind],
        [&](const std::string& object, const std::string& detail) {
          progress(MakeApplyEvent(ApplyLabEvent::NODE_CONFIGURED, object, detail));
        }));
  }
  // This lab's ports in other labs' segments (community attachments).
  for (const emu::v1::Node* anchor : anchors) {
    absl::Status s = DriverFor(*anchor)->EnsureAttachedPorts(
        desired.lab(), NamespaceOf(desired.lab(), *anchor));
    if (!s.ok()) {
      return Annotate(s, absl::StrCat("attachment to ", anchor->foreign_lab(),
                                      "/", anchor->foreign_node()));
    }
    progress(MakeApplyEvent(ApplyLabEvent::NODE_CONFIGURED,
                   absl::StrCat("node ", anchor->name()),
                   absl::StrCat("ports in ", anchor->foreign_lab(), "/",
                                anchor->foreign_node())));
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ApplyLinkConditions(const ApplyLabRequest& desired,
                                             const NodeIndex& nodes,
                                             const EngineIndex& engines,
                                             const ProgressFn& progress) {
  for (const auto& link : desired.links()) {
    EMU_ASSIGN_OR_RETURN(
        std::string shaped,
        ApplyOneLink(desired, nodes.at(link.a().node()),
                     nodes.at(link.b().node()), link,
                     engines.at(LinkName(link))));
    if (!shaped.empty()) {
      progress(MakeApplyEvent(ApplyLabEvent::LINK_SHAPED,
                     absl::StrCat("link ", LinkName(link)), shaped));
    }
  }
  return absl::OkStatus();
}

impair::EngineLinks::PathParts Reconciler::EnginePathParts(
    const ApplyLabRequest& spec, const emu::v1::Node* node_a,
    const emu::v1::Node* node_b, const emu::v1::Link& link,
    const emu::v1::LinkParams& ab, const emu::v1::LinkParams& ba) {
  impair::EngineLinks::PathParts parts;
  const bool need_ab = ab.compensate() && ab.delay_us() > 0;
  const bool need_ba = ba.compensate() && ba.delay_us() > 0;
  if (!need_ab && !need_ba) return parts;
  // Each end's part is on both directions' paths (a frame leaves one NIC
  // and enters the other).
  for (const auto& [node, end] :
       {std::pair(node_a, &link.a()), std::pair(node_b, &link.b())}) {
    node::NodeDriver* driver = node != nullptr ? DriverFor(*node) : nullptr;
    if (driver == nullptr) continue;
    std::optional<linkemu::BasePart> part =
        driver->PathPart(spec, *node, end->interface());
    if (!part.has_value()) continue;
    if (need_ab) parts.a_to_b.push_back(*part);
    if (need_ba) parts.b_to_a.push_back(*part);
  }
  return parts;
}

absl::StatusOr<std::string> Reconciler::ApplyOneLink(
    const ApplyLabRequest& spec, const emu::v1::Node* node_a,
    const emu::v1::Node* node_b, const emu::v1::Link& link,
    const linkemu::LinkEngines& engines) {
  const std::string& lab = spec.lab();
  const bool lab_compensate = spec.compensate();
  EMU_ASSIGN_OR_RETURN(LinkPlans plans,
                       PlansFor(link, ShapesOwnEgress(node_a),
                                ShapesOwnEgress(node_b)));
  using linkemu::EngineUse;
  // On an engine link, the qdiscs carry only the kernel directions; the
  // engine passes those through unchanged and applies the others.
  const bool engine_link = engines.userspace_link();
  const linkemu::QdiscPlan kernel_ab =
      engines.a_to_b == EngineUse::kUserspace ? linkemu::QdiscPlan()
                                              : plans.a_to_b;
  const linkemu::QdiscPlan kernel_ba =
      engines.b_to_a == EngineUse::kUserspace ? linkemu::QdiscPlan()
                                              : plans.b_to_a;
  absl::Status s = ApplyEgress(lab, node_a, link.a(), kernel_ab);
  if (s.ok()) s = ApplyEgress(lab, node_b, link.b(), kernel_ba);
  if (s.ok() && engine_link) {
    // The engine gets each userspace direction with its compensation
    // resolved (the lab's `compensate:` unless the direction says).
    auto for_engine = [&](EngineUse use, const emu::v1::LinkParams& p) {
      if (use != EngineUse::kUserspace) return emu::v1::LinkParams();
      emu::v1::LinkParams out = p;
      out.set_compensate(linkemu::CompensationWanted(p, lab_compensate));
      return out;
    };
    const emu::v1::LinkParams ab = for_engine(engines.a_to_b, link.a_to_b());
    const emu::v1::LinkParams ba = for_engine(engines.b_to_a, link.b_to_a());
    s = engine_links_->Update(
        lab, LinkName(link), ab, ba,
        EnginePathParts(spec, node_a, node_b, link, ab, ba));
  }
  if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(link)));
  if (plans.a_to_b.empty() && plans.b_to_a.empty()) return std::string();
  auto describe = [](EngineUse use, const linkemu::QdiscPlan& plan) {
    return use == EngineUse::kUserspace
               ? absl::StrCat("userspace engine ", plan.DebugString())
               : plan.DebugString();
  };
  return absl::StrCat("a-to-b ", describe(engines.a_to_b, plans.a_to_b),
                      "; b-to-a ", describe(engines.b_to_a, plans.b_to_a));
}

bool Reconciler::HasNetem() const {
  return std::find(features_.qdiscs.begin(), features_.qdiscs.end(),
                   "netem") != features_.qdiscs.end();
}

bool Reconciler::ShapesOwnEgress(const emu::v1::Node* node) const {
  const node::NodeDriver* driver = node != nullptr ? DriverFor(*node) : nullptr;
  return driver != nullptr && driver->ShapesOwnEgress();
}

absl::flat_hash_set<std::string> Reconciler::GuestNodes(
    const ApplyLabRequest& desired) const {
  absl::flat_hash_set<std::string> guests;
  for (const auto& node : desired.nodes()) {
    if (ShapesOwnEgress(&node)) guests.insert(node.name());
  }
  return guests;
}

absl::StatusOr<linkemu::LinkEngines> Reconciler::EnginesFor(
    const ApplyLabRequest& desired, const emu::v1::Link& link,
    const absl::flat_hash_set<std::string>& guests) const {
  linkemu::SenderSide a;
  a.netem = HasNetem();
  a.userspace = engine_links_ != nullptr && engine_links_->available();
  linkemu::SenderSide b = a;
  a.guest = guests.contains(link.a().node());
  b.guest = guests.contains(link.b().node());
  auto engines = linkemu::ChooseLinkEngines(link, desired.engine(),
                                              desired.compensate(), a, b);
  if (!engines.ok()) {
    return absl::Status(
        engines.status().code(),
        absl::StrCat("link ", LinkName(link), " ",
                     engines.status().message(), " (host ", host_, ")"));
  }
  return engines;
}

absl::StatusOr<Reconciler::EngineIndex> Reconciler::EnginesOf(
    const ApplyLabRequest& desired) const {
  const absl::flat_hash_set<std::string> guests = GuestNodes(desired);
  EngineIndex out;
  for (const auto& link : desired.links()) {
    EMU_ASSIGN_OR_RETURN(out[LinkName(link)],
                         EnginesFor(desired, link, guests));
  }
  return out;
}

absl::Status Reconciler::SetLinkParams(
    const emu::v1::SetLinkParamsRequest& req) {
  absl::MutexLock lock(LabMutex(req.lab()));
  auto spec = store_->Load(req.lab());
  if (!spec.ok()) {
    return absl::NotFoundError(
        absl::StrCat("lab ", req.lab(), " is not on host ", host_));
  }
  for (auto& link : *spec->mutable_links()) {
    bool same = EndpointName(link.a()) == EndpointName(req.a()) &&
                EndpointName(link.b()) == EndpointName(req.b());
    bool swapped = EndpointName(link.a()) == EndpointName(req.b()) &&
                   EndpointName(link.b()) == EndpointName(req.a());
    if (!same && !swapped) continue;
    *link.mutable_a_to_b() = same ? req.a_to_b() : req.b_to_a();
    *link.mutable_b_to_a() = same ? req.b_to_a() : req.a_to_b();
    ApplyLabRequest check;
    check.set_lab(req.lab());
    *check.add_links() = link;
    *check.add_nodes() = emu::v1::Node();
    check.mutable_nodes(0)->set_name(link.a().node());
    if (link.b().node() != link.a().node()) {
      check.add_nodes()->set_name(link.b().node());
    }
    const emu::v1::Node* node_a = nullptr;  // kinds matter for guests
    const emu::v1::Node* node_b = nullptr;
    for (const auto& n : spec->nodes()) {
      if (n.name() == link.a().node()) node_a = &n;
      if (n.name() == link.b().node()) node_b = &n;
      for (auto& c : *check.mutable_nodes()) {
        if (c.name() == n.name()) c.set_kind(n.kind());
      }
    }
    check.set_engine(spec->engine());
    check.set_compensate(spec->compensate());
    EMU_RETURN_IF_ERROR(CheckSpec(check));
    EMU_ASSIGN_OR_RETURN(linkemu::LinkEngines engines,
                         EnginesFor(check, link, GuestNodes(check)));
    EMU_RETURN_IF_ERROR(store_->Save(*spec));
    const bool engine_now =
        engine_links_ != nullptr && engine_links_->Has(req.lab(), LinkName(link));
    if (engines.userspace_link() != engine_now) {
      // Between a veth and two engine TAPs: the ends are re-created, the
      // rest of the lab converges untouched (addresses re-applied).
      return ApplyLocked(*spec, [](const ApplyLabEvent&) {});
    }
    return ApplyOneLink(*spec, node_a, node_b, link, engines).status();
  }
  return SetRemoteLinkParams(req, &*spec);
}

absl::StatusOr<int> Reconciler::Destroy(const std::string& lab) {
  if (!emu::IsValidLabKey(lab)) {
    return absl::InvalidArgumentError(absl::StrCat("lab name '", lab, "'"));
  }
  absl::MutexLock lock(LabMutex(lab));
  return DestroyLocked(lab);
}

absl::StatusOr<int> Reconciler::DestroyLocked(const std::string& lab) {
  // Tunnels and engine links first: an open TAP fd pins its node's
  // namespace. Other labs' attachments in this lab's segments go too
  // (their TAPs would keep the namespaces alive); their labs stay.
  int removed = tunnels_ != nullptr
                    ? tunnels_->RemoveLab(lab) +
                          tunnels_->RemoveInNamespaces(
                              net::NamespacePrefix(host_, lab))
                    : 0;
  if (engine_links_ != nullptr) {
    // Likewise engine links: another lab's community attachment served by
    // the userspace engine has a TAP in this lab's segment (issue 8).
    removed += engine_links_->RemoveLab(lab) +
               engine_links_->RemoveInNamespaces(
                   net::NamespacePrefix(host_, lab));
  }
  absl::Status first = absl::OkStatus();
  auto note = [&](absl::Status s) {
    if (!s.ok() && first.ok()) first = s;
  };
  for (auto& [kind, driver] : drivers_) {  // e.g. QEMU, its sockets
    auto n = driver->Destroy(lab);
    note(n.status());
    if (n.ok()) removed += *n;
  }
  // Host ends before the namespaces: the kernel would remove them with
  // their node's namespace too, but only once its last process is gone.
  {
    absl::Status s;
    removed += RemoveHostEnds(lab, &s);
    note(s);
  }
  auto namespaces = net_->ListNamespaces(net::NamespacePrefix(host_, lab));
  if (!namespaces.ok()) return namespaces.status();
  // Which namespaces run anything, in one look; KillAll only for those (it
  // scans /proc itself: once per namespace made `down` quadratic).
  auto running = procs_->ListMany(*namespaces);
  for (const auto& ns : *namespaces) {
    if (!running.ok() || !running->contains(ns) || !running->at(ns).empty()) {
      note(procs_->KillAll(ns, kKillGrace));
    }
    absl::Status s = net_->DeleteNamespace(ns);
    note(s);
    if (s.ok()) ++removed;
  }
  auto labs = store_->List();
  if (labs.ok() && std::find(labs->begin(), labs->end(), lab) != labs->end()) {
    absl::Status s = store_->Remove(lab);
    note(s);
    if (s.ok()) ++removed;
  }
  if (!first.ok()) return first;
  return removed;
}

absl::StatusOr<emu::v1::ExecResponse> Reconciler::Exec(
    const emu::v1::ExecRequest& req) {
  if (!emu::IsValidLabKey(req.lab()) || !net::IsValidName(req.node())) {
    return absl::InvalidArgumentError("exec: bad lab or node name");
  }
  if (req.argv().empty()) {
    return absl::InvalidArgumentError("exec: empty command");
  }
  if (req.on_host()) {
    // The agent's own check, whatever the controller decided.
    if (!allow_host_commands_) {
      return absl::PermissionDeniedError(absl::StrCat(
          "host ", host_, ": lab ", req.lab(), " node ", req.node(),
          ": refused a target: host command (`", absl::StrJoin(req.argv(), " "),
          "`): this agent was not started with --allow_host_commands"));
    }
    // Only for a netns node this host holds (NetnsDriver::Exec checks).
    return netns_.Exec(req);
  }
  // Kinds other than netns first: their nodes have a namespace too.
  for (auto& [kind, driver] : drivers_) {
    if (driver != &netns_ && driver->Holds(req.lab(), req.node())) {
      return driver->Exec(req);
    }
  }
  return netns_.Exec(req);
}

absl::StatusOr<emu::v1::ListResourcesResponse> Reconciler::ListResources(
    const std::string& lab, const absl::flat_hash_set<int>& kinds) {
  emu::v1::ListResourcesResponse resp;
  const auto wanted = [&kinds](emu::v1::OwnedResource::Kind kind) {
    return kinds.empty() || kinds.contains(kind);
  };
  if (wanted(emu::v1::OwnedResource::NETNS) ||
      wanted(emu::v1::OwnedResource::INTERFACE) ||
      wanted(emu::v1::OwnedResource::QDISC) ||
      wanted(emu::v1::OwnedResource::PROCESS)) {
    EMU_RETURN_IF_ERROR(AddNamespaceResources(lab, &resp));
  }
  AddTunnelResources(lab, &resp);
  AddHostEndResources(lab, &resp);
  for (auto& [kind, driver] : drivers_) {
    for (auto& r : driver->Observe(lab)) *resp.add_resources() = std::move(r);
  }
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> labs, store_->List());
  for (const auto& l : labs) {
    if (!lab.empty() && l != lab) continue;
    resp.add_labs(l);
    auto* r = resp.add_resources();
    r->set_kind(emu::v1::OwnedResource::STATE_FILE);
    r->set_lab(l);
    r->set_name(store_->PathFor(l));
  }
  if (!kinds.empty()) {
    auto* all = resp.mutable_resources();
    all->erase(std::remove_if(all->begin(), all->end(),
                              [&](const emu::v1::OwnedResource& r) {
                                return !wanted(r.kind());
                              }),
               all->end());
  }
  return resp;
}

absl::Status Reconciler::AddNamespaceResources(
    const std::string& lab, emu::v1::ListResourcesResponse* out) {
  emu::v1::ListResourcesResponse& resp = *out;
  std::string prefix = lab.empty() ? net::NamespacePrefix(host_)
                                   : net::NamespacePrefix(host_, lab);
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> namespaces,
                       net_->ListNamespaces(prefix));
  // Their processes in one look (one /proc scan, not one per namespace).
  auto pids_of = procs_->ListMany(namespaces);
  for (const auto& ns : namespaces) {
    auto ref = net::ParseNamespaceName(host_, ns);
    if (!ref) continue;
    auto add = [&](emu::v1::OwnedResource::Kind kind, std::string name) {
      auto* r = resp.add_resources();
      r->set_kind(kind);
      r->set_lab(ref->lab);
      r->set_node(ref->node);
      r->set_name(std::move(name));
    };
    add(emu::v1::OwnedResource::NETNS, ns);
    auto interfaces = net_->ListInterfaces(ns);
    if (interfaces.ok()) {
      for (const auto& i : *interfaces) {
        if (i.name == "lo") continue;
        add(emu::v1::OwnedResource::INTERFACE, i.name);
        auto qdiscs = net_->ListQdiscs(ns, i.name);
        if (!qdiscs.ok()) continue;
        for (const auto& q : *qdiscs) {
          if (q.kind == "tbf" || q.kind == "netem") {
            add(emu::v1::OwnedResource::QDISC,
                absl::StrCat(i.name, " ", q.kind));
          }
        }
      }
    }
    if (pids_of.ok()) {
      auto pids = pids_of->find(ns);
      if (pids != pids_of->end()) {
        for (pid_t pid : pids->second) {
          add(emu::v1::OwnedResource::PROCESS, absl::StrCat(pid));
        }
      }
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Reconciler::RecoverAll(
    const std::function<void(const std::string&)>& log) {
  std::vector<std::string> recovered;
  auto labs = store_->List();
  if (!labs.ok()) {
    log(absl::StrCat("recover: ", labs.status().ToString()));
    return recovered;
  }
  for (auto& [kind, driver] : drivers_) {  // e.g. QEMU of removed labs
    if (int n = driver->CollectGarbage(*labs); n > 0) {
      log(absl::StrCat(
          "recover: ended ", n, " ",
          emu::v1::NodeKind_Name(static_cast<emu::v1::NodeKind>(kind)),
          " nodes of removed labs"));
    }
  }
  // Exporters (labs without anchors) first: their segments exist before
  // the ports other labs attach to them.
  std::vector<ApplyLabRequest> specs, attaching;
  for (const auto& lab : *labs) {
    auto spec = store_->Load(lab);
    if (!spec.ok()) {
      log(absl::StrCat("recover lab ", lab, ": ", spec.status().ToString()));
      continue;
    }
    const bool anchors =
        std::any_of(spec->nodes().begin(), spec->nodes().end(),
                    [](const emu::v1::Node& n) {
                      return !n.foreign_lab().empty();
                    });
    (anchors ? attaching : specs).push_back(*std::move(spec));
  }
  for (auto& spec : attaching) specs.push_back(std::move(spec));
  for (const ApplyLabRequest& spec : specs) {
    const std::string& lab = spec.lab();
    int changes = 0;
    absl::Status s = CheckSpec(spec);
    std::string skipped;
    if (s.ok()) {
      absl::MutexLock lock(LabMutex(lab));
      auto absent = AbsentAnchors(spec);
      if (absent.ok()) {
        for (const emu::v1::Node* n : *absent) {
          absl::StrAppend(&skipped, skipped.empty() ? "" : ", ",
                          n->foreign_lab(), "/", n->foreign_node());
        }
      }
      s = ApplyLocked(
          spec,
          [&](const ApplyLabEvent& e) {
            if (e.kind() != ApplyLabEvent::DONE &&
                e.kind() != ApplyLabEvent::NODE_CONFIGURED &&
                e.kind() != ApplyLabEvent::LINK_SHAPED) {
              ++changes;
            }
          },
          AbsentAnchor::kSkip);
    }
    if (!s.ok()) {
      log(absl::StrCat("recover lab ", lab, ": ", s.ToString()));
      continue;
    }
    log(absl::StrCat("recovered lab ", lab, " (", changes,
                     " objects re-created or removed)",
                     skipped.empty()
                         ? ""
                         : absl::StrCat("; without its ports in segments not "
                                        "deployed here: ",
                                        skipped)));
    recovered.push_back(lab);
  }
  return recovered;
}

}  // namespace emu::agent::reconcile
