// Merging the agents' parts of a lab's counters (proto/counters.proto):
// each host reports what it observes of a link direction (a cross-host
// link's sending side on one host, its delivering side on the other, each
// zero where the host sees nothing), so the lab's counters are the sum,
// link by link. Nodes are listed once each (one host runs a node).
//
// Pure functions; thread-safe.
#ifndef EMU_CONTROLLER_LAB_LAB_COUNTERS_MERGE_H_
#define EMU_CONTROLLER_LAB_LAB_COUNTERS_MERGE_H_

#include "proto/counters.pb.h"

namespace emu::controller::lab {

// Adds `part` (one host's answer) to `into`: links matched by name, their
// directions' counters added; nodes and problems appended. `into`'s
// time is the latest of the parts'.
void MergeLabCounters(const emu::v1::LabCounters& part,
                      emu::v1::LabCounters* into);

}  // namespace emu::controller::lab

#endif  // EMU_CONTROLLER_LAB_LAB_COUNTERS_MERGE_H_
