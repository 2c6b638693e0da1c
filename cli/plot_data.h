// What `emuctl plot` draws: a run directory's summary.csv (cli/run_results.h,
// one row per run) read back, its rows grouped by one parameter and reduced
// per x value over the repeats (mean, min, max, standard deviation), and the
// gnuplot script that draws the result. Pure logic: reading the file and
// running gnuplot are the verb's (cli/plot.cc).
#ifndef EMU_CLI_PLOT_DATA_H_
#define EMU_CLI_PLOT_DATA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace emu::cli {

// A CSV file as its header and rows (RFC 4180: quoted fields, "" for a
// quote, newlines inside quotes). Rows keep their 1-based line number.
struct CsvTable {
  std::vector<std::string> header;
  struct Row {
    int line = 0;
    std::vector<std::string> cells;
  };
  std::vector<Row> rows;
};

// INVALID_ARGUMENT naming `name` and the line for an unterminated quote, an
// empty file, or a row with more cells than the header.
absl::StatusOr<CsvTable> ParseCsv(const std::string& text,
                                  const std::string& name);

struct PlotRequest {
  std::string x;      // a column: a --param, or any numeric column
  std::string y;      // a column: a captured variable, duration_ms, ...
  std::string group;  // optional: one series per value of this column
  // Rows whose `state` column is not "succeeded" are left out unless set.
  bool include_failed = false;
};

struct PlotPoint {
  std::string x;  // as written in the file
  double x_value = 0;  // numeric x (PlotData::numeric_x)
  int n = 0;           // repeats reduced into this point
  double mean = 0, min = 0, max = 0, stddev = 0;  // sample std. dev.; 0 if n=1
};

struct PlotSeries {
  std::string group;  // the group column's value; "" without --group
  std::vector<PlotPoint> points;  // by x: numeric order, else first seen
};

struct PlotData {
  std::string x, y, group;
  bool numeric_x = true;  // every x parsed as a number
  std::vector<PlotSeries> series;  // groups numerically sorted if numeric
  int rows_used = 0;
  // Rows left out, each with why ("run 3 (line 4): state failed", "run 5
  // (line 6): y 'n/a' is not a number").
  std::vector<std::string> skipped;
};

// INVALID_ARGUMENT naming the missing column and listing the file's columns,
// or saying that no row is left to plot (with the first reasons).
absl::StatusOr<PlotData> ReducePlot(const CsvTable& table,
                                    const PlotRequest& request);

// The aggregated points as a table: GROUP (with --group) X N MEAN MIN MAX
// STDDEV, numbers with up to 6 significant digits.
std::string PlotTable(const PlotData& data);

struct PlotStyle {
  std::string format;  // "svg", "png" or "pdf"
  std::string output;  // the file gnuplot writes
  std::string title;   // default: "Y vs X"
  bool log_x = false, log_y = false;
};

// A gnuplot script (gnuplot 5: inline data blocks) drawing each series as a
// line of its means with min..max error bars, categorical x as tick labels.
// Every string from the file is quoted for gnuplot; text is not "enhanced"
// (an underscore in "duration_ms" stays an underscore).
std::string GnuplotScript(const PlotData& data, const PlotStyle& style);

}  // namespace emu::cli

#endif  // EMU_CLI_PLOT_DATA_H_
