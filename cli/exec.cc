// `emuctl exec LAB NODE -- CMD...`: run a command in a node; emuctl's exit
// status is the command's.
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/wait_ready.h"

namespace emu::cli {
namespace {

struct ExecArgs {
  std::string lab;
  std::string node;
  std::vector<std::string> command;
  std::string timeout = "60s";
  bool send_stdin = false;
};

int RunExec(CommandEnv& env, const ExecArgs& args, std::istream& in) {
  absl::StatusOr<absl::Duration> timeout = ParseTimeout(args.timeout, "--timeout");
  if (!timeout.ok()) return env.Fail(timeout.status());
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  // A lab just deployed or whose tunnels reconnect is waited for (one line
  // on stderr says so) instead of running the command on a half-ready lab.
  absl::Status ready = WaitUntilLabReady(c, args.lab, *env.err);
  if (!ready.ok()) return env.Fail(ready);

  v1::LabExecRequest request;
  request.set_lab(args.lab);
  request.set_node(args.node);
  for (const std::string& a : args.command) request.add_argv(a);
  request.set_timeout_ms(
      static_cast<uint64_t>(absl::ToInt64Milliseconds(*timeout)));
  if (args.send_stdin) {
    request.set_stdin(std::string(std::istreambuf_iterator<char>(in),
                                  std::istreambuf_iterator<char>()));
  }
  v1::ExecResponse response;
  grpc::Status s = c.stub().Exec(c.NewContext(*timeout + kExecGrace).get(),
                                 request, &response);
  if (!s.ok()) return env.Fail(c.Describe(s, "Exec"));

  // The command's output, byte for byte.
  env.out->write(response.stdout().data(), response.stdout().size());
  env.out->flush();
  env.err->write(response.stderr().data(), response.stderr().size());
  env.err->flush();
  if (response.timed_out()) {
    *env.err << "emuctl: command timed out after " << HumanDuration(*timeout)
             << " in " << args.lab << "/" << args.node << " and was killed"
             << std::endl;
    return kExitTimedOut;
  }
  if (response.exit_code() < 0 || response.exit_code() > 255) return 255;
  return response.exit_code();
}

}  // namespace

void AddExecCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("exec", "Run a command inside a node of a lab");
  auto args = std::make_shared<ExecArgs>();
  cmd->add_option("lab", args->lab, "Lab name")->required();
  cmd->add_option("node", args->node, "Node name")->required();
  cmd->add_option("command", args->command,
                  "The command and its arguments, after --")
      ->required();
  cmd->add_option("--timeout", args->timeout,
                  "Kill the command after this long (60s, 2m, 1m30s, 90)")
      ->capture_default_str();
  cmd->add_flag("-i,--stdin", args->send_stdin,
                "Send emuctl's stdin (read to EOF) to the command");
  cmd->footer(
      "The command's stdout and stderr are copied to emuctl's unchanged, and\n"
      "emuctl exits with the command's exit status (128+N if signal N killed\n"
      "it). If the command times out it is killed and emuctl exits 124. A lab\n"
      "still converging (DEPLOYING, or tunnels connecting) is waited for, up\n"
      "to 60 s, with one line on stderr. If\n"
      "emuctl cannot run it at all (unknown lab/node, controller unreachable)\n"
      "it prints a line starting with \"emuctl:\" on stderr and exits 1.\n\n"
      "Examples:\n"
      "  emuctl exec demo r1 -- ip -br addr\n"
      "  emuctl exec demo r1 --timeout 10s -- ping -c 3 10.0.0.2\n"
      "  echo hello | emuctl exec -i demo r1 -- cat");
  cmd->callback([&env, args] { env.exit_code = RunExec(env, *args, *env.in); });
}

}  // namespace emu::cli
