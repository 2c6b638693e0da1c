#include "cli/format.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

TEST(ParseTimeoutTest, AcceptsDurationsAndBareSeconds) {
  struct Case {
    const char* text;
    absl::Duration want;
  } cases[] = {
      {"60s", absl::Seconds(60)},   {"500ms", absl::Milliseconds(500)},
      {"2m", absl::Minutes(2)},     {"1m30s", absl::Seconds(90)},
      {"90", absl::Seconds(90)},    {"0.5", absl::Milliseconds(500)},
      {" 10s ", absl::Seconds(10)}, {"1h", absl::Hours(1)},
  };
  for (const Case& c : cases) {
    absl::StatusOr<absl::Duration> got = ParseTimeout(c.text, "--timeout");
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseTimeoutTest, RejectsGarbageZeroAndNegative) {
  for (const char* text : {"", "abc", "10x", "0", "0s", "-5s", "-1", "inf"}) {
    absl::StatusOr<absl::Duration> got = ParseTimeout(text, "--timeout");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << text;
    if (!got.ok()) {
      EXPECT_NE(got.status().message().find("--timeout"), absl::string_view::npos);
    }
  }
}

TEST(FormatTest, Rate) {
  struct Case {
    uint64_t bps;
    const char* want;
  } cases[] = {
      {0, "-"},
      {800, "800bit/s"},
      {64000, "64kbit/s"},
      {1500000, "1.5Mbit/s"},
      {100000000, "100Mbit/s"},
      {1000000000, "1Gbit/s"},
      {2500000000ULL, "2.5Gbit/s"},
  };
  for (const Case& c : cases) EXPECT_EQ(FormatRate(c.bps), c.want) << c.bps;
}

TEST(FormatTest, Micros) {
  struct Case {
    uint64_t us;
    const char* want;
  } cases[] = {
      {0, "-"},         {1, "1us"},      {999, "999us"},
      {1000, "1ms"},    {1500, "1.5ms"}, {10000, "10ms"},
      {1000000, "1s"},  {2250000, "2.25s"},
  };
  for (const Case& c : cases) EXPECT_EQ(FormatMicros(c.us), c.want) << c.us;
}

TEST(FormatTest, Percent) {
  EXPECT_EQ(FormatPercent(0), "-");
  EXPECT_EQ(FormatPercent(0.5), "0.5%");
  EXPECT_EQ(FormatPercent(12), "12%");
  EXPECT_EQ(FormatPercent(0.125), "0.125%");
  EXPECT_EQ(FormatPercent(100), "100%");
}

TEST(FormatTest, Mib) {
  EXPECT_EQ(FormatMib(0), "-");
  EXPECT_EQ(FormatMib(512), "512MiB");
  EXPECT_EQ(FormatMib(1024), "1GiB");
  EXPECT_EQ(FormatMib(1536), "1.5GiB");
  EXPECT_EQ(FormatMib(24 * 1024), "24GiB");
}

TEST(FormatTest, Age) {
  struct Case {
    absl::Duration age;
    const char* want;
  } cases[] = {
      {absl::Seconds(-3), "0s"},
      {absl::Seconds(0), "0s"},
      {absl::Seconds(59), "59s"},
      {absl::Seconds(60), "1m"},
      {absl::Minutes(59) + absl::Seconds(59), "59m"},
      {absl::Hours(2), "2h"},
      {absl::Hours(2) + absl::Minutes(3), "2h3m"},
      {absl::Hours(24 * 3 + 4), "3d4h"},
      {absl::Hours(48), "2d"},
  };
  for (const Case& c : cases) EXPECT_EQ(FormatAge(c.age), c.want);
}

TEST(FormatTest, Duration) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(420)), "0.4s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(12345)), "12.3s");
  EXPECT_EQ(HumanDuration(absl::Seconds(65)), "1m5s");
  EXPECT_EQ(HumanDuration(absl::Seconds(3720)), "1h2m");
  EXPECT_EQ(HumanDuration(absl::Seconds(-1)), "0.0s");
}

TEST(FormatTest, Elapsed) {
  EXPECT_EQ(FormatElapsed(absl::Milliseconds(1234)), "   1.2s");
  EXPECT_EQ(FormatElapsed(absl::Seconds(125)), " 125.0s");
}

}  // namespace
}  // namespace emu::cli
