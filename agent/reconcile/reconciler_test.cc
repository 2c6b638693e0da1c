#include "agent/reconcile/reconciler.h"

#include <unistd.h>

#include <algorithm>
#include <map>

#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "agent/node/testing/fake_node_driver.h"
#include "agent/reconcile/testing/reconciler_fixture.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"

namespace emu::agent::reconcile {
namespace {

using M = net::FakeHostNetwork::Method;

// Processes "inside" namespaces, by namespace name.
class FakeNamespaceProcesses : public net::NamespaceProcesses {
 public:
  absl::StatusOr<std::vector<pid_t>> List(const std::string& ns) override {
    return pids_[ns];
  }
  absl::Status KillAll(const std::string& ns, absl::Duration) override {
    killed_.push_back(ns);
    pids_.erase(ns);
    return absl::OkStatus();
  }
  std::map<std::string, std::vector<pid_t>> pids_;
  std::vector<std::string> killed_;
};

// a -- b -- c, a<->b shaped to 10 Mbit/s one way, b routes.
emu::v1::ApplyLabRequest Spec() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab");
  auto* a = spec.add_nodes();
  a->set_name("a");
  auto* ia = a->add_interfaces();
  ia->set_name("eth1");
  ia->add_addresses("10.0.1.2/24");
  auto* ra = a->add_routes();
  ra->set_destination("default");
  ra->set_via("10.0.1.1");
  auto* b = spec.add_nodes();
  b->set_name("b");
  (*b->mutable_sysctls())["net.ipv4.ip_forward"] = "1";
  auto* ib1 = b->add_interfaces();
  ib1->set_name("eth1");
  ib1->add_addresses("10.0.1.1/24");
  auto* ib2 = b->add_interfaces();
  ib2->set_name("eth2");
  ib2->add_addresses("10.0.2.1/24");
  auto* c = spec.add_nodes();
  c->set_name("c");
  auto* ic = c->add_interfaces();
  ic->set_name("eth1");
  ic->add_addresses("10.0.2.2/24");
  ic->set_mac("02:00:00:00:00:0c");
  auto* l1 = spec.add_links();
  l1->mutable_a()->set_node("a");
  l1->mutable_a()->set_interface("eth1");
  l1->mutable_b()->set_node("b");
  l1->mutable_b()->set_interface("eth1");
  l1->mutable_a_to_b()->set_rate_bps(10'000'000);
  auto* l2 = spec.add_links();
  l2->mutable_a()->set_node("b");
  l2->mutable_a()->set_interface("eth2");
  l2->mutable_b()->set_node("c");
  l2->mutable_b()->set_interface("eth1");
  return spec;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestSpecDir("reconciler");
    auto store = LabSpecStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    store_ = std::make_unique<LabSpecStore>(*std::move(store));
    net_.set_features(testing::NoNetemKernel());
    rec_ = Make();
  }

  std::unique_ptr<Reconciler> Make() {
    return std::make_unique<Reconciler>("h1", &net_, &launcher_, &procs_,
                                        store_.get(), *net_.ProbeKernel());
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

  std::string dir_;
  net::FakeHostNetwork net_;
  FakeProcessLauncher launcher_;
  FakeNamespaceProcesses procs_;
  std::unique_ptr<LabSpecStore> store_;
  std::unique_ptr<Reconciler> rec_;
  std::vector<emu::v1::ApplyLabEvent> events_;
};

TEST_F(ReconcilerTest, ApplyBuildsEverythingAndSecondApplyChangesNothing) {
  ASSERT_TRUE(Apply(Spec()).ok());
  for (const char* n : {"a", "b", "c"}) EXPECT_TRUE(net_.HasNamespace(Ns(n)));
  auto peer = net_.Peer(Ns("a"), "eth1");
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(*peer, std::make_pair(Ns("b"), std::string("eth1")));
  auto c = net_.GetInterface(Ns("c"), "eth1");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->mac, "02:00:00:00:00:0c");
  EXPECT_EQ(c->alias, "emu lab=lab link=b:eth2<->c:eth1");
  EXPECT_TRUE(
      std::count(c->addresses.begin(), c->addresses.end(), "10.0.2.2/24"));
  EXPECT_EQ(net_.Sysctl(Ns("b"), "net.ipv4.ip_forward"), "1");
  ASSERT_EQ(net_.Routes(Ns("a")).size(), 1u);
  EXPECT_EQ(net_.Routes(Ns("a"))[0].via, "10.0.1.1");
  // TBF on the sending side of a->b only.
  auto plan = net_.AppliedPlan(Ns("a"), "eth1");
  ASSERT_TRUE(plan.has_value());
  ASSERT_TRUE(plan->tbf.has_value());
  EXPECT_EQ(plan->tbf->rate_bytes_per_sec, 1'250'000u);
  EXPECT_FALSE(net_.AppliedPlan(Ns("b"), "eth1").has_value());
  EXPECT_EQ(events_.back().kind(), emu::v1::ApplyLabEvent::DONE);

  int changes = net_.changes();
  ASSERT_TRUE(Apply(Spec()).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 3);
  EXPECT_EQ(net_.calls(M::kCreateVeth), 2);
}

TEST_F(ReconcilerTest, NetemOnAHostWithoutItFailsBeforeCreatingAnything) {
  auto spec = Spec();
  spec.mutable_links(1)->mutable_b_to_a()->set_delay_us(10000);
  absl::Status s = Apply(spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("link b:eth2<->c:eth1"), std::string::npos) << s;
  EXPECT_NE(s.message().find("no sch_netem"), std::string::npos) << s;
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
  EXPECT_TRUE(store_->List()->empty());
}

TEST_F(ReconcilerTest, UnsupportedKindAndBadSpecsAreRefused) {
  auto spec = Spec();
  spec.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
  EXPECT_EQ(Apply(spec).code(), absl::StatusCode::kFailedPrecondition);
  spec = Spec();
  spec.mutable_links(0)->mutable_b()->set_node("zz");
  EXPECT_EQ(Apply(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = Spec();
  spec.set_lab("bad.name");
  EXPECT_EQ(Apply(spec).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
}

TEST_F(ReconcilerTest, FailureMidwayIsNamedAndDestroyRemovesWhatWasMade) {
  net_.FailNthCall(M::kCreateVeth, 2,
                   absl::AlreadyExistsError("create veth: File exists"));
  absl::Status s = Apply(Spec());
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("link b:eth2<->c:eth1"), std::string::npos) << s;
  auto removed = rec_->Destroy("lab");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 4);  // 3 namespaces + the saved spec
  EXPECT_TRUE(net_.ListNamespaces("emu.h1.")->empty());
  EXPECT_TRUE(store_->List()->empty());
  // Destroy is idempotent.
  EXPECT_EQ(*rec_->Destroy("lab"), 0);
}

TEST_F(ReconcilerTest, RestartedAgentRecreatesWhatIsMissing) {
  ASSERT_TRUE(Apply(Spec()).ok());
  ASSERT_TRUE(net_.DeleteNamespace(Ns("b")).ok());  // lost while agent was down
  EXPECT_FALSE(net_.Peer(Ns("a"), "eth1").has_value());
  auto restarted = Make();
  std::vector<std::string> log;
  auto labs = restarted->RecoverAll(
      [&](const std::string& line) { log.push_back(line); });
  EXPECT_EQ(labs, std::vector<std::string>{"lab"});
  EXPECT_TRUE(net_.HasNamespace(Ns("b")));
  EXPECT_TRUE(net_.Peer(Ns("a"), "eth1").has_value());
  EXPECT_TRUE(net_.Peer(Ns("c"), "eth1").has_value());
  EXPECT_EQ(net_.Sysctl(Ns("b"), "net.ipv4.ip_forward"), "1");
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log[0].find("recovered lab lab"), std::string::npos) << log[0];
}

TEST_F(ReconcilerTest, ShrinkingTheSpecRemovesNodesLinksAndTheirProcesses) {
  ASSERT_TRUE(Apply(Spec()).ok());
  procs_.pids_[Ns("c")] = {4242};
  auto spec = Spec();
  spec.mutable_nodes()->RemoveLast();                         // c
  spec.mutable_links()->RemoveLast();                         // b<->c
  spec.mutable_nodes(1)->mutable_interfaces()->RemoveLast();  // b eth2
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_FALSE(net_.HasNamespace(Ns("c")));
  EXPECT_EQ(procs_.killed_, std::vector<std::string>{Ns("c")});
  EXPECT_FALSE(net_.GetInterface(Ns("b"), "eth2").has_value());
  EXPECT_TRUE(net_.GetInterface(Ns("b"), "eth1").has_value());
}

// containerlab's network-mode container:b: d has b's namespace under its
// own name; its link end, address and sysctl are made there, b's ends are
// not taken for stale ones, and re-applying changes nothing.
TEST_F(ReconcilerTest, ANodeSharingANamespaceWorksInIt) {
  auto spec = Spec();
  auto* d = spec.add_nodes();
  d->set_name("d");
  d->set_netns_of("b");
  (*d->mutable_sysctls())["net.ipv6.conf.all.forwarding"] = "1";
  auto* id = d->add_interfaces();
  id->set_name("net0");
  id->add_addresses("10.0.3.1/24");
  auto* e = spec.add_nodes();
  e->set_name("e");
  auto* ie = e->add_interfaces();
  ie->set_name("net0");
  auto* l = spec.add_links();
  l->mutable_a()->set_node("d");
  l->mutable_a()->set_interface("net0");
  l->mutable_b()->set_node("e");
  l->mutable_b()->set_interface("net0");
  // d comes before b in the spec: b's namespace is made first all the same.
  spec.mutable_nodes()->SwapElements(1, 3);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 4);  // a, b, c, e
  EXPECT_EQ(net_.calls(M::kShareNamespace), 1);
  auto b_id = net_.NamespaceId(Ns("b"));
  auto d_id = net_.NamespaceId(Ns("d"));
  ASSERT_TRUE(b_id.ok() && d_id.ok());
  EXPECT_EQ(*b_id, *d_id);
  // d's end and b's are in one namespace, seen through either name.
  for (const char* n : {"b", "d"}) {
    for (const char* i : {"eth1", "eth2", "net0"}) {
      EXPECT_TRUE(net_.GetInterface(Ns(n), i).has_value()) << n << ":" << i;
    }
  }
  auto d0 = net_.GetInterface(Ns("b"), "net0");
  EXPECT_TRUE(std::count(d0->addresses.begin(), d0->addresses.end(),
                         "10.0.3.1/24"));
  EXPECT_EQ(net_.Sysctl(Ns("b"), "net.ipv6.conf.all.forwarding"), "1");
  EXPECT_EQ(net_.Peer(Ns("e"), "net0")->second, "net0");
  int changes = net_.changes();
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(net_.changes(), changes) << "re-applying changed the host";
  // d goes, b stays (the agent's side of it; the controller's apply refuses
  // it): only the name is removed, b's processes are not killed.
  procs_.pids_[Ns("b")] = {4242};
  auto less = spec;
  less.mutable_nodes()->DeleteSubrange(1, 1);  // d (swapped to index 1)
  less.mutable_links()->RemoveLast();          // d<->e
  ASSERT_TRUE(Apply(less).ok());
  EXPECT_FALSE(net_.HasNamespace(Ns("d")));
  EXPECT_TRUE(net_.HasNamespace(Ns("b")));
  EXPECT_TRUE(procs_.killed_.empty());
  EXPECT_FALSE(net_.GetInterface(Ns("b"), "net0").has_value());
  EXPECT_TRUE(net_.GetInterface(Ns("b"), "eth2").has_value());
}

TEST_F(ReconcilerTest, ExecRunsInTheNodesNamespace) {
  ASSERT_TRUE(Apply(Spec()).ok());
  launcher_.QueueResult(FakeProcessLauncher::Exited(3, "out", "err"));
  emu::v1::ExecRequest req;
  req.set_lab("lab");
  req.set_node("b");
  req.add_argv("ip");
  req.add_argv("route");
  auto r = rec_->Exec(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code(), 3);
  EXPECT_EQ(r->stdout(), "out");
  ASSERT_EQ(launcher_.runs().size(), 1u);
  EXPECT_EQ(launcher_.runs()[0].netns, Ns("b"));
  EXPECT_EQ(launcher_.runs()[0].timeout, absl::Seconds(60));
  req.set_node("zz");
  EXPECT_EQ(rec_->Exec(req).status().code(), absl::StatusCode::kNotFound);
  req.set_node("b");
  req.clear_argv();
  EXPECT_EQ(rec_->Exec(req).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// containerlab's `target: host` (ExecRequest.on_host): refused by the agent
// itself unless it was started with --allow_host_commands; allowed, it runs
// in the agent's own namespace (no netns, no sandbox) for a node it holds.
TEST_F(ReconcilerTest, HostCommandsOnlyWhenTheAgentAllowsThem) {
  ASSERT_TRUE(Apply(Spec()).ok());
  emu::v1::ExecRequest req;
  req.set_lab("lab");
  req.set_node("b");
  req.set_on_host(true);
  req.add_argv("touch");
  req.add_argv("/tmp/x");
  auto refused = rec_->Exec(req);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.status().message(),
            "host h1: lab lab node b: refused a target: host command (`touch "
            "/tmp/x`): this agent was not started with --allow_host_commands");
  EXPECT_TRUE(launcher_.runs().empty());

  rec_->AllowHostCommands(true);
  launcher_.QueueResult(FakeProcessLauncher::Exited(0, "", ""));
  auto r = rec_->Exec(req);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(launcher_.runs().size(), 1u);
  EXPECT_EQ(launcher_.runs()[0].netns, "");
  EXPECT_EQ(launcher_.runs()[0].sandbox_holder, 0);
  EXPECT_EQ(launcher_.runs()[0].argv,
            (std::vector<std::string>{"touch", "/tmp/x"}));
  // Only for a node of a lab on this host.
  req.set_node("zz");
  EXPECT_EQ(rec_->Exec(req).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(launcher_.runs().size(), 1u);
}

TEST_F(ReconcilerTest, ListResourcesReportsWhatIsObserved) {
  ASSERT_TRUE(Apply(Spec()).ok());
  procs_.pids_[Ns("a")] = {99};
  auto res = rec_->ListResources("lab");
  ASSERT_TRUE(res.ok());
  std::map<int, int> by_kind;
  for (const auto& r : res->resources()) ++by_kind[r.kind()];
  EXPECT_EQ(by_kind[emu::v1::OwnedResource::NETNS], 3);
  EXPECT_EQ(by_kind[emu::v1::OwnedResource::INTERFACE], 4);
  EXPECT_EQ(by_kind[emu::v1::OwnedResource::QDISC], 1);
  EXPECT_EQ(by_kind[emu::v1::OwnedResource::PROCESS], 1);
  EXPECT_EQ(by_kind[emu::v1::OwnedResource::STATE_FILE], 1);
  EXPECT_EQ(rec_->ListResources("other")->resources_size(), 0);
}

TEST_F(ReconcilerTest, SetLinkParamsReshapesAndIsRemembered) {
  ASSERT_TRUE(Apply(Spec()).ok());
  emu::v1::SetLinkParamsRequest req;
  req.set_lab("lab");
  *req.mutable_a() = Spec().links(1).b();  // given the other way round
  *req.mutable_b() = Spec().links(1).a();
  req.mutable_a_to_b()->set_rate_bps(50'000'000);  // c -> b
  ASSERT_TRUE(rec_->SetLinkParams(req).ok());
  auto plan = net_.AppliedPlan(Ns("c"), "eth1");
  ASSERT_TRUE(plan.has_value() && plan->tbf.has_value());
  EXPECT_EQ(plan->tbf->rate_bytes_per_sec, 6'250'000u);
  EXPECT_EQ(store_->Load("lab")->links(1).b_to_a().rate_bps(), 50'000'000u);
  req.mutable_a()->set_interface("nope");
  EXPECT_EQ(rec_->SetLinkParams(req).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace emu::agent::reconcile

namespace emu::agent::reconcile {
namespace {

TEST_F(ReconcilerTest, AddressesOfUndeclaredInterfacesAreLeftToExecLines) {
  auto spec = Spec();
  spec.mutable_nodes(2)->mutable_interfaces(0)->clear_addresses();  // c eth1
  ASSERT_TRUE(Apply(spec).ok());
  // What an exec line added ("ip addr add ...") survives a re-apply.
  ASSERT_TRUE(net_.SetAddresses(Ns("c"), "eth1", {"192.168.7.7/24"}).ok());
  ASSERT_TRUE(Apply(spec).ok());
  auto c = net_.GetInterface(Ns("c"), "eth1");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(
      std::count(c->addresses.begin(), c->addresses.end(), "192.168.7.7/24"));
}

}  // namespace
}  // namespace emu::agent::reconcile

namespace emu::agent::reconcile {
namespace {

// Node kinds are served by their drivers: a kind without one is refused
// before anything is created; one with a driver gets its nodes, their
// egress, their commands and their removal.
TEST_F(ReconcilerTest, KindWithoutDriverIsRefusedBeforeAnythingIsCreated) {
  auto spec = Spec();
  spec.mutable_nodes(2)->set_kind(emu::v1::NODE_KIND_QEMU);  // c
  absl::Status s = Apply(spec);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("node c"), std::string::npos) << s;
  EXPECT_FALSE(net_.HasNamespace(Ns("a")));
}

TEST_F(ReconcilerTest, NodesOfAKindGoToItsDriver) {
  node::testing::FakeNodeDriver qemu(emu::v1::NODE_KIND_QEMU,
                                     /*shapes_own_egress=*/true);
  rec_->AddDriver(&qemu);
  auto spec = Spec();
  spec.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);  // a
  // a sends with delay: refused for a netns sender on a host without
  // NetEm, accepted for a driver that shapes inside its node.
  spec.mutable_links(0)->mutable_a_to_b()->set_delay_us(5000);
  ASSERT_TRUE(Apply(spec).ok());
  EXPECT_EQ(qemu.ensured(), std::vector<std::string>{"lab/a"});
  ASSERT_EQ(qemu.egress().size(), 1u);
  EXPECT_EQ(qemu.egress()[0].rfind("lab/a:eth1 ", 0), 0u) << qemu.egress()[0];
  // The namespace exists for every kind (a guest runs inside one); the
  // netns driver configured only the netns nodes.
  EXPECT_TRUE(net_.HasNamespace(Ns("a")));
  EXPECT_EQ(net_.Sysctl(Ns("b"), "net.ipv4.ip_forward"), "1");
  EXPECT_TRUE(net_.Routes(Ns("a")).empty());

  emu::v1::ExecRequest req;
  req.set_lab("lab");
  req.set_node("a");
  req.add_argv("true");
  auto r = rec_->Exec(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stdout(), "from fake driver");
  EXPECT_EQ(qemu.execs(), std::vector<std::string>{"lab/a"});

  auto listed = rec_->ListResources("lab");
  ASSERT_TRUE(listed.ok());
  bool seen = false;
  for (const auto& res : listed->resources()) seen |= res.name() == "lab/a";
  EXPECT_TRUE(seen) << "the driver's resources are listed";

  ASSERT_TRUE(rec_->Destroy("lab").ok());
  EXPECT_EQ(qemu.destroyed(), std::vector<std::string>{"lab"});
  EXPECT_TRUE(qemu.Observe("lab").empty());
}

TEST_F(ReconcilerTest, DelayFromANetnsSenderNeedsNetemOnTheHost) {
  auto spec = Spec();
  spec.mutable_links(0)->mutable_a_to_b()->set_delay_us(5000);
  absl::Status s = Apply(spec);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("sch_netem"), std::string::npos) << s;
}

}  // namespace
}  // namespace emu::agent::reconcile
