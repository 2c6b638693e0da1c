#include "linkemu/impair/own_latency.h"

#include <algorithm>

namespace emu::linkemu {

void OwnLatency::Record(int64_t due_ns, int64_t sent_ns) {
  // Early (a clock read before the due instant: impossible in the engine,
  // possible for a caller's rounding) counts as on time.
  ring_[next_] = std::max<int64_t>(0, sent_ns - due_ns);
  next_ = (next_ + 1) % kWindow;
  ++total_;
  if (++since_ < kWindow / 4) return;
  since_ = 0;
  const size_t n = std::min(total_, kWindow);
  std::array<int64_t, kWindow> sorted = ring_;
  // The ring's first n slots hold every sample until it wraps; after that
  // all kWindow do.
  const size_t rank = n / kQuantileDivisor;
  std::nth_element(sorted.begin(), sorted.begin() + rank, sorted.begin() + n);
  estimate_ns_ = std::min(sorted[rank], kMaxNs);
}

void OwnLatency::Reset() { *this = OwnLatency(); }

}  // namespace emu::linkemu
