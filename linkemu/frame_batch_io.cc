#include "linkemu/frame_batch_io.h"

#include <liburing.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace emu::linkemu {

struct FrameBatchIo::Ring {
  io_uring ring;
};

namespace {

// One read()/write() per frame, as a FrameBatchIo without io_uring does.
// Returns bytes or -errno.
int64_t ReadOne(int fd, absl::Span<char> buf) {
  ssize_t n = read(fd, buf.data(), buf.size());
  return n < 0 ? -errno : n;
}

int64_t WriteOne(int fd, const char* data, size_t len) {
  ssize_t n = write(fd, data, len);
  return n < 0 ? -errno : n;
}

// Submits the prepared SQEs and collects `n` completions into res[]
// (indexed by user_data). False if the ring failed as a whole.
bool SubmitAndCollect(io_uring& ring, int n, int64_t* res) {
  int s = io_uring_submit_and_wait(&ring, n);
  if (s < 0 && s != -EINTR) return false;
  int got = 0;
  while (got < n) {
    io_uring_cqe* cqe = nullptr;
    int w = io_uring_wait_cqe(&ring, &cqe);
    if (w == -EINTR) continue;
    if (w < 0) return false;
    unsigned head;
    int seen = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      res[cqe->user_data] = cqe->res;
      ++seen;
    }
    io_uring_cq_advance(&ring, seen);
    got += seen;
  }
  return true;
}

}  // namespace

FrameBatchIo::FrameBatchIo(Mode mode) {
  if (mode == Mode::kSyscalls) return;
  auto r = std::make_unique<Ring>();
  if (io_uring_queue_init(2 * kMaxBatch, &r->ring, 0) == 0) ring_ = std::move(r);
}

FrameBatchIo::~FrameBatchIo() {
  if (ring_ != nullptr) io_uring_queue_exit(&ring_->ring);
}

FrameBatchIo::ReadResult FrameBatchIo::ReadFrames(
    int fd, absl::Span<const absl::Span<char>> bufs, size_t* lens,
    int first_round) {
  ReadResult out;
  const int max = std::min<int>(bufs.size(), kMaxBatch);
  int round = std::clamp(first_round, 1, std::max(max, 1));
  int64_t res[kMaxBatch];
  while (out.slots < max) {
    const int begin = out.slots;
    const int n = std::min(round, max - begin);
    bool done = false;
    if (ring_ != nullptr) {
      for (int i = 0; i < n; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
        io_uring_prep_read(sqe, fd, bufs[begin + i].data(),
                           bufs[begin + i].size(), 0);
        sqe->rw_flags = RWF_NOWAIT;
        sqe->user_data = i;
      }
      if (!SubmitAndCollect(ring_->ring, n, res)) {
        io_uring_queue_exit(&ring_->ring);
        ring_.reset();
        for (int i = 0; i < n; ++i) res[i] = -EAGAIN;
      } else if (res[0] == -EOPNOTSUPP) {
        // A file without non-blocking reads for io_uring: system calls
        // from now on (nothing was read by this round).
        io_uring_queue_exit(&ring_->ring);
        ring_.reset();
        continue;
      }
    } else {
      for (int i = 0; i < n; ++i) {
        res[i] = ReadOne(fd, bufs[begin + i]);
        if (res[i] <= 0) {
          for (int j = i + 1; j < n; ++j) res[j] = -EAGAIN;
          break;
        }
      }
    }
    for (int i = 0; i < n; ++i) {
      lens[begin + i] = res[i] > 0 ? static_cast<size_t>(res[i]) : 0;
      if (res[i] > 0) {
        ++out.frames;
      } else {
        done = true;
        if (res[i] < 0 && res[i] != -EAGAIN && res[i] != -EINTR &&
            out.error == 0) {
          out.error = static_cast<int>(-res[i]);
        }
      }
    }
    out.slots = begin + n;
    if (done || out.error != 0) break;
    round *= 2;
  }
  return out;
}

void FrameBatchIo::QueueWrite(int fd, const char* data, size_t len) {
  if (queued_ == kMaxBatch) SubmitQueued();
  pending_[queued_++] = Pending{fd, data, len};
}

void FrameBatchIo::SubmitQueued() {
  if (queued_ == 0) return;
  int64_t res[kMaxBatch];
  bool via_ring = false;
  if (ring_ != nullptr) {
    for (int i = 0; i < queued_; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
      io_uring_prep_write(sqe, pending_[i].fd, pending_[i].data,
                          pending_[i].len, 0);
      sqe->rw_flags = RWF_NOWAIT;
      sqe->user_data = i;
    }
    via_ring = SubmitAndCollect(ring_->ring, queued_, res);
    if (!via_ring || res[0] == -EOPNOTSUPP) {
      io_uring_queue_exit(&ring_->ring);
      ring_.reset();
      via_ring = false;
    }
  }
  for (int i = 0; i < queued_; ++i) {
    if (!via_ring) res[i] = WriteOne(pending_[i].fd, pending_[i].data,
                                     pending_[i].len);
    if (res[i] >= 0) {
      ++done_.written;
      done_.bytes += pending_[i].len;
    } else {
      ++done_.refused;
    }
  }
  queued_ = 0;
}

FrameBatchIo::WriteResult FrameBatchIo::Submit() {
  SubmitQueued();
  WriteResult r = done_;
  done_ = WriteResult{};
  return r;
}

}  // namespace emu::linkemu
