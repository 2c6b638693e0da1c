// A community attachment served by the userspace engine (docs/community.md,
// issue 8): one of its TAPs lies in ANOTHER lab's segment namespace, so
// destroying that lab must close the link, as it closes tunnels there
// (TunnelManager::RemoveInNamespaces): an open TAP fd pins its namespace,
// which would outlive `ip netns del` with the segment's bridge in it.
// FakeHostNetwork (no sch_netem), fake TAPs, FakeLinkEngine; no root.
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/impair/engine_links.h"
#include "agent/impair/testing/fake_link_engine.h"
#include "agent/net/resource_names.h"
#include "agent/net/testing/fake_host_network.h"
#include "agent/net/testing/no_processes.h"
#include "agent/node/segment_driver.h"
#include "agent/reconcile/reconciler.h"
#include "agent/reconcile/testing/net_tap_opener.h"
#include "agent/reconcile/testing/reconciler_fixture.h"
#include "common/testing/fake_process_launcher.h"
#include "gtest/gtest.h"

namespace emu::agent::reconcile {
namespace {

constexpr char kExporter[] = "alice+bb";
constexpr char kAttacher[] = "bob+edge";
constexpr char kAttachment[] = "r1:eth1<->c-1:x1";

// Alice's lab: switch s with member m1 on s:p1.
emu::v1::ApplyLabRequest Exporter() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab(kExporter);
  auto* s = spec.add_nodes();
  s->set_name("s");
  s->set_kind(emu::v1::NODE_KIND_SWITCH);
  auto* m1 = spec.add_nodes();
  m1->set_name("m1");
  m1->add_interfaces()->set_name("eth1");
  auto* l = spec.add_links();
  l->mutable_a()->set_node("s");
  l->mutable_a()->set_interface("p1");
  l->mutable_b()->set_node("m1");
  l->mutable_b()->set_interface("eth1");
  return spec;
}

// Bob's lab: r1:eth1 attached to Alice's s through anchor c-1, with a delay
// (no sch_netem here: the userspace engine serves the link).
emu::v1::ApplyLabRequest Attacher() {
  emu::v1::ApplyLabRequest spec;
  spec.set_lab(kAttacher);
  auto* r1 = spec.add_nodes();
  r1->set_name("r1");
  r1->add_interfaces()->set_name("eth1");
  auto* anchor = spec.add_nodes();
  anchor->set_name("c-1");
  anchor->set_kind(emu::v1::NODE_KIND_SWITCH);
  anchor->set_foreign_lab(kExporter);
  anchor->set_foreign_node("s");
  auto* l = spec.add_links();
  l->mutable_a()->set_node("r1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("c-1");
  l->mutable_b()->set_interface("x1");
  l->mutable_a_to_b()->set_delay_us(10'000);
  l->mutable_b_to_a()->set_delay_us(10'000);
  return spec;
}

class ReconcilerCommunityEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestSpecDir("community_engine");
    auto store = LabSpecStore::Open(dir_);
    ASSERT_TRUE(store.ok());
    store_ = std::make_unique<LabSpecStore>(*std::move(store));
    net_.set_features(testing::NoNetemKernel(/*bridge=*/true));
    links_ = std::make_unique<impair::EngineLinks>(&engine_, &taps_);
    rec_ = std::make_unique<Reconciler>("h1", &net_, &launcher_, &procs_,
                                        store_.get(), *net_.ProbeKernel(),
                                        nullptr, links_.get());
    for (auto kind : {emu::v1::NODE_KIND_BRIDGE, emu::v1::NODE_KIND_SWITCH,
                      emu::v1::NODE_KIND_HUB}) {
      drivers_.push_back(std::make_unique<node::SegmentDriver>(
          kind, "h1", &net_, rec_->netns_driver()));
      rec_->AddDriver(drivers_.back().get());
    }
  }

  absl::Status Apply(const emu::v1::ApplyLabRequest& spec) {
    return rec_->Apply(spec, [](const emu::v1::ApplyLabEvent&) {});
  }

  std::string dir_;
  net::FakeHostNetwork net_;
  NetTapOpener taps_{&net_};
  FakeProcessLauncher launcher_;
  net::NoProcesses procs_;
  impair::FakeLinkEngine engine_;
  std::unique_ptr<LabSpecStore> store_;
  std::unique_ptr<impair::EngineLinks> links_;
  std::unique_ptr<Reconciler> rec_;
  std::vector<std::unique_ptr<node::SegmentDriver>> drivers_;
};

TEST_F(ReconcilerCommunityEngineTest,
       DestroyingTheExporterClosesEngineLinksInItsSegment) {
  ASSERT_TRUE(Apply(Exporter()).ok());
  absl::Status s = Apply(Attacher());
  ASSERT_TRUE(s.ok()) << s;
  // The attachment is an engine link with one TAP in Alice's segment.
  ASSERT_TRUE(links_->Has(kAttacher, kAttachment));
  const std::string segment_ns = net::NamespaceName("h1", kExporter, "s");
  EXPECT_TRUE(net_.GetInterface(segment_ns, "x1").has_value());

  ASSERT_TRUE(rec_->Destroy(kExporter).ok());
  // Its TAP in the removed namespace is closed; Bob's lab keeps its node
  // (the controller detaches the attachment: ReconcileCommunity).
  EXPECT_FALSE(links_->Has(kAttacher, kAttachment));
  EXPECT_TRUE(engine_.links().empty());
  EXPECT_TRUE(net_.HasNamespace(net::NamespaceName("h1", kAttacher, "r1")));

  // Bob's own engine links are not touched by another lab leaving: re-apply
  // Alice's lab and Bob's, then destroy only Bob's.
  ASSERT_TRUE(Apply(Exporter()).ok());
  ASSERT_TRUE(Apply(Attacher()).ok());
  ASSERT_TRUE(links_->Has(kAttacher, kAttachment));
  ASSERT_TRUE(rec_->Destroy(kAttacher).ok());
  EXPECT_FALSE(links_->Has(kAttacher, kAttachment));
  EXPECT_TRUE(net_.HasNamespace(segment_ns));
}

}  // namespace
}  // namespace emu::agent::reconcile
