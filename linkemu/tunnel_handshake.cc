#include "linkemu/tunnel_handshake.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"
#include "linkemu/tunnel_frame.h"

namespace emu::linkemu {
namespace {

constexpr char kMagic[] = "EMUTUN";
constexpr size_t kMagicBytes = 6;

void PutField(std::string* out, absl::string_view field) {
  uint16_t len = static_cast<uint16_t>(field.size());
  out->push_back(static_cast<char>(len >> 8));
  out->push_back(static_cast<char>(len));
  out->append(field.data(), len);
}

absl::StatusOr<std::string> ReadField(TunnelConnection& fd,
                                      absl::string_view what) {
  unsigned char len_bytes[2];
  absl::Status s = ReadExact(fd, reinterpret_cast<char*>(len_bytes), 2);
  if (!s.ok()) return s;
  size_t len = (size_t{len_bytes[0]} << 8) | len_bytes[1];
  if (len > kMaxHelloField) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel handshake: ", what, " of ", len, " bytes"));
  }
  std::string field(len, '\0');
  s = ReadExact(fd, field.data(), len);
  if (!s.ok()) return s;
  return field;
}

}  // namespace

std::string EncodeTunnelHello(const TunnelHello& hello) {
  std::string out(kMagic, kMagicBytes);
  out.push_back(static_cast<char>(kTunnelProtocolVersion));
  out.push_back(static_cast<char>(kVnetHdrBytes));
  PutField(&out, hello.lab.substr(0, kMaxHelloField));
  PutField(&out, hello.link_id.substr(0, kMaxHelloField));
  PutField(&out, hello.token.substr(0, kMaxHelloField));
  return out;
}

std::string EncodeTunnelReply(TunnelReplyCode code, absl::string_view message) {
  std::string out(1, static_cast<char>(code));
  PutField(&out, message.substr(0, kMaxHelloField));
  return out;
}

absl::StatusOr<TunnelHello> ReadTunnelHello(TunnelConnection& fd) {
  char head[kMagicBytes + 2];
  absl::Status s = ReadExact(fd, head, sizeof(head));
  if (!s.ok()) return s;
  if (std::memcmp(head, kMagic, kMagicBytes) != 0) {
    // 0x16 0x03: a TLS handshake record (a ClientHello).
    if (head[0] == 0x16 && head[1] == 0x03) {
      return absl::InvalidArgumentError(
          "tunnel handshake: the peer speaks TLS (its tunnel carrier is tls, "
          "this agent's is plain)");
    }
    return absl::InvalidArgumentError(
        "tunnel handshake: not an emu tunnel (bad magic)");
  }
  if (const int version = static_cast<uint8_t>(head[kMagicBytes]);
      version != kTunnelProtocolVersion) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tunnel handshake: the dialing agent speaks tunnel protocol version ",
        version, ", this agent version ", kTunnelProtocolVersion,
        ": run the same emu release on both hosts"));
  }
  if (static_cast<uint8_t>(head[kMagicBytes + 1]) != kVnetHdrBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tunnel handshake: vnet header of ",
        static_cast<int>(static_cast<uint8_t>(head[kMagicBytes + 1])),
        " bytes, this agent uses ",
        kVnetHdrBytes));
  }
  TunnelHello hello;
  auto lab = ReadField(fd, "lab");
  if (!lab.ok()) return lab.status();
  auto link = ReadField(fd, "link id");
  if (!link.ok()) return link.status();
  auto token = ReadField(fd, "token");
  if (!token.ok()) return token.status();
  hello.lab = *std::move(lab);
  hello.link_id = *std::move(link);
  hello.token = *std::move(token);
  return hello;
}

absl::Status ReadTunnelReply(TunnelConnection& fd) {
  char code;
  absl::Status s = ReadExact(fd, &code, 1);
  if (!s.ok()) return s;
  auto message = ReadField(fd, "reply");
  if (!message.ok()) return message.status();
  std::string text = absl::StrCat("tunnel peer: ", *message);
  switch (static_cast<TunnelReplyCode>(code)) {
    case TunnelReplyCode::kOk:
      return absl::OkStatus();
    case TunnelReplyCode::kBadToken:
      return absl::UnauthenticatedError(text);
    case TunnelReplyCode::kUnknownLink:
      return absl::NotFoundError(text);
    case TunnelReplyCode::kWrongPeer:
      return absl::PermissionDeniedError(text);
    default:
      return absl::InvalidArgumentError(text);
  }
}

absl::StatusOr<TunnelHello> ReadTunnelHello(int fd) {
  auto conn = PlainConnection(fd, /*take_fd=*/false);
  return ReadTunnelHello(*conn);
}

absl::Status ReadTunnelReply(int fd) {
  auto conn = PlainConnection(fd, /*take_fd=*/false);
  return ReadTunnelReply(*conn);
}

absl::Status SendAll(int fd, absl::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent,
                     MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat("tunnel handshake: send: ", std::strerror(errno)));
    }
    sent += n;
  }
  return absl::OkStatus();
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^
            static_cast<unsigned char>(b.empty() ? 0 : b[i % b.size()]);
  }
  return diff == 0;
}

}  // namespace emu::linkemu
