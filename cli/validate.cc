// `emuctl validate FILE`: check a topology without deploying it, on the
// controller when there is one, else offline with the controller's own
// parser and validator.
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "controller/topology/problems.h"
#include "controller/topology/topology_parser.h"

namespace emu::cli {
namespace {

// Why the controller could not be asked, or OK with its answer in
// `response`. NOT_FOUND/UNAVAILABLE mean "no controller": the caller
// validates offline.
absl::Status AskController(CommandEnv& env, const std::string& path,
                           const std::string& content,
                           v1::ValidateTopologyResponse* response,
                           std::string* rpc_error) {
  auto conn = env.Connect();
  if (!conn.ok()) return conn.status();
  ControllerConnection& c = **conn;
  v1::ValidateTopologyRequest request;
  SetTopologyFile(path, content, request.mutable_source()->mutable_file());
  grpc::Status s = c.stub().ValidateTopology(c.NewContext(kUnaryTimeout).get(),
                                             request, response);
  if (s.ok()) return absl::OkStatus();
  *rpc_error = c.Describe(s, "ValidateTopology");
  // Only a controller that could not be reached counts as "no controller";
  // anything it said itself is its answer.
  const bool unreachable =
      s.error_code() == grpc::StatusCode::UNAVAILABLE && !c.Reached();
  return unreachable ? absl::UnavailableError(*rpc_error)
                     : absl::UnknownError(*rpc_error);
}

int RunValidate(CommandEnv& env, const std::string& path) {
  absl::StatusOr<std::string> content = ReadTopologyFile(path);
  if (!content.ok()) return env.Fail(content.status());

  v1::ValidateTopologyResponse response;
  std::string rpc_error;
  absl::Status asked =
      AskController(env, path, *content, &response, &rpc_error);
  if (absl::IsNotFound(asked) || absl::IsUnavailable(asked)) {
    // A user checking a file on a laptop has no cluster: the same parser and
    // validator run here. Placement needs hosts, so it is not checked.
    auto offline = controller::topology::ToValidateResponse(
        controller::topology::ParseAndValidateTopology(
            *content, path, controller::topology::ParseOptions{ProcessEnv}),
        path);
    if (!offline.ok()) return env.Fail(offline.status());
    response = *std::move(offline);
    *env.err << "emuctl: no controller: validated offline, host capabilities "
                "not checked"
             << std::endl;
  } else if (!asked.ok()) {
    return env.Fail(rpc_error.empty() ? std::string(asked.message())
                                      : rpc_error);
  }
  if (ReportRefusal(env, response)) return kExitFailure;
  *env.out << path << ": OK (lab " << response.lab() << ": " << response.nodes()
           << " nodes, " << response.links() << " links)\n";
  for (const std::string& w : response.warnings()) {
    *env.out << "warning: " << w << "\n";
  }
  env.out->flush();
  return kExitOk;
}

}  // namespace

bool ReportRefusal(CommandEnv& env,
                   const v1::ValidateTopologyResponse& response) {
  int errors = 0;
  for (const v1::Problem& p : response.problems()) {
    if (p.severity() == v1::Problem::ERROR) ++errors;
  }
  if (errors == 0 && response.valid()) return false;
  if (errors == 0) {
    // Refused without a reason: a server that does not say (should not
    // happen; say so rather than print OK).
    env.Fail("the controller refused the topology without naming a problem");
    return true;
  }
  *env.err << RenderProblems(response.problems());
  *env.err << "emuctl: topology refused: " << errors << " error"
           << (errors == 1 ? "" : "s") << std::endl;
  return true;
}

void AddValidateCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("validate",
                                 "Check a topology file without deploying it");
  auto file = std::make_shared<std::string>();
  cmd->add_option("file", *file, "Topology file (YAML or JSON)")->required();
  cmd->footer(
      "Prints OK and any warnings (exit 0), or the errors, each naming\n"
      "file:line (the first 20, then how many more), exit 1. Nothing is\n"
      "created. Without a reachable controller the file is checked here,\n"
      "with the same parser and validator, except what needs the hosts\n"
      "(capabilities, placement: `emuctl plan`).\n\n"
      "Examples:\n"
      "  emuctl validate examples/quickstart.yaml\n"
      "  emuctl validate examples/containerlab-linux.clab.yml");
  cmd->callback([&env, file] { env.exit_code = RunValidate(env, *file); });
}

}  // namespace emu::cli
