// The reconciler's same-host links served by the userspace engine, against
// FakeHostNetwork (a kernel without sch_netem), fake TAPs that appear as
// interfaces, and a FakeLinkEngine. No root needed.
#include <unistd.h>

#include <memory>
#include <string>

#include "agent/impair/engine_links.h"
#include "agent/impair/testing/fake_link_engine.h"
#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "agent/net/testing/no_processes.h"
#include "agent/node/testing/fake_node_driver.h"
#include "agent/reconcile/reconciler.h"
#include "agent/reconcile/testing/net_tap_opener.h"
#include "agent/reconcile/testing/reconciler_fixture.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"
#include "linkemu/engine_choice.h"
#include "linkemu/impair/base_latency.h"

namespace emu::agent::reconcile {
namespace {

using net::NoProcesses;

// What the reconciler last asked a guest driver to program inside `end`
// ("node:interface"): the plan's DebugString, "" if never asked.
std::string InGuest(node::testing::FakeNodeDriver& guest,
                    const std::string& end) {
  std::string last;
  for (const auto& e : guest.egress()) {
    const std::string prefix = "lab/" + end + " ";
    if (e.rfind(prefix, 0) == 0) last = e.substr(prefix.size());
  }
  return last;
}

constexpr char kLink[] = "a:eth1<->b:eth1";

// a:eth1 <-> b:eth1 on host h1, 20 ms each way (examples/netem.yaml's kind
// of link).
emu::v1::ApplyLabRequest Spec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  spec.set_seed(7);
  for (const char* n : {"a", "b"}) {
    auto* node = spec.add_nodes();
    node->set_name(n);
    auto* i = node->add_interfaces();
    i->set_name("eth1");
    i->add_addresses(std::string(n) == "a" ? "10.0.0.1/24" : "10.0.0.2/24");
    i->set_mac(std::string(n) == "a" ? "02:00:00:00:00:0a"
                                     : "02:00:00:00:00:0b");
  }
  auto* l = spec.add_links();
  l->mutable_a()->set_node("a");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("b");
  l->mutable_b()->set_interface("eth1");
  l->mutable_a_to_b()->set_delay_us(20'000);
  l->mutable_a_to_b()->set_loss_percent(1);
  l->mutable_b_to_a()->set_delay_us(20'000);
  return spec;
}

class ReconcilerEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestSpecDir("engine");
    auto store = LabSpecStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    store_ = std::make_unique<LabSpecStore>(*std::move(store));
    net_.set_features(testing::NoNetemKernel());
    StartAgent();
  }

  // A (re)started agent: a fresh engine and reconciler over the same host
  // and saved specs.
  void StartAgent() {
    rec_.reset();
    links_.reset();
    engine_ = std::make_unique<impair::FakeLinkEngine>();
    links_ = std::make_unique<impair::EngineLinks>(engine_.get(), &taps_,
                                                   base_);
    rec_ = std::make_unique<Reconciler>("h1", &net_, &launcher_, &procs_,
                                        store_.get(), *net_.ProbeKernel(),
                                        nullptr, links_.get());
  }

  absl::Status Apply(const emu::v1::ApplyLabRequest& spec) {
    events_.clear();
    return rec_->Apply(spec, [this](const emu::v1::ApplyLabEvent& e) {
      events_.push_back(e);
    });
  }

  std::string Ns(const std::string& node) {
    return net::NamespaceName("h1", "lab", node);
  }

  impair::FakeLinkEngine::Link OnlyEngineLink() {
    auto links = engine_->links();
    EXPECT_EQ(links.size(), 1u);
    return links.empty() ? impair::FakeLinkEngine::Link()
                         : links.begin()->second;
  }

  emu::v1::SetLinkParamsRequest SetReq(const emu::v1::LinkParams& ab,
                                       const emu::v1::LinkParams& ba) {
    return testing::SetLinkReq(Spec().links(0).a(), Spec().links(0).b(), ab,
                               ba);
  }

  std::string dir_;
  net::FakeHostNetwork net_;
  NetTapOpener taps_{&net_};
  FakeProcessLauncher launcher_;
  NoProcesses procs_;
  std::unique_ptr<LabSpecStore> store_;
  std::unique_ptr<impair::FakeLinkEngine> engine_;
  std::unique_ptr<impair::EngineLinks> links_;
  std::unique_ptr<Reconciler> rec_;
  std::vector<emu::v1::ApplyLabEvent> events_;
  linkemu::BaseLatency* base_ = nullptr;  // compensation's figure, if any
};

// A path whose base is always 100 us: compensation without real TAPs.
using testing::FixedBaseProbe;

TEST_F(ReconcilerEngineTest, DelayWithoutNetemIsServedByTheEngineOnTwoTaps) {
  ASSERT_TRUE(Apply(Spec()).ok());
  auto link = OnlyEngineLink();
  EXPECT_EQ(link.a_to_b.delay_us, 20'000u);
  EXPECT_EQ(link.a_to_b.loss_percent, 1);
  EXPECT_EQ(link.b_to_a.delay_us, 20'000u);
  EXPECT_EQ(link.seed, linkemu::LinkSeed(7, kLink, 0));
  // The ends: TAPs in each node's namespace, final names, MACs, the
  // engine alias; no qdisc of ours (the engine applies everything).
  const std::string alias = net::EngineLinkAlias("lab", Spec().links(0));
  auto tap_a = taps_.SpecOf(Ns("a"), "eth1");
  EXPECT_EQ(tap_a.mac, "02:00:00:00:00:0a");
  EXPECT_EQ(tap_a.alias, alias);
  auto a = net_.GetInterface(Ns("a"), "eth1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->alias, alias);
  EXPECT_EQ(a->addresses.size() >= 1, true);
  EXPECT_FALSE(net_.AppliedPlan(Ns("a"), "eth1").has_value());
  EXPECT_FALSE(net_.AppliedPlan(Ns("b"), "eth1").has_value());
  bool shaped = false;
  for (const auto& e : events_) {
    shaped = shaped || (e.kind() == emu::v1::ApplyLabEvent::LINK_SHAPED &&
                        e.detail().find("userspace engine") != std::string::npos);
  }
  EXPECT_TRUE(shaped);
}

TEST_F(ReconcilerEngineTest, ReapplyingChangesNothing) {
  ASSERT_TRUE(Apply(Spec()).ok());
  const int changes = net_.changes();
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(engine_->adds(), 1);
  EXPECT_EQ(OnlyEngineLink().updates, 1);  // the first apply's conditions
  EXPECT_EQ(net_.changes(), changes);
}

TEST_F(ReconcilerEngineTest, ARestartedAgentRebuildsItsEngineLinks) {
  ASSERT_TRUE(Apply(Spec()).ok());
  StartAgent();  // the TAPs died with the old agent's fds
  auto recovered = rec_->RecoverAll([](const std::string&) {});
  EXPECT_EQ(recovered, std::vector<std::string>{"lab"});
  EXPECT_EQ(engine_->adds(), 1);
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 20'000u);
}

TEST_F(ReconcilerEngineTest, RateOnlyLinksKeepTheirVethAndTbf) {
  auto spec = Spec();
  spec.mutable_links(0)->clear_a_to_b();
  spec.mutable_links(0)->clear_b_to_a();
  spec.mutable_links(0)->mutable_a_to_b()->set_rate_bps(10'000'000);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(engine_->adds(), 0);
  ASSERT_TRUE(net_.Peer(Ns("a"), "eth1").has_value());
  EXPECT_EQ(net_.Peer(Ns("a"), "eth1")->first, Ns("b"));
  auto plan = net_.AppliedPlan(Ns("a"), "eth1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->tbf.has_value());
}

TEST_F(ReconcilerEngineTest, LiveChangesUpdateTheEngineOrMoveTheLink) {
  ASSERT_TRUE(Apply(Spec()).ok());
  emu::v1::LinkParams fifty;
  fifty.set_delay_us(50'000);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(fifty, fifty)).ok());
  EXPECT_EQ(engine_->adds(), 1);  // not torn down
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 50'000u);
  EXPECT_EQ(OnlyEngineLink().a_to_b.loss_percent, 0);
  // Saved: a reconcile keeps the change.
  ASSERT_TRUE(Apply(*store_->Load("lab")).ok());
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 50'000u);

  // Rate only: back to a veth with TBF (the engine link goes).
  emu::v1::LinkParams rate;
  rate.set_rate_bps(10'000'000);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(rate, rate)).ok());
  EXPECT_TRUE(engine_->links().empty());
  ASSERT_TRUE(net_.Peer(Ns("a"), "eth1").has_value());
  EXPECT_EQ(net_.Peer(Ns("a"), "eth1")->first, Ns("b"));
  ASSERT_TRUE(net_.AppliedPlan(Ns("b"), "eth1").has_value());
  // Addresses are back on the new ends.
  auto a = net_.GetInterface(Ns("a"), "eth1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->alias, net::LinkAlias("lab", Spec().links(0)));

  // And to the engine again.
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(fifty, rate)).ok());
  EXPECT_EQ(engine_->adds(), 2);
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 50'000u);
}

TEST_F(ReconcilerEngineTest, CompensatedDelaysTakeTheEngineOnANetemHost) {
  net::HostNetwork::KernelFeatures netem = testing::NoNetemKernel();
  netem.qdiscs.push_back("netem");
  net_.set_features(netem);
  FixedBaseProbe probe;
  linkemu::BaseLatency base(&probe);
  base_ = &base;
  StartAgent();
  // Without compensation: a veth with NetEm, as on any host that has it.
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(engine_->adds(), 0);
  auto plan = net_.AppliedPlan(Ns("a"), "eth1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->netem.has_value());
  // The lab's compensate: true: NetEm would apply the 20 ms in full, the
  // engine applies it less the path's base; the link moves to two TAPs.
  auto spec = Spec();
  spec.set_compensate(true);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(engine_->adds(), 1);
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 19'900u);
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 19'900u);
  EXPECT_FALSE(net_.AppliedPlan(Ns("a"), "eth1").has_value());
  // One direction opting out keeps its full delay (the engine still serves
  // the link: its other direction needs it).
  emu::v1::LinkParams full;
  full.set_delay_us(20'000);
  full.set_compensate(false);
  emu::v1::LinkParams comp;
  comp.set_delay_us(20'000);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(comp, full)).ok());
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 19'900u);
  // Both opting out: back to the veth and NetEm.
  comp.set_compensate(false);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(comp, full)).ok());
  EXPECT_TRUE(engine_->links().empty());
  plan = net_.AppliedPlan(Ns("a"), "eth1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->netem.has_value());
}

TEST_F(ReconcilerEngineTest, AKernelDirectionOnAnEngineLinkGetsItsQdisc) {
  auto spec = Spec();
  auto* ba = spec.mutable_links(0)->mutable_b_to_a();
  ba->Clear();
  ba->set_rate_bps(10'000'000);
  ba->set_engine(emu::v1::LINK_ENGINE_KERNEL);
  ASSERT_TRUE(Apply(spec).ok());
  auto link = OnlyEngineLink();
  EXPECT_EQ(link.a_to_b.delay_us, 20'000u);
  EXPECT_EQ(link.b_to_a.rate_bps, 0u);  // passed through by the engine
  auto plan = net_.AppliedPlan(Ns("b"), "eth1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->tbf.has_value());
}

TEST_F(ReconcilerEngineTest, DestroyRemovesTheEngineLinks) {
  ASSERT_TRUE(Apply(Spec()).ok());
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_TRUE(engine_->links().empty());
  EXPECT_EQ(engine_->removes(), 1);
}

TEST_F(ReconcilerEngineTest, WhatCannotBeServedIsRefusedBeforeAnything) {
  // An agent without the engine, on a kernel without netem.
  Reconciler no_engine("h1", &net_, &launcher_, &procs_, store_.get(),
                       *net_.ProbeKernel());
  absl::Status s =
      no_engine.Apply(Spec(), [](const emu::v1::ApplyLabEvent&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("no userspace engine"), std::string::npos) << s;
  EXPECT_NE(s.message().find("host h1"), std::string::npos) << s;
  // engine: kernel keeps the old refusal.
  auto kernel = Spec();
  kernel.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  s = Apply(kernel);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("sch_netem"), std::string::npos) << s;
  EXPECT_EQ(net_.changes(), 0);
  EXPECT_EQ(engine_->adds(), 0);
}

TEST_F(ReconcilerEngineTest, AnEngineRefusalFailsTheApplyAndTheNextConverges) {
  engine_->FailNextAdd();
  absl::Status s = Apply(Spec());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(engine_->links().empty());
  // The next apply (the controller's retry or a restart) converges.
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(engine_->links().size(), 1u);
}

}  // namespace
}  // namespace emu::agent::reconcile

namespace emu::agent::reconcile {
namespace {

TEST_F(ReconcilerEngineTest, AGuestEndGetsTheEngineInBothDirections) {
  // b is a QEMU guest: its end is a TAP of the engine like a's, both
  // directions' conditions go to the engine, nothing is programmed inside
  // the guest (an empty plan clears what an older agent put there).
  // (The driver only records: the link end's wiring to the guest's NIC is
  // GuestManager's, tested with a real guest in tests/integration:guest_test.)
  node::testing::FakeNodeDriver guest(emu::v1::NODE_KIND_QEMU,
                                      /*shapes_own_egress=*/true);
  rec_->AddDriver(&guest);
  auto spec = Spec();
  spec.mutable_nodes(1)->set_kind(emu::v1::NODE_KIND_QEMU);
  ASSERT_TRUE(Apply(spec).ok());
  auto link = OnlyEngineLink();
  EXPECT_EQ(link.a_to_b.delay_us, 20'000u);
  EXPECT_EQ(link.a_to_b.loss_percent, 1);
  EXPECT_EQ(link.b_to_a.delay_us, 20'000u);  // what the guest sends
  const std::string alias = net::EngineLinkAlias("lab", spec.links(0));
  EXPECT_EQ(taps_.SpecOf(Ns("b"), "eth1").alias, alias);
  EXPECT_EQ(taps_.SpecOf(Ns("b"), "eth1").mac, "02:00:00:00:00:0b");
  EXPECT_EQ(InGuest(guest, "b:eth1"), "none");

  // A live change of the guest's direction reaches the engine, not the
  // guest.
  emu::v1::LinkParams fifty;
  fifty.set_delay_us(50'000);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(fifty, fifty)).ok());
  EXPECT_EQ(engine_->adds(), 1);
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 50'000u);
  EXPECT_EQ(InGuest(guest, "b:eth1"), "none");

  // engine: kernel on the guest's direction: its own NetEm, inside it; the
  // engine passes its frames through.
  emu::v1::LinkParams kernel = fifty;
  kernel.set_engine(emu::v1::LINK_ENGINE_KERNEL);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(fifty, kernel)).ok());
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 0u);
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 50'000u);
  EXPECT_NE(InGuest(guest, "b:eth1").find("netem"), std::string::npos)
      << InGuest(guest, "b:eth1");
}

TEST_F(ReconcilerEngineTest, AGuestEndsPathPartIsAddedToACompensatedBase) {
  // b is a guest whose NIC path (its driver's PathPart: ARP through QEMU,
  // tested with a real guest in tests/integration:linktest_guest_test) is
  // 40 us one way: both directions cross it, on top of the engine path's
  // 100 us.
  FixedBaseProbe probe;
  linkemu::BaseLatency base(&probe);
  base_ = &base;
  StartAgent();
  node::testing::FakeNodeDriver guest(emu::v1::NODE_KIND_QEMU,
                                      /*shapes_own_egress=*/true);
  guest.set_path_part("b:eth1", {true, 40'000, "guest b:eth1 ARP min RTT/2"});
  rec_->AddDriver(&guest);
  auto spec = Spec();
  spec.mutable_nodes(1)->set_kind(emu::v1::NODE_KIND_QEMU);
  // Not compensated: the guest is not asked (no probe for nothing).
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_TRUE(guest.path_part_calls().empty());
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 20'000u);

  spec.set_compensate(true);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 19'860u);
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 19'860u);
  EXPECT_EQ(guest.path_part_calls(),
            std::vector<std::string>{"lab/b:eth1"});  // a is no guest
  auto served = links_->List("lab");
  ASSERT_EQ(served.size(), 1u);
  EXPECT_EQ(served[0].a_to_b.base_us, 140u);
  EXPECT_EQ(served[0].b_to_a.source,
            "engine path probe + guest b:eth1 ARP min RTT/2");

  // A live change keeps the part; a direction opting out goes without.
  emu::v1::LinkParams comp;
  comp.set_delay_us(10'000);
  emu::v1::LinkParams full = comp;
  full.set_compensate(false);
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(comp, full)).ok());
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 9'860u);
  EXPECT_EQ(OnlyEngineLink().b_to_a.delay_us, 10'000u);

  // A guest that could not be measured: the engine path's base alone, and
  // the part says why.
  guest.set_path_part("b:eth1",
                      {false, 0, "guest b:eth1 not probed: no IPv4 address"});
  ASSERT_TRUE(rec_->SetLinkParams(SetReq(comp, comp)).ok());
  EXPECT_EQ(OnlyEngineLink().a_to_b.delay_us, 9'900u);
  EXPECT_EQ(links_->List("lab")[0].a_to_b.source,
            "engine path probe; guest b:eth1 not probed: no IPv4 address");
}

}  // namespace
}  // namespace emu::agent::reconcile
