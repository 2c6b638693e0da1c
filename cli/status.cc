// `emuctl status [LAB] [--json]`: the labs, or one lab in detail.
#include <algorithm>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/render.h"

namespace emu::cli {
namespace {

struct StatusArgs {
  std::string lab;
  bool json = false;
  LabView view;
};

int Print(CommandEnv& env, const google::protobuf::Message& message, bool json,
          const std::string& text) {
  if (!json) {
    *env.out << text << std::flush;
    return kExitOk;
  }
  absl::StatusOr<std::string> rendered = ToJson(message);
  if (!rendered.ok()) return env.Fail(rendered.status());
  *env.out << *rendered << std::flush;
  return kExitOk;
}

int RunStatus(CommandEnv& env, const StatusArgs& args) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  if (args.lab.empty()) {
    v1::ListLabsResponse labs;
    grpc::Status s = c.stub().ListLabs(c.NewContext(kUnaryTimeout).get(),
                                       v1::ListLabsRequest(), &labs);
    if (!s.ok()) return env.Fail(c.Describe(s, "ListLabs"));
    return Print(env, labs, args.json,
                 args.json ? "" : RenderLabList(labs, absl::Now()));
  }
  v1::GetLabRequest request;
  request.set_lab(args.lab);
  // A table lists at most max_nodes / max_links entries; a bigger lab is
  // summarised, for which the controller need not send each node's
  // interfaces and each link's conditions (a 10,000-node lab: megabytes).
  if (!args.json && !args.view.list_nodes && !args.view.list_links) {
    request.set_details_up_to(
        std::min(args.view.max_nodes, args.view.max_links));
  }
  v1::Lab lab;
  grpc::Status s =
      c.stub().GetLab(c.NewContext(kUnaryTimeout).get(), request, &lab);
  if (!s.ok()) return env.Fail(c.Describe(s, "GetLab"));
  if (RenderNeedsDetails(lab, args.view)) {  // a filter left a table to list
    request.set_details_up_to(0);
    lab.Clear();
    s = c.stub().GetLab(c.NewContext(kUnaryTimeout).get(), request, &lab);
    if (!s.ok()) return env.Fail(c.Describe(s, "GetLab"));
  }
  return Print(env, lab, args.json, args.json ? "" : RenderLab(lab, absl::Now(), args.view));
}

}  // namespace

void AddStatusCommand(CLI::App& app, CommandEnv& env) {
  auto* cmd = app.add_subcommand("status", "Show labs, or one lab in detail");
  auto args = std::make_shared<StatusArgs>();
  cmd->add_option("lab", args->lab, "Lab name (omit for the list of labs)");
  cmd->add_flag("--json", args->json,
                "Print the API message as JSON (proto field names) for scripts");
  cmd->add_flag("--nodes", args->view.list_nodes,
                "List every node, however many (a lab with more than 50 is "
                "summarised per host)");
  cmd->add_flag("--links", args->view.list_links,
                "List every link, however many (more than 50 are summarised "
                "per host pair)");
  cmd->add_option("--host", args->view.host,
                  "Only nodes on this host and links with an end on it");
  cmd->add_option("--node", args->view.node_glob,
                  "Only nodes whose name matches this glob ('r*', 'leaf-1?') "
                  "and their links");
  cmd->add_flag("--problems", args->view.problems,
                "Only guests that are not ready and links that are not up");
  cmd->footer(
      "Without LAB: one line per lab (NAME STATE NODES LINKS AGE).\n"
      "With LAB: its state and error, its nodes (per interface, with\n"
      "addresses) and its links (per direction: rate, delay, loss, engine).\n"
      "A lab with more than 50 nodes or links is summarised (counts per host,\n"
      "kind, engine, and what is not working); --nodes/--links list them, and\n"
      "--host, --node and --problems narrow both tables. --json prints the\n"
      "whole lab whatever the filters.\n\n"
      "Examples:\n"
      "  emuctl status\n"
      "  emuctl status demo\n"
      "  emuctl status fabric --problems\n"
      "  emuctl status fabric --host h2 --node 'leaf*' --links\n"
      "  emuctl status demo --json | jq -r .state");
  cmd->callback([&env, args] { env.exit_code = RunStatus(env, *args); });
}

}  // namespace emu::cli
