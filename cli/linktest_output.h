// What `emuctl linktest` reads from the probes it runs in the nodes: ping's
// per-reply lines and iperf3's JSON report. Pure; thread-safe.
#ifndef EMU_CLI_LINKTEST_OUTPUT_H_
#define EMU_CLI_LINKTEST_OUTPUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "linkemu/late_frames.h"

namespace emu::cli {

// Round trip (ms) of each of `count` probes from ping's output, none where
// no reply came. iputils numbers probes from 1 ("icmp_seq=1"), busybox from
// 0 ("seq=0"); a duplicate reply ("DUP!") keeps the first.
std::vector<std::optional<double>> ParsePingReplies(absl::string_view output,
                                                    int count);

// The receiver's goodput from an iperf3 client's --json report: of the
// server's report inside it (`server_side`: the client sent, with
// --get-server-output and a server run with --json) or of the client's own
// (a --reverse client receives). The median of the interval rates (bits/s)
// without the first and the last interval, which start and stop mid-way.
// INVALID_ARGUMENT when the report has an error or fewer than 3 intervals.
absl::StatusOr<double> ReceiverMedianBps(absl::string_view iperf3_json,
                                         bool server_side = false);

// One direction's base-latency compensation (compensate: true;
// docs/linkemu.md, "Compensating the path's base latency") as linktest
// shows it: `asked` from the configuration (the direction's own
// `compensate`, else the lab's), the rest from the agent that applies it
// (GetLabStats' DirectionCounters).
struct CompensationFigures {
  bool asked = false;
  bool applied = false;        // an engine subtracted a measured base
  uint64_t configured_us = 0;  // the configured delay
  uint64_t base_us = 0;        // the path's measured one-way base latency
  uint64_t applied_us = 0;     // the delay the engine applies
  bool cross_host = false;
  bool kernel = false;  // the direction is kernel-shaped (TBF/NetEm)
  // Where the base comes from, as the agent says (DirectionCounters.
  // base_source: "engine path probe", "tunnel echo min RTT/2", "tunnel TCP
  // min RTT/2"); empty from an older agent, which had a same-host engine
  // path's probe or a cross-host link's TCP minimum RTT.
  std::string base_source;
};

// What the base of `c` is: its base_source, or for an older agent's figure
// "engine path probe" or "tunnel TCP min RTT/2".
std::string CompensationBaseSource(const CompensationFigures& c);

// "" when not asked; else one line: the three figures, or why none apply.
std::string DescribeCompensation(const CompensationFigures& c);

// "" when neither direction sent a frame late; else one line per late
// direction, e.g. "a-to-b: 4 frames sent 1 ms or more late (2 of them
// 10 ms or more) while pinged: the host did not run the sender in time;
// the figures include it" (a tunnel's: "... in time, or the tunnel's
// connection held them back; ...").
// (linkemu/late_frames.h: the two samples' difference.)
std::string DescribeLate(const linkemu::LateFigures& a_to_b,
                         const linkemu::LateFigures& b_to_a);

}  // namespace emu::cli

#endif  // EMU_CLI_LINKTEST_OUTPUT_H_
