#include "cli/emuctl.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"

namespace emu::cli {

int CommandEnv::Fail(absl::string_view message) const {
  *err << "emuctl: " << message << std::endl;
  return kExitFailure;
}

absl::StatusOr<std::unique_ptr<ControllerConnection>> CommandEnv::Connect()
    const {
  absl::StatusOr<ControllerTarget> target =
      ResolveControllerTarget(connection, env_cluster);
  if (!target.ok()) return target.status();
  return std::make_unique<ControllerConnection>(*std::move(target));
}

int RunEmuctl(const std::vector<std::string>& args, const EmuctlIo& io) {
  CommandEnv env;
  env.env_cluster = io.env_cluster;
  env.self_exe = io.self_exe;
  env.path_env = io.path_env;
  env.color = io.color;
  env.in = io.in;
  env.out = io.out;
  env.err = io.err;

  CLI::App app("emuctl: deploy and inspect emulated network labs.", "emuctl");
  app.require_subcommand(1);
  app.fallthrough();  // common flags also after the verb
  app.add_option("--controller", env.connection.controller,
                 "Controller address host:port (default: from the cluster file)");
  app.add_option("--token-file", env.connection.token_file,
                 "File holding the API token (default: from the cluster file)");
  app.add_option("--cluster", env.connection.cluster_file,
                 "Cluster file (default: $EMU_CLUSTER, else " +
                     DefaultClusterFile() + ", written by `emuctl local start`)");
  app.footer(
      "Without --controller, emuctl reads the controller's address and token\n"
      "from the cluster file. Run `emuctl VERB --help` for a verb's flags.\n\n"
      "Exit status:\n"
      "  0    success\n"
      "  1    failure: bad topology, lab or node not found, controller\n"
      "       unreachable, deploy failed (emuctl prints \"emuctl: <why>\")\n"
      "  2    bad command line\n"
      "  124  exec: the command timed out and was killed\n"
      "  N    exec: the command's own exit status (128+S if signal S killed "
      "it)\n\n"
      "Examples:\n"
      "  sudo emuctl local start --hosts 2\n"
      "  emuctl validate examples/quickstart.yaml\n"
      "  emuctl up examples/quickstart.yaml\n"
      "  emuctl status quickstart\n"
      "  emuctl exec quickstart h1 -- ip -br addr\n"
      "  emuctl down quickstart\n"
      "  sudo emuctl local stop");

  AddUpCommand(app, env);
  AddValidateCommand(app, env);
  AddPlanCommand(app, env);
  AddStatusCommand(app, env);
  AddExecCommand(app, env);
  AddConsoleCommand(app, env);
  AddRestartCommand(app, env);
  AddDownCommand(app, env);
  AddHostsCommand(app, env);
  AddLocalCommand(app, env);
  AddRunCommand(app, env);

  // CLI11 reports parse errors (and --help) by exception; they stop here.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  if (!reversed.empty()) reversed.pop_back();  // program name
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, *io.out, *io.err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return env.exit_code;
}

}  // namespace emu::cli
