#include "common/transport_security.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/grpc_security_constants.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/auth_context.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "grpcpp/security/credentials.h"

namespace emu {
namespace {

using common::pki::Identity;
using common::pki::ReadIdentity;
using common::pki::Role;
using common::pki::RoleName;

// The peer's identity from a TLS connection's auth context. NOT_FOUND when
// the connection is not TLS (a plain-text server, chosen explicitly).
absl::StatusOr<Identity> PeerIdentityOf(const grpc::AuthContext& context) {
  const std::vector<grpc::string_ref> type =
      context.FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME);
  if (type.empty() ||
      (type[0] != GRPC_SSL_TRANSPORT_SECURITY_TYPE &&
       type[0] != GRPC_TLS_TRANSPORT_SECURITY_TYPE)) {
    return absl::NotFoundError("plain-text connection");
  }
  const std::vector<grpc::string_ref> pem =
      context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pem.empty()) {
    return absl::UnauthenticatedError(
        "the caller presented no client certificate");
  }
  return ReadIdentity(absl::string_view(pem[0].data(), pem[0].size()));
}

grpc::Status CheckIdentity(const grpc::AuthContext& context, Role role,
                           const std::string& name) {
  absl::StatusOr<Identity> peer = PeerIdentityOf(context);
  if (absl::IsNotFound(peer.status())) return grpc::Status::OK;
  if (!peer.ok()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        absl::StrCat("only the ", RoleName(role),
                                     "'s certificate is accepted here: ",
                                     peer.status().message()));
  }
  if (peer->role != role || (!name.empty() && peer->name != name)) {
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("certificate of ", RoleName(peer->role), " '",
                     peer->name, "' refused: only the ", RoleName(role),
                     name.empty() ? "" : absl::StrCat(" '", name, "'"),
                     "'s certificate is accepted here"));
  }
  return grpc::Status::OK;
}

// On the agent's port: every call must come from the controller.
class RequireControllerProcessor : public grpc::AuthMetadataProcessor {
 public:
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata&, grpc::AuthContext* context,
                       OutputMetadata*, OutputMetadata*) override {
    return CheckIdentity(*context, Role::kController, "");
  }
};

}  // namespace

absl::StatusOr<TransportSecurity> LoadDaemonTransport(
    const std::string& pki_dir, Role role, const std::string& host,
    bool insecure_plaintext) {
  if (insecure_plaintext) return TransportSecurity::Plaintext();
  const common::pki::Paths paths =
      role == Role::kController ? common::pki::ControllerPaths(pki_dir)
                                : common::pki::AgentPaths(pki_dir, host);
  if (access(paths.cert.c_str(), F_OK) != 0 ||
      access(paths.ca_cert.c_str(), F_OK) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no ", RoleName(role), " certificate in ", pki_dir, " (", paths.cert,
        ", ", paths.ca_cert,
        "): create them with `emuctl cluster init --dir=", pki_dir,
        role == Role::kAgent
            ? absl::StrCat("` and `emuctl cluster cert --dir=", pki_dir,
                           " ", host, "`")
            : std::string("`"),
        " (docs/cluster.md), or pass --insecure_plaintext to run without "
        "TLS on a trusted network"));
  }
  TransportSecurity t;
  absl::StatusOr<std::string> ca = common::pki::ReadPem(paths.ca_cert);
  if (!ca.ok()) return ca.status();
  t.ca_pem = *std::move(ca);
  absl::StatusOr<common::pki::Credentials> own =
      common::pki::ReadCredentials(paths.cert, paths.key);
  if (!own.ok()) return own.status();
  // A certificate of the wrong role or another CA would only fail later, at
  // every handshake; say so now.
  absl::StatusOr<Identity> id =
      common::pki::Verify(t.ca_pem, own->cert_pem, absl::Now());
  if (!id.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(paths.cert, ": ", id.status().message()));
  }
  if (id->role != role) {
    return absl::FailedPreconditionError(
        absl::StrCat(paths.cert, " is a certificate of the ",
                     RoleName(id->role), ", not of the ", RoleName(role)));
  }
  t.own = *std::move(own);
  t.require_controller_client = role == Role::kAgent;
  return t;
}

absl::StatusOr<TransportSecurity> LoadClientTransport(
    const std::string& ca_file) {
  TransportSecurity t;
  absl::StatusOr<std::string> ca = common::pki::ReadPem(ca_file);
  if (!ca.ok()) return ca.status();
  t.ca_pem = *std::move(ca);
  return t;
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const TransportSecurity& transport) {
  if (transport.plaintext) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      transport.require_controller_client
          ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
          : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = transport.ca_pem;
  options.pem_key_cert_pairs.push_back(
      {transport.own.key_pem, transport.own.cert_pem});
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::SslServerCredentials(options);
  if (transport.require_controller_client) {
    creds->SetAuthMetadataProcessor(
        std::make_shared<RequireControllerProcessor>());
  }
  return creds;
}

std::shared_ptr<grpc::Channel> NewChannel(const TransportSecurity& transport,
                                          const std::string& address,
                                          const std::string& peer_name,
                                          grpc::ChannelArguments args) {
  if (transport.plaintext) {
    return grpc::CreateCustomChannel(
        address, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = transport.ca_pem;
  options.pem_private_key = transport.own.key_pem;
  options.pem_cert_chain = transport.own.cert_pem;
  if (!peer_name.empty()) args.SetSslTargetNameOverride(peer_name);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(options),
                                   args);
}

grpc::Status CheckPeerRole(const grpc::ServerContextBase& context, Role role,
                           const std::string& name) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr) return grpc::Status::OK;
  return CheckIdentity(*auth, role, name);
}

}  // namespace emu
