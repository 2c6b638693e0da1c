#include "controller/lab/link_state.h"

#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
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
  const bool lab_compensate = lab->topology().compensate();
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
      auto e = linkemu::ChooseLinkEngines(l.link(), lab_engine,
                                         lab_compensate, a, b);
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
      // A VXLAN device is never compensated (the engine is not on its path).
      auto use = linkemu::ChooseDirectionEngine(
          p, lab_engine, lab_compensate && !vxlan, s);
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
                                             emu::v1::Lab* lab, bool names) {
  std::set<std::string> asked;
  for (const auto& l : lab->links()) {
    if (l.carrier() != "tcp-tunnel") continue;
    for (const std::string* h : {&l.host_a(), &l.host_b()}) {
      if (hosts->Reachable(*h)) asked.insert(*h);
    }
  }
  std::vector<std::string> hosts_asked(asked.begin(), asked.end());
  std::vector<absl::StatusOr<emu::v1::ListResourcesResponse>> answers(
      hosts_asked.size(), absl::UnknownError("not asked"));
  hosts->CallEach(hosts_asked.size(), [&](size_t i) {
    auto client = hosts->Client(hosts_asked[i]);
    answers[i] =
        client.ok() ? (*client)->ListResources(
                          lab->name(), {emu::v1::OwnedResource::TUNNEL}) : client.status();
  });
  // (host, link id) -> tunnel state, and the hosts that answered: views of
  // the answers, which live until the end. Copies into nested maps cost
  // three allocations per tunnel end and poll while a 10k-node lab came up
  // (issue 14).
  absl::flat_hash_map<std::pair<absl::string_view, absl::string_view>,
                      absl::string_view>
      tunnels;
  absl::flat_hash_set<absl::string_view> answered;
  for (size_t i = 0; i < hosts_asked.size(); ++i) {
    if (!answers[i].ok()) continue;
    answered.insert(hosts_asked[i]);
    for (const auto& r : answers[i]->resources()) {
      if (r.kind() == emu::v1::OwnedResource::TUNNEL) {
        tunnels.insert_or_assign(
            std::make_pair(absl::string_view(hosts_asked[i]),
                           absl::string_view(r.name())),
            absl::string_view(r.state()));
      }
    }
  }
  std::vector<std::string> not_up;
  for (auto& l : *lab->mutable_links()) {
    if (l.carrier() != "tcp-tunnel") continue;
    const std::string id = LinkName(l.link());
    std::string state;
    for (const std::string* h : {&l.host_a(), &l.host_b()}) {
      if (!answered.contains(*h)) {
        state.clear();  // unknown: keep what the lab says
        break;
      }
      auto it = tunnels.find(std::make_pair(absl::string_view(*h),
                                            absl::string_view(id)));
      const absl::string_view s =
          it == tunnels.end() ? absl::string_view("no tunnel") : it->second;
      if (s != "up" && state.empty()) state = absl::StrCat(*h, ": ", s);
    }
    if (answered.contains(l.host_a()) && answered.contains(l.host_b())) {
      l.set_state(state.empty() ? "up" : state);
      if (!state.empty() && names) {
        not_up.push_back(absl::StrCat(id, " (", state, ")"));
      }
    }
  }
  return not_up;
}

}  // namespace emu::controller::lab
