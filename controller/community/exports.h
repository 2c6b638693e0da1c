// The exports of one lab (docs/community.md): whether an export fits its
// lab's topology, and the bridge that carries an interface export.
//
// An export offers a segment (switch, hub, bridge node) or a free interface
// (a node's interface no link uses: `interface: NODE:IFACE`). An interface
// export becomes, in the exporting lab's topology, one more bridge node
// (InterfaceExportSegment: "e-" + 8 hex digits, Node.interface_export set)
// linked to NODE:IFACE, and Export.segment names that bridge: from there on
// it is exported like any segment (attachments.h), and the agents need
// nothing new. One lab at a time may attach to it (TakenInterfaceExports),
// so the interface keeps one peer as a point-to-point link would.
//
// Pure functions; thread-compatible.
#ifndef EMU_CONTROLLER_COMMUNITY_EXPORTS_H_
#define EMU_CONTROLLER_COMMUNITY_EXPORTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "proto/topology.pb.h"

namespace emu::controller::community {

// Why `ex` cannot be an export of `topology` (the lab's, as stored or as
// parsed), one cause each, without a source prefix: "segment sw9 is not a
// node of the lab", "interface r1:eth1 is used by link r1:eth1<->r2:eth1",
// "to: name the users who may attach, or all", ... Empty when it can.
// Checks the segment or interface (OfferedProblem) and `to`; not the name.
std::vector<std::string> ExportProblems(const emu::v1::Topology& topology,
                                        const emu::v1::Export& ex);
// The segment or interface part of ExportProblems; empty when fine.
std::string OfferedProblem(const emu::v1::Topology& topology,
                           const emu::v1::Export& ex);

// FNV-1a of `text`: names the controller derives (anchors, ports, export
// bridges) must be the same in every controller process (absl::Hash is
// seeded per process).
uint32_t StableHash(absl::string_view text);

// The bridge node carrying interface export `name` of lab `lab_key`.
std::string InterfaceExportSegment(absl::string_view lab_key,
                                   absl::string_view name);

// True for a bridge the controller added for an interface export.
bool IsInterfaceExportNode(const emu::v1::Node& node);

// `topology` without the bridges ExpandInterfaceExports added and their
// links, and each interface export's segment cleared: the exports as a
// topology file declares them.
emu::v1::Topology StripInterfaceExports(emu::v1::Topology topology);

// `topology` (name = the lab key) with one bridge and link per interface
// export, and each such export's segment naming its bridge. Bridges and
// links already there are first removed, so the result depends only on the
// exports: applying it twice changes nothing.
emu::v1::Topology ExpandInterfaceExports(emu::v1::Topology topology);

}  // namespace emu::controller::community

#endif  // EMU_CONTROLLER_COMMUNITY_EXPORTS_H_
