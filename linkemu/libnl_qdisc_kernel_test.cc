// ApplyQdiscPlan/ListQdiscs against the real kernel, on a veth pair inside
// a private, unnamed network namespace of this test (it disappears with the
// test's netlink socket). Needs root; skipped otherwise.
#include <linux/pkt_sched.h>
#include <netlink/cache.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "linkemu/libnl_qdisc.h"
#include "linkemu/qdisc_plan.h"

namespace emu::linkemu {
namespace {

using ::testing::HasSubstr;

class LibnlQdiscKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    std::string error;
    // unshare() moves only the calling thread; the socket opened there
    // stays in the new namespace for good.
    std::thread([&] {
      if (unshare(CLONE_NEWNET) != 0) {
        error = "unshare(CLONE_NEWNET) failed";
        return;
      }
      sock_ = nl_socket_alloc();
      if (sock_ == nullptr || nl_connect(sock_, NETLINK_ROUTE) != 0) {
        error = "netlink socket";
      }
    }).join();
    ASSERT_EQ(error, "");
    rtnl_link* veth = rtnl_link_veth_alloc();
    rtnl_link_set_name(veth, "qa0");
    rtnl_link* peer = rtnl_link_veth_get_peer(veth);
    rtnl_link_set_name(peer, "qb0");
    rtnl_link_put(peer);
    ASSERT_EQ(rtnl_link_add(sock_, veth, NLM_F_CREATE | NLM_F_EXCL), 0);
    rtnl_link_put(veth);
    for (const char* name : {"qa0", "qb0"}) {
      rtnl_link* link = nullptr;
      ASSERT_EQ(rtnl_link_get_kernel(sock_, 0, name, &link), 0);
      rtnl_link* change = rtnl_link_alloc();
      rtnl_link_set_flags(change, IFF_UP);
      ASSERT_EQ(rtnl_link_change(sock_, link, change, 0), 0);
      if (std::string(name) == "qa0") ifindex_ = rtnl_link_get_ifindex(link);
      rtnl_link_put(change);
      rtnl_link_put(link);
    }
  }
  void TearDown() override {
    if (sock_ != nullptr) nl_socket_free(sock_);  // the namespace goes too
  }

  // TBF parameters as the kernel reports them for handle `handle`.
  void ReadTbf(uint32_t handle, int* rate, int* limit) {
    nl_cache* cache = nullptr;
    ASSERT_EQ(rtnl_qdisc_alloc_cache(sock_, &cache), 0);
    rtnl_qdisc* q = rtnl_qdisc_get(cache, ifindex_, handle);
    ASSERT_NE(q, nullptr);
    *rate = rtnl_qdisc_tbf_get_rate(q);
    *limit = rtnl_qdisc_tbf_get_limit(q);
    rtnl_qdisc_put(q);
    nl_cache_free(cache);
  }

  QdiscPlan Plan(uint64_t rate_bps, uint64_t delay_us) {
    emu::v1::LinkParams p;
    p.set_rate_bps(rate_bps);
    p.set_delay_us(delay_us);
    auto plan = PlanForLinkParams(p);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() ? *plan : QdiscPlan();
  }

  std::vector<QdiscInfo> Configured() {
    auto all = ListQdiscs(sock_, ifindex_);
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<QdiscInfo> out;
    if (!all.ok()) return out;
    for (const QdiscInfo& q : *all) {
      if (q.handle != 0) out.push_back(q);
    }
    return out;
  }

  nl_sock* sock_ = nullptr;
  int ifindex_ = 0;
};

TEST_F(LibnlQdiscKernelTest, TbfAppliesReappliesAndChangesInPlace) {
  QdiscPlan plan = Plan(10'000'000, 0);
  ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", plan).ok());
  std::vector<QdiscInfo> want = {{"tbf", kRootHandle, kRootParent}};
  EXPECT_EQ(Configured(), want);
  int rate = 0, limit = 0;
  ReadTbf(kRootHandle, &rate, &limit);
  EXPECT_EQ(rate, 1'250'000);
  EXPECT_EQ(limit, 62'500);

  // Same plan again: nothing changes, no error.
  ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", plan).ok());
  EXPECT_EQ(Configured(), want);

  // New rate: same qdisc, new parameters.
  ASSERT_TRUE(
      ApplyQdiscPlan(sock_, ifindex_, "t:qa0", Plan(100'000'000, 0)).ok());
  EXPECT_EQ(Configured(), want);
  ReadTbf(kRootHandle, &rate, &limit);
  EXPECT_EQ(rate, 12'500'000);
  EXPECT_EQ(limit, 625'000);
}

TEST_F(LibnlQdiscKernelTest, EmptyPlanRemovesOursAndIsIdempotent) {
  // Nothing configured yet: fine.
  ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", QdiscPlan()).ok());
  ASSERT_TRUE(
      ApplyQdiscPlan(sock_, ifindex_, "t:qa0", Plan(10'000'000, 0)).ok());
  ASSERT_EQ(Configured().size(), 1u);
  ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", QdiscPlan()).ok());
  EXPECT_TRUE(Configured().empty());
  ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", QdiscPlan()).ok());
  // The kernel's default root is still there.
  auto all = ListQdiscs(sock_, ifindex_);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].handle, 0u);
  EXPECT_EQ((*all)[0].parent, kRootParent);
}

TEST_F(LibnlQdiscKernelTest, NetemEitherAppliesOrSaysTheKernelLacksIt) {
  ASSERT_TRUE(
      ApplyQdiscPlan(sock_, ifindex_, "t:qa0", Plan(10'000'000, 0)).ok());
  QdiscPlan both = Plan(10'000'000, 20'000);
  absl::Status s = ApplyQdiscPlan(sock_, ifindex_, "t:qa0", both);
  if (s.ok()) {
    EXPECT_EQ(Configured(), LayoutFor(both));
    ASSERT_TRUE(ApplyQdiscPlan(sock_, ifindex_, "t:qa0", both).ok());
    EXPECT_EQ(Configured(), LayoutFor(both));
    // Back to TBF alone: netem goes, TBF becomes the root.
    ASSERT_TRUE(
        ApplyQdiscPlan(sock_, ifindex_, "t:qa0", Plan(10'000'000, 0)).ok());
    std::vector<QdiscInfo> want = {{"tbf", kRootHandle, kRootParent}};
    EXPECT_EQ(Configured(), want);
  } else {
    std::cout << "netem on this kernel: " << s << "\n";
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_THAT(std::string(s.message()),
                HasSubstr("set netem on t:qa0: this kernel has no sch_netem"));
    // TBF-only still works afterwards.
    ASSERT_TRUE(
        ApplyQdiscPlan(sock_, ifindex_, "t:qa0", Plan(10'000'000, 0)).ok());
  }
}

TEST_F(LibnlQdiscKernelTest, ErrorsNameInterfaceAndKind) {
  // An interface that does not exist.
  absl::Status s = ApplyQdiscPlan(sock_, 0x7ffffff0, "t:nope",
                                  Plan(10'000'000, 0));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("set tbf on t:nope"));
}

}  // namespace
}  // namespace emu::linkemu
