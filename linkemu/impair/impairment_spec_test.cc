#include "linkemu/impair/impairment_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

using testing::ElementsAre;
using testing::HasSubstr;
using testing::IsEmpty;

TEST(ImpairmentSpec, EqualityCoversEveryField) {
  ImpairmentSpec a, b;
  EXPECT_EQ(a, b);
  b.reorder_gap = 3;
  EXPECT_NE(a, b);
  b = a;
  b.overhead_bytes = -4;
  EXPECT_NE(a, b);
  b = a;
  b.distribution = DelayDistribution::kPareto;
  EXPECT_NE(a, b);
  b = a;
  b.gilbert_elliott = GilbertElliott{};
  EXPECT_NE(a, b);
  a.gilbert_elliott = GilbertElliott{};
  EXPECT_EQ(a, b);
  b.gilbert_elliott->r_percent = 50;
  EXPECT_NE(a, b);
}

TEST(ImpairmentSpec, PassThrough) {
  ImpairmentSpec s;
  EXPECT_TRUE(s.IsPassThrough());
  s.limit_packets = 10;
  s.limit_bytes = 100;
  s.burst_bytes = 3000;
  s.delay_correlation_percent = 20;
  EXPECT_TRUE(s.IsPassThrough());
  for (auto set : std::vector<void (*)(ImpairmentSpec&)>{
           [](ImpairmentSpec& x) { x.delay_us = 1; },
           [](ImpairmentSpec& x) { x.jitter_us = 1; },
           [](ImpairmentSpec& x) { x.loss_percent = 0.1; },
           [](ImpairmentSpec& x) { x.duplicate_percent = 1; },
           [](ImpairmentSpec& x) { x.corrupt_percent = 1; },
           [](ImpairmentSpec& x) { x.bit_error_rate = 1e-9; },
           [](ImpairmentSpec& x) { x.rate_bps = 1000; },
           [](ImpairmentSpec& x) {
             x.gilbert_elliott = GilbertElliott{1, 10, 100, 0};
           },
       }) {
    ImpairmentSpec t;
    set(t);
    EXPECT_FALSE(t.IsPassThrough());
  }
  ImpairmentSpec never_bad;
  never_bad.gilbert_elliott = GilbertElliott{0, 100, 100, 0};
  EXPECT_TRUE(never_bad.IsPassThrough());
}

TEST(ImpairmentSpec, ProblemsNameTheField) {
  EXPECT_THAT(ImpairmentSpecProblems(ImpairmentSpec{}), IsEmpty());
  ImpairmentSpec s;
  s.loss_percent = 120;
  s.bit_error_rate = 2;
  EXPECT_THAT(ImpairmentSpecProblems(s),
              ElementsAre(HasSubstr("loss_percent 120"),
                          HasSubstr("bit_error_rate 2")));
  ImpairmentSpec r;
  r.reorder_percent = 10;
  EXPECT_THAT(ImpairmentSpecProblems(r),
              ElementsAre(HasSubstr("reordering needs a delay")));
  ImpairmentSpec d;
  d.delay_us = kMaxImpairDelayUs + 1;
  d.gilbert_elliott = GilbertElliott{-1, 10, 100, 0};
  EXPECT_THAT(ImpairmentSpecProblems(d),
              ElementsAre(HasSubstr("gilbert_elliott.p_percent"),
                          HasSubstr("delay_us")));
}

}  // namespace
}  // namespace emu::linkemu
