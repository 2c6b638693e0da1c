#include "linkemu/impair/impairment_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace emu::linkemu {
namespace {

// struct virtio_net_hdr (linux/virtio_net.h), little-endian fields.
constexpr uint8_t kGsoNone = 0;
constexpr uint8_t kGsoEcn = 0x80;
constexpr uint8_t kNeedsCsum = 1;
// Lateness thresholds of DirectionStats::late_1ms / late_10ms.
constexpr int64_t kLate1Ms = 1'000'000;
constexpr int64_t kLate10Ms = 10'000'000;

uint16_t Le16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) |
                               (static_cast<uint8_t>(p[1]) << 8));
}

// The derived bucket of qdisc_plan.h: one HZ=250 tick of tokens, at least
// two full frames.
uint64_t DerivedBurst(uint64_t rate_bps) {
  return std::max<uint64_t>(rate_bps / 8 / 250, 2 * 1514);
}

}  // namespace

uint64_t WireBytes(absl::Span<const char> frame, size_t header_bytes,
                   int32_t overhead_bytes, uint32_t* segments) {
  uint32_t segs = 1;
  uint64_t bytes = frame.size() > header_bytes ? frame.size() - header_bytes : 0;
  if (header_bytes >= 10 && frame.size() > header_bytes) {
    const char* h = frame.data();
    uint8_t flags = static_cast<uint8_t>(h[0]);
    uint8_t gso_type = static_cast<uint8_t>(h[1]) & ~kGsoEcn;
    uint16_t gso_size = Le16(h + 4);
    uint16_t csum_start = Le16(h + 6);
    if (gso_type != kGsoNone && gso_size > 0 && (flags & kNeedsCsum)) {
      // Headers of one segment: up to the transport header (csum_start,
      // counted from the Ethernet frame) plus the transport header itself:
      // TCP's data offset, or UDP's 8 bytes.
      const char* eth = frame.data() + header_bytes;
      uint64_t l4 = csum_start;
      uint64_t hdr = l4 + 8;
      bool tcp = gso_type == 1 || gso_type == 4;  // TCPV4, TCPV6
      if (tcp && l4 + 13 <= bytes) {
        hdr = l4 + 4 * (static_cast<uint8_t>(eth[l4 + 12]) >> 4);
      }
      if (hdr < bytes) {
        uint64_t payload = bytes - hdr;
        segs = static_cast<uint32_t>((payload + gso_size - 1) / gso_size);
        if (segs == 0) segs = 1;
        bytes += uint64_t{segs - 1} * hdr;
      }
    }
  }
  if (segments != nullptr) *segments = segs;
  int64_t total = static_cast<int64_t>(bytes) +
                  static_cast<int64_t>(overhead_bytes) * segs;
  return total > 0 ? static_cast<uint64_t>(total) : 0;
}

ImpairmentPipeline::ImpairmentPipeline(const ImpairmentSpec& spec,
                                       uint64_t seed, size_t header_bytes)
    : header_bytes_(header_bytes), prng_(seed) {
  SetSpec(spec);
}

void ImpairmentPipeline::SetSpec(const ImpairmentSpec& spec) {
  spec_ = spec;
  pass_through_ = spec.IsPassThrough();
  limit_packets_ =
      spec.limit_packets > 0 ? spec.limit_packets : kDefaultLimitPackets;
  p_loss_ = ProbabilityFromPercent(spec.loss_percent);
  p_dup_ = ProbabilityFromPercent(spec.duplicate_percent);
  p_corrupt_ = ProbabilityFromPercent(spec.corrupt_percent);
  // tc's "reorder P" alone means gap 1; a gap alone means every gap-th
  // frame (100 %).
  gap_ = spec.reorder_gap > 0 ? spec.reorder_gap
                              : (spec.reorder_percent > 0 ? 1 : 0);
  p_reorder_ = spec.reorder_gap > 0 && spec.reorder_percent == 0
                   ? UINT32_MAX
                   : ProbabilityFromPercent(spec.reorder_percent);
  table_ = &DistTable(spec.distribution);
  ber_log1m_ = spec.bit_error_rate > 0 && spec.bit_error_rate < 1
                   ? std::log1p(-spec.bit_error_rate)
                   : 0;
  delay_cor_.SetCorrelation(spec.delay_correlation_percent);
  loss_cor_.SetCorrelation(spec.loss_correlation_percent);
  dup_cor_.SetCorrelation(spec.duplicate_correlation_percent);
  corrupt_cor_.SetCorrelation(spec.corrupt_correlation_percent);
  reorder_cor_.SetCorrelation(spec.reorder_correlation_percent);
  burst_bytes_ = spec.rate_bps == 0 ? 0
                 : spec.burst_bytes > 0 ? spec.burst_bytes
                                        : DerivedBurst(spec.rate_bps);
  tb_tokens_ = std::min<double>(tb_tokens_, burst_bytes_);
  heap_.reserve(std::min<size_t>(limit_packets_, 4096));
  // The lateness is the loop's, not the delay's: kept across changes of
  // the conditions, forgotten when compensation is turned off.
  if (!spec.compensate_own_latency) own_latency_.Reset();
  stats_.own_latency_ns =
      spec.compensate_own_latency && (spec.delay_us > 0 || spec.jitter_us > 0)
          ? static_cast<uint64_t>(own_latency_.estimate_ns())
          : 0;
}

void ImpairmentPipeline::CountPassThrough(size_t len) {
  ++stats_.frames_in;
  stats_.bytes_in += len > header_bytes_ ? len - header_bytes_ : 0;
}

void ImpairmentPipeline::Offer(absl::Span<const char> frame, int64_t now_ns) {
  ++stats_.frames_in;
  stats_.bytes_in += frame.size() > header_bytes_ ? frame.size() - header_bytes_
                                                  : 0;
  OfferOne(frame, now_ns, /*may_dup=*/true);
}

bool ImpairmentPipeline::LossEvent() {
  if (spec_.gilbert_elliott) {
    const GilbertElliott& ge = *spec_.gilbert_elliott;
    // netem's loss_gilb_ell: the transition draw, then the loss draw with
    // the probability of the state the frame arrived in.
    bool bad = ge_bad_;
    if (bad) {
      if (prng_.Next32() < ProbabilityFromPercent(ge.r_percent) ||
          ge.r_percent >= 100) {
        ge_bad_ = false;
      }
    } else if (ge.p_percent > 0 &&
               (prng_.Next32() < ProbabilityFromPercent(ge.p_percent) ||
                ge.p_percent >= 100)) {
      ge_bad_ = true;
    }
    double loss = bad ? ge.loss_in_bad_percent : ge.loss_in_good_percent;
    if (loss <= 0) return false;
    return ProbabilityFromPercent(loss) >= prng_.Next32();
  }
  return p_loss_ != 0 && p_loss_ >= loss_cor_.Next(prng_);
}

void ImpairmentPipeline::Corrupt(HeldFrame* f) {
  if (f->len <= header_bytes_) return;
  char* eth = f->data + header_bytes_;
  uint64_t bits = uint64_t{f->len - header_bytes_} * 8;
  bool flipped = false;
  if (p_corrupt_ != 0 && p_corrupt_ >= corrupt_cor_.Next(prng_)) {
    uint64_t b = prng_.Below(bits);
    eth[b / 8] ^= static_cast<char>(1u << (b % 8));
    flipped = true;
  }
  if (spec_.bit_error_rate > 0) {
    if (spec_.bit_error_rate >= 1) {
      for (uint64_t i = 0; i < bits / 8; ++i) eth[i] = ~eth[i];
      flipped = true;
    } else {
      // Gaps between flipped bits are geometric: floor(log U / log(1-p)).
      uint64_t pos = 0;
      while (true) {
        double u = 1.0 - prng_.NextDouble();  // (0, 1]
        double skip = std::floor(std::log(u) / ber_log1m_);
        if (skip >= static_cast<double>(bits - pos)) break;
        pos += static_cast<uint64_t>(skip);
        eth[pos / 8] ^= static_cast<char>(1u << (pos % 8));
        flipped = true;
        if (++pos >= bits) break;
      }
    }
  }
  if (flipped) ++stats_.corrupted;
}

int64_t ImpairmentPipeline::RateDeparture(uint64_t wire_bytes, int64_t at_ns) {
  if (spec_.rate_bps == 0) return at_ns;
  double bytes_per_ns = static_cast<double>(spec_.rate_bps) / 8e9;
  int64_t t0 = std::max(at_ns, tb_time_ns_);
  if (tb_time_ns_ == std::numeric_limits<int64_t>::min()) {
    tb_tokens_ = static_cast<double>(burst_bytes_);  // starts full, as TBF
  } else {
    tb_tokens_ = std::min<double>(
        static_cast<double>(burst_bytes_),
        tb_tokens_ + static_cast<double>(t0 - tb_time_ns_) * bytes_per_ns);
  }
  double need = static_cast<double>(wire_bytes);
  int64_t depart = t0;
  if (tb_tokens_ >= need) {
    tb_tokens_ -= need;
  } else {
    depart = t0 + static_cast<int64_t>(
                      std::ceil((need - tb_tokens_) / bytes_per_ns));
    tb_tokens_ = 0;
  }
  tb_time_ns_ = depart;
  return depart;
}

void ImpairmentPipeline::Schedule(HeldFrame* f, int64_t due_ns) {
  f->due_ns = due_ns;
  heap_.push_back(Entry{due_ns, next_seq_++, f});
  std::push_heap(heap_.begin(), heap_.end(), Later());
  ++stats_.backlog_frames;
  stats_.backlog_bytes += f->len;
}

void ImpairmentPipeline::OfferOne(absl::Span<const char> frame,
                                  int64_t now_ns, bool may_dup) {
  int count = 1;
  if (may_dup && p_dup_ != 0 && p_dup_ >= dup_cor_.Next(prng_)) ++count;
  if (LossEvent()) --count;
  if (count == 0) {
    ++stats_.dropped_loss;
    return;
  }
  if (count > 1) {
    // netem re-enqueues the clone at the root with duplication off, before
    // the original goes on.
    ++stats_.duplicated;
    OfferOne(frame, now_ns, /*may_dup=*/false);
  }
  if (heap_.size() >= limit_packets_ ||
      (spec_.limit_bytes > 0 &&
       stats_.backlog_bytes + frame.size() > spec_.limit_bytes)) {
    ++stats_.dropped_queue;
    return;
  }
  HeldFrame* f = pool_.Get(frame.size());
  if (f == nullptr) {  // larger than any device frame: cannot be held
    ++stats_.dropped_queue;
    return;
  }
  std::memcpy(f->data, frame.data(), frame.size());
  Corrupt(f);

  if (spec_.delay_us > 0 && gap_ > 0 &&
      !(reorder_counter_ + 1 < gap_ ||
        p_reorder_ < reorder_cor_.Next(prng_))) {
    reorder_counter_ = 0;
    f->reordered = true;
    ++stats_.reordered;
    Schedule(f, now_ns);
    return;
  }
  ++reorder_counter_;
  int64_t depart = RateDeparture(
      WireBytes(absl::MakeConstSpan(f->data, f->len), header_bytes_,
                spec_.overhead_bytes),
      now_ns);
  int64_t delay_ns = 0;
  if (spec_.delay_us > 0 || spec_.jitter_us > 0) {
    int64_t d_us = TableDist(static_cast<int64_t>(spec_.delay_us),
                             static_cast<int64_t>(spec_.jitter_us),
                             spec_.jitter_us > 0 ? delay_cor_.Next(prng_) : 0,
                             *table_);
    delay_ns = std::max<int64_t>(0, d_us) * 1000;
  }
  int64_t due = depart + delay_ns;
  if (delay_ns > 0 && spec_.compensate_own_latency) {
    // Earlier by the direction's own latency, but without jitter never
    // ahead of the frame before (a growing estimate must not reorder a
    // constant delay; frames a live change lets overtake keep doing so).
    const int64_t earliest =
        spec_.jitter_us == 0 ? std::min(due, last_delayed_due_ns_)
                             : std::numeric_limits<int64_t>::min();
    due = std::max(due - own_latency_.Compensation(delay_ns), earliest);
  }
  if (delay_ns > 0) last_delayed_due_ns_ = due;
  Schedule(f, due);
}

HeldFrame* ImpairmentPipeline::PopDue(int64_t now_ns) {
  if (heap_.empty() || heap_.front().due_ns > now_ns) return nullptr;
  std::pop_heap(heap_.begin(), heap_.end(), Later());
  HeldFrame* f = heap_.back().frame;
  heap_.pop_back();
  return f;
}

void ImpairmentPipeline::RecordSent(int64_t due_ns, int64_t sent_ns) {
  const int64_t late = sent_ns - due_ns;
  if (late >= kLate1Ms) {
    ++stats_.late_1ms;
    if (late >= kLate10Ms) ++stats_.late_10ms;
    stats_.late_max_ns =
        std::max<uint64_t>(stats_.late_max_ns, static_cast<uint64_t>(late));
  }
  if (!spec_.compensate_own_latency ||
      (spec_.delay_us == 0 && spec_.jitter_us == 0)) {
    return;
  }
  own_latency_.Record(due_ns, sent_ns);
  stats_.own_latency_ns = static_cast<uint64_t>(own_latency_.estimate_ns());
}

void ImpairmentPipeline::Release(HeldFrame* f) {
  --stats_.backlog_frames;
  stats_.backlog_bytes -= f->len;
  pool_.Put(f);
}

void ImpairmentPipeline::Clear() {
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    Release(heap_.back().frame);
    heap_.pop_back();
  }
}

}  // namespace emu::linkemu
