// `emuctl link set LAB LINK [--dir a-to-b|b-to-a] --delay 50ms --loss 1% ...`:
// change one link's conditions in place (ControllerService.SetLinkParams).
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "linkemu/link_param_text.h"

namespace emu::cli {
namespace {

struct LinkSetArgs {
  std::string lab;
  std::string link;
  std::string dir;
  // key -> the value given (only the keys on the command line).
  std::map<std::string, std::string> values;
};

int RunLinkSet(CommandEnv& env, const LinkSetArgs& args) {
  v1::LabSetLinkParamsRequest req;
  req.set_lab(args.lab);
  req.set_link(args.link);
  if (args.dir == "a-to-b") {
    req.set_direction(v1::LabSetLinkParamsRequest::DIRECTION_A_TO_B);
  } else if (args.dir == "b-to-a") {
    req.set_direction(v1::LabSetLinkParamsRequest::DIRECTION_B_TO_A);
  } else if (!args.dir.empty() && args.dir != "both") {
    *env.err << "emuctl: --dir " << args.dir
             << ": use a-to-b, b-to-a or both\n";
    return kExitUsage;
  }
  for (const auto& [key, text] : args.values) {
    auto field = linkemu::SetLinkParamFromText(key, text, req.mutable_params());
    if (!field.ok()) {
      *env.err << "emuctl: --" << key << ": " << field.status().message()
               << "\n";
      return kExitUsage;
    }
    req.add_fields(*field);
  }
  if (req.fields().empty()) {
    *env.err << "emuctl: link set: give at least one condition, e.g. "
                "--delay 50ms (see emuctl link set --help)\n";
    return kExitUsage;
  }
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  ControllerConnection& c = **conn;
  const absl::Time start = absl::Now();
  auto context = c.NewContext(kStreamTimeout);
  v1::LabSetLinkParamsResponse resp;
  grpc::Status s = c.stub().SetLinkParams(context.get(), req, &resp);
  if (!s.ok()) return env.Fail(c.Describe(s, "SetLinkParams"));
  for (const std::string& line : resp.changes()) *env.out << line << "\n";
  if (resp.changes().empty()) {
    *env.out << "no change: link " << args.link << " already has them\n";
  } else {
    *env.out << "changed in " << HumanDuration(absl::Now() - start) << "\n";
  }
  *env.out << std::flush;
  return kExitOk;
}

}  // namespace

void AddLinkCommand(CLI::App& app, CommandEnv& env) {
  auto* link = app.add_subcommand("link", "Change a running lab's links");
  link->require_subcommand(1);
  auto* set = link->add_subcommand(
      "set", "Change one link's conditions in place (traffic keeps flowing)");
  auto args = std::make_shared<LinkSetArgs>();
  set->add_option("lab", args->lab, "Lab name")->required();
  set->add_option("link", args->link,
                  "The link: NODE:IFACE<->NODE:IFACE, or one end NODE:IFACE")
      ->required();
  set->add_option("--dir", args->dir,
                  "a-to-b or b-to-a (a is the link's first endpoint in the "
                  "topology file); default both");
  for (absl::string_view key : linkemu::LinkParamKeys()) {
    const std::string k(key);
    set->add_option_function<std::string>(
        absl::StrCat("--", k),
        [args, k](const std::string& v) { args->values[k] = v; },
        absl::StrCat("as the topology key ", k, " (docs/topology.md)"));
  }
  set->footer(
      "Sets the given conditions of one or both directions; the others keep\n"
      "their values (--loss 0 removes loss). Values are written as in\n"
      "topology files: --rate 10mbit --delay 50ms --jitter 5ms --loss 1%\n"
      "--ber 1e-6 --gilbert-elliott 1%,25% --engine userspace.\n"
      "The change goes through `emuctl apply`'s machinery: checked as a\n"
      "topology file is, applied on the hosts of the link's ends without\n"
      "tearing the link down (the kernel's qdiscs replaced; the userspace\n"
      "engine's link updated, packets already queued keep their schedule),\n"
      "rolled back on failure, and recorded in the lab, so a later\n"
      "reconcile keeps it. A change that moves a direction between the\n"
      "kernel and the userspace engine re-creates the link's two ends.\n"
      "Needs the operator role on the lab.\n\n"
      "Examples:\n"
      "  emuctl link set netem a:eth1<->b:eth1 --delay 50ms --loss 1%\n"
      "  emuctl link set netem d:eth1 --dir b-to-a --rate 5mbit");
  set->callback([&env, args] { env.exit_code = RunLinkSet(env, *args); });
}

}  // namespace emu::cli
