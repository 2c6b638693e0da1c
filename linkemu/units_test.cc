#include "linkemu/units.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

struct Good {
  const char* text;
  uint64_t want;
};

struct Bad {
  const char* text;
  const char* message_part;  // must appear in the error message
};

TEST(ParseRateTest, AcceptsTcBitUnits) {
  const Good kCases[] = {
      {"10mbit", 10'000'000},
      {"100Mbit", 100'000'000},
      {"1gbit", 1'000'000'000},
      {"512kbit", 512'000},
      {"10000bit", 10'000},
      {"1.5gbit", 1'500'000'000},
      {"2tbit", 2'000'000'000'000},
      {"1kibit", 1024},
      {"1mibit", 1024 * 1024},
      {"10Mbit/s", 10'000'000},
      {"0bit", 0},
      {"0.0005kbit", 1},  // rounds to the nearest bit
  };
  for (const Good& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseRate(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseRateTest, RejectsBareNumbersBytesPerSecondAndJunk) {
  const Bad kCases[] = {
      {"10", "say 10mbit"},
      {"10mbps", "bad rate \"10mbps\""},
      {"10mbps", "megaBYTES"},
      {"10mbps", "write 10mbit"},
      {"10mbps", "80mbit"},
      {"10MBps", "MBps"},
      {"10Mbps", "ambiguous"},
      {"1.5gbps", "12gbit"},
      {"100bps", "ambiguous"},
      {"10 mbit", "no spaces"},
      {"-1mbit", "negative"},
      {"+1mbit", "sign"},
      {"mbit", "expected a number"},
      {"", "empty"},
      {"1e6bit", "unknown unit 'e6bit'"},
      {"10mb", "unknown unit 'mb'"},
      {"1.mbit", "digits after"},
      {"99999999999999999999tbit", "too large"},
  };
  for (const Bad& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseRate(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " parsed as " << *got;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << got.status().message();
  }
}

TEST(ParseDurationUsTest, AcceptsTcTimeUnits) {
  const Good kCases[] = {
      {"10ms", 10'000},   {"250us", 250},      {"1s", 1'000'000},
      {"1.5ms", 1'500},   {"2sec", 2'000'000}, {"3msecs", 3'000},
      {"7usec", 7},       {"0ms", 0},          {"2000ns", 2},
      {"0.001ms", 1},
  };
  for (const Good& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseDurationUs(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseDurationUsTest, RejectsSpacesNegativesAndBareNumbers) {
  const Bad kCases[] = {
      {"5 ms", "bad duration \"5 ms\": no spaces"},
      {"-1ms", "negative"},
      {"10", "say 10ms"},
      {"10MS", "unknown unit 'MS'"},
      {"10m", "unknown unit 'm'"},
      {"1.5us", "resolution"},
      {"1500ns", "resolution"},
  };
  for (const Bad& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseDurationUs(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " parsed as " << *got;
    EXPECT_NE(got.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << got.status().message();
  }
}

TEST(ParsePercentTest, AcceptsPercentagesAndBareZero) {
  struct {
    const char* text;
    double want;
  } const kCases[] = {
      {"0.1%", 0.1}, {"5%", 5}, {"100%", 100}, {"0%", 0},
      {"0", 0},      {"0.0", 0}, {"25%", 25},  {"99.999%", 99.999},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<double> got = ParsePercent(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_DOUBLE_EQ(*got, c.want) << c.text;
  }
}

TEST(ParsePercentTest, RejectsOutOfRangeAndBareNumbers) {
  const Bad kCases[] = {
      {"-1%", "bad percentage \"-1%\": must not be negative"},
      {"100.1%", "between 0% and 100%"},
      {"150%", "between 0% and 100%"},
      {"5", "say 5%"},
      {"0.5", "say 0.5%"},
      {"5 %", "no spaces"},
      {"5pct", "unknown unit 'pct'"},
      {"%", "expected a number"},
  };
  for (const Bad& c : kCases) {
    absl::StatusOr<double> got = ParsePercent(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " parsed as " << *got;
    EXPECT_NE(got.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << got.status().message();
  }
}

TEST(ParseSizeBytesTest, AcceptsTcAndBinaryUnits) {
  const Good kCases[] = {
      {"1500b", 1500},
      {"32kb", 32 * 1024},
      {"32k", 32 * 1024},
      {"64KiB", 64 * 1024},
      {"1MiB", 1024 * 1024},
      {"256MiB", 256ull * 1024 * 1024},
      {"1GiB", 1024ull * 1024 * 1024},
      {"1Gb", 1024ull * 1024 * 1024},  // containerlab/docker memory spelling
      {"1.5kb", 1536},
      {"2TiB", 2ull * 1024 * 1024 * 1024 * 1024},
  };
  for (const Good& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseSizeBytes(c.text);
    ASSERT_TRUE(got.ok()) << c.text << ": " << got.status();
    EXPECT_EQ(*got, c.want) << c.text;
  }
}

TEST(ParseSizeBytesTest, RejectsBareNumbersAndBitUnits) {
  const Bad kCases[] = {
      {"1500", "say 1500b"},
      {"32kbit", "unknown unit 'kbit'"},
      {"-1kb", "negative"},
      {"1.3b", "whole number of bytes"},
      {"32 kb", "no spaces"},
  };
  for (const Bad& c : kCases) {
    absl::StatusOr<uint64_t> got = ParseSizeBytes(c.text);
    ASSERT_FALSE(got.ok()) << c.text << " parsed as " << *got;
    EXPECT_NE(got.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << got.status().message();
  }
}

TEST(FormatTest, WritesShortExactText) {
  EXPECT_EQ(FormatRate(10'000'000), "10Mbit/s");
  EXPECT_EQ(FormatRate(1'500'000'000), "1.5Gbit/s");
  EXPECT_EQ(FormatRate(512'000), "512kbit/s");
  EXPECT_EQ(FormatRate(999), "999bit/s");
  EXPECT_EQ(FormatRate(1'234'567), "1.234567Mbit/s");
  EXPECT_EQ(FormatDurationUs(10'000), "10ms");
  EXPECT_EQ(FormatDurationUs(1'500), "1.5ms");
  EXPECT_EQ(FormatDurationUs(250), "250us");
  EXPECT_EQ(FormatDurationUs(1'000'000), "1s");
  EXPECT_EQ(FormatDurationUs(0), "0us");
  EXPECT_EQ(FormatPercent(0.1), "0.1%");
  EXPECT_EQ(FormatPercent(25), "25%");
  EXPECT_EQ(FormatSizeBytes(32 * 1024), "32KiB");
  EXPECT_EQ(FormatSizeBytes(1500), "1500b");
  EXPECT_EQ(FormatSizeBytes(256ull * 1024 * 1024), "256MiB");
}

TEST(FormatTest, ParsersReadFormattedValuesBack) {
  const uint64_t kValues[] = {0,         1,          999,           1000,
                              1'234'567, 10'000'000, 1'500'000'001, 7'000'000'000'000};
  for (uint64_t v : kValues) {
    EXPECT_EQ(*ParseRate(FormatRate(v)), v) << FormatRate(v);
    EXPECT_EQ(*ParseDurationUs(FormatDurationUs(v)), v) << FormatDurationUs(v);
    EXPECT_EQ(*ParseSizeBytes(FormatSizeBytes(v)), v) << FormatSizeBytes(v);
  }
  EXPECT_DOUBLE_EQ(*ParsePercent(FormatPercent(0.25)), 0.25);
}

}  // namespace
}  // namespace emu::linkemu
