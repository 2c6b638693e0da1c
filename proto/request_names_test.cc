// The name audit, table-driven: every name field of every RPC that takes
// names, each with every hostile name, must be INVALID_ARGUMENT naming the
// field; the same requests with good names pass.
#include "proto/request_names.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::request_names {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The hostile names of the issue. "a/b" is OWNER/LAB where a lab is named,
// so lab references get "a/b/c" instead.
std::vector<std::string> Hostile(bool lab_ref = false) {
  return {"../x",
          lab_ref ? "a/b/c" : "a/b",
          "a b",
          "$(x)",
          ";",
          "",
          std::string(300, 'a'),
          std::string("a\0b", 3),
          "a\nb",
          "-"  // passes names, but never "." or ".." in paths
  };
}

struct Case {
  std::string rpc;    // for messages
  std::string field;  // what the error must start with
  // Builds a request whose `field` is the given name and checks it.
  std::function<absl::Status(const std::string&)> check;
  bool lab_ref = false;
  // A name that passes (the request is otherwise valid).
  std::string good = "ok";
};

emu::v1::Node GoodNode() {
  emu::v1::Node n;
  n.set_name("r1");
  n.add_interfaces()->set_name("eth1");
  return n;
}

emu::v1::Link GoodLink() {
  emu::v1::Link l;
  l.mutable_a()->set_node("r1");
  l.mutable_a()->set_interface("eth1");
  l.mutable_b()->set_node("r2");
  l.mutable_b()->set_interface("eth1");
  return l;
}

std::vector<Case> Cases() {
  namespace c = controller;
  namespace a = agent;
  std::vector<Case> cases = {
      // ControllerService.
      {"GetLab", "lab", [](const std::string& n) {
         emu::v1::GetLabRequest r; r.set_lab(n); return c::Check(r); }, true},
      {"DestroyLab", "lab", [](const std::string& n) {
         emu::v1::DestroyLabRequest r; r.set_lab(n); return c::Check(r); },
       true},
      {"Exec", "lab", [](const std::string& n) {
         emu::v1::LabExecRequest r; r.set_lab(n); r.set_node("a");
         return c::Check(r); }, true},
      {"Exec", "node", [](const std::string& n) {
         emu::v1::LabExecRequest r; r.set_lab("l"); r.set_node(n);
         return c::Check(r); }},
      {"Capture", "lab", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab(n); r.set_node("a");
         r.set_interface("eth1"); return c::Check(r); }, true},
      {"Capture", "node", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab("l"); r.set_node(n);
         r.set_interface("eth1"); return c::Check(r); }},
      {"Capture", "interface", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab("l"); r.set_node("a");
         r.set_interface(n); return c::Check(r); }, false, "eth1"},
      {"GetLabStats", "lab", [](const std::string& n) {
         emu::v1::GetLabStatsRequest r; r.set_lab(n); return c::Check(r); },
       true},
      {"SetLinkParams", "lab", [](const std::string& n) {
         emu::v1::LabSetLinkParamsRequest r; r.set_lab(n);
         r.set_link("a:eth1"); return c::Check(r); }, true},
      {"SetLinkParams", "link", [](const std::string& n) {
         emu::v1::LabSetLinkParamsRequest r; r.set_lab("l");
         r.set_link(n + ":eth1<->b:eth1"); return c::Check(r); }},
      {"SetLinkParams", "link", [](const std::string& n) {
         emu::v1::LabSetLinkParamsRequest r; r.set_lab("l");
         r.set_link("a:" + n); return c::Check(r); }, false, "eth1"},
      {"SetLinkParams", "link", [](const std::string& n) {
         emu::v1::LabSetLinkParamsRequest r; r.set_lab("l");
         r.set_link("a:eth1<->community:" + n); return c::Check(r); }, true,
       "alice/ix1"},
      {"RemoveHost", "host", [](const std::string& n) {
         emu::v1::RemoveHostRequest r; r.set_host(n); return c::Check(r); }},
      {"SetCommunityExport", "lab", [](const std::string& n) {
         emu::v1::SetCommunityExportRequest r; r.set_lab(n);
         r.mutable_spec()->set_name("ix"); return c::Check(r); }, true},
      {"SetCommunityExport", "spec.name", [](const std::string& n) {
         emu::v1::SetCommunityExportRequest r; r.set_lab("l");
         r.mutable_spec()->set_name(n); return c::Check(r); }},
      {"SetCommunityExport", "spec.interface", [](const std::string& n) {
         emu::v1::SetCommunityExportRequest r; r.set_lab("l");
         r.mutable_spec()->set_name("ix");
         r.mutable_spec()->mutable_interface()->set_node(n);
         r.mutable_spec()->mutable_interface()->set_interface("eth9");
         return c::Check(r); }},
      {"SetCommunityExport", "spec.to", [](const std::string& n) {
         emu::v1::SetCommunityExportRequest r; r.set_lab("l");
         r.mutable_spec()->set_name("ix"); r.mutable_spec()->add_to(n);
         return c::Check(r); }},
      // ExperimentService.
      {"RunExperiment", "lab", [](const std::string& n) {
         emu::v1::RunExperimentRequest r; r.set_lab(n); return c::Check(r); },
       true},
      {"RunExperiment", "params", [](const std::string& n) {
         emu::v1::RunExperimentRequest r; r.set_lab("l");
         (*r.mutable_params())[n] = "1"; return c::Check(r); }},
      {"WatchExperimentRun", "run_id", [](const std::string& n) {
         emu::v1::WatchExperimentRunRequest r; r.set_run_id(n);
         return c::Check(r); }, false, "alice+core-20261129T200000-1"},
      {"CancelExperimentRun", "run_id", [](const std::string& n) {
         emu::v1::CancelExperimentRunRequest r; r.set_run_id(n);
         return c::Check(r); }, false, "core-20261129T200000-2"},
      {"AddTasks", "run_id", [](const std::string& n) {
         emu::v1::AddTasksRequest r; r.set_run_id(n); return c::Check(r); }},
      // UserService.
      {"AddUser", "name", [](const std::string& n) {
         emu::v1::AddUserRequest r; r.set_name(n); return c::Check(r); }},
      {"RemoveUser", "name", [](const std::string& n) {
         emu::v1::RemoveUserRequest r; r.set_name(n); return c::Check(r); }},
      {"RotateToken", "name", [](const std::string& n) {
         emu::v1::RotateTokenRequest r; r.set_name(n); return c::Check(r); }},
      {"ShareLab", "lab", [](const std::string& n) {
         emu::v1::ShareLabRequest r; r.set_lab(n); r.set_grantee("bob");
         return c::Check(r); }, true},
      {"ShareLab", "grantee", [](const std::string& n) {
         emu::v1::ShareLabRequest r; r.set_lab("l"); r.set_grantee(n);
         return c::Check(r); }, false, "*"},
      {"UnshareLab", "grantee", [](const std::string& n) {
         emu::v1::UnshareLabRequest r; r.set_lab("l"); r.set_grantee(n);
         return c::Check(r); }},
      {"UnshareLab", "lab", [](const std::string& n) {
         emu::v1::UnshareLabRequest r; r.set_lab(n); r.set_grantee("bob");
         return c::Check(r); }, true},
      {"Console", "lab", [](const std::string& n) {
         emu::v1::ConsoleInput r; r.set_lab(n); r.set_node("g");
         return c::Check(r); }, true},
      {"Console", "node", [](const std::string& n) {
         emu::v1::ConsoleInput r; r.set_lab("alice/l"); r.set_node(n);
         return c::Check(r); }},
      {"RestartNode", "lab", [](const std::string& n) {
         emu::v1::RestartNodeRequest r; r.set_lab(n); r.set_node("g");
         return c::Check(r); }, true},
      {"RestartNode", "node", [](const std::string& n) {
         emu::v1::RestartNodeRequest r; r.set_lab("l"); r.set_node(n);
         return c::Check(r); }},
      // AgentService (lab keys: LAB or OWNER+LAB).
      {"agent ApplyLab", "lab", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab(n); return a::Check(r); },
       false, "alice+core"},
      {"agent ApplyLab", "nodes[0].name", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_nodes() = GoodNode(); r.mutable_nodes(0)->set_name(n);
         return a::Check(r); }},
      {"agent ApplyLab", "nodes[0].interfaces[0].name",
       [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_nodes() = GoodNode();
         r.mutable_nodes(0)->mutable_interfaces(0)->set_name(n);
         return a::Check(r); }, false, "eth1.10"},
      {"agent ApplyLab", "nodes[0].image", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_nodes() = GoodNode();
         r.mutable_nodes(0)->set_kind(emu::v1::NODE_KIND_QEMU);
         // Empty is the default image: not hostile here.
         r.mutable_nodes(0)->set_image(n.empty() ? "/" : n);
         return a::Check(r); }, false, "debian-12.1"},
      {"agent ApplyLab", "nodes[0].foreign_lab", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_nodes() = GoodNode();
         r.mutable_nodes(0)->set_foreign_lab(n.empty() ? "+" : n);
         r.mutable_nodes(0)->set_foreign_node("sw");
         return a::Check(r); }, false, "alice+ix"},
      {"agent ApplyLab", "links[0].a.node", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_links() = GoodLink();
         r.mutable_links(0)->mutable_a()->set_node(n); return a::Check(r); }},
      {"agent ApplyLab", "links[0].b.interface", [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         *r.add_links() = GoodLink();
         r.mutable_links(0)->mutable_b()->set_interface(n);
         return a::Check(r); }, false, "eth2"},
      {"agent ApplyLab", "remote_links[0].peer_host",
       [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         auto* e = r.add_remote_links();
         *e->mutable_link() = GoodLink(); e->set_peer_host(n);
         return a::Check(r); }},
      {"agent ApplyLab", "remote_links[0].link.a.node",
       [](const std::string& n) {
         emu::v1::ApplyLabRequest r; r.set_lab("l");
         auto* e = r.add_remote_links();
         *e->mutable_link() = GoodLink(); e->set_peer_host("h2");
         e->mutable_link()->mutable_a()->set_node(n); return a::Check(r); }},
      {"agent SetLinkParams", "lab", [](const std::string& n) {
         emu::v1::SetLinkParamsRequest r; r.set_lab(n);
         *r.mutable_a() = GoodLink().a(); *r.mutable_b() = GoodLink().b();
         return a::Check(r); }},
      {"agent SetLinkParams", "a.node", [](const std::string& n) {
         emu::v1::SetLinkParamsRequest r; r.set_lab("l");
         *r.mutable_a() = GoodLink().a(); *r.mutable_b() = GoodLink().b();
         r.mutable_a()->set_node(n); return a::Check(r); }},
      {"agent SetLinkParams", "b.interface", [](const std::string& n) {
         emu::v1::SetLinkParamsRequest r; r.set_lab("l");
         *r.mutable_a() = GoodLink().a(); *r.mutable_b() = GoodLink().b();
         r.mutable_b()->set_interface(n); return a::Check(r); }, false,
       "eth1"},
      {"agent Exec", "lab", [](const std::string& n) {
         emu::v1::ExecRequest r; r.set_lab(n); r.set_node("a");
         return a::Check(r); }},
      {"agent Exec", "node", [](const std::string& n) {
         emu::v1::ExecRequest r; r.set_lab("l"); r.set_node(n);
         return a::Check(r); }},
      {"agent ListResources", "lab", [](const std::string& n) {
         emu::v1::ListResourcesRequest r;
         r.set_lab(n.empty() ? "+" : n);  // empty: every lab
         return a::Check(r); }},
      {"agent DestroyLab", "lab", [](const std::string& n) {
         emu::v1::DestroyLabRequest r; r.set_lab(n); return a::Check(r); }},
      {"agent Capture", "lab", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab(n); r.set_node("a");
         r.set_interface("eth1"); return a::Check(r); }},
      {"agent Capture", "node", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab("l"); r.set_node(n);
         r.set_interface("eth1"); return a::Check(r); }},
      {"agent Capture", "interface", [](const std::string& n) {
         emu::v1::CaptureRequest r; r.set_lab("l"); r.set_node("a");
         r.set_interface(n); return a::Check(r); }, false, "eth1"},
      {"agent GetLabStats", "lab", [](const std::string& n) {
         emu::v1::GetLabStatsRequest r; r.set_lab(n); return a::Check(r); }},
      // GuestService.
      {"agent Console", "lab", [](const std::string& n) {
         emu::v1::ConsoleInput r; r.set_lab(n); r.set_node("g");
         return a::Check(r); }},
      {"agent Console", "node", [](const std::string& n) {
         emu::v1::ConsoleInput r; r.set_lab("l"); r.set_node(n);
         return a::Check(r); }},
      {"ListImages", "hosts", [](const std::string& n) {
         emu::v1::ListImagesRequest r; r.add_hosts(n); return c::Check(r); }},
      {"BuildImage", "name", [](const std::string& n) {
         emu::v1::BuildImageRequest r; r.set_name(n); return c::Check(r); }},
      {"BuildImage", "packages", [](const std::string& n) {
         emu::v1::BuildImageRequest r; r.set_name("deb"); r.add_packages(n);
         return c::Check(r); }},
      {"BuildImage", "hosts", [](const std::string& n) {
         emu::v1::BuildImageRequest r; r.set_name("deb"); r.add_hosts(n);
         return c::Check(r); }},
      {"agent BuildImage", "name", [](const std::string& n) {
         emu::v1::BuildImageRequest r; r.set_name(n); return a::Check(r); }},
      {"agent RestartNode", "lab", [](const std::string& n) {
         emu::v1::RestartNodeRequest r; r.set_lab(n); r.set_node("g");
         return a::Check(r); }},
      {"agent RestartNode", "node", [](const std::string& n) {
         emu::v1::RestartNodeRequest r; r.set_lab("l"); r.set_node(n);
         return a::Check(r); }},
  };
  return cases;
}

TEST(RequestNamesTest, EveryHostileNameIsRefusedNamingTheField) {
  for (const Case& c : Cases()) {
    for (const std::string& name : Hostile(c.lab_ref)) {
      // "-" is a valid name (and never a path by itself), as '-' is one of
      // the rule's characters; run ids, images and interfaces take it too.
      if (name == "-") continue;
      absl::Status s = c.check(name);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument)
          << c.rpc << " " << c.field << " '" << name << "': " << s;
      EXPECT_THAT(std::string(s.message()), StartsWith(c.field + ": "))
          << c.rpc << " '" << name << "'";
      // No raw control character or long name reaches a message.
      EXPECT_EQ(std::string(s.message()).find('\0'), std::string::npos)
          << c.rpc << " " << c.field;
      EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos)
          << c.rpc << " " << c.field;
      EXPECT_LT(s.message().size(), 300u) << c.rpc << " " << c.field;
    }
  }
}

TEST(RequestNamesTest, LinkEndsJoinedWrongSayHowLinksAreWritten) {
  emu::v1::LabSetLinkParamsRequest set;
  set.set_lab("l");
  set.set_link("a:eth1-b:eth1");
  absl::Status s = controller::Check(set);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("link 'a:eth1-b:eth1' is not NODE:IF or "
                        "NODE:IF<->NODE:IF (join the two ends with '<->'"));
}

TEST(RequestNamesTest, GoodNamesPass) {
  for (const Case& c : Cases()) {
    absl::Status s = c.check(c.good);
    EXPECT_TRUE(s.ok()) << c.rpc << " " << c.field << " '" << c.good
                        << "': " << s;
  }
  // OWNER/LAB where a lab is referred to, OWNER+LAB on the agents.
  emu::v1::LabExecRequest e;
  e.set_lab("alice/core");
  e.set_node("r1");
  EXPECT_TRUE(controller::Check(e).ok());
  emu::v1::ExecRequest k;
  k.set_lab("alice+core");
  k.set_node("r1");
  EXPECT_TRUE(agent::Check(k).ok());
  k.set_lab("alice/core");
  EXPECT_THAT(std::string(agent::Check(k).message()), HasSubstr("lab key"));
  // A netns node's image is ignored, so a containerlab image passes.
  emu::v1::ApplyLabRequest a;
  a.set_lab("l");
  *a.add_nodes() = GoodNode();
  a.mutable_nodes(0)->set_image("alpine:3.19");
  EXPECT_TRUE(agent::Check(a).ok());
  emu::v1::ListResourcesRequest all;
  EXPECT_TRUE(agent::Check(all).ok());
  // A capture filter is not a name: any pcap-filter text, bounded.
  emu::v1::CaptureRequest cap;
  cap.set_lab("alice/core");
  cap.set_node("r1");
  cap.set_interface("eth1");
  cap.set_filter("icmp and host 10.0.0.1 or (tcp port 80)");
  EXPECT_TRUE(controller::Check(cap).ok());
  cap.set_filter(std::string(2000, 'x'));
  EXPECT_THAT(std::string(controller::Check(cap).message()),
              StartsWith("filter: "));
  cap.set_filter(std::string("icmp\0x", 6));
  EXPECT_EQ(controller::Check(cap).code(),
            absl::StatusCode::kInvalidArgument);
  // Package names are Debian's: lower case, '+', '.', '-' (and "-" alone,
  // which passes other names, is not one).
  emu::v1::BuildImageRequest b;
  b.set_name("debian");
  b.add_packages("libstdc++6");
  b.add_packages("frr");
  EXPECT_TRUE(controller::Check(b).ok());
  b.add_packages("-");
  EXPECT_THAT(std::string(controller::Check(b).message()),
              StartsWith("packages: "));
  b.clear_packages();
  b.add_packages("FRR");
  EXPECT_THAT(std::string(controller::Check(b).message()),
              StartsWith("packages: "));
}

}  // namespace
}  // namespace emu::request_names
