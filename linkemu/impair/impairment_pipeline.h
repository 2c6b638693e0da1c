// ImpairmentPipeline: what one direction of a link does to its frames, as
// pure logic: frames and their arrival instants go in, frames and their
// departure instants come out. No clock is read and no device touched, so
// tests drive it on a fake timeline (nanoseconds of CLOCK_MONOTONIC in the
// engine, any origin in tests) and the same inputs always give the same
// outputs for the same seed.
//
// The stages, in netem's order (net/sched/sch_netem.c, netem_enqueue):
//  1. duplication: a duplicate is a copy offered to the whole pipeline
//     again (with duplication off), before the original continues;
//  2. loss: random with correlation (get_crandom), or Gilbert-Elliott when
//     configured (the state a frame meets decides its loss, then the
//     chain moves on); a frame both duplicated and lost leaves one copy,
//     as netem's count does;
//  3. corruption: corrupt_percent of frames get one uniformly chosen bit of
//     the Ethernet frame flipped; then, independently, each bit flips with
//     probability bit_error_rate (skipping ahead geometrically, so the cost
//     is per flipped bit). The virtio-net header is never touched;
//  4. queue limit: a frame arriving while the direction holds limit_packets
//     frames, or whose bytes would take it over limit_bytes, is dropped
//     (tail drop). Held = every frame not yet departed (waiting for the
//     rate or in the delay line), as netem's limit counts its tfifo; so
//     limit_bytes must cover the bandwidth-delay product;
//  5. reorder: with a delay configured, a frame chosen (netem's gap
//     counter and reorder_percent) is due at once, ahead of the delayed
//     frames, and skips the rate stage too (netem puts it at the queue's
//     head);
//  6. rate: a token bucket (burst_bytes, filled at rate_bps) in FIFO
//     order: a frame leaves the bucket when it holds the frame's wire
//     bytes. A GSO super-frame counts as the segments it stands for (each
//     with its own headers and overhead_bytes), which is what TBF charges;
//  7. delay: departure = rate departure + delay +/- jitter drawn from the
//     distribution (netem's tabledist, negative results clamped to 0).
//     Frames leave in departure order (ties: arrival order), so a jitter
//     larger than the gap between frames reorders them, as in netem.
//
// Live changes (SetSpec) keep every held frame on the schedule it was
// given and keep the random chains, the Gilbert-Elliott state, the reorder
// counter and the token bucket (tokens capped to the new burst). Frames
// arriving afterwards see the new spec; with a rate they queue behind the
// frames already waiting for it. A lower limit drops no held frame; new
// ones are refused until the direction is below it.
//
// Not thread-safe: one per direction, used under the owner's lock.
#ifndef EMU_LINKEMU_IMPAIR_IMPAIRMENT_PIPELINE_H_
#define EMU_LINKEMU_IMPAIR_IMPAIRMENT_PIPELINE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/types/span.h"
#include "linkemu/impair/frame_pool.h"
#include "linkemu/impair/impairment_spec.h"
#include "linkemu/impair/direction_stats.h"
#include "linkemu/impair/netem_random.h"
#include "linkemu/impair/own_latency.h"

namespace emu::linkemu {

inline constexpr uint32_t kDefaultLimitPackets = 1000;  // netem's

// Bytes one frame stands for on the wire: its Ethernet bytes after the
// `header_bytes` of virtio-net header, and for a GSO super-frame (header's
// gso_type set) the headers of every segment after the first, plus
// overhead_bytes per segment (never below 0). `segments` gets the count.
uint64_t WireBytes(absl::Span<const char> frame, size_t header_bytes,
                   int32_t overhead_bytes, uint32_t* segments = nullptr);

class ImpairmentPipeline {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // `header_bytes`: the virtio-net header in front of every frame (0 for
  // devices without one). `spec` must have no ImpairmentSpecProblems.
  ImpairmentPipeline(const ImpairmentSpec& spec, uint64_t seed,
                     size_t header_bytes);

  void SetSpec(const ImpairmentSpec& spec);
  const ImpairmentSpec& spec() const { return spec_; }

  // True when a frame arriving now may be sent at once without Offer:
  // the spec changes nothing and nothing is held (order is kept).
  bool PassThroughNow() const { return pass_through_ && heap_.empty(); }
  // Counts a frame sent by the caller under PassThroughNow().
  void CountPassThrough(size_t len);

  // One frame arrived at `now_ns`: copies it into the pool and schedules it
  // (0, 1 or 2 copies held, per the stages above).
  void Offer(absl::Span<const char> frame, int64_t now_ns);

  // The earliest departure among held frames, kNever when none.
  int64_t NextDepartureNs() const {
    return heap_.empty() ? kNever : heap_.front().due_ns;
  }
  // The next frame due at or before `now_ns` (nullptr when none), removed
  // from the schedule; the caller sends it, then Release()s it.
  HeldFrame* PopDue(int64_t now_ns);
  void Release(HeldFrame* f);
  // The caller handed a frame due at `due_ns` (HeldFrame::due_ns, read
  // before Release) to the receiving device at `sent_ns`: counted in the
  // late_* stats when 1 ms or more late, and a sample of this direction's
  // own latency, which the delay stage then subtracts
  // (ImpairmentSpec::compensate_own_latency, OwnLatency; not sampled while
  // the spec has no delay or compensation is off).
  void RecordSent(int64_t due_ns, int64_t sent_ns);
  const OwnLatency& own_latency() const { return own_latency_; }
  // Drops every held frame (link removal).
  void Clear();

  size_t held_frames() const { return heap_.size(); }
  size_t header_bytes() const { return header_bytes_; }
  // Counters kept here; frames_out/bytes_out/dropped_write are the
  // caller's to fill.
  DirectionStats& stats() { return stats_; }
  const FramePool& pool() const { return pool_; }

 private:
  struct Entry {
    int64_t due_ns;
    uint64_t seq;
    HeldFrame* frame;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.seq > b.seq;
    }
  };

  void OfferOne(absl::Span<const char> frame, int64_t now_ns, bool may_dup);
  bool LossEvent();
  void Corrupt(HeldFrame* f);
  int64_t RateDeparture(uint64_t wire_bytes, int64_t at_ns);
  void Schedule(HeldFrame* f, int64_t due_ns);

  ImpairmentSpec spec_;
  size_t header_bytes_;
  bool pass_through_ = true;
  uint32_t limit_packets_ = kDefaultLimitPackets;
  uint32_t p_loss_ = 0, p_dup_ = 0, p_corrupt_ = 0, p_reorder_ = 0;
  uint32_t gap_ = 0;
  const std::vector<int16_t>* table_ = nullptr;
  double ber_log1m_ = 0;  // log(1 - bit_error_rate)

  Prng prng_;
  CorrelatedRandom delay_cor_, loss_cor_, dup_cor_, corrupt_cor_,
      reorder_cor_;
  bool ge_bad_ = false;
  uint32_t reorder_counter_ = 0;

  // Token bucket: `tb_tokens_` bytes at instant `tb_time_ns_` (the last
  // departure from the bucket, or the first arrival).
  double tb_tokens_ = 0;
  int64_t tb_time_ns_ = std::numeric_limits<int64_t>::min();
  uint64_t burst_bytes_ = 0;

  OwnLatency own_latency_;
  // The last departure the delay stage gave (delay compensation's bound).
  int64_t last_delayed_due_ns_ = std::numeric_limits<int64_t>::min();
  FramePool pool_;
  std::vector<Entry> heap_;  // min-heap on (due_ns, seq)
  uint64_t next_seq_ = 0;
  DirectionStats stats_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_IMPAIRMENT_PIPELINE_H_
