#include "controller/topology/stable_macs.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

TEST(StableMacsTest, DeterministicLocallyAdministeredAndDistinct) {
  const std::string mac = StableMac("lab", "r1", "eth1");
  EXPECT_EQ(mac, StableMac("lab", "r1", "eth1"));
  EXPECT_THAT(mac, ::testing::MatchesRegex("02(:[0-9a-f]{2}){5}"));
  std::set<std::string> seen;
  for (int n = 0; n < 100; ++n) {
    for (int i = 0; i < 10; ++i) {
      seen.insert(StableMac("lab", "n" + std::to_string(n),
                            "eth" + std::to_string(i)));
    }
  }
  EXPECT_EQ(seen.size(), 1000u);
  // The lab is part of the key: two labs side by side differ.
  EXPECT_NE(StableMac("a", "r1", "eth1"), StableMac("b", "r1", "eth1"));
  // No ambiguity between "ab/c" and "a/bc".
  EXPECT_NE(StableMac("x", "ab", "c"), StableMac("x", "a", "bc"));
}

TEST(StableMacsTest, FillsLinkInterfacesAndKeepsExplicitOnes) {
  emu::v1::Topology t;
  t.set_name("lab");
  auto* r1 = t.add_nodes();
  r1->set_name("r1");
  auto* eth1 = r1->add_interfaces();
  eth1->set_name("eth1");
  eth1->add_addresses("10.0.0.1/24");
  auto* eth2 = r1->add_interfaces();
  eth2->set_name("eth2");
  eth2->set_mac("02:00:00:00:00:99");
  auto* lo9 = r1->add_interfaces();  // no link: left alone
  lo9->set_name("eth9");
  t.add_nodes()->set_name("r2");
  auto* l = t.add_links();
  l->mutable_a()->set_node("r1");
  l->mutable_a()->set_interface("eth1");
  l->mutable_b()->set_node("r2");
  l->mutable_b()->set_interface("eth1");
  auto* m = t.add_links();
  m->mutable_a()->set_node("r1");
  m->mutable_a()->set_interface("eth2");
  m->mutable_b()->set_node("r2");
  m->mutable_b()->set_interface("eth2");

  AssignStableMacs(&t);
  EXPECT_EQ(t.nodes(0).interfaces(0).mac(), StableMac("lab", "r1", "eth1"));
  EXPECT_EQ(t.nodes(0).interfaces(0).addresses(0), "10.0.0.1/24");
  EXPECT_EQ(t.nodes(0).interfaces(1).mac(), "02:00:00:00:00:99");
  EXPECT_EQ(t.nodes(0).interfaces(2).mac(), "");
  ASSERT_EQ(t.nodes(1).interfaces_size(), 2);  // declared, no addresses
  EXPECT_EQ(t.nodes(1).interfaces(0).name(), "eth1");
  EXPECT_TRUE(t.nodes(1).interfaces(0).addresses().empty());
  EXPECT_EQ(t.nodes(1).interfaces(1).mac(), StableMac("lab", "r2", "eth2"));

  const std::string once = t.SerializeAsString();
  AssignStableMacs(&t);
  EXPECT_EQ(t.SerializeAsString(), once);
}

}  // namespace
}  // namespace emu::controller::topology
