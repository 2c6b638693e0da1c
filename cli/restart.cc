// `emuctl restart LAB NODE`: reboot a QEMU guest with its links.
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/node_agent.h"
#include "common/auth.h"

namespace emu::cli {
namespace {

struct RestartArgs {
  std::string lab;
  std::string node;
};

int RunRestart(CommandEnv& env, const RestartArgs& args) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto agent = FindGuestAgent(**conn, args.lab, args.node);
  if (!agent.ok()) return env.Fail(agent.status());
  grpc::ClientContext ctx;
  AddAuthToken(&ctx, (*conn)->target().token);
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(5)));
  v1::RestartNodeRequest req;
  req.set_lab(agent->lab_key);
  req.set_node(args.node);
  v1::RestartNodeResponse resp;
  grpc::Status s = agent->stub->RestartNode(&ctx, req, &resp);
  if (!s.ok()) {
    return env.Fail(absl::StrCat("restart ", args.lab, "/", args.node,
                                 " on host ", agent->host, ": ",
                                 s.error_message()));
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
