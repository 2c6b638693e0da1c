#include "controller/experiment/barrier_client.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "grpcpp/grpcpp.h"

namespace emu::controller::experiment {
namespace {

using emu::v1::AgentToBarrier;
using emu::v1::BarrierToAgent;

// gRPC's rules for a client reactor, which this class follows:
// - An operation started from outside a reaction (Send, StartClose on the
//   runner's thread) needs a hold: without one, gRPC may run OnDone and free
//   the stream between our check and the Start call. The link holds one
//   hold from construction until the owner can start no more operations:
//   when StartClose has issued its last operation, or when the stream's read
//   side ended (the agent went away) and no outside operation is in flight.
// - OnDone is the last callback; after it nothing touches the stream.
//   `stream_done_` is set first thing in OnDone, so no operation starts
//   after it; `callbacks_done_` is set last, and the destructor waits for
//   it, so the object outlives every callback.
class GrpcBarrierLink
    : public BarrierLink,
      public grpc::ClientBidiReactor<BarrierToAgent, AgentToBarrier> {
 public:
  GrpcBarrierLink(const std::string& host, const std::string& address,
                  const std::string& token, const TransportSecurity& transport,
                  const BarrierToAgent::Hello& hello,
                  BarrierLinkCallbacks callbacks)
      : host_(host), address_(address), callbacks_(std::move(callbacks)) {
    grpc::ChannelArguments args;
    // A channel of its own: the stream's writes never queue behind another
    // call's big messages.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    channel_ = NewChannel(transport, address, host, args);
    stub_ = emu::v1::BarrierAgentService::NewStub(channel_);
    if (!token.empty()) {
      context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    current_.mutable_hello()->CopyFrom(hello);
    writing_ = true;
    stub_->async()->Session(&context_, this);
    AddHold();  // released by ReleaseHoldIfIdle
    StartWrite(&current_);
    StartRead(&in_);
    StartCall();
  }

  ~GrpcBarrierLink() override {
    StartClose();
    if (!WaitClosed(absl::Now() + absl::Seconds(5))) Abort();
  }

  void Send(const BarrierToAgent& msg) override {
    {
      absl::MutexLock lock(&mu_);
      if (!CanStartLocked()) return;
      if (writing_) {
        queue_.push_back(msg);
        return;
      }
      writing_ = true;
      current_ = msg;
      ++outside_ops_;
    }
    StartWrite(&current_);
    FinishOutsideOp(true);
  }

  void StartClose() override {
    bool issue = false;
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      // If a write is in flight, its OnWriteDone starts the WritesDone
      // (inside a reaction, no hold needed); if the stream is ending there is
      // nothing to half-close.
      issue = !writing_ && CanStartLocked();
      closing_ = true;
      if (issue) {
        writing_ = true;
        ++outside_ops_;
      } else {
        close_issued_ = true;
      }
    }
    if (issue) {
      StartWritesDone();
      absl::MutexLock lock(&mu_);
      close_issued_ = true;
    }
    FinishOutsideOp(issue);
  }

  bool WaitClosed(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithDeadline(absl::Condition(&callbacks_done_), deadline);
  }

  void Abort() override {
    // gRPC runs OnDone after TryCancel once no hold is left: ours is gone
    // once StartClose returned.
    StartClose();
    context_.TryCancel();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&callbacks_done_));
  }

  void OnWriteDone(bool ok) override {
    bool next = false, writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok || stream_done_) {
        queue_.clear();
        return;
      }
      // What was queued before StartClose still goes (End, at a run's
      // end), then the half-close.
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        next = true;
      } else if (closing_) {
        writing_ = true;
        writes_done = true;
      }
    }
    if (next) StartWrite(&current_);
    if (writes_done) StartWritesDone();
  }

  void OnWritesDoneDone(bool ok) override { (void)ok; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The stream is ending: the owner may start nothing more on it.
      bool release;
      {
        absl::MutexLock lock(&mu_);
        read_ended_ = true;
        release = ReleaseHoldIfIdleLocked();
      }
      if (release) RemoveHold();
      return;
    }
    if (callbacks_.on_message) callbacks_.on_message(in_);
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& status) override {
    bool lost;
    {
      absl::MutexLock lock(&mu_);
      stream_done_ = true;
      lost = !closing_;
    }
    if (lost && callbacks_.on_lost) {
      callbacks_.on_lost(absl::StrCat(
          "barrier stream to host ", host_, " (", address_, ") ended: ",
          status.ok() ? std::string("the agent closed it")
                      : absl::StrCat(status.error_code(), " ",
                                     status.error_message())));
    }
    absl::MutexLock lock(&mu_);
    callbacks_done_ = true;
  }

 private:
  bool CanStartLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !stream_done_ && !read_ended_ && !closing_ && !hold_released_;
  }

  // True (once) when the hold must go: no outside operation is in flight and
  // none can start any more.
  bool ReleaseHoldIfIdleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (hold_released_ || outside_ops_ > 0) return false;
    if (!close_issued_ && !read_ended_) return false;
    hold_released_ = true;
    return true;
  }

  // `started`: this thread had counted an operation in outside_ops_.
  void FinishOutsideOp(bool started) {
    bool release;
    {
      absl::MutexLock lock(&mu_);
      if (started) --outside_ops_;
      release = ReleaseHoldIfIdleLocked();
    }
    if (release) RemoveHold();
  }

  const std::string host_;
  const std::string address_;
  const BarrierLinkCallbacks callbacks_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<emu::v1::BarrierAgentService::Stub> stub_;
  grpc::ClientContext context_;
  AgentToBarrier in_;
  BarrierToAgent current_;  // owned by the write in flight

  absl::Mutex mu_;
  std::deque<BarrierToAgent> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool close_issued_ ABSL_GUARDED_BY(mu_) = false;
  bool read_ended_ ABSL_GUARDED_BY(mu_) = false;
  int outside_ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_done_ ABSL_GUARDED_BY(mu_) = false;
  bool callbacks_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

void CloseAll(const std::vector<BarrierLink*>& links, absl::Time deadline) {
  for (BarrierLink* link : links) link->StartClose();
  for (BarrierLink* link : links) {
    if (!link->WaitClosed(deadline)) link->Abort();
  }
}

std::unique_ptr<BarrierLink> GrpcBarrierLinkFactory::Open(
    const std::string& host, const std::string& address,
    const BarrierToAgent::Hello& hello, BarrierLinkCallbacks callbacks) {
  return std::make_unique<GrpcBarrierLink>(host, address, token_, transport_,
                                           hello, std::move(callbacks));
}

}  // namespace emu::controller::experiment
