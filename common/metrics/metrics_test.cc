#include "common/metrics/metrics.h"

#include <cmath>
#include <thread>

#include "common/metrics/testing/exposition_parser.h"
#include "gtest/gtest.h"

namespace emu::metrics {
namespace {

using testing::FindValue;
using testing::ParseExposition;

TEST(MetricsTest, CountersGaugesAndHistogramsParseBack) {
  Registry r;
  CounterFamily* calls = r.AddCounter("emu_calls_total", "Calls.", {"method"});
  calls->WithLabels({"/a.B/C"})->Increment();
  calls->WithLabels({"/a.B/C"})->Increment(2);
  calls->WithLabels({"/a.B/D"})->Increment(-5);  // ignored
  GaugeFamily* labs = r.AddGauge("emu_labs", "Labs per state.", {"state"});
  labs->WithLabels({"running"})->Set(3);
  labs->WithLabels({"failed"})->Set(1.5);
  labs->WithLabels({"failed"})->Add(-0.25);
  HistogramFamily* lat = r.AddHistogram("emu_latency_seconds", "Latency.",
                                        {"method"}, {0.001, 0.01, 0.1});
  Histogram* h = lat->WithLabels({"x"});
  h->Observe(0.0005);
  h->Observe(0.001);  // le is inclusive
  h->Observe(0.05);
  h->Observe(7);

  auto parsed = ParseExposition(r.Exposition());
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << r.Exposition();
  EXPECT_EQ(FindValue(*parsed, "emu_calls_total", {{"method", "/a.B/C"}}), 3);
  EXPECT_EQ(FindValue(*parsed, "emu_calls_total", {{"method", "/a.B/D"}}), 0);
  EXPECT_EQ(FindValue(*parsed, "emu_labs", {{"state", "running"}}), 3);
  EXPECT_EQ(FindValue(*parsed, "emu_labs", {{"state", "failed"}}), 1.25);
  EXPECT_EQ(FindValue(*parsed, "emu_latency_seconds_bucket", {{"le", "0.001"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_latency_seconds_bucket", {{"le", "0.01"}}), 2);
  EXPECT_EQ(FindValue(*parsed, "emu_latency_seconds_bucket", {{"le", "0.1"}}), 3);
  EXPECT_EQ(FindValue(*parsed, "emu_latency_seconds_bucket", {{"le", "+Inf"}}), 4);
  EXPECT_EQ(FindValue(*parsed, "emu_latency_seconds_count"), 4);
  EXPECT_DOUBLE_EQ(*FindValue(*parsed, "emu_latency_seconds_sum"), 7.0515);
  EXPECT_EQ(parsed->at("emu_labs").help, "Labs per state.");
  EXPECT_EQ(parsed->at("emu_latency_seconds").type, "histogram");
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  Registry r;
  r.AddGauge("emu_x", "Line one\nback\\slash \"quoted\"", {"v"})
      ->WithLabels({"a\"b\\c\nd"})
      ->Set(1);
  const std::string text = r.Exposition();
  EXPECT_NE(text.find("# HELP emu_x Line one\\nback\\\\slash \"quoted\"\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("emu_x{v=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos)
      << text;
  auto parsed = ParseExposition(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->at("emu_x").samples[0].labels.at("v"), "a\"b\\c\nd");
  EXPECT_EQ(parsed->at("emu_x").help, "Line one\nback\\slash \"quoted\"");
}

TEST(MetricsTest, FormatValue) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(123456789012), "123456789012");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(2.5e-7), "2.5e-07");
  EXPECT_EQ(FormatValue(HUGE_VAL), "+Inf");
  EXPECT_EQ(FormatValue(-HUGE_VAL), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  const double third = 1.0 / 3;
  EXPECT_EQ(std::stod(FormatValue(third)), third);
}

TEST(MetricsTest, CollectorsAddFamiliesAndCannotShadowRegisteredOnes) {
  Registry r;
  r.AddGauge("emu_a", "A.")->WithLabels({})->Set(1);
  int calls = 0;
  r.AddCollector([&calls](std::vector<Family>* out) {
    ++calls;
    Family f;
    f.name = "emu_link_bytes_total";
    f.help = "Bytes per link direction.";
    f.type = MetricType::kCounter;
    f.label_names = {"lab", "link"};
    f.samples.push_back({{"l1", "a:e1->b:e1"}, 42});
    out->push_back(f);
    Family dup;
    dup.name = "emu_a";
    dup.help = "shadow";
    dup.samples.push_back({{}, 99});
    out->push_back(dup);
  });
  auto parsed = ParseExposition(r.Exposition());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(FindValue(*parsed, "emu_a"), 1);
  EXPECT_EQ(FindValue(*parsed, "emu_link_bytes_total", {{"lab", "l1"}}), 42);
}

TEST(MetricsTest, RenderLeavesOutBadFamiliesWithAComment) {
  Family bad;
  bad.name = "emu_bad";
  bad.label_names = {"__reserved"};
  bad.samples.push_back({{"x"}, 1});
  Family twice;
  twice.name = "emu_twice";
  twice.label_names = {"a"};
  twice.samples.push_back({{"x"}, 1});
  twice.samples.push_back({{"x"}, 2});
  Family good;
  good.name = "emu_good";
  good.samples.push_back({{}, 1});
  const std::string text = Render({bad, twice, good});
  EXPECT_NE(text.find("# family emu_bad left out: invalid label name"),
            std::string::npos) << text;
  EXPECT_NE(text.find("# family emu_twice left out: a series appears twice"),
            std::string::npos) << text;
  auto parsed = ParseExposition(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 1u);
}

TEST(MetricsTest, Names) {
  EXPECT_TRUE(IsValidMetricName("emu_rpc:rate_total"));
  EXPECT_FALSE(IsValidMetricName("1emu"));
  EXPECT_FALSE(IsValidMetricName("emu-x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("method"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(MetricsDeathTest, RegistrationErrorsAreFatal) {
  Registry r;
  r.AddGauge("emu_x", "x");
  EXPECT_DEATH(r.AddCounter("emu_x", "again"), "registered twice");
  EXPECT_DEATH(r.AddGauge("emu-y", "bad"), "invalid metric name");
  EXPECT_DEATH(r.AddHistogram("emu_h", "h", {"le"}, {1}), "reserved");
  EXPECT_DEATH(r.AddHistogram("emu_h2", "h", {}, {2, 1}), "increasing");
  EXPECT_DEATH(r.AddGauge("emu_z", "z", {"a"})->WithLabels({}), "label values");
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter* c = r.AddCounter("emu_c_total", "c")->WithLabels({});
  Histogram* h = r.AddHistogram("emu_h_seconds", "h", {}, {1})->WithLabels({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Increment();
        h->Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000);
  EXPECT_EQ(h->Snapshot().count, 40000u);
}

// The strict parser refuses what it must: otherwise the tests above could
// not fail.
TEST(ExpositionParserTest, RefusesMalformedText) {
  const char* bad[] = {
      "emu_x 1\n",                                          // no TYPE
      "# TYPE emu_x gauge\nemu_x 1",                        // no final newline
      "# TYPE emu_x gauge\nemu_x{a=\"1\"} 1\nemu_x{a=\"1\"} 2\n",  // dup
      "# TYPE emu_x gauge\nemu_x{a=\"\\t\"} 1\n",           // bad escape
      "# TYPE emu_x gauge\nemu_x{a=1} 1\n",                 // unquoted
      "# TYPE emu_x counter\nemu_x 1\n",                    // not _total
      "# TYPE emu_x gauge\n# TYPE emu_y gauge\nemu_x 1\nemu_y 1\nemu_x{a=\"b\"} 1\n",
      "# TYPE emu_h histogram\nemu_h_bucket{le=\"1\"} 2\nemu_h_bucket{le=\"+Inf\"} 1\n"
      "emu_h_sum 1\nemu_h_count 1\n",                       // not cumulative
      "# TYPE emu_h histogram\nemu_h_bucket{le=\"+Inf\"} 2\nemu_h_sum 1\nemu_h_count 1\n",
      "# TYPE emu_x gauge\nemu_x one\n",
      "# TYPE emu_x gauge\nemu_x 1\n# TYPE emu_x gauge\n",
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParseExposition(text).ok()) << text;
  }
}

}  // namespace
}  // namespace emu::metrics
