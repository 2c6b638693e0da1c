// `emuctl stats LAB [--watch] [--json] [--interval D]`: counters of every
// link direction and node of a lab, with current rates from two samples
// (docs/observability.md, "Counters").
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/render.h"
#include "cli/stats_render.h"
#include "common/counter_rates.h"

namespace emu::cli {
namespace {

struct StatsArgs {
  std::string lab;
  bool watch = false;
  bool json = false;
  std::string interval = "1s";
  int count = 0;  // --watch: stop after this many samples (0 = never)
};

int RunStats(CommandEnv& env, const StatsArgs& args) {
  absl::StatusOr<absl::Duration> interval =
      ParseTimeout(args.interval, "--interval");
  if (!interval.ok()) return env.Fail(interval.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::GetLabStatsRequest request;
  request.set_lab(args.lab);
  auto sample = [&]() -> absl::StatusOr<v1::LabCounters> {
    v1::LabCounters counters;
    grpc::Status s = c.stub().GetLabStats(c.NewContext(kUnaryTimeout).get(),
                                          request, &counters);
    if (!s.ok()) return absl::UnavailableError(c.Describe(s, "GetLabStats"));
    return counters;
  };
  auto show = [&](const v1::LabCounters& counters) -> absl::Status {
    if (args.json) {
      absl::StatusOr<std::string> rendered = ToJson(counters);
      if (!rendered.ok()) return rendered.status();
      std::string line = *rendered;
      // One object per line under --watch (JSON Lines).
      if (args.watch) line.erase(std::remove(line.begin(), line.end(), '\n'),
                                 line.end());
      *env.out << line << "\n" << std::flush;
    } else {
      if (args.watch) {
        *env.out << "--- " << args.lab << " at "
                 << absl::FormatTime("%H:%M:%S", absl::Now(),
                                     absl::LocalTimeZone())
                 << "\n";
      }
      *env.out << RenderLabCounters(counters, true) << std::flush;
    }
    return absl::OkStatus();
  };

  absl::StatusOr<v1::LabCounters> earlier = sample();
  if (!earlier.ok()) return env.Fail(earlier.status());
  for (int shown = 0; args.count == 0 || shown < args.count; ++shown) {
    absl::SleepFor(*interval);
    absl::StatusOr<v1::LabCounters> later = sample();
    if (!later.ok()) return env.Fail(later.status());
    if (absl::Status s = show(WithRates(*earlier, *later)); !s.ok()) {
      return env.Fail(s);
    }
    if (!args.watch) break;
    earlier = std::move(later);
  }
  return kExitOk;
}

}  // namespace

void AddStatsCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "stats", "Counters of a lab's links and nodes, with current rates");
  auto args = std::make_shared<StatsArgs>();
  cmd->add_option("lab", args->lab, "Lab name (or OWNER/LAB)")->required();
  cmd->add_flag("-w,--watch", args->watch,
                "Print again every --interval until interrupted");
  cmd->add_flag("--json", args->json,
                "Print the API message (emu.v1.LabCounters) as JSON; one "
                "object per line with --watch");
  cmd->add_option("--interval", args->interval,
                  "Time between the two samples a rate is computed from")
      ->capture_default_str();
  cmd->add_option("--count", args->count,
                  "With --watch: stop after this many samples");
  cmd->footer(
      "Per link direction: frames and bytes SENT by the sending end (after\n"
      "its qdisc), DELIVERED to the receiving end, DROPPED on the way (qdisc,\n"
      "userspace engine, tunnel), BACKLOG queued now, and the current RATE\n"
      "of delivered traffic over --interval. Per node: its processes' CPU\n"
      "time, CPU use over --interval (100 = one core) and resident memory\n"
      "(a guest: its QEMU process). Counters count from the link's creation.\n\n"
      "Examples:\n"
      "  emuctl stats demo\n"
      "  emuctl stats demo --watch --interval 2s\n"
      "  emuctl stats demo --json | jq '.links[].a_to_b.rate_bits_per_second'");
  cmd->callback([&env, args] { env.exit_code = RunStats(env, *args); });
}

}  // namespace emu::cli
