// `emuctl up FILE`: validate, then deploy a lab, showing progress.
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/render.h"
#include "common/errno_status.h"
#include "common/grpc_limits.h"
#include "controller/topology/env_subst.h"

namespace emu::cli {
namespace {

int RunUp(CommandEnv& env, const std::string& path) {
  absl::StatusOr<std::string> content = ReadTopologyFile(path);
  if (!content.ok()) return env.Fail(content.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;

  const absl::Time start = absl::Now();
  ProgressPrinter printer(env.color);

  // Validation first: errors before anything is created, and the lab's name
  // and size for the summary.
  v1::ValidateTopologyRequest validate;
  SetTopologyFile(path, *content, validate.mutable_source()->mutable_file());
  v1::ValidateTopologyResponse validated;
  grpc::Status s = c.stub().ValidateTopology(
      c.NewContext(kUnaryTimeout).get(), validate, &validated);
  if (!s.ok()) return env.Fail(c.Describe(s, "ValidateTopology"));
  if (ReportRefusal(env, validated)) return kExitFailure;
  for (const std::string& w : validated.warnings()) {
    *env.out << printer.Warning("", w, absl::Now() - start);
  }
  // The controller answers with the lab's name and size, not its topology.
  const std::string& lab = validated.lab();
  *env.out << "[" << FormatElapsed(absl::Now() - start) << "] deploying lab "
           << validated.lab() << " (" << validated.nodes() << " nodes, "
           << validated.links() << " links) from " << path << std::endl;

  v1::DeployLabRequest request;
  *request.mutable_source() = validate.source();
  auto context = c.NewContext(kStreamTimeout);
  auto reader = c.stub().DeployLab(context.get(), request);
  v1::DeployEvent event;
  google::protobuf::RepeatedPtrField<v1::Problem> problems;
  while (reader->Read(&event)) {
    *env.out << printer.Render(event, absl::Now() - start) << std::flush;
    problems.MergeFrom(event.problems());
  }
  s = reader->Finish();
  const std::string elapsed = HumanDuration(absl::Now() - start);
  if (!s.ok()) {
    // A refused topology's problems came in the stream; the status only
    // summarises them.
    *env.err << RenderProblems(problems);
    env.Fail(c.Describe(s, "DeployLab"));
    *env.err << "emuctl: lab " << lab << " was not deployed (" << elapsed
             << "); `emuctl status " << lab << "` shows what is left"
             << std::endl;
    return kExitFailure;
  }
  if (printer.last_state() != v1::RUNNING) {
    return env.Fail(absl::StrCat(
        "lab ", lab, " is ", LabStateName(printer.last_state()),
        " after the deploy (", elapsed, "); see `emuctl status ", lab, "`"));
  }
  *env.out << "lab " << lab << " is RUNNING: " << validated.nodes()
           << " nodes, " << validated.links() << " links, " << elapsed;
  if (printer.warning_count() > 0) {
    *env.out << ", " << printer.warning_count() << " warning"
             << (printer.warning_count() == 1 ? "" : "s");
  }
  *env.out << std::endl;
  return kExitOk;
}

}  // namespace

absl::StatusOr<std::string> ReadTopologyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return ErrnoToStatus(errno, absl::StrCat("read topology ", path));
  // Refused here rather than by gRPC's "larger than max" after the upload.
  // (Leave room for the request's other fields.)
  const std::streamoff size = in.tellg();
  if (size > kMaxMessageBytes - (64 << 10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topology ", path, " is ", size, " bytes; a request may carry at most ",
        MessageLimitText(), " (common/grpc_limits.h, docs/building.md)"));
  }
  in.seekg(0);
  std::stringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return absl::InternalError(absl::StrCat("read topology ", path, ": I/O error"));
  }
  return content.str();
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

void SetTopologyFile(const std::string& path, const std::string& content,
                     v1::TopologyFile* file) {
  file->set_name(path);
  file->set_content(content);
  // Only the names the file uses: the rest of the environment (tokens,
  // paths) is none of the controller's business.
  for (const std::string& name : controller::topology::EnvNamesIn(content)) {
    std::optional<std::string> value = ProcessEnv(name);
    if (value.has_value()) (*file->mutable_env())[name] = *value;
  }
}

void AddUpCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("up", "Deploy a lab from a topology file");
  auto file = std::make_shared<std::string>();
  cmd->add_option("file", *file, "Topology file (YAML or JSON)")->required();
  cmd->footer(
      "Validates the file, then deploys it, printing one line per step\n"
      "(elapsed time, host, message); warnings are marked WARNING. On a\n"
      "failure the controller rolls the lab back and emuctl prints its\n"
      "message (naming file:line) and exits 1.\n\n"
      "Examples:\n"
      "  emuctl up examples/quickstart.yaml\n"
      "  emuctl --cluster /run/emu/dev/cluster.json up lab.yaml");
  cmd->callback([&env, file] { env.exit_code = RunUp(env, *file); });
}

}  // namespace emu::cli
