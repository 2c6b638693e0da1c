#include "controller/lab/lab_diff.h"

#include <string>
#include <vector>

#include "controller/topology/stable_macs.h"
#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// r1 -- r2 -- r3, r1:eth2 -- r3:eth2.
constexpr char kBase[] = R"(name: lab1
topology:
  defaults: {kind: netns}
  nodes:
    r1:
      interfaces:
        eth1: {addresses: [10.0.12.1/24]}
      sysctls: {net.ipv4.ip_forward: 1}
    r2:
      interfaces:
        eth1: {addresses: [10.0.12.2/24]}
    r3: {}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
      rate: 10mbit
    - endpoints: ["r2:eth2", "r3:eth1"]
    - endpoints: ["r1:eth2", "r3:eth2"]
)";

emu::v1::Topology Parse(const std::string& yaml) {
  auto parsed = topology::ParseAndValidateTopology(yaml, "lab.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  topology::AssignStableMacs(&parsed->topology);
  return parsed->topology;
}

// kBase with `from` replaced by `to` (must occur).
std::string Edit(const std::string& from, const std::string& to) {
  std::string s = kBase;
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

struct Case {
  std::string name;
  std::string edited;
  std::vector<std::string> lines;
};

class DiffCases : public ::testing::TestWithParam<Case> {};

TEST_P(DiffCases, Lines) {
  const Case& c = GetParam();
  emu::v1::Topology desired = Parse(c.edited);
  auto diff = DiffTopologies(Parse(kBase), &desired);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_EQ(diff->empty(), c.lines.empty());
  EXPECT_THAT(DiffLines(*diff, {{"r3", "h2"}}, {{"r4", "h1"}}),
              ElementsAreArray(c.lines));
}

INSTANTIATE_TEST_SUITE_P(
    LabDiff, DiffCases,
    ::testing::Values(
        Case{"Unchanged", kBase, {}},
        Case{"OnlyLinesMoved", Edit("name: lab1\n", "name: lab1\n\n\n"), {}},
        Case{"LinkWrittenTheOtherWayRound",
             Edit(R"(["r2:eth2", "r3:eth1"])", R"(["r3:eth1", "r2:eth2"])"),
             {}},
        Case{"NodeAndLinkAdded",
             Edit("    r3: {}\n", "    r3: {}\n    r4: {}\n") +
                 "    - endpoints: [\"r1:eth3\", \"r4:eth1\"]\n",
             {"+ node r4 (host h1)", "+ link r1:eth3<->r4:eth1"}},
        Case{"LinkRemoved",
             Edit("    - endpoints: [\"r1:eth2\", \"r3:eth2\"]\n", ""),
             {"- link r1:eth2<->r3:eth2"}},
        Case{"NodeRemovedWithItsLinks",
             Edit("    r3: {}\n", "")
                 .replace(Edit("    r3: {}\n", "").find("    - endpoints: [\"r2:eth2\""),
                          std::string::npos, ""),
             {"- node r3 (host h2)", "- link r2:eth2<->r3:eth1",
              "- link r1:eth2<->r3:eth2"}},
        Case{"RateChanged", Edit("rate: 10mbit", "rate: 20mbit"),
             {"~ link r1:eth1<->r2:eth1 rate 10Mbit/s -> 20Mbit/s"}},
        Case{"RateChangedOnOneSideOnly",
             Edit("      rate: 10mbit\n",
                  "      rate: 10mbit\n      b-to-a: {rate: 5mbit}\n"),
             {"~ link r1:eth1<->r2:eth1 b-to-a rate 10Mbit/s -> 5Mbit/s"}},
        Case{"ConditionsAddedToAnUnshapedLink",
             Edit(R"(["r2:eth2", "r3:eth1"])",
                  "[\"r2:eth2\", \"r3:eth1\"]\n      rate: 1gbit"),
             {"~ link r2:eth2<->r3:eth1 rate none -> 1Gbit/s"}},
        Case{"InterfaceRenamedIsRemoveAndAdd",
             Edit(R"("r1:eth2", "r3:eth2")", R"("r1:eth9", "r3:eth2")"),
             {"- link r1:eth2<->r3:eth2", "+ link r1:eth9<->r3:eth2"}},
        Case{"AddressChanged", Edit("10.0.12.2/24", "10.0.12.5/24"),
             {"~ node r2: eth1 addresses 10.0.12.2/24 -> 10.0.12.5/24"}},
        Case{"SysctlsAndRoutesChanged",
             Edit("      sysctls: {net.ipv4.ip_forward: 1}\n",
                  "      routes:\n        - {to: 10.9.0.0/16, via: "
                  "10.0.12.2}\n"),
             {"~ node r1: routes; sysctls"}}),
    [](const auto& info) { return info.param.name; });

// containerlab's `mgmt:` on a running lab: its own settings are a change
// even when no node's eth0 changes (a renamed bridge was "no change").
TEST(LabDiffTest, TheManagementNetworkItself) {
  const std::string with = Edit("name: lab1\n",
                                "name: lab1\nmgmt: {ipv4-subnet: 172.20.20.0/24}\n");
  emu::v1::Topology added = Parse(with);
  auto diff = DiffTopologies(Parse(kBase), &added);
  ASSERT_TRUE(diff.ok()) << diff.status();
  auto lines = DiffLines(*diff, {}, {});
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], "~ management network: added (172.20.20.0/24)");
  EXPECT_THAT(lines[1], HasSubstr("~ node r1: eth0 addresses none -> "
                                  "172.20.20.2/24"));

  emu::v1::Topology removed = Parse(kBase);
  diff = DiffTopologies(Parse(with), &removed);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_EQ(DiffLines(*diff, {}, {})[0],
            "~ management network: removed (172.20.20.0/24)");

  emu::v1::Topology renamed = Parse(Edit(
      "name: lab1\n", "name: lab1\nmgmt: {ipv4-subnet: 172.20.20.0/24, "
                       "bridge: m0, network: n1}\n"));
  diff = DiffTopologies(Parse(with), &renamed);
  ASSERT_TRUE(diff.ok()) << diff.status();
  EXPECT_FALSE(diff->empty());
  EXPECT_THAT(DiffLines(*diff, {}, {}),
              ElementsAreArray({"~ management network: network clab -> n1; "
                                "bridge (emu's name) -> m0"}));
}

TEST(LabDiffTest, ReorientsAnEditedLinkToTheRunningOne) {
  emu::v1::Topology desired = Parse(
      Edit("    - endpoints: [\"r1:eth1\", \"r2:eth1\"]\n      rate: 10mbit\n",
           "    - endpoints: [\"r2:eth1\", \"r1:eth1\"]\n      rate: 10mbit\n"
           "      b-to-a: {rate: 20mbit}\n"));
  auto diff = DiffTopologies(Parse(kBase), &desired);
  ASSERT_TRUE(diff.ok()) << diff.status();
  const emu::v1::Link* link = nullptr;
  for (const auto& l : desired.links()) {
    if (l.a().node() == "r1" && l.a().interface() == "eth1") link = &l;
  }
  ASSERT_NE(link, nullptr) << "not turned back to r1:eth1<->r2:eth1";
  EXPECT_EQ(link->a_to_b().rate_bps(), 20'000'000u);  // r2's b-to-a
  EXPECT_EQ(link->b_to_a().rate_bps(), 10'000'000u);
  EXPECT_THAT(DiffLines(*diff, {}, {}),
              ElementsAreArray({"~ link r1:eth1<->r2:eth1 a-to-b rate "
                                "10Mbit/s -> 20Mbit/s"}));
}

TEST(LabDiffTest, RefusesAnotherLabName) {
  emu::v1::Topology desired = Parse(Edit("name: lab1", "name: lab2"));
  auto diff = DiffTopologies(Parse(kBase), &desired);
  ASSERT_TRUE(absl::IsInvalidArgument(diff.status()));
  EXPECT_THAT(std::string(diff.status().message()),
              HasSubstr("lab lab2, not lab lab1"));
}

TEST(LabDiffTest, RefusesAnotherCarrier) {
  emu::v1::Topology desired =
      Parse(Edit("name: lab1", "name: lab1\ncarrier: vxlan"));
  auto diff = DiffTopologies(Parse(kBase), &desired);
  ASSERT_TRUE(absl::IsInvalidArgument(diff.status())) << diff.status();
  EXPECT_THAT(std::string(diff.status().message()), HasSubstr("carrier:"));
  // The same carrier spelled out is no change.
  emu::v1::Topology same =
      Parse(Edit("name: lab1", "name: lab1\ncarrier: tunnel"));
  EXPECT_TRUE(DiffTopologies(Parse(kBase), &same).ok());
}

TEST(LabDiffTest, RefusesNewLinksOfARunningGuestButNotOfANewOne) {
  const std::string guest = Edit("    r3: {}\n", "    r3: {}\n    vm: {kind: qemu, image: alpine}\n") +
                            "    - endpoints: [\"r1:eth5\", \"vm:eth1\"]\n";
  emu::v1::Topology with_vm = Parse(guest);
  // Added together with its link: fine.
  ASSERT_TRUE(DiffTopologies(Parse(kBase), &with_vm).ok());
  emu::v1::Topology more = Parse(guest + "    - endpoints: [\"r2:eth5\", \"vm:eth2\"]\n");
  auto diff = DiffTopologies(Parse(guest), &more);
  ASSERT_TRUE(absl::IsInvalidArgument(diff.status())) << diff.status();
  EXPECT_THAT(std::string(diff.status().message()),
              HasSubstr("node vm: its links (vm:eth2: a guest's NICs are fixed"));
}

TEST(LabDiffTest, RefusesWhatNeedsTheNodeRecreated) {
  struct Refusal {
    std::string from, to, expect;
  };
  for (const Refusal& r : std::vector<Refusal>{
           {"    r3: {}\n", "    r3: {kind: qemu, image: alpine}\n",
            "node r3: its kind cannot change"},
           {"    r3: {}\n",
            "    r3:\n      interfaces:\n        eth1: {mtu: 9000}\n",
            "node r3: the MTU of eth1 cannot change"},
           {"    r3: {}\n",
            "    r3:\n      interfaces:\n        eth1: {mac: "
            "\"02:00:00:00:00:99\"}\n",
            "node r3: the MAC of eth1 cannot change"},
       }) {
    emu::v1::Topology desired = Parse(Edit(r.from, r.to));
    auto diff = DiffTopologies(Parse(kBase), &desired);
    ASSERT_TRUE(absl::IsInvalidArgument(diff.status())) << r.to;
    EXPECT_THAT(std::string(diff.status().message()), HasSubstr(r.expect));
    EXPECT_THAT(std::string(diff.status().message()), HasSubstr("lab.yaml:"));
  }
}

}  // namespace
}  // namespace emu::controller::lab
