#include "linkemu/impair/netem_random.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

TEST(Prng, SameSeedSameStreamOtherSeedOther) {
  Prng a(1), b(1), c(2);
  std::vector<uint64_t> va, vb, vc;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.Next64());
    vb.push_back(b.Next64());
    vc.push_back(c.Next64());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_EQ(std::set<uint64_t>(va.begin(), va.end()).size(), 100u);
}

TEST(Prng, UniformMomentsAndBounds) {
  Prng p(99);
  const int n = 200'000;
  double sum = 0, sum2 = 0;
  std::vector<int> buckets(10, 0);
  for (int i = 0; i < n; ++i) {
    double u = p.NextDouble();
    ASSERT_GE(u, 0);
    ASSERT_LT(u, 1);
    sum += u;
    sum2 += u * u;
    ++buckets[p.Below(10)];
  }
  EXPECT_NEAR(sum / n, 0.5, 4 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
  for (int b : buckets) EXPECT_NEAR(b, n / 10, 4 * std::sqrt(n * 0.09));
}

TEST(ProbabilityFromPercent, NetemsU32Scale) {
  EXPECT_EQ(ProbabilityFromPercent(0), 0u);
  EXPECT_EQ(ProbabilityFromPercent(-1), 0u);
  EXPECT_EQ(ProbabilityFromPercent(100), UINT32_MAX);
  EXPECT_NEAR(ProbabilityFromPercent(50), UINT32_MAX / 2.0, 1);
  EXPECT_NEAR(ProbabilityFromPercent(0.1), UINT32_MAX / 1000.0, 1);
}

TEST(CorrelatedRandom, ZeroCorrelationIsThePrng) {
  Prng a(5), b(5);
  CorrelatedRandom c(0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.Next(a), b.Next32());
}

TEST(CorrelatedRandom, GetCrandomFormula) {
  Prng a(5), b(5);
  CorrelatedRandom c(50);
  uint64_t rho = uint64_t{ProbabilityFromPercent(50)} + 1;
  uint32_t last = 0;
  for (int i = 0; i < 10; ++i) {
    uint64_t u = b.Next32();
    uint32_t want = static_cast<uint32_t>(
        (u * ((uint64_t{1} << 32) - rho) + uint64_t{last} * rho) >> 32);
    EXPECT_EQ(c.Next(a), want);
    last = want;
  }
}

// Phi^-1 at the table's points, by bisection on erf.
double InverseNormal(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; ++i) {
    double mid = (lo + hi) / 2;
    if (.5 + .5 * std::erf(mid / std::sqrt(2.0)) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

TEST(DistTable, NormalIsTheInverseCdfScaledBy8192) {
  const auto& t = DistTable(DelayDistribution::kNormal);
  ASSERT_EQ(t.size(), 4096u);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  for (int k : {1, 100, 1024, 2048, 3000, 4000, 4095}) {
    // Entry k holds the last x (steps of 0.00005) whose CDF still rounds
    // to 4k/16384 (normal.c): just below Phi^-1((4k + 0.5) / 16384).
    double want = InverseNormal((4.0 * k + 0.5) / 16384) * kNetemDistScale;
    EXPECT_NEAR(t[k], want, 2) << k;
  }
  double mean = 0, var = 0;
  for (int v : t) mean += v;
  mean /= t.size();
  for (int v : t) var += (v - mean) * (v - mean);
  EXPECT_NEAR(mean / kNetemDistScale, 0, 0.01);
  EXPECT_NEAR(std::sqrt(var / t.size()) / kNetemDistScale, 1, 0.02);
}

TEST(DistTable, ParetoIsShiftedAndScaledPareto3) {
  const auto& t = DistTable(DelayDistribution::kPareto);
  ASSERT_EQ(t.size(), 4096u);
  EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
  // pareto.c: ((i/65536)^(-1/3) - 1.5) * 4/3 * 8192, i = 65536 - 16k.
  for (int k : {0, 1000, 2048, 4000}) {
    double u = (65536.0 - 16 * k) / 65536;
    double want = (std::pow(u, -1.0 / 3) - 1.5) * 4 / 3 * kNetemDistScale;
    EXPECT_NEAR(t[k], std::min(want, 32767.0), 1) << k;
  }
  EXPECT_EQ(t[0], -5461);
  EXPECT_EQ(t.back(), 32767);  // the clamped tail
}

TEST(DistTable, ParetoNormalMixesThreeQuartersPareto) {
  const auto& n = DistTable(DelayDistribution::kNormal);
  const auto& p = DistTable(DelayDistribution::kPareto);
  const auto& pn = DistTable(DelayDistribution::kParetoNormal);
  ASSERT_EQ(pn.size(), 4096u);
  // (k = 0 differs: paretonormal.c mixes the normal value before clamping
  // it to 16 bits, and the normal table's first entry is clamped.)
  for (int k : {1, 500, 2048, 3500}) {
    EXPECT_NEAR(pn[k], (n[k] + 3 * p[k]) / 4.0, 1) << k;
  }
  EXPECT_TRUE(DistTable(DelayDistribution::kUniform).empty());
}

TEST(TableDist, UniformWithoutTableAndNetemRounding) {
  std::vector<int16_t> none;
  EXPECT_EQ(TableDist(100, 0, 12345, none), 100);
  EXPECT_EQ(TableDist(100, 10, 0, none), 90);
  EXPECT_EQ(TableDist(100, 10, UINT32_MAX, none), 109);
  EXPECT_EQ(TableDist(100, 10, 1u << 31, none), 100);
  std::vector<int16_t> table = {8192, -8192, 4096, 0};
  const uint32_t quarter = 1u << 30;
  EXPECT_EQ(TableDist(1000, 100, 0, table), 1100);
  EXPECT_EQ(TableDist(1000, 100, quarter, table), 900);
  EXPECT_EQ(TableDist(1000, 100, 2 * quarter, table), 1050);
  EXPECT_EQ(TableDist(1000, 100, 3 * quarter, table), 1000);
  // sigma above the scale: integer and fractional parts as netem splits.
  EXPECT_EQ(TableDist(0, 20000, 2 * quarter, table), 10000);
}

TEST(TableDist, CloseDrawsGiveCloseDelays) {
  // What keeps get_crandom's correlation: neighbouring u32 draws land on
  // neighbouring table entries.
  const auto& t = DistTable(DelayDistribution::kNormal);
  int64_t a = TableDist(0, 8192, 0x80000000u, t);
  int64_t b = TableDist(0, 8192, 0x80100000u, t);
  EXPECT_LT(std::abs(a - b), 100);
}

}  // namespace
}  // namespace emu::linkemu
