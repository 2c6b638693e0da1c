// containerlab's management network as a plan (docs/topology.md,
// "Management network"): the subnets with containerlab's defaults, the
// gateways on the lab's bridge, and every attached node's eth0 addresses,
// the file's own (mgmt-ipv4/6) first, then the lowest free ones in file
// order, as Docker's IPAM hands them out. Pure, thread-safe.
#ifndef EMU_CONTROLLER_TOPOLOGY_MGMT_PLAN_H_
#define EMU_CONTROLLER_TOPOLOGY_MGMT_PLAN_H_

#include <map>
#include <string>
#include <vector>

#include "proto/topology.pb.h"

namespace emu::controller::topology {

// containerlab's defaults (its docs/manual/network.md).
inline constexpr char kDefaultMgmtNetwork[] = "clab";
inline constexpr char kDefaultMgmtIpv4Subnet[] = "172.20.20.0/24";
inline constexpr char kDefaultMgmtIpv6Subnet[] = "3fff:172:20:20::/64";

// `mgmt:` as the file writes it.
struct MgmtSettings {
  // network, bridge, mtu, source as written; subnets as written ("" =
  // unset: both unset means containerlab's defaults for both); gateways
  // as written, a bare address ("" = the subnet's first address).
  emu::v1::ManagementNetwork net;
  // containerlab's ipv4-range / ipv6-range: the pool dynamic addresses
  // come from (inside the subnet); "" = the whole subnet.
  std::string ipv4_range;
  std::string ipv6_range;
};

// One node as the plan sees it, in file order.
struct MgmtNodeAsk {
  std::string node;
  int line = 0;  // the node's
  // False: the node gets no management interface (not a netns node, or
  // it shares another's namespace, or containerlab's network-mode host or
  // none); an address asked for it is ignored with a warning.
  bool attached = true;
  std::string ipv4;  // mgmt-ipv4 as written; "" = a free one
  std::string ipv6;
  int ipv4_line = 0;
  int ipv6_line = 0;
};

struct MgmtProblem {
  int line = 0;
  std::string object;  // "mgmt", "node l1"
  std::string cause;
};

struct MgmtPlan {
  // Defaults filled: network, both subnets (canonical, "" for a family
  // the lab does not have), gateways as CIDRs with the subnet's length.
  emu::v1::ManagementNetwork net;
  // Attached node -> its eth0 addresses (CIDRs with the subnet's length).
  std::map<std::string, std::vector<std::string>> addresses;
  std::vector<MgmtProblem> errors;
  std::vector<MgmtProblem> warnings;
};

MgmtPlan PlanManagementNetwork(const MgmtSettings& settings,
                               const std::vector<MgmtNodeAsk>& nodes);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_MGMT_PLAN_H_
