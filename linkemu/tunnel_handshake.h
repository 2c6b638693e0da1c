// The handshake that opens a tunnel connection, before any frame.
//
// The dialing agent sends a hello:
//   "EMUTUN" | version (1 byte, kTunnelProtocolVersion) |
//   vnet header bytes (1 byte, 10) |
//   lab | link_id | token          (each: 2-byte big-endian length + bytes)
// and the listening agent answers:
//   code (1 byte) | message (2-byte length + bytes)
// then both sides switch to frames (linkemu/tunnel_frame.h). A hello of
// another version is refused (kBadRequest, the message naming both
// versions): version 1 had no control frames (tunnel_frame.h), and its
// decoder would take a version-2 echo for a broken stream. The token is
// the cluster's bearer token; the listener compares it in constant time and
// answers kBadToken to a wrong one. A listener that does not (yet) carry the
// link answers kUnknownLink, and the dialer retries later: the two agents of
// a link are configured independently and either may come first.
//
// The hello and reply travel on the connection's carrier: plain TCP, or
// inside TLS once its handshake is done (linkemu/tunnel_tls.h); the token is
// checked on both.
//
// Reads and writes are blocking: callers set SO_RCVTIMEO/SO_SNDTIMEO.
// Thread-compatible.
#ifndef EMU_LINKEMU_TUNNEL_HANDSHAKE_H_
#define EMU_LINKEMU_TUNNEL_HANDSHAKE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "linkemu/tunnel_connection.h"

namespace emu::linkemu {

inline constexpr size_t kMaxHelloField = 1024;
// 1: data frames only. 2: control frames (the echo) in the length word's
// top bit (linkemu/tunnel_frame.h).
inline constexpr int kTunnelProtocolVersion = 2;

struct TunnelHello {
  std::string lab;
  std::string link_id;
  std::string token;
};

enum class TunnelReplyCode : uint8_t {
  kOk = 0,
  kBadToken = 1,
  kUnknownLink = 2,
  kBadRequest = 3,
  // TLS carrier: the dialer's certificate names another host than the
  // link's other end.
  kWrongPeer = 4,
};

std::string EncodeTunnelHello(const TunnelHello& hello);
std::string EncodeTunnelReply(TunnelReplyCode code, absl::string_view message);

// Reads a hello from `conn` (or the plain socket `fd`, not taken over).
// INVALID_ARGUMENT for a bad magic (saying so when the peer speaks TLS),
// version, header size or field; UNAVAILABLE when the stream ends or times
// out.
absl::StatusOr<TunnelHello> ReadTunnelHello(TunnelConnection& conn);
absl::StatusOr<TunnelHello> ReadTunnelHello(int fd);

// Reads the reply: OK for kOk; UNAUTHENTICATED (kBadToken), NOT_FOUND
// (kUnknownLink), PERMISSION_DENIED (kWrongPeer), INVALID_ARGUMENT
// (kBadRequest and unknown codes), each with the listener's
// message; UNAVAILABLE when the stream ends or times out.
absl::Status ReadTunnelReply(TunnelConnection& conn);
absl::Status ReadTunnelReply(int fd);

// Writes all of `bytes` to the plain socket `fd` (MSG_NOSIGNAL).
// UNAVAILABLE on failure. (On a TunnelConnection: WriteAll.)
absl::Status SendAll(int fd, absl::string_view bytes);

// True when a and b are equal, in time independent of where they differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_HANDSHAKE_H_
