#include "agent/guest/guest_service.h"

#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "common/grpc_status.h"
#include "common/reactors.h"
#include "proto/request_names.h"
#include "common/status_macros.h"

namespace emu::agent::guest {
namespace {

using emu::v1::ConsoleInput;
using emu::v1::ConsoleOutput;

// One attached person. Reads input messages one at a time; output chunks
// from the console's reader thread are queued and written one at a time.
// Deletes itself in OnDone, after detaching from the console.
class ConsoleReactor
    : public grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput> {
 public:
  ConsoleReactor(grpc::CallbackServerContext* context, GuestManager* guests,
                 const std::string& token, ThreadPool* pool)
      : guests_(guests), pool_(pool) {
    grpc::Status auth = CheckAuthToken(*context, token);
    if (!auth.ok()) {
      FinishOnce(auth);
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client detached (half-close) or went away
      FinishOnce(grpc::Status::OK);
      return;
    }
    if (console_ == nullptr && !attaching_) {
      attaching_ = true;
      {
        absl::MutexLock lock(&mu_);
        attach_running_ = true;
      }
      std::string lab = in_.lab(), node = in_.node();
      std::string first = in_.data();
      if (absl::Status names = request_names::agent::Check(in_);
          !names.ok()) {
        {
          absl::MutexLock lock(&mu_);
          attach_running_ = false;
        }
        FinishOnce(ToGrpcStatus(names));
        return;
      }
      // Connecting may wait for the socket: not on a gRPC thread.
      pool_->Schedule([this, lab, node, first] { Attach(lab, node, first); });
      return;  // the next read starts once attached
    }
    if (console_ != nullptr && !in_.data().empty()) {
      absl::Status s = console_->Write(in_.data());
      if (!s.ok()) {
        FinishOnce(ToGrpcStatus(s));
        return;
      }
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) queue_.clear();
    }
    Pump();
  }

  void OnDone() override {
    {
      // Wait for a pool task that is still attaching.
      absl::MutexLock lock(&mu_);
      auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return !attach_running_;
      };
      mu_.Await(absl::Condition(&idle));
    }
    if (console_ != nullptr && sub_id_ != 0) console_->Unsubscribe(sub_id_);
    delete this;
  }

 private:
  void Attach(const std::string& lab, const std::string& node,
              const std::string& first) {
    auto console = guests_->ConsoleOf(lab, node);
    if (!console.ok()) {
      FinishOnce(ToGrpcStatus(console.status()));
    } else {
      console_ = *console;
      {
        // Attached: said before any output by an empty message
        // (proto/guest.proto).
        absl::MutexLock lock(&mu_);
        queue_.emplace_back();
      }
      Pump();
      sub_id_ =
          console_->Subscribe([this](absl::string_view data, bool closed) {
            // Called under the console's lock: only queue.
            {
              absl::MutexLock lock(&mu_);
              if (closed) {
                console_closed_ = true;
              } else {
                ConsoleOutput out;
                out.set_data(std::string(data));
                queue_.push_back(std::move(out));
              }
            }
            Pump();  // never blocks: at most starts one write
          });
      if (!first.empty()) (void)console_->Write(first);
      StartRead(&in_);
    }
    absl::MutexLock lock(&mu_);
    attach_running_ = false;
  }

  // Called from reactions and from the console's reader thread.
  void Pump() {
    bool write = false, finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        write = true;
      } else if (console_closed_) {
        finish = true;
      }
    }
    if (write) StartWrite(&current_);
    if (finish) {
      FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the guest's console closed (QEMU exited)"));
    }
  }

  void FinishOnce(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  GuestManager* const guests_;
  ThreadPool* const pool_;
  ConsoleInput in_;
  bool attaching_ = false;  // touched only from reactions
  std::shared_ptr<SocketConsole> console_;
  int sub_id_ = 0;
  absl::Mutex mu_;
  std::deque<ConsoleOutput> queue_ ABSL_GUARDED_BY(mu_);
  ConsoleOutput current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool console_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool attach_running_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

GuestServiceImpl::GuestServiceImpl(reconcile::Reconciler* reconciler,
                                   GuestManager* guests,
                                   const reconcile::LabSpecStore* store,
                                   std::string token, ThreadPool* pool)
    : reconciler_(reconciler),
      guests_(guests),
      store_(store),
      token_(std::move(token)),
      pool_(pool) {}

grpc::ServerBidiReactor<ConsoleInput, ConsoleOutput>* GuestServiceImpl::Console(
    grpc::CallbackServerContext* context) {
  return new ConsoleReactor(context, guests_, token_, pool_);
}

grpc::ServerUnaryReactor* GuestServiceImpl::RestartNode(
    grpc::CallbackServerContext* context,
    const emu::v1::RestartNodeRequest* request,
    emu::v1::RestartNodeResponse* response) {
  return OffloadUnary(context, token_, pool_, [this, request, response] {
    EMU_RETURN_IF_ERROR(request_names::agent::Check(*request));
    EMU_ASSIGN_OR_RETURN(std::string detail,
                         Restart(request->lab(), request->node()));
    response->set_detail(std::move(detail));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> GuestServiceImpl::Restart(const std::string& lab,
                                                      const std::string& node) {
  auto spec = store_->Load(lab);
  const emu::v1::Node* found = nullptr;
  if (spec.ok()) {
    for (const auto& n : spec->nodes()) {
      if (n.name() == node && GuestManager::IsGuest(n)) found = &n;
    }
  }
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "node ", node, " of lab ", lab,
        " is not a QEMU guest on this host (restart applies to guests)"));
  }
  absl::Time t0 = absl::Now();
  std::string reason;
  if (guests_->Has(lab, node)) {
    EMU_ASSIGN_OR_RETURN(reason, guests_->Kill(lab, node));
  }
  EMU_RETURN_IF_ERROR(
      reconciler_->Apply(*spec, [](const emu::v1::ApplyLabEvent&) {}));
  for (const auto& line : found->exec()) {
    emu::v1::ExecRequest req;
    req.set_lab(lab);
    req.set_node(node);
    req.add_argv("/bin/sh");
    req.add_argv("-c");
    req.add_argv(line);
    EMU_ASSIGN_OR_RETURN(emu::v1::ExecResponse r, reconciler_->Exec(req));
    if (r.exit_code() != 0) {
      return absl::InternalError(
          absl::StrCat("guest ", node, " restarted, but its exec line '", line,
                       "' exited ", r.exit_code(), ": ", r.stderr()));
    }
  }
  return absl::StrCat(
      "guest ", node, " restarted: ready in ",
      absl::FormatDuration(
          absl::Trunc(absl::Now() - t0, absl::Milliseconds(1))),
      reason.empty() ? "" : absl::StrCat(" (it had exited: ", reason, ")"));
}

}  // namespace emu::agent::guest
