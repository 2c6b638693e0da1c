#include "agent/reconciler.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/resource_names.h"
#include "common/status_macros.h"
#include "linkemu/qdisc_plan.h"

namespace emu::agent {
namespace {

using emu::v1::ApplyLabEvent;
using emu::v1::ApplyLabRequest;

constexpr absl::Duration kKillGrace = absl::Seconds(2);
constexpr absl::Duration kDefaultExecTimeout = absl::Seconds(60);

ApplyLabEvent Event(ApplyLabEvent::Kind kind, std::string object,
                    std::string detail = "") {
  ApplyLabEvent e;
  e.set_kind(kind);
  e.set_object(std::move(object));
  e.set_detail(std::move(detail));
  return e;
}

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

absl::StatusOr<LinkPlans> PlansFor(const emu::v1::Link& link) {
  LinkPlans plans;
  auto ab = linkemu::PlanForLinkParams(link.a_to_b());
  if (!ab.ok()) {
    return Annotate(ab.status(),
                    absl::StrCat("link ", LinkName(link), " a-to-b"));
  }
  auto ba = linkemu::PlanForLinkParams(link.b_to_a());
  if (!ba.ok()) {
    return Annotate(ba.status(),
                    absl::StrCat("link ", LinkName(link), " b-to-a"));
  }
  plans.a_to_b = *std::move(ab);
  plans.b_to_a = *std::move(ba);
  return plans;
}

// Programs one link end's egress: inside the guest when the sender is a
// QEMU guest and the plan needs NetEm (the guest kernel has it), else in the
// node's namespace as for every node (clearing the other place).
absl::Status ApplyEndQdiscs(HostNetwork* net, GuestManager* guests,
                            const std::string& host, const std::string& lab,
                            const emu::v1::Node* node,
                            const emu::v1::Endpoint& e,
                            const linkemu::QdiscPlan& plan) {
  bool guest = guests != nullptr && node != nullptr &&
               GuestManager::IsGuest(*node);
  bool in_guest = guest && plan.needs_netem();
  if (guest) {
    EMU_RETURN_IF_ERROR(guests->ApplyQdiscs(
        lab, e.node(), e.interface(), in_guest ? plan : linkemu::QdiscPlan()));
  }
  return net->ApplyQdiscs(NamespaceName(host, lab, e.node()), e.interface(),
                          in_guest ? linkemu::QdiscPlan() : plan);
}

}  // namespace

Reconciler::Reconciler(std::string host, HostNetwork* net,
                       ProcessLauncher* launcher, NamespaceProcesses* procs,
                       const LabSpecStore* store,
                       HostNetwork::KernelFeatures features,
                       TunnelManager* tunnels)
    : host_(std::move(host)),
      net_(net),
      launcher_(launcher),
      procs_(procs),
      store_(store),
      features_(std::move(features)),
      tunnels_(tunnels) {}

absl::Mutex* Reconciler::LabMutex(const std::string& lab) {
  absl::MutexLock lock(&mu_);
  auto& m = lab_mu_[lab];
  if (m == nullptr) m = std::make_unique<absl::Mutex>();
  return m.get();
}

absl::Status Reconciler::CheckSpec(const ApplyLabRequest& desired) const {
  if (!IsValidName(desired.lab())) {
    return absl::InvalidArgumentError(
        absl::StrCat("lab name '", desired.lab(),
                     "': use 1-32 letters, digits, '-' or '_'"));
  }
  bool has_netem = std::find(features_.qdiscs.begin(), features_.qdiscs.end(),
                             "netem") != features_.qdiscs.end();
  absl::flat_hash_set<std::string> nodes;
  absl::flat_hash_set<std::string> guest_nodes;  // netem runs in the guest
  for (const auto& node : desired.nodes()) {
    if (!IsValidName(node.name())) {
      return absl::InvalidArgumentError(
          absl::StrCat("node name '", node.name(), "' is not valid"));
    }
    if (!nodes.insert(node.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", node.name(), " appears twice"));
    }
    if (node.kind() == emu::v1::NODE_KIND_QEMU && guests_ != nullptr) {
      guest_nodes.insert(node.name());
    } else if (node.kind() != emu::v1::NODE_KIND_NETNS &&
        node.kind() != emu::v1::NODE_KIND_UNSPECIFIED) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node ", node.name(), ": kind ",
          emu::v1::NodeKind_Name(node.kind()),
          " is not supported by the agent on host ", host_));
    }
  }
  for (const auto& link : desired.links()) {
    for (const auto* e : {&link.a(), &link.b()}) {
      if (!nodes.contains(e->node())) {
        return absl::InvalidArgumentError(
            absl::StrCat("link ", LinkName(link), ": node ", e->node(),
                         " is not in this host's share of lab ",
                         desired.lab()));
      }
    }
    EMU_ASSIGN_OR_RETURN(LinkPlans plans, PlansFor(link));
    if (((plans.a_to_b.needs_netem() &&
          !guest_nodes.contains(link.a().node())) ||
         (plans.b_to_a.needs_netem() &&
          !guest_nodes.contains(link.b().node()))) &&
        !has_netem) {
      return absl::FailedPreconditionError(absl::StrCat(
          "link ", LinkName(link),
          ": delay, jitter, loss, duplicate, reorder and corrupt need NetEm, "
          "but the kernel of host ",
          host_, " has no sch_netem (only rate shaping with TBF is possible)"));
    }
  }
  return CheckRemoteLinks(desired, nodes, has_netem);
}

absl::Status Reconciler::Apply(const ApplyLabRequest& desired,
                               const ProgressFn& progress) {
  EMU_RETURN_IF_ERROR(CheckSpec(desired));
  absl::MutexLock lock(LabMutex(desired.lab()));
  return ApplyLocked(desired, progress);
}

absl::Status Reconciler::ApplyLocked(const ApplyLabRequest& desired,
                                     const ProgressFn& progress) {
  const std::string& lab = desired.lab();
  EMU_RETURN_IF_ERROR(store_->Save(desired));

  // Nodes: remove those no longer wanted, create the missing ones.
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> existing,
                       net_->ListNamespaces(NamespacePrefix(host_, lab)));
  absl::flat_hash_set<std::string> present(existing.begin(), existing.end());
  absl::flat_hash_set<std::string> wanted;
  for (const auto& node : desired.nodes()) {
    wanted.insert(NamespaceName(host_, lab, node.name()));
  }
  for (const auto& ns : existing) {
    if (wanted.contains(ns)) continue;
    EMU_RETURN_IF_ERROR(procs_->KillAll(ns, kKillGrace));
    EMU_RETURN_IF_ERROR(net_->DeleteNamespace(ns));
    progress(Event(ApplyLabEvent::REMOVED, absl::StrCat("namespace ", ns)));
  }
  for (const auto& node : desired.nodes()) {
    std::string ns = NamespaceName(host_, lab, node.name());
    if (present.contains(ns)) continue;
    absl::Status s = net_->CreateNamespace(ns);
    if (!s.ok() && !absl::IsAlreadyExists(s)) {
      return Annotate(s, absl::StrCat("node ", node.name()));
    }
    progress(Event(ApplyLabEvent::NODE_CREATED,
                   absl::StrCat("node ", node.name()), ns));
  }

  // Observe every node's interfaces once.
  absl::flat_hash_map<std::string, std::vector<HostNetwork::InterfaceInfo>>
      ifaces;
  absl::flat_hash_map<std::string, const emu::v1::Node*> node_by_name;
  for (const auto& node : desired.nodes()) {
    node_by_name[node.name()] = &node;
    EMU_ASSIGN_OR_RETURN(
        ifaces[node.name()],
        net_->ListInterfaces(NamespaceName(host_, lab, node.name())));
  }
  auto has_iface = [&](const std::string& node, const std::string& name,
                       const std::string& alias) {
    for (const auto& i : ifaces[node]) {
      if (i.name == name) return i.alias == alias ? 1 : -1;
    }
    return 0;
  };

  // Links: keep the ones present, remove stale ends, create the missing.
  absl::flat_hash_set<std::string> wanted_ends;
  for (const auto& link : desired.links()) {
    wanted_ends.insert(EndpointName(link.a()));
    wanted_ends.insert(EndpointName(link.b()));
  }
  for (const auto& r : desired.remote_links()) {
    wanted_ends.insert(EndpointName(LocalEndpoint(r)));
  }
  for (const auto& node : desired.nodes()) {
    for (const auto& i : ifaces[node.name()]) {
      if (!IsLabAlias(i.alias, lab)) continue;
      std::string end = absl::StrCat(node.name(), ":", i.name);
      bool stale = !wanted_ends.contains(end);
      if (!stale) {
        // Same end, but is it still the same link?
        for (const auto& link : desired.links()) {
          if ((EndpointName(link.a()) == end ||
               EndpointName(link.b()) == end) &&
              i.alias != LinkAlias(lab, link)) {
            stale = true;
          }
        }
        for (const auto& r : desired.remote_links()) {
          if (EndpointName(LocalEndpoint(r)) == end &&
              i.alias != TunnelAlias(lab, r.link())) {
            stale = true;
          }
        }
      }
      if (!stale) continue;
      EMU_RETURN_IF_ERROR(
          net_->DeleteInterface(NamespaceName(host_, lab, node.name()), i.name));
      progress(Event(ApplyLabEvent::REMOVED,
                     absl::StrCat("interface ", end)));
    }
  }
  for (const auto& link : desired.links()) {
    std::string alias = LinkAlias(lab, link);
    int a = has_iface(link.a().node(), link.a().interface(), alias);
    int b = has_iface(link.b().node(), link.b().interface(), alias);
    if (a == 1 && b == 1) continue;
    // A half-present link (one end deleted by hand) is rebuilt whole.
    if (a == 1) {
      EMU_RETURN_IF_ERROR(net_->DeleteInterface(
          NamespaceName(host_, lab, link.a().node()), link.a().interface()));
    }
    if (b == 1) {
      EMU_RETURN_IF_ERROR(net_->DeleteInterface(
          NamespaceName(host_, lab, link.b().node()), link.b().interface()));
    }
    auto end_for = [&](const emu::v1::Endpoint& e) {
      HostNetwork::VethEnd end;
      end.ns = NamespaceName(host_, lab, e.node());
      end.ifname = e.interface();
      if (const auto* i = FindInterface(*node_by_name[e.node()],
                                        e.interface())) {
        end.mac = i->mac();
        end.mtu = i->mtu();
      }
      return end;
    };
    absl::Status s = net_->CreateVeth(end_for(link.a()), end_for(link.b()),
                                      alias);
    if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(link)));
    progress(Event(ApplyLabEvent::LINK_CREATED,
                   absl::StrCat("link ", LinkName(link))));
  }
  EMU_RETURN_IF_ERROR(ApplyRemoteLinks(desired, node_by_name, progress));

  // Node configuration: sysctls, addresses, then routes (a gateway must be
  // on a connected subnet before a route can use it).
  for (const auto& node : desired.nodes()) {
    // A guest is configured through its console (GuestManager::Ensure).
    if (guests_ != nullptr && GuestManager::IsGuest(node)) continue;
    std::string ns = NamespaceName(host_, lab, node.name());
    std::string what = absl::StrCat("node ", node.name());
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
      std::vector<std::string> addrs(i.addresses().begin(),
                                     i.addresses().end());
      absl::Status s = net_->SetAddresses(ns, i.name(), addrs);
      if (!s.ok()) return Annotate(s, what);
    }
    for (const auto& r : node.routes()) {
      HostNetwork::RouteSpec spec;
      spec.destination = r.destination();
      spec.via = r.via();
      spec.dev = r.dev();
      spec.metric = r.metric();
      absl::Status s = net_->ReplaceRoute(ns, spec);
      if (!s.ok()) {
        return Annotate(s, absl::StrCat(what, ": route to ", r.destination()));
      }
    }
    progress(Event(ApplyLabEvent::NODE_CONFIGURED, what,
                   absl::StrCat(node.interfaces_size(), " interfaces, ",
                                node.routes_size(), " routes")));
  }

  if (guests_ != nullptr) {
    EMU_RETURN_IF_ERROR(guests_->Ensure(
        desired, [&](const std::string& object, const std::string& detail) {
          progress(Event(ApplyLabEvent::NODE_CONFIGURED, object, detail));
        }));
  }

  // Link conditions, each on the sending side of its direction. A guest
  // sender that needs NetEm gets the whole plan inside the guest (its
  // kernel has sch_netem even where the host's has not).
  auto apply_end = [&](const emu::v1::Endpoint& e,
                       const linkemu::QdiscPlan& plan) {
    return ApplyEndQdiscs(net_, guests_, host_, lab, node_by_name[e.node()], e,
                          plan);
  };
  for (const auto& link : desired.links()) {
    EMU_ASSIGN_OR_RETURN(LinkPlans plans, PlansFor(link));
    absl::Status s = apply_end(link.a(), plans.a_to_b);
    if (s.ok()) s = apply_end(link.b(), plans.b_to_a);
    if (!s.ok()) return Annotate(s, absl::StrCat("link ", LinkName(link)));
    if (!plans.a_to_b.empty() || !plans.b_to_a.empty()) {
      progress(Event(ApplyLabEvent::LINK_SHAPED,
                     absl::StrCat("link ", LinkName(link)),
                     absl::StrCat("a-to-b ", plans.a_to_b.DebugString(),
                                  "; b-to-a ", plans.b_to_a.DebugString())));
    }
  }
  progress(Event(ApplyLabEvent::DONE, absl::StrCat("lab ", lab),
                 absl::StrCat(desired.nodes_size(), " nodes, ",
                              desired.links_size(), " links")));
  return absl::OkStatus();
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
    EMU_RETURN_IF_ERROR(CheckSpec(check));
    EMU_RETURN_IF_ERROR(store_->Save(*spec));
    EMU_ASSIGN_OR_RETURN(LinkPlans plans, PlansFor(link));
    EMU_RETURN_IF_ERROR(ApplyEndQdiscs(net_, guests_, host_, req.lab(), node_a,
                                       link.a(), plans.a_to_b));
    return ApplyEndQdiscs(net_, guests_, host_, req.lab(), node_b, link.b(),
                          plans.b_to_a);
  }
  return SetRemoteLinkParams(req, &*spec);
}

absl::StatusOr<int> Reconciler::Destroy(const std::string& lab) {
  if (!IsValidName(lab)) {
    return absl::InvalidArgumentError(absl::StrCat("lab name '", lab, "'"));
  }
  absl::MutexLock lock(LabMutex(lab));
  return DestroyLocked(lab);
}

absl::StatusOr<int> Reconciler::DestroyLocked(const std::string& lab) {
  // Tunnels first: an open TAP fd pins its node's namespace.
  int removed = tunnels_ != nullptr ? tunnels_->RemoveLab(lab) : 0;
  absl::Status first = absl::OkStatus();
  auto note = [&](absl::Status s) {
    if (!s.ok() && first.ok()) first = s;
  };
  if (guests_ != nullptr) {  // QEMU, its sockets and directory
    auto g = guests_->DestroyLab(lab);
    note(g.status());
    if (g.ok()) removed += *g;
  }
  auto namespaces = net_->ListNamespaces(NamespacePrefix(host_, lab));
  if (!namespaces.ok()) return namespaces.status();
  for (const auto& ns : *namespaces) {
    note(procs_->KillAll(ns, kKillGrace));
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
  if (!IsValidName(req.lab()) || !IsValidName(req.node())) {
    return absl::InvalidArgumentError("exec: bad lab or node name");
  }
  if (req.argv().empty()) {
    return absl::InvalidArgumentError("exec: empty command");
  }
  if (guests_ != nullptr && guests_->Has(req.lab(), req.node())) {
    return guests_->Exec(req);  // through the guest's console
  }
  std::string ns = NamespaceName(host_, req.lab(), req.node());
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> found,
                       net_->ListNamespaces(ns));
  if (std::find(found.begin(), found.end(), ns) == found.end()) {
    return absl::NotFoundError(absl::StrCat("node ", req.node(), " of lab ",
                                            req.lab(), " is not on host ",
                                            host_));
  }
  ProcessSpec spec;
  spec.argv.assign(req.argv().begin(), req.argv().end());
  spec.netns = ns;
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

absl::StatusOr<emu::v1::ListResourcesResponse> Reconciler::ListResources(
    const std::string& lab) {
  emu::v1::ListResourcesResponse resp;
  std::string prefix =
      lab.empty() ? NamespacePrefix(host_) : NamespacePrefix(host_, lab);
  EMU_ASSIGN_OR_RETURN(std::vector<std::string> namespaces,
                       net_->ListNamespaces(prefix));
  for (const auto& ns : namespaces) {
    auto ref = ParseNamespaceName(host_, ns);
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
    auto pids = procs_->List(ns);
    if (pids.ok()) {
      for (pid_t pid : *pids) {
        add(emu::v1::OwnedResource::PROCESS, absl::StrCat(pid));
      }
    }
  }
  AddTunnelResources(lab, &resp);
  if (guests_ != nullptr) {
    for (auto& r : guests_->List(lab)) *resp.add_resources() = std::move(r);
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
  return resp;
}

std::vector<std::string> Reconciler::RecoverAll(
    const std::function<void(const std::string&)>& log) {
  std::vector<std::string> recovered;
  auto labs = store_->List();
  if (!labs.ok()) {
    log(absl::StrCat("recover: ", labs.status().ToString()));
    return recovered;
  }
  if (guests_ != nullptr) {  // QEMU of labs whose state is gone
    if (int n = guests_->CollectGarbage(*labs); n > 0) {
      log(absl::StrCat("recover: ended ", n, " guests of removed labs"));
    }
  }
  for (const auto& lab : *labs) {
    auto spec = store_->Load(lab);
    if (!spec.ok()) {
      log(absl::StrCat("recover lab ", lab, ": ", spec.status().ToString()));
      continue;
    }
    int changes = 0;
    absl::Status s = Apply(*spec, [&](const ApplyLabEvent& e) {
      if (e.kind() != ApplyLabEvent::DONE &&
          e.kind() != ApplyLabEvent::NODE_CONFIGURED &&
          e.kind() != ApplyLabEvent::LINK_SHAPED) {
        ++changes;
      }
    });
    if (!s.ok()) {
      log(absl::StrCat("recover lab ", lab, ": ", s.ToString()));
      continue;
    }
    log(absl::StrCat("recovered lab ", lab, " (", changes,
                     " objects re-created or removed)"));
    recovered.push_back(lab);
  }
  return recovered;
}

}  // namespace emu::agent
