// The time source of code that waits (the experiment sequencer and runner,
// the agent's barrier), so tests can run on a fake clock
// (common/testing/fake_clock.h).
#ifndef EMU_COMMON_CLOCK_H_
#define EMU_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace emu {

// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Blocks the calling thread until Now() >= `t` (returns at once if it is).
  virtual void SleepUntil(absl::Time t) = 0;
};

// Wall time (absl::Now()): start instants are exchanged with agents as Unix
// time, so the controller and agents must share a synchronised wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepUntil(absl::Time t) override { absl::SleepFor(t - absl::Now()); }

  // One shared instance for code given no clock.
  static RealClock* Get() {
    static RealClock* const clock = new RealClock();
    return clock;
  }
};

}  // namespace emu

#endif  // EMU_COMMON_CLOCK_H_
