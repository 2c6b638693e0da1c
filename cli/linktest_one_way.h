// One-way delay for `emuctl linktest` where both ends share a clock (both
// on one host): the ICMP echoes of its ping, captured at each end's
// interface (ControllerService.Capture, pcapng stamped with the host's
// CLOCK_REALTIME), matched by identifier and sequence number:
//
//   a-to-b = (request seen arriving at b) - (request sent by a)
//   b-to-a = (reply seen arriving at a) - (b's turn-around)
//
// "Sent by a" is the send time iputils' ping writes into the request's
// payload (gettimeofday, the same clock) when a is a namespace, so a
// qdisc on a's interface (TBF, NetEm) is in the figure; for a guest (its
// own clock) the request's stamp on a's host-side interface. "b's
// turn-around" is the request's arrival at b for a namespace (its kernel
// answers within microseconds, before any qdisc of b's), the reply's
// stamp on b's host-side interface for a guest (its virtio and TCG
// turn-around left out). Pure; thread-safe.
#ifndef EMU_CLI_LINKTEST_ONE_WAY_H_
#define EMU_CLI_LINKTEST_ONE_WAY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::cli {

// One ICMP echo request or reply (ICMPv4 or ICMPv6) as a capture saw it.
struct EchoStamp {
  bool reply = false;
  uint16_t id = 0;
  uint16_t seq = 0;
  int64_t time_ns = 0;  // the capture's stamp
  // A request's payload as iputils' ping writes it: its send time (a
  // struct timeval, this host's byte order); -1 when there is none.
  int64_t payload_ns = -1;
};

// The echoes in a pcapng stream of Ethernet frames (little-endian, as
// agent/capture/pcapng.h writes; if_tsresol honoured), in stream order;
// other frames are skipped. A truncated last block is ignored (a capture
// cancelled mid-chunk). INVALID_ARGUMENT for a stream that is not pcapng.
absl::StatusOr<std::vector<EchoStamp>> EchoStampsFromPcapng(
    absl::string_view pcapng);

// Per-direction one-way delays (ms) of the probes seen at both ends, in
// sequence order; the first sighting counts (a duplicate is the link's).
// `a_guest` / `b_guest`: that end is a QEMU guest (see the file comment).
struct OneWayDelays {
  std::vector<double> a_to_b_ms;
  std::vector<double> b_to_a_ms;
};
OneWayDelays MatchEchoes(const std::vector<EchoStamp>& at_a,
                         const std::vector<EchoStamp>& at_b, bool a_guest,
                         bool b_guest);

// The median of `v` (0 when empty).
double MedianMs(std::vector<double> v);

}  // namespace emu::cli

#endif  // EMU_CLI_LINKTEST_ONE_WAY_H_
