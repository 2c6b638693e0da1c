// CaptureSession: one running capture. Its thread reads frames from a
// PacketSource and queues them as pcapng blocks; the stream that serves the
// capture takes them with Take() at its own pace. The queue is bounded:
// when a slow reader lets it fill, frames are dropped and counted
// (dropped_by_emu), so reading the capture never holds up the link.
//
// Thread-safe. Owns the source and its thread (joined by Stop and the
// destructor, which close the source).
#ifndef EMU_AGENT_CAPTURE_CAPTURE_SESSION_H_
#define EMU_AGENT_CAPTURE_CAPTURE_SESSION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/capture/packet_source.h"

namespace emu::agent::capture {

class CaptureSession {
 public:
  struct Options {
    // Bytes of pcapng blocks waiting for the reader, at most.
    size_t queue_bytes = 8 << 20;
    uint64_t max_packets = 0;     // end after this many frames; 0 = never
    std::string application;      // the section header's shb_userappl
    std::string interface_label;  // the interface description's if_name
    std::string filter;           // recorded as if_filter
    // How long the thread waits for frames before it checks for a stop and
    // refreshes the counters (also the longest Stop takes).
    absl::Duration poll = absl::Milliseconds(100);
    // A reader is notified at least this often while the capture runs,
    // with or without frames, so its counters stay current.
    absl::Duration tick = absl::Seconds(1);
  };

  // What Take returns.
  struct Chunk {
    std::string pcapng;  // whole blocks; the headers come first
    uint64_t packets = 0;            // cumulative, taken by the reader
    uint64_t dropped_by_emu = 0;     // cumulative
    uint64_t dropped_by_kernel = 0;  // cumulative
    // The capture ended and this chunk holds the last of its blocks.
    bool ended = false;
    absl::Status status;  // why it ended, when it ended (OK: max_packets/Stop)
  };

  // Starts the thread. `notify` is called from it when the reader has
  // something new to Take (frames after an empty queue, the end, a tick);
  // it must not block and must not call back into the session's Stop.
  CaptureSession(std::unique_ptr<PacketSource> source, Options options,
                 std::function<void()> notify);
  ~CaptureSession();

  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Ends the capture: the thread stops and closes the source. Idempotent.
  void Stop();

  // Takes queued blocks, whole, up to about `max_bytes` (at least one
  // block), with the counters as of now. `ended` is set once the capture
  // has ended and nothing is left queued.
  Chunk Take(size_t max_bytes);

  // Whether Take would return anything new (blocks, changed counters, the
  // end).
  bool HasNews();

 private:
  void Run();
  void Enqueue(std::string block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<PacketSource> source_;
  const Options options_;
  const std::function<void()> notify_;

  absl::Mutex mu_;
  struct Block {
    std::string bytes;
    bool frame = false;  // an enhanced packet (not the headers)
  };
  std::deque<Block> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;  // frames queued, ever
  uint64_t taken_ ABSL_GUARDED_BY(mu_) = 0;     // frames taken
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t kernel_drops_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool end_reported_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  // Counters as last taken (HasNews).
  uint64_t reported_dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reported_kernel_ ABSL_GUARDED_BY(mu_) = 0;
  bool ticked_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
};

}  // namespace emu::agent::capture

#endif  // EMU_AGENT_CAPTURE_CAPTURE_SESSION_H_
