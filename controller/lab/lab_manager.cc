#include "controller/lab/lab_manager.h"

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "controller/lab/guest_state.h"
#include "controller/lab/link_state.h"
#include "controller/placement/placement.h"
#include "controller/topology/stable_macs.h"
#include "proto/topology_names.h"
#include "controller/topology/topology_validator.h"

namespace emu::controller::lab {
namespace {

using emu::v1::DeployEvent;
using emu::v1::Lab;
using emu::v1::LabState;

constexpr absl::Duration kRefreshTimeout = absl::Seconds(5);
constexpr absl::Duration kExecLineTimeout = absl::Seconds(60);

DeployEvent MakeEvent(std::string host, std::string message, LabState state) {
  DeployEvent e;
  e.set_time_unix_us(absl::ToUnixMicros(absl::Now()));
  e.set_host(std::move(host));
  e.set_message(std::move(message));
  e.set_state(state);
  return e;
}

std::string AgentEventText(const emu::v1::ApplyLabEvent& e) {
  using E = emu::v1::ApplyLabEvent;
  const char* verb = "?";
  switch (e.kind()) {
    case E::NODE_CREATED:
    case E::LINK_CREATED: verb = "created"; break;
    case E::NODE_CONFIGURED: verb = "configured"; break;
    case E::LINK_SHAPED: verb = "shaped"; break;
    case E::REMOVED: verb = "removed"; break;
    case E::DONE: verb = "done:"; break;
    default: break;
  }
  std::string text = absl::StrCat(verb, " ", e.object());
  if (!e.detail().empty()) absl::StrAppend(&text, " (", e.detail(), ")");
  return text;
}

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

// Progress callbacks come from one thread per host; the caller's callback
// sees them one at a time.
LabManager::ProgressFn Serialized(const LabManager::ProgressFn& fn) {
  auto mu = std::make_shared<absl::Mutex>();
  return [mu, fn](const DeployEvent& e) {
    absl::MutexLock lock(mu.get());
    fn(e);
  };
}

}  // namespace

LabManager::LabManager(LabStore* store, hosts::HostRegistry* hosts)
    : store_(store), hosts_(hosts) {}

LabManager::Lease::Lease(LabManager* manager, std::string lab)
    : manager_(manager), lab_(std::move(lab)) {
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
    return topology::ParseAndValidateTopology(source.file().content(),
                                    source.file().name());
  }
  if (!source.has_topology()) {
    return absl::InvalidArgumentError("no topology given");
  }
  topology::ParsedTopology parsed;
  parsed.topology = source.topology();
  topology::NormalizeTopology(&parsed.topology);
  EMU_RETURN_IF_ERROR(topology::ValidateTopology(parsed.topology, &parsed.warnings));
  return parsed;
}

absl::Status LabManager::Deploy(const emu::v1::TopologySource& source,
                                const ProgressFn& raw_progress) {
  EMU_ASSIGN_OR_RETURN(topology::ParsedTopology parsed, Validate(source));
  // Re-created interfaces keep their MACs (controller/stable_macs.h).
  topology::AssignStableMacs(&parsed.topology);
  const emu::v1::Topology& topo = parsed.topology;
  const std::string name = topo.name();
  Lease lease(this, name);
  if (!lease.held()) return lease.BusyError();
  const ProgressFn progress = Serialized(raw_progress);

  auto existing = store_->Get(name);
  if (existing.ok() && existing->state() != emu::v1::FAILED &&
      existing->state() != emu::v1::DESTROYED) {
    return absl::AlreadyExistsError(absl::StrCat(
        "lab ", name, " already exists (", LabState_Name(existing->state()),
        "); run `emuctl down ", name, "` first"));
  }
  DeployEvent validated = MakeEvent(
      "", absl::StrCat("validated ", topo.source().file(),
                       topo.source().file().empty() ? "" : ": ", topo.nodes_size(),
                       " nodes, ", topo.links_size(), " links"),
      emu::v1::DEPLOYING);
  for (const auto& w : parsed.warnings) validated.add_warnings(w);
  progress(validated);

  hosts_->Refresh(kRefreshTimeout);
  EMU_ASSIGN_OR_RETURN(placement::Placement placement,
                       placement::PlaceTopology(topo, hosts_->Snapshot()));

  Lab lab;
  lab.set_name(name);
  lab.set_state(emu::v1::DEPLOYING);
  *lab.mutable_topology() = topo;
  lab.set_created_unix_us(absl::ToUnixMicros(absl::Now()));
  lab.set_updated_unix_us(lab.created_unix_us());
  for (const auto& node : topo.nodes()) {
    auto* ns = lab.add_nodes();
    ns->set_name(node.name());
    ns->set_kind(node.kind());
    ns->set_host(placement.host_of_node[node.name()]);
    *ns->mutable_interfaces() = node.interfaces();
  }
  for (const auto& link : topo.links()) {
    auto* ls = lab.add_links();
    *ls->mutable_link() = link;
    ls->set_host_a(placement.host_of_node[link.a().node()]);
    ls->set_host_b(placement.host_of_node[link.b().node()]);
    ls->set_carrier(ls->host_a() == ls->host_b() ? "veth" : "tcp-tunnel");
    ls->set_state("up");
  }
  EMU_RETURN_IF_ERROR(store_->Put(lab));
  std::vector<std::string> where;
  for (const auto& [host, share] : placement.per_host) {
    where.push_back(absl::StrCat(host, " (", share.nodes_size(), " nodes, ",
                                 share.links_size(), " links)"));
  }
  progress(MakeEvent("", absl::StrCat("placed on ", absl::StrJoin(where, ", ")),
                     emu::v1::DEPLOYING));

  // Every host builds its share in parallel.
  std::vector<std::string> hosts;
  std::vector<absl::Status> results;
  for (const auto& [host, _] : placement.per_host) hosts.push_back(host);
  results.resize(hosts.size());
  {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < hosts.size(); ++i) {
      threads.emplace_back([&, i] {
        auto client = hosts_->Client(hosts[i]);
        if (!client.ok()) {
          results[i] = client.status();
          return;
        }
        results[i] = (*client)->ApplyLab(
            placement.per_host[hosts[i]],
            [&](const emu::v1::ApplyLabEvent& e) {
              progress(MakeEvent(hosts[i], AgentEventText(e),
                                 emu::v1::DEPLOYING));
            });
      });
    }
    for (auto& t : threads) t.join();
  }
  absl::Status failure = absl::OkStatus();
  for (const auto& s : results) {
    if (!s.ok()) {
      failure = s;
      break;
    }
  }
  if (failure.ok()) failure = RunExecLines(lab, progress);

  if (!failure.ok()) {
    progress(MakeEvent("", absl::StrCat("deploy failed: ", failure.message(),
                                        "; rolling back"),
                       emu::v1::DESTROYING));
    lab.set_state(emu::v1::DESTROYING);
    lab.set_error(std::string(failure.message()));
    store_->Put(lab).IgnoreError();
    absl::Status rollback = DestroyOnHosts(lab, hosts, progress);
    lab.set_state(rollback.ok() ? emu::v1::FAILED : emu::v1::DESTROYING);
    lab.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
    if (!rollback.ok()) {
      lab.set_error(absl::StrCat(failure.message(), "; rollback incomplete: ",
                                 rollback.message()));
    }
    store_->Put(lab).IgnoreError();
    progress(MakeEvent("",
                       rollback.ok()
                           ? "rolled back: nothing of the lab is left"
                           : absl::StrCat("rollback incomplete (retried "
                                          "when the host answers): ",
                                          rollback.message()),
                       lab.state()));
    return failure;
  }
  lab.set_state(emu::v1::RUNNING);
  lab.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
  EMU_RETURN_IF_ERROR(store_->Put(lab));
  progress(MakeEvent("", absl::StrCat("lab ", name, " is running"),
                     emu::v1::RUNNING));
  return absl::OkStatus();
}

absl::Status LabManager::RunExecLines(const Lab& lab,
                                      const ProgressFn& progress) {
  std::vector<const emu::v1::Node*> nodes;
  for (const auto& n : lab.topology().nodes()) {
    if (!n.exec().empty()) nodes.push_back(&n);
  }
  std::map<std::string, std::string> host_of;
  for (const auto& n : lab.nodes()) host_of[n.name()] = n.host();
  std::vector<absl::Status> results(nodes.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < nodes.size(); ++i) {
    threads.emplace_back([&, i] {
      const emu::v1::Node& node = *nodes[i];
      const std::string& host = host_of[node.name()];
      auto client = hosts_->Client(host);
      if (!client.ok()) {
        results[i] = client.status();
        return;
      }
      for (const std::string& line : node.exec()) {
        emu::v1::ExecRequest req;
        req.set_lab(lab.name());
        req.set_node(node.name());
        req.add_argv("/bin/sh");
        req.add_argv("-c");
        req.add_argv(line);
        req.set_timeout_ms(absl::ToInt64Milliseconds(kExecLineTimeout));
        auto resp = (*client)->Exec(req);
        std::string what =
            absl::StrCat(SourcePrefix(node.source()), "node ", node.name(), ": exec `",
                         line, "`");
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
        progress(MakeEvent(host, absl::StrCat("ran on ", node.name(), ": ", line),
                           emu::v1::DEPLOYING));
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LabManager::DestroyOnHosts(const Lab& lab,
                                        const std::vector<std::string>& hosts,
                                        const ProgressFn& progress) {
  std::vector<absl::Status> results(hosts.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < hosts.size(); ++i) {
    threads.emplace_back([&, i] {
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
  }
  for (auto& t : threads) t.join();
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
  EMU_RETURN_IF_ERROR(store_->Put(lab));
  progress(MakeEvent("", absl::StrCat("destroying lab ", name),
                     emu::v1::DESTROYING));
  hosts_->Refresh(kRefreshTimeout);
  absl::Status s = DestroyOnHosts(lab, HostsOf(lab), progress);
  if (!s.ok()) {
    lab.set_error(absl::StrCat("destroy incomplete: ", s.message()));
    store_->Put(lab).IgnoreError();
    return absl::UnavailableError(absl::StrCat(
        "lab ", name, ": ", s.message(),
        "; what was reachable is removed, the rest is removed when the host "
        "answers again (or run `emuctl down ",
        name, "` again)"));
  }
  EMU_RETURN_IF_ERROR(store_->Delete(name));
  progress(MakeEvent("", absl::StrCat("lab ", name, " destroyed"),
                     emu::v1::DESTROYED));
  return absl::OkStatus();
}

Lab LabManager::WithLiveState(Lab lab) const {
  if (lab.state() != emu::v1::RUNNING) return lab;
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
  if (lost.empty() && resync_errors.empty()) return lab;
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
  if (live.state() == emu::v1::RUNNING || live.state() == emu::v1::DEGRADED) {
    // Cross-host links as their agents see them (a tunnel reconnecting).
    std::vector<std::string> down = RefreshTunnelStates(hosts_, &live);
    if (!down.empty()) {
      live.set_state(emu::v1::DEGRADED);
      live.set_error(absl::StrCat(live.error(), live.error().empty() ? "" : "; ",
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
  }
  return live;
}

absl::StatusOr<std::vector<Lab>> LabManager::List() const {
  EMU_ASSIGN_OR_RETURN(std::vector<Lab> labs, store_->List());
  for (auto& l : labs) l = WithLiveState(std::move(l));
  return labs;
}

absl::StatusOr<emu::v1::ExecResponse> LabManager::Exec(
    const emu::v1::LabExecRequest& request) {
  // From the store, without asking agents about tunnels (Get does): an
  // exec must not pay for listing every resource of a large lab.
  auto stored = store_->Get(request.lab());
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat("lab ", request.lab(), " not found"));
  }
  if (!stored.ok()) return stored.status();
  Lab lab = WithLiveState(*std::move(stored));
  if (lab.state() != emu::v1::RUNNING && lab.state() != emu::v1::DEGRADED) {
    return absl::FailedPreconditionError(
        absl::StrCat("lab ", lab.name(), " is ", LabState_Name(lab.state()),
                     ", not RUNNING"));
  }
  std::vector<std::string> names;
  for (const auto& n : lab.nodes()) {
    names.push_back(n.name());
    if (n.name() != request.node()) continue;
    EMU_ASSIGN_OR_RETURN(hosts::AgentClient * client, hosts_->Client(n.host()));
    emu::v1::ExecRequest req;
    req.set_lab(lab.name());
    req.set_node(n.name());
    *req.mutable_argv() = request.argv();
    req.set_timeout_ms(request.timeout_ms());
    req.set_stdin(request.stdin());
    return client->Exec(req);
  }
  return absl::NotFoundError(absl::StrCat("node ", request.node(),
                                          " is not in lab ", lab.name(),
                                          " (nodes: ",
                                          absl::StrJoin(names, ", "), ")"));
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
  bool all_ok = true;
  for (const Lab& lab : *labs) {
    if (lab.state() != emu::v1::RUNNING) continue;
    std::map<std::string, std::string> host_of;
    for (const auto& n : lab.nodes()) host_of[n.name()] = n.host();
    auto shares = placement::BuildShares(lab.topology(), host_of, hosts_->Snapshot(),
                              nullptr);
    auto share = shares.find(host);
    if (share == shares.end()) continue;
    Lease lease(this, lab.name());
    if (!lease.held()) continue;  // a destroy is running; it wins
    absl::Status s =
        (*client)->ApplyLab(share->second, [](const emu::v1::ApplyLabEvent&) {});
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

void LabManager::Reconcile(
    const std::function<void(const std::string&)>& log) {
  auto labs = store_->List();
  if (!labs.ok()) {
    log(absl::StrCat("reconcile: ", labs.status().ToString()));
    return;
  }
  for (Lab lab : *labs) {
    if (lab.state() != emu::v1::DEPLOYING &&
        lab.state() != emu::v1::DESTROYING) {
      continue;
    }
    Lease lease(this, lab.name());
    if (!lease.held()) continue;  // an operation is running on it
    bool interrupted_deploy = lab.state() == emu::v1::DEPLOYING;
    absl::Status s =
        DestroyOnHosts(lab, HostsOf(lab), [](const DeployEvent&) {});
    if (!s.ok()) {
      if (interrupted_deploy) {
        lab.set_state(emu::v1::DESTROYING);
        lab.set_error(absl::StrCat(
            "controller restarted during deploy; rollback pending: ",
            s.message()));
        store_->Put(lab).IgnoreError();
      }
      log(absl::StrCat("reconcile lab ", lab.name(), ": ", s.message()));
      continue;
    }
    if (interrupted_deploy) {
      lab.set_state(emu::v1::FAILED);
      lab.set_error("controller restarted during deploy; rolled back");
      lab.set_updated_unix_us(absl::ToUnixMicros(absl::Now()));
      store_->Put(lab).IgnoreError();
      log(absl::StrCat("reconcile: rolled back interrupted deploy of lab ",
                       lab.name()));
    } else {
      store_->Delete(lab.name()).IgnoreError();
      log(absl::StrCat("reconcile: finished destroying lab ", lab.name()));
    }
  }
}

}  // namespace emu::controller::lab
