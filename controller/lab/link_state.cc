#include "controller/lab/link_state.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "linkemu/engine_choice.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {

void FillLinkEngines(const std::vector<emu::v1::HostStatus>& hosts,
                     emu::v1::Lab* lab) {
  std::map<std::string, const emu::v1::Capabilities*> caps;
  for (const auto& h : hosts) caps[h.name()] = &h.capabilities();
  std::map<std::string, bool> guest;
  for (const auto& n : lab->nodes()) {
    guest[n.name()] = n.kind() == emu::v1::NODE_KIND_QEMU;
  }
  const emu::v1::LinkEngineChoice lab_engine = lab->topology().engine();
  for (auto& l : *lab->mutable_links()) {
    auto ca = caps.find(l.host_a());
    auto cb = caps.find(l.host_b());
    if (ca == caps.end() || cb == caps.end()) {
      l.set_engine_a_to_b("?");
      l.set_engine_b_to_a("?");
      continue;
    }
    const bool same_host = l.host_a() == l.host_b();
    auto side = [&](const emu::v1::Capabilities* c, const std::string& node) {
      linkemu::SenderSide s;
      s.netem = c->netem();
      // Same-host links: the engine's TAPs; cross-host links: the tunnel's
      // egress pipeline. A guest's tunnel end is a host TAP, shaped on the
      // host (agent/reconcile/reconciler_remote_links.cc).
      s.userspace = c->userspace_engine();
      s.guest = same_host && guest[node];
      return s;
    };
    const linkemu::SenderSide a = side(ca->second, l.link().a().node());
    const linkemu::SenderSide b = side(cb->second, l.link().b().node());
    if (same_host) {
      auto e = linkemu::ChooseLinkEngines(l.link(), lab_engine, a, b);
      l.set_engine_a_to_b(e.ok() ? linkemu::EngineUseName(e->a_to_b) : "?");
      l.set_engine_b_to_a(e.ok() ? linkemu::EngineUseName(e->b_to_a) : "?");
      continue;
    }
    // carrier: vxlan: only the sender's kernel shapes the device
    // (placement refused what needs the engine), so a userspace choice with
    // nothing for the engine to do is none.
    const bool vxlan = lab->topology().carrier() == "vxlan";
    auto name = [&](const emu::v1::LinkParams& p,
                    const linkemu::SenderSide& s) -> std::string {
      auto use = linkemu::ChooseDirectionEngine(p, lab_engine, s);
      if (!use.ok()) return "?";
      if (!vxlan) return std::string(linkemu::EngineUseName(*use));
      if (!linkemu::VxlanDirectionProblem(p, lab_engine, s).empty()) return "?";
      return std::string(linkemu::EngineUseName(
          *use == linkemu::EngineUse::kUserspace ? linkemu::EngineUse::kNone
                                                 : *use));
    };
    l.set_engine_a_to_b(name(l.link().a_to_b(), a));
    l.set_engine_b_to_a(name(l.link().b_to_a(), b));
  }
}

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
        client.ok() ? (*client)->ListResources(
                          lab->name(), {emu::v1::OwnedResource::TUNNEL}) : client.status();
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
