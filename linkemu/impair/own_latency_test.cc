#include "linkemu/impair/own_latency.h"

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

constexpr int64_t kUs = 1000;
constexpr int64_t kT0 = 5'000'000'000;

TEST(OwnLatency, NothingUntilAQuarterWindowThenTheEstimate) {
  OwnLatency o;
  for (size_t i = 0; i + 1 < OwnLatency::kWindow / 4; ++i) {
    o.Record(kT0, kT0 + 300 * kUs);
    EXPECT_EQ(o.estimate_ns(), 0) << i;
  }
  o.Record(kT0, kT0 + 300 * kUs);
  EXPECT_EQ(o.estimate_ns(), 300 * kUs);
}

TEST(OwnLatency, SpikesOfABusyHostDoNotMoveTheEstimate) {
  OwnLatency o;
  for (int i = 0; i < 200; ++i) {
    // One sample in five is a 40 ms scheduling stall.
    int64_t late = i % 5 == 4 ? 40'000 * kUs : 250 * kUs + (i % 3) * kUs;
    o.Record(kT0 + i * 1000 * kUs, kT0 + i * 1000 * kUs + late);
  }
  EXPECT_GE(o.estimate_ns(), 250 * kUs);
  EXPECT_LE(o.estimate_ns(), 252 * kUs);
}

TEST(OwnLatency, VaryingLatenessGivesItsLowEndNotItsMiddle) {
  // Lateness spread evenly over 100..410 us: a median (255 us) would send
  // every frame less late than that early; the estimate is the 5th of 32.
  OwnLatency o;
  for (int i = 0; i < 64; ++i) {
    o.Record(kT0, kT0 + 100 * kUs + (i % 32) * 10 * kUs);
  }
  EXPECT_EQ(o.estimate_ns(), 140 * kUs);
}

TEST(OwnLatency, FollowsAChangeWithinAWindow) {
  OwnLatency o;
  for (int i = 0; i < 64; ++i) o.Record(kT0, kT0 + 100 * kUs);
  EXPECT_EQ(o.estimate_ns(), 100 * kUs);
  for (size_t i = 0; i < OwnLatency::kWindow; ++i) o.Record(kT0, kT0 + 400 * kUs);
  EXPECT_EQ(o.estimate_ns(), 400 * kUs);
}

TEST(OwnLatency, BoundedNeverNegativeNeverMoreThanTheDelay) {
  OwnLatency o;
  for (int i = 0; i < 64; ++i) o.Record(kT0, kT0 - 50 * kUs);  // "early"
  EXPECT_EQ(o.estimate_ns(), 0);
  EXPECT_EQ(o.Compensation(10'000 * kUs), 0);
  for (int i = 0; i < 64; ++i) o.Record(kT0, kT0 + 30'000 * kUs);
  EXPECT_EQ(o.estimate_ns(), OwnLatency::kMaxNs);  // at most 2 ms
  EXPECT_EQ(o.Compensation(10'000 * kUs), OwnLatency::kMaxNs);
  EXPECT_EQ(o.Compensation(500 * kUs), 500 * kUs);  // never below 0 delay
  EXPECT_EQ(o.Compensation(0), 0);
  o.Reset();
  EXPECT_EQ(o.estimate_ns(), 0);
  EXPECT_EQ(o.samples(), 0u);
}

}  // namespace
}  // namespace emu::linkemu
