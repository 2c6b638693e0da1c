#include "agent/controller_registration.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth.h"

namespace emu::agent {

ControllerRegistration::ControllerRegistration(
    std::string controller_address, std::string token,
    const TransportSecurity& transport, emu::v1::RegisterRequest request,
    std::function<void(const std::string&)> log)
    : controller_address_(std::move(controller_address)),
      token_(std::move(token)),
      request_(std::move(request)),
      log_(std::move(log)),
      stub_(emu::v1::RegistrationService::NewStub(
          NewChannel(transport, controller_address_,
                     common::pki::kControllerName))) {}

ControllerRegistration::~ControllerRegistration() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<absl::Duration> ControllerRegistration::RegisterOnce() {
  grpc::ClientContext context;
  AddAuthToken(&context, token_);
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  emu::v1::RegisterResponse response;
  grpc::Status s = stub_->Register(&context, request_, &response);
  if (!s.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        absl::StrCat("register with controller ", controller_address_, ": ",
                     s.error_message()));
  }
  absl::Duration next = absl::Milliseconds(response.heartbeat_interval_ms());
  if (next < absl::Milliseconds(200)) next = kRetry;
  return next;
}

void ControllerRegistration::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ControllerRegistration::Loop() {
  bool registered = false;
  std::string last_error;
  absl::Duration wait = absl::ZeroDuration();
  while (!stop_.WaitForNotificationWithTimeout(wait)) {
    auto next = RegisterOnce();
    if (next.ok()) {
      if (!registered) {
        log_(absl::StrCat("registered host ", request_.host(), " (",
                          request_.agent_address(), ") with controller ",
                          controller_address_, "; heartbeat every ",
                          absl::FormatDuration(*next)));
      }
      registered = true;
      last_error.clear();
      wait = *next;
    } else {
      std::string error(next.status().message());
      if (registered || error != last_error) {
        log_(absl::StrCat(next.status().ToString(), "; retrying every ",
                          absl::FormatDuration(kRetry)));
      }
      registered = false;
      last_error = error;
      wait = kRetry;
    }
  }
}

absl::StatusOr<std::string> AdvertisedAddress(const std::string& listen,
                                              int port,
                                              const std::string& advertise) {
  if (!advertise.empty()) return advertise;
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? "" : listen.substr(0, colon);
  if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", listen,
        " does not say where the controller can reach this agent: pass "
        "--advertise=ADDRESS:PORT"));
  }
  return absl::StrCat(host, ":", port);
}

std::string NewInstanceId() {
  return absl::StrCat(getpid(), "-", absl::ToUnixNanos(absl::Now()));
}

}  // namespace emu::agent
