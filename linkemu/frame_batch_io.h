// FrameBatchIo: reads and writes of whole frames on frame devices (a TAP,
// where each read() returns one frame and each write() sends one, or a
// SOCK_SEQPACKET socket in tests), many per system call.
//
// A TAP has no recvmmsg/sendmmsg: each frame is one read() or write(), and
// on these virtual machines a system call's entry and exit cost more than
// moving a small frame (measured: 2.85 us per 64-byte frame read one by one,
// 3.2 us per frame written; 0.57 and 0.34 us through io_uring batches of 64,
// docs/linkemu.md "Batching"). So the data plane queues a batch of reads or
// writes in an io_uring submission queue and enters the kernel once:
//
// - reads carry RWF_NOWAIT: each completes at once with a frame or EAGAIN,
//   none waits in the kernel for a frame, and they are issued in order, so
//   the frames read are in the device's order (gaps of EAGAIN skipped);
// - writes carry RWF_NOWAIT too: each is done inline, in order (a write the
//   device cannot take at once fails with EAGAIN, as write() on the
//   non-blocking fd would, and is counted as refused by the caller).
//
// Where io_uring is not available (a kernel without it, io_uring_disabled,
// a seccomp filter), or with Mode::kSyscalls, the same calls loop over
// read()/write(): same results, one system call per frame.
//
// Not thread-safe: one instance per event loop thread.
#ifndef EMU_LINKEMU_FRAME_BATCH_IO_H_
#define EMU_LINKEMU_FRAME_BATCH_IO_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/types/span.h"

namespace emu::linkemu {

class FrameBatchIo {
 public:
  enum class Mode {
    kAuto,      // io_uring where the kernel allows it, else system calls
    kSyscalls,  // one read()/write() per frame
  };
  // The most frames one ReadFrames/Submit moves.
  static constexpr int kMaxBatch = 64;

  explicit FrameBatchIo(Mode mode = Mode::kAuto);
  ~FrameBatchIo();
  FrameBatchIo(const FrameBatchIo&) = delete;
  FrameBatchIo& operator=(const FrameBatchIo&) = delete;

  // True when batches go through io_uring.
  bool batched() const { return ring_ != nullptr; }

  struct ReadResult {
    // bufs[0..slots) were tried: lens[i] is the size of the frame read into
    // bufs[i], 0 where that read found none (a frame that arrived during
    // the batch can follow such a gap; frames are in the device's order).
    int slots = 0;
    int frames = 0;  // frames read (lens[i] > 0)
    int error = 0;   // errno that ended the batch (not EAGAIN/EINTR), or 0
  };
  // Reads up to bufs.size() (<= kMaxBatch) frames from non-blocking `fd`,
  // frame i into bufs[i]. Goes in rounds: `first_round` reads, then twice
  // as many while a round found a frame for every read, until bufs is
  // used or a read finds no frame. A caller passes twice what it read last
  // time (at least 2): a device with one frame costs one system call (a
  // read that finds nothing in io_uring costs ~0.1 us, a system call
  // ~2.5 us here), and a busy one is drained in a few.
  ReadResult ReadFrames(int fd, absl::Span<const absl::Span<char>> bufs,
                        size_t* lens, int first_round);

  // Queues a write of one frame to `fd`; `data` must stay valid until
  // Submit. Submits by itself when kMaxBatch writes are queued.
  void QueueWrite(int fd, const char* data, size_t len);
  struct WriteResult {
    int written = 0;
    int refused = 0;     // the device refused the frame (errno)
    uint64_t bytes = 0;  // of the frames written
  };
  // Writes every queued frame, in order; returns what became of them since
  // the last Submit (including those an automatic Submit wrote).
  WriteResult Submit();
  int queued() const { return queued_; }

 private:
  struct Pending {
    int fd;
    const char* data;
    size_t len;
  };
  void SubmitQueued();

  struct Ring;
  std::unique_ptr<Ring> ring_;
  Pending pending_[kMaxBatch];
  int queued_ = 0;
  WriteResult done_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_FRAME_BATCH_IO_H_
