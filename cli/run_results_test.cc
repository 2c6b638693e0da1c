#include "cli/run_results.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace emu::cli {
namespace {

using ::testing::HasSubstr;

TEST(ParseParamsTest, SplitsValuesAndRejectsBadFlags) {
  auto p = ParseParams({"rate=1mbit,10mbit", "delay=5ms"});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->at("rate"), (std::vector<std::string>{"1mbit", "10mbit"}));
  EXPECT_FALSE(ParseParams({"rate"}).ok());
  EXPECT_FALSE(ParseParams({"=x"}).ok());
  EXPECT_FALSE(ParseParams({"a=1", "a=2"}).ok());
}

TEST(PlanSweepTest, CartesianProductTimesRepeat) {
  auto runs = PlanSweep({{"a", {"1", "2"}}, {"b", {"x", "y", "z"}}}, 2);
  ASSERT_EQ(runs.size(), 12u);
  EXPECT_EQ(runs[0].params.at("a"), "1");
  EXPECT_EQ(runs[0].params.at("b"), "x");
  EXPECT_EQ(runs[1].repeat, 2);
  EXPECT_EQ(runs[2].params.at("b"), "y");
  EXPECT_EQ(runs[11].index, 12);
  EXPECT_EQ(PlanSweep({}, 3).size(), 3u);
}

TEST(RunResultJsonTest, EscapesOutputAndKeepsUtf8) {
  emu::v1::RunResult r;
  r.set_state(emu::v1::RUN_FAILED);
  auto* t = r.add_tasks();
  t->set_name("t");
  t->set_skew_us(42);
  auto* c = t->add_commands();
  c->set_id("t.1");
  c->set_stdout("a\"b\n\xff \xc3\xa9");
  PlannedRun p;
  p.index = 3;
  std::string json = RunResultJson(p, r);
  EXPECT_THAT(json, HasSubstr("\"run\": 3"));
  EXPECT_THAT(json, HasSubstr("\"state\": \"failed\""));
  EXPECT_THAT(json, HasSubstr("\"skew_us\": 42"));
  // The byte 0xff that is not UTF-8 reads back as U+00FF; valid UTF-8 is
  // kept as it is.
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded()) << json;
  EXPECT_EQ(parsed["tasks"][0]["commands"][0]["stdout"],
            "a\"b\n\xc3\xbf \xc3\xa9");
  EXPECT_EQ(parsed["tasks"][0]["commands"][0]["id"], "t.1");
  EXPECT_EQ(parsed["tasks"][0]["skew_us"], 42);
}

TEST(RunResultJsonTest, RecordsHostClocksAndWarnings) {
  emu::v1::RunResult r;
  auto* hc = r.add_host_clocks();
  hc->set_host("h2");
  hc->set_offset_us(-300012);
  hc->set_bound_us(85);
  hc->set_samples(8);
  r.add_warnings("host h3: its clock offset is unknown");
  nlohmann::json parsed =
      nlohmann::json::parse(RunResultJson(PlannedRun{}, r), nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  ASSERT_EQ(parsed["host_clocks"].size(), 1u);
  EXPECT_EQ(parsed["host_clocks"][0]["host"], "h2");
  EXPECT_EQ(parsed["host_clocks"][0]["offset_us"], -300012);
  EXPECT_EQ(parsed["host_clocks"][0]["bound_us"], 85);
  EXPECT_EQ(parsed["host_clocks"][0]["samples"], 8);
  ASSERT_EQ(parsed["warnings"].size(), 1u);
  EXPECT_EQ(parsed["warnings"][0], "host h3: its clock offset is unknown");
  // A run without them has empty lists, not missing keys.
  parsed = nlohmann::json::parse(RunResultJson(PlannedRun{}, emu::v1::RunResult{}));
  EXPECT_TRUE(parsed["host_clocks"].is_array());
  EXPECT_TRUE(parsed["host_clocks"].empty());
  EXPECT_TRUE(parsed["warnings"].empty());
}

TEST(RunResultJsonTest, EveryByteValueYieldsValidJson) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  emu::v1::RunResult r;
  r.set_error(all);
  (*r.mutable_variables())[all] = all;
  std::string json = RunResultJson(PlannedRun{}, r);
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  // 128 ASCII bytes as they are, 128 others as two-byte code points.
  EXPECT_EQ(parsed["error"].get<std::string>().size(), 128u + 2 * 128u);
}

TEST(SummaryCsvTest, OneRowPerRunWithParamsAndVariables) {
  auto planned = PlanSweep({{"rate", {"1mbit", "10mbit"}}}, 1);
  std::vector<emu::v1::RunResult> results(2);
  results[0].set_state(emu::v1::RUN_SUCCEEDED);
  results[0].set_start_unix_us(1000);
  results[0].set_end_unix_us(3500);
  (*results[0].mutable_variables())["mbps"] = "0.95";
  results[1].set_state(emu::v1::RUN_FAILED);
  results[1].set_error("task x failed: a, b");
  std::string csv = SummaryCsv(planned, results);
  EXPECT_EQ(csv,
            "run,repeat,rate,state,duration_ms,tasks_passed,tasks_failed,"
            "max_skew_us,mbps,error\n"
            "1,1,1mbit,succeeded,2.500,0,0,0,0.95,\n"
            "2,1,10mbit,failed,0.000,0,0,0,,\"task x failed: a, b\"\n");
}

TEST(SubstituteKnownTest, LeavesUnknownDollarsAlone) {
  EXPECT_EQ(
      SubstituteKnown("rate: ${rate} $HOME ${other}", {{"rate", "5mbit"}}),
      "rate: 5mbit $HOME ${other}");
}

}  // namespace
}  // namespace emu::cli
