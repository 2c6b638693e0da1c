#include "controller/lab/lab_manager.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/community/attachments.h"
#include "controller/lab/deploy_events.h"
#include "controller/lab/guest_state.h"
#include "controller/lab/lab_details.h"
#include "controller/lab/link_state.h"
#include "controller/placement/placement.h"
#include "controller/topology/stable_macs.h"
#include "controller/lab/host_commands.h"
#include "controller/topology/stage_plan.h"
#include "controller/topology/topology_validator.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {
namespace {

using emu::v1::DeployEvent;
using emu::v1::Lab;
using emu::v1::LabState;

constexpr absl::Duration kRefreshTimeout = absl::Seconds(5);
constexpr absl::Duration kExecLineTimeout = absl::Seconds(60);
// How long a destroy waits for an attached lab that another operation holds
// before leaving its detachment to the next reconcile.
constexpr absl::Duration kDetachWait = absl::Seconds(30);

std::vector<std::string> HostsOf(const Lab& lab) {
  std::set<std::string> hosts;
  for (const auto& n : lab.nodes()) hosts.insert(n.host());
  return {hosts.begin(), hosts.end()};
}

std::string Tail(const std::string& s, size_t n) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

}  // namespace

LabManager::LabManager(LabStore* store, hosts::HostRegistry* hosts,
                       Options options)
    : options_(options),
      store_(store),
      hosts_(hosts),
      pool_(std::max(1, options.threads)) {}

LabManager::Lease::Lease(LabManager* manager, std::string lab)
    : manager_(manager), lab_(std::move(lab)) {
  absl::MutexLock lock(&manager_->mu_);
  held_ = manager_->busy_.insert(lab_).second;
}

void LabManager::Lease::Retry() {
  if (held_) return;
  absl::MutexLock lock(&manager_->mu_);
  held_ = manager_->busy_.insert(lab_).second;
}

LabManager::Lease::~Lease() {
  if (!held_) return;
  absl::MutexLock lock(&manager_->mu_);
  manager_->busy_.erase(lab_);
}

absl::Status LabManager::Lease::BusyError() const {
  return absl::FailedPreconditionError(
      absl::StrCat("lab ", lab_, ": another operation on it is running"));
}

absl::StatusOr<topology::ParsedTopology> LabManager::Validate(
    const emu::v1::TopologySource& source) const {
  if (source.has_file()) {
    // ${NAME} in the file is the user's variable, sent by emuctl; never
    // the controller's own environment.
    const auto& vars = source.file().env();
    topology::ParseOptions options;
    options.env =
        [&vars](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      if (it == vars.end()) return std::nullopt;
      return it->second;
    };
    return topology::ParseAndValidateTopology(source.file().content(),
                                              source.file().name(), options);
  }
  if (!source.has_topology()) {
    return absl::InvalidArgumentError("no topology given");
  }
  topology::ParsedTopology parsed;
  parsed.topology = source.topology();
  topology::NormalizeTopology(&parsed.topology);
  EMU_RETURN_IF_ERROR(
      topology::ValidateTopology(parsed.topology, &parsed.warnings));
  return parsed;
}

absl::Status LabManager::Deploy(const emu::v1::TopologySource& source,
                                const DeployAs& as,
                                const ProgressFn& raw_progress) {
  EMU_ASSIGN_OR_RETURN(topology::ParsedTopology parsed, ParseForDeploy(source));
  parsed.topology.set_name(LabKey(as.owner, parsed.topology.name()));
  EMU_RETURN_IF_ERROR(PrepareExports(&parsed.topology, nullptr));
  // Community endpoints first: a refused attachment leaves nothing created.
  EMU_RETURN_IF_ERROR(AttachCommunity(&parsed.topology, as.owner, nullptr));
  const emu::v1::Topology& topo = parsed.topology;
  Lease lease(this, topo.name());
  if (!lease.held()) return lease.BusyError();
  const ProgressFn progress = Serialized(raw_progress);
  EMU_RETURN_IF_ERROR(CheckNameFree(topo.name()));
  EMU_RETURN_IF_ERROR(CheckHostCommandCaller(topo, {}, as.admin, as.caller));
  // Anchors of community attachments are not the caller's nodes.
  if (as.admit) {
    EMU_RETURN_IF_ERROR(as.admit(community::StripAttachments(topo)));
  }
  DeployEvent validated = MakeEvent(
      "",
      absl::StrCat("validated ", topo.source().file(),
                   topo.source().file().empty() ? "" : ": ", topo.nodes_size(),
                   " nodes, ", topo.links_size(), " links"),
      emu::v1::DEPLOYING);
  for (const auto& w : parsed.warnings) validated.add_warnings(w);
  progress(validated);

  EMU_ASSIGN_OR_RETURN(placement::Placement placement, Place(topo));
  const std::vector<emu::v1::HostStatus> snapshot = hosts_->Snapshot();
  EMU_RETURN_IF_ERROR(
      CheckHostCommandHosts(topo, {}, placement.host_of_node, snapshot));
  Lab lab = NewLabRecord(topo, placement);
  FillLinkEngines(snapshot, &lab);
  lab.set_owner(as.owner);
  {
    // Recorded before any agent is asked: a crash from here on is found and
    // rolled back by Reconcile.
    absl::MutexLock admission(&admission_mu_);
    if (as.admit) {
      EMU_RETURN_IF_ERROR(as.admit(community::StripAttachments(topo)));
    }
    // Two labs deployed at once must not both take one interface export.
    EMU_RETURN_IF_ERROR(CheckInterfaceExportsStillFree(topo, as.owner));
    EMU_RETURN_IF_ERROR(Record(lab));
  }
  std::vector<std::string> where, hosts;
  for (const auto& [host, share] : placement.per_host) {
    hosts.push_back(host);
    where.push_back(absl::StrCat(host, " (", share.nodes_size(), " nodes, ",
                                 share.links_size(), " links)"));
  }
  progress(MakeEvent("", absl::StrCat("placed on ", absl::StrJoin(where, ", ")),
                     emu::v1::DEPLOYING));

  absl::Status failure = ApplyShares(placement, progress);
  if (failure.ok()) failure = RunExecLines(lab, progress);
  if (failure.ok()) failure = WaitForTunnels(&lab, progress);
  if (failure.ok()) failure = MarkRunning(&lab, progress);
  if (!failure.ok()) return RollBack(&lab, hosts, failure, progress);
  // Labs attached to this one's exports come (back) now, not at the next
  // heartbeat.
  if (!topo.community().exports().empty()) ReconcileCommunity([](auto&) {});
  return absl::OkStatus();
}

absl::StatusOr<topology::ParsedTopology> LabManager::ParseForDeploy(
    const emu::v1::TopologySource& source) const {
  EMU_ASSIGN_OR_RETURN(topology::ParsedTopology parsed, Validate(source));
  // Re-created interfaces keep their MACs (controller/stable_macs.h).
  topology::AssignStableMacs(&parsed.topology);
  return parsed;
}

absl::Status LabManager::CheckNameFree(const std::string& name) const {
  auto existing = store_->Get(name);
  if (existing.ok() && existing->state() != emu::v1::FAILED &&
      existing->state() != emu::v1::DESTROYED) {
    return absl::AlreadyExistsError(absl::StrCat(
        "lab ", name, " already exists (", LabState_Name(existing->state()),
        "); run `emuctl down ", name, "` first"));
  }
  if (!existing.ok() && !absl::IsNotFound(existing.status())) {
    // Deploying over a record we cannot read could hide a live lab.
    return Annotate(existing.status(), absl::StrCat("lab ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<placement::Placement> LabManager::Place(
    const emu::v1::Topology& topo) const {
  hosts_->Refresh(kRefreshTimeout);
  return placement::PlaceTopology(topo, hosts_->Snapshot());
}

Lab LabManager::NewLabRecord(const emu::v1::Topology& topo,
                             const placement::Placement& placement) {
  Lab lab;
  lab.set_name(topo.name());
  lab.set_state(emu::v1::DEPLOYING);
  *lab.mutable_topology() = topo;
  lab.set_created_unix_us(absl::ToUnixMicros(absl::Now()));
  lab.set_updated_unix_us(lab.created_unix_us());
  const auto& host_of = placement.host_of_node;
  for (const auto& node : topo.nodes()) {
    auto* ns = lab.add_nodes();
    ns->set_name(node.name());
    ns->set_kind(node.kind());
    ns->set_host(host_of.at(node.name()));
    ns->set_netns_of(node.netns_of());
    *ns->mutable_interfaces() = node.interfaces();
  }
  for (const auto& link : topo.links()) {
    auto* ls = lab.add_links();
    *ls->mutable_link() = link;
    ls->set_host_a(host_of.at(link.a().node()));
    ls->set_host_b(host_of.at(link.b().node()));
    const bool veth = ls->host_a() == ls->host_b();
    const bool vxlan = !veth && topo.carrier() == "vxlan";
    ls->set_carrier(veth ? "veth" : vxlan ? "vxlan" : "tcp-tunnel");
    // A veth or a kernel VXLAN device (carrier: vxlan) is up once ApplyLab
    // returns; a tunnel when WaitForTunnels has seen both ends' handshakes.
    ls->set_state(veth || vxlan ? "up" : "tunnel not reported yet");
  }
  return lab;
}

absl::Status LabManager::ApplyShares(const placement::Placement& placement,
                                     const ProgressFn& progress) {
  std::vector<const std::string*> hosts;
  std::vector<const emu::v1::ApplyLabRequest*> shares;
  for (const auto& [host, share] : placement.per_host) {
    hosts.push_back(&host);
    shares.push_back(&share);
  }
  std::vector<absl::Status> results(hosts.size());
  ParallelFor(hosts.size(), [&](size_t i) {
    const std::string& host = *hosts[i];
    auto client = hosts_->Client(host);
    if (!client.ok()) {
      results[i] = client.status();
      return;
    }
    // Per-object lines for a small share, progress lines for a large one.
    HostProgress host_progress(host, *shares[i], emu::v1::DEPLOYING, progress);
    results[i] =
        (*client)->ApplyLab(*shares[i], [&](const emu::v1::ApplyLabEvent& e) {
          host_progress.OnAgentEvent(e);
        });
  });
  for (const auto& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LabManager::WaitForTunnels(Lab* lab, const ProgressFn& progress) {
  size_t total = 0;
  for (const auto& l : lab->links()) total += l.carrier() == "tcp-tunnel";
  if (total == 0) return absl::OkStatus();
  const auto is_waiting = [](const emu::v1::LinkStatus& l) {
    return l.carrier() == "tcp-tunnel" && l.state() != "up";
  };
  // Counted every poll, named only for the deadline's message: a name per
  // waiting link per poll was most of the controller's allocations while
  // a 10k-node lab's tunnels came up (issue 14).
  const auto not_ready = [lab, &is_waiting] {
    std::vector<std::string> out;
    for (const auto& l : lab->links()) {
      if (is_waiting(l)) {
        out.push_back(absl::StrCat(LinkName(l.link()), " (", l.state(), ")"));
      }
    }
    return out;
  };
  progress(MakeEvent(
      "",
      absl::StrCat("waiting for ", total, total == 1 ? " tunnel" : " tunnels",
                   " to be ready (handshake done on both ends), up to ",
                   absl::FormatDuration(options_.tunnel_ready_timeout)),
      emu::v1::DEPLOYING));
  const absl::Time deadline = absl::Now() + options_.tunnel_ready_timeout;
  size_t last_ready = 0;
  while (true) {
    // Only links whose two hosts both answered change state; the others keep
    // "tunnel not reported yet" and so count as not ready.
    RefreshTunnelStates(hosts_, lab, /*names=*/false);
    const size_t waiting = std::count_if(lab->links().begin(),
                                         lab->links().end(), is_waiting);
    const size_t ready = total - waiting;
    if (waiting == 0) {
      progress(MakeEvent("",
                         absl::StrCat(ready, " of ", total, " tunnels ready"),
                         emu::v1::DEPLOYING));
      return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("lab ", lab->name(), ": ", waiting, " of ", total,
                       " tunnels not ready after ",
                       absl::FormatDuration(options_.tunnel_ready_timeout),
                       ": ", absl::StrJoin(not_ready(), ", ")));
    }
    if (ready != last_ready) {
      progress(MakeEvent("",
                         absl::StrCat(ready, " of ", total, " tunnels ready"),
                         emu::v1::DEPLOYING));
      last_ready = ready;
    }
    absl::SleepFor(
        std::min(options_.tunnel_poll_interval,
                 std::max(deadline - absl::Now(), absl::ZeroDuration())));
  }
}

absl::Status LabManager::MarkRunning(Lab* lab, const ProgressFn& progress) {
  lab->set_state(emu::v1::RUNNING);
  lab->set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
  // Failing here fails the deploy: the store would still say DEPLOYING, and
  // the next controller start would roll back a lab the user was told runs.
  EMU_RETURN_IF_ERROR(Record(*lab));
  progress(MakeEvent("", absl::StrCat("lab ", lab->name(), " is running"),
                     emu::v1::RUNNING));
  return absl::OkStatus();
}

absl::Status LabManager::RollBack(Lab* lab,
                                  const std::vector<std::string>& hosts,
                                  absl::Status failure,
                                  const ProgressFn& progress) {
  progress(MakeEvent(
      "", absl::StrCat("deploy failed: ", failure.message(), "; rolling back"),
      emu::v1::DESTROYING));
  lab->set_state(emu::v1::DESTROYING);
  lab->set_error(std::string(failure.message()));
  lab->set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
  // If this write fails the record still says DEPLOYING, which Reconcile
  // rolls back too; the destroy goes ahead either way.
  absl::Status recorded = Record(*lab);
  if (!recorded.ok()) {
    progress(
        MakeEvent("", std::string(recorded.message()), emu::v1::DESTROYING));
  }
  absl::Status rollback = DestroyOnHosts(*lab, hosts, progress);
  lab->set_state(rollback.ok() ? emu::v1::FAILED : emu::v1::DESTROYING);
  lab->set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
  if (!rollback.ok()) {
    lab->set_error(absl::StrCat(failure.message(),
                                "; rollback incomplete: ", rollback.message()));
  }
  // Leaving DESTROYING in place when this fails is safe (Reconcile
  // finishes it), but the caller must hear that the record is stale.
  absl::Status final_record = Record(*lab);
  progress(MakeEvent("",
                     rollback.ok()
                         ? "rolled back: nothing of the lab is left"
                         : absl::StrCat("rollback incomplete (retried "
                                        "when the host answers): ",
                                        rollback.message()),
                     lab->state()));
  if (!final_record.ok()) {
    progress(MakeEvent("", std::string(final_record.message()), lab->state()));
    return absl::Status(failure.code(), absl::StrCat(failure.message(), "; ",
                                                     final_record.message()));
  }
  return failure;
}

absl::Status LabManager::Record(const Lab& lab) {
  absl::Status s;
  for (int attempt = 1; attempt <= std::max(1, options_.store_attempts);
       ++attempt) {
    s = store_->Put(lab);
    if (s.ok()) return s;
    if (attempt < options_.store_attempts) {
      absl::SleepFor(options_.store_retry_delay * attempt);
    }
  }
  return Annotate(s, absl::StrCat("lab ", lab.name(), ": record ",
                                  LabState_Name(lab.state()), " (",
                                  options_.store_attempts, " attempts)"));
}

void LabManager::ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  absl::BlockingCounter done(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    pool_.Schedule([&fn, &done, i] {
      fn(i);
      done.DecrementCount();
    });
  }
  if (n > 0) done.Wait();
}

absl::Status LabManager::RunExecLines(const Lab& lab,
                                      const ProgressFn& progress) {
  // The nodes' exec lines and containerlab's stage commands, in levels
  // (controller/topology/stage_plan.h): a level starts when the one before
  // is done; its steps run in parallel up to the pool's size, each step's
  // commands in order. Without stages: one level, every node's exec lines.
  auto plan = topology::PlanStages(lab.topology());
  if (!plan.ok()) return plan.status();
  absl::flat_hash_map<std::string, const emu::v1::Node*> node_of;
  for (const auto& n : lab.topology().nodes()) node_of[n.name()] = &n;
  std::map<std::string, std::string> host_of;
  for (const auto& n : lab.nodes()) host_of[n.name()] = n.host();
  for (const std::vector<topology::StageStep>& level : *plan) {
    std::vector<absl::Status> results(level.size());
    ParallelFor(level.size(), [&](size_t i) {
      const topology::StageStep& step = level[i];
      const emu::v1::Node& node = *node_of[step.node];
      const std::string& host = host_of[node.name()];
      auto client = hosts_->Client(host);
      if (!client.ok()) {
        results[i] = client.status();
        return;
      }
      // The node's env (containerlab's `env`) through env(1), which netns
      // nodes (the host's) and guests (busybox) both have: the agent's Exec
      // stays one argv. Sorted, so a line runs the same way every time.
      std::vector<std::string> env(node.env().size());
      std::transform(node.env().begin(), node.env().end(), env.begin(),
                     [](const auto& kv) {
                       return absl::StrCat(kv.first, "=", kv.second);
                     });
      std::sort(env.begin(), env.end());
      const bool exec_lines = step.what == "exec";
      for (const topology::StageCommand& command : step.commands) {
        const std::string& line = command.line;
        emu::v1::ExecRequest req;
        req.set_lab(lab.name());
        req.set_node(node.name());
        // containerlab's `target: host`: on the node's host, in its
        // agent's namespace (host_commands.h checked who and where).
        req.set_on_host(command.on_host);
        if (!env.empty()) {
          req.add_argv("env");
          for (const std::string& e : env) req.add_argv(e);
        }
        req.add_argv("/bin/sh");
        req.add_argv("-c");
        req.add_argv(line);
        req.set_timeout_ms(absl::ToInt64Milliseconds(kExecLineTimeout));
        auto resp = (*client)->Exec(req);
        std::string what = absl::StrCat(
            SourcePrefix(node.source()), "node ", node.name(), ": ",
            step.what, " `", line, "`",
            command.on_host ? absl::StrCat(" (target: host, on host ", host, ")")
                            : "");
        if (!resp.ok()) {
          results[i] = Annotate(resp.status(), what);
          return;
        }
        if (resp->timed_out() || resp->exit_code() != 0) {
          results[i] = absl::FailedPreconditionError(absl::StrCat(
              what,
              resp->timed_out()
                  ? absl::StrCat(" timed out after ",
                                 absl::FormatDuration(kExecLineTimeout))
                  : absl::StrCat(" exited ", resp->exit_code()),
              resp->stderr().empty()
                  ? ""
                  : absl::StrCat(": ", Tail(resp->stderr(), 300))));
          return;
        }
        progress(MakeEvent(
            host,
            exec_lines ? absl::StrCat("ran on ", node.name(), ": ", line)
            : command.on_host
                ? absl::StrCat("ran on host ", host, " for ", node.name(),
                               " (", step.what, ", target: host): ", line)
                : absl::StrCat("ran on ", node.name(), " (", step.what,
                               "): ", line),
            emu::v1::DEPLOYING));
      }
    });
    for (const auto& s : results) {
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status LabManager::DestroyOnHosts(const Lab& lab,
                                        const std::vector<std::string>& hosts,
                                        const ProgressFn& progress) {
  std::vector<absl::Status> results(hosts.size());
  ParallelFor(hosts.size(), [&](size_t i) {
    auto client = hosts_->Client(hosts[i]);
    if (!client.ok()) {
      results[i] = client.status();
      return;
    }
    auto removed = (*client)->DestroyLab(lab.name());
    if (!removed.ok()) {
      results[i] = removed.status();
      return;
    }
    progress(MakeEvent(hosts[i],
                       absl::StrCat("removed ", *removed, " resources"),
                       emu::v1::DESTROYING));
  });
  std::vector<std::string> errors;
  for (const auto& s : results) {
    if (!s.ok()) errors.emplace_back(s.message());
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrJoin(errors, "; "));
}

absl::Status LabManager::Destroy(const std::string& name,
                                 const ProgressFn& raw_progress) {
  Lease lease(this, name);
  if (!lease.held()) return lease.BusyError();
  const ProgressFn progress = Serialized(raw_progress);
  auto found = store_->Get(name);
  if (absl::IsNotFound(found.status())) {
    return absl::NotFoundError(absl::StrCat("lab ", name, " not found"));
  }
  if (!found.ok()) return found.status();
  Lab lab = *std::move(found);
  lab.set_state(emu::v1::DESTROYING);
  lab.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
  // Without this record a controller crash mid-destroy would forget the lab
  // while its namespaces live on: nothing is touched until it is stored.
  EMU_RETURN_IF_ERROR(Record(lab));
  progress(MakeEvent("", absl::StrCat("destroying lab ", name),
                     emu::v1::DESTROYING));
  hosts_->Refresh(kRefreshTimeout);
  if (!lab.topology().community().exports().empty()) {
    // Attached labs let go of this lab's segments first (they stay up,
    // DEGRADED); what cannot be detached now is closed by the agents.
    ReconcileCommunity(
        [&](const std::string& line) {
          progress(MakeEvent("", line, emu::v1::DESTROYING));
        },
        kDetachWait);
  }
  absl::Status s = DestroyOnHosts(lab, HostsOf(lab), progress);
  if (!s.ok()) {
    lab.set_error(absl::StrCat("destroy incomplete: ", s.message()));
    // The DESTROYING record Reconcile needs is already stored; this write
    // only adds the reason, but a failure is still reported.
    absl::Status recorded = Record(lab);
    return absl::UnavailableError(absl::StrCat(
        "lab ", name, ": ", s.message(),
        "; what was reachable is removed, the rest is removed when the host "
        "answers again (or run `emuctl down ",
        name, "` again)", recorded.ok() ? "" : "; ",
        recorded.ok() ? "" : recorded.message()));
  }
  EMU_RETURN_IF_ERROR(
      Annotate(store_->Delete(name), absl::StrCat("lab ", name, ": delete")));
  progress(MakeEvent("", absl::StrCat("lab ", name, " destroyed"),
                     emu::v1::DESTROYED));
  return absl::OkStatus();
}

Lab LabManager::WithLiveState(Lab lab) const {
  if (lab.state() != emu::v1::RUNNING) return lab;
  const std::vector<std::string> detached =
      community::DownAttachments(lab.topology());
  std::map<std::string, std::vector<std::string>> lost;
  for (const auto& n : lab.nodes()) {
    if (!hosts_->Reachable(n.host())) lost[n.host()].push_back(n.name());
  }
  std::map<std::string, std::string> resync_errors;
  {
    absl::MutexLock lock(&mu_);
    auto it = resync_errors_.find(lab.name());
    if (it != resync_errors_.end()) resync_errors = it->second;
  }
  if (lost.empty() && resync_errors.empty() && detached.empty()) return lab;
  lab.set_state(emu::v1::DEGRADED);
  std::map<std::string, std::vector<std::string>> lost_links;
  for (auto& l : *lab.mutable_links()) {
    for (const std::string& h : {l.host_a(), l.host_b()}) {
      if (!lost.count(h)) continue;
      l.set_state(absl::StrCat("host ", h, " unreachable"));
      lost_links[h].push_back(LinkName(l.link()));
      break;
    }
  }
  std::vector<std::string> parts;
  for (const auto& [host, nodes] : lost) {
    std::string links = absl::StrJoin(lost_links[host], ", ");
    parts.push_back(absl::StrCat("host ", host, " unreachable (nodes ",
                                 absl::StrJoin(nodes, ", "),
                                 links.empty() ? "" : "; links ", links, ")"));
  }
  for (const auto& [host, error] : resync_errors) {
    if (lost.count(host)) continue;
    parts.push_back(absl::StrCat("host ", host,
                                 " came back but its share could not be "
                                 "re-applied (retried): ",
                                 error));
  }
  if (!detached.empty()) {
    parts.push_back(absl::StrCat(
        "community links down (the exporting lab is not running; they come "
        "back when it does): ",
        absl::StrJoin(detached, ", ")));
  }
  lab.set_error(absl::StrJoin(parts, "; "));
  return lab;
}

absl::StatusOr<Lab> LabManager::Get(const std::string& name) const {
  auto lab = store_->Get(name);
  if (absl::IsNotFound(lab.status())) {
    return absl::NotFoundError(absl::StrCat("lab ", name, " not found"));
  }
  if (!lab.ok()) return lab.status();
  Lab live = WithLiveState(*std::move(lab));
  // Only tunnels (re)connecting: every host answers and no share failed.
  const bool hosts_fine = live.state() == emu::v1::RUNNING;
  if (live.state() == emu::v1::DEPLOYING) live.set_converging(true);
  if (live.state() == emu::v1::RUNNING || live.state() == emu::v1::DEGRADED) {
    // Cross-host links as their agents see them (a tunnel reconnecting).
    std::vector<std::string> down = RefreshTunnelStates(hosts_, &live);
    if (!down.empty()) {
      live.set_state(emu::v1::DEGRADED);
      live.set_error(absl::StrCat(live.error(),
                                  live.error().empty() ? "" : "; ",
                                  "links not up: ", absl::StrJoin(down, ", ")));
    }
    // QEMU guests as their agents see them (one killed, exited).
    std::vector<std::string> dead = RefreshGuestStates(hosts_, &live);
    if (!dead.empty()) {
      live.set_state(emu::v1::DEGRADED);
      live.set_error(absl::StrCat(
          live.error(), live.error().empty() ? "" : "; ",
          "guests not running: ", absl::StrJoin(dead, ", "),
          "; `emuctl restart ", live.name(), " NODE` starts one again"));
    }
    live.set_converging(hosts_fine && !down.empty() && dead.empty());
  }
  return live;
}

absl::StatusOr<std::vector<Lab>> LabManager::List() const {
  EMU_ASSIGN_OR_RETURN(std::vector<Lab> labs, store_->List());
  for (auto& l : labs) l = WithLiveState(std::move(l));
  return labs;
}

absl::StatusOr<std::vector<Lab>> LabManager::ListOutlines() const {
  EMU_ASSIGN_OR_RETURN(std::vector<Lab> labs, store_->ListOutlines());
  bool host_lost = false;
  for (const auto& h : hosts_->Snapshot()) host_lost |= !h.reachable();
  for (auto& l : labs) {
    if (host_lost && l.state() == emu::v1::RUNNING) {
      // Which nodes the lost hosts held is in the whole lab.
      auto whole = store_->Get(l.name());
      if (!whole.ok()) return whole.status();
      l = WithLiveState(*std::move(whole));
      OutlineLab(&l);
      continue;
    }
    l = WithLiveState(std::move(l));  // resync errors, detached attachments
  }
  return labs;
}

absl::StatusOr<LabManager::NodePlace> LabManager::LocateNode(
    const std::string& lab_key, const std::string& node) const {
  // From the store, without asking agents about tunnels (Get does): an
  // exec must not pay for listing every resource of a large lab.
  auto stored = store_->Get(lab_key);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("lab ", lab_key, " not found"));
  }
  if (!stored.ok()) return stored.status();
  Lab lab = WithLiveState(*std::move(stored));
  if (lab.state() != emu::v1::RUNNING && lab.state() != emu::v1::DEGRADED) {
    return absl::FailedPreconditionError(
        absl::StrCat("lab ", lab.name(), " is ", LabState_Name(lab.state()),
                     ", not RUNNING"));
  }
  for (const auto& n : lab.topology().nodes()) {
    if (n.name() == node && community::IsAnchor(n)) {
      return absl::NotFoundError(absl::StrCat(
          "node ", n.name(), " of lab ", lab.name(),
          " is its port on community segment ", n.foreign_lab(), "/",
          n.foreign_node(), ", not a node of the lab"));
    }
  }
  std::vector<std::string> names;
  for (const auto& n : lab.nodes()) {
    names.push_back(n.name());
    if (n.name() != node) continue;
    EMU_ASSIGN_OR_RETURN(hosts::AgentClient * client, hosts_->Client(n.host()));
    NodePlace place;
    place.host = n.host();
    place.client = client;
    place.lab = std::move(lab);
    return place;
  }
  return absl::NotFoundError(
      absl::StrCat("node ", node, " is not in lab ", lab.name(),
                   " (nodes: ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<emu::v1::ExecResponse> LabManager::Exec(
    const emu::v1::LabExecRequest& request) {
  EMU_ASSIGN_OR_RETURN(NodePlace place,
                       LocateNode(request.lab(), request.node()));
  emu::v1::ExecRequest req;
  req.set_lab(place.lab.name());
  req.set_node(request.node());
  *req.mutable_argv() = request.argv();
  req.set_timeout_ms(request.timeout_ms());
  req.set_stdin(request.stdin());
  return place.client->Exec(req);
}

bool LabManager::ResyncHost(
    const std::string& host,
    const std::function<void(const std::string&)>& log) {
  auto labs = store_->List();
  if (!labs.ok()) {
    log(absl::StrCat("resync ", host, ": ", labs.status().ToString()));
    return false;
  }
  auto client = hosts_->Client(host);
  if (!client.ok()) return false;
  // Exporters before the labs attached to them: an attachment's port needs
  // its segment on the host (the agent waits for it only briefly).
  std::stable_partition(labs->begin(), labs->end(), [](const Lab& lab) {
    return lab.topology().attachments().empty();
  });
  bool all_ok = true;
  for (const Lab& lab : *labs) {
    if (lab.state() != emu::v1::RUNNING) continue;
    std::map<std::string, std::string> host_of;
    for (const auto& n : lab.nodes()) host_of[n.name()] = n.host();
    auto shares = placement::BuildShares(lab.topology(), host_of,
                                         hosts_->Snapshot(), nullptr);
    auto share = shares.find(host);
    if (share == shares.end()) continue;
    Lease lease(this, lab.name());
    if (!lease.held()) continue;  // a destroy is running; it wins
    absl::Status s = (*client)->ApplyLab(share->second,
                                         [](const emu::v1::ApplyLabEvent&) {});
    log(absl::StrCat("resync lab ", lab.name(), " on returning host ", host,
                     ": ", s.ok() ? "share re-applied" : s.ToString()));
    absl::MutexLock lock(&mu_);
    if (s.ok()) {
      resync_errors_[lab.name()].erase(host);
      if (resync_errors_[lab.name()].empty()) resync_errors_.erase(lab.name());
    } else {
      all_ok = false;
      resync_errors_[lab.name()][host] = std::string(s.message());
    }
  }
  return all_ok;
}

void LabManager::Reconcile(const std::function<void(const std::string&)>& log) {
  // Outlines: this runs every heartbeat, and only their states matter.
  auto labs = store_->ListOutlines();
  if (!labs.ok()) {
    log(absl::StrCat("reconcile: ", labs.status().ToString()));
    return;
  }
  ReconcileCommunity(log);
  for (const Lab& outline : *labs) {
    if (outline.state() != emu::v1::DEPLOYING &&
        outline.state() != emu::v1::DESTROYING) {
      continue;
    }
    Lease lease(this, outline.name());
    if (!lease.held()) continue;  // an operation is running on it
    auto whole = store_->Get(outline.name());  // its hosts are in its nodes
    if (!whole.ok()) {
      log(absl::StrCat("reconcile lab ", outline.name(), ": ",
                       whole.status().message()));
      continue;
    }
    Lab lab = *std::move(whole);
    if (lab.state() != emu::v1::DEPLOYING &&
        lab.state() != emu::v1::DESTROYING) {
      continue;  // changed since the listing
    }
    bool interrupted_deploy = lab.state() == emu::v1::DEPLOYING;
    absl::Status s =
        DestroyOnHosts(lab, HostsOf(lab), [](const DeployEvent&) {});
    if (!s.ok()) {
      if (interrupted_deploy) {
        lab.set_state(emu::v1::DESTROYING);
        lab.set_error(absl::StrCat(
            "controller restarted during deploy; rollback pending: ",
            s.message()));
        // DEPLOYING, if this fails, is rolled back by the next Reconcile all
        // the same; the log says why the record is stale.
        absl::Status recorded = Record(lab);
        if (!recorded.ok())
          log(absl::StrCat("reconcile: ", recorded.message()));
      }
      log(absl::StrCat("reconcile lab ", lab.name(), ": ", s.message()));
      continue;
    }
    if (interrupted_deploy) {
      lab.set_state(emu::v1::FAILED);
      lab.set_error("controller restarted during deploy; rolled back");
      lab.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
      absl::Status recorded = Record(lab);
      log(recorded.ok()
              ? absl::StrCat(
                    "reconcile: rolled back interrupted deploy of lab ",
                    lab.name())
              : absl::StrCat("reconcile: rolled back interrupted deploy; ",
                             recorded.message(), " (retried next time)"));
    } else {
      absl::Status deleted = store_->Delete(lab.name());
      log(deleted.ok()
              ? absl::StrCat("reconcile: finished destroying lab ", lab.name())
              : absl::StrCat("reconcile: destroyed lab ", lab.name(),
                             " but could not delete its record (retried next "
                             "time): ",
                             deleted.message()));
    }
  }
}

}  // namespace emu::controller::lab
