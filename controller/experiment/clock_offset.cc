#include "controller/experiment/clock_offset.h"

namespace emu::controller::experiment {

void ClockOffsetEstimator::Add(absl::Time t1, absl::Time t2, absl::Time t3,
                               absl::Time t4) {
  const absl::Duration round_trip = (t4 - t1) - (t3 - t2);
  if (round_trip < absl::ZeroDuration() || t3 < t2 || t4 < t1) return;
  const int samples = best_.samples + 1;
  const absl::Duration bound = round_trip / 2;
  if (bound < best_.bound) {
    best_.offset = ((t2 - t1) + (t3 - t4)) / 2;
    best_.bound = bound;
  }
  best_.samples = samples;
}

}  // namespace emu::controller::experiment
