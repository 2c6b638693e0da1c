// containerlab's host and dummy links and the management network through
// the reconciler, on the fake kernel: the host end in the root namespace
// ("") and the management bridge are made, owned by alias, re-made after a
// loss, removed by a smaller spec and by Destroy, and a name (or a
// management subnet) the host already has that is not the lab's is
// refused untouched.
#include <unistd.h>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "agent/reconcile/reconciler.h"
#include "agent/reconcile/testing/reconciler_fixture.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"

namespace emu::agent::reconcile {
namespace {

using M = net::FakeHostNetwork::Method;

class NoProcesses : public net::NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string&) override {
    return std::vector<pid_t>{};
  }
  absl::Status KillAll(const std::string&, absl::Duration) override {
    return absl::OkStatus();
  }
};

// Node a: eth1 a host link (host end ch-a1 with an address), d0 a dummy.
emu::v1::ApplyLabRequest Spec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* a = spec.add_nodes();
  a->set_name("a");
  a->set_kind(emu::v1::NODE_KIND_NETNS);
  auto* eth1 = a->add_interfaces();
  eth1->set_name("eth1");
  eth1->add_addresses("10.9.0.1/30");
  eth1->set_mtu(9000);
  eth1->mutable_host_end()->set_name("ch-a1");
  eth1->mutable_host_end()->add_addresses("10.9.0.2/30");
  auto* d0 = a->add_interfaces();
  d0->set_name("d0");
  d0->set_dummy(true);
  d0->set_mac("02:00:00:00:0d:00");
  return spec;
}

class SpecialEndsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestSpecDir("special_ends");
    auto store = LabSpecStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    store_ = std::make_unique<LabSpecStore>(*std::move(store));
    auto features = testing::NoNetemKernel(/*bridge=*/true);
    features.dummy = true;
    features.ifb = true;
    net_.set_features(features);
    rec_ = Make("h1");
  }

  std::unique_ptr<Reconciler> Make(const std::string& host) {
    return std::make_unique<Reconciler>(host, &net_, &launcher_, &procs_,
                                        store_.get(), *net_.ProbeKernel());
  }

  absl::Status Apply(const emu::v1::ApplyLabRequest& spec) {
    return rec_->Apply(spec, [](const emu::v1::ApplyLabEvent&) {});
  }

  std::string Ns(const std::string& node) {
    return net::NamespaceName("h1", "lab", node);
  }

  std::string dir_;
  net::FakeHostNetwork net_;
  FakeProcessLauncher launcher_;
  NoProcesses procs_;
  std::unique_ptr<LabSpecStore> store_;
  std::unique_ptr<Reconciler> rec_;
};

TEST_F(SpecialEndsTest, HostEndAndDummyAreMadeOnceAndOwned) {
  ASSERT_TRUE(Apply(Spec()).ok());
  auto host_end = net_.GetInterface("", "ch-a1");
  ASSERT_TRUE(host_end.has_value());
  EXPECT_EQ(host_end->alias,
            "emu lab=lab hostlink=a:eth1<->host:ch-a1 host=h1");
  EXPECT_EQ(host_end->mtu, 9000u);
  EXPECT_TRUE(std::count(host_end->addresses.begin(),
                         host_end->addresses.end(), "10.9.0.2/30"));
  auto peer = net_.Peer("", "ch-a1");
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(*peer, std::make_pair(Ns("a"), std::string("eth1")));
  auto eth1 = net_.GetInterface(Ns("a"), "eth1");
  ASSERT_TRUE(eth1.has_value());
  EXPECT_TRUE(std::count(eth1->addresses.begin(), eth1->addresses.end(),
                         "10.9.0.1/30"));
  auto d0 = net_.GetInterface(Ns("a"), "d0");
  ASSERT_TRUE(d0.has_value());
  EXPECT_EQ(d0->kind, "dummy");
  EXPECT_EQ(d0->mac, "02:00:00:00:0d:00");
  EXPECT_EQ(d0->alias, "emu lab=lab dummy=a:d0");

  const int changes = net_.changes();
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  EXPECT_EQ(net_.calls(M::kCreateVeth), 1);
  EXPECT_EQ(net_.calls(M::kCreateDummy), 1);

  // Reported as the lab's, with its node.
  auto owned = rec_->ListResources("lab");
  ASSERT_TRUE(owned.ok());
  bool listed = false;
  for (const auto& r : owned->resources()) {
    if (r.name() == "host:ch-a1" && r.node() == "a") listed = true;
  }
  EXPECT_TRUE(listed);
}

// containerlab's bridge inside a node (`br01|bp1` with network-mode
// container:bp1): bp1 gets bridge br01, up, and its link end c1eth1 (to
// c1:eth1) is a port of it; re-applying changes nothing.
TEST_F(SpecialEndsTest, BridgeInsideANodeIsMadeWithItsPorts) {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* bp1 = spec.add_nodes();
  bp1->set_name("bp1");
  bp1->set_kind(emu::v1::NODE_KIND_NETNS);
  auto* br = bp1->add_interfaces();
  br->set_name("br01");
  br->set_bridge(true);
  auto* port = bp1->add_interfaces();
  port->set_name("c1eth1");
  port->set_master("br01");
  auto* c1 = spec.add_nodes();
  c1->set_name("c1");
  c1->set_kind(emu::v1::NODE_KIND_NETNS);
  c1->add_interfaces()->set_name("eth1");
  auto* link = spec.add_links();
  link->mutable_a()->set_node("c1");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("bp1");
  link->mutable_b()->set_interface("c1eth1");
  ASSERT_TRUE(Apply(spec).ok());
  auto bridge = net_.GetInterface(Ns("bp1"), "br01");
  ASSERT_TRUE(bridge.has_value());
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_TRUE(bridge->up);
  auto member = net_.GetInterface(Ns("bp1"), "c1eth1");
  ASSERT_TRUE(member.has_value());
  EXPECT_EQ(member->master, "br01");
  EXPECT_FALSE(net_.GetInterface(Ns("c1"), "br01").has_value());

  const int changes = net_.changes();
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  EXPECT_EQ(net_.calls(M::kCreateBridge), 1);

  // On a node that is not a netns one (here a guest, whose driver this
  // agent lacks; CheckSpecialEnds says why where it has one): refused
  // before anything is touched.
  auto bad = spec;
  bad.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  auto s = Apply(bad);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(net_.changes(), changes);
}

TEST_F(SpecialEndsTest, DestroyAndASmallerSpecRemoveTheHostEnd) {
  ASSERT_TRUE(Apply(Spec()).ok());
  auto smaller = Spec();
  // The host link gone from the file: its interface with it.
  smaller.mutable_nodes(0)->mutable_interfaces()->DeleteSubrange(0, 1);
  ASSERT_TRUE(Apply(smaller).ok());
  EXPECT_FALSE(net_.GetInterface("", "ch-a1").has_value());
  EXPECT_FALSE(net_.GetInterface(Ns("a"), "eth1").has_value());
  ASSERT_TRUE(Apply(Spec()).ok());
  ASSERT_TRUE(net_.GetInterface("", "ch-a1").has_value());
  auto removed = rec_->Destroy("lab");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(net_.GetInterface("", "ch-a1").has_value());
  auto root = net_.ListInterfaces("");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->size(), 1u);  // lo only
}

TEST_F(SpecialEndsTest, AnExistingNameNotOursIsRefusedAndLeftAlone) {
  ASSERT_TRUE(net_.CreateBridge("", "ch-a1").ok());  // the user's
  absl::Status s = Apply(Spec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("host interface ch-a1 already exists on host "
                             "h1 and was not made by emu"),
            std::string::npos)
      << s;
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
  EXPECT_TRUE(store_->List()->empty());
  EXPECT_EQ(net_.GetInterface("", "ch-a1")->kind, "bridge");
  // Destroy of the lab leaves it too.
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_TRUE(net_.GetInterface("", "ch-a1").has_value());
}

TEST_F(SpecialEndsTest, AnotherAgentsOrLabsHostEndIsNotOurs) {
  // Two agents of one machine (the local cluster) share the root namespace.
  auto other = Make("h2");
  ASSERT_TRUE(other->Apply(Spec(), [](const emu::v1::ApplyLabEvent&) {}).ok());
  absl::Status s = Apply(Spec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("as the host end of lab lab (agent h2)"),
            std::string::npos)
      << s;
  // h1's Destroy leaves h2's end.
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_TRUE(net_.GetInterface("", "ch-a1").has_value());
  ASSERT_TRUE(other->Destroy("lab").ok());
  EXPECT_FALSE(net_.GetInterface("", "ch-a1").has_value());
}

TEST_F(SpecialEndsTest, RestartRebuildsAHalfPresentPair) {
  ASSERT_TRUE(Apply(Spec()).ok());
  // The node end lost (say by hand) while the agent was down: the host end
  // goes with it as the kernel does; the dummy too.
  ASSERT_TRUE(net_.DeleteInterface(Ns("a"), "eth1").ok());
  ASSERT_TRUE(net_.DeleteInterface(Ns("a"), "d0").ok());
  ASSERT_FALSE(net_.GetInterface("", "ch-a1").has_value());
  auto restarted = Make("h1");
  auto labs = restarted->RecoverAll([](const std::string&) {});
  EXPECT_EQ(labs, std::vector<std::string>{"lab"});
  EXPECT_TRUE(net_.GetInterface("", "ch-a1").has_value());
  EXPECT_TRUE(net_.GetInterface(Ns("a"), "d0").has_value());
  auto peer = net_.Peer("", "ch-a1");
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(peer->first, Ns("a"));
}

TEST_F(SpecialEndsTest, DummyFallsBackToIfbAndNeedsOneOfThem) {
  auto features = testing::NoNetemKernel();
  features.ifb = true;
  net_.set_features(features);
  rec_ = Make("h1");
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(net_.GetInterface(Ns("a"), "d0")->kind, "ifb");
  ASSERT_TRUE(rec_->Destroy("lab").ok());

  net_.set_features(testing::NoNetemKernel());
  rec_ = Make("h1");
  absl::Status s = Apply(Spec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("neither the dummy nor the ifb"),
            std::string::npos)
      << s;
}

// containerlab's vxlan link: node a's vx1 is a VXLAN device to a VTEP
// outside the lab, owned by its alias; a change of the far side makes it
// again, a spec without it removes it, and a kernel without VXLAN refuses.
TEST_F(SpecialEndsTest, VxlanEndIsMadeOnceOwnedAndRemadeWhenItsFarSideChanges) {
  auto features = testing::NoNetemKernel(/*bridge=*/true);
  features.vxlan = true;
  net_.set_features(features);
  rec_ = Make("h1");
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* a = spec.add_nodes();
  a->set_name("a");
  a->set_kind(emu::v1::NODE_KIND_NETNS);
  auto* vx = a->add_interfaces();
  vx->set_name("vx1");
  vx->set_mac("02:00:00:00:0e:01");
  vx->add_addresses("10.9.1.1/24");
  vx->mutable_vxlan()->set_remote("192.0.2.7");
  vx->mutable_vxlan()->set_vni(200);
  vx->mutable_vxlan()->set_port(14789);
  ASSERT_TRUE(Apply(spec).ok());
  auto made = net_.Vxlan(Ns("a"), "vx1");
  ASSERT_TRUE(made.has_value());
  EXPECT_EQ(made->vni, 200u);
  EXPECT_EQ(made->remote, "192.0.2.7");
  EXPECT_EQ(made->port, 14789);
  EXPECT_EQ(made->mac, "02:00:00:00:0e:01");
  auto iface = net_.GetInterface(Ns("a"), "vx1");
  ASSERT_TRUE(iface.has_value());
  EXPECT_EQ(iface->alias,
            "emu lab=lab vxlan=a:vx1 vni=200 remote=192.0.2.7 port=14789");
  EXPECT_TRUE(std::count(iface->addresses.begin(), iface->addresses.end(),
                         "10.9.1.1/24"));

  const int changes = net_.changes();
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  EXPECT_EQ(net_.calls(M::kCreateVxlan), 1);

  // Another VNI: the device is made again.
  vx->mutable_vxlan()->set_vni(201);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(net_.calls(M::kCreateVxlan), 2);
  EXPECT_EQ(net_.Vxlan(Ns("a"), "vx1")->vni, 201u);

  // Without it: removed.
  const emu::v1::Interface kept = *vx;
  a->clear_interfaces();
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_FALSE(net_.GetInterface(Ns("a"), "vx1").has_value());
  ASSERT_TRUE(rec_->Destroy("lab").ok());

  // A kernel without VXLAN: refused before anything is made.
  net_.set_features(testing::NoNetemKernel());
  rec_ = Make("h1");
  *a->add_interfaces() = kept;
  absl::Status s = Apply(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("no VXLAN driver"), std::string::npos) << s;
  EXPECT_FALSE(net_.GetInterface(Ns("a"), "vx1").has_value());
}

TEST_F(SpecialEndsTest, AnInterfaceIsADummyOrAHostEndNotBoth) {
  auto spec = Spec();
  spec.mutable_nodes(0)->mutable_interfaces(0)->set_dummy(true);
  absl::Status s = Apply(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("interface a:eth1: both a dummy and a host "
                             "link's end"),
            std::string::npos)
      << s;
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
}

// The management network: a and b with eth0 on it (host ends named by the
// agent), b's eth5 a containerlab mgmt-net link (host end b-eth5).
emu::v1::ApplyLabRequest MgmtSpec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* m = spec.mutable_mgmt();
  m->set_network("clab");
  m->set_ipv4_subnet("172.20.20.0/24");
  m->set_ipv4_gateway("172.20.20.1/24");
  m->set_ipv6_subnet("3fff:172:20:20::/64");
  m->set_ipv6_gateway("3fff:172:20:20::1/64");
  m->mutable_source()->set_file("lab.clab.yml");
  m->mutable_source()->set_line(3);
  for (const char* name : {"a", "b"}) {
    auto* n = spec.add_nodes();
    n->set_name(name);
    n->set_kind(emu::v1::NODE_KIND_NETNS);
    auto* eth0 = n->add_interfaces();
    eth0->set_name("eth0");
    eth0->set_mgmt(true);
    eth0->mutable_host_end();
    eth0->add_addresses(std::string(name) == "a" ? "172.20.20.2/24"
                                                 : "172.20.20.3/24");
  }
  auto* eth5 = spec.mutable_nodes(1)->add_interfaces();
  eth5->set_name("eth5");
  eth5->set_mgmt(true);
  eth5->mutable_host_end()->set_name("b-eth5");
  return spec;
}

TEST_F(SpecialEndsTest, ManagementBridgeAndItsPortsAreMadeOnceAndOwned) {
  ASSERT_TRUE(Apply(MgmtSpec()).ok());
  const std::string bridge = net::MgmtBridgeName("h1", "lab");
  EXPECT_EQ(bridge.size(), 11u);
  auto br = net_.GetInterface("", bridge);
  ASSERT_TRUE(br.has_value());
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_TRUE(br->up);
  EXPECT_EQ(br->alias, absl::StrCat("emu lab=lab mgmt=", bridge, " host=h1"));
  EXPECT_TRUE(std::count(br->addresses.begin(), br->addresses.end(),
                         "172.20.20.1/24"));
  EXPECT_TRUE(std::count(br->addresses.begin(), br->addresses.end(),
                         "3fff:172:20:20::1/64"));
  for (const char* node : {"a", "b"}) {
    const std::string end = net::MgmtHostEndName("h1", "lab", node, "eth0");
    auto host_end = net_.GetInterface("", end);
    ASSERT_TRUE(host_end.has_value()) << node;
    EXPECT_EQ(host_end->master, bridge) << node;
    auto peer = net_.Peer("", end);
    ASSERT_TRUE(peer.has_value());
    EXPECT_EQ(*peer, std::make_pair(Ns(node), std::string("eth0")));
  }
  EXPECT_EQ(net_.GetInterface("", "b-eth5")->master, bridge);
  auto eth0 = net_.GetInterface(Ns("a"), "eth0");
  ASSERT_TRUE(eth0.has_value());
  EXPECT_TRUE(std::count(eth0->addresses.begin(), eth0->addresses.end(),
                         "172.20.20.2/24"));
  // The saved spec has the agent's names for the host ends.
  auto saved = store_->Load("lab");
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->nodes(0).interfaces(0).host_end().name(),
            net::MgmtHostEndName("h1", "lab", "a", "eth0"));

  const int changes = net_.changes();
  ASSERT_TRUE(Apply(MgmtSpec()).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  EXPECT_EQ(net_.calls(M::kCreateBridge), 1);

  auto owned = rec_->ListResources("lab");
  ASSERT_TRUE(owned.ok());
  bool listed = false;
  for (const auto& r : owned->resources()) {
    listed = listed || r.name() == absl::StrCat("mgmt-bridge:", bridge);
  }
  EXPECT_TRUE(listed);

  // No management interface left: the bridge goes.
  auto none = MgmtSpec();
  for (auto& n : *none.mutable_nodes()) n.clear_interfaces();
  ASSERT_TRUE(Apply(none).ok());
  EXPECT_FALSE(net_.GetInterface("", bridge).has_value());
  ASSERT_TRUE(Apply(MgmtSpec()).ok());
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  auto root = net_.ListInterfaces("");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->size(), 1u);  // lo only
}

TEST_F(SpecialEndsTest, RestartRemakesALostManagementBridgeWithItsPorts) {
  ASSERT_TRUE(Apply(MgmtSpec()).ok());
  const std::string bridge = net::MgmtBridgeName("h1", "lab");
  const std::string a_end = net::MgmtHostEndName("h1", "lab", "a", "eth0");
  // Deleted by hand while the agent was down: its ports are released.
  ASSERT_TRUE(net_.DeleteInterface("", bridge).ok());
  ASSERT_EQ(net_.GetInterface("", a_end)->master, "");
  auto restarted = Make("h1");
  EXPECT_EQ(restarted->RecoverAll([](const std::string&) {}),
            std::vector<std::string>{"lab"});
  auto br = net_.GetInterface("", bridge);
  ASSERT_TRUE(br.has_value());
  EXPECT_TRUE(std::count(br->addresses.begin(), br->addresses.end(),
                         "172.20.20.1/24"));
  EXPECT_EQ(net_.GetInterface("", a_end)->master, bridge);
  EXPECT_EQ(net_.GetInterface("", "b-eth5")->master, bridge);
}

TEST_F(SpecialEndsTest, ManagementBridgeNameOrSubnetTakenIsRefusedUntouched) {
  auto named = MgmtSpec();
  named.mutable_mgmt()->set_bridge("userbr");
  ASSERT_TRUE(net_.CreateBridge("", "userbr").ok());  // the user's
  absl::Status s = Apply(named);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("lab lab: management bridge userbr "
                             "(lab.clab.yml:3): an interface of that name "
                             "already exists on host h1 (not made by emu)"),
            std::string::npos)
      << s;
  // A subnet the host has an address in: its route would take the lab's.
  ASSERT_TRUE(net_.SetAddresses("", "userbr", {"172.20.0.1/16"}).ok());
  s = Apply(MgmtSpec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("management subnet 172.20.20.0/24 "
                             "(lab.clab.yml:3) overlaps 172.20.0.1/16 on "
                             "interface userbr of host h1 (not made by emu)"),
            std::string::npos)
      << s;
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
  EXPECT_TRUE(store_->List()->empty());
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_TRUE(net_.GetInterface("", "userbr").has_value());
}

TEST_F(SpecialEndsTest, ManagementSubnetARouteTakesIsRefusedUntouched) {
  ASSERT_TRUE(net_.CreateBridge("", "uplink0").ok());
  ASSERT_TRUE(net_.SetAddresses("", "uplink0", {"10.99.0.1/24"}).ok());
  net::HostNetwork::RouteSpec route;
  route.destination = "172.20.0.0/16";
  route.via = "10.99.0.254";
  ASSERT_TRUE(net_.ReplaceRoute("", route).ok());
  absl::Status s = Apply(MgmtSpec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("lab lab: management subnet 172.20.20.0/24 "
                             "(lab.clab.yml:3) overlaps the route to "
                             "172.20.0.0/16 of host h1"),
            std::string::npos)
      << s;
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
  // A default route takes what nothing else does: no conflict.
  route.destination = "default";
  ASSERT_TRUE(net_.ReplaceRoute("", route).ok());
  auto ipv6_only = MgmtSpec();
  ipv6_only.mutable_mgmt()->clear_ipv4_subnet();
  ipv6_only.mutable_mgmt()->clear_ipv4_gateway();
  for (auto& n : *ipv6_only.mutable_nodes()) {
    for (auto& i : *n.mutable_interfaces()) i.clear_addresses();
  }
  EXPECT_TRUE(Apply(ipv6_only).ok());
}

TEST_F(SpecialEndsTest, AnotherAgentsManagementNetworkIsNotOurs) {
  // The local cluster without --host-netns: two agents, one namespace.
  auto other = Make("h2");
  ASSERT_TRUE(
      other->Apply(MgmtSpec(), [](const emu::v1::ApplyLabEvent&) {}).ok());
  absl::Status s = Apply(MgmtSpec());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  // The same lab's mgmt-net end (b-eth5) is h2's: refused before its
  // bridge or subnet is looked at.
  EXPECT_NE(s.message().find("(agent h2)"), std::string::npos) << s;
  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_TRUE(
      net_.GetInterface("", net::MgmtBridgeName("h2", "lab")).has_value());
  ASSERT_TRUE(other->Destroy("lab").ok());
  auto root = net_.ListInterfaces("");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->size(), 1u);
}

}  // namespace
}  // namespace emu::agent::reconcile
