// `emuctl plan FILE [--strategy spread|pack] [--tolerance P] [--overcommit]
// [--json]`: where a deploy would put each node, without deploying.
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/plan_render.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

struct PlanArgs {
  std::string file;
  std::string strategy;
  double tolerance = -1;
  bool overcommit = false;
  bool json = false;
};

int RunPlan(CommandEnv& env, const PlanArgs& args) {
  absl::StatusOr<std::string> content = ReadTopologyFile(args.file);
  if (!content.ok()) return env.Fail(content.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;

  v1::PlanLabRequest request;
  SetTopologyFile(args.file, *content,
                  request.mutable_source()->mutable_file());
  if (!args.strategy.empty() || args.tolerance >= 0 || args.overcommit) {
    auto* o = request.mutable_options();
    o->set_strategy(args.strategy == "pack" ? v1::PlacementOptions::PACK
                                            : v1::PlacementOptions::SPREAD);
    if (args.tolerance >= 0) o->set_tolerance_percent(args.tolerance);
    o->set_overcommit(args.overcommit);
  }
  v1::PlanLabResponse plan;
  grpc::Status s =
      c.stub().PlanLab(c.NewContext(kUnaryTimeout).get(), request, &plan);
  if (s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // PlanLab's status only summarises a refused topology; the full list
    // of problems comes from ValidateTopology, in its response.
    v1::ValidateTopologyRequest validate;
    *validate.mutable_source() = request.source();
    v1::ValidateTopologyResponse validated;
    grpc::Status vs = c.stub().ValidateTopology(
        c.NewContext(kUnaryTimeout).get(), validate, &validated);
    if (vs.ok() && ReportRefusal(env, validated)) return kExitFailure;
  }
  if (!s.ok()) return env.Fail(c.Describe(s, "PlanLab"));
  if (args.json) {
    absl::StatusOr<std::string> rendered = ToJson(plan);
    if (!rendered.ok()) return env.Fail(rendered.status());
    *env.out << *rendered << std::flush;
  } else {
    *env.out << RenderPlan(plan) << std::flush;
  }
  return kExitOk;
}

}  // namespace

void AddPlanCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "plan", "Show where a topology's nodes would run, without deploying");
  auto args = std::make_shared<PlanArgs>();
  cmd->add_option("file", args->file, "Topology file (YAML or JSON)")
      ->required();
  cmd->add_option("--strategy", args->strategy,
                  "spread (default: share by CPUs + tolerance) or pack "
                  "(fewest hosts); overrides the file's placement:")
      ->check(CLI::IsMember({"spread", "pack"}));
  cmd->add_option("--tolerance", args->tolerance,
                  "spread: percent a host may exceed its share (default 10)")
      ->check(CLI::Range(0.0, 10000.0));
  cmd->add_flag("--overcommit", args->overcommit,
                "Allow more CPUs/memory on a host than it has");
  cmd->add_flag("--json", args->json,
                "Print the API message (PlanLabResponse) as JSON");
  cmd->footer(
      "Asks the controller to validate and place the topology on the hosts\n"
      "reachable now. Prints each host's load against its capacity and its\n"
      "balance limit, the host of every node, and the links that would cross\n"
      "hosts (carried by TCP tunnels) with their configured rates. Nothing\n"
      "is created. docs/cluster.md explains the placement.\n\n"
      "Examples:\n"
      "  emuctl plan examples/quickstart.yaml\n"
      "  emuctl plan big.yaml --strategy pack --json | jq .cut_links");
  cmd->callback([&env, args] { env.exit_code = RunPlan(env, *args); });
}

}  // namespace emu::cli
