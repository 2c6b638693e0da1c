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
  return OpenConnection(connection, connection_env, launcher);
}

int RunEmuctl(const std::vector<std::string>& args, const EmuctlIo& io) {
  CommandEnv env;
  env.env_cluster = io.env_cluster;
  env.connection.token = io.env_token;
  env.connection_env.cluster = io.env_cluster;
  env.connection_env.ssh = io.env_ssh;
  env.connection_env.ssh_opts = io.env_ssh_opts;
  env.connection_env.remotes_file = io.remotes_file;
  env.connection_env.runtime_dir = io.runtime_dir;
  env.connection_env.ssh_persist = io.env_ssh_persist;
  PosixProcessLauncher posix_launcher;
  env.launcher = io.launcher != nullptr ? io.launcher : &posix_launcher;
  env.self_exe = io.self_exe;
  env.path_env = io.path_env;
  env.color = io.color;
  env.in = io.in;
  env.out = io.out;
  env.err = io.err;

  CLI::App app("emuctl: deploy and inspect emulated network labs.", "emuctl");
  app.require_subcommand(1);
  app.fallthrough();  // common flags also after the verb
  app.add_option(
      "--controller", env.connection.controller,
      "Controller address host:port (default: from the cluster file)");
  app.add_option("--token-file", env.connection.token_file,
                 "File holding the API token: the cluster's, or a user's "
                 "(`emuctl user add`) (default: $EMU_TOKEN, else the "
                 "cluster file's)");
  app.add_option("--ca-file", env.connection.ca_file,
                 "The cluster's CA certificate (ca.crt of `emuctl cluster "
                 "init`): speak TLS to the controller and check its "
                 "certificate (default: from the cluster file)");
  app.add_option("--cluster", env.connection.cluster_file,
                 "Cluster file (default: $EMU_CLUSTER, else " +
                     DefaultClusterFile() +
                     ", written by `emuctl local start`)");
  app.add_option("--ssh", env.connection.ssh,
                 "Reach the controller through this SSH gateway, "
                 "[user@]gateway[:port], with your own ssh client (default: "
                 "$EMU_SSH)");
  app.add_option("--ssh-target", env.connection.ssh_target,
                 "With --ssh: the controller's address on the gateway, "
                 "HOST:PORT or unix:/path (default: 127.0.0.1:7470)");
  app.add_option("--ssh-opts", env.connection.ssh_opts,
                 "With --ssh: extra ssh options, space-separated, e.g. "
                 "\"-F ./ssh_config\" (default: $EMU_SSH_OPTS)");
  app.add_option("--ssh-token-path", env.connection.ssh_token_path,
                 "With --ssh: read the token from this file on the gateway "
                 "(ssh GATEWAY cat PATH) unless --token-file is given");
  app.add_option("--ssh-ca-path", env.connection.ssh_ca_path,
                 "With --ssh: read the cluster CA certificate from this file "
                 "on the gateway and speak TLS to the controller, unless "
                 "--ca-file is given");
  app.add_option("--remote", env.connection.remote,
                 "Use the SSH gateway saved as NAME (`emuctl remote add`)");
  app.footer(
      "Without --controller, emuctl reads the controller's address and token\n"
      "from the cluster file. With --ssh, --remote, $EMU_SSH or a default\n"
      "remote it runs `ssh -N -L` to the controller on the gateway and talks\n"
      "through that tunnel (ssh-agent, ~/.ssh/config and known_hosts apply).\n"
      "A user's token (`emuctl user add`) comes from --token-file, else\n"
      "$EMU_TOKEN, else the cluster file; with it, `ls`/`status` show that\n"
      "user's labs and those shared with them (OWNER/LAB).\n"
      "Run `emuctl VERB --help` for a verb's flags.\n\n"
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
      "  emuctl apply --dry-run quickstart-edited.yaml\n"
      "  emuctl exec quickstart h1 -- ip -br addr\n"
      "  emuctl capture quickstart r1:eth1 -w - | tshark -r -\n"
      "  emuctl stats quickstart --watch\n"
      "  emuctl down quickstart\n"
      "  emuctl --ssh admin@gateway --ssh-target unix:/run/emu/controller.sock "
      "hosts\n"
      "  sudo emuctl local stop");

  AddUpCommand(app, env);
  AddApplyCommand(app, env);
  AddLinkCommand(app, env);
  AddLinktestCommand(app, env);
  AddValidateCommand(app, env);
  AddPlanCommand(app, env);
  AddStatusCommand(app, env);
  AddGraphCommand(app, env);
  AddPlotCommand(app, env);
  AddExecCommand(app, env);
  AddCaptureCommand(app, env);
  AddStatsCommand(app, env);
  AddConsoleCommand(app, env);
  AddRestartCommand(app, env);
  AddDownCommand(app, env);
  AddHostsCommand(app, env);
  AddImageCommand(app, env);
  AddLocalCommand(app, env);
  AddRunCommand(app, env);
  AddRemoteCommand(app, env);
  AddClusterCommand(app, env);
  AddUserCommand(app, env);
  AddShareCommands(app, env);
  AddCommunityCommand(app, env);

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
