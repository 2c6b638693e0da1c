#include "controller/hosts/registration_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/reactors.h"
#include "common/transport_security.h"
#include "grpc/grpc_security_constants.h"
#include "proto/topology_names.h"

namespace emu::controller::hosts {

RegistrationServiceImpl::RegistrationServiceImpl(
    HostRegistry* hosts, std::string token, ThreadPool* pool,
    ClientFactory make_client, absl::Duration heartbeat,
    std::function<void(const std::string&)> log)
    : hosts_(hosts),
      token_(std::move(token)),
      pool_(pool),
      make_client_(std::move(make_client)),
      heartbeat_(heartbeat),
      log_(std::move(log)) {}

absl::Status RegistrationServiceImpl::Handle(
    const emu::v1::RegisterRequest& request,
    emu::v1::RegisterResponse* response, const std::string& certificate) {
  if (absl::Status name = CheckName("host", request.host()); !name.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("register: ", name.message()));
  }
  const std::string& address = request.agent_address();
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.substr(0, colon) == "0.0.0.0" ||
      address.substr(0, colon) == "[::]") {
    return absl::InvalidArgumentError(absl::StrCat(
        "register host ", request.host(), ": agent address '", address,
        "' is not a HOST:PORT the controller can dial (give the agent "
        "--advertise=ADDR:PORT)"));
  }
  auto r = hosts_->Register(
      request.host(), address, request.capabilities(), request.instance_id(),
      [&] { return make_client_(request.host(), address); }, certificate);
  if (!r.ok()) return r.status();
  if (r->new_host) {
    log_(absl::StrCat("host ", request.host(), " registered from ", address,
                      " (", request.capabilities().cpus(), " CPUs, ",
                      request.capabilities().memory_mib(), " MiB, tunnel ",
                      request.capabilities().tunnel_address().empty()
                          ? "none"
                          : request.capabilities().tunnel_address(),
                      ")"));
  } else if (r->restarted) {
    log_(absl::StrCat(
        "host ", request.host(),
        " restarted (new agent instance); its labs are re-pushed"));
  }
  response->set_heartbeat_interval_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(heartbeat_)));
  response->set_new_host(r->new_host);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RegistrationServiceImpl::Register(
    grpc::CallbackServerContext* context,
    const emu::v1::RegisterRequest* request,
    emu::v1::RegisterResponse* response) {
  // Over TLS only an agent's certificate, and only for its own host name,
  // may register (an agent cannot take another host's place).
  if (grpc::Status peer = CheckPeerRole(*context, common::pki::Role::kAgent,
                                        request->host());
      !peer.ok()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(peer);
    return reactor;
  }
  // The certificate it presented (already verified by TLS): what
  // HostRegistry::Remove retires.
  std::string certificate;
  if (const auto& auth = context->auth_context(); auth != nullptr) {
    const std::vector<grpc::string_ref> pem =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pem.empty()) certificate.assign(pem[0].data(), pem[0].size());
  }
  return OffloadUnary(
      context, token_, pool_,
      [this, request, response, certificate = std::move(certificate)] {
        return Handle(*request, response, certificate);
      });
}

}  // namespace emu::controller::hosts
