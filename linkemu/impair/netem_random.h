// The random draws of netem (net/sched/sch_netem.c), reproduced on a PRNG
// the engine owns so a link's behaviour is a function of its seed:
//
//  * Prng: xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/),
//    seeded through splitmix64 as its authors recommend. Not
//    cryptographic; fast and with no observable bias at the sample sizes a
//    link sees.
//  * CorrelatedRandom: netem's get_crandom(): with correlation rho (a u32,
//    UINT32_MAX = 100 %), next = (u * (2^32 - rho') + last * rho') >> 32,
//    rho' = rho + 1, u uniform. Correlation 0 returns u itself.
//  * ProbabilityFromPercent: netem's u32 probability; an event "happens"
//    when probability >= a draw, as in netem (so 100 % always happens and
//    0 % never does).
//  * Delay tables: iproute2's netem/maketable family (normal.c, pareto.c,
//    paretonormal.c) computes 4096-entry inverse-CDF tables scaled by
//    NETEM_DIST_SCALE (8192) that `tc` loads into the kernel; DistTable
//    computes the same tables from the same formulas (see the .cc), and
//    TableDist is netem's tabledist(): mu + sigma * table[index] / 8192
//    with netem's rounding, or uniform mu +/- sigma without a table. One
//    deliberate difference: netem picks the index (and the uniform offset)
//    as rnd % n, which keeps only the low bits of a correlated draw and so
//    loses the correlation; here it is (rnd * n) >> 32, which keeps it.
//
// Value types; not thread-safe (each link direction owns its own).
#ifndef EMU_LINKEMU_IMPAIR_NETEM_RANDOM_H_
#define EMU_LINKEMU_IMPAIR_NETEM_RANDOM_H_

#include <cstdint>
#include <vector>

#include "linkemu/impair/impairment_spec.h"

namespace emu::linkemu {

class Prng {
 public:
  explicit Prng(uint64_t seed);
  uint64_t Next64();
  uint32_t Next32() { return static_cast<uint32_t>(Next64() >> 32); }
  // Uniform in [0, 1) with 53 bits.
  double NextDouble() { return (Next64() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t Below(uint64_t n);

 private:
  uint64_t s_[4];
};

// netem's u32 probability for a percentage 0..100.
uint32_t ProbabilityFromPercent(double percent);

class CorrelatedRandom {
 public:
  CorrelatedRandom() = default;
  explicit CorrelatedRandom(double correlation_percent)
      : rho_(ProbabilityFromPercent(correlation_percent)) {}
  // Keeps the last value (a live change of correlation continues the chain).
  void SetCorrelation(double correlation_percent) {
    rho_ = ProbabilityFromPercent(correlation_percent);
  }
  uint32_t Next(Prng& prng);

 private:
  uint32_t rho_ = 0;
  uint32_t last_ = 0;
};

inline constexpr int kNetemDistScale = 8192;  // NETEM_DIST_SCALE

// The 4096 values of iproute2's table for `d` (kUniform: empty, netem has
// no table for it). Computed once, shared, immutable.
const std::vector<int16_t>& DistTable(DelayDistribution d);

// netem's tabledist(mu, sigma, ...): one delay draw in the unit of mu and
// sigma, `rnd` a (correlated) u32 draw. `table` empty = uniform in
// [mu - sigma, mu + sigma).
int64_t TableDist(int64_t mu, int64_t sigma, uint32_t rnd,
                  const std::vector<int16_t>& table);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_IMPAIR_NETEM_RANDOM_H_
