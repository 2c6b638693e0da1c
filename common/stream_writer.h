// A server-streaming reactor fed from another thread: a worker Push()es
// messages and Complete()s with a status; the reactor writes them one at a
// time from OnWriteDone and finishes when the queue is drained. The reactor
// deletes itself in OnDone. If the client goes away, later messages are
// dropped and the worker is not blocked.
#ifndef EMU_COMMON_STREAM_WRITER_H_
#define EMU_COMMON_STREAM_WRITER_H_

#include <deque>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"

namespace emu {

template <typename Msg>
class QueuedWriteReactor : public grpc::ServerWriteReactor<Msg> {
 public:
  // Thread-safe.
  void Push(Msg msg) {
    {
      absl::MutexLock lock(&mu_);
      if (broken_) return;
      queue_.push_back(std::move(msg));
    }
    Pump();
  }

  // Call exactly once, after the last Push. The reactor may be deleted any
  // time after this returns.
  void Complete(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      status_ = std::move(status);
    }
    Pump();
  }

  // Finishes at once (for calls rejected before any work starts).
  void Reject(grpc::Status status) { Complete(std::move(status)); }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        broken_ = true;
        queue_.clear();
      }
    }
    Pump();
  }

  void OnDone() override { delete this; }

 private:
  void Pump() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        action = kWrite;
      } else if (done_) {
        finished_ = true;
        status = status_;
        action = kFinish;
      }
    }
    if (action == kWrite) this->StartWrite(&current_);
    if (action == kFinish) this->Finish(status);
  }

  absl::Mutex mu_;
  std::deque<Msg> queue_ ABSL_GUARDED_BY(mu_);
  Msg current_;  // owned by the in-flight write
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu

#endif  // EMU_COMMON_STREAM_WRITER_H_
