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

#include "proto/barrier.grpc.pb.h"

namespace emu::controller::experiment {

// One open Session. Thread-safe.
class BarrierLink {
 public:
  // Called once the stream (the first message written is the Hello).
  virtual ~BarrierLink() = default;
  // Queues `msg`; never blocks. Dropped once the stream has ended.
  virtual void Send(const emu::v1::BarrierToAgent& msg) = 0;
  // Half-closes the stream (the agent then kills what is still running and
  // finishes) and waits up to a few seconds for it to end. Idempotent.
  virtual void Close() = 0;
};

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
  explicit GrpcBarrierLinkFactory(std::string token)
      : token_(std::move(token)) {}
  std::unique_ptr<BarrierLink> Open(const std::string& host,
                                    const std::string& address,
                                    const emu::v1::BarrierToAgent::Hello& hello,
                                    BarrierLinkCallbacks callbacks) override;

 private:
  const std::string token_;
};

}  // namespace emu::controller::experiment

#endif  // EMU_CONTROLLER_EXPERIMENT_BARRIER_CLIENT_H_
