// `emuctl validate FILE`: check a topology without deploying it.
#include "absl/strings/str_cat.h"
#include "cli/commands.h"

namespace emu::cli {
namespace {

int RunValidate(CommandEnv& env, const std::string& path) {
  absl::StatusOr<std::string> content = ReadTopologyFile(path);
  if (!content.ok()) return env.Fail(content.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;

  v1::ValidateTopologyRequest request;
  request.mutable_source()->mutable_file()->set_name(path);
  request.mutable_source()->mutable_file()->set_content(*content);
  v1::ValidateTopologyResponse response;
  grpc::Status s = c.stub().ValidateTopology(c.NewContext(kUnaryTimeout).get(),
                                             request, &response);
  if (!s.ok()) return env.Fail(c.Describe(s, "ValidateTopology"));
  const v1::Topology& t = response.topology();
  *env.out << path << ": OK (lab " << t.name() << ": " << t.nodes_size()
           << " nodes, " << t.links_size() << " links)\n";
  for (const std::string& w : response.warnings()) {
    *env.out << "warning: " << w << "\n";
  }
  env.out->flush();
  return kExitOk;
}

}  // namespace

void AddValidateCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "validate", "Check a topology file without deploying it");
  auto file = std::make_shared<std::string>();
  cmd->add_option("file", *file, "Topology file (YAML or JSON)")->required();
  cmd->footer(
      "Prints OK and any warnings (exit 0), or the errors, each naming\n"
      "file:line (exit 1). Nothing is created.\n\n"
      "Examples:\n"
      "  emuctl validate examples/two-nodes.yaml");
  cmd->callback([&env, file] { env.exit_code = RunValidate(env, *file); });
}

}  // namespace emu::cli
