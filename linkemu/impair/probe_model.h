// What a link's configured conditions should do to `emuctl linktest`'s
// probes, and how measured probes compare with that (docs/linkemu.md,
// "Calibration: emuctl linktest").
//
// The expectation is not a formula per condition: the probes' own schedule
// is run through the engine's pipeline (impairment_pipeline.h) on a fake
// timeline, request through a-to-b and reply through b-to-a, many times
// with different seeds. So every condition and every interplay (jitter
// with correlation, correlated loss, Gilbert-Elliott bursts, queue limits,
// rate) is expected exactly as the engine applies it, which is NetEm's
// semantics (kernel-shaped directions are expected the same way).
//
// Pure functions; thread-safe.
#ifndef EMU_LINKEMU_IMPAIR_PROBE_MODEL_H_
#define EMU_LINKEMU_IMPAIR_PROBE_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "linkemu/impair/impairment_spec.h"

namespace emu::linkemu {

// A round-trip probe series (ping): what was sent and what came back.
struct PingFigures {
  int sent = 0;
  int received = 0;  // distinct sequence numbers answered
  double loss_fraction = 0;
  // Of the answered probes, in milliseconds.
  double rtt_p50_ms = 0;
  // Jitter: |RTT - RTT p50| of each answered probe, its p50 and p99.
  double jitter_p50_ms = 0;
  double jitter_p99_ms = 0;
  // ModelPing only: the lowest and highest jitter p99 of its seeded runs
  // taken one by one. A p99 of a few hundred probes rests on its few largest
  // samples, so a rare event (a reorder, a duplicate) gives it or not
  // depending on the seed; ComparePing accepts the whole range.
  double jitter_p99_low_ms = 0;
  double jitter_p99_high_ms = 0;
  // Burstiness: the mean length of runs of consecutive lost probes (0
  // without loss); random loss gives about 1 / (1 - p), Gilbert-Elliott
  // about 1 / r.
  double mean_loss_burst = 0;
  int loss_bursts = 0;  // how many runs
};

// Figures of one series: `rtt_ms[i]` is probe i's round trip, none when it
// was not answered.
PingFigures SummarizePing(const std::vector<std::optional<double>>& rtt_ms);

// The same figures expected from `a_to_b` (requests) and `b_to_a`
// (replies) for `count` probes of `frame_bytes` sent every `interval`:
// `runs` series with seeds seed, seed+1, ... pooled. A corrupted request
// or reply counts as lost (the receiver's checksum drops it).
PingFigures ModelPing(const ImpairmentSpec& a_to_b,
                      const ImpairmentSpec& b_to_a, int count,
                      absl::Duration interval, int runs, uint64_t seed,
                      size_t frame_bytes = 98);

// Steady-state UDP goodput (payload bits/s) expected through `spec` for
// datagrams of `payload_bytes` (plus 42 bytes of UDP, IPv4 and Ethernet
// headers) offered at `offered_bps` of payload: the departures in the
// middle half of `duration`.
double ModelUdpGoodputBps(const ImpairmentSpec& spec, double offered_bps,
                          size_t payload_bytes, absl::Duration duration,
                          uint64_t seed);

// One compared figure and whether it is within its tolerance.
struct FigureCheck {
  std::string name;  // "rtt p50", "jitter p50", "loss", "burst", "rate a-to-b"
  std::string unit;  // "ms", "%", "probes", "Mbit/s"
  double expected = 0;
  double measured = 0;
  double tolerance = 0;  // |measured - expected| allowed, in `unit`
  bool judged = true;    // false: shown, not judged (too few samples)
  bool ok = true;
};

// The tolerances of docs/linkemu.md ("Tolerances"):
//  rtt p50     max(4 ms, 10 %) of the expected (delay = RTT/2: 2 ms);
//  jitter p50  max(1 ms, 25 %); jitter p99 max(10 ms, 50 %) around the
//              range of the model's own runs (jitter_p99_low/high_ms);
//  loss        the lost count within 4 binomial standard deviations of
//              sent x expected loss, plus 2 probes;
//  burst       max(0.5, 50 %), judged only with 10 lost probes or more.
std::vector<FigureCheck> ComparePing(const PingFigures& expected,
                                     const PingFigures& measured);
// rate        max(0.5 Mbit/s, 5 %) of the expected goodput.
FigureCheck CompareRate(const std::string& name, double expected_bps,
                        double measured_bps);
// One direction's one-way delay p50 where both ends share a clock
// (`emuctl linktest` on a same-host link): max(2 ms, 10 %) of the expected,
// as the RTT/2 figure's; the expected is ModelPing through that direction
// alone (the other passing frames through). Not judged without samples.
FigureCheck CompareOneWay(const std::string& name, double expected_ms,
                          double measured_ms, size_t samples);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_PROBE_MODEL_H_
