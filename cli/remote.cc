// `emuctl remote add|ls|rm|default`: named SSH gateways, so that
// `emuctl --remote NAME VERB` (or a default remote) needs no other flags.
#include <algorithm>
#include <memory>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/remotes.h"
#include "cli/ssh_tunnel.h"
#include "cli/table.h"
#include "common/pki/pki.h"

namespace emu::cli {
namespace {

// Where `emuctl cluster init` and the systemd units put the CA.
constexpr char kDefaultCaPath[] = "/etc/emu/pki/ca.crt";

struct RemoteArgs {
  std::string name;
  std::string destination;
  std::string target;
  std::string token_path;
  std::string ca_file;  // a local copy of the cluster CA
  std::string ca_path = kDefaultCaPath;  // the CA on the gateway
  bool plaintext = false;
  bool clear = false;
};

// The cluster CA for a new remote: --ca-file, else read over SSH from
// --ca-path on the gateway (through the shared login the next verb
// reuses); nothing with --insecure-plaintext.
absl::StatusOr<std::string> FetchCa(CommandEnv& env, const RemoteArgs& args,
                                    const SshDestination& destination) {
  if (args.plaintext) return std::string();
  std::string pem;
  std::string from;
  if (!args.ca_file.empty()) {
    absl::StatusOr<std::string> read = common::pki::ReadPem(args.ca_file);
    if (!read.ok()) return read.status();
    pem = *std::move(read);
    from = args.ca_file;
  } else {
    std::vector<std::string> options = SplitSshOptions(
        env.connection.ssh_opts.empty() ? env.connection_env.ssh_opts
                                        : env.connection.ssh_opts);
    absl::StatusOr<SshControl> control = SshControlFromEnv(
        env.connection_env.ssh_persist, env.connection_env.runtime_dir);
    if (!control.ok()) return control.status();
    if (!control->dir.empty()) {
      if (absl::Status s = EnsureSshMaster(env.launcher, destination, options,
                                           *control, absl::Seconds(30));
          !s.ok()) {
        return s;
      }
      const std::vector<std::string> mux = SshControlOptions(*control);
      options.insert(options.end(), mux.begin(), mux.end());
    }
    absl::StatusOr<std::string> read =
        ReadRemoteFile(env.launcher, destination, options, args.ca_path,
                       "the cluster CA", 256 << 10);
    if (!read.ok()) {
      return absl::Status(
          read.status().code(),
          absl::StrCat(read.status().message(),
                       "\nGive the CA's path there with --ca-path (the "
                       "controller's --pki_dir/ca.crt), a local copy with "
                       "--ca-file, or --insecure-plaintext for a controller "
                       "started with --insecure_plaintext."));
    }
    pem = *std::move(read);
    from = absl::StrCat(args.ca_path, " on ", destination.text);
  }
  if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(from, " is not a PEM certificate (the cluster CA, ca.crt)"));
  }
  return pem;
}

// The remotes file, or a failure naming why there is none.
absl::StatusOr<Remotes> Load(const CommandEnv& env) {
  if (env.connection_env.remotes_file.empty()) {
    return absl::FailedPreconditionError(
        "no place for remotes: neither $XDG_CONFIG_HOME nor $HOME is set");
  }
  return ReadRemotes(env.connection_env.remotes_file);
}

int Save(CommandEnv& env, const Remotes& remotes) {
  absl::Status s = WriteRemotes(env.connection_env.remotes_file, remotes);
  return s.ok() ? kExitOk : env.Fail(s);
}

int RunAdd(CommandEnv& env, const RemoteArgs& args) {
  absl::Status s = CheckRemoteName(args.name);
  if (!s.ok()) return env.Fail(s);
  // Checked now so that a typo fails here, not at the first use.
  absl::StatusOr<SshDestination> d = ParseSshDestination(args.destination);
  if (!d.ok()) return env.Fail(d.status());
  if (!args.target.empty()) {
    absl::StatusOr<std::string> t = SshForwardTarget(args.target);
    if (!t.ok()) return env.Fail(t.status());
  }
  if (args.plaintext && !args.ca_file.empty()) {
    return env.Fail("remote add: --ca-file or --insecure-plaintext, not both");
  }
  absl::StatusOr<Remotes> remotes = Load(env);
  if (!remotes.ok()) return env.Fail(remotes.status());
  if (FindRemote(*remotes, args.name) != nullptr) {
    return env.Fail(absl::StrCat("remote ", args.name, " exists in ",
                                 env.connection_env.remotes_file,
                                 ": `emuctl remote rm ", args.name, "` first"));
  }
  absl::StatusOr<std::string> ca = FetchCa(env, args, *d);
  if (!ca.ok()) return env.Fail(ca.status());
  remotes->entries.push_back({args.name, args.destination, args.target,
                              args.token_path, *std::move(ca)});
  return Save(env, *remotes);
}

int RunList(CommandEnv& env) {
  absl::StatusOr<Remotes> remotes = Load(env);
  if (!remotes.ok()) return env.Fail(remotes.status());
  Table table(
      {"NAME", "DESTINATION", "TARGET", "TOKEN", "TRANSPORT", "DEFAULT"});
  for (const Remote& r : remotes->entries) {
    table.AddRow({r.name, r.destination,
                  r.target.empty() ? kDefaultSshTarget : r.target,
                  r.token_path.empty() ? "-" : r.token_path,
                  r.ca_pem.empty() ? "plaintext" : "tls",
                  r.name == remotes->default_name ? "yes" : ""});
  }
  *env.out << table.Render();
  return kExitOk;
}

int RunRemove(CommandEnv& env, const std::string& name) {
  absl::StatusOr<Remotes> remotes = Load(env);
  if (!remotes.ok()) return env.Fail(remotes.status());
  auto& e = remotes->entries;
  const size_t before = e.size();
  e.erase(std::remove_if(e.begin(), e.end(),
                         [&](const Remote& r) { return r.name == name; }),
          e.end());
  if (e.size() == before) {
    return env.Fail(absl::StrCat("no remote named ", name, " in ",
                                 env.connection_env.remotes_file));
  }
  if (remotes->default_name == name) remotes->default_name.clear();
  return Save(env, *remotes);
}

int RunDefault(CommandEnv& env, const RemoteArgs& args) {
  absl::StatusOr<Remotes> remotes = Load(env);
  if (!remotes.ok()) return env.Fail(remotes.status());
  if (args.clear == !args.name.empty()) {
    *env.err << "emuctl: remote default: pass NAME or --clear" << std::endl;
    return kExitUsage;
  }
  if (!args.clear && FindRemote(*remotes, args.name) == nullptr) {
    return env.Fail(absl::StrCat("no remote named ", args.name, " in ",
                                 env.connection_env.remotes_file));
  }
  remotes->default_name = args.clear ? "" : args.name;
  return Save(env, *remotes);
}

}  // namespace

void AddRemoteCommand(CLI::App& app, CommandEnv& env) {
  auto* remote = app.add_subcommand(
      "remote", "Named SSH gateways to a controller (--remote NAME)");
  remote->require_subcommand(1);
  remote->footer(
      "Remotes live in ${XDG_CONFIG_HOME:-~/.config}/emu/remotes.json (mode\n"
      "0600). With a default remote, verbs go through it unless --controller,\n"
      "--cluster, --ssh, --remote, $EMU_SSH or $EMU_CLUSTER say otherwise.\n"
      "`remote add` reads the cluster CA's certificate over SSH (--ca-path,\n"
      "default /etc/emu/pki/ca.crt) and saves it with the entry: emuctl then\n"
      "speaks TLS to the controller through the tunnel and checks its\n"
      "certificate.\n\n"
      "Examples:\n"
      "  emuctl remote add lab admin@gw.example.org --target "
      "unix:/run/emu/controller.sock\n"
      "  emuctl remote default lab\n"
      "  emuctl --remote lab status");
  auto args = std::make_shared<RemoteArgs>();

  auto* add = remote->add_subcommand("add", "Save an SSH gateway as NAME");
  add->add_option("name", args->name, "Remote name")->required();
  add->add_option("destination", args->destination,
                  "[user@]gateway[:port], as for ssh")
      ->required();
  add->add_option("--target", args->target,
                  "The controller's address on the gateway, HOST:PORT or "
                  "unix:/path (default: 127.0.0.1:7470)");
  add->add_option("--token-path", args->token_path,
                  "The token file on the gateway, read over SSH at each use");
  add->add_option("--ca-path", args->ca_path,
                  "The cluster CA certificate on the gateway, read over SSH "
                  "now and saved with the remote")
      ->capture_default_str();
  add->add_option("--ca-file", args->ca_file,
                  "A local copy of the cluster CA certificate instead");
  add->add_flag("--insecure-plaintext", args->plaintext,
                "The controller runs --insecure_plaintext: save no CA, "
                "speak plain text inside the SSH tunnel");
  add->callback([&env, args] { env.exit_code = RunAdd(env, *args); });

  auto* ls = remote->add_subcommand("ls", "List the saved remotes");
  ls->callback([&env] { env.exit_code = RunList(env); });

  auto* rm = remote->add_subcommand("rm", "Forget a remote");
  rm->add_option("name", args->name, "Remote name")->required();
  rm->callback([&env, args] { env.exit_code = RunRemove(env, args->name); });

  auto* def = remote->add_subcommand(
      "default", "Use NAME when no other flag or variable names a controller");
  def->add_option("name", args->name, "Remote name");
  def->add_flag("--clear", args->clear, "No default remote");
  def->callback([&env, args] { env.exit_code = RunDefault(env, *args); });
}

}  // namespace emu::cli
