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

class GrpcBarrierLink
    : public BarrierLink,
      public grpc::ClientBidiReactor<BarrierToAgent, AgentToBarrier> {
 public:
  GrpcBarrierLink(const std::string& host, const std::string& address,
                  const std::string& token, const BarrierToAgent::Hello& hello,
                  BarrierLinkCallbacks callbacks)
      : host_(host), address_(address), callbacks_(std::move(callbacks)) {
    grpc::ChannelArguments args;
    // A channel of its own: the stream's writes never queue behind another
    // call's big messages.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    channel_ = grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args);
    stub_ = emu::v1::BarrierAgentService::NewStub(channel_);
    if (!token.empty()) {
      context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
    BarrierToAgent first;
    *first.mutable_hello() = hello;
    queue_.push_back(std::move(first));
    writing_ = true;
    current_ = queue_.front();
    queue_.pop_front();
    stub_->async()->Session(&context_, this);
    StartWrite(&current_);
    StartRead(&in_);
    StartCall();
  }

  ~GrpcBarrierLink() override {
    Close();
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  void Send(const BarrierToAgent& msg) override {
    {
      absl::MutexLock lock(&mu_);
      if (done_ || closing_) return;
      if (writing_) {
        queue_.push_back(msg);
        return;
      }
      writing_ = true;
      current_ = msg;
    }
    StartWrite(&current_);
  }

  void Close() override {
    bool writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      closing_ = true;
      if (!writing_ && !done_) {
        writes_done = true;
        writing_ = true;
      }
    }
    if (writes_done) StartWritesDone();
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), absl::Seconds(5))) {
      context_.TryCancel();
    }
  }

  void OnWriteDone(bool ok) override {
    bool next = false, writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        queue_.clear();
        return;
      }
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
    if (!ok) return;
    if (callbacks_.on_message) callbacks_.on_message(in_);
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& status) override {
    bool lost;
    {
      absl::MutexLock lock(&mu_);
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
    done_ = true;
  }

 private:
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
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::unique_ptr<BarrierLink> GrpcBarrierLinkFactory::Open(
    const std::string& host, const std::string& address,
    const BarrierToAgent::Hello& hello, BarrierLinkCallbacks callbacks) {
  return std::make_unique<GrpcBarrierLink>(host, address, token_, hello,
                                           std::move(callbacks));
}

}  // namespace emu::controller::experiment
