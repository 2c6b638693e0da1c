// Placement: which physical host runs each virtual node. A pure function of
// the topology, its placement options and the hosts' reported state, so it
// is deterministic (same inputs, same placement) and tested without agents.
//
// Constraints, in order of precedence:
//  1. pins: a node with `host:` goes to that host (an error if the host is
//     unknown, unreachable, or cannot run the node);
//  2. capability: a node goes only to hosts whose agent runs its kind, and a
//     node that sends on a link direction only to hosts that can apply its
//     conditions (linkemu/engine_choice.h: sch_netem, or the agent's
//     userspace engine, as the direction's engine allows);
//  3. capacity: the CPUs and memory each node needs (Node.resources, else
//     its kind's default, see DemandOf) fit in every host unless
//     PlacementOptions.overcommit;
//  4. balance: SPREAD (default) gives each host at most its share of the
//     lab's CPU demand (in proportion to its CPUs) plus tolerance_percent
//     (default 10%), never less than its share plus one node; PACK uses as
//     few hosts as the lab fits on (largest first) and fills them up to
//     their capacity;
//  5. within those limits, as little cut as possible: each link whose ends
//     are on different hosts costs 1 plus up to 1 more for its configured
//     bandwidth (unshaped counts as the most). k-way partitioning: METIS
//     (multilevel) where no node is pinned or limited to some hosts, else
//     greedy graph growing from pseudo-peripheral seeds; then
//     Fiduccia-Mattheyses passes (docs/cluster.md says why).
//
// Links whose ends land on different hosts become RemoteLinkEnd entries in
// both hosts' ApplyLabRequest: the end whose host name sorts first listens,
// the other dials the listener's Capabilities.tunnel_address.
#ifndef EMU_CONTROLLER_PLACEMENT_PLACEMENT_H_
#define EMU_CONTROLLER_PLACEMENT_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/controller.pb.h"
#include "proto/plan.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::placement {

// What a node is counted as needing. Units: milli-CPUs and MiB.
struct NodeDemand {
  uint32_t cpu_milli = 0;
  uint64_t memory_mib = 0;
};

// Kind defaults when Node.resources leaves a field 0: a netns node is
// nearly free (2 milli-CPUs, 8 MiB: a 2-core host takes 1,000 of them);
// a QEMU guest 1 CPU and 512 MiB.
inline constexpr NodeDemand kNetnsDemand = {2, 8};
inline constexpr NodeDemand kQemuDemand = {1000, 512};
inline constexpr double kDefaultTolerancePercent = 10;

NodeDemand DemandOf(const emu::v1::Node& node);

struct Placement {
  std::map<std::string, std::string> host_of_node;  // node -> host
  // Host -> that host's share (nodes, same-host links, remote link ends),
  // ready for ApplyLab. Only hosts that got nodes.
  std::map<std::string, emu::v1::ApplyLabRequest> per_host;
  emu::v1::PlacementOptions options;        // as applied, defaults filled
  std::vector<emu::v1::HostLoad> loads;     // every reachable host, name order
  std::vector<emu::v1::CutLink> cut_links;  // topology order
};

// The VXLAN network identifier of `link` (its LinkName) in `lab` with
// carrier vxlan: a hash of the two names in 1 .. 2^24 - 1, the next free
// one when `taken` (the lab's links before it, in topology order) has it.
// The same at both ends and across re-placements; unique within the lab.
// Another lab's link on the same host with the same VNI (a 2^-24 chance
// per pair) is refused by that host's kernel, and the agent says so.
uint32_t VxlanVni(absl::string_view lab, absl::string_view link,
                  const absl::flat_hash_set<uint32_t>& taken);

// Each host's share of `topology` given where every node runs (a fresh
// placement, or a stored lab when an agent comes back): nodes, same-host
// links, and a RemoteLinkEnd on both sides of every cross-host link (peer
// addresses from `hosts`, reachable or not). Appends the cross-host links to
// `cut_links` when it is not null.
std::map<std::string, emu::v1::ApplyLabRequest> BuildShares(
    const emu::v1::Topology& topology,
    const std::map<std::string, std::string>& host_of_node,
    const std::vector<emu::v1::HostStatus>& hosts,
    std::vector<emu::v1::CutLink>* cut_links);

// Every cross-host link in `cut_links` must join two agents on the same
// tunnel carrier (Capabilities.tunnel_carrier: tls, plain, ssh), or its two
// ends could never talk. FAILED_PRECONDITION naming the first link, both
// hosts and their carriers otherwise. A host that advertises no carrier
// (an agent from before carriers, or none known) is not checked.
absl::Status CheckTunnelCarriers(
    const std::vector<emu::v1::CutLink>& cut_links,
    const std::vector<emu::v1::HostStatus>& hosts);

// The lab as the partitioner sees it when some nodes share another's
// network namespace (Node.netns_of, validated): each such node folded into
// its target (links retargeted, links inside one namespace dropped, a pin
// carried over to an unpinned target); nullopt when no node shares.
std::optional<emu::v1::Topology> FoldSharedNamespaces(
    const emu::v1::Topology& topology);

// With `carrier: vxlan` every cross-host link is a kernel VXLAN device, on
// which the userspace engine cannot sit: each direction's conditions must be
// ones its sender's kernel applies (linkemu::VxlanDirectionProblem, with
// that host's real capabilities, as its agent will judge). FAILED_
// PRECONDITION naming the first link (file:line), direction and host
// otherwise, before anything is created. Nothing to check for the tunnel
// carrier.
absl::Status CheckVxlanConditions(
    const emu::v1::Topology& topology,
    const std::map<std::string, std::string>& host_of_node,
    const std::vector<emu::v1::HostStatus>& hosts);

// A lab with a management network (Topology.mgmt) has it on one host: the
// nodes on it (an Interface with mgmt) must all run on one host.
// FAILED_PRECONDITION naming the hosts and their nodes otherwise.
absl::Status CheckManagementHost(
    const emu::v1::Topology& topology,
    const std::map<std::string, std::string>& host_of_node);

// Places with the topology's own options (Topology.placement); a lab with
// a management network and no strategy of its own is packed (PACK). Only hosts
// with reachable() set are used. INVALID_ARGUMENT for a pin to an unknown
// host or bad options; FAILED_PRECONDITION when the hosts cannot run the lab
// (the message says what is short on which host) or a cross-host link would
// join agents of different tunnel carriers (CheckTunnelCarriers) or a VXLAN
// link's conditions need the engine (CheckVxlanConditions); UNAVAILABLE when no host
// is reachable (or a pinned host is not).
absl::StatusOr<Placement> PlaceTopology(
    const emu::v1::Topology& topology,
    const std::vector<emu::v1::HostStatus>& hosts);

// The same with explicit options (emuctl plan --strategy ...).
absl::StatusOr<Placement> PlaceTopology(
    const emu::v1::Topology& topology,
    const std::vector<emu::v1::HostStatus>& hosts,
    const emu::v1::PlacementOptions& options);

}  // namespace emu::controller::placement

#endif  // EMU_CONTROLLER_PLACEMENT_PLACEMENT_H_
