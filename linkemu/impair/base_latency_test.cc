#include "linkemu/impair/base_latency.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

TEST(BaseFromSamples, IsTheLowQuantileNotTheMedianNorTheMinimum) {
  // 80 samples 10..800 us: rank 80/8 = 10 -> the 11th smallest, 110 us.
  std::vector<int64_t> v;
  for (int i = 80; i >= 1; --i) v.push_back(i * 10'000);
  EXPECT_EQ(BaseFromSamplesNs(v), 110'000);
}

TEST(BaseFromSamples, StallsDoNotMoveIt) {
  std::vector<int64_t> v(64, 40'000);
  for (int i = 0; i < 12; ++i) v[i * 5] = 50'000'000;  // 12 stalls of 50 ms
  EXPECT_EQ(BaseFromSamplesNs(v), 40'000);
}

TEST(BaseFromSamples, IsBoundedAndNeverNegative) {
  EXPECT_EQ(BaseFromSamplesNs({}), 0);
  EXPECT_EQ(BaseFromSamplesNs({-5, -5, -5}), 0);
  EXPECT_EQ(BaseFromSamplesNs(std::vector<int64_t>(9, 30'000'000)),
            kMaxBaseNs);
}

TEST(BaseFromMinRtt, IsHalfTheRoundTripUncapped) {
  EXPECT_EQ(BaseFromMinRttNs(absl::Microseconds(52)), 26'000);
  EXPECT_EQ(BaseFromMinRttNs(absl::Microseconds(3)), 1'500);
  // Hosts 30 ms apart: 15 ms one way, above the same-host bound.
  EXPECT_EQ(BaseFromMinRttNs(absl::Milliseconds(30)), 15'000'000);
  EXPECT_GT(BaseFromMinRttNs(absl::Milliseconds(30)), kMaxBaseNs);
  EXPECT_EQ(BaseFromMinRttNs(absl::ZeroDuration()), 0);
  EXPECT_EQ(BaseFromMinRttNs(-absl::Microseconds(8)), 0);
}

TEST(CompensatedDelay, SubtractsTheBaseButNeverGoesBelowZero) {
  EXPECT_EQ(CompensatedDelayUs(10'000, 60), 9'940u);
  EXPECT_EQ(CompensatedDelayUs(50, 60), 0u);
  EXPECT_EQ(CompensatedDelayUs(0, 60), 0u);
  EXPECT_EQ(CompensatedDelayUs(10'000, 0), 10'000u);
}

class FakeProbe : public BaseLatencyProbe {
 public:
  absl::StatusOr<std::vector<int64_t>> Sample() override {
    ++calls;
    if (!fail.ok()) return fail;
    return samples;
  }
  int calls = 0;
  absl::Status fail;
  std::vector<int64_t> samples;
};

TEST(BaseWithParts, AddsTheMeasuredPartsAndNamesEveryOne) {
  const std::vector<BasePart> parts = {
      {true, 50'000, "guest vm:eth1 ARP min RTT/2"},
      {false, 0, "guest r2:eth1 not probed: no IPv4 address to ARP for"},
      {true, 7'000, "guest r3:eth2 ARP min RTT/2"}};
  EXPECT_EQ(BaseWithPartsNs(11'000, parts), 68'000);
  EXPECT_EQ(BaseSourceWithParts(kBaseSourceEnginePath, parts),
            "engine path probe + guest vm:eth1 ARP min RTT/2 + guest r3:eth2 "
            "ARP min RTT/2; guest r2:eth1 not probed: no IPv4 address to ARP "
            "for");
  // None: the base and its source as they were; a negative part adds 0.
  EXPECT_EQ(BaseWithPartsNs(11'000, {}), 11'000);
  EXPECT_EQ(BaseSourceWithParts(kBaseSourceEnginePath, {}),
            kBaseSourceEnginePath);
  EXPECT_EQ(BaseWithPartsNs(11'000, {{true, -5, "x"}}), 11'000);
}

TEST(BaseLatency, MeasuresOnceThenKeepsTheFigure) {
  FakeProbe probe;
  probe.samples = std::vector<int64_t>(16, 70'000);
  BaseLatency base(&probe);
  EXPECT_FALSE(base.MeasuredNs().has_value());
  ASSERT_EQ(*base.Ns(), 70'000);
  probe.samples = std::vector<int64_t>(16, 900'000);  // a later, busier host
  EXPECT_EQ(*base.Ns(), 70'000);
  EXPECT_EQ(*base.MeasuredNs(), 70'000);
  EXPECT_EQ(probe.calls, 1);
}

TEST(BaseLatency, AFailedMeasurementIsNotKept) {
  FakeProbe probe;
  probe.fail = absl::UnavailableError("unshare: Operation not permitted");
  BaseLatency base(&probe);
  absl::StatusOr<int64_t> first = base.Ns();
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.status().message().find("base latency"), std::string::npos);
  EXPECT_NE(first.status().message().find("unshare"), std::string::npos);
  probe.fail = absl::OkStatus();
  probe.samples = {};
  EXPECT_EQ(base.Ns().status().code(), absl::StatusCode::kUnavailable);
  probe.samples = {20'000, 20'000};
  EXPECT_EQ(*base.Ns(), 20'000);
  EXPECT_EQ(probe.calls, 3);
}

}  // namespace
}  // namespace emu::linkemu
