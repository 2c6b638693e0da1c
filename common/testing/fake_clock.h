// A Clock that moves only when a test tells it to. Thread-safe: SleepUntil
// blocks until another thread Advance()s the time past its instant.
#ifndef EMU_COMMON_TESTING_FAKE_CLOCK_H_
#define EMU_COMMON_TESTING_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace emu {

class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000))
      : now_(start) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  void SleepUntil(absl::Time t) override {
    absl::MutexLock lock(&mu_);
    ++sleepers_;
    auto reached = [this, t]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return now_ >= t; };
    mu_.Await(absl::Condition(&reached));
    --sleepers_;
  }

  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  // Threads blocked in SleepUntil now (so a test can wait for a sleeper
  // before advancing).
  int sleepers() {
    absl::MutexLock lock(&mu_);
    return sleepers_;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  int sleepers_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace emu

#endif  // EMU_COMMON_TESTING_FAKE_CLOCK_H_
