#include "linkemu/tunnel_frame.h"

#include "absl/strings/str_cat.h"

namespace emu::linkemu {

void EncodeTunnelFrameHeader(uint32_t len, char* out) {
  out[0] = static_cast<char>(len >> 24);
  out[1] = static_cast<char>(len >> 16);
  out[2] = static_cast<char>(len >> 8);
  out[3] = static_cast<char>(len);
}

absl::StatusOr<size_t> ForEachTunnelFrame(
    absl::string_view bytes, absl::FunctionRef<void(absl::string_view)> fn) {
  size_t pos = 0;
  while (bytes.size() - pos >= kTunnelFrameHeaderBytes) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
    uint32_t len = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
                   (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    if (len == 0 || len > kMaxTunnelFrame) {
      return absl::InvalidArgumentError(
          absl::StrCat("tunnel frame of ", len, " bytes at stream offset +",
                       pos, " (allowed 1..", kMaxTunnelFrame, ")"));
    }
    if (bytes.size() - pos - kTunnelFrameHeaderBytes < len) break;
    fn(bytes.substr(pos + kTunnelFrameHeaderBytes, len));
    pos += kTunnelFrameHeaderBytes + len;
  }
  return pos;
}

}  // namespace emu::linkemu
