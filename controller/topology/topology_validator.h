// Semantic checks of a topology (emu.v1.Topology) before anything is
// deployed: names, references between nodes and links, addresses, routes
// and link conditions. The parser (topology_parser.h) checks syntax and
// units; this checks that the result makes sense as a network.
#ifndef EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_VALIDATOR_H_
#define EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_VALIDATOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/topology.pb.h"

namespace emu::controller::topology {

// Checks `topology` and returns OK, or INVALID_ARGUMENT whose message lists
// EVERY problem found, one per line, each as "FILE:LINE: <object>: <cause>"
// using the objects' SourceRefs (the prefix is left out when a source is
// unknown). Problems that do not stop a deploy (an interface no link uses,
// an image on a netns node, jitter above delay) are appended to `warnings`
// in the same format when `warnings` is not null.
//
// What is checked:
// - the lab's size (kMaxNodes, kMaxLinks, kMaxInterfacesPerNode,
//   kMaxRoutesPerNode of topology_limits.h) before anything else;
// - placement: a known strategy, tolerance 0..100;
// - lab, node names: emu::CheckName ([A-Za-z0-9_-]{1,32}); nodes unique;
//   kind set and a known NodeKind; at least one node; cpus, memory_mib and
//   cpu_set within range; a qemu node's image is a name, not a path;
// - interfaces: 1..15 bytes of [A-Za-z0-9_.-], not "lo", "." or "..";
//   unique within the node; mtu 0 or 68..65535; mac a unicast, non-zero
//   "xx:xx:xx:xx:xx:xx" unique in the lab; addresses are CIDRs
//   ("10.0.1.1/24", "fd00::1/64") of host addresses (not unspecified, /0,
//   multicast, loopback, or an IPv4 subnet's network/broadcast address),
//   no address on two interfaces (warning: one subnet on two interfaces of
//   a node; an IPv6 address without host bits);
// - routes: destination a CIDR without host bits, "default" or "default6";
//   via an address of the same family inside a subnet the node is connected
//   to (an IPv6 link-local via needs dev); dev a declared interface; either
//   via or dev; no duplicate destination+metric;
// - links: both endpoints name a node and an interface DECLARED on it
//   (ParseTopology declares implicit ones), not the same endpoint twice, no
//   interface in two links; per direction: linkemu::LinkParamsProblems
//   (exactly what the agent refuses), and burst holds one MTU-sized packet;
// - sysctls: a netns node may set only net.* (anything else would change
//   the host); keys are [A-Za-z0-9_./-] without "..";
// - exec lines are not empty.
//
// Pure function; thread-safe.
absl::Status ValidateTopology(const emu::v1::Topology& topology,
                              std::vector<std::string>* warnings = nullptr);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_TOPOLOGY_VALIDATOR_H_
