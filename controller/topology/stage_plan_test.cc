#include "controller/topology/stage_plan.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "controller/topology/topology_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::topology {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// The plan as "level: node/what[cmd,...] ..." lines.
std::string Show(const std::vector<std::vector<StageStep>>& plan) {
  std::vector<std::string> lines;
  for (const auto& level : plan) {
    std::vector<std::string> steps;
    for (const StageStep& s : level) {
      std::vector<std::string> commands;
      for (const StageCommand& c : s.commands) {
        commands.push_back(absl::StrCat(c.on_host ? "host:" : "", c.line));
      }
      steps.push_back(absl::StrCat(s.node, "/", s.what, "[",
                                   absl::StrJoin(commands, ","), "]"));
    }
    lines.push_back(absl::StrJoin(steps, " "));
  }
  return absl::StrJoin(lines, "\n");
}

ParsedTopology Parse(const std::string& yaml) {
  auto parsed = ParseAndValidateTopology(yaml, "s.clab.yml");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : ParsedTopology{};
}

TEST(StagePlanTest, WithoutStagesEveryNodesExecLinesRunTogether) {
  auto p = Parse(R"(
name: s
topology:
  nodes:
    a: {exec: [a1, a2]}
    b: {exec: [b1]}
    c: {}
)");
  auto plan = PlanStages(p.topology);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Show(*plan), "a/exec[a1,a2] b/exec[b1]");
}

TEST(StagePlanTest, StagesRunInOrderAndWaitForOrdersNodes) {
  auto p = Parse(R"(
name: s
topology:
  defaults:
    kind: linux
    stages:
      configure:
        exec: [{command: d-enter}]
  nodes:
    a:
      exec: [a-exec]
      stages:
        configure:
          wait-for: [{node: b, stage: healthy}]
        create-links:
          exec: [{command: a-links, phase: on-exit}]
    b:
      exec: [b-exec]
      stages:
        create:
          wait-for: [{node: c}]
        healthy:
          exec:
            - {command: b-healthy-in}
            - {command: b-healthy-out, phase: on-exit}
    c:
      stages:
        healthy:
          exec: [{command: never}]
)");
  EXPECT_THAT(p.warnings, Contains(HasSubstr(
                              "node c: stages.healthy on-enter exec `never`: "
                              "never runs")));
  auto plan = PlanStages(p.topology);
  ASSERT_TRUE(plan.ok()) << plan.status();
  // a's configure waits until b is healthy (after b's exec lines and both
  // of its healthy commands); b's create waits for c's, so b's steps come
  // one level after c's; c's healthy commands never run.
  EXPECT_EQ(Show(*plan),
            "a/stages.create-links on-exit[a-links]\n"
            "c/stages.configure on-enter[d-enter]\n"
            "b/stages.configure on-enter[d-enter]\n"
            "b/exec[b-exec]\n"
            "b/stages.healthy on-enter[b-healthy-in]\n"
            "b/stages.healthy on-exit[b-healthy-out]\n"
            "a/stages.configure on-enter[d-enter]\n"
            "a/exec[a-exec]");
}

// containerlab's own tests/01-smoke/stages.clab.yml, its nodes' stages as
// written: create and create-links commands and waits, a create stage
// waiting for another node's healthy, a `target: host` command. They run
// after the lab exists, in containerlab's order, with one warning.
TEST(StagePlanTest, CreateStagesRunInContainerlabsOrderAfterTheLabExists) {
  auto p = Parse(R"(
name: stages
topology:
  defaults: {kind: linux}
  nodes:
    node1:
      stages:
        create:
          wait-for: [{node: node2, stage: create}]
        create-links:
          exec:
            - {command: "echo foo > /tmp/t", phase: on-enter, target: host}
            - {command: "ls /sys/class/net/", phase: on-enter}
    node2:
      stages:
        create:
          wait-for: [{node: node3, stage: create-links}]
    node3:
      stages:
        create:
          wait-for: [{node: node4, stage: healthy}]
          exec: [{command: n3-created, phase: on-exit}]
    node4:
      stages:
        create-links:
          exec: [{command: uname -n, phase: on-exit}]
        healthy:
          exec: [{command: n4-healthy, phase: on-exit}]
)");
  // One warning for the file, at the first such command or wait.
  int early = 0;
  for (const std::string& w : p.warnings) {
    if (absl::StrContains(w, "run after the node's links exist")) {
      ++early;
      EXPECT_THAT(w, HasSubstr("s.clab.yml:12: node node1: stages: create and "
                               "create-links commands and waits run in "
                               "containerlab's order, but after emu has made "
                               "the lab's nodes and their links"));
    }
  }
  EXPECT_EQ(early, 1) << absl::StrJoin(p.warnings, "\n");
  auto plan = PlanStages(p.topology);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Show(*plan),
            "node4/stages.create-links on-exit[uname -n]\n"
            "node4/stages.healthy on-exit[n4-healthy]\n"
            "node3/stages.create on-exit[n3-created]\n"
            "node1/stages.create-links on-enter[host:echo foo > /tmp/t,"
            "ls /sys/class/net/]");
}

TEST(StagePlanTest, EveryStageCommandHasItsPlaceInANode) {
  auto p = Parse(R"(
name: s
topology:
  defaults: {kind: linux}
  nodes:
    a:
      exec: [a-exec]
      stages:
        healthy: {exec: [{command: a-h}]}
        configure: {exec: [{command: a-cfg-out, phase: on-exit}, {command: a-cfg-in}]}
        create-links: {exec: [{command: a-cl-out, phase: on-exit}, {command: a-cl-in}]}
        create: {exec: [{command: a-c-out, phase: on-exit}, {command: a-c-in, target: host}]}
    b:
      stages:
        create-links:
          wait-for: [{node: a, stage: configure}]
          exec: [{command: b-cl-in}]
        configure:
          wait-for: [{node: a, stage: healthy}]
)");
  auto plan = PlanStages(p.topology);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(Show(*plan),
            "a/stages.create on-enter[host:a-c-in]\n"
            "a/stages.create on-exit[a-c-out]\n"
            "a/stages.create-links on-enter[a-cl-in]\n"
            "a/stages.create-links on-exit[a-cl-out]\n"
            "a/stages.configure on-enter[a-cfg-in]\n"
            "a/stages.configure on-exit[a-cfg-out]\n"
            "a/exec[a-exec] b/stages.create-links on-enter[b-cl-in]\n"
            "a/stages.healthy on-enter[a-h]");
}

TEST(StagePlanTest, RefusesWhatHasNoMomentInEmusDeploy) {
  auto bad = ParseAndValidateTopology(R"(
name: s
topology:
  nodes:
    a:
      stages:
        create-links:
          wait-for: [{node: b, stage: exit}]
        exit:
          exec: [{command: bye, phase: on-exit}]
        configure:
          wait-for: [{node: nobody}]
    b: {}
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("s.clab.yml:8: node a: stages.create-links.wait-for "
                           "b (exit): a netns node does not exit"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:10: node a: stages.exit on-exit exec "
                           "`bye`: a netns node does not exit"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:12: node a: stages.configure.wait-for "
                           "nobody (create): no node nobody"));
}

TEST(StagePlanTest, WaitForCycleIsNamed) {
  auto bad = ParseAndValidateTopology(R"(
name: s
topology:
  nodes:
    a:
      stages: {configure: {wait-for: [{node: b, stage: configure}]}}
    b:
      stages: {configure: {wait-for: [{node: a, stage: configure}]}}
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("lab: stages: wait-for cycle: "));
}

// A create stage waiting for a later stage of a node that waits for it.
TEST(StagePlanTest, CycleThroughCreateStagesIsNamed) {
  auto bad = ParseAndValidateTopology(R"(
name: s
topology:
  nodes:
    a:
      stages: {create: {wait-for: [{node: b, stage: healthy}]}}
    b:
      stages: {configure: {wait-for: [{node: a, stage: create-links}]}}
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("lab: stages: wait-for cycle: "));
  EXPECT_THAT(bad.status().message(), HasSubstr("a (stages.create on-enter)"));
}

TEST(StagePlanTest, BadStageSyntaxIsNamed) {
  auto bad = ParseTopology(R"(
name: s
topology:
  nodes:
    a:
      stages:
        configur: {}
        configure:
          exec: [{command: x, phase: later}, {command: "touch /tmp/x", target: hos}]
          wait-for: [{stage: create}]
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("s.clab.yml:7: node a: unknown key 'configur' "
                           "(did you mean 'configure'?)"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:9: node a: stages.configure.exec: "
                           "phase 'later' is neither on-enter nor on-exit"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:9: node a: stages.configure.exec: "
                           "target 'hos' is neither container nor host"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:10: node a: stages.configure.wait-for: "
                           "needs a node"));
}

}  // namespace
}  // namespace emu::controller::topology
