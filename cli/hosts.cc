// `emuctl hosts [--json]`: the physical hosts and what they can do.
#include "cli/commands.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

int RunHosts(CommandEnv& env, bool json) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::ListHostsResponse hosts;
  grpc::Status s = c.stub().ListHosts(c.NewContext(kUnaryTimeout).get(),
                                      v1::ListHostsRequest(), &hosts);
  if (!s.ok()) return env.Fail(c.Describe(s, "ListHosts"));
  if (json) {
    absl::StatusOr<std::string> rendered = ToJson(hosts);
    if (!rendered.ok()) return env.Fail(rendered.status());
    *env.out << *rendered << std::flush;
  } else {
    *env.out << RenderHosts(hosts) << std::flush;
  }
  return kExitOk;
}

}  // namespace

void AddHostsCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("hosts", "List the physical hosts (agents)");
  auto json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json, "Print the API message as JSON for scripts");
  cmd->footer(
      "One line per host: HOST ADDRESS REACHABLE CPUS MEM KVM QEMU NETEM\n"
      "QDISCS; unreachable hosts are explained below the table.\n\n"
      "Examples:\n"
      "  emuctl hosts\n"
      "  emuctl hosts --json");
  cmd->callback([&env, json] { env.exit_code = RunHosts(env, *json); });
}

}  // namespace emu::cli
