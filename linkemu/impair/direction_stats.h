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
};

struct LinkStats {
  DirectionStats a_to_b;
  DirectionStats b_to_a;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_DIRECTION_STATS_H_
