#include "linkemu/tunnel_frame.h"

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"

namespace emu::linkemu {
namespace {

uint32_t Load32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

void EncodeTunnelFrameHeader(uint32_t len, char* out) {
  out[0] = static_cast<char>(len >> 24);
  out[1] = static_cast<char>(len >> 16);
  out[2] = static_cast<char>(len >> 8);
  out[3] = static_cast<char>(len);
}

void EncodeTunnelControl(const TunnelControl& c, char* out) {
  EncodeTunnelFrameHeader(
      kTunnelControlFlag | static_cast<uint32_t>(kTunnelControlBytes), out);
  out[kTunnelFrameHeaderBytes] = static_cast<char>(c.type);
  for (int i = 0; i < 8; ++i) {
    out[kTunnelFrameHeaderBytes + 1 + i] =
        static_cast<char>(c.value >> (56 - 8 * i));
  }
}

absl::StatusOr<size_t> ForEachTunnelFrame(
    absl::string_view bytes, absl::FunctionRef<void(absl::string_view)> data,
    absl::FunctionRef<void(const TunnelControl&)> control) {
  size_t pos = 0;
  while (bytes.size() - pos >= kTunnelFrameHeaderBytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
    const uint32_t len = Load32(p);
    if (ABSL_PREDICT_FALSE(len == 0 || len > kMaxTunnelFrame)) {
      // Not a data frame: a control frame, or out of step.
      if ((len & kTunnelControlFlag) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("tunnel frame of ", len, " bytes at stream offset +",
                         pos, " (allowed 1..", kMaxTunnelFrame, ")"));
      }
      const uint32_t clen = len & ~kTunnelControlFlag;
      if (clen != kTunnelControlBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tunnel control frame of ", clen, " bytes at stream offset +", pos,
            " (a control frame is ", kTunnelControlBytes, ")"));
      }
      if (bytes.size() - pos < kTunnelControlFrameBytes) break;
      const unsigned char type = p[kTunnelFrameHeaderBytes];
      if (type != static_cast<unsigned char>(TunnelControlType::kEchoRequest) &&
          type != static_cast<unsigned char>(TunnelControlType::kEchoReply)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tunnel control frame of unknown type ", type,
                         " at stream offset +", pos));
      }
      TunnelControl c;
      c.type = static_cast<TunnelControlType>(type);
      c.value = (uint64_t{Load32(p + kTunnelFrameHeaderBytes + 1)} << 32) |
                Load32(p + kTunnelFrameHeaderBytes + 5);
      control(c);
      pos += kTunnelControlFrameBytes;
      continue;
    }
    if (bytes.size() - pos - kTunnelFrameHeaderBytes < len) break;
    data(bytes.substr(pos + kTunnelFrameHeaderBytes, len));
    pos += kTunnelFrameHeaderBytes + len;
  }
  return pos;
}

}  // namespace emu::linkemu
