// `emuctl local start|stop|status`: the embedded local cluster on this
// machine (deploy/local_cluster.h).
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/net/libnl_host_network.h"
#include "agent/net/namespace_processes.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/table.h"
#include "common/process_launcher.h"
#include "deploy/cluster_rpc.h"
#include "deploy/local_cluster.h"
#include "deploy/process_table.h"

namespace emu::cli {
namespace {

struct LocalArgs {
  std::string id = deploy::kDefaultClusterId;
  int hosts = deploy::kDefaultHosts;
  std::string subnet = deploy::kDefaultSubnet;
  std::string bin_dir;
  std::string state_root = deploy::kDefaultStateRoot;
  std::string timeout = "30s";
  bool no_supervise = false;
  bool insecure_plaintext = false;
  std::string tunnel_carrier;
  std::string tunnel_ssh_config;
  bool metrics = false;
  bool allow_host_commands = false;
  bool web = false;
  int engine_threads = -1;  // not given: the agents' default
  int engine_nice = 0;
};

// The real dependencies of deploy::LocalCluster, progress lines to `out`.
struct RealLocalCluster {
  explicit RealLocalCluster(std::ostream* out)
      : cluster(&launcher, &rpc, &processes, &net, &ns_processes,
                [out](absl::string_view line) { *out << line << std::endl; }) {}
  PosixProcessLauncher launcher;
  deploy::GrpcClusterRpc rpc;
  deploy::ProcfsProcessTable processes;
  agent::net::LibnlHostNetwork net;
  agent::net::ProcNamespaceProcesses ns_processes;
  deploy::LocalCluster cluster;
};

int RequireRoot(const CommandEnv& env, absl::string_view verb) {
  if (geteuid() == 0) return kExitOk;
  return env.Fail(
      absl::StrCat("emuctl local ", verb,
                   " needs root (it creates network namespaces and a bridge)"));
}

std::string NameFlag(const LocalArgs& args) {
  return args.id == deploy::kDefaultClusterId
             ? std::string()
             : absl::StrCat(" --name ", args.id);
}

int RunStart(CommandEnv& env, const LocalArgs& args) {
  // The ssh carrier needs an sshd inside each host's namespace and a key
  // the agents' ssh uses: the local cluster starts no sshd, so without the
  // user's ssh_config its cross-host links could never come up. Refused
  // here, before anything is created, saying what to set up.
  if (args.tunnel_carrier == "ssh" && args.tunnel_ssh_config.empty()) {
    return env.Fail(
        "local start --tunnel-carrier ssh: the local cluster starts no sshd, "
        "so its agents' ssh needs your setup: pass --tunnel-ssh-config FILE "
        "(an ssh_config with the key, user and known hosts the agents use) "
        "and start an sshd in each host's namespace on its address, port 22 "
        "(docs/tunnel.md, \"The SSH carrier\"); on one machine "
        "--tunnel-carrier tls (the default) encrypts the links without sshd");
  }

  if (int rc = RequireRoot(env, "start"); rc != kExitOk) return rc;
  absl::StatusOr<absl::Duration> timeout =
      ParseTimeout(args.timeout, "--timeout");
  if (!timeout.ok()) return env.Fail(timeout.status());
  absl::StatusOr<deploy::DaemonBinaries> binaries =
      deploy::FindDaemonBinaries(args.bin_dir, env.self_exe, env.path_env);
  if (!binaries.ok()) return env.Fail(binaries.status());
  deploy::LocalClusterStartOptions options;
  options.cluster.id = args.id;
  options.cluster.hosts = args.hosts;
  options.cluster.subnet = args.subnet;
  options.cluster.state_root = args.state_root;
  options.cluster.insecure_plaintext = args.insecure_plaintext;
  options.cluster.tunnel_carrier = args.tunnel_carrier;
  // The agents run elsewhere (their namespace, the supervisor's cwd).
  options.cluster.tunnel_ssh_config =
      args.tunnel_ssh_config.empty()
          ? std::string()
          : std::filesystem::absolute(args.tunnel_ssh_config).string();
  options.cluster.metrics = args.metrics;
  options.cluster.allow_host_commands = args.allow_host_commands;
  options.cluster.web = args.web;
  options.cluster.engine_threads = args.engine_threads;
  options.cluster.engine_nice = args.engine_nice;
  options.binaries = *binaries;
  options.ready_timeout = *timeout;
  if (!env.self_exe.empty() && !args.no_supervise) {
    options.supervisor_argv = {env.self_exe,   "local", "supervise",
                               "--name",       args.id, "--state-root",
                               args.state_root};
  }
  RealLocalCluster real(env.out);
  absl::StatusOr<deploy::ClusterFile> file = real.cluster.Start(options);
  if (!file.ok()) return env.Fail(file.status());

  std::vector<std::string> hosts;
  for (const auto& h : file->hosts)
    hosts.push_back(absl::StrCat(h.name, "=", h.address));
  *env.out << "local cluster \"" << file->id << "\" is up: controller "
           << file->controller << ", hosts " << absl::StrJoin(hosts, " ")
           << "\n";
  const std::string cluster_file =
      deploy::ClusterFilePath(args.state_root, args.id);
  if (cluster_file == DefaultClusterFile()) {
    *env.out << "emuctl uses it by default; try `emuctl hosts`.\n";
  } else {
    *env.out << "use it with: export EMU_CLUSTER=" << cluster_file
             << "  (or emuctl --cluster " << cluster_file << " ...)\n";
  }
  if (file->tunnel_carrier == "ssh") {
    // What the links wait for (the agents redial with backoff).
    *env.out << "links between hosts go through ssh: start an sshd in each "
                "host's namespace that takes the key of "
             << file->tunnel_ssh_config << ":\n";
    for (const auto& h : file->hosts) {
      *env.out << "  " << h.name << ": namespace " << h.netns << ", "
               << h.address.substr(0, h.address.rfind(':')) << ":22\n";
    }
  }
  *env.out << "stop it with: emuctl local stop" << NameFlag(args) << std::endl;
  return kExitOk;
}

int RunStop(CommandEnv& env, const LocalArgs& args) {
  if (int rc = RequireRoot(env, "stop"); rc != kExitOk) return rc;
  RealLocalCluster real(env.out);
  absl::Status s = real.cluster.Stop(args.id, args.state_root);
  if (!s.ok()) return env.Fail(s);
  *env.out << "local cluster \"" << args.id << "\" is stopped" << std::endl;
  return kExitOk;
}

// Runs until the cluster is stopped (SIGTERM from `local stop`, or its
// cluster.json removed); its output is the supervisor's log.
int RunSupervise(CommandEnv& env, const LocalArgs& args) {
  if (int rc = RequireRoot(env, "supervise"); rc != kExitOk) return rc;
  RealLocalCluster real(env.out);
  absl::Status s =
      real.cluster.Supervise(args.id, args.state_root,
                             deploy::SuperviseOptions(), [] { return false; });
  if (!s.ok()) return env.Fail(s);
  return kExitOk;
}

int RunGc(CommandEnv& env, const LocalArgs& args) {
  if (int rc = RequireRoot(env, "gc"); rc != kExitOk) return rc;
  RealLocalCluster real(env.out);
  absl::StatusOr<std::vector<std::string>> stopped =
      real.cluster.CollectGarbage(args.state_root);
  if (!stopped.ok()) return env.Fail(stopped.status());
  if (stopped->empty()) {
    *env.out << "nothing to collect: no local cluster without live daemons "
                "left anything"
             << std::endl;
  } else {
    *env.out << "removed what local clusters " << absl::StrJoin(*stopped, ", ")
             << " left" << std::endl;
  }
  return kExitOk;
}

int RunLocalStatus(CommandEnv& env, const LocalArgs& args) {
  RealLocalCluster real(env.out);
  absl::StatusOr<deploy::LocalClusterStatus> status =
      real.cluster.Status(args.id, args.state_root);
  if (!status.ok()) return env.Fail(status.status());
  const deploy::ClusterFile& f = status->file;
  *env.out << "local cluster \"" << f.id << "\" (" << f.state << "), bridge "
           << f.bridge << " " << f.subnet << ", token " << f.token_file
           << "\n\n";
  Table table({"DAEMON", "PID", "RUNNING", "ADDRESS", "NETNS", "LOG"});
  for (const deploy::DaemonStatus& d : status->daemons) {
    table.AddRow({d.name, d.pid > 0 ? absl::StrCat(d.pid) : "-",
                  d.running ? "yes" : "NO", d.address.empty() ? "-" : d.address,
                  d.netns.empty() ? "-" : d.netns, d.log});
  }
  *env.out << table.Render() << std::flush;
  if (!status->all_running()) {
    return env.Fail(absl::StrCat("local cluster \"", f.id,
                                 "\" is not fully running; see the logs, "
                                 "then `emuctl local stop",
                                 NameFlag(args), "` and start it again"));
  }
  return kExitOk;
}

void AddNameOptions(CLI::App* cmd, LocalArgs* args) {
  cmd->add_option("--name", args->id,
                  "Cluster id: [a-z][a-z0-9]{0,6}; state in /run/emu/<id>")
      ->capture_default_str();
  cmd->add_option("--state-root", args->state_root,
                  "Directory holding the clusters' state dirs")
      ->capture_default_str()
      ->group("");  // hidden: for tests
}

}  // namespace

void AddLocalCommand(CLI::App& app, CommandEnv& env) {
  auto* local = app.add_subcommand(
      "local", "Run an emu cluster on this machine (namespaces as hosts)");
  local->require_subcommand(1);
  local->footer(
      "A local cluster emulates N physical hosts on this machine: network\n"
      "namespaces emuhost-<id>-h<i> joined by the bridge emubr-<id>, one\n"
      "emu-agent in each, and an emu-controller on 127.0.0.1. Its record,\n"
      "token and logs are in /run/emu/<id>/. emuctl talks to the cluster\n"
      "\"local\" by default.\n\n"
      "Examples:\n"
      "  sudo emuctl local start --hosts 3\n"
      "  emuctl local status\n"
      "  sudo emuctl local stop");

  auto args = std::make_shared<LocalArgs>();

  auto* start = local->add_subcommand("start", "Start a local cluster");
  AddNameOptions(start, args.get());
  start->add_option("--hosts", args->hosts, "Number of emulated hosts (1-99)")
      ->capture_default_str();
  start
      ->add_option("--subnet", args->subnet,
                   "IPv4 network of the bridge (.1) and hosts (.11, .12, ...)")
      ->capture_default_str();
  start->add_option("--bin-dir", args->bin_dir,
                    "Directory with emu-agent and emu-controller (default: "
                    "next to emuctl, the bazel-bin layout, then $PATH)");
  start->add_flag("--no-supervise", args->no_supervise,
                  "Start no supervisor: a daemon that dies stays dead (for "
                  "tests that kill and restart daemons by hand)");
  start->add_flag("--insecure-plaintext", args->insecure_plaintext,
                  "No TLS between the daemons and emuctl (tokens in clear); "
                  "by default the cluster gets its own CA and certificates "
                  "in <state dir>/pki and every connection is mutual TLS");
  start->add_flag("--metrics", args->metrics,
                  "Every daemon serves Prometheus metrics: the controller on "
                  "127.0.0.1, each agent on its host address, each on a port "
                  "written to <state dir>/controller.metrics_port and "
                  "agents/HOST.metrics_port (docs/observability.md)");
  start->add_flag("--allow-host-commands", args->allow_host_commands,
                  "Every agent runs containerlab's `target: host` stage "
                  "commands of labs an administrator deploys (--allow_host_"
                  "commands): as root, in its emulated host's namespace "
                  "emuhost-ID-hN (docs/security.md, \"Host commands\")");
  start->add_flag("--web", args->web,
                  "The controller serves the web view on 127.0.0.1, on the "
                  "port in <state dir>/controller.web_port "
                  "(docs/observability.md)");
  start->add_option(
      "--tunnel-carrier", args->tunnel_carrier,
      "What carries cross-host links between the agents: tls (mutual TLS "
      "with the agents' certificates; the default), plain (clear TCP, "
      "for a trusted network; the default with --insecure-plaintext) or "
      "ssh (through OpenSSH between the hosts: each host needs an sshd on "
      "its address, port 22; see docs/cluster.md)");
  start->add_option(
      "--tunnel-ssh-config", args->tunnel_ssh_config,
      "With --tunnel-carrier ssh: an ssh_config file the "
      "agents' ssh uses (key, user, known hosts); default: root's "
      "~/.ssh/config and /etc/ssh/ssh_config");
  start->add_option(
      "--engine-threads", args->engine_threads,
      "Threads of each agent's userspace link engine (its --engine_threads: "
      "1 by default; 0 runs none, so links that need it are refused; "
      "docs/linkemu.md)");
  start->add_option(
      "--engine-nice", args->engine_nice,
      "Nice value (-20..19) of each agent's threads that send impaired "
      "frames (its --engine_nice): below 0 they keep their departure times "
      "when guests or builds compete for this machine's cores "
      "(docs/linkemu.md, \"Late frames\")");
  start
      ->add_option("--timeout", args->timeout,
                   "How long each daemon may take to answer")
      ->capture_default_str();
  start->footer(
      "Needs root. Starts a supervisor that restarts a daemon that dies\n"
      "(with backoff; labs survive). On a partly running cluster it starts\n"
      "only what is missing; refuses a fully running one; removes what a\n"
      "dead one with the same id left. On failure it removes everything it\n"
      "created and shows the end of the failing daemon's log.\n\n"
      "Examples:\n"
      "  sudo emuctl local start\n"
      "  sudo emuctl local start --hosts 4 --name dev --subnet 198.18.1.0/24");
  start->callback([&env, args] { env.exit_code = RunStart(env, *args); });

  auto* stop = local->add_subcommand("stop", "Stop a local cluster");
  AddNameOptions(stop, args.get());
  stop->footer(
      "Needs root. Destroys every lab, ends the daemons (SIGTERM, SIGKILL\n"
      "after 5 s), removes the labs' namespaces and processes that no agent\n"
      "could (emu.<host>.* of this cluster's hosts), deletes the host\n"
      "namespaces, veths and bridge and the state dir. Works with dead\n"
      "daemons and without cluster.json. Safe to repeat; only touches what\n"
      "this cluster id owns.\n\n"
      "Examples:\n"
      "  sudo emuctl local stop\n"
      "  sudo emuctl local stop --name dev");
  stop->callback([&env, args] { env.exit_code = RunStop(env, *args); });

  auto* gc = local->add_subcommand(
      "gc", "Remove what dead local clusters left (any id)");
  gc->add_option("--state-root", args->state_root,
                 "Directory holding the clusters' state dirs")
      ->capture_default_str()
      ->group("");  // hidden: for tests
  gc->footer(
      "Needs root. Finds every local cluster id that left namespaces\n"
      "(emuhost-<id>-h<N>, emu.<id>-h<N>.*), interfaces (emubr-<id>,\n"
      "emuv-<id>-<N>) or a state dir, and removes them for each id none of\n"
      "whose daemons runs, as `local stop` would. Running clusters are "
      "left.\n\n"
      "Examples:\n"
      "  sudo emuctl local gc");
  gc->callback([&env, args] { env.exit_code = RunGc(env, *args); });

  // Started by `local start`; not for people (hidden).
  auto* supervise = local->add_subcommand(
      "supervise", "Restart the daemons of a local cluster that die");
  AddNameOptions(supervise, args.get());
  supervise->group("");
  supervise->callback(
      [&env, args] { env.exit_code = RunSupervise(env, *args); });

  auto* status =
      local->add_subcommand("status", "Show a local cluster's daemons");
  AddNameOptions(status, args.get());
  status->footer(
      "Shows each daemon's pid, whether it runs, its address, namespace and\n"
      "log. Exits 1 when the cluster is absent or a daemon is not running.\n\n"
      "Examples:\n"
      "  emuctl local status\n"
      "  emuctl local status --name dev");
  status->callback(
      [&env, args] { env.exit_code = RunLocalStatus(env, *args); });
}

}  // namespace emu::cli
