// Framing of Ethernet frames on a tunnel's TCP stream (protocol version 2,
// linkemu/tunnel_handshake.h).
//
// Each frame is a 4-byte big-endian length word followed by that many
// bytes.
//
// Data frames: the TAP device's virtio-net header (IFF_VNET_HDR,
// kVnetHdrBytes) and the Ethernet frame after it, exactly as read from the
// TAP. With the TAP's offloads on (TUNSETOFFLOAD), one frame can be a whole
// GSO segment of up to 64 KiB; kMaxTunnelFrame bounds what a peer may send.
// Their length is 1..kMaxTunnelFrame (below 2^18), so the word's top bit is
// always clear.
//
// Control frames (version 2): the length word's top bit is set
// (kTunnelControlFlag) and its low 31 bits are the control payload's
// length, which is kTunnelControlBytes (9): a type byte and an 8-byte
// big-endian value. The pump handles them itself; they never reach a TAP.
//   kEchoRequest (1): the value is the sender's CLOCK_MONOTONIC instant in
//     ns; the receiving pump sends the same 9 bytes straight back as a
//     kEchoReply, from its stream-read path into its stream-write path.
//   kEchoReply (2): the value of the request it answers, unchanged.
// A round trip then runs through both pumps' wake-ups and the network
// between them (docs/linkemu.md, "Compensating the path's base latency").
//
// Cost to data frames: none measurable. The decoder's one range check
// (length 0 or above kMaxTunnelFrame), which every frame already paid, is
// where control frames branch off; only a word that fails it looks at the
// flag. A data frame cannot carry the flag (its length is far below 2^31),
// and a version-1 peer never sends one: the hello's version refuses it.
//
// Protocol errors (the stream is out of step and must be closed): a data
// length of 0 or above kMaxTunnelFrame; a control frame of any length but
// kTunnelControlBytes, or of an unknown type.
//
// Pure functions; thread-compatible.
#ifndef EMU_LINKEMU_TUNNEL_FRAME_H_
#define EMU_LINKEMU_TUNNEL_FRAME_H_

#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::linkemu {

inline constexpr size_t kTunnelFrameHeaderBytes = 4;
// sizeof(struct virtio_net_hdr): TUNSETVNETHDRSZ's default.
inline constexpr size_t kVnetHdrBytes = 10;
// A GSO frame is at most 64 KiB plus headers; leave room for larger
// gso_max_size settings without letting a broken peer allocate much.
inline constexpr size_t kMaxTunnelFrame = 128 * 1024;

// The length word's control bit, and a control frame's payload length.
inline constexpr uint32_t kTunnelControlFlag = 0x8000'0000u;
inline constexpr size_t kTunnelControlBytes = 9;
// A whole control frame on the stream, length word included.
inline constexpr size_t kTunnelControlFrameBytes =
    kTunnelFrameHeaderBytes + kTunnelControlBytes;
static_assert(kMaxTunnelFrame < kTunnelControlFlag,
              "a data frame's length must never carry the control bit");

enum class TunnelControlType : uint8_t {
  kEchoRequest = 1,
  kEchoReply = 2,
};

struct TunnelControl {
  TunnelControlType type = TunnelControlType::kEchoRequest;
  uint64_t value = 0;  // echo: the requester's monotonic instant, ns
};

// Writes the header of a data frame of `len` bytes to out[0..3].
void EncodeTunnelFrameHeader(uint32_t len, char* out);

// Writes the whole control frame (kTunnelControlFrameBytes) to `out`.
void EncodeTunnelControl(const TunnelControl& c, char* out);

// Calls `data` with each complete data frame's bytes and `control` with
// each complete control frame, in stream order, and returns how many bytes
// those frames used (headers included); the rest is an incomplete frame to
// keep for the next call. INVALID_ARGUMENT (a protocol error, saying which
// and at what offset) as above; frames before it have been passed on.
absl::StatusOr<size_t> ForEachTunnelFrame(
    absl::string_view bytes, absl::FunctionRef<void(absl::string_view)> data,
    absl::FunctionRef<void(const TunnelControl&)> control);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_FRAME_H_
