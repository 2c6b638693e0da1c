#include "agent/capture/capture_stream.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/capture/capture_session.h"
#include "common/grpc_status.h"
#include "common/log.h"

namespace emu::agent::capture {
namespace {

// pcapng bytes per message, about: big enough to keep a fast link's
// frames moving, far below the 64 MiB message limit.
constexpr size_t kChunkBytes = 256 << 10;

class CaptureStream : public grpc::ServerWriteReactor<emu::v1::CaptureChunk> {
 public:
  CaptureStream(emu::v1::CaptureRequest request, CaptureStreamDeps deps)
      : request_(std::move(request)), deps_(std::move(deps)) {
    what_ = absl::StrCat("capture ", request_.lab(), " ", request_.node(), ":",
                         request_.interface());
    deps_.pool->Schedule([this] { Open(); });
  }

  ~CaptureStream() override {
    // The session's thread may still notify: stop it while mu_ lives.
    std::unique_ptr<CaptureSession> session;
    {
      absl::MutexLock lock(&mu_);
      session = std::move(session_);
    }
    session.reset();
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) broken_ = true;
    }
    Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      broken_ = true;
    }
    Pump();
  }

  void OnDone() override {
    Log(what_, ": ended (", packets_, " frames, ", dropped_emu_,
        " dropped by emu, ", dropped_kernel_, " by the kernel)");
    delete this;
  }

 private:
  // On the pool: the open joins the node's namespace.
  void Open() {
    absl::Status failed;
    auto target = deps_.resolve(request_);
    if (!target.ok()) {
      failed = target.status();
    } else {
      auto source = deps_.opener->Open(*target);
      if (!source.ok()) {
        failed = source.status();
      } else {
        CaptureSession::Options o;
        o.max_packets = request_.max_packets();
        o.application = "emu";
        o.interface_label =
            absl::StrCat(request_.node(), ":", request_.interface());
        o.filter = request_.filter();
        absl::MutexLock lock(&mu_);
        if (!broken_) {
          session_ = std::make_unique<CaptureSession>(
              *std::move(source), o, [this] { Pump(); });
          Log(what_, ": started",
              request_.filter().empty() ? ""
                                        : absl::StrCat(" (", request_.filter(),
                                                       ")"));
        }
      }
    }
    {
      absl::MutexLock lock(&mu_);
      opened_ = true;
      open_status_ = failed;
    }
    Pump();
  }

  // Writes the next chunk, or finishes. Called from gRPC's reactions, the
  // session's thread and the pool; never blocks.
  void Pump() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || writing_ || !opened_) return;
      if (broken_) {
        // The session stops in the destructor (OnDone), on a gRPC thread:
        // Pump also runs on the session's own thread, which cannot join
        // itself.
        finished_ = true;
        finish = grpc::Status(grpc::StatusCode::CANCELLED,
                              what_ + ": the caller went away");
        action = kFinish;
      } else if (!open_status_.ok() || session_ == nullptr) {
        finished_ = true;
        finish = ToGrpcStatus(open_status_.ok()
                                  ? absl::CancelledError(what_)
                                  : open_status_);
        action = kFinish;
      } else if (session_->HasNews()) {
        CaptureSession::Chunk c = session_->Take(kChunkBytes);
        current_.Clear();
        current_.set_pcapng(std::move(c.pcapng));
        current_.set_packets(packets_ = c.packets);
        current_.set_dropped_by_emu(dropped_emu_ = c.dropped_by_emu);
        current_.set_dropped_by_kernel(dropped_kernel_ = c.dropped_by_kernel);
        current_.set_last(c.ended);
        if (first_) current_.set_host(deps_.host);
        first_ = false;
        if (c.ended) {
          end_status_ = ToGrpcStatus(c.status);
          ended_ = true;
        }
        writing_ = true;
        action = kWrite;
      } else if (ended_) {
        finished_ = true;
        finish = end_status_;
        action = kFinish;
      }
    }
    if (action == kWrite) StartWrite(&current_);
    if (action == kFinish) Finish(finish);
  }

  const emu::v1::CaptureRequest request_;
  const CaptureStreamDeps deps_;
  std::string what_;

  absl::Mutex mu_;
  std::unique_ptr<CaptureSession> session_ ABSL_GUARDED_BY(mu_);
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status open_status_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool first_ ABSL_GUARDED_BY(mu_) = true;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status end_status_ ABSL_GUARDED_BY(mu_);
  emu::v1::CaptureChunk current_;  // owned by the write in flight
  uint64_t packets_ = 0, dropped_emu_ = 0, dropped_kernel_ = 0;
};

}  // namespace

grpc::ServerWriteReactor<emu::v1::CaptureChunk>* StartCaptureStream(
    const emu::v1::CaptureRequest& request, const CaptureStreamDeps& deps) {
  return new CaptureStream(request, deps);
}

}  // namespace emu::agent::capture
