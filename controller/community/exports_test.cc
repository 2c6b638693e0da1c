#include "controller/community/exports.h"

#include "gtest/gtest.h"
#include "proto/topology_names.h"

namespace emu::controller::community {
namespace {

using emu::v1::Topology;

// Alice's lab: switch sw1, router r1 with eth1 linked to sw1 and eth9 free.
Topology Lab() {
  Topology t;
  t.set_name("alice+backbone");
  auto* sw = t.add_nodes();
  sw->set_name("sw1");
  sw->set_kind(emu::v1::NODE_KIND_SWITCH);
  sw->add_interfaces()->set_name("p0");
  auto* r1 = t.add_nodes();
  r1->set_name("r1");
  r1->set_host("h2");
  r1->add_interfaces()->set_name("eth1");
  auto* eth9 = r1->add_interfaces();
  eth9->set_name("eth9");
  eth9->add_addresses("10.9.0.1/30");
  auto* l = t.add_links();
  l->mutable_a()->set_node("r1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("sw1");
  l->mutable_b()->set_interface("p0");
  return t;
}

emu::v1::Export InterfaceExport(const std::string& node,
                                const std::string& iface) {
  emu::v1::Export ex;
  ex.set_name("p1");
  ex.mutable_interface()->set_node(node);
  ex.mutable_interface()->set_interface(iface);
  ex.add_to("bob");
  return ex;
}

TEST(ExportsTest, ProblemsNameTheSegmentOrInterface) {
  const Topology t = Lab();
  emu::v1::Export seg;
  seg.set_name("ix1");
  seg.set_segment("sw1");
  seg.add_to("all");
  EXPECT_EQ(OfferedProblem(t, seg), "");
  seg.set_segment("r1");
  EXPECT_NE(OfferedProblem(t, seg).find("node r1 is of kind"),
            std::string::npos);
  seg.set_segment("sw9");
  EXPECT_EQ(OfferedProblem(t, seg), "segment sw9 is not a node of the lab");
  seg.set_segment("sw1");
  seg.clear_to();
  seg.add_to("b ob");
  EXPECT_EQ(OfferedProblem(t, seg), "");
  EXPECT_EQ(ExportProblems(t, seg),
            std::vector<std::string>{
                "to: user name 'b ob' may use only letters, digits, '_' and "
                "'-' (1 to 32 of them)"});
  seg.clear_to();
  seg.set_segment("sw9");
  EXPECT_EQ(ExportProblems(t, seg),
            (std::vector<std::string>{
                "segment sw9 is not a node of the lab",
                "to: name the users who may attach, or all"}));

  EXPECT_EQ(OfferedProblem(t, InterfaceExport("r1", "eth9")), "");
  EXPECT_EQ(OfferedProblem(t, InterfaceExport("r1", "eth1")),
            "interface r1:eth1 is used by link r1:eth1<->sw1:p0; only a free "
            "interface is exported");
  EXPECT_EQ(OfferedProblem(t, InterfaceExport("r1", "eth7")),
            "interface r1:eth7: node r1 declares no interface eth7");
  EXPECT_EQ(OfferedProblem(t, InterfaceExport("r9", "eth7")),
            "interface r9:eth7: r9 is not a node of the lab");
  EXPECT_NE(OfferedProblem(t, InterfaceExport("sw1", "p0"))
                .find("is a segment; export the segment itself"),
            std::string::npos);
  Topology attached = t;
  auto* at = attached.add_attachments();
  at->mutable_local()->set_node("r1");
  at->mutable_local()->set_interface("eth9");
  at->set_endpoint("carol/ix");
  EXPECT_EQ(OfferedProblem(attached, InterfaceExport("r1", "eth9")),
            "interface r1:eth9 is attached to community:carol/ix; only a free "
            "interface is exported");
}

TEST(ExportsTest, InterfaceExportBecomesABridgeLinkedToTheInterface) {
  Topology t = Lab();
  *t.mutable_community()->add_exports() = InterfaceExport("r1", "eth9");
  const Topology out = ExpandInterfaceExports(t);
  const std::string bridge = InterfaceExportSegment("alice+backbone", "p1");
  EXPECT_EQ(bridge.size(), 10u);
  EXPECT_EQ(bridge.substr(0, 2), "e-");
  ASSERT_EQ(out.nodes_size(), 3);
  EXPECT_EQ(out.nodes(2).name(), bridge);
  EXPECT_EQ(out.nodes(2).kind(), emu::v1::NODE_KIND_BRIDGE);
  EXPECT_EQ(out.nodes(2).host(), "h2");  // with the pinned interface
  EXPECT_TRUE(IsInterfaceExportNode(out.nodes(2)));
  ASSERT_EQ(out.links_size(), 2);
  EXPECT_EQ(LinkName(out.links(1)), "r1:eth9<->" + bridge + ":p0");
  EXPECT_EQ(out.community().exports(0).segment(), bridge);
  // The expanded lab still accepts its own export (the stored record).
  EXPECT_EQ(OfferedProblem(out, out.community().exports(0)), "");
  // Idempotent, and the bridge goes with the export.
  const Topology again = ExpandInterfaceExports(out);
  EXPECT_EQ(again.SerializeAsString(), out.SerializeAsString());
  Topology removed = out;
  removed.mutable_community()->clear_exports();
  const Topology gone = ExpandInterfaceExports(removed);
  EXPECT_EQ(gone.nodes_size(), 2);
  EXPECT_EQ(gone.links_size(), 1);
}

TEST(ExportsTest, BridgeNameAvoidsTheLabsOwnNodes) {
  Topology t = Lab();
  t.add_nodes()->set_name(InterfaceExportSegment("alice+backbone", "p1"));
  *t.mutable_community()->add_exports() = InterfaceExport("r1", "eth9");
  const Topology out = ExpandInterfaceExports(t);
  ASSERT_EQ(out.nodes_size(), 4);
  EXPECT_NE(out.nodes(3).name(), out.nodes(2).name());
  EXPECT_TRUE(IsInterfaceExportNode(out.nodes(3)));
}

}  // namespace
}  // namespace emu::controller::community
