#include "agent/capture/capture_session.h"

#include <algorithm>
#include <utility>

#include "agent/capture/pcapng.h"

namespace emu::agent::capture {
namespace {
// Frames handed over per Next call, at most: the stop flag and the counters
// are looked at between batches.
constexpr int kBatch = 256;
}  // namespace

CaptureSession::CaptureSession(std::unique_ptr<PacketSource> source,
                               Options options, std::function<void()> notify)
    : source_(std::move(source)),
      options_(std::move(options)),
      notify_(std::move(notify)) {
  {
    absl::MutexLock lock(&mu_);
    // The headers are never dropped: the stream is unreadable without them.
    std::string head = SectionHeader(options_.application);
    head += InterfaceDescription(source_->linktype(), source_->snaplen(),
                                 options_.interface_label, options_.filter);
    queued_bytes_ += head.size();
    queue_.push_back(Block{std::move(head), false});
  }
  thread_ = std::thread([this] { Run(); });
}

CaptureSession::~CaptureSession() { Stop(); }

void CaptureSession::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void CaptureSession::Enqueue(std::string block) {
  if (queued_bytes_ + block.size() > options_.queue_bytes) {
    ++dropped_;
    return;
  }
  queued_bytes_ += block.size();
  queue_.push_back(Block{std::move(block), true});
  ++accepted_;
}

void CaptureSession::Run() {
  absl::Time next_tick = absl::Now() + options_.tick;
  absl::Status why;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stop_) break;
      if (options_.max_packets != 0 && accepted_ >= options_.max_packets) break;
    }
    int max = kBatch;
    if (options_.max_packets != 0) {
      absl::MutexLock lock(&mu_);
      max = static_cast<int>(
          std::min<uint64_t>(kBatch, options_.max_packets - accepted_));
    }
    bool was_empty = false;
    absl::StatusOr<int> n = source_->Next(
        options_.poll, max, [&](const Frame& f) {
          std::string block = EnhancedPacket(f.time, f.data, f.original_length);
          absl::MutexLock lock(&mu_);
          if (queue_.empty()) was_empty = true;
          Enqueue(std::move(block));
        });
    if (!n.ok()) {
      why = n.status();
      break;
    }
    const uint64_t kernel = source_->KernelDrops();
    bool tick = false;
    {
      absl::MutexLock lock(&mu_);
      kernel_drops_ = kernel;
      if (absl::Now() >= next_tick) {
        next_tick = absl::Now() + options_.tick;
        ticked_ = tick = true;
      }
    }
    if (was_empty || tick) notify_();
  }
  const uint64_t kernel = source_->KernelDrops();
  source_.reset();  // closes the capture before anyone hears of the end
  {
    absl::MutexLock lock(&mu_);
    kernel_drops_ = kernel;
    ended_ = true;
    status_ = why;
  }
  notify_();
}

bool CaptureSession::HasNews() {
  absl::MutexLock lock(&mu_);
  return !queue_.empty() || (ended_ && !end_reported_) || ticked_ ||
         dropped_ != reported_dropped_ || kernel_drops_ != reported_kernel_;
}

CaptureSession::Chunk CaptureSession::Take(size_t max_bytes) {
  Chunk chunk;
  absl::MutexLock lock(&mu_);
  bool first = true;
  while (!queue_.empty() &&
         (first || chunk.pcapng.size() + queue_.front().bytes.size() <= max_bytes)) {
    first = false;
    const Block& block = queue_.front();
    if (block.frame) ++taken_;
    queued_bytes_ -= block.bytes.size();
    chunk.pcapng += block.bytes;
    queue_.pop_front();
  }
  chunk.packets = taken_;
  chunk.dropped_by_emu = reported_dropped_ = dropped_;
  chunk.dropped_by_kernel = reported_kernel_ = kernel_drops_;
  ticked_ = false;
  if (ended_ && queue_.empty()) {
    chunk.ended = true;
    end_reported_ = true;
    chunk.status = status_;
  }
  return chunk;
}

}  // namespace emu::agent::capture
