// LabManager::Apply (emuctl apply): a running lab brought to an edited
// topology, touching only the hosts whose share changes. Kept apart from
// lab_manager.cc, whose Deploy/Destroy it reuses (RunExecLines,
// WaitForTunnels, Record, ParallelFor).
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/community/attachments.h"
#include "controller/lab/deploy_events.h"
#include "controller/lab/host_commands.h"
#include "controller/lab/lab_diff.h"
#include "controller/lab/lab_manager.h"
#include "controller/lab/link_state.h"
#include "controller/placement/placement.h"
#include "google/protobuf/util/message_differencer.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {

using emu::v1::ApplyLabRequest;
using emu::v1::Lab;

struct LabManager::HostChange {
  enum Kind { kApply, kSetLinkParams, kDestroy };
  std::string host;
  Kind kind = kApply;
  ApplyLabRequest share;                                 // kApply
  std::vector<emu::v1::SetLinkParamsRequest> link_params;  // kSetLinkParams
};

namespace {

constexpr absl::Duration kApplyRefreshTimeout = absl::Seconds(5);

// A share as the agent sees it: no SourceRefs (an edit moves lines), nodes,
// links and remote ends in name order (an edit may reorder them).
ApplyLabRequest Canonical(ApplyLabRequest share, bool without_conditions) {
  auto clean_link = [without_conditions](emu::v1::Link* l) {
    l->clear_source();
    if (without_conditions) {
      l->clear_a_to_b();
      l->clear_b_to_a();
    }
  };
  for (auto& n : *share.mutable_nodes()) {
    n.clear_source();
    for (auto& i : *n.mutable_interfaces()) i.clear_source();
    for (auto& r : *n.mutable_routes()) r.clear_source();
  }
  for (auto& l : *share.mutable_links()) clean_link(&l);
  for (auto& r : *share.mutable_remote_links()) clean_link(r.mutable_link());
  auto* nodes = share.mutable_nodes();
  std::sort(nodes->begin(), nodes->end(),
            [](const auto& x, const auto& y) { return x.name() < y.name(); });
  auto* links = share.mutable_links();
  std::sort(links->begin(), links->end(), [](const auto& x, const auto& y) {
    return LinkName(x) < LinkName(y);
  });
  auto* remote = share.mutable_remote_links();
  std::sort(remote->begin(), remote->end(), [](const auto& x, const auto& y) {
    return x.link_id() < y.link_id();
  });
  return share;
}

bool Same(const ApplyLabRequest& x, const ApplyLabRequest& y) {
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

// SetLinkParams for every link (veth or remote end) whose conditions differ
// between the shares, which are otherwise equal.
std::vector<emu::v1::SetLinkParamsRequest> ConditionChanges(
    const ApplyLabRequest& before, const ApplyLabRequest& after) {
  std::map<std::string, const emu::v1::Link*> old_links;
  for (const auto& l : before.links()) old_links[LinkName(l)] = &l;
  for (const auto& r : before.remote_links()) {
    old_links[LinkName(r.link())] = &r.link();
  }
  std::vector<const emu::v1::Link*> links;
  for (const auto& l : after.links()) links.push_back(&l);
  for (const auto& r : after.remote_links()) links.push_back(&r.link());
  std::vector<emu::v1::SetLinkParamsRequest> out;
  for (const emu::v1::Link* l : links) {
    auto old = old_links.find(LinkName(*l));
    if (old != old_links.end() && LinkParamChanges(*old->second, *l).empty()) {
      continue;
    }
    emu::v1::SetLinkParamsRequest req;
    req.set_lab(after.lab());
    *req.mutable_a() = l->a();
    *req.mutable_b() = l->b();
    *req.mutable_a_to_b() = l->a_to_b();
    *req.mutable_b_to_a() = l->b_to_a();
    out.push_back(std::move(req));
  }
  return out;
}

// "~ link r1:eth1<->community:alice/ix1 delay none -> 10ms" for each
// attachment of `desired` without a link (down) whose conditions differ
// from `before`'s.
std::vector<std::string> DownAttachmentChanges(
    const emu::v1::Topology& before, const emu::v1::Topology& desired) {
  auto as_link = [](const emu::v1::Attachment& at) {
    emu::v1::Link l;
    *l.mutable_a() = at.local();
    *l.mutable_a_to_b() = at.to_community();
    *l.mutable_b_to_a() = at.from_community();
    return l;
  };
  std::map<std::string, const emu::v1::Attachment*> old;
  for (const auto& at : before.attachments()) {
    old[community::AttachmentName(at)] = &at;
  }
  const std::vector<std::string> down = community::DownAttachments(desired);
  std::vector<std::string> out;
  for (const auto& at : desired.attachments()) {
    const std::string name = community::AttachmentName(at);
    auto it = old.find(name);
    if (it == old.end() ||
        std::find(down.begin(), down.end(), name) == down.end()) {
      continue;
    }
    std::vector<std::string> phrases =
        LinkParamChanges(as_link(*it->second), as_link(at));
    if (phrases.empty()) continue;
    out.push_back(absl::StrCat("~ link ", name, " ",
                               absl::StrJoin(phrases, ", ")));
  }
  return out;
}

std::map<std::string, std::string> HostOfNodes(const Lab& lab) {
  std::map<std::string, std::string> out;
  for (const auto& n : lab.nodes()) out[n.name()] = n.host();
  return out;
}

}  // namespace

std::vector<LabManager::HostChange> LabManager::PlanHostChanges(
    const std::map<std::string, ApplyLabRequest>& before,
    const std::map<std::string, ApplyLabRequest>& after) {
  std::vector<HostChange> changes;
  std::set<std::string> hosts;
  for (const auto& [h, s] : before) hosts.insert(h);
  for (const auto& [h, s] : after) hosts.insert(h);
  for (const std::string& host : hosts) {
    auto b = before.find(host);
    auto a = after.find(host);
    HostChange c;
    c.host = host;
    if (a == after.end()) {
      c.kind = HostChange::kDestroy;
    } else if (b == before.end()) {
      c.share = a->second;
    } else if (Same(Canonical(b->second, false), Canonical(a->second, false))) {
      continue;  // untouched: not even called
    } else if (Same(Canonical(b->second, true), Canonical(a->second, true))) {
      c.kind = HostChange::kSetLinkParams;
      c.link_params = ConditionChanges(b->second, a->second);
    } else {
      c.share = a->second;
    }
    changes.push_back(std::move(c));
  }
  return changes;
}

namespace {

// What apply does not do to nodes that share a namespace (Node.netns_of):
// change which namespace a running node uses, or remove such a node while
// the node whose namespace it shares stays (its commands' processes are in
// that namespace, and only the whole namespace's are known).
absl::Status CheckSharedNamespaceChanges(const emu::v1::Topology& running,
                                         const emu::v1::Topology& desired) {
  absl::flat_hash_map<absl::string_view, const emu::v1::Node*> wanted;
  for (const auto& n : desired.nodes()) wanted[n.name()] = &n;
  for (const auto& r : running.nodes()) {
    auto it = wanted.find(r.name());
    if (it != wanted.end()) {
      if (it->second->netns_of() == r.netns_of()) continue;
      return absl::InvalidArgumentError(absl::StrCat(
          SourcePrefix(it->second->source()), "node ", r.name(),
          ": apply does not change the namespace a running node uses "
          "(network-mode ",
          r.netns_of().empty() ? "none" : absl::StrCat("container:", r.netns_of()),
          " -> ",
          it->second->netns_of().empty()
              ? "none"
              : absl::StrCat("container:", it->second->netns_of()),
          "); remove the node in one apply and add it in the next"));
    }
    if (!r.netns_of().empty() && wanted.contains(r.netns_of())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ", r.name(), " shares the namespace of ", r.netns_of(),
          ", which stays: apply does not remove it alone (its processes "
          "live in that namespace); remove ", r.netns_of(),
          " with it, or take the lab down"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>>
LabManager::PlaceAroundRunning(const Lab& running,
                               const emu::v1::Topology& desired,
                               bool new_nodes) const {
  std::map<std::string, std::string> host_of = HostOfNodes(running);
  EMU_RETURN_IF_ERROR(CheckSharedNamespaceChanges(running.topology(), desired));
  emu::v1::Topology pinned = desired;
  for (auto& node : *pinned.mutable_nodes()) {
    auto it = host_of.find(node.name());
    if (it == host_of.end()) continue;
    if (!node.host().empty() && node.host() != it->second) {
      return absl::InvalidArgumentError(absl::StrCat(
          SourcePrefix(node.source()), "node ", node.name(), " runs on host ",
          it->second, "; apply does not move a running node to host ",
          node.host(), " (remove it in one apply, add it in the next)"));
    }
    node.set_host(it->second);  // existing nodes stay where they run
  }
  std::map<std::string, std::string> out;
  if (!new_nodes) {
    // Nothing to place: no need for every host to answer.
    for (const auto& node : desired.nodes()) {
      out[node.name()] = host_of.at(node.name());
    }
    return out;
  }
  EMU_ASSIGN_OR_RETURN(placement::Placement placed,
                       placement::PlaceTopology(pinned, hosts_->Snapshot()));
  return placed.host_of_node;
}

absl::Status LabManager::ChangeHosts(const std::string& lab,
                                     const std::vector<HostChange>& changes,
                                     const ProgressFn& progress) {
  std::vector<absl::Status> results(changes.size());
  ParallelFor(changes.size(), [&](size_t i) {
    const HostChange& c = changes[i];
    auto client = hosts_->Client(c.host);
    if (!client.ok()) {
      results[i] = client.status();
      return;
    }
    switch (c.kind) {
      case HostChange::kDestroy: {
        auto removed = (*client)->DestroyLab(lab);
        results[i] = removed.status();
        if (removed.ok()) {
          progress(MakeEvent(c.host,
                             absl::StrCat("no node of lab ", lab,
                                          " left here: removed ", *removed,
                                          " resources"),
                             emu::v1::RUNNING));
        }
        return;
      }
      case HostChange::kSetLinkParams:
        for (const auto& req : c.link_params) {
          results[i] = (*client)->SetLinkParams(req);
          if (!results[i].ok()) {
            results[i] = Annotate(
                results[i], absl::StrCat("link ", EndpointName(req.a()), "<->",
                                         EndpointName(req.b())));
            return;
          }
          progress(MakeEvent(c.host,
                             absl::StrCat("conditions set on link ",
                                          EndpointName(req.a()), "<->",
                                          EndpointName(req.b())),
                             emu::v1::RUNNING));
        }
        return;
      case HostChange::kApply:
        results[i] = (*client)->ApplyLab(
            c.share, [&](const emu::v1::ApplyLabEvent& e) {
              // The agent reports every node it configures; only what it
              // created, removed or finished is news here.
              if (e.kind() == emu::v1::ApplyLabEvent::NODE_CONFIGURED ||
                  e.kind() == emu::v1::ApplyLabEvent::LINK_SHAPED) {
                return;
              }
              progress(MakeEvent(c.host, AgentEventText(e), emu::v1::RUNNING));
            });
        return;
    }
  });
  std::vector<std::string> errors;
  absl::StatusCode code = absl::StatusCode::kOk;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (results[i].ok()) continue;
    if (code == absl::StatusCode::kOk) code = results[i].code();
    errors.push_back(
        absl::StrCat("host ", changes[i].host, ": ", results[i].message()));
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::Status(code, absl::StrJoin(errors, "; "));
}

absl::Status LabManager::Apply(const emu::v1::TopologySource& source,
                               const DeployAs& as, bool dry_run,
                               const ProgressFn& raw_progress) {
  EMU_ASSIGN_OR_RETURN(topology::ParsedTopology parsed, ParseForDeploy(source));
  parsed.topology.set_name(LabKey(as.owner, parsed.topology.name()));
  bool exports_changed = false;
  {
    Lease lease(this, parsed.topology.name());
    if (!lease.held()) return lease.BusyError();
    // Under the lease: the exports `emuctl community export` made on the
    // running lab are read as they are now.
    auto running = store_->Get(parsed.topology.name());
    EMU_RETURN_IF_ERROR(
        PrepareExports(&parsed.topology, running.ok() ? &*running : nullptr));
    EMU_RETURN_IF_ERROR(AttachCommunity(&parsed.topology, as.owner,
                                        running.ok() ? &*running : nullptr));
    exports_changed = running.ok() && !dry_run &&
                      running->topology().community().SerializeAsString() !=
                          parsed.topology.community().SerializeAsString();
    EMU_RETURN_IF_ERROR(
        ApplyLeased(std::move(parsed), as, dry_run, raw_progress));
  }
  // Labs attached to exports the file added or removed follow now, not at
  // the next heartbeat (outside this lab's lease: they may attach to it).
  if (exports_changed) ReconcileCommunity([](const std::string&) {});
  return absl::OkStatus();
}

absl::Status LabManager::ApplyLeased(topology::ParsedTopology parsed,
                                     const DeployAs& as, bool dry_run,
                                     const ProgressFn& raw_progress) {
  emu::v1::Topology& desired = parsed.topology;
  const std::string name = desired.name();
  const ProgressFn progress = Serialized(raw_progress);

  auto found = store_->Get(name);
  if (absl::IsNotFound(found.status())) {
    return absl::NotFoundError(absl::StrCat(
        "lab ", name, " not found; `emuctl up FILE` deploys it"));
  }
  if (!found.ok()) return Annotate(found.status(), absl::StrCat("lab ", name));
  const Lab running = *std::move(found);
  if (running.state() != emu::v1::RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lab ", name, " is ", LabState_Name(running.state()),
        "; apply changes only a RUNNING lab"));
  }
  EMU_ASSIGN_OR_RETURN(LabDiff diff,
                       DiffTopologies(running.topology(), &desired));
  if (as.admit) {
    EMU_RETURN_IF_ERROR(as.admit(community::StripAttachments(desired)));
  }
  hosts_->Refresh(kApplyRefreshTimeout);
  // Stage commands run for the new nodes only (below).
  const std::set<std::string> added(diff.added_nodes.begin(),
                                    diff.added_nodes.end());
  EMU_RETURN_IF_ERROR(
      CheckHostCommandCaller(desired, {&added}, as.admin, as.caller));
  EMU_ASSIGN_OR_RETURN(
      auto host_of,
      PlaceAroundRunning(running, desired, !diff.added_nodes.empty()));
  EMU_RETURN_IF_ERROR(CheckHostCommandHosts(desired, {&added}, host_of,
                                            hosts_->Snapshot()));

  const std::map<std::string, std::string> old_host_of = HostOfNodes(running);
  // Attachments as the file names them (community:OWNER/NAME), not by
  // their anchors' internal names.
  const std::string owner =
      running.owner().empty() ? std::string(community::kAdministrator)
                              : running.owner();
  std::map<std::string, std::string> shown =
      community::ShownAttachmentNames(running.topology(), owner);
  for (auto& [internal, label] :
       community::ShownAttachmentNames(desired, owner)) {
    shown.emplace(internal, label);
  }
  const std::vector<std::string> lines =
      DiffLines(diff, old_host_of, host_of);
  emu::v1::DeployEvent summary = MakeEvent(
      "",
      diff.empty() ? absl::StrCat("lab ", name, ": no change")
                   : absl::StrCat("lab ", name, ": ", lines.size(), " changes"),
      emu::v1::RUNNING);
  for (const auto& line : lines) {
    summary.add_changes(community::WithShownNames(line, shown));
  }
  for (const auto& w : parsed.warnings) summary.add_warnings(w);
  progress(summary);
  if (dry_run) return absl::OkStatus();
  if (diff.empty()) {
    // No host changes, but the exports may (a file's `community:` edited),
    // or the conditions of an attachment that is down (`emuctl link set`;
    // they apply when it attaches again): they live in the record only.
    std::vector<std::string> held = DownAttachmentChanges(running.topology(),
                                                          desired);
    if (running.topology().community().SerializeAsString() ==
            desired.community().SerializeAsString() &&
        held.empty()) {
      return absl::OkStatus();
    }
    if (!held.empty()) {
      emu::v1::DeployEvent kept = MakeEvent(
          "", "conditions kept for attachments that are down", emu::v1::RUNNING);
      for (auto& line : held) kept.add_changes(std::move(line));
      progress(kept);
    }
    Lab next = running;
    *next.mutable_topology()->mutable_community() = desired.community();
    *next.mutable_topology()->mutable_attachments() = desired.attachments();
    next.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
    return Record(next);
  }

  const auto snapshot = hosts_->Snapshot();
  const auto before = placement::BuildShares(running.topology(), old_host_of,
                                             snapshot, nullptr);
  std::vector<emu::v1::CutLink> cut_links;
  const auto after =
      placement::BuildShares(desired, host_of, snapshot, &cut_links);
  EMU_RETURN_IF_ERROR(placement::CheckTunnelCarriers(cut_links, snapshot));
  // A running node is not placed again, so its links' conditions are
  // checked here (`link set` and apply alike).
  EMU_RETURN_IF_ERROR(
      placement::CheckVxlanConditions(desired, host_of, snapshot));
  const std::vector<HostChange> changes = PlanHostChanges(before, after);
  std::vector<std::string> touched;
  for (const auto& c : changes) touched.push_back(c.host);
  progress(MakeEvent("",
                     absl::StrCat("changing ", changes.size(), " of ",
                                  std::max(before.size(), after.size()),
                                  " hosts: ", absl::StrJoin(touched, ", ")),
                     emu::v1::RUNNING));

  // The next record: the running one (its other fields kept) with the new
  // topology, nodes and links.
  placement::Placement placed;
  placed.host_of_node = host_of;
  Lab next = NewLabRecord(desired, placed);
  FillLinkEngines(snapshot, &next);
  {
    Lab merged = running;
    *merged.mutable_topology() = next.topology();
    *merged.mutable_nodes() = next.nodes();
    *merged.mutable_links() = next.links();
    // Links that ran before keep their observed state.
    std::map<std::string, std::string> was;
    for (const auto& l : running.links()) was[LinkName(l.link())] = l.state();
    for (auto& l : *merged.mutable_links()) {
      auto it = was.find(LinkName(l.link()));
      if (it != was.end() && l.carrier() == "veth") l.set_state(it->second);
    }
    next = std::move(merged);
  }

  absl::Status failure = ChangeHosts(name, changes, progress);
  if (failure.ok()) {
    // Exec lines and stage commands of the new nodes only: the others ran
    // theirs at deploy (their waits on new nodes' stages still order
    // nothing of theirs).
    Lab fresh = next;
    for (auto& n : *fresh.mutable_topology()->mutable_nodes()) {
      if (!added.count(n.name())) {
        n.clear_exec();
        n.clear_stage_execs();
      }
    }
    failure = RunExecLines(fresh, progress);
  }
  if (failure.ok()) failure = WaitForTunnels(&next, progress);
  if (failure.ok()) {
    next.set_state(emu::v1::RUNNING);
    next.clear_error();
    next.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
    failure = Record(next);
  }
  if (failure.ok()) {
    progress(MakeEvent("",
                       absl::StrCat("lab ", name, " is running: ",
                                    desired.nodes_size(), " nodes, ",
                                    desired.links_size(), " links"),
                       emu::v1::RUNNING));
    return absl::OkStatus();
  }

  // Back to the previous spec on every host this apply touched: the agents
  // converge to it (new nodes and links go, removed ones come back).
  progress(MakeEvent(
      "", absl::StrCat("apply failed: ", failure.message(),
                       "; rolling back to the previous topology"),
      emu::v1::RUNNING));
  std::vector<HostChange> undo;
  for (const auto& c : changes) {
    HostChange u;
    u.host = c.host;
    auto b = before.find(c.host);
    if (b == before.end()) {
      u.kind = HostChange::kDestroy;
    } else {
      u.share = b->second;
    }
    undo.push_back(std::move(u));
  }
  absl::Status rollback = ChangeHosts(name, undo, progress);
  progress(MakeEvent(
      "",
      rollback.ok()
          ? absl::StrCat("rolled back: lab ", name,
                         " runs its previous topology")
          : absl::StrCat("rollback incomplete: ", rollback.message(),
                         "; the lab keeps its previous topology on record, "
                         "which a returning host gets again; re-run apply"),
      emu::v1::RUNNING));
  return absl::Status(
      failure.code(),
      absl::StrCat("lab ", name, ": apply failed: ", failure.message(),
                   rollback.ok() ? "; rolled back to the previous topology"
                                 : absl::StrCat("; rollback incomplete: ",
                                                rollback.message())));
}

}  // namespace emu::controller::lab
