// How the controller reaches its agents' GuestService for the calls it
// relays (ControllerService.Console and RestartNode, issue 9): a stub per
// host over the controller's own transport (mutual TLS: the agent must
// present its host's certificate), with the cluster token; and which host
// runs a guest node of a lab.
#ifndef EMU_CONTROLLER_GUEST_GUEST_AGENTS_H_
#define EMU_CONTROLLER_GUEST_GUEST_AGENTS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/transport_security.h"
#include "controller/hosts/host_registry.h"
#include "proto/controller.pb.h"
#include "proto/guest.grpc.pb.h"

namespace emu::controller::guest {

// The host of node `node` of `lab` (named `lab_name` in messages, as the
// caller named it). NOT_FOUND for an unknown node, FAILED_PRECONDITION
// when it is not a qemu guest or has no host yet.
absl::StatusOr<std::string> GuestHost(const emu::v1::Lab& lab,
                                      absl::string_view lab_name,
                                      absl::string_view node);

// Thread-safe.
class GuestAgents {
 public:
  virtual ~GuestAgents() = default;
  // A stub to `host`'s GuestService. NOT_FOUND for a host the controller
  // does not know.
  virtual absl::StatusOr<std::shared_ptr<emu::v1::GuestService::StubInterface>>
  Stub(const std::string& host) = 0;
  // The token the agents accept.
  virtual const std::string& token() const = 0;
};

// Stubs over gRPC channels to the registry's addresses, one per host, made
// again when a host's address changes; a channel that failed tries again
// before its stub is handed out (common/channel_reconnect.h, as the
// controller's other calls to agents). Borrows the registry.
class GrpcGuestAgents : public GuestAgents {
 public:
  GrpcGuestAgents(const hosts::HostRegistry* hosts, std::string token,
                  TransportSecurity transport)
      : hosts_(hosts),
        token_(std::move(token)),
        transport_(std::move(transport)) {}

  absl::StatusOr<std::shared_ptr<emu::v1::GuestService::StubInterface>> Stub(
      const std::string& host) override;
  const std::string& token() const override { return token_; }

 private:
  struct Entry {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<emu::v1::GuestService::StubInterface> stub;
  };
  const hosts::HostRegistry* const hosts_;
  const std::string token_;
  const TransportSecurity transport_;
  absl::Mutex mu_;
  std::map<std::string, Entry> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace emu::controller::guest

#endif  // EMU_CONTROLLER_GUEST_GUEST_AGENTS_H_
