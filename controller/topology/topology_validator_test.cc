#include "controller/topology/topology_validator.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/topology/topology_limits.h"
#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Parses `yaml` (which must parse) as "lab.yaml" and validates it; returns
// the error lines (empty when valid) and fills `warnings`.
std::vector<std::string> Problems(
    const std::string& yaml, std::vector<std::string>* warnings = nullptr) {
  absl::StatusOr<ParsedTopology> parsed = ParseTopology(yaml, "lab.yaml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return {"parse failed"};
  std::vector<std::string> w;
  absl::Status status = ValidateTopology(parsed->topology, &w);
  if (warnings != nullptr) *warnings = w;
  if (status.ok()) return {};
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return absl::StrSplit(status.message(), '\n');
}

TEST(ValidateTopologyTest, AcceptsARoutedLab) {
  std::vector<std::string> warnings;
  EXPECT_THAT(Problems(R"(name: ok
topology:
  nodes:
    h1:
      interfaces: {eth1: {addresses: [10.0.1.10/24, "fd00:1::10/64"], mac: "02:00:00:00:00:01"}}
      routes:
        - {to: default, via: 10.0.1.1}
        - {to: default6, via: "fd00:1::1"}
        - {to: 10.9.0.0/16, dev: eth1}
        - {to: "fd00:9::/64", via: "fe80::1", dev: eth1}
    r1:
      interfaces:
        eth1: {addresses: [10.0.1.1/24, "fd00:1::1/64"], mtu: 9000}
      sysctls: {net.ipv4.ip_forward: 1, net.ipv6.conf.all.forwarding: 1}
      exec: ["ip -br addr"]
    vm:
      kind: qemu
      sysctls: {kernel.hostname: vm}
  links:
    - endpoints: ["h1:eth1", "r1:eth1"]
      rate: 10mbit
      burst: 32kb
      delay: 10ms
      jitter: 1ms
      reorder: 1%
    - endpoints: ["vm:eth0", "r1:eth2"]
)",
                       &warnings),
              IsEmpty());
  // The MTUs differ on the first link.
  EXPECT_THAT(warnings, ElementsAre(HasSubstr(
                            "lab.yaml:20: link h1:eth1<->r1:eth1: the ends "
                            "have different MTUs (1500 and 9000)")));
}

TEST(ValidateTopologyTest, SegmentsParseAndValidate) {
  absl::StatusOr<ParsedTopology> parsed = ParseTopology(R"(name: seg
topology:
  nodes:
    sw: {kind: switch}
    hb: {kind: hub, sysctls: {net.ipv6.conf.all.disable_ipv6: 1}}
    br: {kind: bridge, image: ignored:1}
    a: {interfaces: {eth1: {addresses: [10.0.0.1/24]}}}
    b: {interfaces: {eth1: {addresses: [10.0.0.2/24]}}}
  links:
    - endpoints: ["sw:p1", "a:eth1"]
      a-to-b: {rate: 10mbit}
    - endpoints: ["sw:p2", "b:eth1"]
    - endpoints: ["hb:p1", "br:eth1"]
)",
                                                        "lab.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& nodes = parsed->topology.nodes();
  EXPECT_EQ(nodes[0].kind(), emu::v1::NODE_KIND_SWITCH);
  EXPECT_EQ(nodes[1].kind(), emu::v1::NODE_KIND_HUB);
  EXPECT_EQ(nodes[2].kind(), emu::v1::NODE_KIND_BRIDGE);
  EXPECT_TRUE(nodes[2].image().empty());
  EXPECT_THAT(parsed->warnings,
              ElementsAre(HasSubstr("lab.yaml:6: node br: image ignored: a "
                                    "bridge is emu's own Linux bridge")));
  std::vector<std::string> warnings;
  absl::Status valid = ValidateTopology(parsed->topology, &warnings);
  EXPECT_TRUE(valid.ok()) << valid;
}

TEST(ValidateTopologyTest, ASegmentHasNoAddressesRoutesOrImage) {
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes:
    sw:
      kind: switch
      interfaces:
        p1: {addresses: [10.0.0.9/24]}
        emuseg: {}
      routes: [{to: default, via: 10.0.0.1}]
      sysctls: {kernel.hostname: sw}
    a: {interfaces: {eth1: {addresses: [10.0.0.1/24]}}}
  links:
    - endpoints: ["sw:p1", "a:eth1"]
)"),
              ::testing::IsSupersetOf(
                  {HasSubstr("lab.yaml:9: node sw: a switch routes nothing"),
                   HasSubstr("lab.yaml:7: node sw: interface p1: a port of a "
                             "switch has no address"),
                   HasSubstr("lab.yaml:8: node sw: interface emuseg: the name "
                             "emuseg is the segment's own bridge"),
                   HasSubstr("node sw: sysctl kernel.hostname: only net.*")}));
}

TEST(ValidateTopologyTest, LinkToUnknownNodeAndToItself) {
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes: {r1: , r2: }
  links:
    - endpoints: ["r1:eth1", "r9:eth1"]
    - endpoints: ["r2:eth1", "r2:eth1"]
)"),
              ElementsAre("lab.yaml:5: link r1:eth1<->r9:eth1: unknown node r9",
                          "lab.yaml:6: link r2:eth1<->r2:eth1: connects "
                          "r2:eth1 to itself"));
}

TEST(ValidateTopologyTest, InterfaceInTwoLinksNamesTheFirstLink) {
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes: {r1: , r2: , r3: }
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
    - endpoints: ["r3:eth1", "r1:eth1"]
)"),
              ElementsAre("lab.yaml:6: link r3:eth1<->r1:eth1: duplicate "
                          "interface r1:eth1: already used by link "
                          "r1:eth1<->r2:eth1 at lab.yaml:5"));
}

TEST(ValidateTopologyTest, AddressConflictNamesBothInterfaces) {
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes:
    r1:
      interfaces: {eth1: {addresses: [10.0.1.1/24]}}
    r2:
      interfaces: {eth1: {addresses: [10.0.1.1/25]}}
    r3:
      interfaces: {eth1: {addresses: ["fd00::1/64", "FD00:0::1/64"]}}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
    - endpoints: ["r3:eth1", "r1:eth2"]
)"),
              ElementsAre("lab.yaml:7: interface r2:eth1: address conflict: "
                          "10.0.1.1 is already on r1:eth1 at lab.yaml:5",
                          "lab.yaml:9: interface r3:eth1: address fd00::1 is "
                          "listed twice"));
}

TEST(ValidateTopologyTest, BadInterfacesAreAllReported) {
  EXPECT_THAT(
      Problems(R"(name: x
topology:
  nodes:
    r1:
      interfaces:
        averyveryverylongname0: {}
        lo: {}
        "eth/1": {}
        eth2: {mtu: 67}
        eth3: {mac: "02:00:00:00:00"}
        eth4: {mac: "01:00:5e:00:00:01"}
        eth5: {mac: "02:00:00:00:00:0a", addresses: [10.0.0.300/24]}
        eth6: {mac: "02:00:00:00:00:0A", addresses: [10.0.0.1]}
        eth7: {addresses: [10.0.0.7/33]}
)"),
      ElementsAre(
          "lab.yaml:6: node r1: interface name 'averyveryverylongname0' is "
          "longer than 15 bytes (Linux IFNAMSIZ)",
          "lab.yaml:7: node r1: interface name 'lo' is the node's loopback",
          "lab.yaml:8: node r1: interface name 'eth/1' may use only letters, "
          "digits, '_', '.' and '-'",
          "lab.yaml:9: interface r1:eth2: mtu 67 is outside 68..65535",
          "lab.yaml:10: interface r1:eth3: bad mac \"02:00:00:00:00\": "
          "expected six hex octets like 02:00:00:00:00:01",
          HasSubstr("lab.yaml:11: interface r1:eth4: bad mac "
                    "\"01:00:5e:00:00:01\": multicast address"),
          "lab.yaml:12: interface r1:eth5: bad address \"10.0.0.300/24\": "
          "'10.0.0.300' is not an IPv4 or IPv6 address",
          "lab.yaml:13: interface r1:eth6: mac 02:00:00:00:00:0A is already "
          "used by r1:eth5 at lab.yaml:12",
          "lab.yaml:13: interface r1:eth6: bad address \"10.0.0.1\": needs a "
          "prefix length, e.g. 10.0.0.1/24",
          "lab.yaml:14: interface r1:eth7: bad address \"10.0.0.7/33\": bad "
          "prefix length '33' (0..32)"));
}

TEST(ValidateTopologyTest, RoutesMustBeReachableAndWellFormed) {
  EXPECT_THAT(
      Problems(R"(name: x
topology:
  nodes:
    r1:
      interfaces:
        eth1: {addresses: [10.0.1.1/24]}
        eth2: {addresses: [10.0.2.1/24]}
      routes:
        - {to: 10.0.3.0/24, via: 10.0.9.1}
        - {to: 10.0.4.0/24, via: 10.0.1.2, dev: eth9}
        - {to: 10.0.5.1/24, via: 10.0.1.2}
        - {to: default6, via: 10.0.1.2}
        - {to: "fd00::/64", via: "fd00::2"}
        - {to: 10.0.6.0/24}
        - {to: 10.0.7.0/24, via: 10.0.1.1}
        - {to: 10.0.8.0/24, via: 10.0.2.2, dev: eth1}
        - {to: "fd01::/64", via: "fe80::1"}
        - {to: nowhere, via: 10.0.1.2}
        - {to: 10.0.3.0/24, via: 10.0.1.2}
        - {to: 10.0.3.0/24, via: 10.0.2.2, metric: 5}
    r2:
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
    - endpoints: ["r1:eth2", "r2:eth2"]
)"),
      ElementsAre(
          "lab.yaml:9: node r1: route to 10.0.3.0/24: gateway 10.0.9.1 is "
          "not in a subnet node r1 is connected to (10.0.1.0/24 on eth1, "
          "10.0.2.0/24 on eth2)",
          "lab.yaml:10: node r1: route to 10.0.4.0/24: dev eth9 is not an "
          "interface of node r1",
          "lab.yaml:10: node r1: route to 10.0.4.0/24: gateway 10.0.1.2 is "
          "not in a subnet node r1 is connected to through eth9 (it has no "
          "IPv4 address)",
          "lab.yaml:11: node r1: route to 10.0.5.1/24: destination has host "
          "bits set; did you mean 10.0.5.0/24?",
          "lab.yaml:12: node r1: route to default6: via 10.0.1.2 is IPv4 but "
          "the destination is not (default is IPv4, default6 is IPv6)",
          "lab.yaml:13: node r1: route to fd00::/64: gateway fd00::2 is not "
          "in a subnet node r1 is connected to (it has no IPv6 address)",
          "lab.yaml:14: node r1: route to 10.0.6.0/24: needs via (a gateway) "
          "or dev",
          "lab.yaml:15: node r1: route to 10.0.7.0/24: via 10.0.1.1 is node "
          "r1's own address on eth1",
          "lab.yaml:16: node r1: route to 10.0.8.0/24: gateway 10.0.2.2 is "
          "not in a subnet node r1 is connected to through eth1 (10.0.1.0/24 "
          "on eth1)",
          "lab.yaml:17: node r1: route to fd01::/64: via fe80::1 is "
          "link-local and needs dev",
          "lab.yaml:18: node r1: route to nowhere: bad destination: "
          "'nowhere' is not an IPv4 or IPv6 address (or write default / "
          "default6)",
          "lab.yaml:19: node r1: route to 10.0.3.0/24: duplicate route (same "
          "destination and metric as lab.yaml:9)"));
}

TEST(ValidateTopologyTest, NetemParametersMustMakeSense) {
  std::vector<std::string> warnings;
  EXPECT_THAT(
      Problems(R"(name: x
topology:
  nodes: {a: , b: , c: , d: }
  links:
    - endpoints: ["a:eth1", "b:eth1"]
      jitter: 1ms
      reorder: 5%
      burst: 32kb
    - endpoints: ["c:eth1", "d:eth1"]
      rate: 1mbit
      delay: 1ms
      a-to-b: {burst: 1000b, jitter: 5ms}
      b-to-a: {loss-correlation: 25%}
)",
               &warnings),
      ElementsAre(
          HasSubstr("lab.yaml:5: link a:eth1<->b:eth1: burst 32KiB without "
                    "rate"),
          "lab.yaml:5: link a:eth1<->b:eth1: jitter 1ms without delay: "
          "jitter varies the delay, so set delay too",
          HasSubstr("lab.yaml:5: link a:eth1<->b:eth1: reorder without "
                    "delay"),
          HasSubstr("lab.yaml:9: link c:eth1<->d:eth1: a-to-b: burst 1000b is "
                    "smaller than one full-size frame"),
          HasSubstr("lab.yaml:9: link c:eth1<->d:eth1: a-to-b: jitter 5ms "
                    "exceeds delay 1ms"),
          HasSubstr("lab.yaml:9: link c:eth1<->d:eth1: b-to-a: "
                    "loss-correlation needs loss")));
  // What the agent refuses is an error here too, not a warning.
  EXPECT_THAT(warnings, IsEmpty());
}

// What an adversarial run found the validator accepting and the agent then
// refusing at `up` (issue 15). Both now call linkemu::LinkParamsProblems.
TEST(ValidateTopologyTest, RefusesWhatTheAgentWouldRefuse) {
  const struct {
    std::string params;
    std::string want;
  } kCases[] = {
      {"rate: 500bit", "rate 500bit/s is below 1kbit/s"},
      {"rate: 40gbit", "rate 40Gbit/s is above"},
      {"{rate: 10mbit, burst: 3gib}", "burst 3GiB is above"},
      {"delay: 61s", "delay 61s is above 60s"},
      {"{delay: 10ms, jitter: 20ms}", "jitter 20ms exceeds delay 10ms"},
      {"delay-correlation: 5%", "delay-correlation needs jitter"},
  };
  for (const auto& c : kCases) {
    const std::string yaml = absl::StrCat(
        "name: x\ntopology:\n  nodes: {a: , b: }\n  links:\n    - "
        "endpoints: [\"a:eth1\", \"b:eth1\"]\n      a-to-b: ",
        c.params.front() == '{' ? c.params : "{" + c.params + "}", "\n");
    EXPECT_THAT(Problems(yaml),
                ElementsAre(AllOf(HasSubstr("lab.yaml:5: link a:eth1<->b:eth1: "
                                            "a-to-b: "),
                                  HasSubstr(c.want))))
        << c.params;
  }
}

// Addresses the kernel takes without a word and the lab then misroutes.
TEST(ValidateTopologyTest, AddressesMustBeHostAddresses) {
  const struct {
    std::string address;
    std::string want;  // empty: accepted
  } kCases[] = {
      {"0.0.0.0/0", "the unspecified address"},
      {"10.0.0.1/0", "a /0 prefix"},
      {"224.0.0.1/24", "multicast"},
      {"127.0.0.2/8", "loopback"},
      {"10.0.1.0/24", "network address of 10.0.1.0/24"},
      {"10.0.1.255/24", "broadcast address of 10.0.1.0/24"},
      {"10.0.1.3/30", "broadcast address of 10.0.1.0/30"},
      {"::/64", "the unspecified address"},
      {"::1/128", "loopback"},
      {"ff02::1/64", "multicast"},
      {"10.0.1.0/31", ""},  // RFC 3021: both addresses are hosts
      {"10.0.1.1/32", ""},
      {"10.0.1.1/24", ""},
      {"fd00::1/64", ""},
  };
  for (const auto& c : kCases) {
    const std::string yaml = absl::StrCat(
        "name: x\ntopology:\n  nodes:\n    a:\n      interfaces:\n        "
        "eth1: {addresses: [\"",
        c.address,
        "\"]}\n    b:\n  links:\n    - endpoints: [a:eth1, b:eth1]\n");
    if (c.want.empty()) {
      EXPECT_THAT(Problems(yaml), IsEmpty()) << c.address;
    } else {
      EXPECT_THAT(Problems(yaml),
                  ElementsAre(AllOf(
                      HasSubstr("lab.yaml:6: interface a:eth1: bad address"),
                      HasSubstr(c.want))))
          << c.address;
    }
  }
}

TEST(ValidateTopologyTest, WarnsAboutOneSubnetOnTwoInterfaces) {
  std::vector<std::string> warnings;
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes:
    a:
      interfaces:
        eth1: {addresses: [10.0.1.1/24, "fd00::1/64"]}
        eth2: {addresses: [10.0.1.2/24, "fd00::2/64"]}
    b:
      interfaces:
        eth1: {addresses: [10.0.1.3/24]}
        eth2: {addresses: [10.0.1.4/24]}
  links:
    - endpoints: [a:eth1, b:eth1]
    - endpoints: [a:eth2, b:eth2]
)",
                       &warnings),
              IsEmpty());
  EXPECT_THAT(warnings,
              ElementsAre(AllOf(HasSubstr("lab.yaml:7: interface a:eth2: "
                                          "address 10.0.1.2/24 is in the "
                                          "subnet of 10.0.1.1/24 on eth1"),
                                HasSubstr("ARP flux")),
                          HasSubstr("lab.yaml:7: interface a:eth2: address "
                                    "fd00::2/64"),
                          HasSubstr("lab.yaml:11: interface b:eth2: address "
                                    "10.0.1.4/24")));
}

// Images are names under the agent's image root, never paths.
TEST(ValidateTopologyTest, QemuImagesAreNames) {
  const struct {
    std::string image;
    bool ok;
  } kCases[] = {
      {"default", true},    {"debian-12.qcow2", true},
      {"/abs/path", false}, {"../..", false},
      {"..", false},        {"a/b", false},
      {".hidden", false},   {"-rf", false},
      {"a b", false},       {std::string(65, 'a'), false},
  };
  for (const auto& c : kCases) {
    const std::string yaml = absl::StrCat(
        "name: x\ntopology:\n  nodes:\n    a:\n      kind: qemu\n      "
        "image: \"",
        c.image, "\"\n");
    std::vector<std::string> problems = Problems(yaml);
    if (c.ok) {
      EXPECT_THAT(problems, IsEmpty()) << c.image;
    } else {
      EXPECT_THAT(problems,
                  ElementsAre(AllOf(HasSubstr("lab.yaml:4: node a: image '"),
                                    HasSubstr("is not an image name"))))
          << c.image;
    }
  }
}

// The bounds of topology_limits.h also hold for topologies from the API.
TEST(ValidateTopologyTest, LabSizeIsBounded) {
  emu::v1::Topology t;
  t.set_name("big");
  for (int i = 0; i <= kMaxNodes; ++i) {
    emu::v1::Node* node = t.add_nodes();
    node->set_name(absl::StrCat("n", i));
    node->set_kind(emu::v1::NODE_KIND_NETNS);
    node->mutable_source()->set_file("big.yaml");
    node->mutable_source()->set_line(i + 3);
  }
  absl::Status s = ValidateTopology(t);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("big.yaml:", kMaxNodes + 3, ": node n",
                                     kMaxNodes, ": the lab has ", kMaxNodes + 1,
                                     " nodes, more than ", kMaxNodes,
                                     "; the limit is kMaxNodes")));
}

TEST(ValidateTopologyTest, PercentagesOutsideZeroToHundredFromTheApi) {
  // The parser cannot produce these; the API can.
  emu::v1::Topology t;
  t.set_name("api");
  for (const char* n : {"a", "b"}) {
    emu::v1::Node* node = t.add_nodes();
    node->set_name(n);
    node->set_kind(emu::v1::NODE_KIND_NETNS);
    node->add_interfaces()->set_name("eth1");
  }
  emu::v1::Link* link = t.add_links();
  link->mutable_a()->set_node("a");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("b");
  link->mutable_b()->set_interface("eth1");
  link->mutable_a_to_b()->set_loss_percent(150);
  link->mutable_b_to_a()->set_corrupt_percent(-1);
  absl::Status s = ValidateTopology(t);
  EXPECT_THAT(std::string(s.message()),
              AllOf(HasSubstr("link a:eth1<->b:eth1: a-to-b: loss 150% is "
                              "outside 0%..100%"),
                    HasSubstr("link a:eth1<->b:eth1: b-to-a: corrupt -1% is "
                              "outside 0%..100%")));
}

TEST(ValidateTopologyTest, EnvNamesAreVariableNames) {
  EXPECT_THAT(Problems(R"(name: env
topology:
  nodes:
    a:
      env: {GOOD_1: x, _ok: y, "1BAD": z, "A=B": w, "": v}
)"),
              ElementsAre("lab.yaml:4: node a: env: \"\" is not a variable "
                          "name ([A-Za-z_][A-Za-z0-9_]*)",
                          "lab.yaml:4: node a: env: \"1BAD\" is not a "
                          "variable name ([A-Za-z_][A-Za-z0-9_]*)",
                          "lab.yaml:4: node a: env: \"A=B\" is not a "
                          "variable name ([A-Za-z_][A-Za-z0-9_]*)"));
}

TEST(ValidateTopologyTest, NamesKindsSysctlsAndExec) {
  // Built from a textproto: YAML cannot repeat a node (a duplicate key).
  // The assertions below count lines of this text.
  // clang-format off
  absl::StatusOr<ParsedTopology> parsed =
      ParseTopology(R"pb(name: "bad name"
nodes { name: "r1" sysctls { key: "kernel.pid_max" value: "1" } }
nodes { name: "r1" }
nodes { name: "this-name-is-far-too-long-for-emu-x" }
nodes { name: "r2" exec: " " sysctls { key: "net/../../etc" value: "1" } }
nodes { name: "r3" image: "alpine" interfaces { name: "eth1" } }
)pb",
                    "t.textproto");
  // clang-format on
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  std::vector<std::string> warnings;
  absl::Status s = ValidateTopology(parsed->topology, &warnings);
  std::vector<std::string> lines = absl::StrSplit(s.message(), '\n');
  EXPECT_THAT(
      lines,
      ElementsAre(
          "t.textproto:1: lab: lab name 'bad name' may use only letters, "
          "digits, '_' and '-'",
          "t.textproto:2: node r1: sysctl kernel.pid_max: only net.* sysctls "
          "belong to a network namespace; setting this one on a netns node "
          "would change the host",
          "t.textproto:3: node r1: duplicate node: already defined at "
          "t.textproto:2",
          "t.textproto:4: node this-name-is-far-too-long-for-emu-x: node "
          "name 'this-name-is-far-too-long-for-emu-x' is longer than 32 "
          "characters",
          "t.textproto:5: node r2: sysctl net/../../etc: bad key: use dotted "
          "names like net.ipv4.ip_forward",
          "t.textproto:5: node r2: exec line 1 is empty"));
  EXPECT_THAT(warnings,
              ElementsAre("t.textproto:6: node r3: image ignored: netns nodes "
                          "share the host's file system",
                          "t.textproto:6: interface r3:eth1: not connected to "
                          "any link"));
}

TEST(ValidateTopologyTest, UndeclaredInterfaceAndEmptyTopologyFromTheApi) {
  emu::v1::Topology t;
  t.set_name("api");
  EXPECT_THAT(std::string(ValidateTopology(t).message()),
              "topology: has no nodes");
  for (const char* n : {"a", "b"}) {
    emu::v1::Node* node = t.add_nodes();
    node->set_name(n);
  }
  emu::v1::Link* link = t.add_links();
  link->mutable_a()->set_node("a");
  link->mutable_a()->set_interface("eth1");
  link->mutable_b()->set_node("b");
  std::vector<std::string> lines =
      absl::StrSplit(ValidateTopology(t).message(), '\n');
  EXPECT_THAT(
      lines, ElementsAre(
                 "node a: kind is not set (netns, qemu, bridge, switch or hub)",
                 "node b: kind is not set (netns, qemu, bridge, switch or hub)",
                 "link a:eth1<->b:: an endpoint needs both a "
                 "node and an interface (node:iface)"));
  link->mutable_b()->set_interface("eth1");
  NormalizeTopology(&t);
  EXPECT_TRUE(ValidateTopology(t).ok()) << ValidateTopology(t);
}

TEST(ValidateTopologyTest, WarnsAboutUnusedInterfacesAndDisjointSubnets) {
  std::vector<std::string> warnings;
  EXPECT_THAT(Problems(R"(name: x
topology:
  nodes:
    a:
      interfaces:
        eth1: {addresses: [10.0.1.1/24]}
        eth9: {}
    b:
      interfaces:
        eth1: {addresses: [10.0.2.1/24]}
  links:
    - endpoints: ["a:eth1", "b:eth1"]
)",
                       &warnings),
              IsEmpty());
  EXPECT_THAT(warnings,
              ElementsAre("lab.yaml:12: link a:eth1<->b:eth1: the ends share "
                          "no IPv4 subnet (10.0.1.1/24 vs 10.0.2.1/24)",
                          "lab.yaml:7: interface a:eth9: not connected to any "
                          "link"));
}

}  // namespace
}  // namespace emu::controller::topology

namespace emu::controller::topology {
namespace {

TEST(ValidateCommunityTest, AcceptsExportsAndAttachments) {
  EXPECT_THAT(Problems(R"(name: edge
community:
  export: [{name: ix1, segment: sw1, to: [bob]}]
topology:
  nodes:
    sw1: {kind: switch}
    r1: {interfaces: {eth1: {addresses: [10.100.0.11/24]}}}
  links:
    - endpoints: ["r1:eth1", "community:alice/ix1"]
      rate: 10mbit
)"),
              IsEmpty());
}

TEST(ValidateCommunityTest, NamesEveryProblemWithItsLine) {
  EXPECT_THAT(
      Problems(R"(name: edge
community:
  export:
    - {name: ix1, segment: r1, to: [bob]}
    - {name: ix1, segment: nope, to: ["b ob"]}
    - {name: "i x", segment: sw1, to: []}
topology:
  nodes:
    sw1: {kind: hub}
    r1: {}
  links:
    - endpoints: ["r1:eth1", "sw1:p1"]
    - endpoints: ["r1:eth1", "community:alice/ix1"]
    - endpoints: ["r2:eth1", "community:alice/ix1"]
    - endpoints: ["r1:eth2", "community:alice/ix1/x"]
)"),
      ElementsAre(
          "lab.yaml:4: community export ix1: node r1 is of kind netns; only "
          "a switch, hub or bridge (or a free interface, interface: "
          "NODE:IFACE) can be exported",
          HasSubstr("lab.yaml:5: community export ix1: exported twice "
                    "(first: community export ix1 at lab.yaml:4)"),
          "lab.yaml:5: community export ix1: segment nope is not a node of "
          "the lab",
          HasSubstr("lab.yaml:5: community export ix1: to: user name"),
          HasSubstr("lab.yaml:6: community export i x: community name"),
          "lab.yaml:6: community export i x: to: name the users who may "
          "attach, or all",
          "lab.yaml:13: link r1:eth1<->community:alice/ix1: duplicate "
          "interface r1:eth1: already used by link r1:eth1<->sw1:p1 at "
          "lab.yaml:12",
          "lab.yaml:14: link r2:eth1<->community:alice/ix1: unknown node r2",
          HasSubstr("lab.yaml:15: link r1:eth2<->community:alice/ix1/x: "
                    "community endpoint \"alice/ix1/x\": expected "
                    "OWNER/NAME")));
}

TEST(ValidateCommunityTest, InterfaceExportsNameTheirInterface) {
  EXPECT_THAT(
      Problems(R"(name: edge
community:
  export:
    - {name: p1, interface: "r1:eth1", to: [bob]}
    - {name: p2, interface: "r1:eth7", to: all}
    - {name: p3, interface: "r1:eth9", to: all}
topology:
  nodes:
    r1: {interfaces: {eth9: {addresses: [10.9.0.1/30]}}}
    r2: {}
  links:
    - endpoints: ["r1:eth1", "r2:eth1"]
)"),
      ElementsAre("lab.yaml:4: community export p1: interface r1:eth1 is "
                  "used by link r1:eth1<->r2:eth1; only a free interface is "
                  "exported",
                  "lab.yaml:5: community export p2: interface r1:eth7: node "
                  "r1 declares no interface eth7"));
}

TEST(ValidateCommunityTest, RefusesAnchorsInAFile) {
  emu::v1::Topology t;
  t.set_name("sneaky");
  auto* n = t.add_nodes();
  n->set_name("c-1");
  n->set_kind(emu::v1::NODE_KIND_SWITCH);
  n->set_foreign_lab("alice+backbone");
  n->set_foreign_node("sw1");
  absl::Status s = ValidateTopology(t);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("node c-1: foreign_lab/foreign_node/interface_export "
                        "are set by the controller"));
}

}  // namespace
}  // namespace emu::controller::topology
