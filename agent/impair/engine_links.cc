#include "agent/impair/engine_links.h"

#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "linkemu/engine_choice.h"

namespace emu::agent::impair {

EngineLinks::EngineLinks(linkemu::LinkEngine* engine, tunnel::TapOpener* taps,
                         linkemu::BaseLatency* base)
    : engine_(engine), taps_(taps), base_(base) {}

namespace {

// What identifies parts for "nothing changed": figures and sources.
std::string PartsKey(const EngineLinks::PathParts& parts) {
  std::string key;
  for (const auto* dir : {&parts.a_to_b, &parts.b_to_a}) {
    for (const linkemu::BasePart& p : *dir) {
      absl::StrAppend(&key, p.measured, " ", p.ns, " ", p.source, "\n");
    }
    key += "|";
  }
  return key;
}

}  // namespace

absl::StatusOr<emu::v1::LinkParams> EngineLinks::ForEngine(
    const std::string& link, const char* direction,
    const emu::v1::LinkParams& p, const std::vector<linkemu::BasePart>& parts,
    Compensation* how) {
  *how = Compensation();
  if (!p.compensate() || p.delay_us() == 0) return p;
  if (base_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "link ", link, " ", direction,
        ": compensate: this agent cannot measure the path's base latency"));
  }
  absl::StatusOr<int64_t> base_ns = base_->Ns();
  if (!base_ns.ok()) {
    return absl::Status(base_ns.status().code(),
                        absl::StrCat("link ", link, " ", direction,
                                     ": compensate: ",
                                     base_ns.status().message()));
  }
  emu::v1::LinkParams out = p;
  *how = linkemu::CompensationFor(p.delay_us(), *base_ns,
                                  linkemu::kBaseSourceEnginePath, parts);
  out.set_delay_us(how->applied_delay_us);
  return out;
}

std::optional<linkemu::BasePart> EngineLinks::EnginePathPart() {
  if (base_ == nullptr) return std::nullopt;
  linkemu::BasePart part;
  absl::StatusOr<int64_t> ns = base_->Ns();
  if (!ns.ok()) {
    part.source = absl::StrCat(linkemu::kBaseSourceEnginePath, " failed: ",
                               ns.status().message());
    return part;
  }
  part.measured = true;
  part.ns = *ns;
  part.source = linkemu::kBaseSourceEnginePath;
  return part;
}

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
  Compensation comp_ab, comp_ba;
  absl::StatusOr<emu::v1::LinkParams> ab =
      ForEngine(spec.link, "a-to-b", spec.a_to_b, {}, &comp_ab);
  if (!ab.ok()) return ab.status();
  absl::StatusOr<emu::v1::LinkParams> ba =
      ForEngine(spec.link, "b-to-a", spec.b_to_a, {}, &comp_ba);
  if (!ba.ok()) return ba.status();
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
      *a, *b, linkemu::ImpairmentSpecFor(*ab),
      linkemu::ImpairmentSpecFor(*ba), spec.seed);
  if (!id.ok()) {
    return absl::Status(
        id.status().code(),
        absl::StrCat("link ", spec.link, ": ", id.status().message()));
  }
  links_[key] = Entry{*id,
                      spec.a_to_b.SerializeAsString(),
                      spec.b_to_a.SerializeAsString(),
                      PartsKey({}),
                      spec.tap_a.netns,
                      spec.tap_b.netns,
                      comp_ab,
                      comp_ba};
  return absl::OkStatus();
}

absl::Status EngineLinks::Update(const std::string& lab,
                                 const std::string& link,
                                 const emu::v1::LinkParams& a_to_b,
                                 const emu::v1::LinkParams& b_to_a,
                                 const PathParts& parts) {
  const std::string parts_key = PartsKey(parts);
  {
    absl::MutexLock lock(&mu_);
    auto it = links_.find(Key(lab, link));
    if (it == links_.end()) {
      return absl::NotFoundError(absl::StrCat(
          "link ", link, " of lab ", lab, " is not served by the engine"));
    }
    if (a_to_b.SerializeAsString() == it->second.a_to_b &&
        b_to_a.SerializeAsString() == it->second.b_to_a &&
        parts_key == it->second.parts) {
      return absl::OkStatus();
    }
  }
  // Measuring the base (the first time) takes a fraction of a second and
  // adds a scratch link to the engine: not under the lock.
  Compensation comp_ab, comp_ba;
  absl::StatusOr<emu::v1::LinkParams> eab =
      ForEngine(link, "a-to-b", a_to_b, parts.a_to_b, &comp_ab);
  if (!eab.ok()) return eab.status();
  absl::StatusOr<emu::v1::LinkParams> eba =
      ForEngine(link, "b-to-a", b_to_a, parts.b_to_a, &comp_ba);
  if (!eba.ok()) return eba.status();
  absl::MutexLock lock(&mu_);
  auto it = links_.find(Key(lab, link));
  if (it == links_.end()) {
    return absl::NotFoundError(absl::StrCat(
        "link ", link, " of lab ", lab, " is not served by the engine"));
  }
  std::string ab = a_to_b.SerializeAsString();
  std::string ba = b_to_a.SerializeAsString();
  absl::Status s = engine_->Update(it->second.id,
                                   linkemu::ImpairmentSpecFor(*eab),
                                   linkemu::ImpairmentSpecFor(*eba));
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("link ", link, ": ", s.message()));
  }
  it->second.a_to_b = std::move(ab);
  it->second.b_to_a = std::move(ba);
  it->second.parts = parts_key;
  it->second.comp_a_to_b = comp_ab;
  it->second.comp_b_to_a = comp_ba;
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
    out.push_back(Served{key.first, key.second, engine_->GetStats(entry.id),
                         entry.comp_a_to_b, entry.comp_b_to_a});
  }
  std::sort(out.begin(), out.end(), [](const Served& x, const Served& y) {
    return std::tie(x.lab, x.link) < std::tie(y.lab, y.link);
  });
  return out;
}

}  // namespace emu::agent::impair
