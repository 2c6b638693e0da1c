#include "controller/placement.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/topology_names.h"

namespace emu::controller {
namespace {

bool SupportsKind(const emu::v1::HostStatus& h, emu::v1::NodeKind kind) {
  if (kind == emu::v1::NODE_KIND_UNSPECIFIED) kind = emu::v1::NODE_KIND_NETNS;
  for (int k : h.capabilities().node_kinds()) {
    if (k == kind) return true;
  }
  return false;
}

}  // namespace

bool NeedsNetem(const emu::v1::LinkParams& p) {
  return p.delay_us() > 0 || p.jitter_us() > 0 || p.loss_percent() > 0 ||
         p.duplicate_percent() > 0 || p.reorder_percent() > 0 ||
         p.corrupt_percent() > 0 || p.limit_packets() > 0;
}

absl::StatusOr<Placement> PlaceTopology(
    const emu::v1::Topology& topology,
    const std::vector<emu::v1::HostStatus>& hosts) {
  std::vector<const emu::v1::HostStatus*> up;
  std::vector<std::string> down;
  for (const auto& h : hosts) {
    if (h.reachable()) {
      up.push_back(&h);
    } else {
      down.push_back(absl::StrCat(h.name(), " (", h.error(), ")"));
    }
  }
  if (up.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "no agent is reachable",
        down.empty() ? " (the controller knows no hosts)"
                     : absl::StrCat(": ", absl::StrJoin(down, "; "))));
  }
  auto find_host = [&](const std::string& name) -> const emu::v1::HostStatus* {
    for (const auto* h : up) {
      if (h->name() == name) return h;
    }
    return nullptr;
  };

  Placement p;
  absl::flat_hash_map<std::string, int> pinned_count;
  for (const auto& node : topology.nodes()) {
    if (node.host().empty()) continue;
    const auto* h = find_host(node.host());
    if (h == nullptr) {
      bool known = std::any_of(hosts.begin(), hosts.end(), [&](const auto& x) {
        return x.name() == node.host();
      });
      std::string msg =
          absl::StrCat(SourcePrefix(node.source()), "node ", node.name(),
                       ": pinned to host ", node.host(), ", which ",
                       known ? "is unreachable" : "is not in the cluster");
      if (known) return absl::UnavailableError(msg);
      return absl::InvalidArgumentError(msg);
    }
    p.host_of_node[node.name()] = h->name();
    ++pinned_count[h->name()];
  }

  // Host for the unpinned nodes.
  const emu::v1::HostStatus* home = nullptr;
  int best_pins = 0;
  for (const auto* h : up) {
    if (pinned_count[h->name()] > best_pins) {
      best_pins = pinned_count[h->name()];
      home = h;
    }
  }
  if (home == nullptr) {
    for (const auto* h : up) {
      bool all = std::all_of(
          topology.nodes().begin(), topology.nodes().end(),
          [&](const emu::v1::Node& n) { return SupportsKind(*h, n.kind()); });
      if (!all) continue;
      if (home == nullptr ||
          h->capabilities().cpus() > home->capabilities().cpus()) {
        home = h;
      }
    }
    if (home == nullptr) home = up.front();
  }
  for (const auto& node : topology.nodes()) {
    if (node.host().empty()) p.host_of_node[node.name()] = home->name();
  }

  // Capabilities, then the per-host shares.
  for (const auto& node : topology.nodes()) {
    const std::string& host = p.host_of_node[node.name()];
    const auto* h = find_host(host);
    if (!SupportsKind(*h, node.kind())) {
      return absl::FailedPreconditionError(absl::StrCat(
          SourcePrefix(node.source()), "node ", node.name(), ": kind ",
          emu::v1::NodeKind_Name(node.kind()), " is not supported by host ",
          host));
    }
    auto& share = p.per_host[host];
    share.set_lab(topology.name());
    *share.add_nodes() = node;
  }
  for (const auto& link : topology.links()) {
    const std::string& ha = p.host_of_node[link.a().node()];
    const std::string& hb = p.host_of_node[link.b().node()];
    if (ha != hb) {
      return absl::FailedPreconditionError(absl::StrCat(
          SourcePrefix(link.source()), "link ", LinkName(link),
          " joins nodes pinned to different hosts (", ha, " and ", hb,
          "); links between hosts need the TCP tunnel carrier, which this "
          "version does not have yet: pin both ends to one host"));
    }
    const auto* h = find_host(ha);
    if ((NeedsNetem(link.a_to_b()) || NeedsNetem(link.b_to_a())) &&
        !h->capabilities().netem()) {
      return absl::FailedPreconditionError(absl::StrCat(
          SourcePrefix(link.source()), "link ", LinkName(link),
          ": delay, jitter, loss, duplicate, reorder, corrupt and limit need "
          "NetEm, but the kernel of host ",
          ha,
          " has no sch_netem (rate alone works with TBF); see "
          "docs/topology.md"));
    }
    *p.per_host[ha].add_links() = link;
  }
  return p;
}

}  // namespace emu::controller
