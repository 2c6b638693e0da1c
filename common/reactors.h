// gRPC callback-API plumbing shared by the emu services: blocking work is
// moved off gRPC's reaction threads onto a ThreadPool, and its results (one
// message, or a stream of them) are handed back to gRPC without blocking.
#ifndef EMU_COMMON_REACTORS_H_
#define EMU_COMMON_REACTORS_H_

#include <deque>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/auth.h"
#include "common/grpc_status.h"
#include "common/thread_pool.h"
#include "grpcpp/support/server_callback.h"

namespace emu {

// For a unary call: identifies the caller through `auth` (UNAUTHENTICATED
// finishes the call at once), then runs `work(caller)` on `pool` and
// finishes the call with its status (the work fills the response itself).
inline grpc::ServerUnaryReactor* OffloadUnary(
    grpc::CallbackServerContext* context, const Authenticator& auth,
    ThreadPool* pool, std::function<absl::Status(const Caller&)> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Caller caller;
  grpc::Status status = auth.Authenticate(*context, &caller);
  if (!status.ok()) {
    reactor->Finish(status);
    return reactor;
  }
  pool->Schedule([reactor, caller = std::move(caller),
                  work = std::move(work)] {
    reactor->Finish(ToGrpcStatus(work(caller)));
  });
  return reactor;
}

// The same with the cluster token as the only credential (the agents).
inline grpc::ServerUnaryReactor* OffloadUnary(
    grpc::CallbackServerContext* context, absl::string_view token,
    ThreadPool* pool, std::function<absl::Status()> work) {
  return OffloadUnary(context, ClusterTokenAuthenticator(token), pool,
                      [work = std::move(work)](const Caller&) {
                        return work();
                      });
}

// A server-streaming reactor fed from another thread: a worker Push()es
// messages and Complete()s with a status; the reactor writes them one at a
// time from OnWriteDone and finishes when the queue is drained. The reactor
// deletes itself in OnDone. If the client goes away, later messages are
// dropped and the worker is not blocked.

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

// For a server-streaming call: identifies the caller through `auth`, then
// runs `work(caller, push)` on `pool`, streaming what it pushes, and
// finishes with its status.
template <typename Msg>
grpc::ServerWriteReactor<Msg>* OffloadStream(
    grpc::CallbackServerContext* context, const Authenticator& auth,
    ThreadPool* pool,
    std::function<absl::Status(const Caller&,
                               const std::function<void(const Msg&)>& push)>
        work) {
  auto* reactor = new QueuedWriteReactor<Msg>();
  Caller caller;
  grpc::Status status = auth.Authenticate(*context, &caller);
  if (!status.ok()) {
    reactor->Reject(status);
    return reactor;
  }
  pool->Schedule([reactor, caller = std::move(caller),
                  work = std::move(work)] {
    absl::Status s =
        work(caller, [reactor](const Msg& m) { reactor->Push(m); });
    reactor->Complete(ToGrpcStatus(s));
  });
  return reactor;
}

// The same with the cluster token as the only credential (the agents).
template <typename Msg>
grpc::ServerWriteReactor<Msg>* OffloadStream(
    grpc::CallbackServerContext* context, absl::string_view token,
    ThreadPool* pool,
    std::function<absl::Status(const std::function<void(const Msg&)>& push)>
        work) {
  return OffloadStream<Msg>(
      context, ClusterTokenAuthenticator(token), pool,
      [work = std::move(work)](const Caller&,
                               const std::function<void(const Msg&)>& push) {
        return work(push);
      });
}

}  // namespace emu

#endif  // EMU_COMMON_REACTORS_H_
