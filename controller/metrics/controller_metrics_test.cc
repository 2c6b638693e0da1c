#include "controller/metrics/controller_metrics.h"

#include "common/metrics/testing/exposition_parser.h"
#include "gtest/gtest.h"

namespace emu::controller::metrics {
namespace {

using emu::metrics::Registry;
using emu::metrics::Render;
using emu::metrics::testing::FindValue;
using emu::metrics::testing::ParseExposition;

emu::v1::Lab MakeLab(const std::string& name, emu::v1::LabState state,
                     std::vector<std::string> node_states) {
  emu::v1::Lab lab;
  lab.set_name(name);
  lab.set_owner("admin");
  lab.set_state(state);
  for (const std::string& s : node_states) lab.add_nodes()->set_state(s);
  return lab;
}

TEST(ControllerMetricsTest, LabsAndNodesByState) {
  auto parsed = ParseExposition(Render(LabFamilies({
      MakeLab("a", emu::v1::RUNNING, {"", "", "ready"}),
      MakeLab("b", emu::v1::RUNNING, {""}),
      MakeLab("alice+c", emu::v1::FAILED, {"exited"}),
  })));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_labs", {{"state", "running"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_labs", {{"state", "failed"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_labs", {{"state", "deploying"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_nodes", {{"state", "running"}}), 3);
  EXPECT_EQ(FindValue(*parsed, "emu_nodes", {{"state", "ready"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_nodes", {{"state", "exited"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_lab_nodes", {{"lab", "a"}, {"owner", "admin"}}), 3);
  EXPECT_EQ(FindValue(*parsed, "emu_lab_nodes", {{"lab", "c"}, {"owner", "alice"}}), 1);
}

TEST(ControllerMetricsTest, HostsAndRuns) {
  emu::v1::HostStatus h1, h2;
  h1.set_name("h1");
  h1.set_reachable(true);
  h2.set_name("h2");
  emu::v1::ExperimentRunSummary r1, r2;
  r1.set_state(emu::v1::RUN_SUCCEEDED);
  r2.set_state(emu::v1::RUN_SUCCEEDED);
  auto families = HostFamilies({h1, h2});
  for (auto& f : RunFamilies({r1, r2})) families.push_back(f);
  auto parsed = ParseExposition(Render(families));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_hosts", {{"state", "up"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_hosts", {{"state", "down"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_host_up", {{"host", "h2"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_runs", {{"state", "succeeded"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_runs", {{"state", "running"}}), 0);
}

TEST(ControllerMetricsTest, CollectorsReadTheirSourcesAtEachScrape) {
  Registry registry;
  int lab_count = 1;
  bool fail = false;
  Sources sources;
  sources.labs = [&]() -> absl::StatusOr<std::vector<emu::v1::Lab>> {
    if (fail) return absl::InternalError("db");
    std::vector<emu::v1::Lab> labs;
    for (int i = 0; i < lab_count; ++i) {
      labs.push_back(MakeLab("l" + std::to_string(i), emu::v1::RUNNING, {}));
    }
    return labs;
  };
  AddControllerCollectors(&registry, sources);
  auto first = ParseExposition(registry.Exposition());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(FindValue(*first, "emu_labs", {{"state", "running"}}), 1);
  lab_count = 3;
  auto second = ParseExposition(registry.Exposition());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(FindValue(*second, "emu_labs", {{"state", "running"}}), 3);
  fail = true;
  auto third = ParseExposition(registry.Exposition());
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(FindValue(*third, "emu_labs", {{"state", "running"}}), std::nullopt);
  EXPECT_EQ(FindValue(*third, "emu_collector_errors_total", {{"collector", "labs"}}), 1);
}

TEST(ControllerMetricsTest, LinkCountersOfRunningLabsOnly) {
  Registry registry;
  Sources sources;
  sources.labs = []() -> absl::StatusOr<std::vector<emu::v1::Lab>> {
    return std::vector<emu::v1::Lab>{
        MakeLab("alice+up", emu::v1::RUNNING, {}),
        MakeLab("gone", emu::v1::DESTROYED, {}),
        MakeLab("broken", emu::v1::DEGRADED, {})};
  };
  std::vector<std::string> asked;
  uint64_t bytes = 100;
  sources.stats =
      [&](const std::string& key) -> absl::StatusOr<emu::v1::LabCounters> {
    asked.push_back(key);
    if (key == "broken") return absl::UnavailableError("h2 down");
    emu::v1::LabCounters c;
    auto* l = c.add_links();
    l->set_link("a:e1<->b:e1");
    l->mutable_a_to_b()->set_from("a:e1");
    l->mutable_a_to_b()->set_to("b:e1");
    l->mutable_a_to_b()->set_delivered_bytes(bytes);
    return c;
  };
  AddControllerCollectors(&registry, sources);
  auto first = ParseExposition(registry.Exposition());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(asked, (std::vector<std::string>{"alice+up", "broken"}));
  EXPECT_EQ(FindValue(*first, "emu_link_rx_bytes_total",
                      {{"lab", "alice+up"}, {"direction", "a_to_b"}}),
            100);
  EXPECT_EQ(FindValue(*first, "emu_collector_errors_total",
                      {{"collector", "link_counters"}}),
            1);
  bytes = 250;
  auto second = ParseExposition(registry.Exposition());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(FindValue(*second, "emu_link_rx_bytes_total",
                      {{"lab", "alice+up"}, {"direction", "a_to_b"}}),
            250);
}

TEST(ControllerMetricsTest, TaskSkewAndGap) {
  Registry registry;
  ExperimentMetrics m(&registry);
  emu::v1::TaskResult first, second, skipped;
  first.set_status(emu::v1::TaskResult::PASSED);
  first.set_skew_us(300);
  first.add_commands()->set_start_unix_us(1000000);
  first.set_end_unix_us(2000000);
  second.set_status(emu::v1::TaskResult::FAILED);
  second.set_skew_us(2000);
  second.add_commands()->set_start_unix_us(2050000);  // 50 ms after first's end
  second.add_commands()->set_start_unix_us(2052000);
  skipped.set_status(emu::v1::TaskResult::SKIPPED);
  m.ObserveTask(first, nullptr);
  m.ObserveTask(second, &first);
  m.ObserveTask(skipped, &second);
  auto parsed = ParseExposition(registry.Exposition());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_task_skew_seconds_count"), 2);
  EXPECT_DOUBLE_EQ(*FindValue(*parsed, "emu_experiment_task_skew_seconds_sum"), 0.0023);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_task_gap_seconds_count"), 1);
  EXPECT_DOUBLE_EQ(*FindValue(*parsed, "emu_experiment_task_gap_seconds_sum"), 0.05);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_task_gap_seconds_bucket", {{"le", "0.032"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_task_gap_seconds_bucket", {{"le", "0.064"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_tasks_total", {{"status", "skipped"}}), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_experiment_tasks_total", {{"status", "passed"}}), 1);
}

}  // namespace
}  // namespace emu::controller::metrics
