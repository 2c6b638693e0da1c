// LabDiff: what `emuctl apply` changes in a running lab. A pure function
// of the lab's current topology and the edited one: nodes and links added
// and removed, link conditions changed, node settings (addresses, routes,
// sysctls) changed; and a refusal of what cannot change in place.
//
// Identity: a node is its name; a link is its unordered pair of endpoints
// ("r1:eth1" and "r2:eth1"), so writing a link's ends the other way round
// is not a change (DiffTopologies turns the edited link to the old
// orientation, which keeps the agent's veth alias and so the veth itself).
// A link whose endpoint interface is renamed is one link removed and one
// added.
//
// Refused (INVALID_ARGUMENT naming file:line and the node): another lab
// name, and changing a running node's kind, image, resources, CPU set, or
// an interface's MAC or MTU: those need the node (or its veth) re-created,
// which is a remove in one apply and an add in the next.
#ifndef EMU_CONTROLLER_LAB_LAB_DIFF_H_
#define EMU_CONTROLLER_LAB_LAB_DIFF_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace emu::controller::lab {

struct LabDiff {
  // Names in the edited topology's order (removed ones in the old's).
  std::vector<std::string> added_nodes;
  std::vector<std::string> removed_nodes;
  // Node -> what changed, one phrase each ("eth1 addresses 10.0.1.1/24 ->
  // 10.0.1.5/24", "routes", "sysctls", "exec (not run again)").
  std::vector<std::pair<std::string, std::vector<std::string>>> changed_nodes;
  // Links by LinkName (the edited orientation for added ones, the old for
  // the others).
  std::vector<std::string> added_links;
  std::vector<std::string> removed_links;
  // Link -> its conditions as phrases ("rate 10Mbit/s -> 20Mbit/s";
  // "a-to-b delay none -> 10ms" when the two directions differ).
  std::vector<std::pair<std::string, std::vector<std::string>>> changed_links;
  // The management network itself (Topology.mgmt), one phrase each:
  // "added (ipv4-subnet 172.20.20.0/24)", "removed", "bridge (emu's name)
  // -> mgmt0". Its nodes' eth0 changes are theirs (changed_nodes).
  std::vector<std::string> mgmt;

  bool empty() const {
    return added_nodes.empty() && removed_nodes.empty() &&
           changed_nodes.empty() && added_links.empty() &&
           removed_links.empty() && changed_links.empty() && mgmt.empty();
  }
};

// Compares `old_topology` (the running lab's) with `desired` (the edited
// file, validated, MACs assigned). Re-orients `desired`'s links that name
// an old link's ends the other way round (ends and conditions swapped).
// INVALID_ARGUMENT for what cannot change in place (see above).
absl::StatusOr<LabDiff> DiffTopologies(const emu::v1::Topology& old_topology,
                                       emu::v1::Topology* desired);

// The diff as lines a person reads, in this order: the management network,
// nodes removed, added, changed; links removed, added, changed:
//   "~ management network: bridge (emu's name) -> mgmt0",
//   "- node r3 (host h2)", "+ node r4 (host h1)",
//   "~ node r1: eth1 addresses 10.0.1.1/24 -> 10.0.1.5/24",
//   "- link r1:eth2<->r3:eth1", "+ link r1:eth3<->r4:eth1",
//   "~ link r1:eth1<->r2:eth1 rate 10Mbit/s -> 20Mbit/s".
// Hosts come from `old_hosts` (removed nodes) and `new_hosts` (added
// nodes); a node missing there is printed without one. Empty diff: none.
std::vector<std::string> DiffLines(
    const LabDiff& diff, const std::map<std::string, std::string>& old_hosts,
    const std::map<std::string, std::string>& new_hosts);

// The phrases of LabDiff.changed_links for one link (empty when equal).
std::vector<std::string> LinkParamChanges(const emu::v1::Link& before,
                                          const emu::v1::Link& after);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_DIFF_H_
