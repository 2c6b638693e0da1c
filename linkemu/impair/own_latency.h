// OwnLatency: how late one direction of the engine sends its frames after
// the departure instants its pipeline gave them (the loop's timer wake-up,
// its scheduling on a busy host, the write), as a robust running estimate,
// so the delay stage can schedule that much earlier and the delay a
// receiver measures is the configured one (docs/linkemu.md, "Delay
// compensation").
//
// Each sample is (instant the frame was handed to the receiving device) -
// (its scheduled departure), reported by the caller. The estimate is a low
// quantile (the 1/kQuantileDivisor-th) of the last kWindow samples,
// recomputed every kWindow / 4 samples: the lateness the direction always
// has (timer slack, the write), not what a busy moment adds. A frame sent
// less late than that arrives early, so the quantile is low: a median left
// half the frames early whenever the lateness varied (a CI host measured a
// 10 ms + 10 ms link at 19.90 ms RTT), where NetEm never sends early. A
// spike of a busy host moves it by one rank, not by its size. The
// compensation the pipeline applies is bounded by Compensation(): never
// more than kMaxNs, never more than the frame's own delay (a departure is
// never earlier than it would be without the delay stage), never negative.
//
// Pure logic on caller-given instants; not thread-safe (one per direction).
#ifndef EMU_LINKEMU_IMPAIR_OWN_LATENCY_H_
#define EMU_LINKEMU_IMPAIR_OWN_LATENCY_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace emu::linkemu {

class OwnLatency {
 public:
  static constexpr size_t kWindow = 32;
  // The estimate is the sample of rank n / kQuantileDivisor among the n in
  // the window (the 5th smallest of 32: about the 12th percentile).
  static constexpr size_t kQuantileDivisor = 8;
  // The most subtracted from one frame's delay: 2 ms. A host whose wake-ups
  // are later than that has a scheduling problem to fix (nice, threads),
  // not one to hide.
  static constexpr int64_t kMaxNs = 2'000'000;

  // One frame scheduled for `due_ns` was sent at `sent_ns`.
  void Record(int64_t due_ns, int64_t sent_ns);

  // The current estimate, 0..kMaxNs (0 until kWindow / 4 samples).
  int64_t estimate_ns() const { return estimate_ns_; }
  size_t samples() const { return total_; }

  // What to subtract from a frame whose delay stage adds `delay_ns`:
  // min(estimate, delay_ns), never negative.
  int64_t Compensation(int64_t delay_ns) const {
    if (delay_ns <= 0) return 0;
    return estimate_ns_ < delay_ns ? estimate_ns_ : delay_ns;
  }

  // Forgets every sample (a spec that turns compensation off and on).
  void Reset();

 private:
  std::array<int64_t, kWindow> ring_{};
  size_t next_ = 0;    // ring_ index of the next sample
  size_t total_ = 0;   // samples ever recorded (saturating use only)
  size_t since_ = 0;   // samples since the last recomputation
  int64_t estimate_ns_ = 0;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_OWN_LATENCY_H_
