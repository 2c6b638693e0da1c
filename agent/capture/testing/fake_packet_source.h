// A PacketSource fed by the test: frames pushed with Add come out of Next
// in order; Fail makes the next Next fail. Thread-safe.
#ifndef EMU_AGENT_CAPTURE_TESTING_FAKE_PACKET_SOURCE_H_
#define EMU_AGENT_CAPTURE_TESTING_FAKE_PACKET_SOURCE_H_

#include <atomic>
#include <deque>
#include <string>

#include "absl/synchronization/mutex.h"
#include "agent/capture/packet_source.h"

namespace emu::agent::capture {

class FakePacketSource : public PacketSource {
 public:
  // Observed by the test after the session dropped the source.
  struct Shared {
    std::atomic<bool> closed{false};
    std::atomic<uint64_t> kernel_drops{0};
  };

  explicit FakePacketSource(Shared* shared) : shared_(shared) {}
  ~FakePacketSource() override { shared_->closed = true; }

  void Add(std::string frame, absl::Time time) {
    absl::MutexLock lock(&mu_);
    frames_.push_back({std::move(frame), time});
  }
  void Fail(absl::Status s) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(s);
  }

  // Frames added and not yet handed to a sink.
  size_t Pending() {
    absl::MutexLock lock(&mu_);
    return frames_.size();
  }

  uint16_t linktype() const override { return 1; }
  uint32_t snaplen() const override { return 65535; }

  absl::StatusOr<int> Next(
      absl::Duration timeout, int max,
      const std::function<void(const Frame&)>& sink) override {
    absl::MutexLock lock(&mu_);
    auto ready = [this] { return !frames_.empty() || !fail_.ok(); };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    if (!fail_.ok()) return fail_;
    int n = 0;
    while (n < max && !frames_.empty()) {
      auto [data, time] = std::move(frames_.front());
      frames_.pop_front();
      sink(Frame{time, data, static_cast<uint32_t>(data.size())});
      ++n;
    }
    return n;
  }

  uint64_t KernelDrops() override { return shared_->kernel_drops; }

 private:
  Shared* const shared_;
  absl::Mutex mu_;
  std::deque<std::pair<std::string, absl::Time>> frames_ ABSL_GUARDED_BY(mu_);
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_TESTING_FAKE_PACKET_SOURCE_H_
