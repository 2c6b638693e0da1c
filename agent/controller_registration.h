// ControllerRegistration: an agent started with --controller registers its
// host with the controller (RegistrationService.Register: name, the address
// the controller dials, capabilities with capacity and tunnel_address, and
// an id of this agent process) and repeats the call as its heartbeat, at
// the interval the controller asks for. An unreachable controller is retried
// every kRetry; each change between reachable and not is logged once.
//
// Thread-safe. Start() runs the loop on a thread of its own; the destructor
// stops it.
#ifndef EMU_AGENT_CONTROLLER_REGISTRATION_H_
#define EMU_AGENT_CONTROLLER_REGISTRATION_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/transport_security.h"
#include "proto/registration.grpc.pb.h"

namespace emu::agent {

class ControllerRegistration {
 public:
  static constexpr absl::Duration kRetry = absl::Seconds(2);
  static constexpr absl::Duration kCallTimeout = absl::Seconds(2);

  // `request` is sent as is on every call (host, agent_address,
  // capabilities, instance_id), over `transport` (the agent's certificate;
  // the controller must present the controller's).
  ControllerRegistration(std::string controller_address, std::string token,
                         const TransportSecurity& transport,
                         emu::v1::RegisterRequest request,
                         std::function<void(const std::string&)> log);
  ~ControllerRegistration();
  ControllerRegistration(const ControllerRegistration&) = delete;
  ControllerRegistration& operator=(const ControllerRegistration&) = delete;

  // One Register call; returns how long to wait before the next.
  absl::StatusOr<absl::Duration> RegisterOnce();

  // Starts the heartbeat loop (the first call happens at once).
  void Start();

 private:
  void Loop();

  const std::string controller_address_;
  const std::string token_;
  const emu::v1::RegisterRequest request_;
  const std::function<void(const std::string&)> log_;
  std::unique_ptr<emu::v1::RegistrationService::Stub> stub_;
  absl::Notification stop_;
  std::thread thread_;
};

// The address the controller should dial: `advertise` when set, else the
// host of `listen` with the bound `port`. INVALID_ARGUMENT when that would be
// a wildcard address (0.0.0.0, [::]) nobody can dial.
absl::StatusOr<std::string> AdvertisedAddress(const std::string& listen,
                                              int port,
                                              const std::string& advertise);

// A fresh id for this agent process ("<pid>-<start time in ns>").
std::string NewInstanceId();

}  // namespace emu::agent

#endif  // EMU_AGENT_CONTROLLER_REGISTRATION_H_
