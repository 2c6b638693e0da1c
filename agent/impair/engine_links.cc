#include "agent/impair/engine_links.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "linkemu/engine_choice.h"

namespace emu::agent::impair {

EngineLinks::EngineLinks(linkemu::LinkEngine* engine, tunnel::TapOpener* taps)
    : engine_(engine), taps_(taps) {}

EngineLinks::~EngineLinks() {
  absl::MutexLock lock(&mu_);
  if (engine_ == nullptr) return;
  for (auto& [key, entry] : links_) engine_->RemoveLink(entry.id);
}

int EngineLinks::Retain(const std::string& lab,
                        const absl::flat_hash_set<std::string>& keep) {
  absl::MutexLock lock(&mu_);
  std::vector<Key> gone;
  for (const auto& [key, entry] : links_) {
    if (key.first == lab && !keep.contains(key.second)) gone.push_back(key);
  }
  for (const Key& key : gone) {
    engine_->RemoveLink(links_.at(key).id);
    links_.erase(key);
  }
  return static_cast<int>(gone.size());
}

bool EngineLinks::Has(const std::string& lab, const std::string& link) const {
  absl::MutexLock lock(&mu_);
  return links_.contains(Key(lab, link));
}

absl::Status EngineLinks::Create(const std::string& lab,
                                 const EngineLinkSpec& spec) {
  if (engine_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("link ", spec.link,
                     ": this agent runs no userspace impairment engine"));
  }
  absl::MutexLock lock(&mu_);
  const Key key(lab, spec.link);
  if (auto old = links_.find(key); old != links_.end()) {
    engine_->RemoveLink(old->second.id);
    links_.erase(old);
  }
  absl::StatusOr<int> a = taps_->Open(spec.tap_a);
  if (!a.ok()) {
    return absl::Status(a.status().code(),
                        absl::StrCat("link ", spec.link, ": TAP ",
                                     spec.tap_a.ifname, " in ",
                                     spec.tap_a.netns, ": ",
                                     a.status().message()));
  }
  absl::StatusOr<int> b = taps_->Open(spec.tap_b);
  if (!b.ok()) {
    close(*a);
    return absl::Status(b.status().code(),
                        absl::StrCat("link ", spec.link, ": TAP ",
                                     spec.tap_b.ifname, " in ",
                                     spec.tap_b.netns, ": ",
                                     b.status().message()));
  }
  // The engine takes both fds over, also when it refuses.
  absl::StatusOr<linkemu::LinkEngine::LinkId> id = engine_->AddLink(
      *a, *b, linkemu::ImpairmentSpecFor(spec.a_to_b),
      linkemu::ImpairmentSpecFor(spec.b_to_a), spec.seed);
  if (!id.ok()) {
    return absl::Status(
        id.status().code(),
        absl::StrCat("link ", spec.link, ": ", id.status().message()));
  }
  links_[key] = Entry{*id, spec.a_to_b.SerializeAsString(),
                      spec.b_to_a.SerializeAsString(), spec.tap_a.netns,
                      spec.tap_b.netns};
  return absl::OkStatus();
}

absl::Status EngineLinks::Update(const std::string& lab,
                                 const std::string& link,
                                 const emu::v1::LinkParams& a_to_b,
                                 const emu::v1::LinkParams& b_to_a) {
  absl::MutexLock lock(&mu_);
  auto it = links_.find(Key(lab, link));
  if (it == links_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "link ", link, " of lab ", lab, " is not served by the engine"));
  }
  std::string ab = a_to_b.SerializeAsString();
  std::string ba = b_to_a.SerializeAsString();
  if (ab == it->second.a_to_b && ba == it->second.b_to_a) {
    return absl::OkStatus();
  }
  absl::Status s = engine_->Update(it->second.id,
                                   linkemu::ImpairmentSpecFor(a_to_b),
                                   linkemu::ImpairmentSpecFor(b_to_a));
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("link ", link, ": ", s.message()));
  }
  it->second.a_to_b = std::move(ab);
  it->second.b_to_a = std::move(ba);
  return absl::OkStatus();
}

int EngineLinks::RemoveLab(const std::string& lab) {
  return Retain(lab, {});
}

int EngineLinks::RemoveInNamespaces(const std::string& netns_prefix) {
  absl::MutexLock lock(&mu_);
  std::vector<Key> gone;
  for (const auto& [key, entry] : links_) {
    if (absl::StartsWith(entry.netns_a, netns_prefix) ||
        absl::StartsWith(entry.netns_b, netns_prefix)) {
      gone.push_back(key);
    }
  }
  for (const Key& key : gone) {
    engine_->RemoveLink(links_.at(key).id);
    links_.erase(key);
  }
  return static_cast<int>(gone.size());
}

std::vector<EngineLinks::Served> EngineLinks::List(const std::string& lab) {
  absl::MutexLock lock(&mu_);
  std::vector<Served> out;
  for (const auto& [key, entry] : links_) {
    if (!lab.empty() && key.first != lab) continue;
    out.push_back(Served{key.first, key.second, engine_->GetStats(entry.id)});
  }
  std::sort(out.begin(), out.end(), [](const Served& x, const Served& y) {
    return std::tie(x.lab, x.link) < std::tie(y.lab, y.link);
  });
  return out;
}

}  // namespace emu::agent::impair
