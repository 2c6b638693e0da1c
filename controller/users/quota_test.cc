#include "controller/users/quota.h"

#include "gtest/gtest.h"

namespace emu::controller::users {
namespace {

emu::v1::Topology Lab(int netns, int qemu) {
  emu::v1::Topology t;
  t.set_name("core");
  for (int i = 0; i < netns; ++i) {
    auto* n = t.add_nodes();
    n->set_name("n" + std::to_string(i));
    n->set_kind(emu::v1::NODE_KIND_NETNS);
  }
  for (int i = 0; i < qemu; ++i) {
    auto* n = t.add_nodes();
    n->set_name("vm" + std::to_string(i));
    n->set_kind(emu::v1::NODE_KIND_QEMU);
  }
  return t;
}

TEST(QuotaTest, UsageCountsAsPlacementDoes) {
  emu::v1::Topology t = Lab(3, 2);
  t.mutable_nodes(0)->mutable_resources()->set_cpus(2);
  t.mutable_nodes(4)->mutable_resources()->set_memory_mib(1024);
  emu::v1::Usage u = UsageOf(t);
  EXPECT_EQ(u.labs(), 1u);
  EXPECT_EQ(u.nodes(), 5u);
  EXPECT_EQ(u.guests(), 2u);
  EXPECT_EQ(u.vcpus(), 2u + 1u + 1u);               // declared + 2 guests
  EXPECT_EQ(u.memory_mib(), 3u * 8 + 512 + 1024);   // kind defaults
}

TEST(QuotaTest, RefusalNamesQuotaLabAndUse) {
  emu::v1::Quota q;
  q.set_nodes(10);
  emu::v1::Usage in_use;
  in_use.set_nodes(3);
  absl::Status s = CheckQuota("alice", q, in_use, "core", UsageOf(Lab(12, 0)));
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(s.message(),
            "quota nodes: lab core needs 12, alice has 3 of 10 in use; "
            "nothing was created");
  EXPECT_TRUE(CheckQuota("alice", q, in_use, "core", UsageOf(Lab(7, 0))).ok());
}

TEST(QuotaTest, AbsentFieldIsNoLimitZeroIsNone) {
  emu::v1::Quota none;
  EXPECT_TRUE(CheckQuota("a", none, {}, "l", UsageOf(Lab(500, 50))).ok());
  emu::v1::Quota no_guests;
  no_guests.set_guests(0);
  absl::Status s = CheckQuota("a", no_guests, {}, "l", UsageOf(Lab(1, 1)));
  EXPECT_NE(s.message().find("quota guests"), absl::string_view::npos) << s;
  emu::v1::Quota labs;
  labs.set_labs(1);
  emu::v1::Usage one_lab;
  one_lab.set_labs(1);
  s = CheckQuota("a", labs, one_lab, "l", UsageOf(Lab(1, 0)));
  EXPECT_NE(s.message().find("quota labs: lab l needs 1, a has 1 of 1"),
            absl::string_view::npos)
      << s;
}

TEST(QuotaTest, ParsesAndPrints) {
  emu::v1::Quota q;
  ASSERT_TRUE(ParseQuota("labs=2,nodes=10,vcpus=4,memory=2048,guests=1", &q)
                  .ok());
  EXPECT_EQ(QuotaText(q), "labs=2,nodes=10,vcpus=4,memory=2048,guests=1");
  EXPECT_EQ(QuotaText(emu::v1::Quota()), "none");
  emu::v1::Quota bad;
  absl::Status s = ParseQuota("nodes=ten", &bad);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("nodes=ten"), absl::string_view::npos);
  EXPECT_FALSE(ParseQuota("cpus=1", &bad).ok());
}

TEST(QuotaTest, SumAddsEveryField) {
  emu::v1::Usage a = UsageOf(Lab(2, 1));
  emu::v1::Usage s = Sum(a, a);
  EXPECT_EQ(s.labs(), 2u);
  EXPECT_EQ(s.nodes(), 6u);
  EXPECT_EQ(s.guests(), 2u);
  EXPECT_EQ(s.memory_mib(), 2 * a.memory_mib());
}

TEST(QuotaTest, InUseCountsTheOwnersLiveLabs) {
  std::vector<emu::v1::Lab> labs(4);
  labs[0].set_owner("alice");
  labs[0].set_state(emu::v1::RUNNING);
  *labs[0].mutable_topology() = Lab(3, 0);
  labs[1].set_owner("alice");
  labs[1].set_state(emu::v1::FAILED);  // rolled back: uses nothing
  *labs[1].mutable_topology() = Lab(5, 0);
  labs[2].set_owner("bob");
  labs[2].set_state(emu::v1::RUNNING);
  *labs[2].mutable_topology() = Lab(7, 0);
  labs[3].set_owner("alice");
  labs[3].set_state(emu::v1::DEPLOYING);  // counts: it is being created
  *labs[3].mutable_topology() = Lab(1, 1);
  emu::v1::Usage u = InUse(labs, "alice");
  EXPECT_EQ(u.labs(), 2u);
  EXPECT_EQ(u.nodes(), 5u);
  EXPECT_EQ(u.guests(), 1u);
  EXPECT_EQ(InUse(labs, "").labs(), 0u);
}

}  // namespace
}  // namespace emu::controller::users
