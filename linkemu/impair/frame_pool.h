// FramePool: the buffers a link direction holds frames in while they wait
// (rate, delay). Buffers come in power-of-two size classes from 2 KiB to
// 128 KiB (a GSO super-frame with its virtio-net header fits the largest);
// a released buffer goes back to its class's free list and is reused, so
// after warm-up the data path allocates nothing. The pool never holds more
// buffers than were ever in use at once, and the pipeline bounds that by
// its queue limits: memory is at most limit_packets x (2 x largest frame)
// and about 2 x limit_bytes.
//
// Not thread-safe (one per direction, used under its owner's lock).
#ifndef EMU_LINKEMU_IMPAIR_FRAME_POOL_H_
#define EMU_LINKEMU_IMPAIR_FRAME_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace emu::linkemu {

// One frame held by a direction: the bytes exactly as read from the
// device (virtio-net header included), and its departure time.
struct HeldFrame {
  char* data = nullptr;
  uint32_t len = 0;
  uint32_t cap = 0;
  int64_t due_ns = 0;  // CLOCK_MONOTONIC instant it leaves
  uint8_t size_class = 0;
  bool reordered = false;  // sent ahead of its turn (stats, tests)
};

class FramePool {
 public:
  static constexpr size_t kSmallestBytes = 2048;
  static constexpr size_t kLargestBytes = 128 * 1024;
  static constexpr int kClasses = 7;  // 2, 4, ..., 128 KiB

  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // A buffer for `len` bytes (len <= kLargestBytes), from its class's free
  // list or newly allocated. nullptr when len is too large.
  HeldFrame* Get(size_t len);
  void Put(HeldFrame* f);

  // Bytes of buffer memory the pool owns (free and in use).
  size_t owned_bytes() const { return owned_bytes_; }

 private:
  struct Buffer {
    HeldFrame frame;
    std::unique_ptr<char[]> bytes;
  };
  std::vector<std::unique_ptr<Buffer>> all_;
  std::vector<HeldFrame*> free_[kClasses];
  size_t owned_bytes_ = 0;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_FRAME_POOL_H_
