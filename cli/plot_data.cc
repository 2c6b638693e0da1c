#include "cli/plot_data.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/table.h"

namespace emu::cli {
namespace {

std::optional<double> Number(const std::string& s) {
  double v;
  if (!absl::SimpleAtod(absl::StripAsciiWhitespace(s), &v) || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

int Column(const CsvTable& t, const std::string& name) {
  auto it = std::find(t.header.begin(), t.header.end(), name);
  return it == t.header.end() ? -1 : static_cast<int>(it - t.header.begin());
}

const std::string& Cell(const CsvTable::Row& r, int column) {
  static const std::string kEmpty;
  return column >= 0 && column < static_cast<int>(r.cells.size()) ? r.cells[column]
                                                                  : kEmpty;
}

// The row's run number for messages ("run 3 (line 4)").
std::string RowName(const CsvTable& t, const CsvTable::Row& r) {
  const std::string& run = Cell(r, Column(t, "run"));
  return run.empty() ? absl::StrCat("line ", r.line)
                     : absl::StrCat("run ", run, " (line ", r.line, ")");
}

// Keeps `keys` in first-seen order, or numeric order when all are numbers.
void SortKeys(std::vector<std::string>& keys, bool* numeric) {
  *numeric = std::all_of(keys.begin(), keys.end(),
                         [](const std::string& k) { return Number(k).has_value(); });
  if (*numeric) {
    std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
      return *Number(a) < *Number(b);
    });
  }
}

std::string G(double v) { return absl::StrFormat("%.6g", v); }

// A gnuplot single-quoted string: no escapes but '' for a quote.
std::string Quote(const std::string& s) {
  return "'" + absl::StrReplaceAll(s, {{"'", "''"}, {"\n", " "}}) + "'";
}

// A string field in a gnuplot data block.
std::string DataString(const std::string& s) {
  return "\"" + absl::StrReplaceAll(s, {{"\"", "'"}, {"\n", " "}}) + "\"";
}

}  // namespace

absl::StatusOr<CsvTable> ParseCsv(const std::string& text, const std::string& name) {
  std::vector<std::vector<std::string>> records;
  std::vector<int> lines;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, field_started = false;
  int line = 1, record_line = 1, quote_line = 0;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_record = [&] {
    end_field();
    if (!(record.size() == 1 && record[0].empty())) {  // blank line
      records.push_back(std::move(record));
      lines.push_back(record_line);
    }
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n') {
      end_record();
      record_line = ++line;
    } else if (c != '\r') {
      field += c;
      field_started = true;
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ":", quote_line, ": a quoted field is not closed"));
  }
  if (!field.empty() || !record.empty()) end_record();
  if (records.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": empty, no header"));
  }
  CsvTable t;
  t.header = std::move(records[0]);
  for (size_t i = 1; i < records.size(); ++i) {
    if (records[i].size() > t.header.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", lines[i], ": ", records[i].size(), " fields, the header has ",
          t.header.size()));
    }
    t.rows.push_back({lines[i], std::move(records[i])});
  }
  return t;
}

absl::StatusOr<PlotData> ReducePlot(const CsvTable& table, const PlotRequest& request) {
  auto column = [&](const std::string& flag,
                    const std::string& name) -> absl::StatusOr<int> {
    const int c = Column(table, name);
    if (c < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", name, ": no such column; the file has ",
          absl::StrJoin(table.header, ", ")));
    }
    return c;
  };
  absl::StatusOr<int> xc = column("--x", request.x);
  if (!xc.ok()) return xc.status();
  absl::StatusOr<int> yc = column("--y", request.y);
  if (!yc.ok()) return yc.status();
  int gc = -1;
  if (!request.group.empty()) {
    absl::StatusOr<int> g = column("--group", request.group);
    if (!g.ok()) return g.status();
    gc = *g;
  }
  const int state = Column(table, "state");

  PlotData data;
  data.x = request.x;
  data.y = request.y;
  data.group = request.group;
  // group -> x -> values, and both key orders as first seen.
  std::map<std::string, std::map<std::string, std::vector<double>>> values;
  std::vector<std::string> groups, xs;
  for (const auto& row : table.rows) {
    if (!request.include_failed && state >= 0 && Cell(row, state) != "succeeded") {
      data.skipped.push_back(absl::StrCat(RowName(table, row), ": state ",
                                          Cell(row, state)));
      continue;
    }
    const std::string& y = Cell(row, *yc);
    std::optional<double> v = Number(y);
    if (!v) {
      data.skipped.push_back(absl::StrCat(RowName(table, row), ": ", request.y, " '",
                                          y, "' is not a number"));
      continue;
    }
    const std::string& x = Cell(row, *xc);
    const std::string g = gc < 0 ? "" : Cell(row, gc);
    if (!values.count(g)) groups.push_back(g);
    if (std::find(xs.begin(), xs.end(), x) == xs.end()) xs.push_back(x);
    values[g][x].push_back(*v);
    ++data.rows_used;
  }
  if (data.rows_used == 0) {
    std::vector<std::string> first(
        data.skipped.begin(),
        data.skipped.begin() + std::min<size_t>(3, data.skipped.size()));
    return absl::InvalidArgumentError(absl::StrCat(
        "no row to plot: ", table.rows.size(), " rows",
        first.empty() ? "" : absl::StrCat(", left out: ", absl::StrJoin(first, "; "))));
  }
  bool numeric_groups;
  SortKeys(groups, &numeric_groups);
  SortKeys(xs, &data.numeric_x);
  for (const auto& g : groups) {
    PlotSeries s;
    s.group = g;
    for (const auto& x : xs) {
      auto it = values[g].find(x);
      if (it == values[g].end()) continue;
      const std::vector<double>& v = it->second;
      PlotPoint p;
      p.x = x;
      p.x_value = data.numeric_x ? *Number(x) : 0;
      p.n = static_cast<int>(v.size());
      p.min = *std::min_element(v.begin(), v.end());
      p.max = *std::max_element(v.begin(), v.end());
      double sum = 0;
      for (double d : v) sum += d;
      p.mean = sum / p.n;
      if (p.n > 1) {
        double sq = 0;
        for (double d : v) sq += (d - p.mean) * (d - p.mean);
        p.stddev = std::sqrt(sq / (p.n - 1));
      }
      s.points.push_back(p);
    }
    data.series.push_back(std::move(s));
  }
  return data;
}

std::string PlotTable(const PlotData& data) {
  std::vector<std::string> header;
  if (!data.group.empty()) header.push_back(absl::AsciiStrToUpper(data.group));
  for (const char* h : {"N", "MEAN", "MIN", "MAX", "STDDEV"}) {
    if (std::string(h) == "N") header.push_back(absl::AsciiStrToUpper(data.x));
    header.push_back(h);
  }
  Table t(header);
  for (const auto& s : data.series) {
    for (const auto& p : s.points) {
      std::vector<std::string> row;
      if (!data.group.empty()) row.push_back(s.group);
      for (std::string c : {p.x, absl::StrCat(p.n), G(p.mean), G(p.min), G(p.max),
                            G(p.stddev)}) {
        row.push_back(std::move(c));
      }
      t.AddRow(std::move(row));
    }
  }
  return t.Render();
}

std::string GnuplotScript(const PlotData& data, const PlotStyle& style) {
  std::string s;
  if (style.format == "svg") {
    s += "set terminal svg size 900,540 dynamic noenhanced font 'sans,12'\n";
  } else if (style.format == "png") {
    s += "set terminal pngcairo size 1000,600 noenhanced font 'sans,11'\n";
  } else {
    s += "set terminal pdfcairo size 7in,4.2in noenhanced font 'sans,10'\n";
  }
  s += "set output " + Quote(style.output) + "\n";
  s += "set title " +
       Quote(style.title.empty() ? absl::StrCat(data.y, " vs ", data.x) : style.title) +
       "\n";
  s += "set xlabel " + Quote(data.x) + "\n";
  int max_n = 0;
  for (const auto& series : data.series) {
    for (const auto& p : series.points) max_n = std::max(max_n, p.n);
  }
  s += "set ylabel " +
       Quote(max_n > 1 ? absl::StrCat(data.y, " (mean; bars: min to max)") : data.y) +
       "\n";
  s += "set grid\nset key outside right top\nset bars small\n";
  // Points off the frame's edges.
  s += "set offsets graph 0.04, graph 0.04, graph 0.06, graph 0.06\n";
  if (style.log_x && data.numeric_x) s += "set logscale x\n";
  if (style.log_y) s += "set logscale y\n";
  // Categorical x: one position per value, in the order of the table.
  std::map<std::string, int> position;
  if (!data.numeric_x) {
    for (const auto& series : data.series) {
      for (const auto& p : series.points) {
        position.emplace(p.x, static_cast<int>(position.size()));
      }
    }
    s += "set xrange [-0.5:" + absl::StrCat(position.size() - 0.5) + "]\n";
  }
  std::vector<std::string> plots;
  for (size_t i = 0; i < data.series.size(); ++i) {
    const PlotSeries& series = data.series[i];
    const std::string block = absl::StrCat("$s", i);
    s += block + " << EOD\n";
    for (const auto& p : series.points) {
      if (data.numeric_x) {
        s += absl::StrFormat("%.10g %.10g %.10g %.10g\n", p.x_value, p.mean, p.min,
                             p.max);
      } else {
        s += absl::StrFormat("%s %d %.10g %.10g %.10g\n", DataString(p.x),
                             position[p.x], p.mean, p.min, p.max);
      }
    }
    s += "EOD\n";
    const std::string title =
        data.group.empty() ? data.y : absl::StrCat(data.group, "=", series.group);
    plots.push_back(absl::StrCat(
        block, data.numeric_x ? " using 1:2:3:4" : " using 2:3:4:5:xtic(1)",
        " with yerrorlines pointtype 7 title ", Quote(title)));
  }
  s += "plot " + absl::StrJoin(plots, ", \\\n     ") + "\n";
  return s;
}

}  // namespace emu::cli
