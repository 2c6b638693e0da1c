// Shell scripts that configure a guest through its console after boot, from
// the topology: pure functions, so tests read the exact commands.
//
// The default guest's shell is dash with busybox and iproute2 (ip, tc):
// deploy/images/build_default.sh. Another guest OS would need other
// builders (see docs/guests.md).
#ifndef EMU_AGENT_GUEST_GUEST_CONFIG_H_
#define EMU_AGENT_GUEST_GUEST_CONFIG_H_

#include <string>
#include <vector>

#include "linkemu/qdisc_plan.h"
#include "proto/topology.pb.h"

namespace emu::agent::guest {

struct GuestNicName {
  std::string name;  // the topology's interface name
  std::string mac;   // the guest NIC's MAC (what QEMU was given)
  uint32_t mtu = 0;
};

// A shell function for guests' scripts: `dev_by_mac MAC` prints the name of
// the NIC with that MAC (fails, saying so, when there is none).
inline constexpr char kDevByMacShell[] =
    "dev_by_mac() { for d in /sys/class/net/*; do "
    "[ \"$(cat $d/address)\" = \"$1\" ] && "
    "{ basename $d; return 0; }; done; "
    "echo \"no NIC with MAC $1\" >&2; return 1; }\n";

// Renames every NIC (found by MAC) to its topology name in two phases (so
// eth0->eth1 and eth1->eth0 cannot collide), sets MTUs and brings them up,
// then the hostname, sysctls, addresses (exactly the declared ones, on
// interfaces that declare any) and routes. Exits non-zero at the first
// failure with a message on stderr naming the step.
std::string GuestConfigScript(const emu::v1::Node& node,
                              const std::vector<GuestNicName>& nics);

// `tc` commands that make `dev`'s egress match `plan` inside the guest:
// netem as root (handle 1:) with TBF below it (parent 1:1), or TBF alone, or
// no qdisc of ours when the plan is empty.
std::string GuestQdiscScript(const std::string& dev,
                             const linkemu::QdiscPlan& plan);

// The IPv4 address (no prefix) an ARP probe of `interface` asks for: the
// interface's own first, else any of the node's (a Linux guest answers ARP
// for each of its addresses on every interface); "" when it has none.
std::string ArpProbeAddress(const emu::v1::Node& node,
                            const std::string& interface);

}  // namespace emu::agent::guest

#endif  // EMU_AGENT_GUEST_GUEST_CONFIG_H_
