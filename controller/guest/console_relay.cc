#include "controller/guest/console_relay.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "proto/request_names.h"

namespace emu::controller::guest {

void ConsoleRelayCount::Add() {
  absl::MutexLock lock(&mu_);
  ++running_;
}

void ConsoleRelayCount::Remove() {
  absl::MutexLock lock(&mu_);
  --running_;
}

int ConsoleRelayCount::running() const {
  absl::MutexLock lock(&mu_);
  return running_;
}

bool ConsoleRelayCount::WaitForNone(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](const int* n) { return *n == 0; }, &running_),
      timeout);
}

namespace {

using emu::v1::ConsoleInput;
using emu::v1::ConsoleOutput;

// One relayed console. Three objects:
//   CallerSide, the server reactor of the caller's call;
//   AgentSide, the client reactor of the agent's call;
//   Relay, what they share (state, buffers, the agent's ClientContext).
// Each reactor holds a shared_ptr to the Relay and deletes itself in its
// own OnDone, which gRPC calls last and never touches the reactor after;
// the resolver's pool task holds one too while it runs. So the Relay, with
// every buffer an operation writes into and the agent's ClientContext,
// lives until both calls are done and the resolver has returned.
//
// What makes the reactors' lifetimes right is when operations are started
// (gRPC's callback rules):
//  - The caller's stream (a server reactor has no holds) may take an
//    operation only before Finish: after Finish its OnDone may run as soon
//    as the pending operations complete, and the stream is gone. Every
//    StartRead/StartWrite on it runs with `mu_` held and only while
//    `finish_called_` is false; Finish is called after `finish_called_` is
//    set under `mu_`, so every operation started on it has been started
//    before Finish. Finish waits for a write in flight (one write at a
//    time, Finish being the last).
//  - The agent's stream (a client reactor) gets its reads and writes from
//    the caller's reactions, outside its own: each flow is covered by a
//    hold (AddMultipleHolds(2) before StartCall: the write flow, caller ->
//    agent, and the read flow, agent -> caller). Every StartWrite,
//    StartWritesDone and StartRead on it runs with `mu_` held and only
//    while its flow's flag is set; a flow is closed by clearing the flag
//    under `mu_` and only then calling RemoveHold, so no operation is ever
//    started once its hold is gone (OnDone, and the stream's end, can come
//    only after both holds are removed).
//  - The gRPC calls that may complete things (Finish, RemoveHold, TryCancel)
//    run with `mu_` released; Start* calls never run a reaction inline
//    (their tags are not inlineable), so holding `mu_` across them cannot
//    deadlock with a reaction that takes it.
//
// Flows, one message in flight each way:
//   caller read -> agent write -> (done) -> caller read ...
//   agent read -> caller write -> (done) -> agent read ...
class Relay;

class CallerSide
    : public grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput> {
 public:
  CallerSide(grpc::CallbackServerContext* context, const Authenticator& auth,
             ThreadPool* pool, ConsoleResolver resolve,
             ConsoleRelayCount* count);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  std::shared_ptr<Relay> relay_;
};

class AgentSide : public grpc::ClientBidiReactor<ConsoleInput, ConsoleOutput> {
 public:
  explicit AgentSide(std::shared_ptr<Relay> relay)
      : relay_(std::move(relay)) {}

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& s) override;

 private:
  std::shared_ptr<Relay> relay_;
};

// Counts a relay from its construction to the very end of its destruction.
// The Relay's first member, hence destroyed last: after the agent's context
// and stub, so that a relay counted as ended holds no call nor channel (a
// channel whose last reference went on gRPC's callback thread once the
// waiter had torn the rest down would shut gRPC's shared callback queue
// down from that very thread).
class Counted {
 public:
  explicit Counted(ConsoleRelayCount* count) : count_(count) {
    if (count_ != nullptr) count_->Add();
  }
  ~Counted() {
    if (count_ != nullptr) count_->Remove();
  }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;

 private:
  ConsoleRelayCount* const count_;
};

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  Relay(ThreadPool* pool, ConsoleResolver resolve, ConsoleRelayCount* count)
      : counted_(count), pool_(pool), resolve_(std::move(resolve)) {}

  // From CallerSide's constructor.
  void Begin(CallerSide* caller, grpc::Status auth, Caller who) {
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      caller_ = caller;
      caller_id_ = std::move(who);
      if (auth.ok()) {
        StartCallerReadLocked();
        return;
      }
      if (!DecideFinishLocked(auth, &finish)) return;
    }
    caller->Finish(finish);
  }

  // The caller's stream.
  void CallerReadDone(bool ok) {
    bool resolve = false;
    ConsoleInput first;
    CallerSide* finish_caller = nullptr;
    grpc::Status finish;
    bool writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      if (phase_ == Phase::kHello) {
        // !ok: gone, or detached before naming anything.
        absl::Status names = ok ? request_names::controller::Check(in_)
                                : absl::OkStatus();
        if (!ok || !names.ok() || cancelled_) {
          phase_ = Phase::kEnded;
          grpc::Status s = ToGrpcStatus(names);
          if (cancelled_) {
            s = grpc::Status(grpc::StatusCode::CANCELLED,
                             "the caller went away");
          }
          finish_caller = caller_;
          if (!DecideFinishLocked(s, &finish)) finish_caller = nullptr;
        } else {
          phase_ = Phase::kResolving;
          resolve = true;
          first = in_;
        }
      } else if (!ok) {
        // The caller detached (half-close) or went away: no more input.
        writes_done = CloseAgentWritesLocked(/*writes_done=*/true);
      } else if (agent_writes_open_) {
        if (in_.data().empty()) {
          StartCallerReadLocked();
        } else {
          to_agent_.Clear();
          to_agent_.set_data(std::move(*in_.mutable_data()));
          agent_->StartWrite(&to_agent_);
        }
      }
      // Else the agent's stream is ending: the input is dropped, and the
      // agent's OnDone finishes the call.
    }
    if (finish_caller != nullptr) finish_caller->Finish(finish);
    if (writes_done) RemoveAgentHold();
    if (resolve) {
      pool_->Schedule(
          [self = shared_from_this(), first = std::move(first)] {
            self->Resolve(first);
          });
    }
  }

  void CallerWriteDone(bool ok) {
    CallerSide* finish_caller = nullptr;
    grpc::Status finish;
    bool close_reads = false;
    {
      absl::MutexLock lock(&mu_);
      caller_writing_ = false;
      if (finish_wanted_) {
        // Finish was asked for while this write was in flight.
        finish_called_ = true;
        finish = pending_status_;
        finish_caller = caller_;
      }
      if (finish_called_ || !ok) {
        // No more output for the caller: the read flow ends (the caller
        // gone, its outstanding read fails too, which closes the writes).
        close_reads = CloseAgentReadsLocked();
      } else if (agent_reads_open_) {
        agent_->StartRead(&from_agent_);
      }
    }
    if (finish_caller != nullptr) finish_caller->Finish(finish);
    if (close_reads) RemoveAgentHold();
  }

  void CallerCancelled() {
    CallerSide* finish_caller = nullptr;
    grpc::Status finish;
    bool cancel_agent = false;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      switch (phase_) {
        case Phase::kHello:  // its read fails; finish now all the same
          phase_ = Phase::kEnded;
          if (DecideFinishLocked(grpc::Status(grpc::StatusCode::CANCELLED,
                                              "the caller went away"),
                                 &finish)) {
            finish_caller = caller_;
          }
          break;
        case Phase::kResolving:  // Resolve sees cancelled_ and finishes
        case Phase::kEnded:
          break;
        case Phase::kRelaying:
          // The agent's stream ends (its OnDone finishes this call) even if
          // the agent stopped reading. The context is the Relay's, alive
          // as long as this.
          cancel_agent = !agent_done_;
          break;
      }
    }
    if (finish_caller != nullptr) finish_caller->Finish(finish);
    if (cancel_agent) agent_context_.TryCancel();
  }

  void CallerDone() {
    absl::MutexLock lock(&mu_);
    caller_ = nullptr;  // never used after Finish; cleared for clarity
  }

  // The agent's stream.
  void AgentWriteDone(bool ok) {
    bool close_writes = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        // The agent's stream broke: its OnDone brings the status.
        close_writes = CloseAgentWritesLocked(/*writes_done=*/false);
      } else if (agent_writes_open_) {
        StartCallerReadLocked();  // the next input, if the call goes on
      }
    }
    if (close_writes) RemoveAgentHold();
  }

  void AgentReadDone(bool ok) {
    int holds = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        // The agent is ending its stream (its OnDone brings the status):
        // nothing more to read, nor to type into it.
        holds += CloseAgentReadsLocked();
        holds += CloseAgentWritesLocked(/*writes_done=*/false);
      } else if (finish_called_ || finish_wanted_) {
        holds += CloseAgentReadsLocked();
      } else {
        to_caller_ = std::move(from_agent_);
        from_agent_.Clear();
        caller_writing_ = true;
        caller_->StartWrite(&to_caller_);
      }
    }
    for (int i = 0; i < holds; ++i) RemoveAgentHold();
  }

  void AgentDone(const grpc::Status& s) {
    CallerSide* finish_caller = nullptr;
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      agent_done_ = true;
      agent_ = nullptr;  // deleted by its OnDone, which called this
      grpc::Status status = s;
      if (!s.ok()) {
        status = grpc::Status(s.error_code(), absl::StrCat("host ", host_, ": ",
                                                           s.error_message()));
      }
      if (DecideFinishLocked(status, &finish)) finish_caller = caller_;
    }
    if (finish_caller != nullptr) finish_caller->Finish(finish);
  }

 private:
  enum class Phase { kHello, kResolving, kRelaying, kEnded };

  // On the pool: authorize, find the agent, start its stream.
  void Resolve(const ConsoleInput& first) {
    absl::StatusOr<ConsoleTarget> target = resolve_(caller_id_, first);
    CallerSide* finish_caller = nullptr;
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      grpc::Status refused;
      if (!target.ok()) {
        refused = ToGrpcStatus(target.status());
      } else if (cancelled_) {
        refused = grpc::Status(grpc::StatusCode::CANCELLED,
                               "the caller went away");
      }
      if (!refused.ok()) {
        phase_ = Phase::kEnded;
        if (DecideFinishLocked(refused, &finish)) finish_caller = caller_;
      } else {
        phase_ = Phase::kRelaying;
        host_ = target->host;
        stub_ = std::move(target->stub);
        AddAuthToken(&agent_context_, target->token);
        hello_ = std::move(target->hello);
        agent_ = new AgentSide(shared_from_this());  // deletes itself
        stub_->async()->Console(&agent_context_, agent_);
        // Both flows start from the caller's reactions, outside the
        // agent's: one hold each, removed when the flow closes.
        agent_->AddMultipleHolds(2);
        agent_writes_open_ = true;
        agent_reads_open_ = true;
        agent_->StartWrite(&hello_);  // its completion starts the caller's reads
        agent_->StartRead(&from_agent_);
        agent_->StartCall();
      }
    }
    if (finish_caller != nullptr) finish_caller->Finish(finish);
  }

  // Starts the next read of the caller's input, unless the call is being
  // finished.
  void StartCallerReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_ || finish_wanted_) return;
    caller_->StartRead(&in_);
  }

  // Whether the caller must call Finish(*out) now (with mu_ released):
  // once per call, and not while a write to the caller is in flight (its
  // OnWriteDone finishes then).
  bool DecideFinishLocked(const grpc::Status& status, grpc::Status* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_ || finish_wanted_) return false;
    if (caller_writing_) {
      finish_wanted_ = true;
      pending_status_ = status;
      return false;
    }
    finish_called_ = true;
    *out = status;
    return true;
  }

  // Closes the write flow to the agent (with `writes_done`, half-closing
  // its stream: only from the caller's failed read, when no write to the
  // agent is in flight since the caller's reads and the agent's writes
  // alternate). True when the caller must call RemoveAgentHold.
  bool CloseAgentWritesLocked(bool writes_done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!agent_writes_open_) return false;
    agent_writes_open_ = false;
    if (writes_done) agent_->StartWritesDone();
    return true;
  }

  // Closes the read flow from the agent. True when the caller must call
  // RemoveAgentHold.
  bool CloseAgentReadsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!agent_reads_open_) return false;
    agent_reads_open_ = false;
    return true;
  }

  // Removes one of the two holds, after its flow was closed under `mu_`.
  // The agent's OnDone cannot run before both are removed, so `agent_` is
  // valid here; after the second it may be gone.
  void RemoveAgentHold() {
    AgentSide* agent;
    {
      absl::MutexLock lock(&mu_);
      agent = agent_;
    }
    agent->RemoveHold();
  }

  const Counted counted_;  // first: destroyed last
  ThreadPool* const pool_;
  const ConsoleResolver resolve_;

  // Buffers, each owned by the one operation that uses it at a time.
  ConsoleInput in_;           // caller -> relay
  ConsoleInput to_agent_;     // relay -> agent
  ConsoleInput hello_;        // the agent's first message
  ConsoleOutput from_agent_;  // agent -> relay
  ConsoleOutput to_caller_;   // relay -> caller

  // Set under mu_ by Resolve before the agent's stream starts.
  std::string host_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<emu::v1::GuestService::StubInterface> stub_
      ABSL_GUARDED_BY(mu_);
  // The agent's call's context: the Relay's, so that it outlives the call
  // (AgentSide's OnDone) and TryCancel is safe at any time.
  grpc::ClientContext agent_context_;

  absl::Mutex mu_;
  Caller caller_id_;  // set once in Begin, before any reaction
  CallerSide* caller_ ABSL_GUARDED_BY(mu_) = nullptr;
  AgentSide* agent_ ABSL_GUARDED_BY(mu_) = nullptr;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kHello;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool agent_writes_open_ ABSL_GUARDED_BY(mu_) = false;  // hold 1
  bool agent_reads_open_ ABSL_GUARDED_BY(mu_) = false;   // hold 2
  bool agent_done_ ABSL_GUARDED_BY(mu_) = false;
  bool caller_writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_wanted_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status pending_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
};

CallerSide::CallerSide(grpc::CallbackServerContext* context,
                       const Authenticator& auth, ThreadPool* pool,
                       ConsoleResolver resolve, ConsoleRelayCount* count)
    : relay_(std::make_shared<Relay>(pool, std::move(resolve), count)) {
  Caller who;
  grpc::Status s = auth.Authenticate(*context, &who);
  relay_->Begin(this, s, std::move(who));
}

void CallerSide::OnReadDone(bool ok) { relay_->CallerReadDone(ok); }
void CallerSide::OnWriteDone(bool ok) { relay_->CallerWriteDone(ok); }
void CallerSide::OnCancel() { relay_->CallerCancelled(); }
void CallerSide::OnDone() {
  relay_->CallerDone();
  delete this;
}

void AgentSide::OnWriteDone(bool ok) { relay_->AgentWriteDone(ok); }
void AgentSide::OnReadDone(bool ok) { relay_->AgentReadDone(ok); }
void AgentSide::OnDone(const grpc::Status& s) {
  relay_->AgentDone(s);
  delete this;
}

}  // namespace

grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput>* StartConsoleRelay(
    grpc::CallbackServerContext* context, const Authenticator& auth,
    ThreadPool* pool, ConsoleResolver resolve, ConsoleRelayCount* count) {
  return new CallerSide(context, auth, pool, std::move(resolve), count);
}

}  // namespace emu::controller::guest
