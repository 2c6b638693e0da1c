// `emuctl plot RESULTS [--x PARAM] --y VAR [--group PARAM] [-o FILE]`: a
// sweep's summary.csv (from `emuctl run --results DIR`) reduced over its
// repeats (cli/plot_data.h) and drawn by gnuplot. Needs no controller.
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/plot_data.h"

namespace emu::cli {
namespace {

struct PlotArgs {
  std::string results;
  std::string x, y, group, output, title;
  bool log_x = false, log_y = false, include_failed = false;
};

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> PlotFormat(const std::string& path) {
  const size_t dot = path.rfind('.');
  const std::string ext =
      dot == std::string::npos ? "" : absl::AsciiStrToLower(path.substr(dot + 1));
  if (ext == "svg" || ext == "png" || ext == "pdf") return ext;
  return absl::InvalidArgumentError(absl::StrCat(
      "-o ", path, ": say the format by the extension: .svg, .png or .pdf"));
}

int RunPlot(CommandEnv& env, const PlotArgs& args) {
  absl::StatusOr<std::string> format =
      args.output.empty() ? std::string() : PlotFormat(args.output);
  if (!format.ok()) return env.Fail(format.status());
  const std::string csv =
      IsDirectory(args.results) ? args.results + "/summary.csv" : args.results;
  absl::StatusOr<std::string> text = ReadFile(csv);
  if (!text.ok()) {
    return env.Fail(absl::StrCat(
        text.status().message(),
        " (plot takes a directory of `emuctl run --results` or its summary.csv)"));
  }
  absl::StatusOr<CsvTable> table = ParseCsv(*text, csv);
  if (!table.ok()) return env.Fail(table.status());
  PlotRequest request;
  request.x = args.x;
  request.y = args.y;
  request.group = args.group;
  request.include_failed = args.include_failed;
  absl::StatusOr<PlotData> data = ReducePlot(*table, request);
  if (!data.ok()) return env.Fail(absl::StrCat(csv, ": ", data.status().message()));
  for (const std::string& why : data->skipped) {
    *env.err << "emuctl: left out " << why << "\n";
  }
  *env.out << PlotTable(*data);
  if (args.output.empty()) return kExitOk;

  PlotStyle style;
  style.format = *format;
  style.output = args.output;
  style.title = args.title;
  style.log_x = args.log_x;
  style.log_y = args.log_y;
  ProcessSpec spec;
  spec.argv = {"gnuplot"};
  spec.stdin_data = GnuplotScript(*data, style);
  spec.timeout = absl::Minutes(1);
  absl::StatusOr<ProcessResult> drawn = env.launcher->Run(spec);
  if (!drawn.ok()) return env.Fail(drawn.status());
  if (drawn->exit_code == 127) {
    return env.Fail(absl::StrCat("drawing ", args.output,
                                 " needs gnuplot on the PATH (Debian: apt install "
                                 "gnuplot-nox); without -o the table above is "
                                 "the result"));
  }
  if (drawn->exit_code != 0) {
    return env.Fail(absl::StrCat("gnuplot failed (exit ", drawn->exit_code,
                                 "): ", drawn->stderr_data));
  }
  size_t points = 0;
  for (const auto& s : data->series) points += s.points.size();
  *env.out << "wrote " << args.output << " (" << data->series.size() << " series, "
           << points << " points from " << data->rows_used << " runs)\n"
           << std::flush;
  return kExitOk;
}

}  // namespace

void AddPlotCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("plot", "Plot a sweep's results (summary.csv)");
  auto args = std::make_shared<PlotArgs>();
  cmd->add_option("results", args->results,
                  "A directory written by `emuctl run --results DIR`, or its "
                  "summary.csv")
      ->required();
  cmd->add_option("--x", args->x, "The column on the x axis (a --param)")
      ->required();
  cmd->add_option("--y", args->y,
                  "The column on the y axis: a captured variable, duration_ms, "
                  "max_skew_us, tasks_failed, ...")
      ->required();
  cmd->add_option("--group", args->group,
                  "One line per value of this column (another --param)");
  cmd->add_option("-o,--output", args->output,
                  "Draw FILE.svg, .png or .pdf with gnuplot; without it only "
                  "the table is printed");
  cmd->add_option("--title", args->title, "The plot's title (default: Y vs X)");
  cmd->add_flag("--logx", args->log_x, "Logarithmic x axis");
  cmd->add_flag("--logy", args->log_y, "Logarithmic y axis");
  cmd->add_flag("--include-failed", args->include_failed,
                "Keep runs whose state is not succeeded (left out by default)");
  cmd->footer(
      "Rows with the same group and x (the --repeat runs of one sweep point)\n"
      "become one point: the table prints N, mean, min, max and standard\n"
      "deviation; the plot draws the mean with min..max bars. A y that is not\n"
      "a number, and runs that did not succeed, are left out with a line on\n"
      "stderr naming the run. Numeric x and groups are sorted; others keep\n"
      "the order of the file.\n\n"
      "Examples:\n"
      "  emuctl run chain exp.yaml --param rate=1,5,10 --param hops=2,4 \\\n"
      "      --repeat 3 --results out\n"
      "  emuctl plot out --x rate --y mbps --group hops -o rate.svg\n"
      "  emuctl plot out/summary.csv --x rate --y duration_ms");
  cmd->callback([&env, args] { env.exit_code = RunPlot(env, *args); });
}

}  // namespace emu::cli
