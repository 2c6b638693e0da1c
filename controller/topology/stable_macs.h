// Stable MAC addresses for link interfaces. An interface the topology gives
// no `mac:` gets one derived from (lab, node, interface) when the lab is
// deployed, and the stored lab keeps it: when a host loses a node and the
// node is re-created (agent restart, host back), its interfaces come back
// with the same MACs, so neighbours' ARP/ND caches stay right and traffic
// resumes at once instead of after the cache expires (30 s or more).
#ifndef EMU_CONTROLLER_TOPOLOGY_STABLE_MACS_H_
#define EMU_CONTROLLER_TOPOLOGY_STABLE_MACS_H_

#include <string>

#include "proto/topology.pb.h"

namespace emu::controller::topology {

// "02:xx:xx:xx:xx:xx" (locally administered, unicast) from a 64-bit FNV-1a
// hash of "lab/node/interface". Deterministic.
std::string StableMac(const std::string& lab, const std::string& node,
                      const std::string& interface);

// Sets StableMac on every link endpoint's interface that has no MAC,
// declaring the interface on its node (without addresses, which keeps its
// meaning: addresses left to the node) when the node does not. Explicit
// MACs are kept. Idempotent.
void AssignStableMacs(emu::v1::Topology* topology);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_STABLE_MACS_H_
