// TLS on the tunnel carrier (issue 9, docs/tunnel.md "TLS"): the two agents
// of a cross-host link authenticate each other with the cluster's CA
// (common/pki): each presents its agent certificate (OU emu-agent), each
// verifies the other's chain against the CA alone and its role, and the
// dialer checks that the listener's certificate names the host it meant to
// reach. The listener learns which link a connection is for only from the
// hello, inside TLS; it then checks TunnelConnection::PeerName() against the
// link's other host.
//
// TLS 1.3 only, AES-128-GCM first (AES-NI/VAES make it the cheapest here),
// no session tickets. With a kernel that has TLS offload (TCP_ULP "tls")
// OpenSSL moves the record layer into the kernel after the handshake
// (SSL_OP_ENABLE_KTLS); Describe() then says "ktls". Otherwise records are
// encrypted in the pump's thread by SSL_write/SSL_read, with read-ahead so
// one recv() brings many records.
//
// A listener that receives a plain-text tunnel hello instead of a TLS
// ClientHello answers it in plain text (kBadRequest, "this agent's tunnel
// carrier is tls") and refuses it, so the misconfigured peer logs why.
//
// OpenSSL writes through write(2), which raises SIGPIPE on a connection the
// peer reset: Create() makes the process ignore SIGPIPE (an agent handles
// EPIPE as an error everywhere).
//
// Thread-safe: Connect/Accept may run on several threads at once.
#ifndef EMU_LINKEMU_TUNNEL_TLS_H_
#define EMU_LINKEMU_TUNNEL_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/pki/pki.h"
#include "linkemu/tunnel_connection.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace emu::linkemu {

class TunnelTls {
 public:
  // `ca_pem`: the cluster CA; `own`: this agent's certificate and key.
  // INVALID_ARGUMENT naming what does not load (or a key that does not
  // match the certificate).
  static absl::StatusOr<std::unique_ptr<TunnelTls>> Create(
      const std::string& ca_pem, const common::pki::Credentials& own);
  ~TunnelTls();
  TunnelTls(const TunnelTls&) = delete;
  TunnelTls& operator=(const TunnelTls&) = delete;

  // The dialer's side on a connected, blocking socket with I/O timeouts
  // (`fd` taken over; closed on failure). The peer must be an agent of the
  // cluster CA whose certificate names `peer_host`. UNAUTHENTICATED naming
  // the cause otherwise; UNAVAILABLE when the connection fails or times out.
  absl::StatusOr<std::unique_ptr<TunnelConnection>> Connect(
      int fd, const std::string& peer_host);

  // The listener's side, likewise. The peer must present an agent
  // certificate of the cluster CA (its name: PeerName()).
  absl::StatusOr<std::unique_ptr<TunnelConnection>> Accept(int fd);

 private:
  explicit TunnelTls(SSL_CTX* ctx) : ctx_(ctx) {}
  absl::StatusOr<std::unique_ptr<TunnelConnection>> Handshake(
      int fd, bool server, const std::string& peer_host);

  SSL_CTX* const ctx_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_TLS_H_
