#include "controller/hosts/testing/fake_agent_client.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace emu::controller::hosts {

FakeAgentClient::FakeAgentClient(std::string host) : host_(std::move(host)) {
  caps_.set_host(host_);
  caps_.set_cpus(4);
  caps_.set_memory_mib(8192);
  caps_.add_node_kinds(emu::v1::NODE_KIND_NETNS);
  caps_.add_qdiscs("tbf");
}

absl::Status FakeAgentClient::CheckReachable() const {
  if (reachable_) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("host ", host_, " (agent at fake) unreachable"));
}

absl::StatusOr<emu::v1::Capabilities> FakeAgentClient::GetCapabilities(
    absl::Duration) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  return caps_;
}

absl::Status FakeAgentClient::ApplyLab(const emu::v1::ApplyLabRequest& request,
                                       const ProgressFn& progress) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  applies_.push_back(request);
  for (const auto& r : request.remote_links()) {
    tunnels_[request.lab()].emplace(r.link_id(), "up");  // keeps scripted
  }
  auto& nodes = labs_[request.lab()];
  nodes.clear();
  for (const auto& n : request.nodes()) {
    nodes.push_back(n.name());
    emu::v1::ApplyLabEvent e;
    e.set_kind(emu::v1::ApplyLabEvent::NODE_CREATED);
    e.set_object(absl::StrCat("node ", n.name()));
    progress(e);
  }
  if (!apply_error_.ok()) return apply_error_;
  emu::v1::ApplyLabEvent done;
  done.set_kind(emu::v1::ApplyLabEvent::DONE);
  done.set_object(absl::StrCat("lab ", request.lab()));
  progress(done);
  return absl::OkStatus();
}

absl::Status FakeAgentClient::SetLinkParams(
    const emu::v1::SetLinkParamsRequest& request) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  if (!labs_.count(request.lab())) return absl::NotFoundError("no such lab");
  link_params_.push_back(request);
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::ExecResponse> FakeAgentClient::Exec(
    const emu::v1::ExecRequest& request) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  execs_.push_back(request);
  emu::v1::ExecResponse resp;
  std::string line = absl::StrJoin(request.argv(), " ");
  if (!exec_needle_.empty() && absl::StrContains(line, exec_needle_)) {
    resp.set_exit_code(exec_code_);
    resp.set_stderr("scripted failure\n");
  } else {
    resp.set_stdout(absl::StrCat("ran ", line, "\n"));
  }
  return resp;
}

absl::StatusOr<emu::v1::ListResourcesResponse> FakeAgentClient::ListResources(
    const std::string& lab,
    const std::vector<emu::v1::OwnedResource::Kind>& kinds) {
  absl::MutexLock lock(&mu_);
  listed_kinds_.push_back(kinds);
  if (auto s = CheckReachable(); !s.ok()) return s;
  emu::v1::ListResourcesResponse resp;
  for (const auto& [name, nodes] : labs_) {
    if (!lab.empty() && name != lab) continue;
    resp.add_labs(name);
    for (const auto& n : nodes) {
      auto* r = resp.add_resources();
      r->set_kind(emu::v1::OwnedResource::NETNS);
      r->set_lab(name);
      r->set_node(n);
    }
    for (const auto& [id, state] : tunnels_[name]) {
      auto* r = resp.add_resources();
      r->set_kind(emu::v1::OwnedResource::TUNNEL);
      r->set_lab(name);
      r->set_name(id);
      r->set_state(state);
    }
    for (const auto& [node, sd] : guests_[name]) {
      auto* r = resp.add_resources();
      r->set_kind(emu::v1::OwnedResource::STATE_FILE);
      r->set_lab(name);
      r->set_node(node);
      r->set_name(absl::StrCat("/run/emu/guests/", node));
      r->set_state(sd.first);
      r->set_detail(sd.second);
    }
  }
  if (!kinds.empty()) {
    auto* all = resp.mutable_resources();
    all->erase(std::remove_if(all->begin(), all->end(),
                              [&](const emu::v1::OwnedResource& r) {
                                return std::find(kinds.begin(), kinds.end(),
                                                 r.kind()) == kinds.end();
                              }),
               all->end());
  }
  return resp;
}

std::vector<std::vector<emu::v1::OwnedResource::Kind>>
FakeAgentClient::listed_kinds() const {
  absl::MutexLock lock(&mu_);
  return listed_kinds_;
}

absl::StatusOr<int> FakeAgentClient::DestroyLab(const std::string& lab) {
  absl::MutexLock lock(&mu_);
  ++destroy_calls_;
  if (auto s = CheckReachable(); !s.ok()) return s;
  auto it = labs_.find(lab);
  if (it == labs_.end()) return 0;
  int n = static_cast<int>(it->second.size());
  labs_.erase(it);
  return n;
}

absl::StatusOr<emu::v1::ListImagesResponse> FakeAgentClient::ListImages() {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  emu::v1::ListImagesResponse r;
  for (const auto& i : images_) *r.add_images() = i;
  return r;
}

absl::StatusOr<emu::v1::BuildImageResponse> FakeAgentClient::BuildImage(
    const emu::v1::BuildImageRequest& request) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  builds_.push_back(request);
  if (build_result_.has_value()) return *build_result_;
  emu::v1::BuildImageResponse r;
  r.set_host(host_);
  r.set_name(request.name());
  r.set_seconds(1);
  return r;
}

void FakeAgentClient::AddImage(emu::v1::GuestImageInfo image) {
  absl::MutexLock lock(&mu_);
  image.set_host(host_);
  images_.push_back(std::move(image));
}

void FakeAgentClient::SetBuildResult(
    absl::StatusOr<emu::v1::BuildImageResponse> result) {
  absl::MutexLock lock(&mu_);
  build_result_ = std::move(result);
}

std::vector<emu::v1::BuildImageRequest> FakeAgentClient::builds() const {
  absl::MutexLock lock(&mu_);
  return builds_;
}

void FakeAgentClient::SetReachable(bool reachable) {
  absl::MutexLock lock(&mu_);
  reachable_ = reachable;
}

void FakeAgentClient::FailApplyWith(absl::Status status) {
  absl::MutexLock lock(&mu_);
  apply_error_ = std::move(status);
}

void FakeAgentClient::FailExecContaining(std::string needle, int code) {
  absl::MutexLock lock(&mu_);
  exec_needle_ = std::move(needle);
  exec_code_ = code;
}

std::map<std::string, std::vector<std::string>> FakeAgentClient::labs() const {
  absl::MutexLock lock(&mu_);
  return labs_;
}

std::vector<emu::v1::ExecRequest> FakeAgentClient::execs() const {
  absl::MutexLock lock(&mu_);
  return execs_;
}

int FakeAgentClient::destroy_calls() const {
  absl::MutexLock lock(&mu_);
  return destroy_calls_;
}

std::vector<emu::v1::ApplyLabRequest> FakeAgentClient::applies() const {
  absl::MutexLock lock(&mu_);
  return applies_;
}

std::vector<emu::v1::SetLinkParamsRequest> FakeAgentClient::link_params()
    const {
  absl::MutexLock lock(&mu_);
  return link_params_;
}

void FakeAgentClient::SetTunnel(const std::string& lab,
                                const std::string& link_id,
                                const std::string& state) {
  absl::MutexLock lock(&mu_);
  tunnels_[lab][link_id] = state;
}

void FakeAgentClient::SetGuest(const std::string& lab, const std::string& node,
                               const std::string& state,
                               const std::string& detail) {
  absl::MutexLock lock(&mu_);
  guests_[lab][node] = {state, detail};
}

void FakeAgentClient::LoseState() {
  absl::MutexLock lock(&mu_);
  labs_.clear();
  tunnels_.clear();
  guests_.clear();
}

absl::Status FakeAgentClient::Capture(const emu::v1::CaptureRequest& request,
                                      CallCanceller* cancel,
                                      const ChunkFn& on_chunk) {
  std::vector<emu::v1::CaptureChunk> chunks;
  {
    absl::MutexLock lock(&mu_);
    if (auto s = CheckReachable(); !s.ok()) return s;
    captures_.push_back(request);
    if (labs_.count(request.lab()) == 0) {
      return absl::NotFoundError(
          absl::StrCat("lab ", request.lab(), " has nothing on host ", host_));
    }
    chunks = capture_chunks_;
  }
  for (const auto& c : chunks) {
    if (cancel->cancelled()) return absl::CancelledError("capture cancelled");
    on_chunk(c);
  }
  return absl::OkStatus();
}

absl::StatusOr<emu::v1::LabCounters> FakeAgentClient::GetLabStats(
    const std::string& lab) {
  absl::MutexLock lock(&mu_);
  if (auto s = CheckReachable(); !s.ok()) return s;
  if (labs_.count(lab) == 0) {
    return absl::NotFoundError(
        absl::StrCat("lab ", lab, " has nothing on host ", host_));
  }
  auto it = counters_.find(lab);
  if (it != counters_.end()) return it->second;
  emu::v1::LabCounters empty;
  empty.set_lab(lab);
  return empty;
}

void FakeAgentClient::SetCapture(std::vector<emu::v1::CaptureChunk> chunks) {
  absl::MutexLock lock(&mu_);
  capture_chunks_ = std::move(chunks);
}

void FakeAgentClient::SetLabCounters(const std::string& lab,
                                     emu::v1::LabCounters counters) {
  absl::MutexLock lock(&mu_);
  counters_[lab] = std::move(counters);
}

std::vector<emu::v1::CaptureRequest> FakeAgentClient::captures() const {
  absl::MutexLock lock(&mu_);
  return captures_;
}

}  // namespace emu::controller::hosts
