// The time source of the experiment sequencer, so its tests run on a fake
// clock. Implementations are thread-safe.
#ifndef EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_CLOCK_H_
#define EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace emu::controller::experiment {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// Wall time (absl::Now()): start instants are exchanged with agents as Unix
// time, so the controller and agents must share a synchronised wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

// A clock that moves only when told to.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000))
      : now_(start) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_EXPERIMENT_CLOCK_H_
