#include "controller/topology/stage_plan.h"

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
      steps.push_back(absl::StrCat(s.node, "/", s.what, "[",
                                   absl::StrJoin(s.commands, ","), "]"));
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
  // of its healthy commands); c's healthy commands never run.
  EXPECT_EQ(Show(*plan),
            "a/stages.create-links on-exit[a-links]\n"
            "b/stages.configure on-enter[d-enter] "
            "c/stages.configure on-enter[d-enter]\n"
            "b/exec[b-exec]\n"
            "b/stages.healthy on-enter[b-healthy-in]\n"
            "b/stages.healthy on-exit[b-healthy-out]\n"
            "a/stages.configure on-enter[d-enter]\n"
            "a/exec[a-exec]");
}

TEST(StagePlanTest, RefusesWhatHasNoMomentInEmusDeploy) {
  auto bad = ParseAndValidateTopology(R"(
name: s
topology:
  nodes:
    a:
      stages:
        create:
          exec: [{command: early}]
        create-links:
          exec: [{command: before-links}]
          wait-for: [{node: b, stage: configure}]
        exit:
          exec: [{command: bye, phase: on-exit}]
        configure:
          wait-for: [{node: nobody}]
    b: {}
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("s.clab.yml:8: node a: stages.create on-enter exec "
                           "`early`: emu makes a node's namespace and its "
                           "links in one step"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:10: node a: stages.create-links "
                           "on-enter exec `before-links`"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:11: node a: stages.create-links.wait-for "
                           "b (configure): emu creates every node and link"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:13: node a: stages.exit on-exit exec "
                           "`bye`: a netns node does not exit"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:15: node a: stages.configure.wait-for "
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

TEST(StagePlanTest, BadStageSyntaxIsNamed) {
  auto bad = ParseTopology(R"(
name: s
topology:
  nodes:
    a:
      stages:
        configur: {}
        configure:
          exec: [{command: x, phase: later}, {command: "touch /tmp/x", target: host}]
          wait-for: [{stage: create}]
)", "s.clab.yml");
  ASSERT_FALSE(bad.ok());
  const std::string m(bad.status().message());
  EXPECT_THAT(m, HasSubstr("s.clab.yml:7: node a: unknown key 'configur' "
                           "(did you mean 'configure'?)"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:9: node a: stages.configure.exec: "
                           "phase 'later' is neither on-enter nor on-exit"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:9: node a: stages.configure.exec "
                           "`touch /tmp/x`: target host is refused"));
  EXPECT_THAT(m, HasSubstr("s.clab.yml:10: node a: stages.configure.wait-for: "
                           "needs a node"));
}

}  // namespace
}  // namespace emu::controller::topology
