#include "cli/plot_data.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// What `emuctl run --param rate=... --param hops=... --repeat 2` writes
// (cli/run_results.cc SummaryCsv), with a failed run and a quoted error.
constexpr char kSummary[] =
    "run,repeat,hops,rate,state,duration_ms,tasks_passed,tasks_failed,"
    "max_skew_us,mbps,error\n"
    "1,1,2,10,succeeded,1000.5,2,0,40,9.5,\n"
    "2,2,2,10,succeeded,1001.5,2,0,41,9.7,\n"
    "3,1,2,5,succeeded,1000,2,0,12,4.5,\n"
    "4,2,2,5,succeeded,1000,2,0,12,4.7,\n"
    "5,1,10,10,succeeded,1000,2,0,12,8.0,\n"
    "6,2,10,10,failed,3.0,1,1,0,,\"exit 1: \"\"iperf3\"\", busy\nsecond line\"\n"
    "7,1,10,5,succeeded,1000,2,0,12,n/a,\n"
    "8,2,10,5,succeeded,1000,2,0,12,4.0,\n";

CsvTable Parse(const std::string& text) {
  auto t = ParseCsv(text, "summary.csv");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : CsvTable{};
}

TEST(ParseCsv, QuotesCommasAndNewlinesInAField) {
  CsvTable t = Parse(kSummary);
  ASSERT_EQ(t.header.size(), 11u);
  ASSERT_EQ(t.rows.size(), 8u);
  EXPECT_EQ(t.rows[5].cells[10], "exit 1: \"iperf3\", busy\nsecond line");
  EXPECT_EQ(t.rows[5].line, 7);
  EXPECT_EQ(t.rows[6].line, 9);  // after the field's newline
  EXPECT_EQ(t.rows[0].cells[10], "");
}

TEST(ParseCsv, ErrorsNameTheFileAndLine) {
  auto open = ParseCsv("a,b\n1,\"x\n2,3\n", "s.csv");
  ASSERT_FALSE(open.ok());
  EXPECT_THAT(open.status().message(), HasSubstr("s.csv:2: a quoted field"));
  auto wide = ParseCsv("a,b\n1,2\n1,2,3\n", "s.csv");
  ASSERT_FALSE(wide.ok());
  EXPECT_THAT(wide.status().message(), HasSubstr("s.csv:3: 3 fields"));
  EXPECT_FALSE(ParseCsv("", "s.csv").ok());
  // CRLF and a missing final newline are fine; blank lines are skipped.
  CsvTable t = Parse("a,b\r\n1,2\r\n\r\n3,4");
  EXPECT_THAT(t.header, ElementsAre("a", "b"));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_THAT(t.rows[1].cells, ElementsAre("3", "4"));
}

TEST(ReducePlot, RepeatsBecomeMeanMinMaxPerGroupAndX) {
  PlotRequest r{"rate", "mbps", "hops"};
  auto d = ReducePlot(Parse(kSummary), r);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->numeric_x);
  ASSERT_EQ(d->series.size(), 2u);
  EXPECT_EQ(d->series[0].group, "2");  // numeric order: 2 before 10
  EXPECT_EQ(d->series[1].group, "10");
  // x sorted numerically: 5 before 10, though 10 came first in the file.
  ASSERT_EQ(d->series[0].points.size(), 2u);
  const PlotPoint& p5 = d->series[0].points[0];
  EXPECT_EQ(p5.x, "5");
  EXPECT_EQ(p5.n, 2);
  EXPECT_DOUBLE_EQ(p5.mean, 4.6);
  EXPECT_DOUBLE_EQ(p5.min, 4.5);
  EXPECT_DOUBLE_EQ(p5.max, 4.7);
  EXPECT_NEAR(p5.stddev, 0.141421, 1e-5);
  EXPECT_EQ(d->series[0].points[1].x, "10");
  EXPECT_DOUBLE_EQ(d->series[0].points[1].mean, 9.6);
  // hops=10: run 6 failed, run 7's mbps is not a number: one run each.
  ASSERT_EQ(d->series[1].points.size(), 2u);
  EXPECT_EQ(d->series[1].points[0].n, 1);
  EXPECT_DOUBLE_EQ(d->series[1].points[0].mean, 4.0);
  EXPECT_EQ(d->series[1].points[0].stddev, 0);
  EXPECT_EQ(d->rows_used, 6);
  ASSERT_EQ(d->skipped.size(), 2u);
  EXPECT_EQ(d->skipped[0], "run 6 (line 7): state failed");
  EXPECT_EQ(d->skipped[1], "run 7 (line 9): mbps 'n/a' is not a number");
}

TEST(ReducePlot, FailedRunsOnRequestAndNoGroup) {
  PlotRequest r{"hops", "duration_ms", ""};
  r.include_failed = true;
  auto d = ReducePlot(Parse(kSummary), r);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->series.size(), 1u);
  ASSERT_EQ(d->series[0].points.size(), 2u);
  EXPECT_EQ(d->series[0].points[1].n, 4);  // hops=10, the failed run too
  EXPECT_DOUBLE_EQ(d->series[0].points[1].min, 3.0);
  EXPECT_TRUE(d->skipped.empty());
}

TEST(ReducePlot, CategoricalXKeepsTheFilesOrder) {
  auto d = ReducePlot(Parse("run,engine,rtt\n1,userspace,2\n2,kernel,1\n"
                            "3,userspace,4\n"),
                      PlotRequest{"engine", "rtt", ""});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->numeric_x);
  ASSERT_EQ(d->series[0].points.size(), 2u);
  EXPECT_EQ(d->series[0].points[0].x, "userspace");
  EXPECT_DOUBLE_EQ(d->series[0].points[0].mean, 3);
  EXPECT_EQ(d->series[0].points[1].x, "kernel");
}

TEST(ReducePlot, ErrorsNameTheColumnOrWhyNothingIsLeft) {
  auto missing = ReducePlot(Parse(kSummary), PlotRequest{"rate", "gbps", ""});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("--y gbps: no such column; the file has run, repeat, hops"));
  auto group = ReducePlot(Parse(kSummary), PlotRequest{"rate", "mbps", "delay"});
  ASSERT_FALSE(group.ok());
  EXPECT_THAT(group.status().message(), HasSubstr("--group delay"));
  auto none = ReducePlot(Parse("run,x,state,y\n1,1,failed,2\n"),
                         PlotRequest{"x", "y", ""});
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(),
              HasSubstr("no row to plot: 1 rows, left out: run 1 (line 2): state failed"));
}

TEST(PlotTable, OneRowPerPoint) {
  auto d = ReducePlot(Parse(kSummary), PlotRequest{"rate", "mbps", "hops"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(PlotTable(*d),
            "HOPS  RATE  N  MEAN  MIN  MAX  STDDEV\n"
            "2     5     2  4.6   4.5  4.7  0.141421\n"
            "2     10    2  9.6   9.5  9.7  0.141421\n"
            "10    5     1  4     4    4    0\n"
            "10    10    1  8     8    8    0\n");
}

TEST(GnuplotScript, OneDataBlockAndLinePerSeriesQuoted) {
  auto d = ReducePlot(Parse(kSummary), PlotRequest{"rate", "mbps", "hops"});
  ASSERT_TRUE(d.ok());
  PlotStyle style{"svg", "/tmp/it's.svg", "", true, false};
  const std::string s = GnuplotScript(*d, style);
  EXPECT_THAT(s, HasSubstr("set terminal svg"));
  EXPECT_THAT(s, HasSubstr("noenhanced"));
  EXPECT_THAT(s, HasSubstr("set output '/tmp/it''s.svg'\n"));
  EXPECT_THAT(s, HasSubstr("set title 'mbps vs rate'\n"));
  EXPECT_THAT(s, HasSubstr("set logscale x\n"));
  EXPECT_THAT(s, HasSubstr("$s0 << EOD\n5 4.6 4.5 4.7\n10 9.6 9.5 9.7\nEOD\n"));
  EXPECT_THAT(s, HasSubstr("$s1 using 1:2:3:4 with yerrorlines pointtype 7 "
                           "title 'hops=10'"));

  auto c = ReducePlot(Parse("run,engine,rtt\n1,user \"space\",2\n2,kernel,1\n"),
                      PlotRequest{"engine", "rtt", ""});
  ASSERT_TRUE(c.ok());
  const std::string cs = GnuplotScript(*c, PlotStyle{"png", "o.png"});
  EXPECT_THAT(cs, HasSubstr("pngcairo"));
  EXPECT_THAT(cs, HasSubstr("\"user 'space'\" 0 2 2 2\n\"kernel\" 1 1 1 1\n"));
  EXPECT_THAT(cs, HasSubstr("using 2:3:4:5:xtic(1)"));
  EXPECT_THAT(cs, Not(HasSubstr("logscale")));
}

// The script is gnuplot's to judge: drawn for real when gnuplot is here
// (deploy/setup.sh installs gnuplot-nox), and the SVG names each series.
TEST(GnuplotScript, GnuplotDrawsIt) {
  if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "gnuplot is not installed (apt install gnuplot-nox)";
  }
  auto d = ReducePlot(Parse(kSummary), PlotRequest{"rate", "mbps", "hops"});
  ASSERT_TRUE(d.ok());
  const char* dir = getenv("TEST_TMPDIR");
  const std::string out = std::string(dir ? dir : "/tmp") + "/plot_data_test.svg";
  const std::string script_path = out + ".gp";
  std::ofstream(script_path) << GnuplotScript(*d, PlotStyle{"svg", out});
  ASSERT_EQ(system(("gnuplot " + script_path + " 2>" + out + ".err").c_str()), 0)
      << std::ifstream(out + ".err").rdbuf();
  std::stringstream svg;
  svg << std::ifstream(out).rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("<svg"));
  EXPECT_THAT(svg.str(), HasSubstr("hops=2"));
  EXPECT_THAT(svg.str(), HasSubstr("hops=10"));
  EXPECT_THAT(svg.str(), HasSubstr("mbps vs rate"));
  std::remove(out.c_str());
  std::remove(script_path.c_str());
  std::remove((out + ".err").c_str());
}

}  // namespace
}  // namespace emu::cli
