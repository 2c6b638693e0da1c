// `emuctl down LAB`: destroy a lab everywhere, showing progress.
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

int RunDown(CommandEnv& env, const std::string& lab) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  const absl::Time start = absl::Now();
  ProgressPrinter printer(env.color);
  v1::DestroyLabRequest request;
  request.set_lab(lab);
  auto context = c.NewContext(kStreamTimeout);
  auto reader = c.stub().DestroyLab(context.get(), request);
  v1::DeployEvent event;
  while (reader->Read(&event)) {
    *env.out << printer.Render(event, absl::Now() - start) << std::flush;
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return env.Fail(c.Describe(s, "DestroyLab"));
  *env.out << "lab " << lab << " destroyed in "
           << HumanDuration(absl::Now() - start) << std::endl;
  return kExitOk;
}

}  // namespace

void AddDownCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("down", "Destroy a lab on every host");
  auto lab = std::make_shared<std::string>();
  cmd->add_option("lab", *lab, "Lab name")->required();
  cmd->footer(
      "Removes the lab's nodes, links and processes from every host, also\n"
      "what a failed deploy or a crash left. Succeeds (exit 0) when the lab\n"
      "was already partly or wholly gone; exits 1 if the controller never\n"
      "heard of it or a host could not be cleaned.\n\n"
      "Examples:\n"
      "  emuctl down demo");
  cmd->callback([&env, lab] { env.exit_code = RunDown(env, *lab); });
}

}  // namespace emu::cli
