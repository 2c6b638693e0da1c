#include "linkemu/engine_choice.h"

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

using emu::v1::LinkParams;

constexpr SenderSide kNoNetem{/*netem=*/false, /*userspace=*/true};
constexpr SenderSide kNetem{/*netem=*/true, /*userspace=*/true};
constexpr SenderSide kOldAgent{/*netem=*/false, /*userspace=*/false};
constexpr SenderSide kGuest{false, true, /*guest=*/true};

LinkParams Delay(uint64_t us) {
  LinkParams p;
  p.set_delay_us(us);
  return p;
}

EngineUse Choose(
    const LinkParams& p, const SenderSide& s,
    emu::v1::LinkEngineChoice lab = emu::v1::LINK_ENGINE_UNSPECIFIED,
    bool lab_compensate = false) {
  auto e = ChooseDirectionEngine(p, lab, lab_compensate, s);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *e : EngineUse::kNone;
}

TEST(EngineChoiceTest, AutoUsesTheKernelWhereItCanAndTheEngineElsewhere) {
  LinkParams rate;
  rate.set_rate_bps(10'000'000);
  EXPECT_EQ(Choose(rate, kNoNetem), EngineUse::kKernel);  // TBF is there
  EXPECT_EQ(Choose(Delay(10'000), kNetem), EngineUse::kKernel);
  EXPECT_EQ(Choose(Delay(10'000), kNoNetem), EngineUse::kUserspace);
  EXPECT_EQ(Choose(LinkParams(), kNoNetem), EngineUse::kNone);
}

TEST(EngineChoiceTest, UserspaceOnlyConditionsTakeTheEngineEvenWithNetem) {
  LinkParams p = Delay(10'000);
  p.set_jitter_us(1000);
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_PARETO);
  EXPECT_EQ(Choose(p, kNetem), EngineUse::kUserspace);
  LinkParams ber;
  ber.set_bit_error_rate(1e-6);
  EXPECT_EQ(Choose(ber, kNetem), EngineUse::kUserspace);
}

TEST(EngineChoiceTest, CompensatedDelaysTakeTheEngineEvenWithNetem) {
  // The lab's compensate: true: NetEm would apply the delay in full.
  EXPECT_EQ(Choose(Delay(10'000), kNetem, emu::v1::LINK_ENGINE_UNSPECIFIED,
                   /*lab_compensate=*/true),
            EngineUse::kUserspace);
  // The direction's own compensate wins over the lab's, both ways.
  LinkParams off = Delay(10'000);
  off.set_compensate(false);
  EXPECT_EQ(Choose(off, kNetem, emu::v1::LINK_ENGINE_UNSPECIFIED, true),
            EngineUse::kKernel);
  LinkParams on = Delay(10'000);
  on.set_compensate(true);
  EXPECT_EQ(Choose(on, kNetem), EngineUse::kUserspace);
  // Nothing to compensate without a delay: rate alone stays TBF.
  LinkParams rate;
  rate.set_rate_bps(10'000'000);
  rate.set_compensate(true);
  EXPECT_EQ(Choose(rate, kNetem), EngineUse::kKernel);
  // Explicit engine kernel keeps the kernel (qdisc_plan refuses the pair).
  on.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  EXPECT_EQ(Choose(on, kNetem), EngineUse::kKernel);
  // An agent without the engine: the kernel, uncompensated, as before.
  constexpr SenderSide kOldAgentWithNetem{/*netem=*/true, /*userspace=*/false};
  EXPECT_EQ(Choose(Delay(10'000), kOldAgentWithNetem,
                   emu::v1::LINK_ENGINE_UNSPECIFIED, true),
            EngineUse::kKernel);
  // A VXLAN direction is never compensated, so compensation adds no
  // problem there.
  EXPECT_EQ(VxlanDirectionProblem(on, emu::v1::LINK_ENGINE_UNSPECIFIED, kNetem),
            "");
  // Both directions of a same-host link.
  emu::v1::Link link;
  *link.mutable_a_to_b() = Delay(10'000);
  *link.mutable_b_to_a() = Delay(10'000);
  auto both = ChooseLinkEngines(link, emu::v1::LINK_ENGINE_UNSPECIFIED,
                                /*lab_compensate=*/true, kNetem, kNetem);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->a_to_b, EngineUse::kUserspace);
  EXPECT_EQ(both->b_to_a, EngineUse::kUserspace);
}

TEST(EngineChoiceTest, ExplicitChoicesAndTheLabDefault) {
  LinkParams p = Delay(10'000);
  p.set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  EXPECT_EQ(Choose(p, kNetem), EngineUse::kUserspace);
  // The lab's engine applies where the direction names none.
  EXPECT_EQ(Choose(Delay(10'000), kNetem, emu::v1::LINK_ENGINE_USERSPACE),
            EngineUse::kUserspace);
  // The direction's own wins over the lab's.
  p.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  EXPECT_EQ(Choose(p, kNetem, emu::v1::LINK_ENGINE_USERSPACE),
            EngineUse::kKernel);
  auto refused = ChooseDirectionEngine(p, emu::v1::LINK_ENGINE_UNSPECIFIED,
                                       false, kNoNetem);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("sch_netem"),
            absl::string_view::npos)
      << refused.status();
}

TEST(EngineChoiceTest, AnAgentWithoutTheEngineIsRefusedWhatOnlyItCouldDo) {
  auto e = ChooseDirectionEngine(
      Delay(10'000), emu::v1::LINK_ENGINE_UNSPECIFIED, false, kOldAgent);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("no userspace engine"),
            absl::string_view::npos)
      << e.status();
  LinkParams rate;
  rate.set_rate_bps(10'000'000);
  EXPECT_EQ(Choose(rate, kOldAgent), EngineUse::kKernel);
}

TEST(EngineChoiceTest, GuestSendersTakeTheEngineAsNamespacesDo) {
  // AUTO, no sch_netem on the host: the engine, as for a namespace.
  EXPECT_EQ(Choose(Delay(10'000), kGuest), EngineUse::kUserspace);
  LinkParams p = Delay(10'000);
  p.set_engine(emu::v1::LINK_ENGINE_USERSPACE);
  EXPECT_EQ(Choose(p, kGuest), EngineUse::kUserspace);
  LinkParams ber;
  ber.set_bit_error_rate(1e-6);
  EXPECT_EQ(Choose(ber, kGuest), EngineUse::kUserspace);
  // Rate alone stays TBF, as for a namespace.
  LinkParams rate;
  rate.set_rate_bps(10'000'000);
  EXPECT_EQ(Choose(rate, kGuest), EngineUse::kKernel);
  // A host with sch_netem: the kernel (the guest's own NetEm).
  constexpr SenderSide kGuestOnNetemHost{true, true, /*guest=*/true};
  EXPECT_EQ(Choose(Delay(10'000), kGuestOnNetemHost), EngineUse::kKernel);
  // Engine kernel: the guest's NetEm even where the host has none.
  p.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  EXPECT_EQ(Choose(p, kGuest), EngineUse::kKernel);
  // ... which has no BER.
  ber.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  auto refused = ChooseDirectionEngine(ber, emu::v1::LINK_ENGINE_UNSPECIFIED,
                                       false, kGuest);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("ber"), absl::string_view::npos)
      << refused.status();
  // An agent without the engine leaves NetEm's conditions to the guest and
  // refuses what only the engine does.
  constexpr SenderSide kGuestOldAgent{false, false, /*guest=*/true};
  EXPECT_EQ(Choose(Delay(10'000), kGuestOldAgent), EngineUse::kKernel);
  EXPECT_FALSE(ChooseDirectionEngine(Delay(10'000),
                                     emu::v1::LINK_ENGINE_USERSPACE, false,
                                     kGuestOldAgent)
                   .ok());
  // A distribution (and the other netem extras): the guest's own NetEm
  // with engine kernel, or auto without the engine beside it; a host's
  // kernel never.
  LinkParams dist = Delay(10'000);
  dist.set_jitter_us(2'000);
  dist.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_NORMAL);
  EXPECT_EQ(Choose(dist, kGuest), EngineUse::kUserspace);
  EXPECT_EQ(Choose(dist, kGuestOldAgent), EngineUse::kKernel);
  ber.set_engine(emu::v1::LINK_ENGINE_UNSPECIFIED);
  EXPECT_FALSE(ChooseDirectionEngine(ber, emu::v1::LINK_ENGINE_UNSPECIFIED,
                                     /*lab_compensate=*/false, kGuestOldAgent)
                   .ok());
  dist.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  EXPECT_EQ(Choose(dist, kGuest), EngineUse::kKernel);
  EXPECT_TRUE(LinkParamsProblems(dist, emu::v1::LINK_ENGINE_UNSPECIFIED,
                                 /*guest_sender=*/true)
                  .empty());
  EXPECT_FALSE(LinkParamsProblems(dist).empty());
}

TEST(EngineChoiceTest, AGuestLinkIsATapLinkServedByTheEngineBothWays) {
  // netns a -> guest b with a delay, guest b -> a with loss: both
  // directions through the engine (the guest's end a TAP wired to its NIC).
  emu::v1::Link link;
  *link.mutable_a_to_b() = Delay(20'000);
  link.mutable_b_to_a()->set_loss_percent(1);
  auto e = ChooseLinkEngines(link, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                             kNoNetem, kGuest);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->userspace_link());
  EXPECT_EQ(e->a_to_b, EngineUse::kUserspace);
  EXPECT_EQ(e->b_to_a, EngineUse::kUserspace);
  // Only the direction the guest receives has conditions: still a TAP link,
  // the guest's direction passed through by the engine.
  emu::v1::Link in;
  *in.mutable_a_to_b() = Delay(20'000);
  auto i = ChooseLinkEngines(in, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                             kNoNetem, kGuest);
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_EQ(i->b_to_a, EngineUse::kUserspace);
  // Guest to guest.
  auto g = ChooseLinkEngines(link, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                             kGuest, kGuest);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->userspace_link());
  // The guest's direction with engine kernel: its NetEm inside the guest,
  // the engine passing its frames through.
  link.mutable_b_to_a()->set_engine(emu::v1::LINK_ENGINE_KERNEL);
  auto k = ChooseLinkEngines(link, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                             kNoNetem, kGuest);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->a_to_b, EngineUse::kUserspace);
  EXPECT_EQ(k->b_to_a, EngineUse::kKernel);
}

TEST(EngineChoiceTest, ALinkWithOneEngineDirectionIsATapLinkBothWays) {
  emu::v1::Link link;
  *link.mutable_a_to_b() = Delay(20'000);
  link.mutable_b_to_a()->set_rate_bps(10'000'000);
  auto both = ChooseLinkEngines(link, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                                kNoNetem, kNoNetem);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_TRUE(both->userspace_link());
  EXPECT_EQ(both->a_to_b, EngineUse::kUserspace);
  // Rate only, AUTO: TBF on b's TAP, the engine passing the frames on.
  EXPECT_EQ(both->b_to_a, EngineUse::kKernel);

  emu::v1::Link clean;
  *clean.mutable_a_to_b() = Delay(20'000);
  auto c = ChooseLinkEngines(clean, emu::v1::LINK_ENGINE_UNSPECIFIED, false,
                             kNoNetem, kNoNetem);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->b_to_a, EngineUse::kUserspace);  // passed through by it
}

// carrier: vxlan: only what the sender's kernel applies; the same words
// for the controller's placement and the agent.
TEST(EngineChoiceTest, AVxlanDirectionTakesOnlyKernelConditions) {
  const auto kAuto = emu::v1::LINK_ENGINE_UNSPECIFIED;
  LinkParams rate;
  rate.set_rate_bps(10'000'000);
  EXPECT_EQ(VxlanDirectionProblem(rate, kAuto, kNoNetem), "");
  EXPECT_EQ(VxlanDirectionProblem(LinkParams(), kAuto, kNoNetem), "");
  EXPECT_EQ(VxlanDirectionProblem(Delay(5'000), kAuto, kNetem), "");
  const std::string no_netem =
      VxlanDirectionProblem(Delay(5'000), kAuto, kNoNetem);
  EXPECT_NE(no_netem.find("carrier vxlan"), std::string::npos) << no_netem;
  EXPECT_NE(no_netem.find("no sch_netem"), std::string::npos) << no_netem;
  // engine: userspace asks for what the device cannot take, NetEm or not.
  EXPECT_NE(VxlanDirectionProblem(Delay(5'000), emu::v1::LINK_ENGINE_USERSPACE,
                                  kNetem),
            "");
  // ... but with no conditions nothing needs the engine.
  EXPECT_EQ(VxlanDirectionProblem(LinkParams(), emu::v1::LINK_ENGINE_USERSPACE,
                                  kNetem),
            "");
  // A key only the engine has.
  LinkParams ber;
  ber.set_bit_error_rate(1e-6);
  EXPECT_NE(VxlanDirectionProblem(ber, kAuto, kNetem), "");
  // What the sender cannot do at all is said as ChooseDirectionEngine says it.
  EXPECT_NE(VxlanDirectionProblem(Delay(5'000), kAuto, kOldAgent).find("NetEm"),
            std::string::npos);
}

TEST(EngineChoiceTest, ImpairmentSpecCarriesEveryCondition) {
  LinkParams p;
  p.set_rate_bps(50'000'000);
  p.set_burst_bytes(10000);
  p.set_delay_us(20'000);
  p.set_jitter_us(2'000);
  p.set_delay_correlation_percent(25);
  p.set_delay_distribution(emu::v1::DELAY_DISTRIBUTION_NORMAL);
  p.mutable_gilbert_elliott()->set_p_percent(1);
  p.mutable_gilbert_elliott()->set_r_percent(30);
  p.mutable_gilbert_elliott()->set_loss_in_bad_percent(90);
  p.mutable_gilbert_elliott()->set_loss_in_good_percent(0.5);
  p.set_duplicate_percent(0.1);
  p.set_duplicate_correlation_percent(5);
  p.set_corrupt_percent(0.01);
  p.set_corrupt_correlation_percent(6);
  p.set_bit_error_rate(1e-6);
  p.set_reorder_percent(1);
  p.set_reorder_correlation_percent(7);
  p.set_reorder_gap(5);
  p.set_overhead_bytes(-4);
  p.set_limit_packets(500);
  p.set_limit_bytes(1 << 20);
  ImpairmentSpec s = ImpairmentSpecFor(p);
  EXPECT_EQ(s.rate_bps, 50'000'000u);
  EXPECT_EQ(s.burst_bytes, 10000u);
  EXPECT_EQ(s.delay_us, 20'000u);
  EXPECT_EQ(s.jitter_us, 2'000u);
  EXPECT_EQ(s.delay_correlation_percent, 25);
  EXPECT_EQ(s.distribution, DelayDistribution::kNormal);
  ASSERT_TRUE(s.gilbert_elliott.has_value());
  EXPECT_EQ(s.gilbert_elliott->p_percent, 1);
  EXPECT_EQ(s.gilbert_elliott->r_percent, 30);
  EXPECT_EQ(s.gilbert_elliott->loss_in_bad_percent, 90);
  EXPECT_EQ(s.gilbert_elliott->loss_in_good_percent, 0.5);
  EXPECT_EQ(s.duplicate_percent, 0.1);
  EXPECT_EQ(s.duplicate_correlation_percent, 5);
  EXPECT_EQ(s.corrupt_percent, 0.01);
  EXPECT_EQ(s.corrupt_correlation_percent, 6);
  EXPECT_EQ(s.bit_error_rate, 1e-6);
  EXPECT_EQ(s.reorder_percent, 1);
  EXPECT_EQ(s.reorder_correlation_percent, 7);
  EXPECT_EQ(s.reorder_gap, 5u);
  EXPECT_EQ(s.overhead_bytes, -4);
  EXPECT_EQ(s.limit_packets, 500u);
  EXPECT_EQ(s.limit_bytes, uint64_t{1} << 20);
  EXPECT_FALSE(ImpairmentSpecFor(Delay(1)).gilbert_elliott.has_value());
}

TEST(EngineChoiceTest, LinkSeedsAreStableAndDifferPerLink) {
  EXPECT_EQ(LinkSeed(42, "a:eth1<->b:eth1", 1),
            LinkSeed(42, "a:eth1<->b:eth1", 2));
  EXPECT_NE(LinkSeed(42, "a:eth1<->b:eth1", 1),
            LinkSeed(42, "c:eth1<->d:eth1", 1));
  EXPECT_NE(LinkSeed(42, "a:eth1<->b:eth1", 1),
            LinkSeed(43, "a:eth1<->b:eth1", 1));
  // No lab seed: the fallback decides.
  EXPECT_NE(LinkSeed(0, "a:eth1<->b:eth1", 1),
            LinkSeed(0, "a:eth1<->b:eth1", 2));
}

}  // namespace
}  // namespace emu::linkemu
