// Framing of Ethernet frames on a tunnel's TCP stream.
//
// Each frame is a 4-byte big-endian length followed by that many bytes: the
// TAP device's virtio-net header (IFF_VNET_HDR, kVnetHdrBytes) and the
// Ethernet frame after it, exactly as read from the TAP. With the TAP's
// offloads on (TUNSETOFFLOAD), one frame can be a whole GSO segment of up to
// 64 KiB; kMaxTunnelFrame bounds what a peer may send. A length of 0 or above
// kMaxTunnelFrame is a protocol error: the stream is out of step and must be
// closed.
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

// Writes the header of a frame of `len` bytes to out[0..3].
void EncodeTunnelFrameHeader(uint32_t len, char* out);

// Calls `fn` with each complete frame's bytes at the start of `bytes`, in
// order, and returns how many bytes those frames used (header included);
// the rest is an incomplete frame to keep for the next call.
// INVALID_ARGUMENT (a protocol error) for a length of 0 or above
// kMaxTunnelFrame; frames before it have been passed to `fn`.
absl::StatusOr<size_t> ForEachTunnelFrame(
    absl::string_view bytes, absl::FunctionRef<void(absl::string_view)> fn);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_FRAME_H_
