#include "controller/lab/guest_state.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace emu::controller::lab {

std::vector<std::string> RefreshGuestStates(hosts::HostRegistry* hosts,
                                            emu::v1::Lab* lab) {
  std::set<std::string> asked;
  for (const auto& n : lab->nodes()) {
    if (n.kind() == emu::v1::NODE_KIND_QEMU && hosts->Reachable(n.host())) {
      asked.insert(n.host());
    }
  }
  std::vector<std::string> names(asked.begin(), asked.end());
  std::vector<absl::StatusOr<emu::v1::ListResourcesResponse>> answers(
      names.size(), absl::UnknownError("not asked"));
  hosts->CallEach(names.size(), [&](size_t i) {
    auto client = hosts->Client(names[i]);
    answers[i] =
        client.ok() ? (*client)->ListResources(
                          lab->name(), {emu::v1::OwnedResource::STATE_FILE}) : client.status();
  });
  // host -> node -> (state, detail); hosts that answered.
  std::map<std::string,
           std::map<std::string, std::pair<std::string, std::string>>>
      guests;
  std::set<std::string> answered;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!answers[i].ok()) continue;
    answered.insert(names[i]);
    for (const auto& r : answers[i]->resources()) {
      if (r.kind() == emu::v1::OwnedResource::STATE_FILE && !r.node().empty() &&
          !r.state().empty()) {
        guests[names[i]][r.node()] = {r.state(), r.detail()};
      }
    }
  }
  std::vector<std::string> not_running;
  for (auto& n : *lab->mutable_nodes()) {
    if (n.kind() != emu::v1::NODE_KIND_QEMU || !answered.count(n.host())) {
      continue;
    }
    auto it = guests[n.host()].find(n.name());
    if (it == guests[n.host()].end()) {
      n.set_state("exited");
      n.set_state_detail(absl::StrCat("no guest on host ", n.host()));
    } else {
      n.set_state(it->second.first);
      n.set_state_detail(it->second.second);
    }
    if (n.state() == "exited") {
      not_running.push_back(
          absl::StrCat(n.name(), " (", n.state_detail(), ")"));
    }
  }
  return not_running;
}

}  // namespace emu::controller::lab
