#include "linkemu/impair/probe_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "linkemu/impair/impairment_pipeline.h"

namespace emu::linkemu {
namespace {

constexpr size_t kUdpHeaders = 42;  // Ethernet 14 + IPv4 20 + UDP 8
constexpr int64_t kDrainAll = std::numeric_limits<int64_t>::max() - 1;

// Nearest-rank percentile of a sorted vector (p in 0..1).
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// Probe i's frame: its sequence number, then bytes that depend on it, so a
// flipped bit anywhere is seen.
std::string ProbeFrame(uint32_t seq, size_t bytes) {
  std::string f(std::max<size_t>(bytes, 8), '\0');
  std::memcpy(f.data(), &seq, sizeof(seq));
  for (size_t i = sizeof(seq); i < f.size(); ++i) {
    f[i] = static_cast<char>((seq * 31u + i * 7u) & 0xff);
  }
  return f;
}

// The intact probe's sequence number, none when corrupted.
std::optional<uint32_t> IntactSeq(const HeldFrame& f, size_t bytes,
                                  uint32_t count) {
  if (f.len < sizeof(uint32_t)) return std::nullopt;
  uint32_t seq;
  std::memcpy(&seq, f.data, sizeof(seq));
  if (seq >= count) return std::nullopt;
  std::string want = ProbeFrame(seq, bytes);
  if (f.len != want.size() || std::memcmp(f.data, want.data(), f.len) != 0) {
    return std::nullopt;
  }
  return seq;
}

// Offers frames at their instants (in order) and collects every intact
// departure (seq, due) in departure order.
std::vector<std::pair<uint32_t, int64_t>> RunDirection(
    ImpairmentPipeline& pipe,
    const std::vector<std::pair<uint32_t, int64_t>>& arrivals, size_t bytes,
    uint32_t count) {
  std::vector<std::pair<uint32_t, int64_t>> out;
  auto pop = [&](int64_t now) {
    while (HeldFrame* f = pipe.PopDue(now)) {
      if (auto seq = IntactSeq(*f, bytes, count)) out.emplace_back(*seq, f->due_ns);
      pipe.Release(f);
    }
  };
  for (const auto& [seq, at] : arrivals) {
    pop(at);
    std::string frame = ProbeFrame(seq, bytes);
    pipe.Offer(absl::MakeConstSpan(frame.data(), frame.size()), at);
  }
  pop(kDrainAll);
  return out;
}

}  // namespace

PingFigures SummarizePing(const std::vector<std::optional<double>>& rtt_ms) {
  PingFigures f;
  f.sent = static_cast<int>(rtt_ms.size());
  std::vector<double> rtts;
  int run = 0, lost_in_runs = 0;
  for (const auto& r : rtt_ms) {
    if (r.has_value()) {
      rtts.push_back(*r);
      if (run > 0) {
        ++f.loss_bursts;
        lost_in_runs += run;
      }
      run = 0;
    } else {
      ++run;
    }
  }
  if (run > 0) {
    ++f.loss_bursts;
    lost_in_runs += run;
  }
  f.received = static_cast<int>(rtts.size());
  f.loss_fraction = f.sent == 0 ? 0 : 1.0 - double(f.received) / f.sent;
  f.mean_loss_burst = f.loss_bursts == 0 ? 0 : double(lost_in_runs) / f.loss_bursts;
  std::sort(rtts.begin(), rtts.end());
  f.rtt_p50_ms = Percentile(rtts, 0.5);
  std::vector<double> dev;
  dev.reserve(rtts.size());
  for (double r : rtts) dev.push_back(std::fabs(r - f.rtt_p50_ms));
  std::sort(dev.begin(), dev.end());
  f.jitter_p50_ms = Percentile(dev, 0.5);
  f.jitter_p99_ms = Percentile(dev, 0.99);
  return f;
}

PingFigures ModelPing(const ImpairmentSpec& a_to_b,
                      const ImpairmentSpec& b_to_a, int count,
                      absl::Duration interval, int runs, uint64_t seed,
                      size_t frame_bytes) {
  const int64_t step = absl::ToInt64Nanoseconds(interval);
  const uint32_t n = static_cast<uint32_t>(std::max(count, 0));
  std::vector<std::optional<double>> all;
  all.reserve(static_cast<size_t>(n) * std::max(runs, 1));
  double p99_low = 0, p99_high = 0;
  for (int r = 0; r < std::max(runs, 1); ++r) {
    // As the engine seeds a link's two directions (link_engine.cc).
    ImpairmentPipeline ab(a_to_b, (seed + r) * 2, 0);
    ImpairmentPipeline ba(b_to_a, (seed + r) * 2 + 1, 0);
    std::vector<std::pair<uint32_t, int64_t>> requests;
    requests.reserve(n);
    for (uint32_t i = 0; i < n; ++i) requests.emplace_back(i, i * step);
    auto delivered = RunDirection(ab, requests, frame_bytes, n);
    std::stable_sort(delivered.begin(), delivered.end(),
                     [](const auto& x, const auto& y) { return x.second < y.second; });
    auto replies = RunDirection(ba, delivered, frame_bytes, n);
    std::vector<std::optional<double>> rtt(n);
    for (const auto& [seq, due] : replies) {
      if (rtt[seq].has_value()) continue;  // a duplicate: ping keeps the first
      rtt[seq] = (due - static_cast<int64_t>(seq) * step) / 1e6;
    }
    const double p99 = SummarizePing(rtt).jitter_p99_ms;
    p99_low = r == 0 ? p99 : std::min(p99_low, p99);
    p99_high = r == 0 ? p99 : std::max(p99_high, p99);
    all.insert(all.end(), rtt.begin(), rtt.end());
  }
  PingFigures figures = SummarizePing(all);
  figures.jitter_p99_low_ms = std::min(p99_low, figures.jitter_p99_ms);
  figures.jitter_p99_high_ms = std::max(p99_high, figures.jitter_p99_ms);
  return figures;
}

double ModelUdpGoodputBps(const ImpairmentSpec& spec, double offered_bps,
                          size_t payload_bytes, absl::Duration duration,
                          uint64_t seed) {
  if (offered_bps <= 0 || payload_bytes == 0) return 0;
  const size_t bytes = payload_bytes + kUdpHeaders;
  const double step_ns = payload_bytes * 8 / offered_bps * 1e9;
  const int64_t total = absl::ToInt64Nanoseconds(duration);
  const int64_t from = total / 4, to = 3 * total / 4;
  ImpairmentPipeline pipe(spec, seed, 0);
  const std::string frame(bytes, '\x5a');
  uint64_t counted = 0;
  auto pop = [&](int64_t now) {
    while (HeldFrame* f = pipe.PopDue(now)) {
      if (f->due_ns >= from && f->due_ns < to && f->len == bytes &&
          std::memcmp(f->data, frame.data(), bytes) == 0) {
        counted += payload_bytes;
      }
      pipe.Release(f);
    }
  };
  for (int64_t i = 0;; ++i) {
    int64_t at = static_cast<int64_t>(i * step_ns);
    if (at >= total) break;
    pop(at);
    pipe.Offer(absl::MakeConstSpan(frame.data(), frame.size()), at);
  }
  pop(kDrainAll);
  return counted * 8.0 / ((to - from) / 1e9);
}

std::vector<FigureCheck> ComparePing(const PingFigures& expected,
                                     const PingFigures& measured) {
  std::vector<FigureCheck> out;
  auto add = [&](std::string name, std::string unit, double e, double m,
                 double tol, bool judged) {
    FigureCheck c;
    c.name = std::move(name);
    c.unit = std::move(unit);
    c.expected = e;
    c.measured = m;
    c.tolerance = tol;
    c.judged = judged;
    c.ok = !judged || std::fabs(m - e) <= tol;
    out.push_back(std::move(c));
  };
  const bool answered = measured.received > 0;
  add("rtt p50", "ms", expected.rtt_p50_ms, measured.rtt_p50_ms,
      std::max(4.0, 0.10 * expected.rtt_p50_ms), answered);
  add("jitter p50", "ms", expected.jitter_p50_ms, measured.jitter_p50_ms,
      std::max(1.0, 0.25 * expected.jitter_p50_ms), answered);
  add("jitter p99", "ms", expected.jitter_p99_ms, measured.jitter_p99_ms,
      std::max(10.0, 0.50 * expected.jitter_p99_ms), answered);
  {
    // Anything the model's own runs gave, within the tolerance (see
    // PingFigures::jitter_p99_low_ms); a modelled figure has no range.
    FigureCheck& c = out.back();
    const double low = std::min(expected.jitter_p99_low_ms, c.expected);
    const double high = std::max(expected.jitter_p99_high_ms, c.expected);
    c.ok = !c.judged || (c.measured >= low - c.tolerance &&
                         c.measured <= high + c.tolerance);
  }
  // Loss in probes of this series: expected n*p, 4 binomial sd + 2.
  const double n = measured.sent;
  const double p = expected.loss_fraction;
  add("loss", "probes", n * p, n * measured.loss_fraction,
      4 * std::sqrt(n * p * (1 - p)) + 2, true);
  const int lost = measured.sent - measured.received;
  add("burst", "probes", expected.mean_loss_burst, measured.mean_loss_burst,
      std::max(0.5, 0.5 * expected.mean_loss_burst),
      lost >= 10 && expected.loss_bursts > 0);
  return out;
}

FigureCheck CompareRate(const std::string& name, double expected_bps,
                        double measured_bps) {
  FigureCheck c;
  c.name = name;
  c.unit = "Mbit/s";
  c.expected = expected_bps / 1e6;
  c.measured = measured_bps / 1e6;
  c.tolerance = std::max(0.5, 0.05 * c.expected);
  c.ok = std::fabs(c.measured - c.expected) <= c.tolerance;
  return c;
}

FigureCheck CompareOneWay(const std::string& name, double expected_ms,
                          double measured_ms, size_t samples) {
  FigureCheck c;
  c.name = name;
  c.unit = "ms";
  c.expected = expected_ms;
  c.measured = measured_ms;
  c.tolerance = std::max(2.0, 0.10 * expected_ms);
  c.judged = samples > 0;
  c.ok = !c.judged || std::fabs(c.measured - c.expected) <= c.tolerance;
  return c;
}

}  // namespace emu::linkemu
