// `emuctl link set`: the edit ControllerService.SetLinkParams makes to a
// running lab's topology before handing it to LabManager::Apply (which
// diffs, calls SetLinkParams on the hosts concerned, rolls back on failure
// and records). Pure.
#ifndef EMU_CONTROLLER_LAB_LINK_SET_H_
#define EMU_CONTROLLER_LAB_LINK_SET_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/controller.pb.h"
#include "proto/topology.pb.h"

namespace emu::controller::lab {

// Finds the link `req.link()` names in `topology` ("r1:eth1<->r2:eth1" in
// either order, or one end "r1:eth1") and copies the fields
// `req.fields()` names from `req.params()` into the direction(s)
// `req.direction()` selects (a and b as the topology lists the link); the
// other fields keep their values. Returns the edited link.
//
// `topology` is the lab's as declared (community::AsDeclared): a community
// attachment is not a link there but an Attachment, named as `emuctl
// status` shows it ("r1:eth1<->community:alice/ix1", either order, or its
// local end "r1:eth1"); its directions are a = the local end, b = the
// community, i.e. Attachment.to_community and from_community are edited,
// which is what deploy, apply and the community reconcile expand the link
// from. `owner` (a user name; "admin" for the cluster administrator)
// qualifies an attachment written without its owner ("community:ix1").
// The result for an attachment: a = its local end, b = node
// "community:OWNER/NAME", without interface.
// NOT_FOUND for a link the lab does not have; INVALID_ARGUMENT for an
// unknown field name or no field at all. The result is validated later, by
// Apply, with the lab's other checks.
absl::StatusOr<emu::v1::Link> EditLinkParams(
    const emu::v1::LabSetLinkParamsRequest& req, absl::string_view owner,
    emu::v1::Topology* topology);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LINK_SET_H_
