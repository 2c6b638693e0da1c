#include "controller/lab/link_state.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {

std::vector<std::string> RefreshTunnelStates(hosts::HostRegistry* hosts,
                                             emu::v1::Lab* lab) {
  std::set<std::string> asked;
  for (const auto& l : lab->links()) {
    if (l.carrier() != "tcp-tunnel") continue;
    for (const std::string& h : {l.host_a(), l.host_b()}) {
      if (hosts->Reachable(h)) asked.insert(h);
    }
  }
  std::vector<std::string> names(asked.begin(), asked.end());
  std::vector<absl::StatusOr<emu::v1::ListResourcesResponse>> answers(
      names.size(), absl::UnknownError("not asked"));
  hosts->CallEach(names.size(), [&](size_t i) {
    auto client = hosts->Client(names[i]);
    answers[i] =
        client.ok() ? (*client)->ListResources(lab->name()) : client.status();
  });
  // host -> link id -> tunnel state; hosts that answered.
  std::map<std::string, std::map<std::string, std::string>> tunnels;
  std::set<std::string> answered;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!answers[i].ok()) continue;
    answered.insert(names[i]);
    for (const auto& r : answers[i]->resources()) {
      if (r.kind() == emu::v1::OwnedResource::TUNNEL) {
        tunnels[names[i]][r.name()] = r.state();
      }
    }
  }
  std::vector<std::string> not_up;
  for (auto& l : *lab->mutable_links()) {
    if (l.carrier() != "tcp-tunnel") continue;
    const std::string id = LinkName(l.link());
    std::string state;
    for (const std::string& h : {l.host_a(), l.host_b()}) {
      if (!answered.count(h)) {
        state.clear();  // unknown: keep what the lab says
        break;
      }
      auto it = tunnels[h].find(id);
      std::string s = it == tunnels[h].end() ? "no tunnel" : it->second;
      if (s != "up" && state.empty()) state = absl::StrCat(h, ": ", s);
    }
    if (answered.count(l.host_a()) && answered.count(l.host_b())) {
      l.set_state(state.empty() ? "up" : state);
      if (!state.empty()) not_up.push_back(absl::StrCat(id, " (", state, ")"));
    }
  }
  return not_up;
}

}  // namespace emu::controller::lab
