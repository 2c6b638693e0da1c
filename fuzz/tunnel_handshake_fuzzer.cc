// Fuzzes the tunnel handshake's readers (linkemu/tunnel_handshake.h) as a
// listening agent meets them: the input is what a peer sends on a fresh
// connection, then the peer closes it. Both the hello (listener side) and
// the reply (dialer side) are read from it, through a real socket pair.
//
// Checks beyond "no crash": a hello that is accepted re-encodes to exactly
// the bytes it was read from; an accepted reply starts with kOk; every
// refusal has one of the documented codes and a message that names the
// peer's byte values as they are (0..255, never negative).
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "linkemu/tunnel_handshake.h"

namespace {

namespace lk = emu::linkemu;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tunnel_handshake_fuzzer: %s\n", what);
    std::abort();
  }
}

// A connected socket whose peer has sent `bytes` and closed its side.
int SocketWith(absl::string_view bytes) {
  int fds[2];
  Check(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair failed");
  Check(lk::SendAll(fds[1], bytes).ok(), "cannot send the input");
  close(fds[1]);
  return fds[0];
}

void CheckMessage(const absl::Status& s) {
  Check(!s.message().empty(), "a refusal has no message");
  Check(!absl::StrContains(s.message(), " -"),
        "a refusal names a negative byte value");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A socket pair buffers a few hundred KiB; the handshake is far smaller.
  if (size > 64 * 1024) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  int fd = SocketWith(input);
  absl::StatusOr<lk::TunnelHello> hello = lk::ReadTunnelHello(fd);
  close(fd);
  if (hello.ok()) {
    std::string encoded = lk::EncodeTunnelHello(*hello);
    Check(input.substr(0, encoded.size()) == encoded,
          "an accepted hello re-encodes to other bytes");
  } else {
    Check(hello.status().code() == absl::StatusCode::kInvalidArgument ||
              hello.status().code() == absl::StatusCode::kUnavailable,
          "a refused hello has an undocumented code");
    CheckMessage(hello.status());
  }

  fd = SocketWith(input);
  absl::Status reply = lk::ReadTunnelReply(fd);
  close(fd);
  if (reply.ok()) {
    Check(size > 0 && data[0] == static_cast<uint8_t>(lk::TunnelReplyCode::kOk),
          "a reply was accepted without kOk");
  } else {
    switch (reply.code()) {
      case absl::StatusCode::kUnauthenticated:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kPermissionDenied:
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kUnavailable:
        break;
      default:
        Check(false, "a refused reply has an undocumented code");
    }
    Check(!reply.message().empty(), "a refused reply has no message");
  }
  return 0;
}
