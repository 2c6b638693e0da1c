// What one direction of a link does to the frames that cross it, in the
// userspace engine's terms (docs/linkemu.md). NetEm's semantics
// (tc-netem(8), net/sched/sch_netem.c) unless a field says otherwise; a
// default-constructed spec passes every frame unchanged and at once.
//
// Owned by the engine (link_engine.h); filled from the topology's
// LinkParams by the agent. Value type.
#ifndef EMU_LINKEMU_IMPAIR_IMPAIRMENT_SPEC_H_
#define EMU_LINKEMU_IMPAIR_IMPAIRMENT_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emu::linkemu {

enum class DelayDistribution {
  kUniform,       // netem without a table: delay +/- jitter, uniformly
  kNormal,        // netem's "normal" table
  kPareto,        // "pareto"
  kParetoNormal,  // "paretonormal"
};

// Gilbert-Elliott loss (netem "loss gemodel p r 1-h 1-k"): two states,
// Good and Bad. Percentages 0..100.
struct GilbertElliott {
  double p_percent = 0;               // Good -> Bad per frame
  double r_percent = 100;             // Bad -> Good per frame
  double loss_in_bad_percent = 100;   // 1-h
  double loss_in_good_percent = 0;    // 1-k

  bool operator==(const GilbertElliott& o) const;
  bool operator!=(const GilbertElliott& o) const { return !(*this == o); }
};

// The longest delay (and jitter) the engine accepts: netem's 60 s bound in
// qdisc_plan.h, so both engines refuse the same values.
inline constexpr uint64_t kMaxImpairDelayUs = 60'000'000;

struct ImpairmentSpec {
  // Delay: every frame waits delay_us +/- jitter_us (drawn from
  // `distribution`, correlated with the previous draw by
  // delay_correlation_percent).
  uint64_t delay_us = 0;
  uint64_t jitter_us = 0;
  double delay_correlation_percent = 0;
  DelayDistribution distribution = DelayDistribution::kUniform;

  // Loss: random (with correlation) unless gilbert_elliott is set, which
  // then replaces it.
  double loss_percent = 0;
  double loss_correlation_percent = 0;
  std::optional<GilbertElliott> gilbert_elliott;

  double duplicate_percent = 0;
  double duplicate_correlation_percent = 0;

  // Corruption: corrupt_percent of frames get one random bit flipped (as
  // netem); bit_error_rate flips each bit of the frame independently with
  // that probability (NEmu's BER), e.g. 1e-6.
  double corrupt_percent = 0;
  double corrupt_correlation_percent = 0;
  double bit_error_rate = 0;

  // Reordering (needs a delay, as in netem): with netem's gap counter, a
  // frame chosen by reorder_percent is sent at once, ahead of the delayed
  // ones. reorder_gap 0 with a percent is tc's "gap 1" (any frame may be
  // chosen); a gap with reorder_percent 0 means 100 % (every gap-th frame).
  double reorder_percent = 0;
  double reorder_correlation_percent = 0;
  uint32_t reorder_gap = 0;

  // Rate: a token bucket of burst_bytes (0 = derived as TBF's, see
  // qdisc_plan.h) filled at rate_bps bits/s of frame bytes plus
  // overhead_bytes per frame (may be negative, as netem's
  // "rate ... packetoverhead"). 0 = unshaped.
  uint64_t rate_bps = 0;
  uint32_t burst_bytes = 0;
  int32_t overhead_bytes = 0;

  // Queue bound: a frame arriving to a full queue is dropped (tail drop).
  // 0 = the default: 1000 frames (netem's); limit_bytes 0 = no byte bound.
  // Both count every frame the direction holds (waiting for the rate or in
  // the delay line, as netem's limit counts its tfifo), so limit_bytes must
  // cover the bandwidth-delay product (1 Gbit/s x 100 ms = 12.5 MB).
  uint32_t limit_packets = 0;
  uint64_t limit_bytes = 0;

  // Delay compensation (docs/linkemu.md): the delay stage schedules each
  // frame earlier by how late this direction has been sending its frames
  // (OwnLatency: a low quantile of its recent lateness, at most 2 ms and at
  // most the frame's own delay), so the delay a receiver sees is the
  // configured one rather than that plus the engine's wake-up latency.
  // Changes nothing without a delay or jitter.
  bool compensate_own_latency = true;

  bool operator==(const ImpairmentSpec& o) const;
  bool operator!=(const ImpairmentSpec& o) const { return !(*this == o); }
  // True when the spec changes nothing (every frame passes at once).
  bool IsPassThrough() const;
};

// Every reason the engine would refuse `spec`, naming the field ("loss_percent
// 120 is outside 0..100"); empty when it can be served. LinkEngine::AddLink
// and Update return INVALID_ARGUMENT joining these.
std::vector<std::string> ImpairmentSpecProblems(const ImpairmentSpec& spec);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_IMPAIRMENT_SPEC_H_
