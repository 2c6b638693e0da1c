#include "agent/net/resource_names.h"

#include <unistd.h>

#include "agent/reconcile/lab_spec_store.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

TEST(ResourceNamesTest, NamespaceNamesRoundTripForOwnHostOnly) {
  std::string ns = NamespaceName("h1", "lab-a", "r_1");
  EXPECT_EQ(ns, "emu.h1.lab-a.r_1");
  auto ref = ParseNamespaceName("h1", ns);
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->lab, "lab-a");
  EXPECT_EQ(ref->node, "r_1");
  EXPECT_FALSE(ParseNamespaceName("h2", ns).has_value());
  EXPECT_FALSE(ParseNamespaceName("h1", "emu.h1.lab").has_value());
  EXPECT_FALSE(ParseNamespaceName("h1", "other.h1.lab.node").has_value());
  EXPECT_FALSE(ParseNamespaceName("h1", "emu.h1.lab.no de").has_value());
  EXPECT_EQ(NamespacePrefix("h1", "lab"), "emu.h1.lab.");
}

TEST(ResourceNamesTest, AliasesMarkTheirLabOnly) {
  emu::v1::Link link;
  link.mutable_a()->set_node("r1");
  link.mutable_a()->set_interface("eth1");
  link.mutable_b()->set_node("r2");
  link.mutable_b()->set_interface("eth2");
  EXPECT_EQ(LinkName(link), "r1:eth1<->r2:eth2");
  std::string alias = LinkAlias("lab", link);
  EXPECT_TRUE(IsLabAlias(alias, "lab"));
  EXPECT_FALSE(IsLabAlias(alias, "la"));
  EXPECT_FALSE(IsLabAlias(alias, "lab2"));
  EXPECT_FALSE(IsLabAlias("", "lab"));
}

TEST(ResourceNamesTest, ManagementNamesFitTheKernelAndAliasesParseBack) {
  const std::string bridge = MgmtBridgeName("c1-h1", "alice+core");
  EXPECT_EQ(bridge.size(), 11u);
  EXPECT_EQ(bridge.substr(0, 3), "emm");
  EXPECT_EQ(bridge, MgmtBridgeName("c1-h1", "alice+core"));  // stable
  EXPECT_NE(bridge, MgmtBridgeName("c1-h1", "bob+core"));
  EXPECT_NE(bridge, MgmtBridgeName("c1-h2", "alice+core"));
  const std::string end = MgmtHostEndName("c1-h1", "alice+core", "r1", "eth0");
  EXPECT_EQ(end.size(), 11u);
  EXPECT_NE(end, MgmtHostEndName("c1-h1", "alice+core", "r2", "eth0"));
  auto ref = ParseMgmtBridgeAlias(MgmtBridgeAlias("c1-h1", "alice+core", bridge));
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->host, "c1-h1");
  EXPECT_EQ(ref->lab, "alice+core");
  EXPECT_EQ(ref->bridge, bridge);
  EXPECT_FALSE(ParseMgmtBridgeAlias("emu lab=x hostlink=a:e<->host:b host=h"));
  EXPECT_FALSE(ParseMgmtBridgeAlias("emu lab= mgmt=b host=h"));
  EXPECT_FALSE(ParseHostEndAlias(MgmtBridgeAlias("h", "lab", "b")));
}

TEST(ResourceNamesTest, ValidNames) {
  EXPECT_TRUE(IsValidName("a-b_C9"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("a.b"));
  EXPECT_FALSE(IsValidName("a/b"));
  EXPECT_FALSE(IsValidName(std::string(33, 'a')));
}

TEST(LabSpecStoreTest, SavesLoadsListsRemoves) {
  std::string dir = ::testing::TempDir() + "/specs" + std::to_string(getpid());
  auto store = reconcile::LabSpecStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  emu::v1::ApplyLabRequest spec;
  spec.set_lab("lab1");
  spec.add_nodes()->set_name("n1");
  ASSERT_TRUE(store->Save(spec).ok());
  spec.set_lab("lab0");
  ASSERT_TRUE(store->Save(spec).ok());
  auto labs = store->List();
  ASSERT_TRUE(labs.ok());
  EXPECT_EQ(*labs, (std::vector<std::string>{"lab0", "lab1"}));
  auto loaded = store->Load("lab1");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->nodes(0).name(), "n1");
  EXPECT_TRUE(store->Remove("lab1").ok());
  EXPECT_TRUE(store->Remove("lab1").ok());  // idempotent
  EXPECT_EQ(store->Load("lab1").status().code(), absl::StatusCode::kNotFound);
  // A second store on the same directory (an agent restart) sees lab0.
  auto again = reconcile::LabSpecStore::Open(dir);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->List(), (std::vector<std::string>{"lab0"}));
}

}  // namespace
}  // namespace emu::agent::net
