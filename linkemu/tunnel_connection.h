// TunnelConnection: the byte stream under a tunnel (linkemu/tunnel_pump.h,
// linkemu/tunnel_handshake.h): a plain TCP socket, or TLS over one
// (linkemu/tunnel_tls.h). The pump calls Read/Write on it instead of
// recv/send, so the carrier is chosen when the connection is set up and the
// data plane stays the same. The SSH carrier (linkemu/tunnel_ssh.h) is a
// socketpair to an ssh process.
//
// Read and Write follow a non-blocking socket: they move what they can now
// and return 0 when they would block (wait for the fd's epoll readiness).
// On a blocking socket with SO_RCVTIMEO/SO_SNDTIMEO (the handshake), 0 means
// the timeout passed. A failed or closed connection is an error status;
// afterwards the connection is only fit to be destroyed.
//
// Owns the socket: the destructor closes it. Thread-compatible.
#ifndef EMU_LINKEMU_TUNNEL_CONNECTION_H_
#define EMU_LINKEMU_TUNNEL_CONNECTION_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::linkemu {

class TunnelConnection {
 public:
  virtual ~TunnelConnection() = default;

  // The socket, for epoll and socket options. Still owned by this object.
  virtual int fd() const = 0;

  // Up to `len` bytes into `buf`; 0 = nothing now. UNAVAILABLE "tunnel peer
  // closed the connection" at the end of the stream.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t len) = 0;

  // Up to `len` bytes of `data`; 0 = nothing now. After a 0, the next call
  // must offer the same bytes again (more may follow them; the buffer may
  // have moved).
  virtual absl::StatusOr<size_t> Write(const char* data, size_t len) = 0;

  // True when bytes were taken from the socket (and decrypted) that Read has
  // not returned yet: epoll will not announce them, so read again.
  virtual bool HasBuffered() const { return false; }

  // Bytes a Write (or a Read: TLS may answer the peer) took that are not on
  // the socket yet. The TLS carrier encrypts a whole batch of records before
  // one send(), and keeps what the socket did not take: while this is true,
  // wait for the fd's EPOLLOUT and call FlushPending. Plain sockets keep
  // nothing.
  virtual bool HasPendingWrite() const { return false; }

  // Sends what HasPendingWrite says is kept, as far as the socket takes it
  // now. An error status when the connection failed.
  virtual absl::Status FlushPending() { return absl::OkStatus(); }

  // "plain", or the protocol, cipher and peer ("tls TLSv1.3
  // TLS_AES_128_GCM_SHA256 peer h2").
  virtual std::string Describe() const = 0;

  // The name in the peer's verified certificate; empty for plain.
  virtual std::string PeerName() const { return ""; }

  // `failure` (of the handshake on this connection) with what the carrier
  // knows of its cause: the SSH carrier adds why ssh exited. Plain and TLS
  // return it unchanged.
  virtual absl::Status Explain(const absl::Status& failure) {
    return failure;
  }
};

// A plain TCP (or any stream) socket; takes over `fd` (closes it) unless
// `take_fd` is false.
std::unique_ptr<TunnelConnection> PlainConnection(int fd, bool take_fd = true);

// Reads exactly `len` bytes (blocking socket). UNAVAILABLE "tunnel
// handshake: timed out" / "connection closed" otherwise.
absl::Status ReadExact(TunnelConnection& conn, char* buf, size_t len);

// Writes all of `bytes` (blocking socket). UNAVAILABLE on failure.
absl::Status WriteAll(TunnelConnection& conn, absl::string_view bytes);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_CONNECTION_H_
