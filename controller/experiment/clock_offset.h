// The offset of an agent's clock to the controller's, from NTP-style
// samples over the barrier stream (proto/barrier.proto TimeProbe/TimeReply):
// t1 controller sends, t2 agent receives, t3 agent answers, t4 controller
// receives. Per sample, offset = ((t2 - t1) + (t3 - t4)) / 2 and round trip
// = (t4 - t1) - (t3 - t2); the true offset lies within +-round trip / 2 of
// the sample's. The estimate is the sample with the shortest round trip
// (NTP's clock filter): queueing only ever lengthens a round trip.
//
// Pure; thread-compatible.
#ifndef EMU_CONTROLLER_EXPERIMENT_CLOCK_OFFSET_H_
#define EMU_CONTROLLER_EXPERIMENT_CLOCK_OFFSET_H_

#include <cstdint>

#include "absl/time/time.h"

namespace emu::controller::experiment {

class ClockOffsetEstimator {
 public:
  struct Estimate {
    absl::Duration offset = absl::ZeroDuration();  // agent - controller
    absl::Duration bound = absl::InfiniteDuration();  // +- this
    int samples = 0;
  };

  // One exchange; a sample whose times contradict each other (negative
  // round trip) is ignored.
  void Add(absl::Time t1, absl::Time t2, absl::Time t3, absl::Time t4);

  const Estimate& estimate() const { return best_; }

 private:
  Estimate best_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_CLOCK_OFFSET_H_
