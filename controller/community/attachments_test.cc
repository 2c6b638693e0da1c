#include "controller/community/attachments.h"

#include "controller/community/exports.h"
#include "gtest/gtest.h"
#include "proto/topology_names.h"

namespace emu::controller::community {
namespace {

using emu::v1::Lab;
using emu::v1::Topology;

// Alice's backbone: switch sw1 on host h1, exported as ix1 to `to`.
Lab Backbone(std::vector<std::string> to,
             emu::v1::LabState state = emu::v1::RUNNING) {
  Lab lab;
  lab.set_name("alice+backbone");
  lab.set_owner("alice");
  lab.set_state(state);
  auto* sw = lab.mutable_topology()->add_nodes();
  sw->set_name("sw1");
  sw->set_kind(emu::v1::NODE_KIND_SWITCH);
  auto* ex = lab.mutable_topology()->mutable_community()->add_exports();
  ex->set_name("ix1");
  ex->set_segment("sw1");
  for (auto& who : to) ex->add_to(who);
  auto* ns = lab.add_nodes();
  ns->set_name("sw1");
  ns->set_host("h1");
  return lab;
}

// Bob's edge lab: r1:eth1 attached to `endpoint`.
Topology Edge(const std::string& endpoint) {
  Topology t;
  t.set_name("bob+edge");
  auto* r1 = t.add_nodes();
  r1->set_name("r1");
  r1->set_kind(emu::v1::NODE_KIND_NETNS);
  auto* at = t.add_attachments();
  at->mutable_local()->set_node("r1");
  at->mutable_local()->set_interface("eth1");
  at->set_endpoint(endpoint);
  at->mutable_to_community()->set_rate_bps(100000000);
  at->mutable_from_community()->set_rate_bps(50000000);
  at->mutable_source()->set_file("edge.yaml");
  at->mutable_source()->set_line(9);
  return t;
}

TEST(AttachmentsTest, ExportsOfStoredLabs) {
  std::vector<LiveExport> exports =
      ExportsOf({Backbone({"bob"}), Backbone({"bob"}, emu::v1::FAILED)});
  ASSERT_EQ(exports.size(), 1u);
  EXPECT_EQ(ExportName(exports[0].spec), "alice/ix1");
  EXPECT_EQ(exports[0].spec.lab, "backbone");
  EXPECT_EQ(exports[0].lab_key, "alice+backbone");
  EXPECT_EQ(exports[0].host, "h1");
  EXPECT_EQ(exports[0].kind, emu::v1::NODE_KIND_SWITCH);
  EXPECT_TRUE(exports[0].running());
}

TEST(AttachmentsTest, RefusalsNameTheAttachmentAndTheEndpoint) {
  const auto exports = ExportsOf({Backbone({"bob"})});
  struct {
    const char* caller;
    const char* endpoint;
    bool ok;
  } cases[] = {
      {"bob", "alice/ix1", true},     // exported to bob
      {"carol", "alice/ix1", false},  // not to carol
      {"bob", "alice/ix2", false},    // no such export
      {"bob", "ix1", false},          // bob's own ix1: none
      {"alice", "ix1", true},         // the owner's own, short form
      {"admin", "alice/ix1", true},   // the administrator
      {"bob", "alice/ix1/x", false},  // malformed
  };
  for (const auto& c : cases) {
    absl::Status s = CheckAttachments(Edge(c.endpoint), c.caller, exports);
    EXPECT_EQ(s.ok(), c.ok) << c.caller << " -> " << c.endpoint << ": " << s;
  }
  absl::Status s = CheckAttachments(Edge("alice/ix1"), "carol", exports);
  EXPECT_EQ(s.message(),
            "edge.yaml:9: link r1:eth1<->community:alice/ix1: community "
            "endpoint alice/ix1 does not exist or is not exported to carol");
  // A missing export reads exactly like one not offered.
  s = CheckAttachments(Edge("alice/ix9"), "bob", exports);
  EXPECT_EQ(s.message(),
            "edge.yaml:9: link r1:eth1<->community:alice/ix9: community "
            "endpoint alice/ix9 does not exist or is not exported to bob");
}

TEST(AttachmentsTest, ExpandAddsAPinnedAnchorAndAPortLink) {
  const auto exports = ExportsOf({Backbone({"all"})});
  Topology t = ExpandAttachments(Edge("alice/ix1"), "bob", exports);
  ASSERT_EQ(t.nodes_size(), 2);
  const auto& anchor = t.nodes(1);
  EXPECT_TRUE(IsAnchor(anchor));
  EXPECT_EQ(anchor.name(), ForeignAnchorName("alice+backbone", "sw1", "h1"));
  EXPECT_EQ(anchor.host(), "h1");
  EXPECT_EQ(anchor.kind(), emu::v1::NODE_KIND_SWITCH);
  EXPECT_EQ(anchor.foreign_lab(), "alice+backbone");
  EXPECT_EQ(anchor.foreign_node(), "sw1");
  ASSERT_EQ(t.links_size(), 1);
  const auto& link = t.links(0);
  EXPECT_EQ(EndpointName(link.a()), "r1:eth1");
  EXPECT_EQ(link.b().node(), anchor.name());
  EXPECT_EQ(link.b().interface(), PortName("bob+edge", link.a()));
  EXPECT_LE(link.b().interface().size(), 15u);
  EXPECT_EQ(link.a_to_b().rate_bps(), 100000000u);
  EXPECT_EQ(link.b_to_a().rate_bps(), 50000000u);
  ASSERT_EQ(anchor.interfaces_size(), 1);
  EXPECT_TRUE(DownAttachments(t).empty());
  // Expanding again (an expanded topology) gives the same.
  Topology again = ExpandAttachments(t, "bob", exports);
  EXPECT_TRUE(SameAttachments(t, again));
  EXPECT_EQ(again.nodes_size(), 2);
  EXPECT_EQ(again.links_size(), 1);
}

TEST(AttachmentsTest, ShownNamesAreTheEndpointsTheFileNamed) {
  const auto exports = ExportsOf({Backbone({"all"})});
  Topology t = ExpandAttachments(Edge("alice/ix1"), "bob", exports);
  const std::string anchor = t.nodes(1).name();
  const std::string port = t.links(0).b().interface();
  auto shown = ShownAttachmentNames(t, "bob");
  EXPECT_EQ(WithShownNames("+ node " + anchor + " (host h1)", shown),
            "+ node community:alice/ix1 (host h1)");
  EXPECT_EQ(WithShownNames("+ link r1:eth1<->" + anchor + ":" + port, shown),
            "+ link r1:eth1<->community:alice/ix1");
  EXPECT_EQ(WithShownNames("~ link r1:eth2<->r2:eth1 rate", shown),
            "~ link r1:eth2<->r2:eth1 rate");
  // One's own export named without an owner reads with it.
  Lab own = Backbone({"all"});
  own.set_name("bob+backbone");
  own.set_owner("bob");
  Topology mine = ExpandAttachments(Edge("ix1"), "bob", ExportsOf({own}));
  shown = ShownAttachmentNames(mine, "bob");
  EXPECT_EQ(WithShownNames(mine.nodes(1).name(), shown),
            "community:bob/ix1");
}

TEST(AttachmentsTest, ExporterDownLeavesTheAttachmentDownAndBack) {
  Topology edge = Edge("alice/ix1");
  auto* eth1 = edge.mutable_nodes(0)->add_interfaces();
  eth1->set_name("eth1");
  eth1->add_addresses("10.100.0.11/24");
  KeepLocalInterfaces(&edge);
  Topology up = ExpandAttachments(edge, "bob", ExportsOf({Backbone({"bob"})}));
  Topology down = ExpandAttachments(
      up, "bob", ExportsOf({Backbone({"bob"}, emu::v1::DESTROYING)}));
  EXPECT_EQ(down.nodes_size(), 1);  // r1 only
  // Detached, r1 declares no eth1 (the agent would look for it); it comes
  // back as declared.
  EXPECT_EQ(down.nodes(0).interfaces_size(), 0);
  EXPECT_EQ(down.links_size(), 0);
  EXPECT_FALSE(SameAttachments(up, down));
  EXPECT_EQ(DownAttachments(down),
            std::vector<std::string>{"r1:eth1<->community:alice/ix1"});
  Topology back =
      ExpandAttachments(down, "bob", ExportsOf({Backbone({"bob"})}));
  EXPECT_TRUE(SameAttachments(up, back));
  ASSERT_EQ(back.nodes(0).interfaces_size(), 1);
  EXPECT_EQ(back.nodes(0).interfaces(0).addresses(0), "10.100.0.11/24");
  // The segment moved to another host: another anchor.
  Lab moved = Backbone({"bob"});
  moved.mutable_nodes(0)->set_host("h2");
  Topology elsewhere = ExpandAttachments(up, "bob", ExportsOf({moved}));
  EXPECT_FALSE(SameAttachments(up, elsewhere));
  EXPECT_EQ(elsewhere.nodes(1).host(), "h2");
}

TEST(AttachmentsTest, AsDeclaredIsTheFileAgainUpOrDown) {
  Topology edge = Edge("alice/ix1");
  auto* eth1 = edge.mutable_nodes(0)->add_interfaces();
  eth1->set_name("eth1");
  eth1->add_addresses("10.100.0.11/24");
  // Bob's lab also exports a free interface of r1: a bridge the controller
  // adds, linked to r1:eth9.
  edge.mutable_nodes(0)->add_interfaces()->set_name("eth9");
  auto* ex = edge.mutable_community()->add_exports();
  ex->set_name("p1");
  ex->mutable_interface()->set_node("r1");
  ex->mutable_interface()->set_interface("eth9");
  ex->add_to("all");
  KeepLocalInterfaces(&edge);
  const Topology declared = edge;
  Topology up = ExpandAttachments(ExpandInterfaceExports(edge), "bob",
                                  ExportsOf({Backbone({"bob"})}));
  ASSERT_EQ(up.nodes_size(), 3);  // r1, the export's bridge, the anchor
  ASSERT_EQ(up.links_size(), 2);
  Topology down = ExpandAttachments(
      up, "bob", ExportsOf({Backbone({"bob"}, emu::v1::DESTROYING)}));
  ASSERT_EQ(down.nodes(0).interfaces_size(), 1);  // eth1 removed while down
  for (const Topology& stored : {up, down}) {
    Topology again = AsDeclared(stored);
    ASSERT_EQ(again.nodes_size(), 1);
    EXPECT_EQ(again.links_size(), 0);
    ASSERT_EQ(again.nodes(0).interfaces_size(), 2);
    EXPECT_EQ(again.community().exports(0).segment(), "");
    EXPECT_EQ(again.attachments_size(), 1);
    // Expanded again, it is what was stored.
    Topology expanded = ExpandAttachments(ExpandInterfaceExports(again), "bob",
                                          ExportsOf({Backbone({"bob"})}));
    EXPECT_TRUE(SameAttachments(expanded, up));
    EXPECT_EQ(expanded.nodes(1).name(), up.nodes(1).name());
    EXPECT_EQ(expanded.links_size(), 2);
  }
  // Declared interface order aside, the declared topology comes back.
  Topology from_up = AsDeclared(up);
  EXPECT_EQ(from_up.nodes(0).interfaces(0).name(),
            declared.nodes(0).interfaces(0).name());
}

TEST(AttachmentsTest, AnchorNameNeverTakesANodeOfTheLab) {
  const auto exports = ExportsOf({Backbone({"bob"})});
  Topology t = Edge("alice/ix1");
  t.add_nodes()->set_name(ForeignAnchorName("alice+backbone", "sw1", "h1"));
  Topology expanded = ExpandAttachments(t, "bob", exports);
  ASSERT_EQ(expanded.nodes_size(), 3);
  EXPECT_NE(expanded.nodes(2).name(), expanded.nodes(1).name());
  EXPECT_TRUE(IsAnchor(expanded.nodes(2)));
  EXPECT_FALSE(IsAnchor(expanded.nodes(1)));
}

TEST(AttachmentsTest, VisibleEndpointsShowWhoIsAttached) {
  Lab bob;
  bob.set_name("bob+edge");
  bob.set_owner("bob");
  bob.set_state(emu::v1::RUNNING);
  *bob.mutable_topology() = ExpandAttachments(Edge("alice/ix1"), "bob",
                                              ExportsOf({Backbone({"bob"})}));
  std::vector<Lab> labs = {Backbone({"bob"}), bob};
  auto seen = VisibleEndpoints(labs, "bob", false);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].owner(), "alice");
  EXPECT_EQ(seen[0].lab(), "backbone");
  EXPECT_EQ(seen[0].name(), "ix1");
  EXPECT_EQ(seen[0].segment(), "sw1");
  EXPECT_EQ(seen[0].state(), "up");
  ASSERT_EQ(seen[0].attached_size(), 1);
  EXPECT_EQ(seen[0].attached(0).owner(), "bob");
  EXPECT_EQ(seen[0].attached(0).lab(), "edge");
  EXPECT_EQ(seen[0].attached(0).endpoint(), "r1:eth1");
  EXPECT_EQ(seen[0].attached(0).state(), "attached");
  EXPECT_TRUE(VisibleEndpoints(labs, "carol", false).empty());
  EXPECT_EQ(VisibleEndpoints(labs, "carol", true).size(), 1u);
  // The exporter gone: its endpoint reads its state, the attachment down.
  labs[0].set_state(emu::v1::DEPLOYING);
  bob.mutable_topology()->CopyFrom(
      ExpandAttachments(bob.topology(), "bob", ExportsOf({labs[0]})));
  labs[1] = bob;
  seen = VisibleEndpoints(labs, "bob", false);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].state(), "DEPLOYING");
  EXPECT_EQ(seen[0].attached(0).state(),
            "detached: the exporting lab is not running");
}

}  // namespace
}  // namespace emu::controller::community
