// The controller's end of the barrier streams: one BarrierAgentService
// Session per host of a run, driven by a gRPC client callback reactor (no
// thread per host). Messages are queued and written in order; what the
// agent sends arrives through callbacks on gRPC's threads.
//
// An interface, so the experiment runner's tests use in-process fakes.
#ifndef EMU_CONTROLLER_EXPERIMENT_BARRIER_CLIENT_H_
#define EMU_CONTROLLER_EXPERIMENT_BARRIER_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/barrier.grpc.pb.h"

namespace emu::controller::experiment {

// One open Session. Thread-safe. The destructor closes the stream if it is
// still open (bounded: it aborts after a few seconds) and returns only once
// no callback of it runs any more.
class BarrierLink {
 public:
  // Called once the stream (the first message written is the Hello).
  virtual ~BarrierLink() = default;
  // Queues `msg`; never blocks. Dropped once the stream has ended.
  virtual void Send(const emu::v1::BarrierToAgent& msg) = 0;
  // Half-closes the stream (the agent then kills what is still running and
  // finishes) without waiting. Idempotent.
  virtual void StartClose() = 0;
  // Waits until the stream has ended or `deadline` passes; true if ended.
  virtual bool WaitClosed(absl::Time deadline) = 0;
  // Ends the stream at once (cancels the call); the stream has ended when
  // this returns. Idempotent.
  virtual void Abort() = 0;
  // StartClose, then WaitClosed for a few seconds, then Abort.
  void Close() {
    StartClose();
    if (!WaitClosed(absl::Now() + absl::Seconds(5))) Abort();
  }
};

// Closes every link in parallel: half-closes them all, waits once, until
// `deadline` for all of them, then aborts those still open.
void CloseAll(const std::vector<BarrierLink*>& links, absl::Time deadline);

struct BarrierLinkCallbacks {
  // Each message from the agent, in order. Must not block.
  std::function<void(const emu::v1::AgentToBarrier&)> on_message;
  // The stream ended before Close() (agent gone, network, auth): why.
  // Called at most once. Must not block.
  std::function<void(const std::string& why)> on_lost;
};

class BarrierLinkFactory {
 public:
  virtual ~BarrierLinkFactory() = default;
  virtual std::unique_ptr<BarrierLink> Open(
      const std::string& host, const std::string& address,
      const emu::v1::BarrierToAgent::Hello& hello,
      BarrierLinkCallbacks callbacks) = 0;
};

// Opens real gRPC streams with the cluster token. Thread-safe.
class GrpcBarrierLinkFactory : public BarrierLinkFactory {
 public:
  GrpcBarrierLinkFactory(std::string token, TransportSecurity transport)
      : token_(std::move(token)), transport_(std::move(transport)) {}
  std::unique_ptr<BarrierLink> Open(const std::string& host,
                                    const std::string& address,
                                    const emu::v1::BarrierToAgent::Hello& hello,
                                    BarrierLinkCallbacks callbacks) override;

 private:
  const std::string token_;
  const TransportSecurity transport_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_BARRIER_CLIENT_H_
