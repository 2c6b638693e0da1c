// `emuctl community ls [--json]`: the community endpoints (exported
// segments and interfaces, docs/community.md) the caller may attach to,
// with who is attached; `emuctl community export LAB SEGMENT|NODE:IFACE
// --name N [--to USER,...|all]` and `emuctl community unexport LAB N` on a
// running lab (ControllerService.SetCommunityExport).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/table.h"

namespace emu::cli {
namespace {

std::string RenderCommunity(const v1::ListCommunityResponse& resp) {
  if (resp.endpoints().empty()) {
    return "no community endpoints you may attach to\n";
  }
  Table table({"ENDPOINT", "LAB", "SEGMENT", "TO", "STATE", "ATTACHED"});
  for (const auto& e : resp.endpoints()) {
    std::vector<std::string> attached;
    for (const auto& a : e.attached()) {
      attached.push_back(absl::StrCat(
          a.owner(), "/", a.lab(), " ", a.endpoint(),
          a.state() == "attached" ? "" : absl::StrCat(" (", a.state(), ")")));
    }
    table.AddRow({absl::StrCat(e.owner(), "/", e.name()),
                  absl::StrCat(e.owner(), "/", e.lab()), e.segment(),
                  absl::StrJoin(e.to(), ","), e.state(),
                  attached.empty() ? "-" : absl::StrJoin(attached, "; ")});
  }
  return table.Render();
}

int RunCommunityLs(CommandEnv& env, bool json) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::ListCommunityResponse resp;
  grpc::Status s = c.stub().ListCommunity(c.NewContext(kUnaryTimeout).get(),
                                          v1::ListCommunityRequest(), &resp);
  if (!s.ok()) return env.Fail(c.Describe(s, "ListCommunity"));
  if (json) {
    absl::StatusOr<std::string> rendered = ToJson(resp);
    if (!rendered.ok()) return env.Fail(rendered.status());
    *env.out << *rendered << std::flush;
  } else {
    *env.out << RenderCommunity(resp) << std::flush;
  }
  return kExitOk;
}

struct ExportArgs {
  std::string lab;
  std::string what;  // SEGMENT or NODE:IFACE
  std::string name;
  std::string to = "all";
};

int RunCommunityExport(CommandEnv& env, const ExportArgs& args, bool remove) {
  v1::SetCommunityExportRequest request;
  request.set_lab(args.lab);
  request.set_remove(remove);
  v1::Export* spec = request.mutable_spec();
  spec->set_name(args.name);
  if (!remove) {
    const std::vector<std::string> parts = absl::StrSplit(args.what, ':');
    if (parts.size() == 2 && !parts[0].empty() && !parts[1].empty()) {
      spec->mutable_interface()->set_node(parts[0]);
      spec->mutable_interface()->set_interface(parts[1]);
    } else if (parts.size() == 1 && !parts[0].empty()) {
      spec->set_segment(parts[0]);
    } else {
      return env.Fail(absl::InvalidArgumentError(
          absl::StrCat("\"", args.what,
                       "\": name a segment node (sw1) or a free interface "
                       "(NODE:IFACE)")));
    }
    for (absl::string_view who :
         absl::StrSplit(args.to, ',', absl::SkipEmpty())) {
      spec->add_to(std::string(who));
    }
  }
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  v1::SetCommunityExportResponse resp;
  // Adding an interface export creates a bridge on a host (an apply):
  // bounded as a stream is.
  grpc::Status s = c.stub().SetCommunityExport(
      c.NewContext(kStreamTimeout).get(), request, &resp);
  if (!s.ok()) return env.Fail(c.Describe(s, "SetCommunityExport"));
  if (remove) {
    *env.out << "unexported " << args.name << " from lab " << args.lab
             << "; labs attached to it are detached\n";
  } else {
    v1::ListCommunityResponse shown;
    *shown.add_endpoints() = resp.endpoint();
    *env.out << RenderCommunity(shown);
  }
  *env.out << std::flush;
  return kExitOk;
}

}  // namespace

void AddCommunityCommand(CLI::App& app, CommandEnv& env) {
  auto* community = app.add_subcommand(
      "community", "Community networks: segments labs export to other users");
  community->require_subcommand(1);
  auto* ls = community->add_subcommand(
      "ls", "List the community endpoints you may attach to, and who is");
  auto json = std::make_shared<bool>(false);
  ls->add_flag("--json", *json, "Print the API message as JSON for scripts");
  ls->footer(
      "One line per endpoint: ENDPOINT (OWNER/NAME, what a link's\n"
      "\"community:OWNER/NAME\" end names), the exporting lab, the segment,\n"
      "who it is exported to, its state (up while the exporting lab runs)\n"
      "and the labs attached to it (OWNER/LAB NODE:IFACE).\n"
      "A lab exports in its topology file (community: {export: [...]});\n"
      "docs/community.md.\n\n"
      "Examples:\n"
      "  emuctl community ls\n"
      "  emuctl community ls --json");
  ls->callback([&env, json] { env.exit_code = RunCommunityLs(env, *json); });

  auto args = std::make_shared<ExportArgs>();
  auto* ex = community->add_subcommand(
      "export", "Offer a segment or free interface of a running lab to others");
  ex->add_option("lab", args->lab, "Your lab (or OWNER/LAB as an operator)")
      ->required();
  ex->add_option("what", args->what,
                 "The segment node (sw1) or a free interface (r1:eth9)")
      ->required();
  ex->add_option("--name", args->name,
                 "The community name others attach to (OWNER/NAME)")
      ->required();
  ex->add_option("--to", args->to,
                 "Users who may attach, comma-separated, or all")
      ->capture_default_str();
  ex->footer(
      "Exports a segment (switch, hub, bridge) or a free interface (one no\n"
      "link uses; one lab at a time may attach to it) of a RUNNING lab,\n"
      "as a topology file's community: {export: [...]} does. Stored with\n"
      "the lab: it survives a controller restart and `emuctl apply FILE`\n"
      "(until unexported; it goes with the lab). Labs whose links name it\n"
      "(community:OWNER/NAME) attach at once. Needs the operator role.\n\n"
      "Examples:\n"
      "  emuctl community export backbone sw1 --name ix1 --to bob,carol\n"
      "  emuctl community export backbone r1:eth9 --name p1 --to all");
  ex->callback([&env, args] {
    env.exit_code = RunCommunityExport(env, *args, /*remove=*/false);
  });
  auto* unex = community->add_subcommand(
      "unexport", "Withdraw a community export of a running lab");
  unex->add_option("lab", args->lab, "Your lab (or OWNER/LAB)")->required();
  unex->add_option("name", args->name, "The community name")->required();
  unex->footer(
      "Removes the export (made in the file or by `community export`);\n"
      "labs attached to it stay up, their attachment down (DEGRADED),\n"
      "until it is exported again.\n\n"
      "Example:\n"
      "  emuctl community unexport backbone ix1");
  unex->callback([&env, args] {
    env.exit_code = RunCommunityExport(env, *args, /*remove=*/true);
  });
}

}  // namespace emu::cli
