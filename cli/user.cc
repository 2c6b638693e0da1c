// `emuctl user add|ls|rm|token`: the controller's users (administrators;
// a user may list themself and rotate their own token).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "common/errno_status.h"
#include "controller/users/quota.h"
#include "proto/users.grpc.pb.h"

namespace emu::cli {
namespace {

struct UserArgs {
  std::string name;
  bool admin = false;
  std::string quota;
  std::string save;  // write the token here (0600) instead of stdout
};

// Writes a new token file: created, never overwritten, mode 0600.
absl::Status SaveToken(const std::string& path, const std::string& token) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("token file ", path));
  const std::string line = token + "\n";
  ssize_t n = write(fd, line.data(), line.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return ErrnoToStatus(err, absl::StrCat("write token file ", path));
  }
  return absl::OkStatus();
}

// Shows a token once: on stdout (alone, for scripts) or in --save's file.
int ShowToken(CommandEnv& env, const UserArgs& args,
              const v1::UserToken& token, absl::string_view what) {
  if (!args.save.empty()) {
    absl::Status s = SaveToken(args.save, token.token());
    if (!s.ok()) {
      return env.Fail(absl::StrCat(
          s.message(), " (the token was ", what,
          " but not saved: run `emuctl user token ", token.user(),
          "` for another)"));
    }
    *env.err << "user " << token.user() << ": token " << what << ", saved in "
             << args.save << " (mode 0600)" << std::endl;
    return kExitOk;
  }
  *env.err << "user " << token.user() << ": token " << what
           << "; it is shown only now:" << std::endl;
  *env.out << token.token() << std::endl;
  return kExitOk;
}

int RunAdd(CommandEnv& env, const UserArgs& args) {
  v1::AddUserRequest req;
  req.set_name(args.name);
  req.set_admin(args.admin);
  absl::Status q = controller::users::ParseQuota(args.quota, req.mutable_quota());
  if (!q.ok()) return env.Fail(q);
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::UserToken token;
  grpc::Status s =
      stub->AddUser((*conn)->NewContext(kUnaryTimeout).get(), req, &token);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "AddUser"));
  return ShowToken(env, args, token, "issued");
}

int RunToken(CommandEnv& env, const UserArgs& args) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::RotateTokenRequest req;
  req.set_name(args.name);
  v1::UserToken token;
  grpc::Status s =
      stub->RotateToken((*conn)->NewContext(kUnaryTimeout).get(), req, &token);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "RotateToken"));
  return ShowToken(env, args, token, "rotated (the old one no longer works)");
}

int RunRemove(CommandEnv& env, const UserArgs& args) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::RemoveUserRequest req;
  req.set_name(args.name);
  v1::RemoveUserResponse resp;
  grpc::Status s =
      stub->RemoveUser((*conn)->NewContext(kUnaryTimeout).get(), req, &resp);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "RemoveUser"));
  *env.out << "user " << args.name
           << (resp.removed() ? " removed; their token no longer works"
                              : ": no such user (nothing to do)")
           << std::endl;
  return kExitOk;
}

int RunList(CommandEnv& env) {
  auto conn = env.Connect();
  if (!conn.ok()) return env.Fail(conn.status());
  auto stub = v1::UserService::NewStub((*conn)->channel());
  v1::ListUsersResponse resp;
  grpc::Status s = stub->ListUsers((*conn)->NewContext(kUnaryTimeout).get(),
                                   v1::ListUsersRequest(), &resp);
  if (!s.ok()) return env.Fail((*conn)->Describe(s, "ListUsers"));
  if (resp.users_size() == 0) {
    *env.out << "no users (the cluster token is the administrator)"
             << std::endl;
    return kExitOk;
  }
  Table table({"NAME", "ADMIN", "LABS", "NODES", "VCPUS", "MEMORY", "GUESTS",
               "QUOTA"});
  for (const auto& u : resp.users()) {
    table.AddRow({u.name(), u.admin() ? "yes" : "no",
                  absl::StrCat(u.usage().labs()),
                  absl::StrCat(u.usage().nodes()),
                  absl::StrCat(u.usage().vcpus()),
                  absl::StrCat(u.usage().memory_mib(), "M"),
                  absl::StrCat(u.usage().guests()),
                  controller::users::QuotaText(u.quota())});
  }
  *env.out << table.Render() << std::flush;
  return kExitOk;
}

}  // namespace

void AddUserCommand(CLI::App& app, CommandEnv& env) {
  auto* user = app.add_subcommand(
      "user", "Manage users: add, ls, rm, token (administrators)");
  user->require_subcommand(1);
  user->footer(
      "The cluster's token is the built-in administrator \"admin\". Every\n"
      "user has their own token, shown once when issued; the controller keeps\n"
      "only a salted hash. A user passes it with --token-file or $EMU_TOKEN.\n"
      "docs/security.md says who may do what.\n\n"
      "Examples:\n"
      "  emuctl user add alice --quota labs=2,nodes=20 --save alice.token\n"
      "  emuctl user ls\n"
      "  emuctl user token alice      # a new token; the old one stops\n"
      "  emuctl user rm alice");
  auto args = std::make_shared<UserArgs>();

  auto* add = user->add_subcommand("add", "Add a user and print their token");
  add->add_option("name", args->name, "User name (1-32 of A-Za-z0-9_-)")
      ->required();
  add->add_flag("--admin", args->admin,
                "An administrator: sees and acts on every lab, manages users");
  add->add_option("--quota", args->quota,
                  "labs=N,nodes=N,vcpus=N,memory=MiB,guests=N (any subset; "
                  "absent = no limit)");
  add->add_option("--save", args->save,
                  "Write the token to this new file (mode 0600) instead of "
                  "printing it");
  add->callback([&env, args] { env.exit_code = RunAdd(env, *args); });

  auto* ls = user->add_subcommand(
      "ls", "List users with what their labs use and their quotas");
  ls->callback([&env] { env.exit_code = RunList(env); });

  auto* rm = user->add_subcommand(
      "rm", "Remove a user (their labs must be down); the token stops at once");
  rm->add_option("name", args->name, "User name")->required();
  rm->callback([&env, args] { env.exit_code = RunRemove(env, *args); });

  auto* token = user->add_subcommand(
      "token", "Issue a new token for a user (the old one stops at once)");
  token->add_option("name", args->name, "User name")->required();
  token->add_option("--save", args->save,
                    "Write the token to this new file (mode 0600)");
  token->callback([&env, args] { env.exit_code = RunToken(env, *args); });
}

}  // namespace emu::cli
