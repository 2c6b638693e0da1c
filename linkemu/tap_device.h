// TAP devices for tunneled links, created inside a node's namespace.
//
// The TAP is opened from a short-lived thread that has setns()'d into the
// node's namespace: /dev/net/tun creates the device in the namespace of the
// thread that opens it, so the device is born there under its final name,
// with no temporary name in the agent's namespace (the same rule CreateVeth
// keeps), and without a move that would drop its configuration. The returned
// fd works from any thread afterwards.
//
// The device is not persistent: it lives exactly as long as its fd. An
// agent killed with -9 therefore leaves no TAP behind, and the restarted
// agent re-creates it from the saved spec. Note the converse: an open fd
// pins the node's namespace, so close it before deleting the namespace.
//
// Offloads: IFF_VNET_HDR with TUNSETOFFLOAD(CSUM, TSO4, TSO6, TSO_ECN, and
// USO4/USO6 where the kernel has them) lets the kernel hand over whole GSO
// segments (up to 64 KiB) with a virtio-net header instead of segmenting
// them into MTU-sized frames first.
//
// Thread-safe (no shared state).
#ifndef EMU_LINKEMU_TAP_DEVICE_H_
#define EMU_LINKEMU_TAP_DEVICE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace emu::linkemu {

struct TapSpec {
  // Namespace: a name under /run/netns, or a path when it contains '/'.
  std::string netns;
  std::string ifname;  // 1..15 bytes
  std::string mac;     // "02:00:00:00:00:01"; empty = kernel's random one
  uint32_t mtu = 0;    // 0 = kernel default (1500)
  std::string alias;   // IFLA_IFALIAS, the owner tag
};

// Creates the TAP inside spec.netns, sets MAC, MTU and alias, brings it up,
// and returns its fd (O_NONBLOCK, O_CLOEXEC). ALREADY_EXISTS when an
// interface of that name is there; NOT_FOUND when the namespace is not.
absl::StatusOr<int> OpenTapInNamespace(const TapSpec& spec);

// True while the device behind a TAP fd exists (TUNGETIFF succeeds).
bool TapIsAlive(int fd);

// The virtio-net header in front of each frame read from `fd`:
// TUNGETVNETHDRSZ for a TAP with IFF_VNET_HDR, 0 for anything else (any fd
// whose read() returns one frame, e.g. a SOCK_SEQPACKET socket in tests).
size_t TapVnetHeaderBytes(int fd);

// Turns a TAP's offloads on (checksum, TSO, USO where the kernel has it, as
// OpenTapInNamespace sets them) or off: the kernel then hands over
// MTU-sized frames with complete checksums (the impairment engine does
// this where it corrupts bits, so a receiver's checksum sees them).
// INTERNAL naming the errno when the TAP refuses; FAILED_PRECONDITION for
// an fd that is not a TAP.
absl::Status SetTapOffloads(int fd, bool on);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TAP_DEVICE_H_
