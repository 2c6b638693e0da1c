// How every component names topology objects in messages and logs, so an
// error from the CLI, the controller or an agent reads the same:
// "r1:eth1", "r1:eth1<->r2:eth1", "lab.yaml:12: ".
#ifndef EMU_PROTO_TOPOLOGY_NAMES_H_
#define EMU_PROTO_TOPOLOGY_NAMES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/topology.pb.h"

namespace emu {

// "r1:eth1".
std::string EndpointName(const emu::v1::Endpoint& endpoint);
std::string EndpointName(absl::string_view node, absl::string_view interface);

// "r1:eth1<->r2:eth1" (a first, as written in the topology).
std::string LinkName(const emu::v1::Link& link);

// A containerlab vxlan link's far side as messages and tables show it:
// "vxlan 100 to 192.0.2.10:14789", "vxlan-stitch 7 to [2001:db8::1]:4789".
std::string VxlanEndText(const emu::v1::VxlanEnd& vxlan);

// True for an interface that is no end of a link between two nodes but an
// end of its own (Interface.dummy, .host_end or .vxlan set: containerlab's
// dummy, host, mgmt-net and vxlan links), made with its node: the agent's
// "special ends".
bool IsSpecialEnd(const emu::v1::Interface& i);

// "FILE:LINE" / "FILE" / "" when the source is unknown.
std::string SourceText(const emu::v1::SourceRef& source);

// SourceText plus ": " when it is not empty, ready to prefix a message:
// "lab.yaml:12: ".
std::string SourcePrefix(const emu::v1::SourceRef& source);

// The kind as a topology file writes it: "netns", "qemu", "bridge",
// "switch", "hub" (UNSPECIFIED reads as netns, its default).
std::string NodeKindName(emu::v1::NodeKind kind);

// True for the kinds that are a shared L2 segment (bridge, switch, hub):
// a bridge in a namespace of its own whose ports are the node's links.
bool IsSegmentKind(emu::v1::NodeKind kind);

// The bridge device inside a segment node's namespace; no port may take
// this name.
inline constexpr char kSegmentBridgeName[] = "emuseg";

// THE name rule for labs, nodes and hosts, written once: 1..kMaxNameLength
// of [A-Za-z0-9_-]. Why: these names become parts of namespace names
// ("emu.<host>.<lab>.<node>", parsed back by splitting at '.'), of paths
// under the agent's state directory and of log lines, so '.', '/' and
// spaces must never reach them. The validator, the agent, host registration
// and emu-controller's --agents all call this.
inline constexpr size_t kMaxNameLength = 32;
bool IsValidName(absl::string_view name);
// OK, or INVALID_ARGUMENT "<what> name 'x.y' may use only ..." naming the
// rule; `what` is "lab", "node", "host", ...
absl::Status CheckName(absl::string_view what, absl::string_view name);

// The lab key: how a lab is named to the agents (namespaces
// "emu.<host>.<key>.<node>", veth aliases, saved specs, tunnels, barrier
// commands) and in the controller's lab store. The cluster administrator's
// labs keep their plain name ("core"); a user's lab is "<user>+<lab>"
// ("alice+core"). Both parts are valid names, which never contain '+' (nor
// '.'), so two users' labs of one name can never share a key, a user's lab
// never takes an administrator's, and the key still parses back from a
// namespace name by splitting at '.'.
inline constexpr char kLabKeySeparator = '+';
// `owner` empty: the cluster administrator's lab.
std::string LabKey(absl::string_view owner, absl::string_view lab);
// A valid name, or "<valid name>+<valid name>".
bool IsValidLabKey(absl::string_view key);
struct LabKeyParts {
  std::string owner;  // empty: the cluster administrator
  std::string lab;
};
// The inverse of LabKey, for a valid key.
LabKeyParts SplitLabKey(absl::string_view key);

}  // namespace emu

#endif  // EMU_PROTO_TOPOLOGY_NAMES_H_
