#include "controller/experiment/experiment_spec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::controller::experiment {
namespace {

using ::testing::HasSubstr;

TEST(ParseExperimentTest, ParsesTasksCommandsCapturesBranchesAndLinks) {
  auto spec = ParseExperiment("e.yaml", R"(experiment: demo
vars: {rate: 10mbit}
start_margin: 3ms
tasks:
  - name: shape
    links:
      - link: h1:eth1<->r1:eth1
        rate: ${rate}
  - name: probe
    commands:
      - node: h1
        cmd: echo value=42
        timeout: 5s
        success: [0, 1]
        capture: {var: v, regex: 'value=([0-9]+)'}
      - id: other
        node: h2
        argv: [true]
    next:
      - if: ${v} > 40
        goto: big
      - goto: end
  - name: big
    when: ${v} == 42
    on_failure: continue
    commands:
      - {node: h1, cmd: "true"}
)");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "demo");
  EXPECT_EQ(spec->start_margin, absl::Milliseconds(3));
  ASSERT_EQ(spec->tasks.size(), 3u);
  EXPECT_EQ(spec->tasks[0].links[0].a, "h1:eth1");
  EXPECT_EQ(spec->tasks[0].links[0].params.at("rate"), "${rate}");
  const auto& c = spec->tasks[1].commands[0];
  EXPECT_EQ(c.id, "probe.1");
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo value=42"}));
  EXPECT_EQ(c.timeout, absl::Seconds(5));
  EXPECT_EQ(c.success_codes, (std::vector<int>{0, 1}));
  EXPECT_EQ(c.captures[0].var, "v");
  EXPECT_EQ(c.line, 11);
  EXPECT_EQ(spec->tasks[1].commands[1].id, "other");
  EXPECT_EQ(spec->tasks[1].next[0].target, "big");
  EXPECT_EQ(spec->tasks[2].when, "${v} == 42");
  EXPECT_TRUE(spec->tasks[2].continue_on_failure);
}

TEST(ParseExperimentTest, ErrorsNameFileAndLine) {
  auto spec = ParseExperiment("bad.yaml", R"(experiment: x
tasks:
  - name: a
    commands:
      - node: h1
        cmd: "true"
        timeout: soon
  - name: a
    commands:
      - cmd: "true"
    next:
      - goto: nowhere
  - name: c
    links:
      - link: h1:eth1<->h2:eth1
        rate: 10mbps
)");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(spec.status().message());
  EXPECT_THAT(msg, HasSubstr("bad.yaml:7: command a.1: "));
  EXPECT_THAT(msg, HasSubstr("bad.yaml:10: command a.1: missing required key 'node'"));
  EXPECT_THAT(msg, HasSubstr("bad.yaml:8: task a: duplicate task name"));
  EXPECT_THAT(msg, HasSubstr("bad.yaml:12: task a: goto: no task named 'nowhere'"));
  EXPECT_THAT(msg, HasSubstr("bad.yaml:16: task c: "));
}

TEST(ParseExperimentTest, RejectsUnknownKeysAndBadYaml) {
  auto spec = ParseExperiment("k.yaml", "experiment: x\ntaks: []\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("k.yaml:2: experiment: unknown key 'taks'"));
  auto bad = ParseExperiment("y.yaml", "experiment: [x\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("y.yaml:"));
}

TEST(SubstituteTest, ReplacesVariablesAndReportsUnknown) {
  std::map<std::string, std::string> vars = {{"a", "1"}, {"b.c", "x y"}};
  EXPECT_EQ(*Substitute("p${a}q ${b.c} $$a $x", vars), "p1q x y $a $x");
  auto bad = Substitute("${nope}", vars);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("${nope}"));
  EXPECT_FALSE(Substitute("${a", vars).ok());
}

TEST(EvalConditionTest, NumericStringAndRegex) {
  std::map<std::string, std::string> vars = {{"n", "10"}, {"s", "abc"}};
  EXPECT_TRUE(*EvalCondition("${n} > 9", vars));      // numeric, not "10" < "9"
  EXPECT_FALSE(*EvalCondition("${n} <= 9.5", vars));
  EXPECT_TRUE(*EvalCondition("${s} == abc", vars));
  EXPECT_TRUE(*EvalCondition("${s} != abd", vars));
  EXPECT_TRUE(*EvalCondition("${s} =~ ^a.c$", vars));
  EXPECT_TRUE(*EvalCondition("", vars));
  EXPECT_FALSE(*EvalCondition("false", vars));
  EXPECT_FALSE(EvalCondition("${n}", vars).ok());
}

}  // namespace
}  // namespace emu::controller::experiment
