#include "linkemu/link_param_text.h"

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

TEST(LinkParamTextTest, EveryKeySetsItsField) {
  const struct {
    const char* key;
    const char* text;
    const char* field;
  } cases[] = {
      {"rate", "10mbit", "rate_bps"},
      {"burst", "32kb", "burst_bytes"},
      {"delay", "20ms", "delay_us"},
      {"jitter", "2ms", "jitter_us"},
      {"delay-correlation", "25%", "delay_correlation_percent"},
      {"distribution", "pareto", "delay_distribution"},
      {"loss", "1%", "loss_percent"},
      {"loss-correlation", "25%", "loss_correlation_percent"},
      {"gilbert-elliott", "1%,25%", "gilbert_elliott"},
      {"duplicate", "0.1%", "duplicate_percent"},
      {"duplicate-correlation", "5%", "duplicate_correlation_percent"},
      {"reorder", "1%", "reorder_percent"},
      {"reorder-correlation", "5%", "reorder_correlation_percent"},
      {"reorder-gap", "5", "reorder_gap"},
      {"corrupt", "0.01%", "corrupt_percent"},
      {"corrupt-correlation", "5%", "corrupt_correlation_percent"},
      {"ber", "1e-6", "bit_error_rate"},
      {"limit", "500", "limit_packets"},
      {"limit-bytes", "1mb", "limit_bytes"},
      {"overhead", "-4b", "overhead_bytes"},
      {"engine", "userspace", "engine"},
      {"compensate", "true", "compensate"},
  };
  EXPECT_EQ(LinkParamKeys().size(), sizeof(cases) / sizeof(cases[0]));
  for (const auto& c : cases) {
    emu::v1::LinkParams p;
    auto field = SetLinkParamFromText(c.key, c.text, &p);
    ASSERT_TRUE(field.ok()) << c.key << ": " << field.status();
    EXPECT_EQ(*field, c.field);
    const auto* d = emu::v1::LinkParams::descriptor()->FindFieldByName(*field);
    ASSERT_NE(d, nullptr) << *field;
    EXPECT_TRUE(p.GetReflection()->HasField(p, d)) << c.key;
  }
}

TEST(LinkParamTextTest, ValuesInTheirUnits) {
  emu::v1::LinkParams p;
  ASSERT_TRUE(SetLinkParamFromText("delay", "1.5ms", &p).ok());
  EXPECT_EQ(p.delay_us(), 1500u);
  ASSERT_TRUE(SetLinkParamFromText("ber", "2.5e-7", &p).ok());
  EXPECT_DOUBLE_EQ(p.bit_error_rate(), 2.5e-7);
  ASSERT_TRUE(SetLinkParamFromText("overhead", "-4b", &p).ok());
  EXPECT_EQ(p.overhead_bytes(), -4);
  ASSERT_TRUE(SetLinkParamFromText("gilbert-elliott", "1%,25%,90%,0.5%", &p).ok());
  EXPECT_EQ(p.gilbert_elliott().p_percent(), 1);
  EXPECT_EQ(p.gilbert_elliott().r_percent(), 25);
  EXPECT_EQ(p.gilbert_elliott().loss_in_bad_percent(), 90);
  EXPECT_EQ(p.gilbert_elliott().loss_in_good_percent(), 0.5);
  ASSERT_TRUE(SetLinkParamFromText("gilbert-elliott", "2%,10%", &p).ok());
  EXPECT_EQ(p.gilbert_elliott().loss_in_bad_percent(), 100);  // default
  EXPECT_EQ(p.gilbert_elliott().loss_in_good_percent(), 0);
}

TEST(LinkParamTextTest, BadValuesAndKeys) {
  emu::v1::LinkParams p;
  for (const auto& [key, text] : std::vector<std::pair<const char*, const char*>>{
           {"delay", "10"},
           {"ber", "1e6"},
           {"ber", "1%"},
           {"ber", "2"},
           {"limit", "-1"},
           {"reorder-gap", "five"},
           {"engine", "fast"},
           {"compensate", "yes"},
           {"distribution", "gauss"},
           {"gilbert-elliott", "1%"},
           {"loss", "101%"}}) {
    auto s = SetLinkParamFromText(key, text, &p);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument)
        << key << " " << text;
  }
  EXPECT_EQ(SetLinkParamFromText("speed", "1", &p).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace emu::linkemu
