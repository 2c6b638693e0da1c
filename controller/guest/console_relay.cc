#include "controller/guest/console_relay.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "proto/request_names.h"

namespace emu::controller::guest {
namespace {

using emu::v1::ConsoleInput;
using emu::v1::ConsoleOutput;

// One relayed console. The server reactor (the caller's stream) owns the
// object; AgentSide (the agent's stream) is a member whose reactions call
// back here. Deleted when the server side is done, the resolver has
// returned and the agent's stream (if it was started) is done.
//
// Ordering that keeps one message in flight each way and never two
// operations of a kind on a stream:
//   caller read -> agent write -> (done) -> caller read ...
//   agent read -> caller write -> (done) -> agent read ...
class ConsoleRelay
    : public grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput> {
 public:
  ConsoleRelay(grpc::CallbackServerContext* context, const Authenticator& auth,
               ThreadPool* pool, ConsoleResolver resolve)
      : pool_(pool), resolve_(std::move(resolve)), agent_(this) {
    grpc::Status s = auth.Authenticate(*context, &caller_);
    if (!s.ok()) {
      FinishOnce(s);
      return;
    }
    StartRead(&in_);
  }

  // The caller's stream.
  void OnReadDone(bool ok) override {
    bool hello = false;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ == Phase::kHello) {
        hello = true;
        if (ok) phase_ = Phase::kResolving;
      }
    }
    if (hello) {
      if (!ok) {  // gone, or detached before naming anything
        FinishOnce(grpc::Status::OK);
        return;
      }
      if (absl::Status names = request_names::controller::Check(in_);
          !names.ok()) {
        {
          absl::MutexLock lock(&mu_);
          phase_ = Phase::kEnded;
        }
        FinishOnce(ToGrpcStatus(names));
        return;
      }
      {
        absl::MutexLock lock(&mu_);
        resolving_ = true;
      }
      pool_->Schedule([this, first = in_] { Resolve(first); });
      return;
    }
    if (!ok) {  // the caller detached (half-close) or went away
      CloseAgentInput(/*writes_done=*/true);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (agent_input_closed_) return;  // the agent is ending: drop it
    }
    if (in_.data().empty()) {
      StartRead(&in_);
      return;
    }
    to_agent_.Clear();
    to_agent_.set_data(std::move(*in_.mutable_data()));
    agent_.StartWrite(&to_agent_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      caller_writing_ = false;
      if (finish_pending_) {
        finish_pending_ = false;
        finished_ = true;
        finish = true;
        status = pending_status_;
      }
    }
    if (finish) {
      Finish(status);  // the object may go once this is called
      return;
    }
    // The caller gone: its outstanding read fails too, which half-closes
    // the agent's stream (CloseAgentInput).
    if (!ok) return;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
    }
    agent_.StartRead(&from_agent_);
  }

  void OnCancel() override {
    bool finish_now = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      // Without an agent stream nobody else will finish the call; a
      // running resolver finishes it when it returns.
      finish_now = !agent_started_ && !resolving_;
    }
    // With an agent stream, the caller's failed read half-closes it (the
    // agent ends its stream on that): no TryCancel, which would race the
    // agent call's own end.
    if (finish_now) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED,
                              "the caller went away"));
    }
  }

  void OnDone() override { Release(Part::kServer); }

 private:
  enum class Phase { kHello, kResolving, kRelaying, kEnded };
  // What keeps the object alive: the caller's call until its OnDone, the
  // resolver while it runs, the agent's call (once started) until its
  // OnDone.
  enum class Part { kServer, kResolver, kAgent };

  class AgentSide : public grpc::ClientBidiReactor<ConsoleInput, ConsoleOutput> {
   public:
    explicit AgentSide(ConsoleRelay* relay) : relay_(relay) {}
    void OnWriteDone(bool ok) override { relay_->AgentWriteDone(ok); }
    void OnReadDone(bool ok) override { relay_->AgentReadDone(ok); }
    void OnDone(const grpc::Status& s) override { relay_->AgentDone(s); }

   private:
    ConsoleRelay* const relay_;
  };

  void Resolve(const ConsoleInput& first) {
    absl::StatusOr<ConsoleTarget> target = resolve_(caller_, first);
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled = cancelled_;
      if (target.ok() && !cancelled) {
        phase_ = Phase::kRelaying;
        agent_started_ = true;
      } else {
        phase_ = Phase::kEnded;
      }
    }
    if (!target.ok()) {
      FinishOnce(ToGrpcStatus(target.status()));
      Release(Part::kResolver);
      return;
    }
    if (cancelled) {
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED,
                              "the caller went away"));
      Release(Part::kResolver);
      return;
    }
    host_ = target->host;
    stub_ = std::move(target->stub);
    AddAuthToken(&agent_context_, target->token);
    hello_ = std::move(target->hello);
    stub_->async()->Console(&agent_context_, &agent_);
    // Held until the caller's input ends (CloseAgentInput): writes to the
    // agent start from the caller's reactions, outside the agent's.
    agent_.AddHold();
    agent_.StartWrite(&hello_);  // its completion starts the caller's reads
    agent_.StartRead(&from_agent_);
    agent_.StartCall();
    Release(Part::kResolver);
  }

  // The agent's stream.
  void AgentWriteDone(bool ok) {
    if (!ok) {  // the agent's stream broke: its OnDone brings the status
      CloseAgentInput(/*writes_done=*/false);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || agent_input_closed_) return;
    }
    StartRead(&in_);
  }

  void AgentReadDone(bool ok) {
    if (!ok) {  // the agent is ending its stream: OnDone brings the status
      CloseAgentInput(/*writes_done=*/false);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || finish_pending_) return;
      caller_writing_ = true;
    }
    to_caller_ = std::move(from_agent_);
    from_agent_.Clear();
    StartWrite(&to_caller_);
  }

  void AgentDone(const grpc::Status& s) {
    grpc::Status status = s;
    if (!s.ok()) {
      status = grpc::Status(s.error_code(),
                            absl::StrCat("host ", host_, ": ", s.error_message()));
    }
    FinishOnce(status);
    Release(Part::kAgent);
  }

  // No more writes to the agent; with `writes_done`, half-closes its stream
  // (only when no write to it is in flight: the caller's reads and the
  // agent's writes alternate). Releases the hold so that the agent's
  // stream can end.
  void CloseAgentInput(bool writes_done) {
    {
      absl::MutexLock lock(&mu_);
      if (agent_input_closed_ || !agent_started_) return;
      agent_input_closed_ = true;
    }
    if (writes_done) agent_.StartWritesDone();
    agent_.RemoveHold();
  }

  // Finishes the caller's call once; while a write to the caller is in
  // flight, from its OnWriteDone.
  void FinishOnce(const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || finish_pending_) return;
      if (caller_writing_) {
        finish_pending_ = true;
        pending_status_ = status;
        return;
      }
      finished_ = true;
    }
    Finish(status);  // the object may go once this is called
  }

  // The part's last touch of the object: the one that finds every part
  // done deletes it (each part's mark and check are one critical section,
  // so exactly one finds that).
  void Release(Part part) {
    bool last = false;
    {
      absl::MutexLock lock(&mu_);
      switch (part) {
        case Part::kServer: server_done_ = true; break;
        case Part::kResolver: resolving_ = false; break;
        case Part::kAgent: agent_done_ = true; break;
      }
      last = server_done_ && !resolving_ && (!agent_started_ || agent_done_) &&
             !deleting_;
      if (last) deleting_ = true;
    }
    if (last) delete this;
  }

  ThreadPool* const pool_;
  const ConsoleResolver resolve_;
  Caller caller_;

  // Buffers, each owned by the one operation that uses it at a time.
  ConsoleInput in_;         // caller -> relay
  ConsoleInput to_agent_;   // relay -> agent
  ConsoleInput hello_;      // the agent's first message
  ConsoleOutput from_agent_;  // agent -> relay
  ConsoleOutput to_caller_;   // relay -> caller

  // Set by Resolve before the agent's stream starts, then read-only.
  std::string host_;
  std::shared_ptr<emu::v1::GuestService::StubInterface> stub_;
  grpc::ClientContext agent_context_;
  AgentSide agent_;

  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kHello;
  bool resolving_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_started_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_input_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool caller_writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool server_done_ ABSL_GUARDED_BY(mu_) = false;
  bool deleting_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput>* StartConsoleRelay(
    grpc::CallbackServerContext* context, const Authenticator& auth,
    ThreadPool* pool, ConsoleResolver resolve) {
  return new ConsoleRelay(context, auth, pool, std::move(resolve));
}

}  // namespace emu::controller::guest
