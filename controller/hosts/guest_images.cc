#include "controller/hosts/guest_images.h"

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"

namespace emu::controller::hosts {
namespace {

// The hosts a request names (each must be known), or every host.
absl::StatusOr<std::vector<std::pair<std::string, AgentClient*>>> Targets(
    const HostRegistry& hosts,
    const google::protobuf::RepeatedPtrField<std::string>& named) {
  std::vector<std::string> names;
  if (named.empty()) {
    for (const auto& h : hosts.Snapshot()) names.push_back(h.name());
  } else {
    names.assign(named.begin(), named.end());
  }
  std::vector<std::pair<std::string, AgentClient*>> targets;
  for (const std::string& name : names) {
    absl::StatusOr<AgentClient*> client = hosts.Client(name);
    if (!client.ok()) {
      std::vector<std::string> known;
      for (const auto& h : hosts.Snapshot()) known.push_back(h.name());
      return absl::NotFoundError(
          absl::StrCat("unknown host ", name, " (hosts: ",
                       known.empty() ? "none" : absl::StrJoin(known, ", "), ")"));
    }
    targets.emplace_back(name, *client);
  }
  return targets;
}

// Runs fn(i) for each index on its own thread and waits for all. For
// builds, which take minutes: on the registry's fan-out pool (CallEach)
// they would hold its threads and delay everything else that asks agents.
void ForEachParallel(size_t n, const std::function<void(size_t)>& fn) {
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

}  // namespace

absl::StatusOr<emu::v1::ListImagesResponse> ListGuestImages(
    HostRegistry& hosts, const emu::v1::ListImagesRequest& request) {
  auto targets = Targets(hosts, request.hosts());
  if (!targets.ok()) return targets.status();
  std::vector<absl::StatusOr<emu::v1::ListImagesResponse>> answers(
      targets->size(), absl::UnknownError("not asked"));
  hosts.CallEach(targets->size(), [&](size_t i) {
    answers[i] = (*targets)[i].second->ListImages();
  });
  emu::v1::ListImagesResponse out;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i].ok()) {
      out.add_unreachable(std::string(answers[i].status().message()));
      continue;
    }
    for (auto& image : *answers[i]->mutable_images()) {
      image.set_host((*targets)[i].first);
      *out.add_images() = std::move(image);
    }
  }
  return out;
}

absl::Status BuildGuestImage(
    const HostRegistry& hosts, const emu::v1::BuildImageRequest& request,
    const std::function<void(const emu::v1::BuildImageEvent&)>& push) {
  auto targets = Targets(hosts, request.hosts());
  if (!targets.ok()) return targets.status();
  if (targets->empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("image ", request.name(), ": the cluster has no hosts"));
  }
  emu::v1::BuildImageRequest forwarded = request;
  forwarded.clear_hosts();
  absl::Mutex push_mu;
  auto send = [&](emu::v1::BuildImageEvent e) {
    absl::MutexLock lock(&push_mu);
    push(e);
  };
  for (const auto& [name, client] : *targets) {
    emu::v1::BuildImageEvent e;
    e.set_host(name);
    e.set_state(emu::v1::BuildImageEvent::STARTED);
    send(std::move(e));
  }
  std::vector<absl::Status> outcomes(targets->size());
  ForEachParallel(targets->size(), [&](size_t i) {
    const auto& [name, client] = (*targets)[i];
    absl::StatusOr<emu::v1::BuildImageResponse> r = client->BuildImage(forwarded);
    emu::v1::BuildImageEvent e;
    e.set_host(name);
    if (r.ok()) {
      e.set_state(emu::v1::BuildImageEvent::DONE);
      r->set_host(name);
      *e.mutable_result() = *std::move(r);
    } else {
      e.set_state(emu::v1::BuildImageEvent::FAILED);
      e.set_message(std::string(r.status().message()));
      outcomes[i] = r.status();
    }
    send(std::move(e));
  });
  size_t built = 0;
  const absl::Status* first = nullptr;
  for (const absl::Status& s : outcomes) {
    if (s.ok()) {
      ++built;
    } else if (first == nullptr) {
      first = &s;
    }
  }
  if (first == nullptr) return absl::OkStatus();
  return absl::Status(
      first->code(),
      absl::StrCat("image ", request.name(), " ready on ", built, " of ",
                   outcomes.size(), " hosts; ", first->message()));
}

}  // namespace emu::controller::hosts
