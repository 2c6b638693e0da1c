// The reconciler's cross-host link ends against FakeHostNetwork and a real
// TunnelManager (loopback listener) with fake TAPs. No root needed.
#include <unistd.h>

#include <algorithm>
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
#include "agent/tunnel/testing/fake_tap_opener.h"
#include "agent/tunnel/tunnel_manager.h"
#include "agent/reconcile/testing/reconciler_fixture.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"
#include "linkemu/impair/base_latency.h"

namespace emu::agent::reconcile {
namespace {

using net::NoProcesses;

// Host h1 holds a (and the local link a:eth2<->x:eth1 is absent): the link
// a:eth1<->b:eth1 crosses to host h2.
emu::v1::ApplyLabRequest Spec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* a = spec.add_nodes();
  a->set_name("a");
  auto* i = a->add_interfaces();
  i->set_name("eth1");
  i->add_addresses("10.0.1.1/24");
  i->set_mac("02:00:00:00:00:0a");
  auto* r = spec.add_remote_links();
  r->mutable_link()->mutable_a()->set_node("a");
  r->mutable_link()->mutable_a()->set_interface("eth1");
  r->mutable_link()->mutable_b()->set_node("b");
  r->mutable_link()->mutable_b()->set_interface("eth1");
  r->mutable_link()->mutable_a_to_b()->set_rate_bps(10'000'000);
  r->set_local_is_a(true);
  r->set_peer_host("h2");
  r->set_peer_address("127.0.0.1:1");
  r->set_listen(true);
  r->set_link_id("a:eth1<->b:eth1");
  return spec;
}

class ReconcilerRemoteLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestSpecDir("remote");
    auto store = LabSpecStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    store_ = std::make_unique<LabSpecStore>(*std::move(store));
    net_.set_features(testing::NoNetemKernel());
    tunnel::TunnelManager::Options o;
    o.listen_address = "127.0.0.1:0";
    auto t = tunnel::TunnelManager::Start(o, &taps_);
    ASSERT_TRUE(t.ok()) << t.status();
    tunnels_ = *std::move(t);
    rec_ = std::make_unique<Reconciler>("h1", &net_, &launcher_, &procs_,
                                        store_.get(), *net_.ProbeKernel(),
                                        tunnels_.get());
  }

  absl::Status Apply(Reconciler& rec, const emu::v1::ApplyLabRequest& spec) {
    events_.clear();
    return rec.Apply(spec, [this](const emu::v1::ApplyLabEvent& e) {
      events_.push_back(e);
    });
  }

  std::string dir_;
  net::FakeHostNetwork net_;
  NetTapOpener taps_{&net_};
  FakeProcessLauncher launcher_;
  NoProcesses procs_;
  std::unique_ptr<LabSpecStore> store_;
  std::unique_ptr<tunnel::TunnelManager> tunnels_;
  std::unique_ptr<Reconciler> rec_;
  std::vector<emu::v1::ApplyLabEvent> events_;
};

TEST_F(ReconcilerRemoteLinksTest, WithoutTunnelsRemoteLinksAreRefused) {
  Reconciler no_tunnels("h1", &net_, &launcher_, &procs_, store_.get(),
                        *net_.ProbeKernel());
  absl::Status s = Apply(no_tunnels, Spec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("carries no tunnels"), std::string::npos);
  EXPECT_EQ(net_.changes(), 0);
}

TEST_F(ReconcilerRemoteLinksTest, MalformedRemoteLinksAreRefused) {
  auto both_local = Spec();
  both_local.add_nodes()->set_name("b");
  auto no_peer = Spec();
  no_peer.mutable_remote_links(0)->clear_peer_address();
  auto not_here = Spec();
  not_here.mutable_remote_links(0)->set_local_is_a(false);  // b is not here
  auto twice = Spec();
  *twice.add_remote_links() = twice.remote_links(0);
  for (const auto* spec : {&both_local, &no_peer, &not_here, &twice}) {
    absl::Status s = Apply(*rec_, *spec);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  // NetEm is needed only for what this end sends.
  auto netem_here = Spec();
  netem_here.mutable_remote_links(0)
      ->mutable_link()
      ->mutable_a_to_b()
      ->set_delay_us(1000);
  EXPECT_EQ(Apply(*rec_, netem_here).code(),
            absl::StatusCode::kFailedPrecondition);
  auto netem_there = Spec();
  netem_there.mutable_remote_links(0)
      ->mutable_link()
      ->mutable_b_to_a()
      ->set_delay_us(1000);
  EXPECT_TRUE(Apply(*rec_, netem_there).ok());
  EXPECT_EQ(net_.changes() > 0, true);
}

TEST_F(ReconcilerRemoteLinksTest, TapIsCreatedShapedListedAndDestroyed) {
  ASSERT_TRUE(Apply(*rec_, Spec()).ok());
  const std::string ns = net::NamespaceName("h1", "lab", "a");
  auto spec = taps_.SpecOf(ns, "eth1");
  EXPECT_EQ(spec.mac, "02:00:00:00:00:0a");
  EXPECT_EQ(spec.alias, "emu lab=lab link=a:eth1<->b:eth1 carrier=tcp-tunnel");
  // a sends a-to-b: TBF at 10 Mbit/s on the TAP.
  auto plan = net_.AppliedPlan(ns, "eth1");
  ASSERT_TRUE(plan.has_value());
  ASSERT_TRUE(plan->tbf.has_value());
  EXPECT_EQ(plan->tbf->rate_bytes_per_sec, 1'250'000u);
  auto iface = net_.GetInterface(ns, "eth1");
  ASSERT_TRUE(iface.has_value());
  EXPECT_NE(std::find(iface->addresses.begin(), iface->addresses.end(),
                      "10.0.1.1/24"),
            iface->addresses.end());
  bool created = false;
  for (const auto& e : events_) {
    if (e.kind() == emu::v1::ApplyLabEvent::LINK_CREATED) created = true;
  }
  EXPECT_TRUE(created);

  // Re-applying keeps the TAP (no new open) and the reconciler does not
  // take the TAP for a stale veth end.
  ASSERT_TRUE(Apply(*rec_, Spec()).ok());
  EXPECT_EQ(taps_.opens(), 1);
  EXPECT_TRUE(net_.GetInterface(ns, "eth1").has_value());

  auto res = rec_->ListResources("lab");
  ASSERT_TRUE(res.ok());
  int tunnels = 0;
  for (const auto& r : res->resources()) {
    if (r.kind() != emu::v1::OwnedResource::TUNNEL) continue;
    ++tunnels;
    EXPECT_EQ(r.node(), "a");
    EXPECT_EQ(r.name(), "a:eth1<->b:eth1");
    EXPECT_EQ(r.peer_host(), "h2");
    EXPECT_NE(r.state().find("waiting for h2"), std::string::npos) << r.state();
  }
  EXPECT_EQ(tunnels, 1);

  // SetLinkParams reaches a remote link too: saved and applied on the TAP.
  emu::v1::LinkParams changed;
  changed.set_rate_bps(20'000'000);
  auto set = testing::SetLinkReq(Spec().remote_links(0).link().a(),
                                 Spec().remote_links(0).link().b(), changed);
  ASSERT_TRUE(rec_->SetLinkParams(set).ok());
  EXPECT_EQ(net_.AppliedPlan(ns, "eth1")->tbf->rate_bytes_per_sec, 2'500'000u);
  auto saved = store_->Load("lab");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->remote_links(0).link().a_to_b().rate_bps(), 20'000'000u);

  // The link leaves the spec: its tunnel and TAP go; then the whole lab.
  auto without = Spec();
  without.clear_remote_links();
  without.mutable_nodes(0)->clear_interfaces();
  absl::Status s = Apply(*rec_, without);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(tunnels_->List("lab").empty());
  EXPECT_FALSE(net_.GetInterface(ns, "eth1").has_value());
  ASSERT_TRUE(Apply(*rec_, Spec()).ok());
  EXPECT_EQ(tunnels_->List("lab").size(), 1u);
  auto removed = rec_->Destroy("lab");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(tunnels_->List("").empty());
}

// Issue 10: on a host without sch_netem whose agent runs the userspace
// engine, a cross-host link's delay and loss go to the tunnel's egress
// pipeline (TunnelPump::SetEgress) instead of being refused; rate-only
// stays TBF on the TAP (engine: auto); engine: kernel keeps the refusal.
TEST_F(ReconcilerRemoteLinksTest, WithTheEngineNetemConditionsGoToTheTunnel) {
  impair::FakeLinkEngine engine;
  impair::EngineLinks engine_links(&engine, &taps_);
  Reconciler rec("h1", &net_, &launcher_, &procs_, store_.get(),
                 *net_.ProbeKernel(), tunnels_.get(), &engine_links);
  const std::string ns = net::NamespaceName("h1", "lab", "a");
  auto spec = Spec();
  spec.set_seed(42);
  auto* ab = spec.mutable_remote_links(0)->mutable_link()->mutable_a_to_b();
  ab->set_delay_us(10'000);
  ab->set_loss_percent(1);
  absl::Status s = Apply(rec, spec);
  ASSERT_TRUE(s.ok()) << s;
  auto tunnels = tunnels_->List("lab");
  ASSERT_EQ(tunnels.size(), 1u);
  ASSERT_TRUE(tunnels[0].egress.has_value());
  EXPECT_EQ(tunnels[0].egress->delay_us, 10'000u);
  EXPECT_EQ(tunnels[0].egress->loss_percent, 1);
  EXPECT_EQ(tunnels[0].egress->rate_bps, 10'000'000u);
  // The engine does it all: no qdisc of ours on the TAP.
  auto plan = net_.AppliedPlan(ns, "eth1");
  EXPECT_TRUE(!plan.has_value() || plan->empty());
  bool said = false;
  for (const auto& e : events_) {
    if (e.kind() == emu::v1::ApplyLabEvent::LINK_SHAPED &&
        e.detail().find("a-to-b userspace engine") != std::string::npos) {
      said = true;
    }
  }
  EXPECT_TRUE(said);

  // A live change reaches the pipeline (the TAP stays) and the saved spec.
  emu::v1::LinkParams changed;
  changed.set_delay_us(50'000);
  auto set = testing::SetLinkReq(spec.remote_links(0).link().a(),
                                 spec.remote_links(0).link().b(), changed);
  ASSERT_TRUE(rec.SetLinkParams(set).ok());
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 50'000u);
  EXPECT_EQ(tunnels_->List("lab")[0].egress->loss_percent, 0);
  EXPECT_EQ(store_->Load("lab")->remote_links(0).link().a_to_b().delay_us(),
            50'000u);
  // Back to rate only: TBF on the TAP, the pipeline passes through.
  set.mutable_a_to_b()->Clear();
  set.mutable_a_to_b()->set_rate_bps(20'000'000);
  ASSERT_TRUE(rec.SetLinkParams(set).ok());
  ASSERT_TRUE(net_.AppliedPlan(ns, "eth1").has_value());
  ASSERT_TRUE(net_.AppliedPlan(ns, "eth1")->tbf.has_value());
  EXPECT_TRUE(tunnels_->List("lab")[0].egress->IsPassThrough());
  EXPECT_EQ(taps_.opens(), 1);

  // Re-applying (as a restarted agent's RecoverAll does) sets it again.
  ASSERT_TRUE(Apply(rec, spec).ok());
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 10'000u);
  EXPECT_FALSE(tunnels_->List("lab")[0].compensate);

  // compensate: true (the lab's) reaches the tunnel with the direction's
  // delay; the link's own `compensate: false` wins over it. (The base is
  // known once a connection is up: tunnel_manager_test.)
  auto compensated = spec;
  compensated.set_compensate(true);
  ASSERT_TRUE(Apply(rec, compensated).ok());
  EXPECT_TRUE(tunnels_->List("lab")[0].compensate);
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 10'000u);  // no base yet
  compensated.mutable_remote_links(0)->mutable_link()->mutable_a_to_b()
      ->set_compensate(false);
  ASSERT_TRUE(Apply(rec, compensated).ok());
  EXPECT_FALSE(tunnels_->List("lab")[0].compensate);
  // A live change keeps the lab's compensate.
  compensated.mutable_remote_links(0)->mutable_link()->mutable_a_to_b()
      ->clear_compensate();
  ASSERT_TRUE(Apply(rec, compensated).ok());
  set.mutable_a_to_b()->Clear();
  set.mutable_a_to_b()->set_delay_us(30'000);
  ASSERT_TRUE(rec.SetLinkParams(set).ok());
  EXPECT_TRUE(tunnels_->List("lab")[0].compensate);
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 30'000u);
  ASSERT_TRUE(Apply(rec, spec).ok());

  // engine: kernel on a host without NetEm: refused, naming the direction.
  auto kernel = spec;
  ab->set_engine(emu::v1::LINK_ENGINE_KERNEL);
  *kernel.mutable_remote_links(0)->mutable_link()->mutable_a_to_b() = *ab;
  s = Apply(rec, kernel);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("a-to-b"), std::string::npos) << s;
  EXPECT_NE(s.message().find("host h1"), std::string::npos) << s;
}

TEST_F(ReconcilerRemoteLinksTest, OnANetemHostCompensatedDelaysGoToTheTunnel) {
  net::HostNetwork::KernelFeatures netem = testing::NoNetemKernel();
  netem.qdiscs.push_back("netem");
  net_.set_features(netem);
  impair::FakeLinkEngine engine;
  impair::EngineLinks engine_links(&engine, &taps_);
  Reconciler rec("h1", &net_, &launcher_, &procs_, store_.get(),
                 *net_.ProbeKernel(), tunnels_.get(), &engine_links);
  const std::string ns = net::NamespaceName("h1", "lab", "a");
  auto spec = Spec();
  auto* ab = spec.mutable_remote_links(0)->mutable_link()->mutable_a_to_b();
  ab->set_delay_us(10'000);
  // Not compensated: NetEm on the TAP, the pipeline passes through.
  ASSERT_TRUE(Apply(rec, spec).ok());
  auto plan = net_.AppliedPlan(ns, "eth1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(plan->netem.has_value());
  auto egress = tunnels_->List("lab")[0].egress;
  EXPECT_TRUE(!egress.has_value() || egress->IsPassThrough());
  // compensate: true: only the tunnel's pipeline subtracts the base, so the
  // delay goes there and the TAP keeps no NetEm.
  spec.set_compensate(true);
  ASSERT_TRUE(Apply(rec, spec).ok());
  EXPECT_TRUE(tunnels_->List("lab")[0].compensate);
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 10'000u);
  plan = net_.AppliedPlan(ns, "eth1");
  EXPECT_TRUE(!plan.has_value() || !plan->netem.has_value());
}

// A compensated sending direction's base is the tunnel's echo plus what
// the echo does not cross: this host's TAPs-and-stacks path (the engine
// path probe) and a guest end's NIC (its driver's PathPart), asked for
// after the nodes are up; an uncompensated one asks for neither.
TEST_F(ReconcilerRemoteLinksTest, ACompensatedDirectionGetsTheTapPathAndTheGuestsPart) {
  impair::FakeLinkEngine engine;
  testing::FixedBaseProbe probe;
  linkemu::BaseLatency base(&probe);
  impair::EngineLinks engine_links(&engine, &taps_, &base);
  Reconciler rec("h1", &net_, &launcher_, &procs_, store_.get(),
                 *net_.ProbeKernel(), tunnels_.get(), &engine_links);
  node::testing::FakeNodeDriver guest(emu::v1::NODE_KIND_QEMU,
                                      /*shapes_own_egress=*/true);
  guest.set_path_part("a:eth1", {true, 40'000, "guest a:eth1 ARP min RTT/2"});
  rec.AddDriver(&guest);
  auto spec = Spec();
  spec.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  auto* ab = spec.mutable_remote_links(0)->mutable_link()->mutable_a_to_b();
  ab->set_delay_us(10'000);
  ASSERT_TRUE(Apply(rec, spec).ok());
  EXPECT_TRUE(tunnels_->List("lab")[0].parts.empty());
  EXPECT_TRUE(guest.path_part_calls().empty());
  EXPECT_EQ(probe.calls, 0);

  spec.set_compensate(true);
  ASSERT_TRUE(Apply(rec, spec).ok());
  auto parts = tunnels_->List("lab")[0].parts;
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].source, linkemu::kBaseSourceEnginePath);
  EXPECT_EQ(parts[0].ns, 100'000);
  EXPECT_EQ(parts[1].source, "guest a:eth1 ARP min RTT/2");
  EXPECT_EQ(parts[1].ns, 40'000);
  // The guest was asked once its driver had ensured it.
  ASSERT_FALSE(guest.ensured().empty());
  EXPECT_EQ(guest.path_part_calls(), std::vector<std::string>{"lab/a:eth1"});

  // A live change asks again (the driver keeps its figure) and keeps them.
  emu::v1::LinkParams twenty;
  twenty.set_delay_us(20'000);
  ASSERT_TRUE(rec.SetLinkParams(testing::SetLinkReq(
                                    spec.remote_links(0).link().a(),
                                    spec.remote_links(0).link().b(), twenty))
                  .ok());
  EXPECT_EQ(tunnels_->List("lab")[0].parts.size(), 2u);
  EXPECT_EQ(tunnels_->List("lab")[0].egress->delay_us, 20'000u);  // no base
  EXPECT_EQ(probe.calls, 1);  // measured once
}

// Carrier vxlan (issue 10): each remote end is a kernel VXLAN device in its
// node's namespace, aliased so a later reconcile keeps or replaces it; no
// tunnel; the sending rate is TBF on it; a live change replaces the qdisc;
// engine-only conditions are refused before anything is created.
TEST_F(ReconcilerRemoteLinksTest, VxlanCarrierMakesAVxlanEndInsteadOfATunnel) {
  impair::FakeLinkEngine engine;
  impair::EngineLinks engine_links(&engine, &taps_);
  auto with_vxlan = *net_.ProbeKernel();  // no sch_netem (the fixture's)
  with_vxlan.vxlan = true;
  net_.set_features(with_vxlan);
  Reconciler rec("h1", &net_, &launcher_, &procs_, store_.get(),
                 *net_.ProbeKernel(), tunnels_.get(), &engine_links);
  rec.set_vxlan_port(4790);
  const std::string ns = net::NamespaceName("h1", "lab", "a");
  auto spec = Spec();
  spec.set_carrier("vxlan");
  spec.mutable_remote_links(0)->set_vxlan_vni(4242);
  spec.mutable_remote_links(0)->set_peer_address("198.18.170.12:7472");
  absl::Status s = Apply(rec, spec);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(tunnels_->List("lab").empty());
  EXPECT_EQ(taps_.opens(), 0);
  auto vx = net_.Vxlan(ns, "eth1");
  ASSERT_TRUE(vx.has_value());
  EXPECT_EQ(vx->vni, 4242u);
  EXPECT_EQ(vx->remote, "198.18.170.12");
  EXPECT_EQ(vx->port, 4790);
  EXPECT_EQ(vx->mac, "02:00:00:00:00:0a");
  auto iface = net_.GetInterface(ns, "eth1");
  ASSERT_TRUE(iface.has_value());
  EXPECT_EQ(iface->alias,
            "emu lab=lab link=a:eth1<->b:eth1 carrier=vxlan vni=4242 "
            "remote=198.18.170.12 port=4790");
  EXPECT_NE(std::find(iface->addresses.begin(), iface->addresses.end(),
                      "10.0.1.1/24"),
            iface->addresses.end());
  ASSERT_TRUE(net_.AppliedPlan(ns, "eth1").has_value());
  EXPECT_EQ(net_.AppliedPlan(ns, "eth1")->tbf->rate_bytes_per_sec, 1'250'000u);
  bool created = false;
  for (const auto& e : events_) {
    if (e.kind() == emu::v1::ApplyLabEvent::LINK_CREATED &&
        e.detail().find("vxlan end, VNI 4242") != std::string::npos) {
      created = true;
    }
  }
  EXPECT_TRUE(created);

  // Re-applying (a restarted agent's RecoverAll) keeps the device.
  net_.ResetCounts();
  ASSERT_TRUE(Apply(rec, spec).ok());
  EXPECT_EQ(net_.calls(net::FakeHostNetwork::Method::kCreateVxlan), 0);
  EXPECT_EQ(net_.calls(net::FakeHostNetwork::Method::kDeleteInterface), 0);

  // A live change replaces the qdisc on the device.
  emu::v1::LinkParams changed;
  changed.set_rate_bps(20'000'000);
  auto set = testing::SetLinkReq(spec.remote_links(0).link().a(),
                                 spec.remote_links(0).link().b(), changed);
  ASSERT_TRUE(rec.SetLinkParams(set).ok());
  EXPECT_EQ(net_.AppliedPlan(ns, "eth1")->tbf->rate_bytes_per_sec, 2'500'000u);
  EXPECT_TRUE(tunnels_->List("lab").empty());

  // The userspace engine cannot sit on a kernel VXLAN path: delay on a
  // host without NetEm is refused, naming the link, direction and carrier;
  // by SetLinkParams too, which leaves the saved spec alone.
  set.mutable_a_to_b()->set_delay_us(10'000);
  s = rec.SetLinkParams(set);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("link a:eth1<->b:eth1 a-to-b"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("carrier vxlan"), std::string::npos) << s;
  EXPECT_EQ(store_->Load("lab")->remote_links(0).link().a_to_b().delay_us(),
            0u);
  auto delayed = spec;
  delayed.mutable_remote_links(0)->mutable_link()->mutable_a_to_b()
      ->set_delay_us(10'000);
  delayed.set_lab("lab2");
  net_.ResetCounts();
  s = Apply(rec, delayed);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(net_.changes(), 0);
  // ... but the other end's delay is the other host's business.
  auto there = spec;
  there.set_lab("lab3");
  there.mutable_remote_links(0)->set_vxlan_vni(4243);
  there.mutable_remote_links(0)->mutable_link()->mutable_b_to_a()
      ->set_delay_us(10'000);
  s = Apply(rec, there);
  EXPECT_TRUE(s.ok()) << s;
  // Another lab's link with a VNI this host has: the kernel's refusal,
  // named.
  auto clash = spec;
  clash.set_lab("lab4");
  s = Apply(rec, clash);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists) << s;
  EXPECT_NE(s.message().find("a:eth1<->b:eth1"), std::string::npos) << s;

  // A changed VNI (or peer) replaces the device: the stale end goes.
  auto moved = spec;
  moved.mutable_remote_links(0)->set_vxlan_vni(777);
  ASSERT_TRUE(Apply(rec, moved).ok());
  EXPECT_EQ(net_.Vxlan(ns, "eth1")->vni, 777u);

  // Without VXLAN in the kernel: refused before anything is made.
  auto features = *net_.ProbeKernel();
  features.vxlan = false;
  Reconciler no_vxlan("h1", &net_, &launcher_, &procs_, store_.get(), features,
                      tunnels_.get(), &engine_links);
  auto other = spec;
  other.set_lab("lab5");
  s = Apply(no_vxlan, other);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("CONFIG_VXLAN"), std::string::npos) << s;
  // A carrier vxlan lab needs no tunnels at all.
  Reconciler no_tunnels("h1", &net_, &launcher_, &procs_, store_.get(),
                        *net_.ProbeKernel());
  auto lab6 = spec;
  lab6.set_lab("lab6");
  lab6.mutable_remote_links(0)->set_vxlan_vni(606);
  s = Apply(no_tunnels, lab6);
  EXPECT_TRUE(s.ok()) << s;

  // Down: the namespace goes and the device with it.
  ASSERT_TRUE(rec.Destroy("lab").ok());
  EXPECT_FALSE(net_.GetInterface(ns, "eth1").has_value());
}

}  // namespace
}  // namespace emu::agent::reconcile
