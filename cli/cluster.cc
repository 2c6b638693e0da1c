// `emuctl cluster init` and `emuctl cluster cert`: the cluster's CA and the
// certificates of its controller and agents (common/pki, docs/cluster.md).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/pki/pki.h"
#include "proto/topology_names.h"

namespace emu::cli {
namespace {

constexpr char kDefaultPkiDir[] = "/etc/emu/pki";

struct ClusterArgs {
  std::string dir = kDefaultPkiDir;
  std::string name = "emu";
  std::string host;
  bool controller = false;
  std::vector<std::string> alt_names;
};

int RunInit(CommandEnv& env, const ClusterArgs& args) {
  absl::Status s =
      common::pki::InitCluster(args.dir, args.name, args.alt_names);
  if (!s.ok()) return env.Fail(s);
  const common::pki::Paths p = common::pki::ControllerPaths(args.dir);
  *env.out << "created the cluster CA " << p.ca_cert << " (key " << p.ca_key
           << ", mode 0600) and the controller's certificate " << p.cert
           << "\nstart the controller with --pki_dir=" << args.dir
           << "; give each agent its own: emuctl cluster cert --dir="
           << args.dir << " HOST [--san ADDRESS...]\n";
  return kExitOk;
}

int RunCert(CommandEnv& env, const ClusterArgs& args) {
  if (args.controller) {
    if (!args.host.empty()) {
      return env.Fail(absl::StrCat("cluster cert: --controller or a HOST, not "
                                   "both (got ", args.host, ")"));
    }
    absl::Status s = common::pki::IssueController(args.dir, args.alt_names);
    if (!s.ok()) return env.Fail(s);
    *env.out << "issued a new controller certificate "
             << common::pki::ControllerPaths(args.dir).cert
             << "; restart emu-controller\n";
    return kExitOk;
  }
  if (absl::Status name = CheckName("host", args.host); !name.ok()) {
    return env.Fail(name);
  }
  absl::Status s = common::pki::IssueAgent(args.dir, args.host, args.alt_names);
  if (!s.ok()) return env.Fail(s);
  const common::pki::Paths p = common::pki::AgentPaths(args.dir, args.host);
  *env.out << "issued agent " << args.host << "'s certificate " << p.cert
           << " (key " << p.key << ", mode 0600)\ncopy " << p.ca_cert << ", "
           << p.cert << " and " << p.key << " to " << kDefaultPkiDir
           << " on " << args.host << " (keep the key 0600; never copy "
           << p.ca_key << ")\n";
  return kExitOk;
}

}  // namespace

void AddClusterCommand(CLI::App& app, CommandEnv& env) {
  auto* cluster = app.add_subcommand(
      "cluster", "The cluster: its certificates (mutual TLS) and hosts added over SSH");
  cluster->require_subcommand(1);
  auto args = std::make_shared<ClusterArgs>();

  auto* init = cluster->add_subcommand(
      "init", "Create the cluster's CA and the controller's certificate");
  init->add_option("--dir", args->dir, "PKI directory (created 0700)")
      ->capture_default_str();
  init->add_option("--name", args->name, "Cluster name in the CA's subject")
      ->capture_default_str();
  init->add_option("--san", args->alt_names,
                   "More names or addresses of the controller (repeatable); "
                   "it always carries emu-controller, localhost, 127.0.0.1");
  init->footer(
      "Writes ca.crt, ca.key, controller.crt, controller.key (keys mode\n"
      "0600, written atomically). Refuses a directory that already has a\n"
      "CA. Clients check the controller by the name emu-controller, so\n"
      "any address (a tunnel, a unix socket) works.\n\n"
      "Examples:\n"
      "  sudo emuctl cluster init\n"
      "  sudo emuctl cluster init --dir /etc/emu/pki --san ctl.lab.example");
  init->callback([&env, args] { env.exit_code = RunInit(env, *args); });

  auto* cert = cluster->add_subcommand(
      "cert", "Issue (or renew) an agent's certificate from the cluster CA");
  cert->add_option("HOST", args->host, "The agent's --host_name");
  cert->add_flag("--controller", args->controller,
                 "Renew the controller's certificate instead of an agent's");
  cert->add_option("--dir", args->dir, "PKI directory holding the CA")
      ->capture_default_str();
  cert->add_option("--san", args->alt_names,
                   "The agent's addresses (repeatable), e.g. its --listen "
                   "host");
  cert->footer(
      "Writes agent-HOST.crt and agent-HOST.key next to the CA. The agent\n"
      "needs ca.crt and both files in its --pki_dir.\n\n"
      "Examples:\n"
      "  sudo emuctl cluster cert h2 --san 10.0.0.12\n"
      "  sudo emuctl cluster cert --controller --san ctl.lab.example");
  cert->callback([&env, args] { env.exit_code = RunCert(env, *args); });

  AddClusterHostCommands(*cluster, env);
}

}  // namespace emu::cli
