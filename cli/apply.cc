// `emuctl apply FILE [--dry-run]`: bring a running lab to an edited
// topology file, printing the difference first.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

int RunApply(CommandEnv& env, const std::string& path, bool dry_run) {
  absl::StatusOr<std::string> content = ReadTopologyFile(path);
  if (!content.ok()) return env.Fail(content.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;

  const absl::Time start = absl::Now();
  ProgressPrinter printer(env.color);
  v1::ApplyTopologyRequest request;
  SetTopologyFile(path, *content, request.mutable_source()->mutable_file());
  request.set_dry_run(dry_run);
  auto context = c.NewContext(kStreamTimeout);
  auto reader = c.stub().ApplyLab(context.get(), request);
  v1::DeployEvent event;
  google::protobuf::RepeatedPtrField<v1::Problem> problems;
  bool changed = false;
  while (reader->Read(&event)) {
    // The difference, as it is, before anything else: it is what a dry run
    // is for.
    for (const std::string& line : event.changes()) {
      *env.out << line << "\n";
      changed = true;
    }
    if (!dry_run || !event.warnings().empty()) {
      *env.out << printer.Render(event, absl::Now() - start);
    }
    *env.out << std::flush;
    problems.MergeFrom(event.problems());
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) {
    *env.err << RenderProblems(problems);
    return env.Fail(c.Describe(s, "ApplyLab"));
  }
  if (dry_run) {
    *env.out << (changed ? "dry run: nothing was changed"
                         : "no change: the lab already matches " + path)
             << std::endl;
  } else if (!changed) {
    *env.out << "no change: the lab already matches " << path << std::endl;
  } else {
    *env.out << "applied " << path << " in "
             << HumanDuration(absl::Now() - start) << std::endl;
  }
  return kExitOk;
}

}  // namespace

void AddApplyCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "apply", "Change a running lab to match an edited topology file");
  auto file = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  cmd->add_option("file", *file, "Topology file (YAML or JSON)")->required();
  cmd->add_flag("--dry-run", *dry_run,
                "Print the difference only; change nothing");
  cmd->footer(
      "Compares the file with the running lab of the same name and prints\n"
      "the difference, one line per change:\n"
      "  + node r3 (host h2)          a node added (and where it runs)\n"
      "  - link r1:eth2<->r3:eth1     a link removed\n"
      "  ~ link r1:eth1<->r2:eth1 rate 10Mbit/s -> 20Mbit/s\n"
      "  ~ node r1: eth1 addresses 10.0.1.1/24 -> 10.0.1.5/24\n"
      "then applies it: nodes and links added or removed, link conditions,\n"
      "addresses, routes and sysctls changed, nothing else touched (commands\n"
      "in other nodes keep running, traffic on other links does not stop).\n"
      "Existing nodes stay on their hosts; new nodes' exec lines run. A\n"
      "change that needs a node re-created (kind, image, resources, MAC,\n"
      "MTU) is refused: remove the node in one apply, add it in the next.\n"
      "On a failure every host touched is rolled back to the previous\n"
      "topology and emuctl exits 1 naming what failed. Applying the same\n"
      "file twice changes nothing. The lab must be RUNNING.\n\n"
      "Examples:\n"
      "  emuctl apply --dry-run lab.yaml\n"
      "  emuctl apply lab.yaml");
  cmd->callback([&env, file, dry_run] {
    env.exit_code = RunApply(env, *file, *dry_run);
  });
}

}  // namespace emu::cli
