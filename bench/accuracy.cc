#include "bench/accuracy.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "agent/guest/guest_config.h"
#include "linkemu/engine_choice.h"
#include "linkemu/qdisc_plan.h"

namespace emu::bench {

double Percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, static_cast<size_t>(q * v.size()));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return static_cast<double>(v[k]);
}

Spread SpreadOf(const std::vector<int64_t>& ns) {
  Spread s;
  s.n = ns.size();
  if (ns.empty()) return s;
  s.p50 = Percentile(ns, 0.5);
  s.p99 = Percentile(ns, 0.99);
  double sum = 0;
  for (int64_t x : ns) sum += static_cast<double>(x);
  s.mean = sum / ns.size();
  if (ns.size() > 1) {
    double sq = 0;
    for (int64_t x : ns) sq += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(sq / (ns.size() - 1));
  }
  return s;
}

DelayJudgement JudgeDelay(double configured_ns, const Spread& measured,
                          const Spread& base) {
  DelayJudgement j;
  j.p50_error = measured.p50 - configured_ns;
  j.p99_error = measured.p99 - configured_ns;
  j.p50_net_error = j.p50_error - base.p50;
  j.p99_net_error = j.p99_error - base.p99;
  j.p50_goal = std::max(50e3, 0.01 * configured_ns);
  j.p99_goal = std::max(200e3, 0.03 * configured_ns);
  j.p50_ok = measured.n > 0 && std::abs(j.p50_net_error) <= j.p50_goal;
  j.p99_ok = measured.n > 0 && std::abs(j.p99_net_error) <= j.p99_goal;
  j.ok = j.p50_ok && j.p99_ok;
  return j;
}

JitterJudgement JudgeJitter(double configured_jitter_ns, const Spread& measured,
                            const Spread& base) {
  JitterJudgement j;
  double v = measured.stddev * measured.stddev - base.stddev * base.stddev;
  j.net_stddev = v > 0 ? std::sqrt(v) : 0;
  j.error_fraction =
      configured_jitter_ns > 0 ? j.net_stddev / configured_jitter_ns - 1 : 0;
  j.ok = measured.n > 1 && std::abs(j.error_fraction) <= 0.05;
  return j;
}

LossJudgement JudgeLoss(int sent, int lost, double percent) {
  LossJudgement j;
  const double p = percent / 100;
  j.expected = sent * p;
  const double half = 1.96 * std::sqrt(sent * p * (1 - p));
  j.low = j.expected - half;
  j.high = j.expected + half;
  j.ok = sent > 0 && lost >= j.low && lost <= j.high;
  return j;
}

RateJudgement JudgeRate(double rate_bps, double measured_bps, double base_bps) {
  RateJudgement j;
  j.basis_bps = rate_bps * 1448.0 / 1514;
  j.ratio = j.basis_bps > 0 ? measured_bps / j.basis_bps : 0;
  j.carried = base_bps >= 0.97 * j.basis_bps;
  j.ok = j.carried && std::abs(j.ratio - 1) <= 0.03;
  return j;
}

std::string Verdict(bool ok) { return ok ? "ok" : "MISSED"; }

std::string RateVerdict(const RateJudgement& j) {
  return j.carried ? Verdict(j.ok) : "beyond the path";
}

int IperfSecondsFor(double rate_bps, double bytes, int min_seconds,
                    int max_seconds) {
  const double need = rate_bps > 0 ? std::ceil(bytes * 8 / rate_bps) : 0;
  return static_cast<int>(std::clamp<double>(need, min_seconds,
                                             std::max(min_seconds, max_seconds)));
}

absl::StatusOr<std::string> GuestTcScript(const std::string& dev,
                                          const emu::v1::LinkParams& p) {
  absl::StatusOr<linkemu::QdiscPlan> plan =
      linkemu::PlanForLinkParams(p, /*guest_sender=*/true);
  if (!plan.ok()) return plan.status();
  const auto kind = p.delay_distribution();
  if (kind != emu::v1::DELAY_DISTRIBUTION_UNSPECIFIED &&
      kind != emu::v1::DELAY_DISTRIBUTION_UNIFORM &&
      (!plan->netem || plan->netem->jitter_us == 0)) {
    return absl::InvalidArgumentError(
        "a delay distribution needs a jitter (tc-netem(8))");
  }
  return agent::guest::GuestQdiscScript(dev, *plan);
}

}  // namespace emu::bench
