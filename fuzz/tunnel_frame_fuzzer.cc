// Fuzzes the tunnel frame decoder (linkemu/tunnel_frame.h) as the pump uses
// it: the stream arrives in pieces (sizes taken from the input's first
// byte), the unused tail is kept and prepended to the next piece.
//
// Checks beyond "no crash": decoding in pieces gives the same frames and
// the same outcome as decoding the whole stream at once; every data frame
// is 1..kMaxTunnelFrame bytes; the frames (data and control) re-encoded
// are exactly the bytes consumed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "linkemu/tunnel_frame.h"

namespace {

using emu::linkemu::ForEachTunnelFrame;
using emu::linkemu::TunnelControl;

// Each frame as it re-encodes: data "d" + bytes, control "c" + its frame.
std::string ControlItem(const TunnelControl& c) {
  std::string out(emu::linkemu::kTunnelControlFrameBytes, '\0');
  emu::linkemu::EncodeTunnelControl(c, out.data());
  return "c" + out;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tunnel_frame_fuzzer: %s\n", what);
    std::abort();
  }
}

struct Decoded {
  std::vector<std::string> frames;
  bool error = false;
  size_t consumed = 0;
};

Decoded Whole(absl::string_view stream) {
  Decoded d;
  auto used = ForEachTunnelFrame(
      stream,
      [&](absl::string_view f) { d.frames.push_back("d" + std::string(f)); },
      [&](const TunnelControl& c) { d.frames.push_back(ControlItem(c)); });
  d.error = !used.ok();
  if (used.ok()) {
    Check(*used <= stream.size(), "consumed more than it was given");
    d.consumed = *used;
  }
  return d;
}

Decoded InPieces(absl::string_view stream, size_t piece) {
  Decoded d;
  std::string pending;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t n = std::min(piece, stream.size() - pos);
    pending.append(stream.data() + pos, n);
    pos += n;
    auto used = ForEachTunnelFrame(
        pending,
        [&](absl::string_view f) { d.frames.push_back("d" + std::string(f)); },
        [&](const TunnelControl& c) { d.frames.push_back(ControlItem(c)); });
    if (!used.ok()) {
      d.error = true;
      return d;
    }
    Check(*used <= pending.size(), "consumed more than it was given");
    d.consumed += *used;
    pending.erase(0, *used);
  }
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t piece = 1 + data[0] % 64;
  absl::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  Decoded whole = Whole(stream);
  std::string reencoded;
  for (const std::string& item : whole.frames) {
    if (item[0] == 'c') {
      reencoded += item.substr(1);
      continue;
    }
    const std::string f = item.substr(1);
    Check(!f.empty() && f.size() <= emu::linkemu::kMaxTunnelFrame,
          "a frame of a forbidden length was passed on");
    char header[emu::linkemu::kTunnelFrameHeaderBytes];
    emu::linkemu::EncodeTunnelFrameHeader(f.size(), header);
    reencoded.append(header, sizeof(header));
    reencoded += f;
  }
  Check(stream.substr(0, reencoded.size()) == reencoded,
        "re-encoded frames differ from the stream");
  if (!whole.error) {
    Check(reencoded.size() == whole.consumed,
          "consumed bytes are not the frames passed on");
  }

  Decoded pieces = InPieces(stream, piece);
  Check(pieces.frames == whole.frames, "pieces decode to other frames");
  Check(pieces.error == whole.error, "pieces change the outcome");
  if (!whole.error) {
    Check(pieces.consumed == whole.consumed, "pieces consume other bytes");
  }
  return 0;
}
