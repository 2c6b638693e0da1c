#include "controller/lab/lab_diff.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/message_differencer.h"
#include "linkemu/engine_choice.h"
#include "linkemu/units.h"
#include "proto/topology_names.h"

namespace emu::controller::lab {
namespace {

using emu::v1::Link;
using emu::v1::LinkParams;
using emu::v1::Node;
using google::protobuf::util::MessageDifferencer;

// The unordered pair of a link's ends: its identity across edits.
std::string LinkKey(const Link& l) {
  std::string a = EndpointName(l.a()), b = EndpointName(l.b());
  if (b < a) std::swap(a, b);
  return absl::StrCat(a, "<->", b);
}

void Reorient(Link* l) {
  std::swap(*l->mutable_a(), *l->mutable_b());
  std::swap(*l->mutable_a_to_b(), *l->mutable_b_to_a());
}

// One LinkParams field: its name and how its value reads.
struct ParamField {
  const char* name;
  std::function<std::string(const LinkParams&)> text;
};

const std::vector<ParamField>& ParamFields() {
  auto rate = [](uint64_t v) { return v ? linkemu::FormatRate(v) : "none"; };
  auto us = [](uint64_t v) { return v ? linkemu::FormatDurationUs(v) : "none"; };
  auto pct = [](double v) {
    return v != 0 ? linkemu::FormatPercent(v) : "none";
  };
  static const auto* fields = new std::vector<ParamField>{
      {"rate", [=](const LinkParams& p) { return rate(p.rate_bps()); }},
      {"burst",
       [](const LinkParams& p) {
         return p.burst_bytes() ? linkemu::FormatSizeBytes(p.burst_bytes())
                                : "auto";
       }},
      {"delay", [=](const LinkParams& p) { return us(p.delay_us()); }},
      {"jitter", [=](const LinkParams& p) { return us(p.jitter_us()); }},
      {"delay-correlation",
       [=](const LinkParams& p) { return pct(p.delay_correlation_percent()); }},
      {"loss", [=](const LinkParams& p) { return pct(p.loss_percent()); }},
      {"loss-correlation",
       [=](const LinkParams& p) { return pct(p.loss_correlation_percent()); }},
      {"duplicate",
       [=](const LinkParams& p) { return pct(p.duplicate_percent()); }},
      {"reorder", [=](const LinkParams& p) { return pct(p.reorder_percent()); }},
      {"corrupt", [=](const LinkParams& p) { return pct(p.corrupt_percent()); }},
      {"limit",
       [](const LinkParams& p) {
         return p.limit_packets() ? absl::StrCat(p.limit_packets(), " packets")
                                  : "default";
       }},
      {"distribution",
       [](const LinkParams& p) {
         return linkemu::DelayDistributionName(p.delay_distribution());
       }},
      {"gilbert-elliott",
       [=](const LinkParams& p) {
         if (!p.has_gilbert_elliott()) return std::string("none");
         const auto& g = p.gilbert_elliott();
         return absl::StrCat("p ", pct(g.p_percent()), " r ",
                             pct(g.r_percent()), " loss-bad ",
                             pct(g.loss_in_bad_percent()), " loss-good ",
                             pct(g.loss_in_good_percent()));
       }},
      {"ber",
       [](const LinkParams& p) {
         return p.bit_error_rate() != 0
                    ? linkemu::FormatBitErrorRate(p.bit_error_rate())
                    : "none";
       }},
      {"reorder-gap",
       [](const LinkParams& p) {
         return p.reorder_gap() ? absl::StrCat(p.reorder_gap()) : "none";
       }},
      {"reorder-correlation",
       [=](const LinkParams& p) {
         return pct(p.reorder_correlation_percent());
       }},
      {"duplicate-correlation",
       [=](const LinkParams& p) {
         return pct(p.duplicate_correlation_percent());
       }},
      {"corrupt-correlation",
       [=](const LinkParams& p) {
         return pct(p.corrupt_correlation_percent());
       }},
      {"limit-bytes",
       [](const LinkParams& p) {
         return p.limit_bytes() ? linkemu::FormatSizeBytes(p.limit_bytes())
                                : "none";
       }},
      {"overhead",
       [](const LinkParams& p) {
         return absl::StrCat(p.overhead_bytes(), "b");
       }},
      {"engine",
       [](const LinkParams& p) {
         return p.engine() == emu::v1::LINK_ENGINE_UNSPECIFIED
                    ? std::string("lab's")
                    : linkemu::EngineChoiceName(p.engine());
       }},
      {"compensate",
       [](const LinkParams& p) {
         return !p.has_compensate() ? std::string("lab's")
                                    : std::string(p.compensate() ? "true"
                                                                 : "false");
       }},
  };
  return *fields;
}

void AppendParamChanges(const std::string& prefix, const LinkParams& before,
                        const LinkParams& after,
                        std::vector<std::string>* out) {
  for (const ParamField& f : ParamFields()) {
    std::string b = f.text(before), a = f.text(after);
    if (b != a) out->push_back(absl::StrCat(prefix, f.name, " ", b, " -> ", a));
  }
}

bool SameParams(const LinkParams& x, const LinkParams& y) {
  return MessageDifferencer::Equals(x, y);
}

std::string Addresses(const emu::v1::Interface* i) {
  if (i == nullptr || i->addresses().empty()) return "none";
  return absl::StrJoin(i->addresses(), ",");
}

const emu::v1::Interface* FindInterface(const Node& n,
                                        const std::string& name) {
  for (const auto& i : n.interfaces()) {
    if (i.name() == name) return &i;
  }
  return nullptr;
}

// What a containerlab host or dummy link makes of the interface: "dummy",
// "host:NAME [addresses] mac", or "no host, dummy or vxlan link".
std::string SpecialEnd(const emu::v1::Interface* i) {
  if (i != nullptr && i->dummy()) return "dummy";
  if (i != nullptr && i->has_vxlan()) return VxlanEndText(i->vxlan());
  if (i != nullptr && i->mgmt()) {
    return i->host_end().name().empty()
               ? std::string("management interface")
               : absl::StrCat("mgmt-net:", i->host_end().name());
  }
  if (i == nullptr || !i->has_host_end()) return "no host, dummy or vxlan link";
  const emu::v1::HostEnd& h = i->host_end();
  return absl::StrCat("host:", h.name(),
                      h.addresses().empty()
                          ? ""
                          : absl::StrCat(" ", absl::StrJoin(h.addresses(), ",")),
                      h.mac().empty() ? "" : absl::StrCat(" mac ", h.mac()));
}

// Messages compared without their SourceRefs (an edit moves lines).
template <typename M>
bool SameIgnoringSource(M x, M y) {
  MessageDifferencer d;
  const auto* field = M::descriptor()->FindFieldByName("source");
  if (field != nullptr) d.IgnoreField(field);
  return d.Compare(x, y);
}

absl::Status Refuse(const Node& n, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(
      SourcePrefix(n.source()), "node ", n.name(), ": ", what,
      " cannot change while the lab runs; remove the node (emuctl apply "
      "without it), then add it back changed"));
}

// What changed in a node that stays; refuses what cannot change in place.
absl::StatusOr<std::vector<std::string>> NodeChanges(const Node& before,
                                                     const Node& after) {
  if (before.kind() != after.kind()) return Refuse(after, "its kind");
  if (before.image() != after.image()) return Refuse(after, "its image");
  if (!MessageDifferencer::Equals(before.resources(), after.resources())) {
    return Refuse(after, "its resources");
  }
  if (!std::equal(before.cpu_set().begin(), before.cpu_set().end(),
                  after.cpu_set().begin(), after.cpu_set().end())) {
    return Refuse(after, "its cpu-set");
  }
  std::vector<std::string> changes;
  std::set<std::string> names;
  for (const auto& i : before.interfaces()) names.insert(i.name());
  for (const auto& i : after.interfaces()) names.insert(i.name());
  for (const std::string& name : names) {
    const auto* b = FindInterface(before, name);
    const auto* a = FindInterface(after, name);
    if (b != nullptr && a != nullptr) {
      if (b->mac() != a->mac()) {
        return Refuse(after, absl::StrCat("the MAC of ", name));
      }
      if (b->mtu() != a->mtu()) {
        return Refuse(after, absl::StrCat("the MTU of ", name,
                                          a->mgmt() ? " (mgmt: mtu)" : ""));
      }
    }
    std::string ba = Addresses(b), aa = Addresses(a);
    if (ba != aa) {
      changes.push_back(absl::StrCat(name, " addresses ", ba, " -> ", aa));
    }
    // containerlab's host and dummy links are the interface's: the agent
    // re-creates the end when they change.
    std::string bs = SpecialEnd(b), as = SpecialEnd(a);
    if (bs != as) changes.push_back(absl::StrCat(name, " ", bs, " -> ", as));
  }
  auto same_routes = std::equal(
      before.routes().begin(), before.routes().end(), after.routes().begin(),
      after.routes().end(), [](const auto& x, const auto& y) {
        return SameIgnoringSource(x, y);
      });
  if (!same_routes) changes.push_back("routes");
  if (!std::equal(before.exec().begin(), before.exec().end(),
                  after.exec().begin(), after.exec().end())) {
    changes.push_back("exec (not run again on a running node)");
  }
  std::map<std::string, std::string> bs(before.sysctls().begin(),
                                        before.sysctls().end());
  std::map<std::string, std::string> as(after.sysctls().begin(),
                                        after.sysctls().end());
  if (bs != as) changes.push_back("sysctls");
  std::map<std::string, std::string> be(before.env().begin(),
                                        before.env().end());
  std::map<std::string, std::string> ae(after.env().begin(),
                                        after.env().end());
  if (be != ae) changes.push_back("env (for exec lines run from now on)");
  return changes;
}

// What changed in the management network (containerlab's `mgmt:`).
std::vector<std::string> MgmtChanges(const emu::v1::Topology& before,
                                     const emu::v1::Topology& after) {
  const bool had = before.has_mgmt(), has = after.has_mgmt();
  if (!had && !has) return {};
  const emu::v1::ManagementNetwork& b = before.mgmt();
  const emu::v1::ManagementNetwork& a = after.mgmt();
  auto subnets = [](const emu::v1::ManagementNetwork& m) {
    std::vector<std::string> v;
    if (!m.ipv4_subnet().empty()) v.push_back(m.ipv4_subnet());
    if (!m.ipv6_subnet().empty()) v.push_back(m.ipv6_subnet());
    return absl::StrJoin(v, ", ");
  };
  if (!had) return {absl::StrCat("added (", subnets(a), ")")};
  if (!has) return {absl::StrCat("removed (", subnets(b), ")")};
  std::vector<std::string> out;
  auto field = [&out](absl::string_view name, const std::string& x,
                      const std::string& y, absl::string_view unset) {
    if (x == y) return;
    out.push_back(absl::StrCat(name, " ", x.empty() ? unset : x, " -> ",
                               y.empty() ? unset : y));
  };
  field("network", b.network(), a.network(), "(none)");
  field("bridge", b.bridge(), a.bridge(), "(emu's name)");
  field("ipv4-subnet", b.ipv4_subnet(), a.ipv4_subnet(), "none");
  field("ipv6-subnet", b.ipv6_subnet(), a.ipv6_subnet(), "none");
  field("ipv4-gw", b.ipv4_gateway(), a.ipv4_gateway(), "none");
  field("ipv6-gw", b.ipv6_gateway(), a.ipv6_gateway(), "none");
  if (b.mtu() != a.mtu()) {
    out.push_back(absl::StrCat("mtu ", b.mtu(), " -> ", a.mtu()));
  }
  return out;
}

std::string WithHost(const std::string& what, const std::string& node,
                     const std::map<std::string, std::string>& hosts) {
  auto it = hosts.find(node);
  if (it == hosts.end() || it->second.empty()) return what;
  return absl::StrCat(what, " (host ", it->second, ")");
}

}  // namespace

std::vector<std::string> LinkParamChanges(const Link& before,
                                          const Link& after) {
  std::vector<std::string> out;
  const bool before_sym = SameParams(before.a_to_b(), before.b_to_a());
  const bool after_sym = SameParams(after.a_to_b(), after.b_to_a());
  if (before_sym && after_sym) {
    AppendParamChanges("", before.a_to_b(), after.a_to_b(), &out);
    return out;
  }
  AppendParamChanges("a-to-b ", before.a_to_b(), after.a_to_b(), &out);
  AppendParamChanges("b-to-a ", before.b_to_a(), after.b_to_a(), &out);
  return out;
}

absl::StatusOr<LabDiff> DiffTopologies(const emu::v1::Topology& old_topology,
                                       emu::v1::Topology* desired) {
  if (old_topology.name() != desired->name()) {
    return absl::InvalidArgumentError(absl::StrCat(
        SourcePrefix(desired->source()), "the file is lab ", desired->name(),
        ", not lab ", old_topology.name(),
        " (apply changes a running lab; `emuctl up` deploys another)"));
  }
  if (old_topology.engine() != desired->engine() ||
      old_topology.seed() != desired->seed() ||
      old_topology.compensate() != desired->compensate() ||
      old_topology.carrier() != desired->carrier()) {
    return absl::InvalidArgumentError(absl::StrCat(
        SourcePrefix(desired->source()),
        "the lab's engine:, seed:, compensate: or carrier: changed; a running "
        "lab keeps "
        "them (set engine: or compensate: per link, or take the lab down and "
        "up again)"));
  }
  LabDiff diff;
  diff.mgmt = MgmtChanges(old_topology, *desired);
  std::map<std::string, const Node*> old_nodes, new_nodes;
  for (const auto& n : old_topology.nodes()) old_nodes[n.name()] = &n;
  for (const auto& n : desired->nodes()) new_nodes[n.name()] = &n;
  for (const auto& n : old_topology.nodes()) {
    if (!new_nodes.count(n.name())) diff.removed_nodes.push_back(n.name());
  }
  for (const auto& n : desired->nodes()) {
    auto old = old_nodes.find(n.name());
    if (old == old_nodes.end()) {
      diff.added_nodes.push_back(n.name());
      continue;
    }
    auto changes = NodeChanges(*old->second, n);
    if (!changes.ok()) return changes.status();
    if (!changes->empty()) {
      diff.changed_nodes.emplace_back(n.name(), *std::move(changes));
    }
  }

  std::map<std::string, const Link*> old_links;
  for (const auto& l : old_topology.links()) old_links[LinkKey(l)] = &l;
  std::set<std::string> kept;
  for (auto& l : *desired->mutable_links()) {
    auto old = old_links.find(LinkKey(l));
    if (old == old_links.end()) {
      diff.added_links.push_back(LinkName(l));
      continue;
    }
    kept.insert(old->first);
    const Link& before = *old->second;
    if (EndpointName(l.a()) != EndpointName(before.a())) Reorient(&l);
    std::vector<std::string> changes = LinkParamChanges(before, l);
    if (!changes.empty()) {
      diff.changed_links.emplace_back(LinkName(before), std::move(changes));
    }
  }
  for (const auto& l : old_topology.links()) {
    if (!kept.count(LinkKey(l))) diff.removed_links.push_back(LinkName(l));
  }
  // A running guest's NICs are fixed when QEMU starts (no hot-plug).
  auto check_guest_end = [&](const emu::v1::Endpoint& e) -> absl::Status {
    auto before = old_nodes.find(e.node());
    auto after = new_nodes.find(e.node());
    if (before == old_nodes.end() || after == new_nodes.end() ||
        after->second->kind() != emu::v1::NODE_KIND_QEMU) {
      return absl::OkStatus();
    }
    return Refuse(*after->second,
                  absl::StrCat("its links (", EndpointName(e),
                               ": a guest's NICs are fixed when it boots)"));
  };
  for (const auto& l : desired->links()) {
    if (old_links.count(LinkKey(l))) continue;
    for (const auto* e : {&l.a(), &l.b()}) {
      if (auto st = check_guest_end(*e); !st.ok()) return st;
    }
  }
  for (const auto& l : old_topology.links()) {
    if (kept.count(LinkKey(l))) continue;
    for (const auto* e : {&l.a(), &l.b()}) {
      if (auto st = check_guest_end(*e); !st.ok()) return st;
    }
  }
  return diff;
}

std::vector<std::string> DiffLines(
    const LabDiff& diff, const std::map<std::string, std::string>& old_hosts,
    const std::map<std::string, std::string>& new_hosts) {
  std::vector<std::string> out;
  if (!diff.mgmt.empty()) {
    out.push_back(absl::StrCat("~ management network: ",
                               absl::StrJoin(diff.mgmt, "; ")));
  }
  for (const auto& n : diff.removed_nodes) {
    out.push_back(WithHost(absl::StrCat("- node ", n), n, old_hosts));
  }
  for (const auto& n : diff.added_nodes) {
    out.push_back(WithHost(absl::StrCat("+ node ", n), n, new_hosts));
  }
  for (const auto& [n, changes] : diff.changed_nodes) {
    out.push_back(absl::StrCat("~ node ", n, ": ", absl::StrJoin(changes, "; ")));
  }
  for (const auto& l : diff.removed_links) out.push_back("- link " + l);
  for (const auto& l : diff.added_links) out.push_back("+ link " + l);
  for (const auto& [l, changes] : diff.changed_links) {
    out.push_back(absl::StrCat("~ link ", l, " ", absl::StrJoin(changes, ", ")));
  }
  return out;
}

}  // namespace emu::controller::lab
