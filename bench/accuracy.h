// Accuracy figures of a link condition against its configured value, for the
// benchmarks (bench/linkemu_bench, bench/linkemu_guest_bench) and issue 10's
// goals: delay p50 error <= max(50 us, 1 %), p99 error <= max(200 us, 3 %);
// jitter (normal) standard deviation within 5 %; loss inside the binomial
// 95 % interval; TCP goodput within 3 % of the TBF basis R x 1448/1514
// (docs/topology.md). Pure functions; times in nanoseconds, rates in bit/s.
#ifndef EMU_BENCH_ACCURACY_H_
#define EMU_BENCH_ACCURACY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/topology.pb.h"

namespace emu::bench {

// The q-quantile (0..1) of `v`: the element of rank floor(q * n) (0 when
// empty).
double Percentile(std::vector<int64_t> v, double q);

// Summary of one-way or round-trip delays (ns).
struct Spread {
  size_t n = 0;
  double p50 = 0;
  double p99 = 0;
  double mean = 0;
  double stddev = 0;  // sample standard deviation
};
Spread SpreadOf(const std::vector<int64_t>& ns);

// A delay row: `measured` through a path with `configured_ns` added, `base`
// the same path without it, measured in the same run. The errors are
// measured - configured; the net errors take the path's own figure (its
// p50, its p99) off as well. `ok` judges the net errors against the goals.
struct DelayJudgement {
  double p50_error = 0;
  double p99_error = 0;
  double p50_net_error = 0;
  double p99_net_error = 0;
  double p50_goal = 0;  // max(50 us, 1 %)
  double p99_goal = 0;  // max(200 us, 3 %)
  bool p50_ok = false;
  bool p99_ok = false;
  bool ok = false;  // both
};
DelayJudgement JudgeDelay(double configured_ns, const Spread& measured,
                          const Spread& base);

// A jitter row: the path's own spread is independent of the condition's,
// so the condition's standard deviation is sqrt(measured^2 - base^2)
// (0 when the base spreads more). `ok`: within 5 % of the configured one.
struct JitterJudgement {
  double net_stddev = 0;
  double error_fraction = 0;  // net / configured - 1
  bool ok = false;
};
JitterJudgement JudgeJitter(double configured_jitter_ns, const Spread& measured,
                            const Spread& base);

// `lost` of `sent` against `percent`: the binomial 95 % interval
// sent*p +- 1.96 sqrt(sent p (1-p)).
struct LossJudgement {
  double expected = 0;
  double low = 0;
  double high = 0;
  bool ok = false;
};
LossJudgement JudgeLoss(int sent, int lost, double percent);

// TCP goodput at `rate_bps` against the basis rate x 1448/1514. A path whose
// own goodput without the condition (`base_bps`) is below 0.97 x the basis
// cannot show that rate: `carried` is false and no verdict is given.
struct RateJudgement {
  double basis_bps = 0;
  double ratio = 0;  // measured / basis
  bool carried = false;
  bool ok = false;
};
RateJudgement JudgeRate(double rate_bps, double measured_bps, double base_bps);

// "ok", "MISSED", or for a rate the path cannot carry "beyond the path".
std::string Verdict(bool ok);
std::string RateVerdict(const RateJudgement& j);

// How long an iperf3 run at `rate_bps` must be to carry `bytes`: whole
// seconds, at least `min_seconds`, at most `max_seconds` (a slow rate row
// needs more than a fast one for as stable a figure).
int IperfSecondsFor(double rate_bps, double bytes, int min_seconds,
                    int max_seconds);

// The script that makes `dev`'s egress inside a QEMU guest apply `p` with
// the guest's own kernel: the agent's GuestQdiscScript
// (agent/guest/guest_config.h: netem as root, TBF below it, or TBF alone;
// a delay distribution other than uniform as tc's `distribution NAME`,
// from the tables the guest image carries), as the agent programs a
// guest's direction with engine kernel. INVALID_ARGUMENT when `p` cannot
// be programmed (PlanForLinkParams for a guest sender), or has a
// distribution without jitter.
absl::StatusOr<std::string> GuestTcScript(const std::string& dev,
                                          const emu::v1::LinkParams& p);

}  // namespace emu::bench

#endif  // EMU_BENCH_ACCURACY_H_
