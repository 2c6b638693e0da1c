#include "controller/experiment/clock_offset.h"

#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

absl::Time At(int64_t us) { return absl::FromUnixMicros(us); }

TEST(ClockOffsetEstimatorTest, NoSampleIsUnknown) {
  ClockOffsetEstimator e;
  EXPECT_EQ(e.estimate().samples, 0);
  EXPECT_EQ(e.estimate().bound, absl::InfiniteDuration());
  EXPECT_EQ(e.estimate().offset, absl::ZeroDuration());
}

TEST(ClockOffsetEstimatorTest, SymmetricPathGivesTheExactOffset) {
  ClockOffsetEstimator e;
  // Agent 5000 us ahead; 100 us each way; 20 us in the agent.
  e.Add(At(1000), At(1000 + 100 + 5000), At(1000 + 120 + 5000), At(1000 + 220));
  EXPECT_EQ(e.estimate().offset, absl::Microseconds(5000));
  EXPECT_EQ(e.estimate().bound, absl::Microseconds(100));
  EXPECT_EQ(e.estimate().samples, 1);
}

TEST(ClockOffsetEstimatorTest, ShortestRoundTripWinsAndBoundsTheError) {
  ClockOffsetEstimator e;
  // Agent 3000 us behind. A sample delayed 900 us on the way out only: its
  // offset is off by 450 us, within its bound of 500 us.
  e.Add(At(0), At(-3000 + 1000), At(-3000 + 1000), At(1100));
  EXPECT_EQ(e.estimate().offset, absl::Microseconds(-2550));
  EXPECT_EQ(e.estimate().bound, absl::Microseconds(550));
  // A quick one replaces it.
  e.Add(At(2000), At(-3000 + 2050), At(-3000 + 2060), At(2110));
  EXPECT_EQ(e.estimate().offset, absl::Microseconds(-3000));
  EXPECT_EQ(e.estimate().bound, absl::Microseconds(50));
  // A slower one later does not.
  e.Add(At(3000), At(-3000 + 3400), At(-3000 + 3400), At(3500));
  EXPECT_EQ(e.estimate().offset, absl::Microseconds(-3000));
  EXPECT_EQ(e.estimate().samples, 3);
}

TEST(ClockOffsetEstimatorTest, ContradictorySamplesAreIgnored) {
  ClockOffsetEstimator e;
  e.Add(At(100), At(50), At(40), At(200));  // agent answered before receiving
  e.Add(At(100), At(150), At(160), At(90));  // received before sent
  EXPECT_EQ(e.estimate().samples, 0);
}

}  // namespace
}  // namespace emu::controller::experiment
