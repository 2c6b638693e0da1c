#include "controller/experiment/experiment_spec.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
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
  EXPECT_EQ(c.argv,
            (std::vector<std::string>{"/bin/sh", "-c", "echo value=42"}));
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
  EXPECT_THAT(
      msg, HasSubstr("bad.yaml:10: command a.1: missing required key 'node'"));
  EXPECT_THAT(msg, HasSubstr("bad.yaml:8: task a: duplicate task name"));
  EXPECT_THAT(msg,
              HasSubstr("bad.yaml:12: task a: goto: no task named 'nowhere'"));
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
  EXPECT_TRUE(*EvalCondition("${n} > 9", vars));  // numeric, not "10" < "9"
  EXPECT_FALSE(*EvalCondition("${n} <= 9.5", vars));
  EXPECT_TRUE(*EvalCondition("${s} == abc", vars));
  EXPECT_TRUE(*EvalCondition("${s} != abd", vars));
  EXPECT_TRUE(*EvalCondition("${s} =~ ^a.c$", vars));
  EXPECT_TRUE(*EvalCondition("", vars));
  EXPECT_FALSE(*EvalCondition("false", vars));
  EXPECT_FALSE(EvalCondition("${n}", vars).ok());
}

// A file with one command whose capture regex is `regex` (YAML single-quoted).
std::string CaptureFile(const std::string& regex) {
  return "experiment: x\ntasks:\n  - commands:\n      - node: n1\n"
         "        cmd: echo\n        capture: {var: v, regex: '" +
         regex + "'}\n";
}

TEST(CaptureTest, CompiledOnceAtParseAndMatchesGroupOneOrWholeMatch) {
  auto spec = ParseExperiment("e.yaml", CaptureFile("n=([0-9]+)"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const CaptureSpec& cap = spec->tasks[0].commands[0].captures[0];
  ASSERT_NE(cap.compiled, nullptr);
  EXPECT_EQ(RunCapture(cap, "a\nn=42 b"), "42");
  EXPECT_EQ(RunCapture(cap, "nothing"), std::nullopt);

  auto whole = ParseExperiment("e.yaml", CaptureFile("[0-9]+ Mbit"));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(RunCapture(whole->tasks[0].commands[0].captures[0], "at 95 Mbit/s"),
            "95 Mbit");
}

TEST(CaptureTest, LongOutputLineDoesNotCrash) {
  // std::regex recursed per character here and overflowed the stack.
  auto spec = ParseExperiment("e.yaml", CaptureFile("n=(.*)"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const std::string line = "n=" + std::string(16 << 20, 'x');
  auto value = RunCapture(spec->tasks[0].commands[0].captures[0], line);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->size(), line.size() - 2);
}

TEST(CaptureTest, DeeplyNestedRegexIsSafeOrRefusedWithFileLine) {
  // 40k nested groups killed the controller under std::regex: now refused
  // by length before RE2 sees it, naming file:line, without the pattern.
  const std::string deep =
      std::string(40000, '(') + "a" + std::string(40000, ')');
  auto spec = ParseExperiment("deep.yaml", CaptureFile(deep));
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(),
              HasSubstr("deep.yaml:6: command task1.1: capture v: regex '((("));
  EXPECT_THAT(spec.status().message(), HasSubstr("longer than 4096 bytes"));
  EXPECT_LT(spec.status().message().size(), 600u);

  // As deep as fits the length limit: RE2 parses and matches without
  // recursing on the nesting.
  const std::string nested =
      std::string(2000, '(') + "a" + std::string(2000, ')');
  auto ok = ParseExperiment("deep.yaml", CaptureFile(nested));
  ASSERT_TRUE(ok.ok()) << ok.status().message().substr(0, 200);
  EXPECT_EQ(RunCapture(ok->tasks[0].commands[0].captures[0], "xay"), "a");
}

TEST(CaptureTest, HugeRegexIsNotEchoed) {
  const std::string regex(200 << 10, 'a');
  auto spec = ParseExperiment("big.yaml", CaptureFile(regex));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("big.yaml:6:"));
  EXPECT_THAT(spec.status().message(), HasSubstr("longer than 4096 bytes"));
  EXPECT_THAT(spec.status().message(), HasSubstr("(204800 bytes)"));
  EXPECT_LT(spec.status().message().size(), 400u);
}

TEST(CaptureTest, BadRegexNamesFileLineAndReason) {
  auto spec = ParseExperiment("bad.yaml", CaptureFile("v=([0-9]+"));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(),
              HasSubstr("bad.yaml:6: command task1.1: capture v: bad regex "
                        "'v=([0-9]+': missing )"));
}

TEST(EvalConditionTest, MatchOperatorUsesRe2WithLimits) {
  std::map<std::string, std::string> vars = {{"out", "rtt=1.5ms"}};
  EXPECT_EQ(*EvalCondition("${out} =~ rtt=[0-9.]+ms", vars), true);
  EXPECT_EQ(*EvalCondition("${out} =~ ^loss", vars), false);
  auto bad = EvalCondition("x =~ (", vars);
  EXPECT_FALSE(bad.ok());
  auto huge = EvalCondition("x =~ " + std::string(10000, 'a'), vars);
  ASSERT_FALSE(huge.ok());
  EXPECT_LT(huge.status().message().size(), 400u);
}

TEST(LimitsTest, MaxStepsIsCapped) {
  const std::string tasks = "tasks:\n  - commands: [{node: n1, cmd: x}]\n";
  auto ok = ParseExperiment(
      "e.yaml",
      absl::StrCat("experiment: x\nmax_steps: ", kMaxSteps, "\n", tasks));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->max_steps, kMaxSteps);
  for (const char* bad : {"2147483647", "100001", "0", "-1", "99999999999"}) {
    auto spec = ParseExperiment(
        "e.yaml", absl::StrCat("experiment: x\nmax_steps: ", bad, "\n", tasks));
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_THAT(spec.status().message(),
                HasSubstr("e.yaml:2: max_steps: expected an integer from 1 to "
                          "100000"))
        << bad;
  }
}

TEST(LimitsTest, CountsAndDurationsAreCapped) {
  std::string many_tasks = "experiment: x\ntasks:\n";
  for (size_t i = 0; i <= kMaxTasks; ++i) {
    absl::StrAppend(&many_tasks, "  - commands: [{node: n1, cmd: x}]\n");
  }
  auto tasks = ParseExperiment("t.yaml", many_tasks);
  ASSERT_FALSE(tasks.ok());
  EXPECT_THAT(tasks.status().message(),
              HasSubstr("t.yaml:3: tasks: 1001 Tasks, more than the limit of "
                        "1000"));

  auto timeout = ParseExperiment(
      "t.yaml",
      "experiment: x\ntasks:\n  - commands: [{node: n1, cmd: x, timeout: "
      "86401s}]\n");
  ASSERT_FALSE(timeout.ok());
  EXPECT_THAT(timeout.status().message(), HasSubstr("at most 24h"));

  auto margin = ParseExperiment(
      "t.yaml",
      "experiment: x\nstart_margin: 61s\ntasks:\n  - commands: [{node: n1, "
      "cmd: x}]\n");
  ASSERT_FALSE(margin.ok());
  EXPECT_THAT(margin.status().message(),
              HasSubstr("t.yaml:2: start_margin: more than the limit of 1m"));

  auto big =
      ParseExperiment("t.yaml", std::string(kMaxExperimentFileBytes + 1, '#'));
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.status().message(), HasSubstr("more than the limit of"));
}

}  // namespace
}  // namespace emu::controller::experiment
