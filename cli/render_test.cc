#include "cli/render.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
T Parse(const std::string& text) {
  T msg;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &msg)) << text;
  return msg;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(NamesTest, LinkStateKind) {
  EXPECT_EQ(LinkName(Parse<v1::Link>(
                R"pb(a { node: "r1" interface: "eth1" }
                     b { node: "r2" interface: "eth2" })pb")),
            "r1:eth1<->r2:eth2");
  EXPECT_EQ(LabStateName(v1::RUNNING), "RUNNING");
  EXPECT_EQ(LabStateName(v1::LAB_STATE_UNSPECIFIED), "UNKNOWN");
  EXPECT_EQ(LabStateName(static_cast<v1::LabState>(99)), "UNKNOWN");
  EXPECT_EQ(NodeKindName(v1::NODE_KIND_NETNS), "netns");
  EXPECT_EQ(NodeKindName(v1::NODE_KIND_QEMU), "qemu");
  EXPECT_EQ(NodeKindName(v1::NODE_KIND_UNSPECIFIED), "?");
}

TEST(ProgressPrinterTest, LinesWarningsAndStateChanges) {
  ProgressPrinter printer(/*color=*/false);
  EXPECT_EQ(printer.Render(Parse<v1::DeployEvent>(
                               R"pb(message: "placing 3 nodes" state: DEPLOYING)pb"),
                           absl::Milliseconds(100)),
            "[   0.1s] placing 3 nodes\n"
            "[   0.1s] lab is DEPLOYING\n");
  EXPECT_EQ(printer.Render(Parse<v1::DeployEvent>(R"pb(
                               host: "h1"
                               message: "created node r1"
                               state: DEPLOYING
                               warnings: "demo.yaml:7: node r1: image ignored")pb"),
                           absl::Milliseconds(1234)),
            "[   1.2s] h1: created node r1\n"
            "[   1.2s] WARNING: h1: demo.yaml:7: node r1: image ignored\n");
  EXPECT_EQ(printer.Render(Parse<v1::DeployEvent>(R"pb(state: RUNNING)pb"),
                           absl::Seconds(2)),
            "[   2.0s] lab is RUNNING\n");
  EXPECT_EQ(printer.last_state(), v1::RUNNING);
  EXPECT_EQ(printer.warning_count(), 1);
  // The same warning again (for example already shown by validation) is
  // not repeated; another one is.
  EXPECT_EQ(printer.Warning("h1", "demo.yaml:7: node r1: image ignored",
                            absl::Seconds(3)),
            "");
  EXPECT_EQ(printer.Warning("", "other", absl::Seconds(3)),
            "[   3.0s] WARNING: other\n");
  EXPECT_EQ(printer.warning_count(), 2);
}

TEST(ProgressPrinterTest, ColorMarksWarnings) {
  ProgressPrinter printer(/*color=*/true);
  std::string out = printer.Render(
      Parse<v1::DeployEvent>(R"pb(warnings: "careful")pb"), absl::ZeroDuration());
  EXPECT_EQ(out, "[   0.0s] \033[33mWARNING\033[0m: careful\n");
}

TEST(RenderLabListTest, Table) {
  auto labs = Parse<v1::ListLabsResponse>(R"pb(
    labs {
      name: "demo"
      state: RUNNING
      nodes { name: "r1" }
      nodes { name: "r2" }
      links {}
      created_unix_us: 1699999700000000
    }
    labs {
      name: "broken"
      state: FAILED
      topology { nodes { name: "x" } }
    }
    labs { name: "outline" state: RUNNING node_count: 10000 link_count: 15000 })pb");
  EXPECT_EQ(RenderLabList(labs, kNow),
            "NAME     STATE    NODES  LINKS  AGE\n"
            "demo     RUNNING  2      1      5m\n"
            "broken   FAILED   1      0      -\n"
            "outline  RUNNING  10000  15000  -\n");
  EXPECT_EQ(RenderLabList(v1::ListLabsResponse(), kNow), "no labs\n");
}

TEST(RenderLabListTest, OwnerColumnForAdministratorsAndShares) {
  auto labs = Parse<v1::ListLabsResponse>(R"pb(
    caller: "admin"
    caller_admin: true
    labs { name: "core" owner: "alice" state: RUNNING }
    labs { name: "core" owner: "bob" state: RUNNING }
    labs { name: "demo" owner: "admin" state: FAILED })pb");
  EXPECT_EQ(RenderLabList(labs, kNow),
            "OWNER  NAME  STATE    NODES  LINKS  AGE\n"
            "alice  core  RUNNING  0      0      -\n"
            "bob    core  RUNNING  0      0      -\n"
            "admin  demo  FAILED   0      0      -\n");
  // A user with only their own labs: no column.
  auto own = Parse<v1::ListLabsResponse>(R"pb(
    caller: "bob"
    labs { name: "core" owner: "bob" state: RUNNING })pb");
  EXPECT_EQ(RenderLabList(own, kNow),
            "NAME  STATE    NODES  LINKS  AGE\n"
            "core  RUNNING  0      0      -\n");
  // A lab shared with them: the column appears.
  *own.add_labs() = Parse<v1::Lab>(R"pb(name: "core" owner: "alice")pb");
  EXPECT_NE(RenderLabList(own, kNow).find("OWNER"), std::string::npos);
}

TEST(RenderLabTest, NodesAndLinksPerDirection) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "demo"
    state: DEGRADED
    error: "host h2 unreachable"
    created_unix_us: 1699996400000000
    topology { source { file: "demo.yaml" } }
    nodes {
      name: "r1"
      kind: NODE_KIND_NETNS
      host: "h1"
      interfaces { name: "eth1" addresses: "10.0.0.1/24" addresses: "fd00::1/64" }
      interfaces { name: "eth2" }
    }
    nodes { name: "r2" kind: NODE_KIND_QEMU host: "h2" }
    links {
      link {
        a { node: "r1" interface: "eth1" }
        b { node: "r2" interface: "eth1" }
        a_to_b { rate_bps: 100000000 delay_us: 10000 jitter_us: 1000 loss_percent: 0.5 }
        b_to_a { reorder_percent: 2 limit_packets: 500 }
      }
      host_a: "h1"
      host_b: "h2"
      engine_a_to_b: "kernel"
      engine_b_to_a: "userspace"
    })pb");
  EXPECT_EQ(RenderLab(lab, kNow),
            "Lab:    demo\n"
            "State:  DEGRADED\n"
            "Error:  host h2 unreachable\n"
            "Age:    1h (created 2023-11-14 21:13:20 UTC)\n"
            "Source: demo.yaml\n"
            "\n"
            "NODES\n"
            "NAME  KIND   HOST  INTERFACE  ADDRESSES\n"
            "r1    netns  h1    eth1       10.0.0.1/24,fd00::1/64\n"
            "                   eth2       -\n"
            "r2    qemu   h2    -          -\n"
            "\n"
            "LINKS\n"
            "LINK               DIRECTION  RATE       DELAY      LOSS  OTHER"
            "                  ENGINE     HOSTS\n"
            "r1:eth1<->r2:eth1  r1->r2     100Mbit/s  10ms+-1ms  0.5%  -"
            "                      kernel     h1/h2\n"
            "                   r2->r1     -          -          -     reorder 2% "
            "limit 500p  userspace\n");
}

// A cross-host link in a kernel VXLAN device (carrier: vxlan) says so in
// ENGINE, in the table and in a big lab's summary.
TEST(RenderLabTest, AVxlanLinkSaysSoInItsEngine) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "vx"
    state: RUNNING
    links {
      link {
        a { node: "r1" interface: "eth1" }
        b { node: "r2" interface: "eth1" }
        a_to_b { rate_bps: 10000000 }
      }
      host_a: "h1"
      host_b: "h2"
      carrier: "vxlan"
      engine_a_to_b: "kernel"
      engine_b_to_a: "none"
    }
    links {
      link {
        a { node: "r3" interface: "eth1" }
        b { node: "r4" interface: "eth1" }
        a_to_b { delay_us: 1000 }
      }
      host_a: "h1"
      host_b: "h1"
      carrier: "veth"
      engine_a_to_b: "userspace"
      engine_b_to_a: "none"
    })pb");
  const std::string out = RenderLab(lab, kNow);
  EXPECT_NE(out.find("kernel (vxlan)"), std::string::npos) << out;
  EXPECT_NE(out.find("none (vxlan)"), std::string::npos) << out;
  EXPECT_NE(out.find("userspace "), std::string::npos) << out;
  EXPECT_EQ(out.find("userspace (vxlan)"), std::string::npos) << out;
}

TEST(RenderLabTest, GuestStateFollowsItsKind) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "guests"
    state: DEGRADED
    error: "guests not running: vm1 (killed by signal 9 (Killed))"
    nodes {
      name: "vm1"
      kind: NODE_KIND_QEMU
      host: "h1"
      state: "exited"
      state_detail: "killed by signal 9 (Killed)"
    }
    nodes {
      name: "vm2"
      kind: NODE_KIND_QEMU
      host: "h1"
      state: "ready"
      interfaces { name: "eth1" addresses: "10.0.0.2/24" }
    }
    nodes { name: "b" kind: NODE_KIND_NETNS host: "h1" })pb");
  EXPECT_EQ(RenderLab(lab, kNow),
            "Lab:    guests\n"
            "State:  DEGRADED\n"
            "Error:  guests not running: vm1 (killed by signal 9 (Killed))\n"
            "\n"
            "NODES\n"
            "NAME  KIND                                        HOST  INTERFACE"
            "  ADDRESSES\n"
            "vm1   qemu: exited (killed by signal 9 (Killed))  h1    -        "
            "  -\n"
            "vm2   qemu: ready                                 h1    eth1     "
            "  10.0.0.2/24\n"
            "b     netns                                       h1    -        "
            "  -\n"
            "\n"
            "LINKS\n"
            "(none)\n");
}

TEST(RenderLabTest, ANodeSharingANamespaceSaysWhose) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "modes"
    state: RUNNING
    nodes { name: "node1" kind: NODE_KIND_NETNS host: "h1" }
    nodes {
      name: "node2"
      kind: NODE_KIND_NETNS
      host: "h1"
      netns_of: "node1"
      interfaces { name: "net0" addresses: "10.0.0.1/24" }
    })pb");
  EXPECT_EQ(RenderLab(lab, kNow),
            "Lab:    modes\n"
            "State:  RUNNING\n"
            "\n"
            "NODES\n"
            "NAME   KIND                       HOST  INTERFACE  ADDRESSES\n"
            "node1  netns                      h1    -          -\n"
            "node2  netns (node1's namespace)  h1    net0       10.0.0.1/24\n"
            "\n"
            "LINKS\n"
            "(none)\n");
}

TEST(RenderLabTest, InterfacesThatAreNoLinkSayWhereTheyGo) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "ends"
    state: RUNNING
    nodes {
      name: "r1"
      kind: NODE_KIND_NETNS
      host: "h1"
      interfaces { name: "eth0" mgmt: true host_end {} }
      interfaces { name: "eth1" host_end { name: "r1-eth1" } }
      interfaces { name: "d0" dummy: true }
      interfaces {
        name: "vx1"
        addresses: "10.9.0.1/24"
        vxlan { remote: "192.0.2.10" vni: 100 port: 14789 }
      }
      interfaces {
        name: "vx2"
        vxlan { remote: "2001:db8::1" vni: 7 port: 4789 stitch: true }
      }
    })pb");
  EXPECT_EQ(RenderLab(lab, kNow),
            "Lab:    ends\n"
            "State:  RUNNING\n"
            "\n"
            "NODES\n"
            "NAME  KIND   HOST  INTERFACE                                   ADDRESSES\n"
            "r1    netns  h1    eth0 (management)                           -\n"
            "                   eth1 (host:r1-eth1)                         -\n"
            "                   d0 (dummy)                                  -\n"
            "                   vx1 (vxlan 100 to 192.0.2.10:14789)         10.9.0.1/24\n"
            "                   vx2 (vxlan-stitch 7 to [2001:db8::1]:4789)  -\n"
            "\n"
            "LINKS\n"
            "(none)\n");
}

TEST(RenderLabTest, FallsBackToTopologyWhenNoStatus) {
  auto lab = Parse<v1::Lab>(R"pb(
    name: "broken"
    state: FAILED
    error: "demo.yaml:3: node r1: bad address"
    topology {
      nodes { name: "r1" kind: NODE_KIND_NETNS host: "h1" }
      links {
        a { node: "r1" interface: "eth1" }
        b { node: "r2" interface: "eth1" }
      }
    })pb");
  std::string out = RenderLab(lab, kNow);
  EXPECT_THAT(out, HasSubstr("Error:  demo.yaml:3: node r1: bad address\n"));
  EXPECT_THAT(out, HasSubstr("r1    netns  h1    -          -\n"));
  EXPECT_THAT(out, HasSubstr("r1:eth1<->r2:eth1  r1->r2"));
  EXPECT_THAT(out, Not(HasSubstr("Age:")));
}

TEST(RenderLabTest, CommunityAnchorShownAsItsEndpoint) {
  const auto lab = Parse<v1::Lab>(R"pb(
    name: "edge"
    owner: "bob"
    state: RUNNING
    topology {
      nodes { name: "r1" }
      nodes {
        name: "c-0a1b2c3d"
        kind: NODE_KIND_SWITCH
        foreign_lab: "alice+backbone"
        foreign_node: "sw1"
      }
      links {
        a { node: "r1" interface: "eth1" }
        b { node: "c-0a1b2c3d" interface: "x12345678" }
      }
      attachments {
        local { node: "r1" interface: "eth1" }
        endpoint: "alice/ix1"
      }
    }
    nodes {
      name: "r1"
      host: "h1"
      interfaces { name: "eth1" }
    }
    nodes {
      name: "c-0a1b2c3d"
      kind: NODE_KIND_SWITCH
      host: "h2"
      interfaces { name: "x12345678" }
    }
    links {
      link {
        a { node: "r1" interface: "eth1" }
        b { node: "c-0a1b2c3d" interface: "x12345678" }
      }
      host_a: "h1"
      host_b: "h2"
      state: "up"
    }
  )pb");
  const std::string out = RenderLab(lab, kNow);
  EXPECT_THAT(out, HasSubstr("community:alice/ix1"));
  EXPECT_THAT(out, HasSubstr("r1:eth1<->community:alice/ix1"));
  EXPECT_THAT(out, HasSubstr("r1->community:alice/ix1"));
  EXPECT_THAT(out, HasSubstr("community:alice/ix1->r1"));
  EXPECT_THAT(out, Not(HasSubstr("c-0a1b2c3d")));
  EXPECT_THAT(out, Not(HasSubstr("x12345678")));
  // One's own export ("ix1") is shown with the owner.
  auto own = lab;
  own.mutable_topology()->mutable_attachments(0)->set_endpoint("ix1");
  EXPECT_THAT(RenderLab(own, kNow), HasSubstr("r1:eth1<->community:bob/ix1"));
}

TEST(RenderLabTest, EmptyLab) {
  std::string out = RenderLab(Parse<v1::Lab>(R"pb(name: "e" state: DESTROYED)pb"), kNow);
  EXPECT_THAT(out, HasSubstr("NODES\n(none)\n"));
  EXPECT_THAT(out, HasSubstr("LINKS\n(none)\n"));
}

// A lab of `n` nodes in a chain over `hosts` hosts: node i on host
// h(i % hosts); link i joins node i and i+1.
v1::Lab ChainLab(int n, int hosts) {
  v1::Lab lab;
  lab.set_name("big");
  lab.set_state(v1::RUNNING);
  for (int i = 0; i < n; ++i) {
    v1::NodeStatus* node = lab.add_nodes();
    node->set_name(absl::StrCat("r", i));
    node->set_kind(i == 0 ? v1::NODE_KIND_QEMU : v1::NODE_KIND_NETNS);
    if (i == 0) node->set_state("exited");
    node->set_host(absl::StrCat("h", i % hosts));
    node->add_interfaces()->set_name("eth1");
  }
  for (int i = 0; i + 1 < n; ++i) {
    v1::LinkStatus* l = lab.add_links();
    l->mutable_link()->mutable_a()->set_node(absl::StrCat("r", i));
    l->mutable_link()->mutable_a()->set_interface("eth1");
    l->mutable_link()->mutable_b()->set_node(absl::StrCat("r", i + 1));
    l->mutable_link()->mutable_b()->set_interface("eth2");
    l->set_host_a(absl::StrCat("h", i % hosts));
    l->set_host_b(absl::StrCat("h", (i + 1) % hosts));
    l->set_state(i == 5 ? "connecting" : "up");
    l->set_engine_a_to_b("kernel");
    l->set_engine_b_to_a(i % 2 == 0 ? "userspace" : "none");
  }
  return lab;
}

TEST(RenderLabTest, BigLabIsSummarisedPerHost) {
  const std::string out = RenderLab(ChainLab(200, 2), kNow);
  EXPECT_THAT(out, HasSubstr("\nNODES (200), summarised: --nodes lists them\n"
                             "HOST  NODES  KINDS             NOT READY\n"
                             "h0    100    netns 99, qemu 1  1\n"
                             "h1    100    netns 100         0\n"
                             "not ready: r0 (qemu: exited)\n"));
  EXPECT_THAT(out, HasSubstr("\nLINKS (199), summarised: --links lists them\n"
                             "HOSTS  LINKS  ENGINES (directions)                "
                             "NOT UP\n"
                             "h0/h1  199    kernel 199, none 99, userspace 100"
                             "  1\n"
                             "not up: r5:eth1<->r6:eth2 (h1/h0): connecting\n"));
  // No per-node rows.
  EXPECT_THAT(out, Not(HasSubstr("r17 ")));
}

TEST(RenderLabTest, ListFlagsPrintEveryRow) {
  LabView view;
  view.list_nodes = true;
  view.list_links = true;
  const std::string out = RenderLab(ChainLab(200, 2), kNow, view);
  EXPECT_THAT(out, HasSubstr("\nr199  netns"));
  EXPECT_THAT(out, HasSubstr("\nr198:eth1<->r199:eth2  r198->r199"));
  EXPECT_THAT(out, Not(HasSubstr("summarised")));
}

TEST(RenderLabTest, FiltersNarrowBothTables) {
  LabView view;
  view.node_glob = "r1?";
  view.host = "h1";
  const std::string out = RenderLab(ChainLab(200, 2), kNow, view);
  // r11, r13, ..., r19 are on h1: 5 nodes; links touching r1? with an end on
  // h1: r9-r10 ... r19-r20 minus none = 11 links.
  EXPECT_THAT(out, HasSubstr("\nNODES (5 of 200)\n"));
  EXPECT_THAT(out, HasSubstr("\nr19   netns  h1"));
  EXPECT_THAT(out, Not(HasSubstr("\nr12 ")));
  EXPECT_THAT(out, HasSubstr("\nLINKS (11 of 199)\n"));
  EXPECT_THAT(out, HasSubstr("r19:eth1<->r20:eth2"));
  EXPECT_THAT(out, Not(HasSubstr("r20:eth1<->r21:eth2")));

  LabView typo;
  typo.host = "h7";
  EXPECT_THAT(RenderLab(ChainLab(200, 2), kNow, typo),
              HasSubstr("(no node is on host h7; the lab's hosts: h0, h1)\n"));

  LabView problems;
  problems.problems = true;
  const std::string bad = RenderLab(ChainLab(200, 2), kNow, problems);
  EXPECT_THAT(bad, HasSubstr("\nNODES (1 of 200)\nNAME  KIND          HOST"));
  EXPECT_THAT(bad, HasSubstr("r0    qemu: exited  h0"));
  EXPECT_THAT(bad, HasSubstr("\nLINKS (1 of 199)\n"));
  EXPECT_THAT(bad, HasSubstr("h1/h0 (connecting)"));
}

// ChainLab as GetLab sends it with details_up_to: no interfaces, no link
// conditions.
v1::Lab BriefChainLab(int n, int hosts) {
  v1::Lab lab = ChainLab(n, hosts);
  for (auto& node : *lab.mutable_nodes()) node.clear_interfaces();
  for (auto& l : *lab.mutable_links()) {
    l.mutable_link()->clear_a_to_b();
    l.mutable_link()->clear_b_to_a();
  }
  lab.add_details_left_out("nodes");
  lab.add_details_left_out("links");
  return lab;
}

TEST(RenderLabTest, SummaryOfABriefLabIsTheSame) {
  EXPECT_EQ(RenderLab(BriefChainLab(200, 2), kNow),
            RenderLab(ChainLab(200, 2), kNow));
  LabView on_h1;
  on_h1.host = "h1";
  EXPECT_EQ(RenderLab(BriefChainLab(200, 2), kNow, on_h1),
            RenderLab(ChainLab(200, 2), kNow, on_h1));
}

TEST(RenderLabTest, NeedsDetailsOnlyWhereATableIsListed) {
  EXPECT_FALSE(RenderNeedsDetails(BriefChainLab(200, 2), LabView()));
  EXPECT_FALSE(RenderNeedsDetails(ChainLab(200, 2), LabView()));
  LabView few;  // 5 nodes and 11 links: tables
  few.node_glob = "r1?";
  few.host = "h1";
  EXPECT_TRUE(RenderNeedsDetails(BriefChainLab(200, 2), few));
  EXPECT_FALSE(RenderNeedsDetails(ChainLab(200, 2), few));
  LabView problems;  // one node, one link
  problems.problems = true;
  EXPECT_TRUE(RenderNeedsDetails(BriefChainLab(200, 2), problems));
  // Nothing to list (no problems): nothing missing.
  v1::Lab healthy = BriefChainLab(200, 2);
  healthy.mutable_nodes(0)->clear_state();
  healthy.mutable_links(5)->set_state("up");
  EXPECT_FALSE(RenderNeedsDetails(healthy, problems));
  // Only links left out, and the nodes are listed: nothing missing.
  v1::Lab links_only = BriefChainLab(200, 2);
  links_only.clear_details_left_out();
  links_only.add_details_left_out("links");
  LabView nodes;
  nodes.list_nodes = true;
  EXPECT_FALSE(RenderNeedsDetails(links_only, nodes));
  LabView links;
  links.list_links = true;
  EXPECT_TRUE(RenderNeedsDetails(links_only, links));
}

TEST(RenderHostsTest, ReachableAndNot) {
  auto hosts = Parse<v1::ListHostsResponse>(R"pb(
    hosts {
      name: "h1"
      address: "198.18.0.11:7471"
      reachable: true
      capabilities {
        cpus: 2
        memory_mib: 24576
        qdiscs: "tbf"
        qdiscs: "htb"
        qemu: true
      }
    }
    hosts {
      name: "h2"
      address: "198.18.0.12:7471"
      error: "connection refused"
    })pb");
  EXPECT_EQ(RenderHosts(hosts),
            "HOST  ADDRESS           REACHABLE  CPUS  MEM    KVM  QEMU  NETEM"
            "  QDISCS\n"
            "h1    198.18.0.11:7471  yes        2     24GiB  no   yes   no"
            "     tbf,htb\n"
            "h2    198.18.0.12:7471  no         -     -      -    -     -"
            "      -\n"
            "\n"
            "h2: connection refused\n");
  EXPECT_EQ(RenderHosts(v1::ListHostsResponse()), "no hosts\n");
}

TEST(RenderImagesTest, ImagesProblemsAndSilentHosts) {
  auto images = Parse<v1::ListImagesResponse>(R"pb(
    images {
      host: "h1"
      name: "debian"
      kind: "disk"
      kernel_release: "6.1.0-41-cloud-amd64"
      size_bytes: 734003200
      packages: "frr"
    }
    images {
      host: "h1"
      name: "default"
      kind: "initramfs"
      kernel_release: "6.1.0-41-cloud-amd64"
      size_bytes: 40894464
    }
    images { host: "h1" name: "old" problem: "no kernel= line" }
    unreachable: "host h2 (agent at 198.18.0.12:7471) unreachable: refused")pb");
  EXPECT_EQ(RenderImages(images),
            "HOST  IMAGE    KIND       KERNEL                SIZE    PACKAGES\n"
            "h1    debian   disk       6.1.0-41-cloud-amd64  700MiB  frr\n"
            "h1    default  initramfs  6.1.0-41-cloud-amd64  39MiB   -\n"
            "h1    old      -          -                     -       -\n"
            "\n"
            "host h2 (agent at 198.18.0.12:7471) unreachable: refused\n"
            "h1: image old: no kernel= line\n");
  EXPECT_EQ(RenderImages(v1::ListImagesResponse()),
            "no images (build one: emuctl image build default)\n");
}

TEST(ToJsonTest, ProtoFieldNamesAndDefaults) {
  auto hosts = Parse<v1::ListHostsResponse>(
      R"pb(hosts { name: "h1" capabilities { memory_mib: 5 } })pb");
  absl::StatusOr<std::string> json = ToJson(hosts);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"memory_mib\": \"5\""));
  EXPECT_THAT(*json, HasSubstr("\"reachable\": false"));
  EXPECT_THAT(*json, Not(HasSubstr("memoryMib")));
  EXPECT_EQ(json->back(), '\n');

  v1::ListHostsResponse round_trip;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &round_trip).ok());
  EXPECT_EQ(round_trip.hosts(0).capabilities().memory_mib(), 5u);
}

}  // namespace
}  // namespace emu::cli
