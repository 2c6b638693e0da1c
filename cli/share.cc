// `emuctl share LAB --with USER|all --role viewer|operator` and
// `emuctl unshare LAB --with USER|all`.
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "proto/users.grpc.pb.h"

namespace emu::cli {
namespace {

struct ShareArgs {
  std::string lab;
  std::string with;
  std::string role = "viewer";
};

// "all" is every user ("*" in the API).
std::string Grantee(const std::string& with) {
  return with == "all" ? "*" : with;
}

int RunShare(CommandEnv& env, const ShareArgs& args) {
  v1::ShareLabRequest req;
  req.set_lab(args.lab);
  req.set_grantee(Grantee(args.with));
  req.set_role(args.role == "operator" ? v1::OPERATOR : v1::VIEWER);
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::ShareLabResponse resp;
  grpc::Status s =
      stub->ShareLab((*conn)->NewContext(kUnaryTimeout).get(), req, &resp);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "ShareLab"));
  *env.out << "lab " << args.lab << " shared with "
           << (args.with == "all" ? "every user" : args.with) << " as "
           << args.role << std::endl;
  return kExitOk;
}

int RunUnshare(CommandEnv& env, const ShareArgs& args) {
  v1::UnshareLabRequest req;
  req.set_lab(args.lab);
  req.set_grantee(Grantee(args.with));
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::UnshareLabResponse resp;
  grpc::Status s =
      stub->UnshareLab((*conn)->NewContext(kUnaryTimeout).get(), req, &resp);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "UnshareLab"));
  *env.out << "lab " << args.lab
           << (resp.removed() ? " no longer shared with "
                              : " was not shared with ")
           << args.with << std::endl;
  return kExitOk;
}

}  // namespace

void AddShareCommands(CLI::App& app, CommandEnv& env) {
  auto args = std::make_shared<ShareArgs>();
  auto* share = app.add_subcommand(
      "share", "Let another user (or all) view or operate one of your labs");
  share->add_option("lab", args->lab, "Your lab (an administrator: OWNER/LAB)")
      ->required();
  share->add_option("--with", args->with, "A user name, or `all`")->required();
  share->add_option("--role", args->role,
                    "viewer (status, plan views) or operator (also exec, "
                    "run, restart); default viewer")
      ->check(CLI::IsMember({"viewer", "operator"}));
  share->footer(
      "The other user names the lab OWNER/LAB (`emuctl status alice/core`).\n"
      "Sharing again changes the role. A share is kept by lab name: it\n"
      "holds again when you redeploy a lab of that name.\n\n"
      "Examples:\n"
      "  emuctl share core --with bob --role operator\n"
      "  emuctl share core --with all");
  share->callback([&env, args] { env.exit_code = RunShare(env, *args); });

  auto* unshare = app.add_subcommand("unshare", "Take a share back");
  unshare->add_option("lab", args->lab, "Your lab (an administrator: OWNER/LAB)")
      ->required();
  unshare->add_option("--with", args->with, "A user name, or `all`")
      ->required();
  unshare->footer("Example:\n  emuctl unshare core --with bob");
  unshare->callback([&env, args] { env.exit_code = RunUnshare(env, *args); });
}

}  // namespace emu::cli
