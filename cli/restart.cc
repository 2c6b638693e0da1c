// `emuctl restart LAB NODE`: reboot a QEMU guest with its links, through
// the controller (ControllerService.RestartNode, relayed to the agent).
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/connection.h"

namespace emu::cli {
namespace {

struct RestartArgs {
  std::string lab;
  std::string node;
};

int RunRestart(CommandEnv& env, const RestartArgs& args) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::RestartNodeRequest req;
  req.set_lab(args.lab);
  req.set_node(args.node);
  v1::RestartNodeResponse resp;
  grpc::Status s =
      c.stub().RestartNode(c.NewContext(absl::Minutes(5)).get(), req, &resp);
  if (!s.ok()) {
    return env.Fail(
        c.Describe(s, absl::StrCat("restart ", args.lab, "/", args.node)));
  }
  *env.out << resp.detail() << std::endl;
  return kExitOk;
}

}  // namespace

void AddRestartCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand(
      "restart", "Restart a QEMU guest (kill, boot, configure, exec lines)");
  auto args = std::make_shared<RestartArgs>();
  cmd->add_option("lab", args->lab, "Lab name")->required();
  cmd->add_option("node", args->node, "Node name (kind qemu)")->required();
  cmd->footer(
      "The guest's QEMU is stopped (QMP quit, then killed) and started again\n"
      "on the same links; its interfaces, addresses, routes and sysctls are\n"
      "configured again and its exec lines run again. Prints how long it\n"
      "took and, when QEMU had died, why.\n\n"
      "Example:\n  emuctl restart demo vm1");
  cmd->callback([&env, args] { env.exit_code = RunRestart(env, *args); });
}

}  // namespace emu::cli
