// GetLab's brief form (GetLabRequest.details_up_to): a lab of thousands of
// nodes and links without the per-entry details a summary does not show,
// so that `emuctl status` of a 10,000-node lab moves kilobytes per entry
// less (docs/observability.md, "Large labs").
#ifndef EMU_CONTROLLER_LAB_LAB_DETAILS_H_
#define EMU_CONTROLLER_LAB_LAB_DETAILS_H_

#include <cstdint>

#include "proto/controller.pb.h"

namespace emu::controller::lab {

// If `lab` has more than `up_to` nodes, its NodeStatus entries lose their
// interfaces; if more than `up_to` links, each LinkStatus keeps of its link
// only the two ends. Either way the topology then keeps only its settings,
// its community parts (attachments, exports) and the anchor nodes with the
// links that reach them (status names anchors after them), and
// `details_left_out` says "nodes" and/or "links". up_to == 0 changes nothing.
void LeaveOutDetails(uint32_t up_to, emu::v1::Lab* lab);

// ListLabs' form of a lab: node_count and link_count set (from the node and
// link states, or the topology's when there are none), then the nodes and
// links themselves cleared, in the topology too.
void OutlineLab(emu::v1::Lab* lab);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_DETAILS_H_
