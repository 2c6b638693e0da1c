#include "linkemu/impair/netem_random.h"

#include <climits>
#include <cmath>

namespace emu::linkemu {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// iproute2 netem/maketable: TABLESIZE 16384 points of the inverse CDF, of
// which every 4th is printed (4096 values).
constexpr int kTableSize = 16384;
constexpr int kPrinted = kTableSize / 4;

int16_t Clamp16(double v) {
  if (v < SHRT_MIN) v = SHRT_MIN;
  if (v > SHRT_MAX) v = SHRT_MAX;
  return static_cast<int16_t>(std::lrint(v));
}

// normal.c: walk x over [-10, 10.05) in steps of 0.00005 and record, for
// each i = rint(TABLESIZE * Phi(x)), the last x that rounds there.
std::vector<double> NormalInverse() {
  std::vector<double> table(kTableSize + 1, 0.0);
  // iproute2 accumulates x += .00005 in a double; do the same so the
  // recorded points are bit-for-bit the ones its loop visits.
  for (double x = -10.0; x < 10.05; x += .00005) {
    double cdf = .5 + .5 * std::erf(x / std::sqrt(2.0));
    long i = std::lrint(kTableSize * cdf);
    table[i] = x;
  }
  return table;
}

// pareto.c / paretonormal.c's paretovalue(): a = 3, shifted by its mean
// 1.5 and scaled by 4/3 so the table has mean ~0 and unit-ish spread.
double ParetoValue(int i /* 0..TABLESIZE step 4 */) {
  double u = static_cast<double>(65536 - 4 * i) / 65536.0;
  double v = 1.0 / std::pow(u, 1.0 / 3.0);
  v -= 1.5;
  v *= (4.0 / 3.0) * kNetemDistScale;
  if (v > 32767) v = 32767;
  return std::rint(v);
}

std::vector<int16_t> MakeNormal() {
  std::vector<double> inv = NormalInverse();
  std::vector<int16_t> out;
  out.reserve(kPrinted);
  for (int i = 0; i < kTableSize; i += 4) {
    out.push_back(Clamp16(std::rint(inv[i] * kNetemDistScale)));
  }
  return out;
}

std::vector<int16_t> MakePareto() {
  // pareto.c: for (i = 65536; i > 0; i -= 16) value(i / 65536).
  std::vector<int16_t> out;
  out.reserve(kPrinted);
  for (int i = 0; i < kPrinted; ++i) {
    out.push_back(static_cast<int16_t>(ParetoValue(4 * i)));
  }
  return out;
}

std::vector<int16_t> MakeParetoNormal() {
  // paretonormal.c: (normal + 3 * pareto) / 4 in integer arithmetic.
  std::vector<double> inv = NormalInverse();
  std::vector<int16_t> out;
  out.reserve(kPrinted);
  for (int i = 0; i < kTableSize; i += 4) {
    int norm = static_cast<int>(std::lrint(inv[i] * kNetemDistScale));
    int par = static_cast<int>(ParetoValue(i));
    out.push_back(Clamp16((norm + 3 * par) / 4));
  }
  return out;
}

}  // namespace

Prng::Prng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) s = SplitMix64(x);
}

uint64_t Prng::Next64() {
  uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Prng::Below(uint64_t n) {
  return static_cast<uint64_t>(
      (static_cast<unsigned __int128>(Next64()) * n) >> 64);
}

uint32_t ProbabilityFromPercent(double percent) {
  if (!(percent > 0)) return 0;
  if (percent >= 100) return UINT32_MAX;
  return static_cast<uint32_t>(std::lrint(percent / 100.0 * UINT32_MAX));
}

uint32_t CorrelatedRandom::Next(Prng& prng) {
  uint32_t value = prng.Next32();
  if (rho_ == 0) return value;
  uint64_t rho = uint64_t{rho_} + 1;
  uint32_t answer = static_cast<uint32_t>(
      (uint64_t{value} * ((uint64_t{1} << 32) - rho) + uint64_t{last_} * rho) >>
      32);
  last_ = answer;
  return answer;
}

const std::vector<int16_t>& DistTable(DelayDistribution d) {
  static const std::vector<int16_t>* const kEmpty = new std::vector<int16_t>();
  static const std::vector<int16_t>* const kNormal =
      new std::vector<int16_t>(MakeNormal());
  static const std::vector<int16_t>* const kPareto =
      new std::vector<int16_t>(MakePareto());
  static const std::vector<int16_t>* const kParetoNormal =
      new std::vector<int16_t>(MakeParetoNormal());
  switch (d) {
    case DelayDistribution::kUniform:
      return *kEmpty;
    case DelayDistribution::kNormal:
      return *kNormal;
    case DelayDistribution::kPareto:
      return *kPareto;
    case DelayDistribution::kParetoNormal:
      return *kParetoNormal;
  }
  return *kEmpty;
}

int64_t TableDist(int64_t mu, int64_t sigma, uint32_t rnd,
                  const std::vector<int16_t>& table) {
  if (sigma == 0) return mu;
  // netem indexes with rnd % n, which keeps only rnd's low bits and so
  // throws get_crandom's correlation away (consecutive correlated values
  // share their high bits); scaling by n keeps it.
  if (table.empty()) {
    return static_cast<int64_t>((uint64_t{rnd} * (2 * static_cast<uint64_t>(
                                                       sigma))) >> 32) +
           mu - sigma;
  }
  int64_t t = table[(uint64_t{rnd} * table.size()) >> 32];
  int64_t x = (sigma % kNetemDistScale) * t;
  if (x >= 0) {
    x += kNetemDistScale / 2;
  } else {
    x -= kNetemDistScale / 2;
  }
  return x / kNetemDistScale + (sigma / kNetemDistScale) * t + mu;
}

}  // namespace emu::linkemu
