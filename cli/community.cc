// `emuctl community ls [--json]`: the community endpoints (exported
// segments, docs/community.md) the caller may attach to, with who is
// attached.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
}

}  // namespace emu::cli
