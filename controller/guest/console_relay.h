// The controller's relay of a QEMU guest's serial console
// (ControllerService.Console, issue 9): the caller's stream is joined to
// the node's agent's GuestService.Console stream, so that emuctl needs a
// route to the controller only (emuctl --ssh reaches nothing else), and the
// agents keep accepting the controller's certificate alone.
//
// The caller is identified before anything else; the first message's names
// are checked (proto/request_names) on the gRPC thread; authorizing and
// finding the node's agent (a `ConsoleResolver`, which may touch the
// stores) runs on a ThreadPool; then both streams are driven by their
// reactions alone, no thread held. Buffers are bounded: one message in
// flight each way (the next caller message is read only when the agent has
// taken the previous one, the next agent message only when the caller has).
// Either side hanging up ends the other: the caller half-closing (detach)
// half-closes the agent's stream and the call ends with the agent's status;
// the agent ending ends the call with its status, prefixed with the host;
// the caller going away cancels the agent's stream.
#ifndef EMU_CONTROLLER_GUEST_CONSOLE_RELAY_H_
#define EMU_CONTROLLER_GUEST_CONSOLE_RELAY_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/auth.h"
#include "common/thread_pool.h"
#include "grpcpp/support/server_callback.h"
#include "proto/guest.grpc.pb.h"

namespace emu::controller::guest {

// Where a console goes: the node's agent, and what to say first.
struct ConsoleTarget {
  std::string host;  // for messages ("host h2: ...")
  std::shared_ptr<emu::v1::GuestService::StubInterface> stub;
  std::string token;  // sent to the agent as "authorization: Bearer"
  // The first message to the agent: the lab by its key, the node, and the
  // caller's first data.
  emu::v1::ConsoleInput hello;
};

// Authorizes `caller` for the console of `first`'s lab and node (already
// name-checked) and finds its agent. Called on the pool; may block.
using ConsoleResolver = std::function<absl::StatusOr<ConsoleTarget>(
    const Caller& caller, const emu::v1::ConsoleInput& first)>;

// The relays alive (a relay ends when both its calls are done and its
// resolver has returned), for whoever must wait for them to end before
// what they borrow goes (the tests' servers, channels and pool).
class ConsoleRelayCount {
 public:
  int running() const;
  // True once none runs; false after `timeout`.
  bool WaitForNone(absl::Duration timeout) const;

  // Called by each relay when it starts and when it ends.
  void Add();
  void Remove();

 private:
  mutable absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

// Starts relaying the call `context`; the reactors delete themselves when
// their calls are done. `auth`, `pool` and `count` (may be null) are
// borrowed and must outlive the relay (see ConsoleRelayCount).
grpc::ServerBidiReactor<emu::v1::ConsoleInput, emu::v1::ConsoleOutput>*
StartConsoleRelay(grpc::CallbackServerContext* context,
                  const Authenticator& auth, ThreadPool* pool,
                  ConsoleResolver resolve, ConsoleRelayCount* count = nullptr);

}  // namespace emu::controller::guest

#endif  // EMU_CONTROLLER_GUEST_CONSOLE_RELAY_H_
