// The export/attach graph of community networks (docs/community.md): which
// segments the stored labs export, whether a lab may attach to them, and how
// an attachment becomes ordinary topology the rest of the controller already
// deploys.
//
// An attachment `r1:eth1 <-> community:alice/ix1` of Bob's lab is expanded
// into two pieces of Bob's topology:
//  - an anchor node (ForeignAnchorName: "c-" + 8 hex digits) of the
//    segment's kind, pinned to the host the segment runs on, whose
//    Node.foreign_lab / foreign_node name Alice's segment: the agent never
//    creates or removes its namespace, only Bob's ports inside it;
//  - a link r1:eth1 <-> anchor:PORT (PortName: "x" + 8 hex digits, unique
//    per attaching lab and interface) with the attachment's conditions.
// Placement, shares, tunnels, destroy and status then treat it as any link
// of Bob's lab: the port belongs to Bob's lab key on the agents, so
// destroying Bob's lab removes just that port. Only exports whose lab is
// RUNNING are expanded; an attachment without its link is down (the
// exporter left), and Reconcile puts it back when the exporter returns.
//
// Pure functions; thread-compatible.
#ifndef EMU_CONTROLLER_COMMUNITY_ATTACHMENTS_H_
#define EMU_CONTROLLER_COMMUNITY_ATTACHMENTS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/community/community_access.h"
#include "proto/controller.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::community {

// An export of a stored lab, with where its segment runs.
struct LiveExport {
  Export spec;          // owner (user name, "admin"), short lab, name, ...
  std::string lab_key;  // the exporting lab's key (emu::LabKey)
  emu::v1::LabState state = emu::v1::LAB_STATE_UNSPECIFIED;  // as stored
  emu::v1::NodeKind kind = emu::v1::NODE_KIND_UNSPECIFIED;   // the segment's
  std::string host;  // the segment's host; empty when not placed
  // An interface export (exports.h): its interface; one lab at a time.
  bool interface = false;
  emu::v1::Endpoint interface_end;
  bool running() const { return state == emu::v1::RUNNING && !host.empty(); }
};

// Every export of `labs` (stored records), in lab order. Labs FAILED or
// DESTROYED export nothing.
std::vector<LiveExport> ExportsOf(const std::vector<emu::v1::Lab>& labs);

// The export `at` names for `caller` (a user name, "admin" for the cluster
// administrator), when the caller may attach to it. Otherwise the reason,
// naming the attachment and its source ("FILE:LINE: link r1:eth1<->
// community:alice/ix1: community endpoint alice/ix1 does not exist or is
// not exported to bob"): NOT_FOUND alike for an export that does not exist
// and one not offered to the caller (MayAttach).
absl::StatusOr<const LiveExport*> Resolve(
    const std::vector<LiveExport>& exports, absl::string_view caller,
    const emu::v1::Attachment& at);

// Every attachment of `topology` resolved for `caller`, before anything is
// created: INVALID_ARGUMENT listing each refusal (one line each, as
// Resolve words it) so that `up` shows them as problems of the file.
absl::Status CheckAttachments(const emu::v1::Topology& topology,
                              absl::string_view caller,
                              const std::vector<LiveExport>& exports);

// Refuses (INVALID_ARGUMENT, one line each, as Resolve words it) the
// attachments of `topology` (an attaching lab's, name = its key) to an
// interface export that another attachment already takes: one of another
// lab of `labs` that is not FAILED or DESTROYED, or an earlier one of
// `topology`. An interface export takes one peer, as the interface would
// on a point-to-point link.
absl::Status CheckInterfaceExportsFree(const emu::v1::Topology& topology,
                                       absl::string_view caller,
                                       const std::vector<LiveExport>& exports,
                                       const std::vector<emu::v1::Lab>& labs);

// The anchor node's name in the attaching lab for a segment of `lab_key`
// on `host`, and the port name of `local` (of attaching lab `lab_key`).
std::string ForeignAnchorName(absl::string_view exporter_lab_key,
                              absl::string_view segment,
                              absl::string_view host);
std::string PortName(absl::string_view attacher_lab_key,
                     const emu::v1::Endpoint& local);

// True for an anchor node (Node.foreign_lab set).
bool IsAnchor(const emu::v1::Node& node);

// `topology` (an attaching lab's, name = its key) without any anchor nodes
// and the links to them.
emu::v1::Topology StripAttachments(emu::v1::Topology topology);

// A stored topology as its file declared it, for a change that goes
// through deploy's steps again (`emuctl link set`): without anchors and
// their links (StripAttachments), with the local interface of every
// attachment back on its node (an attachment that is down had it removed),
// and without interface-export bridges (StripInterfaceExports). Apply
// expands it again (ExpandInterfaceExports, ExpandAttachments) to the
// same names.
emu::v1::Topology AsDeclared(emu::v1::Topology stored);

// Records in each attachment the local interface as the node declares it
// (Attachment.local_interface), for ExpandAttachments. Called once on a
// parsed file.
void KeepLocalInterfaces(emu::v1::Topology* topology);

// `topology` with anchors and links for the attachments whose export is
// running (resolved for `caller`; the others stay down, their local
// interface removed from the node until they return). Anchors and links
// already there are first removed, so the result depends only on the
// attachments and the exports.
emu::v1::Topology ExpandAttachments(const emu::v1::Topology& topology,
                                    absl::string_view caller,
                                    const std::vector<LiveExport>& exports);

// The attachments of `topology` that have no link (their export is not
// running), as AttachmentName.
std::vector<std::string> DownAttachments(const emu::v1::Topology& topology);

// How a user reads the internal names of `topology`'s attachments (an
// attaching lab's, owned by `owner`: a user name, "admin" for the
// administrator): "ANCHOR:PORT" and "ANCHOR" -> "community:OWNER/NAME", the
// endpoint the file named, as `emuctl status` shows it. Longest key first
// is safe: anchors are "c-" + 8 hex digits, ports "x" + 8.
std::map<std::string, std::string> ShownAttachmentNames(
    const emu::v1::Topology& topology, absl::string_view owner);

// `line` with every key of `names` replaced by its value (longest first).
std::string WithShownNames(std::string line,
                           const std::map<std::string, std::string>& names);

// True when the two topologies have the same anchors and anchor links.
bool SameAttachments(const emu::v1::Topology& a, const emu::v1::Topology& b);

// Everything `caller` may see (MayAttach; `admin`: everything) as
// ListCommunity answers: each export with the labs attached to it.
std::vector<emu::v1::CommunityEndpoint> VisibleEndpoints(
    const std::vector<emu::v1::Lab>& labs, absl::string_view caller,
    bool admin);

}  // namespace emu::controller::community

#endif  // EMU_CONTROLLER_COMMUNITY_ATTACHMENTS_H_
