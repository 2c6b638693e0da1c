// Counters of a link direction in the userspace engine (link_engine.h),
// kept by its pipeline (impairment_pipeline.h). Value types.
#ifndef EMU_LINKEMU_IMPAIR_DIRECTION_STATS_H_
#define EMU_LINKEMU_IMPAIR_DIRECTION_STATS_H_

#include <cstdint>

namespace emu::linkemu {

// Counters of one direction since AddLink.
struct DirectionStats {
  uint64_t frames_in = 0;  // read from the sending end
  uint64_t bytes_in = 0;
  uint64_t frames_out = 0;  // written to the receiving end
  uint64_t bytes_out = 0;
  uint64_t dropped_loss = 0;   // by the loss model
  uint64_t dropped_queue = 0;  // queue limit (packets or bytes) reached
  uint64_t dropped_write = 0;  // the receiving device refused the frame
  uint64_t duplicated = 0;
  uint64_t corrupted = 0;  // frames with at least one flipped bit
  uint64_t reordered = 0;
  uint64_t backlog_frames = 0;  // queued now
  uint64_t backlog_bytes = 0;
  // The delay compensation in force (OwnLatency::estimate_ns): how much
  // earlier the delay stage schedules frames; 0 without delay.
  uint64_t own_latency_ns = 0;
  // Frames sent late: handed to the receiving end (or the tunnel) at
  // least 1 ms / 10 ms after the departure instant the pipeline gave them.
  // The host did not run the sending thread in time (or, in a tunnel, its
  // connection held them back): what a receiver measures then exceeds the
  // configured conditions by that much (docs/linkemu.md, "Late frames").
  // Counted for every frame that waited in the schedule (delay, jitter,
  // rate); a frame written straight through has no departure instant.
  uint64_t late_1ms = 0;
  uint64_t late_10ms = 0;
  uint64_t late_max_ns = 0;  // the latest of those, since AddLink (0: none)
};

struct LinkStats {
  DirectionStats a_to_b;
  DirectionStats b_to_a;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_DIRECTION_STATS_H_
