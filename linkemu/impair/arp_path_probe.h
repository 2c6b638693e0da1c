// ArpPathProbe: the round trip between an interface and the kernel behind
// it, timed with ARP. For a QEMU guest's NIC, probed from its host-side TAP
// (agent/guest/guest_manager.h, "gt<i>"), a round trip crosses what a
// frame the guest sends or receives pays beyond a namespace's stack: the
// TAP, QEMU's wake-up, virtio and the guest kernel's interrupt path. Half
// of the minimum is that part of a compensated direction's base latency
// (base_latency.h, BasePart; docs/linkemu.md).
//
// Each probe is an ARP request of the duplicate-address-detection form
// (RFC 5227: sender address 0.0.0.0), so the guest answers, unicast to the
// probe's own MAC (kArpProbeMac), without learning a neighbour entry:
// nothing of the probe stays in the guest. The request is written to the
// interface through a packet socket in the interface's namespace; the reply
// is read by the same socket (ETH_P_ALL sockets see a frame before tc's
// ingress, so a guest TAP's mirred redirect to its link end does not hide
// it) and timed by the kernel's arrival stamp (SO_TIMESTAMPNS). The reply
// then goes on where the guest's frames go (its link); addressed to a MAC
// nobody has, it is discarded by whatever kernel receives it.
//
// Needs CAP_NET_RAW and CAP_SYS_ADMIN (setns), as the agent has.
// Thread-compatible (no shared state).
#ifndef EMU_LINKEMU_IMPAIR_ARP_PATH_PROBE_H_
#define EMU_LINKEMU_IMPAIR_ARP_PATH_PROBE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace emu::linkemu {

// The source MAC of every probe (locally administered, unicast).
inline constexpr std::array<uint8_t, 6> kArpProbeMac = {0x02, 0xe3, 0x75,
                                                        0x00, 0x00, 0x01};

// The probe's request for `target` ("a.b.c.d"): broadcast, from
// kArpProbeMac and 0.0.0.0, padded to Ethernet's 60-byte minimum.
// INVALID_ARGUMENT for a target that is not an IPv4 address.
absl::StatusOr<std::string> ArpProbeFrame(const std::string& target);

// True when `frame` (from its Ethernet header) is an ARP reply from
// `target` to kArpProbeMac.
bool IsArpProbeReply(absl::string_view frame, const std::string& target);

struct ArpProbeOptions {
  int samples = 16;  // round trips to time (replies counted)
  int attempts = 48;  // requests sent at most
  // After each reply (or timeout) before the next request: the guest idles
  // in between, as between a sparse flow's frames.
  absl::Duration gap = absl::Milliseconds(5);
  absl::Duration reply_timeout = absl::Milliseconds(500);
};

// Round trips (nanoseconds) of ARP requests for `target` written to
// `ifname` in the namespace `netns` (a name under /run/netns, or a path
// when it contains '/'). Stops at `samples` replies or `attempts` requests;
// UNAVAILABLE naming the interface and address when none came back,
// NOT_FOUND when the namespace or the interface is not there.
absl::StatusOr<std::vector<int64_t>> ArpRoundTripsNs(
    const std::string& netns, const std::string& ifname,
    const std::string& target, const ArpProbeOptions& options);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_ARP_PATH_PROBE_H_
