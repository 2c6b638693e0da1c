#include "linkemu/qdisc_plan.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

using ::testing::HasSubstr;

emu::v1::LinkParams Params(const std::string& text) {
  emu::v1::LinkParams p;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &p)) << text;
  return p;
}

TEST(PlanForLinkParamsTest, AllZeroIsEmpty) {
  auto plan = PlanForLinkParams(emu::v1::LinkParams());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->empty());
  EXPECT_FALSE(plan->needs_netem());
  EXPECT_EQ(plan->DebugString(), "none");
  EXPECT_TRUE(LayoutFor(*plan).empty());
}

struct TbfCase {
  std::string params;
  uint64_t rate_bytes;
  uint32_t burst;
  uint32_t limit;
};

TEST(PlanForLinkParamsTest, TbfDerivation) {
  const TbfCase cases[] = {
      // 1 kbit/s: two-frame bucket, 16-frame queue floor.
      {"rate_bps: 1000", 125, 3028, 16 * 1514},
      // 10 Mbit/s: rate/250 = 5000 bytes; 50 ms = 62500 bytes.
      {"rate_bps: 10000000", 1250000, 5000, 62500},
      // 1 Mbit/s: rate/250 = 500 < 3028 -> 3028; 50 ms = 6250 < 24224.
      {"rate_bps: 1000000", 125000, 3028, 24224},
      {"rate_bps: 100000000", 12500000, 50000, 625000},
      {"rate_bps: 1000000000", 125000000, 500000, 6250000},
      {"rate_bps: 10000000000", 1250000000, 5000000, 62500000},
      // An explicit burst wins.
      {"rate_bps: 10000000 burst_bytes: 1514", 1250000, 1514, 62500},
      {"rate_bps: 10000000 burst_bytes: 100000", 1250000, 100000, 62500},
      // Not a multiple of 8: bytes round down.
      {"rate_bps: 1000007", 125000, 3028, 24224},
  };
  for (const TbfCase& c : cases) {
    auto plan = PlanForLinkParams(Params(c.params));
    ASSERT_TRUE(plan.ok()) << c.params << ": " << plan.status();
    EXPECT_FALSE(plan->netem.has_value()) << c.params;
    ASSERT_TRUE(plan->tbf.has_value()) << c.params;
    EXPECT_EQ(plan->tbf->rate_bytes_per_sec, c.rate_bytes) << c.params;
    EXPECT_EQ(plan->tbf->burst_bytes, c.burst) << c.params;
    EXPECT_EQ(plan->tbf->limit_bytes, c.limit) << c.params;
  }
}

TEST(PlanForLinkParamsTest, NetemFields) {
  auto plan = PlanForLinkParams(Params(
      "delay_us: 10000 jitter_us: 2000 delay_correlation_percent: 25 "
      "loss_percent: 1.5 loss_correlation_percent: 10 duplicate_percent: 0.5 "
      "reorder_percent: 5 corrupt_percent: 0.1 limit_packets: 5000"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->netem.has_value());
  EXPECT_FALSE(plan->tbf.has_value());
  EXPECT_TRUE(plan->needs_netem());
  const NetemSpec& n = *plan->netem;
  EXPECT_EQ(n.delay_us, 10000u);
  EXPECT_EQ(n.jitter_us, 2000u);
  EXPECT_EQ(n.delay_correlation_percent, 25);
  EXPECT_EQ(n.loss_percent, 1.5);
  EXPECT_EQ(n.loss_correlation_percent, 10);
  EXPECT_EQ(n.duplicate_percent, 0.5);
  EXPECT_EQ(n.reorder_percent, 5);
  EXPECT_EQ(n.corrupt_percent, 0.1);
  EXPECT_EQ(n.limit_packets, 5000u);
  EXPECT_EQ(plan->DebugString(),
            "netem(delay 10ms jitter 2ms 25% loss 1.5% 10% duplicate 0.5% "
            "reorder 5% corrupt 0.1% limit 5000p)");
}

TEST(PlanForLinkParamsTest, WhichFieldsNeedNetem) {
  const char* netem_fields[] = {
      "delay_us: 1",          "loss_percent: 0.001",
      "duplicate_percent: 1", "corrupt_percent: 1",
      "limit_packets: 10",    "delay_us: 5 reorder_percent: 1",
  };
  for (const char* f : netem_fields) {
    auto plan = PlanForLinkParams(Params(f));
    ASSERT_TRUE(plan.ok()) << f << ": " << plan.status();
    EXPECT_TRUE(plan->needs_netem()) << f;
    EXPECT_FALSE(plan->tbf.has_value()) << f;
  }
  auto rate_only = PlanForLinkParams(Params("rate_bps: 5000000"));
  ASSERT_TRUE(rate_only.ok());
  EXPECT_FALSE(rate_only->needs_netem());
}

TEST(PlanForLinkParamsTest, BothAndLayout) {
  auto plan = PlanForLinkParams(Params("rate_bps: 10000000 delay_us: 20000"));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_TRUE(plan->netem && plan->tbf);
  EXPECT_EQ(plan->DebugString(),
            "netem(delay 20ms) + tbf(rate 10Mbit/s burst 5000b limit 62500b)");
  std::vector<QdiscInfo> want = {{"netem", 0x10000, kRootParent},
                                 {"tbf", 0xA0000, 0x10001}};
  EXPECT_EQ(LayoutFor(*plan), want);

  auto tbf_only = PlanForLinkParams(Params("rate_bps: 10000000"));
  ASSERT_TRUE(tbf_only.ok());
  std::vector<QdiscInfo> want_tbf = {{"tbf", 0x10000, kRootParent}};
  EXPECT_EQ(LayoutFor(*tbf_only), want_tbf);

  auto netem_only = PlanForLinkParams(Params("loss_percent: 1"));
  ASSERT_TRUE(netem_only.ok());
  std::vector<QdiscInfo> want_netem = {{"netem", 0x10000, kRootParent}};
  EXPECT_EQ(LayoutFor(*netem_only), want_netem);
}

struct ErrorCase {
  std::string params;
  std::string message_part;
};

TEST(PlanForLinkParamsTest, InvalidParams) {
  const ErrorCase cases[] = {
      {"loss_percent: 101", "loss 101% is outside 0%..100%"},
      {"loss_percent: -1", "loss -1% is outside 0%..100%"},
      {"loss_percent: nan", "loss nan% is outside 0%..100%"},
      {"delay_us: 10 duplicate_percent: 200", "duplicate 200%"},
      {"delay_us: 10 corrupt_percent: 100.5", "corrupt 100.5%"},
      {"delay_us: 10 reorder_percent: 1000", "reorder 1000%"},
      {"jitter_us: 10", "jitter 10us without delay"},
      {"delay_us: 10 jitter_us: 11", "jitter 11us exceeds delay 10us"},
      {"delay_us: 10 delay_correlation_percent: 5",
       "delay-correlation needs jitter"},
      {"loss_correlation_percent: 5", "loss-correlation needs loss"},
      {"reorder_percent: 5", "reorder without delay"},
      {"delay_us: 60000001", "delay 60.000001s is above 60s"},
      // What the adversarial run found the controller accepting and the
      // agent refusing (issue 15): 500bit, 40gbit, burst 3gib, delay 61s.
      {"rate_bps: 500", "rate 500bit/s is below 1kbit/s"},
      {"rate_bps: 999", "rate 999bit/s is below"},
      {"rate_bps: 34359738361", "is above 34.35973836Gbit/s"},
      {"rate_bps: 40000000000", "rate 40Gbit/s is above"},
      {"rate_bps: 10000000 burst_bytes: 3221225472",
       "burst 3GiB is above 2147483647b"},
      {"delay_us: 61000000", "delay 61s is above 60s"},
      {"rate_bps: 10000000 burst_bytes: 1513",
       "burst 1513b is smaller than one full-size frame"},
      {"rate_bps: 1000 burst_bytes: 2000000", "takes more than 100 s"},
      {"burst_bytes: 5000", "burst 5000b without rate"},
      {"rate_bps: 10000000000 burst_bytes: 20000",
       "burst 20000b lasts under 20 us"},
  };
  for (const ErrorCase& c : cases) {
    auto plan = PlanForLinkParams(Params(c.params));
    ASSERT_FALSE(plan.ok()) << c.params;
    EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument)
        << c.params;
    EXPECT_THAT(std::string(plan.status().message()), HasSubstr(c.message_part))
        << c.params;
  }
}

// Every problem is reported, not only the first, so one `validate` run
// shows them all.
TEST(LinkParamsProblemsTest, ReportsEveryProblem) {
  EXPECT_TRUE(LinkParamsProblems(Params("rate_bps: 10000000")).empty());
  std::vector<std::string> problems = LinkParamsProblems(
      Params("rate_bps: 500 delay_us: 61000000 loss_percent: 101"));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_THAT(problems[0], HasSubstr("rate 500bit/s"));
  EXPECT_THAT(problems[1], HasSubstr("loss 101%"));
  EXPECT_THAT(problems[2], HasSubstr("delay 61s"));
  auto plan = PlanForLinkParams(
      Params("rate_bps: 500 delay_us: 61000000 loss_percent: 101"));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().message(), absl::StrJoin(problems, "; "));
}

TEST(PlanForLinkParamsTest, LimitsAreInclusive) {
  EXPECT_TRUE(PlanForLinkParams(Params("rate_bps: 1000")).ok());
  EXPECT_TRUE(PlanForLinkParams(Params("rate_bps: 34359738360")).ok());
  EXPECT_TRUE(PlanForLinkParams(Params("delay_us: 60000000")).ok());
  EXPECT_TRUE(PlanForLinkParams(Params("delay_us: 10 jitter_us: 10")).ok());
  EXPECT_TRUE(PlanForLinkParams(Params("loss_percent: 100")).ok());
  // 25000 bytes at 1.25 GB/s is exactly 20 us.
  EXPECT_TRUE(
      PlanForLinkParams(Params("rate_bps: 10000000000 burst_bytes: 25000"))
          .ok());
}

TEST(PercentToNetemProbabilityTest, Table) {
  struct Case {
    double percent;
    uint32_t want;
  };
  const Case cases[] = {
      {0, 0},
      {-5, 0},
      {100, 0xFFFFFFFFu},
      {150, 0xFFFFFFFFu},
      {50, 2147483648u},  // rint(0.5 * 4294967295) = 2147483648 (ties even)
      {1, 42949673u},     // rint(42949672.95)
      {0.1, 4294967u},    // rint(4294967.295)
      {25, 1073741824u},  // rint(1073741823.75)
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PercentToNetemProbability(c.percent), c.want) << c.percent;
  }
}

TEST(FormatTcHandleTest, Table) {
  EXPECT_EQ(FormatTcHandle(0x10000), "1:");
  EXPECT_EQ(FormatTcHandle(0xA0000), "a:");
  EXPECT_EQ(FormatTcHandle(0x10001), "1:1");
  EXPECT_EQ(FormatTcHandle(0xFFFFFFFF), "root");
  EXPECT_EQ(FormatTcHandle(0), "none");
}

TEST(QdiscPlanTest, Equality) {
  auto a = PlanForLinkParams(Params("rate_bps: 10000000 delay_us: 5"));
  auto b = PlanForLinkParams(Params("rate_bps: 10000000 delay_us: 5"));
  auto c = PlanForLinkParams(Params("rate_bps: 10000000 delay_us: 6"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

}  // namespace
}  // namespace emu::linkemu
