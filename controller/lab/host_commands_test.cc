#include "controller/lab/host_commands.h"

#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::lab {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFile[] = R"(name: s
topology:
  defaults: {kind: linux}
  nodes:
    a:
      stages:
        create-links:
          exec:
            - {command: "touch /x", target: host}
            - {command: "ls /sys/class/net"}
    b:
      stages:
        configure:
          exec: [{command: "rm /x", target: host, phase: on-exit}]
    c: {exec: [true]}
)";

emu::v1::Topology Parse() {
  auto parsed = topology::ParseAndValidateTopology(kFile, "h.clab.yml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->topology : emu::v1::Topology();
}

emu::v1::HostStatus Host(const std::string& name, bool allowed) {
  emu::v1::HostStatus h;
  h.set_name(name);
  h.mutable_capabilities()->set_host_commands(allowed);
  return h;
}

TEST(HostCommandsTest, ParsedWithTheirTarget) {
  const emu::v1::Topology t = Parse();
  ASSERT_EQ(t.nodes(0).stage_execs_size(), 2);
  EXPECT_TRUE(t.nodes(0).stage_execs(0).on_host());
  EXPECT_FALSE(t.nodes(0).stage_execs(1).on_host());
  EXPECT_TRUE(t.nodes(1).stage_execs(0).on_host());
}

TEST(HostCommandsTest, OnlyAnAdministratorMayDeployThem) {
  const emu::v1::Topology t = Parse();
  EXPECT_TRUE(CheckHostCommandCaller(t, {}, /*admin=*/true, "root").ok());
  absl::Status s = CheckHostCommandCaller(t, {}, /*admin=*/false, "alice");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  const std::string m(s.message());
  EXPECT_THAT(m, HasSubstr(
      "h.clab.yml:9: node a: stages.create-links on-enter exec `touch /x` "
      "(target: host): it would run as root on the node's host, outside "
      "every node: only an administrator may deploy it (the cluster token, "
      "or a user added with `emuctl user add --admin`), and alice is not "
      "one"));
  EXPECT_THAT(m, HasSubstr("h.clab.yml:14: node b: stages.configure on-exit "
                           "exec `rm /x` (target: host)"));
  EXPECT_THAT(m, Not(HasSubstr("ls /sys/class/net")));
  // apply: only the new nodes' commands run.
  const std::set<std::string> only_c = {"c"};
  EXPECT_TRUE(CheckHostCommandCaller(t, {&only_c}, false, "alice").ok());
  const std::set<std::string> only_b = {"b", "c"};
  s = CheckHostCommandCaller(t, {&only_b}, false, "alice");
  EXPECT_THAT(s.message(), HasSubstr("node b:"));
  EXPECT_THAT(s.message(), Not(HasSubstr("node a:")));
}

TEST(HostCommandsTest, OnlyAgentsStartedWithTheOptInRunThem) {
  const emu::v1::Topology t = Parse();
  const std::map<std::string, std::string> host_of = {
      {"a", "h1"}, {"b", "h2"}, {"c", "h3"}};
  EXPECT_TRUE(CheckHostCommandHosts(
                  t, {}, host_of,
                  {Host("h1", true), Host("h2", true), Host("h3", false)})
                  .ok());
  absl::Status s = CheckHostCommandHosts(
      t, {}, host_of, {Host("h1", true), Host("h2", false), Host("h3", true)});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "h.clab.yml:14: node b: stages.configure on-exit exec `rm /x` "
            "(target: host): the agent of host h2, where the node runs, was "
            "not started with --allow_host_commands, so it runs no host "
            "commands; restart it with that flag (a local cluster: `emuctl "
            "local start --allow-host-commands`), or pin the node to a host "
            "whose agent has it");
  // A host the controller does not know counts as not allowed.
  s = CheckHostCommandHosts(t, {}, host_of, {Host("h2", true)});
  EXPECT_THAT(s.message(), HasSubstr("node a: "));
  EXPECT_THAT(s.message(), HasSubstr("the agent of host h1, where"));
}

}  // namespace
}  // namespace emu::controller::lab
