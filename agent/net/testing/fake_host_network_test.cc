#include "agent/net/testing/fake_host_network.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using M = FakeHostNetwork::Method;

class FakeHostNetworkTest : public ::testing::Test {
 protected:
  // a:eth1 <-> b:eth1, both namespaces fresh.
  void Pair() {
    ASSERT_TRUE(net_.CreateNamespace("a").ok());
    ASSERT_TRUE(net_.CreateNamespace("b").ok());
    ASSERT_TRUE(net_.CreateVeth({"a", "eth1", "02:00:00:00:00:0a", 0},
                                {"b", "eth1", "", 9000}, "lab1")
                    .ok());
  }
  linkemu::QdiscPlan Plan(uint64_t rate_bps, uint64_t delay_us) {
    emu::v1::LinkParams p;
    p.set_rate_bps(rate_bps);
    p.set_delay_us(delay_us);
    return *linkemu::PlanForLinkParams(p);
  }
  FakeHostNetwork net_;
};

TEST_F(FakeHostNetworkTest, NamespacesLikeTheKernel) {
  ASSERT_TRUE(net_.CreateNamespace("lab-b").ok());
  ASSERT_TRUE(net_.CreateNamespace("lab-a").ok());
  ASSERT_TRUE(net_.CreateNamespace("other").ok());
  EXPECT_EQ(net_.CreateNamespace("lab-a").code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(net_.CreateNamespace("bad/name").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(*net_.ListNamespaces("lab-"), ElementsAre("lab-a", "lab-b"));
  auto ifs = net_.ListInterfaces("lab-a");
  ASSERT_TRUE(ifs.ok());
  ASSERT_EQ(ifs->size(), 1u);
  EXPECT_EQ((*ifs)[0].name, "lo");
  EXPECT_TRUE((*ifs)[0].up);
  EXPECT_TRUE(net_.DeleteNamespace("lab-a").ok());
  EXPECT_TRUE(net_.DeleteNamespace("lab-a").ok());
  EXPECT_EQ(net_.ListInterfaces("lab-a").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_THAT(*net_.ListNamespaces("lab-"), ElementsAre("lab-b"));
}

TEST_F(FakeHostNetworkTest, VethPairs) {
  Pair();
  auto a = net_.GetInterface("a", "eth1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->kind, "veth");
  EXPECT_EQ(a->alias, "lab1");
  EXPECT_TRUE(a->up);
  EXPECT_EQ(a->mac, "02:00:00:00:00:0a");
  EXPECT_EQ(a->mtu, 1500u);
  EXPECT_EQ(a->ifindex, 2);
  // The kernel's EUI-64 link-local for 02:00:00:00:00:0a.
  EXPECT_THAT(a->addresses, ElementsAre("fe80::ff:fe00:a/64"));
  EXPECT_EQ(net_.GetInterface("b", "eth1")->mtu, 9000u);
  EXPECT_EQ(net_.Peer("a", "eth1"),
            std::make_pair(std::string("b"), std::string("eth1")));

  absl::Status again =
      net_.CreateVeth({"a", "eth2", "", 0}, {"b", "eth1", "", 0}, "lab1");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "create veth a:eth2<->b:eth1: File exists");
  EXPECT_FALSE(net_.GetInterface("a", "eth2").has_value());
  EXPECT_EQ(
      net_.CreateVeth({"a", "x", "", 0}, {"nope", "x", "", 0}, "l").code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.CreateVeth({"a", "x", "01:00:00:00:00:01", 0},
                            {"b", "x", "", 0}, "l")
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.CreateVeth({"a", "x", "", 0}, {"a", "x", "", 0}, "l").code(),
            absl::StatusCode::kInvalidArgument);

  // Deleting one end removes both; absent is fine.
  ASSERT_TRUE(net_.DeleteInterface("b", "eth1").ok());
  EXPECT_FALSE(net_.GetInterface("a", "eth1").has_value());
  EXPECT_TRUE(net_.DeleteInterface("b", "eth1").ok());
  EXPECT_TRUE(net_.DeleteInterface("gone", "eth1").ok());

  // Deleting a namespace removes the peers elsewhere.
  ASSERT_TRUE(
      net_.CreateVeth({"a", "eth3", "", 0}, {"b", "eth3", "", 0}, "l").ok());
  ASSERT_TRUE(net_.DeleteNamespace("a").ok());
  EXPECT_FALSE(net_.GetInterface("b", "eth3").has_value());
}

TEST_F(FakeHostNetworkTest, RootNamespaceBridgeAndPorts) {
  // "" is the process's own namespace: always there, never listed, and not
  // created or deleted.
  EXPECT_TRUE(net_.HasNamespace(""));
  EXPECT_THAT(*net_.ListNamespaces(""), IsEmpty());
  EXPECT_EQ(net_.CreateNamespace("").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.DeleteNamespace("").code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(net_.CreateBridge("", "br0").ok());
  absl::Status again = net_.CreateBridge("", "br0");
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.message()), HasSubstr("br0"));
  ASSERT_TRUE(net_.CreateNamespace("h1").ok());
  ASSERT_TRUE(
      net_.CreateVeth({"", "v1", "", 0}, {"h1", "eth0", "", 0}, "t").ok());
  EXPECT_EQ(net_.Peer("", "v1"),
            std::make_pair(std::string("h1"), std::string("eth0")));
  EXPECT_EQ(net_.Peer("h1", "eth0"),
            std::make_pair(std::string(""), std::string("v1")));

  ASSERT_TRUE(net_.SetMaster("", "v1", "br0").ok());
  const int changes = net_.changes();
  ASSERT_TRUE(net_.SetMaster("", "v1", "br0").ok());  // idempotent
  EXPECT_EQ(net_.changes(), changes);
  EXPECT_EQ(net_.GetInterface("", "v1")->master, "br0");
  EXPECT_EQ(net_.GetInterface("", "br0")->kind, "bridge");
  EXPECT_TRUE(net_.GetInterface("", "br0")->up);
  EXPECT_EQ(net_.SetMaster("", "v1", "nope").code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.SetMaster("", "lo", "v1").code(),
            absl::StatusCode::kInvalidArgument);  // v1 is no bridge

  // Deleting the peer's namespace takes the root end; deleting the bridge
  // frees its ports.
  ASSERT_TRUE(
      net_.CreateVeth({"", "v2", "", 0}, {"h1", "eth1", "", 0}, "t").ok());
  ASSERT_TRUE(net_.SetMaster("", "v2", "br0").ok());
  ASSERT_TRUE(net_.DeleteNamespace("h1").ok());
  EXPECT_FALSE(net_.GetInterface("", "v1").has_value());
  ASSERT_TRUE(net_.CreateNamespace("h2").ok());
  ASSERT_TRUE(
      net_.CreateVeth({"", "v3", "", 0}, {"h2", "eth0", "", 0}, "t").ok());
  ASSERT_TRUE(net_.SetMaster("", "v3", "br0").ok());
  ASSERT_TRUE(net_.DeleteInterface("", "br0").ok());
  EXPECT_EQ(net_.GetInterface("", "v3")->master, "");
  EXPECT_TRUE(net_.GetInterface("h2", "eth0").has_value());
}

TEST_F(FakeHostNetworkTest, AddressesAreExactAndKeepLinkLocal) {
  Pair();
  ASSERT_TRUE(
      net_.SetAddresses("a", "eth1", {"10.0.0.1/24", "fd00::1/64"}).ok());
  EXPECT_THAT(
      net_.GetInterface("a", "eth1")->addresses,
      UnorderedElementsAre("fe80::ff:fe00:a/64", "10.0.0.1/24", "fd00::1/64"));
  const int changes = net_.changes();
  ASSERT_TRUE(
      net_.SetAddresses("a", "eth1", {"fd00::1/64", "10.0.0.1/24"}).ok());
  EXPECT_EQ(net_.changes(), changes);  // same set: no change
  ASSERT_TRUE(net_.SetAddresses("a", "eth1", {"10.0.0.2/24"}).ok());
  EXPECT_THAT(net_.GetInterface("a", "eth1")->addresses,
              UnorderedElementsAre("fe80::ff:fe00:a/64", "10.0.0.2/24"));
  EXPECT_EQ(net_.SetAddresses("a", "eth1", {"10.0.0.2/40"}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.SetAddresses("a", "eth9", {"10.0.0.2/24"}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FakeHostNetworkTest, RoutesNeedAReachableGateway) {
  Pair();
  absl::Status s = net_.ReplaceRoute("a", {"default", "10.0.0.254", "", 0});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("gateway 10.0.0.254 is not reachable"));
  ASSERT_TRUE(net_.SetAddresses("a", "eth1", {"10.0.0.1/24"}).ok());
  ASSERT_TRUE(net_.ReplaceRoute("a", {"default", "10.0.0.254", "", 0}).ok());
  const int changes = net_.changes();
  ASSERT_TRUE(net_.ReplaceRoute("a", {"default", "10.0.0.254", "", 0}).ok());
  EXPECT_EQ(net_.changes(), changes);
  // Same destination and metric: replaced, not added.
  ASSERT_TRUE(
      net_.ReplaceRoute("a", {"0.0.0.0/0", "10.0.0.253", "eth1", 0}).ok());
  ASSERT_EQ(net_.Routes("a").size(), 1u);
  EXPECT_EQ(net_.Routes("a")[0].via, "10.0.0.253");
  ASSERT_TRUE(net_.ReplaceRoute("a", {"10.9.0.0/16", "", "eth1", 5}).ok());
  EXPECT_EQ(net_.Routes("a").size(), 2u);
  EXPECT_EQ(net_.ReplaceRoute("a", {"10.9.0.1/16", "", "eth1", 5}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.ReplaceRoute("a", {"10.9.0.0/16", "", "eth7", 5}).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(net_.ReplaceRoute("zz", {"10.9.0.0/16", "", "eth1", 5}).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FakeHostNetworkTest, Sysctls) {
  Pair();
  ASSERT_TRUE(net_.SetSysctl("a", "net.ipv4.ip_forward", "1").ok());
  EXPECT_EQ(net_.Sysctl("a", "net.ipv4.ip_forward"), "1");
  EXPECT_FALSE(net_.Sysctl("b", "net.ipv4.ip_forward").has_value());
  EXPECT_EQ(net_.SetSysctl("a", "kernel.hostname", "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net_.SetSysctl("zz", "net.ipv4.ip_forward", "1").code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FakeHostNetworkTest, QdiscsFollowTheRealLayout) {
  Pair();
  EXPECT_THAT(
      *net_.ListQdiscs("a", "eth1"),
      ElementsAre(linkemu::QdiscInfo{"noqueue", 0, linkemu::kRootParent}));
  linkemu::QdiscPlan both = Plan(10'000'000, 5'000);
  ASSERT_TRUE(net_.ApplyQdiscs("a", "eth1", both).ok());
  EXPECT_EQ(*net_.ListQdiscs("a", "eth1"), linkemu::LayoutFor(both));
  EXPECT_EQ(net_.AppliedPlan("a", "eth1"), both);
  const int changes = net_.changes();
  ASSERT_TRUE(net_.ApplyQdiscs("a", "eth1", both).ok());
  EXPECT_EQ(net_.changes(), changes);
  ASSERT_TRUE(net_.ApplyQdiscs("a", "eth1", linkemu::QdiscPlan()).ok());
  EXPECT_FALSE(net_.AppliedPlan("a", "eth1").has_value());

  // A kernel without netem, like the CI machines.
  HostNetwork::KernelFeatures f = FakeHostNetwork::DefaultFeatures();
  f.qdiscs = {"tbf", "htb", "pfifo"};
  net_.set_features(f);
  EXPECT_EQ(net_.ProbeKernel()->qdiscs, f.qdiscs);
  ASSERT_TRUE(net_.ApplyQdiscs("a", "eth1", Plan(10'000'000, 0)).ok());
  absl::Status s = net_.ApplyQdiscs("a", "eth1", both);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "set netem on a:eth1: this kernel has no sch_netem (Specified "
            "qdisc kind is unknown)");
  // As in the kernel, the layout change removed the old TBF first.
  EXPECT_FALSE(net_.AppliedPlan("a", "eth1").has_value());
  EXPECT_EQ(net_.ApplyQdiscs("a", "eth9", both).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FakeHostNetworkTest, CountsAndInjectedFailures) {
  Pair();
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 2);
  EXPECT_EQ(net_.calls(M::kCreateVeth), 1);
  EXPECT_EQ(net_.changes(), 3);
  net_.ResetCounts();
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 0);
  EXPECT_EQ(net_.changes(), 0);

  // The 2nd CreateNamespace from now fails, without side effects.
  net_.FailNthCall(M::kCreateNamespace, 2, absl::UnavailableError("injected"));
  EXPECT_TRUE(net_.CreateNamespace("c").ok());
  EXPECT_EQ(net_.CreateNamespace("d").code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(net_.HasNamespace("d"));
  EXPECT_TRUE(net_.CreateNamespace("d").ok());
  EXPECT_EQ(net_.calls(M::kCreateNamespace), 3);

  net_.FailAllCalls(M::kListNamespaces, absl::InternalError("down"));
  EXPECT_FALSE(net_.ListNamespaces("").ok());
  EXPECT_FALSE(net_.ListNamespaces("").ok());
  net_.ClearFailures();
  EXPECT_THAT(*net_.ListNamespaces("c"), ElementsAre("c"));
  EXPECT_STREQ(FakeHostNetwork::MethodName(M::kApplyQdiscs), "ApplyQdiscs");
}

}  // namespace
}  // namespace emu::agent::net
