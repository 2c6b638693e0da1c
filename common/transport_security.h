// Transport security of every gRPC channel between emu's programs (issue 9,
// docs/security.md): mutual TLS with the cluster's certificates
// (common/pki), or plain text only when asked for explicitly. The one place
// that builds credentials for servers and channels, and reads a caller's
// verified identity.
//
//   agent server       requires a client certificate of the cluster CA, and
//                      only the controller's (every call, every service);
//   controller server  TLS with its certificate; a client certificate is
//                      verified when presented (agents registering), not
//                      required (emuctl: tokens identify users);
//   channels           verify the server against the cluster CA and the
//                      name it must carry (an agent's host name, or
//                      pki::kControllerName), presenting this process's
//                      certificate when it has one.
#ifndef EMU_COMMON_TRANSPORT_SECURITY_H_
#define EMU_COMMON_TRANSPORT_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/grpc_limits.h"
#include "common/pki/pki.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/channel_arguments.h"

namespace emu {

struct TransportSecurity {
  // No TLS at all (`--insecure_plaintext`): for trusted networks only.
  bool plaintext = false;
  std::string ca_pem;            // the cluster CA
  common::pki::Credentials own;  // this process's; empty for emuctl
  // The server side only: accept calls from the controller's certificate
  // alone (the agent). Otherwise a client certificate is optional.
  bool require_controller_client = false;

  static TransportSecurity Plaintext() {
    TransportSecurity t;
    t.plaintext = true;
    return t;
  }
};

// The credentials of a daemon of `role` from a PKI directory
// (common/pki's file names; `host` names the agent's files), or plain text
// when `insecure_plaintext`. FAILED_PRECONDITION naming the files and the
// two ways out when they are missing.
absl::StatusOr<TransportSecurity> LoadDaemonTransport(
    const std::string& pki_dir, common::pki::Role role,
    const std::string& host, bool insecure_plaintext);

// A client with only the CA (emuctl to the controller).
absl::StatusOr<TransportSecurity> LoadClientTransport(
    const std::string& ca_file);

// The listening port's credentials.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const TransportSecurity& transport);

// A channel to `address` whose server must present a certificate for
// `peer_name` (TLS; empty: for the host part of `address`, e.g. an agent's
// IP address). `args` defaults to the message limits.
std::shared_ptr<grpc::Channel> NewChannel(
    const TransportSecurity& transport, const std::string& address,
    const std::string& peer_name,
    grpc::ChannelArguments args = LimitedChannelArguments());

// OK when the call's peer presented a certificate of `role` (verified
// against the CA by the TLS handshake) and, when `name` is not empty, for
// that name; also OK on a plain-text server (explicitly insecure).
// UNAUTHENTICATED naming what was presented otherwise.
grpc::Status CheckPeerRole(const grpc::ServerContextBase& context,
                           common::pki::Role role, const std::string& name);

}  // namespace emu

#endif  // EMU_COMMON_TRANSPORT_SECURITY_H_
