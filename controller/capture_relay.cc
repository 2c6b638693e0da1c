#include "controller/capture_relay.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "controller/users/lab_access.h"
#include "proto/request_names.h"

namespace emu::controller {
namespace {

class CaptureRelay : public grpc::ServerWriteReactor<emu::v1::CaptureChunk> {
 public:
  CaptureRelay(grpc::CallbackServerContext* context,
               emu::v1::CaptureRequest request, lab::LabManager* labs,
               users::UserDirectory* users, ThreadPool* pool,
               std::atomic<int>* active)
      : request_(std::move(request)),
        labs_(labs),
        users_(users),
        active_(active) {
    Caller caller;
    grpc::Status auth = users_->Authenticate(*context, &caller);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    if (active_->fetch_add(1) >= kMaxCaptures) {
      Finish(ToGrpcStatus(absl::ResourceExhaustedError(absl::StrCat(
          "capture: ", kMaxCaptures,
          " captures run on this controller already; end one first"))));
      return;
    }
    counted_ = true;
    pool->Schedule([this, caller = std::move(caller)] { Run(caller); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) Broken();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    Broken();
  }

  void OnDone() override {
    if (counted_) active_->fetch_sub(1);
    delete this;
  }

 private:
  void Broken() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    broken_ = true;
    cancel_.Cancel();
  }

  void Run(const Caller& caller) {
    absl::Status s = Relay(caller);
    {
      // The last write must be done before Finish.
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](bool* writing) { return !*writing; }, &writing_));
    }
    Finish(ToGrpcStatus(s));  // `this` may be gone after this
  }

  absl::Status Relay(const Caller& caller) {
    EMU_RETURN_IF_ERROR(request_names::controller::Check(request_));
    EMU_ASSIGN_OR_RETURN(
        users::LabRef ref,
        users_->Authorize(caller, request_.lab(), users::Verb::kExec));
    emu::v1::CaptureRequest keyed = request_;
    keyed.set_lab(ref.key);
    const std::string what = absl::StrCat("capture ", ref.key, " ",
                                          request_.node(), ":",
                                          request_.interface());
    Log(what, " by ", caller.name);
    uint64_t packets = 0;
    absl::Status s = labs_->Capture(
        keyed, &cancel_, [this, &packets](const emu::v1::CaptureChunk& c) {
          absl::MutexLock lock(&mu_);
          // One write at a time: wait for the caller to take the last one.
          mu_.Await(absl::Condition(this, &CaptureRelay::CanWrite));
          if (broken_) return;
          current_ = c;
          packets = c.packets();
          writing_ = true;
          StartWrite(&current_);
        });
    Log(what, ": ", s.ok() ? "ended" : s.ToString(), " (", packets,
        " frames relayed)");
    return users::InCallerTerms(s, ref);
  }

  bool CanWrite() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !writing_ || broken_;
  }

  const emu::v1::CaptureRequest request_;
  lab::LabManager* const labs_;
  users::UserDirectory* const users_;
  std::atomic<int>* const active_;
  bool counted_ = false;
  hosts::CallCanceller cancel_;

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  emu::v1::CaptureChunk current_;  // owned by the write in flight
};

}  // namespace

grpc::ServerWriteReactor<emu::v1::CaptureChunk>* StartCaptureRelay(
    grpc::CallbackServerContext* context,
    const emu::v1::CaptureRequest& request, lab::LabManager* labs,
    users::UserDirectory* users, ThreadPool* pool, std::atomic<int>* active) {
  return new CaptureRelay(context, request, labs, users, pool, active);
}

}  // namespace emu::controller
