#include "bench/accuracy.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Percentile, RankOfQTimesN) {
  std::vector<int64_t> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 0.5), 51);
  EXPECT_EQ(Percentile(v, 0.99), 100);
  EXPECT_EQ(Percentile(v, 0), 1);
  EXPECT_EQ(Percentile({}, 0.5), 0);
}

TEST(SpreadOf, MeanAndSampleStddev) {
  Spread s = SpreadOf({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(s.n, 8u);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_NEAR(s.stddev, std::sqrt(32.0 / 7), 1e-12);
  EXPECT_EQ(SpreadOf({}).n, 0u);
  EXPECT_EQ(SpreadOf({7}).stddev, 0);
}

Spread At(double p50, double p99) {
  Spread s;
  s.n = 100;
  s.p50 = p50;
  s.p99 = p99;
  return s;
}

TEST(JudgeDelay, ErrorsAgainstConfiguredAndNetOfTheBase) {
  // 10 ms configured; the path alone: p50 300 us, p99 900 us.
  DelayJudgement j = JudgeDelay(10e6, At(10.34e6, 11.0e6), At(300e3, 900e3));
  EXPECT_DOUBLE_EQ(j.p50_error, 340e3);
  EXPECT_DOUBLE_EQ(j.p99_error, 1.0e6);
  EXPECT_DOUBLE_EQ(j.p50_net_error, 40e3);
  EXPECT_DOUBLE_EQ(j.p99_net_error, 100e3);
  EXPECT_DOUBLE_EQ(j.p50_goal, 100e3);  // 1 % of 10 ms
  EXPECT_DOUBLE_EQ(j.p99_goal, 300e3);  // 3 %
  EXPECT_TRUE(j.ok);
  // 1 ms: the goals' floors (50 / 200 us) apply.
  j = JudgeDelay(1e6, At(1.36e6, 2.0e6), At(300e3, 900e3));
  EXPECT_DOUBLE_EQ(j.p50_goal, 50e3);
  EXPECT_DOUBLE_EQ(j.p99_goal, 200e3);
  EXPECT_FALSE(j.p50_ok);  // p50 net 60 us
  EXPECT_FALSE(j.ok);
  EXPECT_TRUE(j.p99_ok);  // p99 net 100 us
  // A figure below the configured one misses as well (early frames).
  EXPECT_FALSE(JudgeDelay(10e6, At(10.1e6, 10.5e6), At(300e3, 900e3)).ok);
  EXPECT_FALSE(JudgeDelay(10e6, Spread{}, Spread{}).ok);  // nothing received
}

TEST(JudgeJitter, TakesThePathsOwnSpreadOff) {
  Spread m, b;
  m.n = b.n = 1000;
  m.stddev = 10.05e6;
  b.stddev = 1e6;
  JitterJudgement j = JudgeJitter(10e6, m, b);
  EXPECT_NEAR(j.net_stddev, std::sqrt(10.05e6 * 10.05e6 - 1e12), 1);
  EXPECT_TRUE(j.ok);
  m.stddev = 11e6;
  EXPECT_FALSE(JudgeJitter(10e6, m, b).ok);  // +9.5 %
  b.stddev = 12e6;                           // a path noisier than the row
  EXPECT_EQ(JudgeJitter(10e6, m, b).net_stddev, 0);
  EXPECT_FALSE(JudgeJitter(10e6, m, b).ok);
}

TEST(JudgeLoss, BinomialInterval) {
  LossJudgement j = JudgeLoss(100000, 1000, 1.0);
  EXPECT_DOUBLE_EQ(j.expected, 1000);
  EXPECT_NEAR(j.high - j.expected, 1.96 * std::sqrt(990.0), 1e-9);
  EXPECT_TRUE(j.ok);
  EXPECT_TRUE(JudgeLoss(100000, 1060, 1.0).ok);
  EXPECT_FALSE(JudgeLoss(100000, 1070, 1.0).ok);
  EXPECT_FALSE(JudgeLoss(100000, 930, 1.0).ok);
  EXPECT_FALSE(JudgeLoss(0, 0, 1.0).ok);
}

TEST(JudgeRate, BasisAndWhatThePathCarries) {
  RateJudgement j = JudgeRate(10e6, 9.5e6, 900e6);
  EXPECT_NEAR(j.basis_bps, 10e6 * 1448 / 1514, 1e-6);
  EXPECT_NEAR(j.ratio, 9.5e6 / j.basis_bps, 1e-12);
  EXPECT_TRUE(j.carried);
  EXPECT_TRUE(j.ok);
  EXPECT_EQ(RateVerdict(j), "ok");
  EXPECT_FALSE(JudgeRate(10e6, 9.0e6, 900e6).ok);  // 0.941
  // A guest that carries 300 Mbit/s unconditioned cannot show 1 Gbit/s.
  j = JudgeRate(1e9, 290e6, 300e6);
  EXPECT_FALSE(j.carried);
  EXPECT_FALSE(j.ok);
  EXPECT_EQ(RateVerdict(j), "beyond the path");
  EXPECT_EQ(RateVerdict(JudgeRate(1e6, 0.5e6, 300e6)), "MISSED");
}

TEST(IperfSecondsFor, SlowRatesRunLongEnoughToCarryTheBytes) {
  // 1.5 MB: 12 s at 1 Mbit/s, 2 s at 6 Mbit/s (so the minimum), capped.
  EXPECT_EQ(IperfSecondsFor(1e6, 1.5e6, 3, 30), 12);
  EXPECT_EQ(IperfSecondsFor(6e6, 1.5e6, 3, 30), 3);
  EXPECT_EQ(IperfSecondsFor(1e9, 1.5e6, 3, 30), 3);
  EXPECT_EQ(IperfSecondsFor(0.1e6, 1.5e6, 3, 30), 30);
  EXPECT_EQ(IperfSecondsFor(0.9e6, 1.5e6, 3, 30), 14);  // rounded up
}

TEST(GuestTcScript, TheAgentsScriptWithADistribution) {
  emu::v1::LinkParams p;
  p.set_delay_us(50'000);
  p.set_jitter_us(10'000);
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_NORMAL);
  auto s = GuestTcScript("eth1", p);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(*s, HasSubstr("netem delay 50000us 10000us distribution normal\n"));
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_UNIFORM);
  s = GuestTcScript("eth1", p);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(*s, Not(HasSubstr("distribution")));
  EXPECT_THAT(*s, HasSubstr("netem delay 50000us 10000us\n"));
  emu::v1::LinkParams rate;
  rate.set_rate_bps(10'000'000);
  s = GuestTcScript("eth1", rate);
  ASSERT_TRUE(s.ok());
  EXPECT_THAT(*s, HasSubstr("root handle 10: tbf rate 10000000bit"));
  EXPECT_THAT(*s, Not(HasSubstr("netem")));
  emu::v1::LinkParams no_jitter;
  no_jitter.set_delay_us(1000);
  no_jitter.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_NORMAL);
  EXPECT_FALSE(GuestTcScript("eth1", no_jitter).ok());
  emu::v1::LinkParams bad;
  bad.set_loss_percent(150);
  EXPECT_FALSE(GuestTcScript("eth1", bad).ok());
}

}  // namespace
}  // namespace emu::bench
