// Late frames between two samples of a lab's counters: how many frames a
// link direction's sender (the userspace engine, or a cross-host tunnel's
// egress pipeline) sent 1 ms / 10 ms or more after their departure
// instants in between (DirectionCounters.late_*, counted by
// linkemu/impair/direction_stats.h; docs/linkemu.md, "Late frames"). For
// what reads two samples around a measurement: emuctl linktest around its
// pings, an experiment run around the whole run. Pure; thread-safe.
#ifndef EMU_LINKEMU_LATE_FRAMES_H_
#define EMU_LINKEMU_LATE_FRAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "proto/counters.pb.h"

namespace emu::linkemu {

struct LateFigures {
  // The sender counts late frames (a carrier with "engine"); kernel qdiscs
  // do not say.
  bool known = false;
  uint64_t late_1ms = 0;
  uint64_t late_10ms = 0;
  bool tunnel = false;  // a cross-host tunnel's egress pipeline sends it
};

// The difference of one direction's counters; a counter that went
// backwards (the link was re-created in between) counts from zero.
LateFigures LateBetween(const emu::v1::DirectionCounters& before,
                        const emu::v1::DirectionCounters& after);

// Every direction of `after`'s links that sent a frame 10 ms or more late
// since `before` (a link missing from `before` counts from zero): the host
// stalled its sender by as much as that.
struct StalledDirection {
  std::string link;       // LinkName, "a:eth1<->b:eth1"
  std::string direction;  // "a-to-b" or "b-to-a"
  LateFigures late;
};
std::vector<StalledDirection> StalledBetween(
    const emu::v1::LabCounters& before, const emu::v1::LabCounters& after);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_LATE_FRAMES_H_
