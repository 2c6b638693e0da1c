// EngineLinks' delay compensation (compensate: true) on a fake engine and a
// fake base-latency probe.
#include "agent/impair/engine_links.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "agent/impair/testing/fake_link_engine.h"
#include "agent/tunnel/testing/fake_tap_opener.h"
#include "gtest/gtest.h"
#include "linkemu/impair/base_latency.h"

namespace emu::agent::impair {
namespace {

class FakeProbe : public linkemu::BaseLatencyProbe {
 public:
  absl::StatusOr<std::vector<int64_t>> Sample() override {
    ++calls;
    if (!fail.ok()) return fail;
    return std::vector<int64_t>(16, base_ns);
  }
  int calls = 0;
  int64_t base_ns = 80'000;
  absl::Status fail;
};

emu::v1::LinkParams Delay(uint64_t us, bool compensate) {
  emu::v1::LinkParams p;
  p.set_delay_us(us);
  p.set_compensate(compensate);
  return p;
}

class EngineLinksCompensation : public ::testing::Test {
 protected:
  EngineLinksCompensation() : base_(&probe_), links_(&engine_, &taps_, &base_) {
    spec_.link = "a:eth1<->b:eth1";
    spec_.tap_a = {"ns-a", "eth1", "", 0, "emu"};
    spec_.tap_b = {"ns-b", "eth1", "", 0, "emu"};
  }
  linkemu::ImpairmentSpec Applied(bool a_to_b) {
    auto all = engine_.links();
    EXPECT_EQ(all.size(), 1u);
    return a_to_b ? all.begin()->second.a_to_b : all.begin()->second.b_to_a;
  }

  FakeProbe probe_;
  linkemu::BaseLatency base_;
  FakeLinkEngine engine_;
  tunnel::FakeTapOpener taps_;
  EngineLinks links_;
  EngineLinkSpec spec_;
};

TEST_F(EngineLinksCompensation, SubtractsTheMeasuredBaseFromCompensatedDirections) {
  ASSERT_TRUE(links_.Create("lab1", spec_).ok());
  EXPECT_EQ(probe_.calls, 0);  // nothing compensated yet: nothing measured
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(10'000, true),
                          Delay(10'000, false))
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 9'920u);
  EXPECT_EQ(Applied(false).delay_us, 10'000u);
  auto served = links_.List("lab1");
  ASSERT_EQ(served.size(), 1u);
  EXPECT_TRUE(served[0].a_to_b.on);
  EXPECT_EQ(served[0].a_to_b.base_us, 80u);
  EXPECT_EQ(served[0].a_to_b.applied_delay_us, 9'920u);
  EXPECT_EQ(served[0].a_to_b.source, linkemu::kBaseSourceEnginePath);
  EXPECT_FALSE(served[0].b_to_a.on);

  // A live change keeps the figure measured once.
  probe_.base_ns = 500'000;
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(50, true),
                          Delay(20'000, true))
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 0u);  // never below zero
  EXPECT_EQ(Applied(false).delay_us, 19'920u);
  EXPECT_EQ(probe_.calls, 1);
}

TEST_F(EngineLinksCompensation, AGuestEndsMeasuredPartIsAddedToTheBase) {
  ASSERT_TRUE(links_.Create("lab1", spec_).ok());
  EngineLinks::PathParts parts;
  parts.a_to_b = {{true, 45'000, "guest a:eth1 ARP min RTT/2"}};
  parts.b_to_a = {{true, 45'000, "guest a:eth1 ARP min RTT/2"},
                  {false, 0, "guest b:eth1 not probed: no IPv4 address"}};
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(10'000, true),
                          Delay(10'000, true), parts)
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 9'875u);  // 80 + 45 us
  EXPECT_EQ(Applied(false).delay_us, 9'875u);
  auto served = links_.List("lab1");
  EXPECT_EQ(served[0].a_to_b.base_us, 125u);
  EXPECT_EQ(served[0].a_to_b.source,
            "engine path probe + guest a:eth1 ARP min RTT/2");
  EXPECT_EQ(served[0].b_to_a.source,
            "engine path probe + guest a:eth1 ARP min RTT/2; guest b:eth1 "
            "not probed: no IPv4 address");

  // Parts that change (a restarted guest measured anew) reach the engine
  // with the same params; without them the engine path's base alone.
  parts.a_to_b[0].ns = 60'000;
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(10'000, true),
                          Delay(10'000, true), parts)
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 9'860u);
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(10'000, true),
                          Delay(10'000, true))
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 9'920u);
  EXPECT_EQ(links_.List("lab1")[0].a_to_b.source,
            linkemu::kBaseSourceEnginePath);
  // A direction not compensated takes no part.
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(10'000, false),
                          Delay(10'000, false), parts)
                  .ok());
  EXPECT_EQ(Applied(true).delay_us, 10'000u);
  EXPECT_FALSE(links_.List("lab1")[0].a_to_b.on);
}

TEST_F(EngineLinksCompensation, ADirectionWithoutDelayNeedsNoBase) {
  ASSERT_TRUE(links_.Create("lab1", spec_).ok());
  emu::v1::LinkParams loss;
  loss.set_loss_percent(1);
  loss.set_compensate(true);
  ASSERT_TRUE(links_.Update("lab1", spec_.link, loss, loss).ok());
  EXPECT_EQ(probe_.calls, 0);
  EXPECT_FALSE(links_.List("lab1")[0].a_to_b.on);
}

TEST_F(EngineLinksCompensation, AnUnmeasurableBaseIsRefusedNamingTheLink) {
  ASSERT_TRUE(links_.Create("lab1", spec_).ok());
  ASSERT_TRUE(links_
                  .Update("lab1", spec_.link, Delay(5'000, false),
                          Delay(5'000, false))
                  .ok());
  probe_.fail = absl::UnavailableError("unshare(CLONE_NEWNET): EPERM");
  absl::Status s = links_.Update("lab1", spec_.link, Delay(10'000, true),
                                 Delay(10'000, false));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("a:eth1<->b:eth1 a-to-b: compensate"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("unshare"), std::string::npos);
  EXPECT_EQ(Applied(true).delay_us, 5'000u);  // unchanged
}

TEST(EngineLinksWithoutProbe, RefusesCompensation) {
  FakeLinkEngine engine;
  tunnel::FakeTapOpener taps;
  EngineLinks links(&engine, &taps);
  EngineLinkSpec spec;
  spec.link = "a:eth1<->b:eth1";
  spec.tap_a = {"ns-a", "eth1", "", 0, "emu"};
  spec.tap_b = {"ns-b", "eth1", "", 0, "emu"};
  spec.a_to_b = Delay(1'000, true);
  absl::Status s = links.Create("lab1", spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(engine.links().empty());
}

}  // namespace
}  // namespace emu::agent::impair
