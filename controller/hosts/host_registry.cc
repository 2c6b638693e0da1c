#include "controller/hosts/host_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "proto/topology_names.h"

namespace emu::controller::hosts {

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseAgentList(
    const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view item : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty() ||
        kv[1].find(':') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent '", item,
                       "': expected NAME=HOST:PORT, e.g. h1=127.0.0.1:7471"));
    }
    if (absl::Status name = CheckName("agent", kv[0]); !name.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--agents '", item, "': ", name.message(),
                       " (the name becomes part of namespace names)"));
    }
    for (const auto& [name, _] : out) {
      if (name == kv[0]) {
        return absl::InvalidArgumentError(
            absl::StrCat("agent name '", name, "' given twice"));
      }
    }
    out.emplace_back(kv[0], kv[1]);
  }
  return out;
}

absl::Status HostRegistry::Add(const std::string& name,
                               const std::string& address,
                               std::unique_ptr<AgentClient> client) {
  absl::MutexLock lock(&mu_);
  for (const auto& e : hosts_) {
    if (e.status.name() == name) {
      return absl::AlreadyExistsError(absl::StrCat("host ", name));
    }
  }
  Entry e;
  e.status.set_name(name);
  e.status.set_address(address);
  e.status.set_error("not contacted yet");
  e.client = std::move(client);
  hosts_.push_back(std::move(e));
  std::sort(hosts_.begin(), hosts_.end(), [](const Entry& a, const Entry& b) {
    return a.status.name() < b.status.name();
  });
  return absl::OkStatus();
}

void HostRegistry::CallEach(size_t n, const std::function<void(size_t)>& call) {
  absl::BlockingCounter left(static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    fanout_.Schedule([&call, &left, i] {
      call(i);
      left.DecrementCount();
    });
  }
  left.Wait();
}

void HostRegistry::Refresh(absl::Duration timeout) {
  std::vector<std::pair<std::string, AgentClient*>> targets;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& e : hosts_) {
      targets.emplace_back(e.status.name(), e.client.get());
    }
  }
  std::vector<absl::StatusOr<emu::v1::Capabilities>> results(
      targets.size(), absl::UnknownError("not asked"));
  CallEach(targets.size(), [&](size_t i) {
    results[i] = targets[i].second->GetCapabilities(timeout);
  });
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < targets.size(); ++i) {
    for (auto& e : hosts_) {
      if (e.status.name() != targets[i].first) continue;
      if (results[i].ok()) {
        if (!e.status.reachable() && e.ever_reachable) {
          returned_.insert(e.status.name());
        }
        e.ever_reachable = true;
        e.status.set_reachable(true);
        e.status.clear_error();
        *e.status.mutable_capabilities() = *results[i];
      } else {
        e.status.set_reachable(false);
        e.status.set_error(std::string(results[i].status().message()));
      }
    }
  }
}

absl::StatusOr<HostRegistry::RegisterResult> HostRegistry::Register(
    const std::string& name, const std::string& address,
    const emu::v1::Capabilities& capabilities, const std::string& instance_id,
    const std::function<std::unique_ptr<AgentClient>()>& make_client,
    const std::string& certificate) {
  absl::MutexLock lock(&mu_);
  if (auto r = removed_.find(name); r != removed_.end()) {
    const bool old_certificate =
        !certificate.empty() && r->second.certificates.count(certificate) > 0;
    if (old_certificate || r->second.instance_ids.count(instance_id) > 0) {
      return absl::PermissionDeniedError(absl::StrCat(
          "host ", name, " was removed from the cluster (emuctl cluster "
          "remove): its ", old_certificate ? "certificate" : "agent instance",
          " is refused; add it again with `emuctl cluster add`"));
    }
  }
  RegisterResult result;
  Entry* entry = nullptr;
  for (auto& e : hosts_) {
    if (e.status.name() == name) entry = &e;
  }
  if (entry != nullptr && !entry->registered &&
      entry->status.address() != address) {
    return absl::AlreadyExistsError(
        absl::StrCat("host ", name, " is in the controller's --agents list at ",
                     entry->status.address(), ", not ", address,
                     ": give this agent another --host_name, or fix the list"));
  }
  if (entry == nullptr) {
    Entry e;
    e.status.set_name(name);
    e.status.set_address(address);
    e.status.set_error("registered; not contacted yet");
    e.client = make_client();
    e.registered = true;
    hosts_.push_back(std::move(e));
    std::sort(hosts_.begin(), hosts_.end(), [](const Entry& a, const Entry& b) {
      return a.status.name() < b.status.name();
    });
    for (auto& x : hosts_) {
      if (x.status.name() == name) entry = &x;
    }
    result.new_host = true;
  } else if (entry->status.address() != address) {
    retired_.push_back(std::move(entry->client));
    entry->client = make_client();
    entry->status.set_address(address);
  }
  if (!entry->instance_id.empty() && entry->instance_id != instance_id &&
      entry->ever_reachable) {
    result.restarted = true;
    returned_.insert(name);
  }
  entry->instance_id = instance_id;
  entry->certificate = certificate;
  *entry->status.mutable_capabilities() = capabilities;
  return result;
}

absl::Status HostRegistry::Remove(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = std::find_if(hosts_.begin(), hosts_.end(), [&](const Entry& e) {
    return e.status.name() == name;
  });
  if (it == hosts_.end()) {
    return absl::NotFoundError(absl::StrCat("host ", name, " is not known"));
  }
  Retired& r = removed_[name];
  if (!it->certificate.empty()) r.certificates.insert(it->certificate);
  if (!it->instance_id.empty()) r.instance_ids.insert(it->instance_id);
  // A Refresh or a lab operation may hold the client still.
  retired_.push_back(std::move(it->client));
  hosts_.erase(it);
  returned_.erase(name);
  return absl::OkStatus();
}

std::vector<std::string> HostRegistry::TakeReturnedHosts() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out(returned_.begin(), returned_.end());
  returned_.clear();
  return out;
}

std::vector<emu::v1::HostStatus> HostRegistry::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<emu::v1::HostStatus> out;
  for (const auto& e : hosts_) out.push_back(e.status);
  return out;
}

absl::StatusOr<AgentClient*> HostRegistry::Client(
    const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const auto& e : hosts_) {
    if (e.status.name() == name) return e.client.get();
  }
  return absl::NotFoundError(absl::StrCat("host ", name, " is not known"));
}

bool HostRegistry::Reachable(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  for (const auto& e : hosts_) {
    if (e.status.name() == name) return e.status.reachable();
  }
  return false;
}

}  // namespace emu::controller::hosts
