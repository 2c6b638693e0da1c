// `emuctl cluster add [user@]host[:port]` and `emuctl cluster remove NAME`:
// a machine made an emu host over the user's own ssh, and undone
// (deploy/host_install has the steps; docs/cluster.md "Adding hosts over
// SSH"). What add did is recorded in <state-dir>/NAME.json (the SSH
// destination, the install prefix, the reverse tunnel's pid), which remove
// reads.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/ssh_tunnel.h"
#include "common/pki/pki.h"
#include "deploy/host_install/host_install.h"
#include "deploy/local_cluster.h"
#include "deploy/process_table.h"
#include "deploy/remote_host/ssh_remote_host.h"
#include "deploy/systemd/agent_unit.h"
#include "nlohmann/json.hpp"
#include "proto/topology_names.h"

namespace emu::cli {
namespace {

namespace hi = deploy::host_install;

constexpr absl::Duration kPoll = absl::Milliseconds(100);

struct HostArgs {
  std::string destination;
  std::string name;
  std::string address;
  std::string controller_address;
  std::string pki_dir;
  std::string bin_dir;
  std::string prefix;
  std::string service = "auto";
  std::string state_dir;
  int timeout_s = 60;
  bool force = false;
};

// What `cluster add` leaves for `cluster remove`.
struct HostRecord {
  std::string name;
  std::string destination;
  std::string prefix;
  std::string service;
  int tunnel_pid = 0;
  uint64_t tunnel_start_time = 0;
};

std::string DefaultStateDir() {
  if (auto x = ProcessEnv("XDG_STATE_HOME"); x && !x->empty()) {
    return *x + "/emu/hosts";
  }
  if (auto h = ProcessEnv("HOME"); h && !h->empty()) {
    return *h + "/.local/state/emu/hosts";
  }
  return "/var/lib/emu/hosts";
}

std::string RecordPath(const HostArgs& a, const std::string& name) {
  return absl::StrCat(a.state_dir.empty() ? DefaultStateDir() : a.state_dir,
                      "/", name, ".json");
}

absl::StatusOr<HostRecord> ReadRecord(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "no record of this host in ", path,
        " (was it added with `emuctl cluster add` by this user?)"));
  }
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(path + ": not a host record (JSON)");
  }
  HostRecord r;
  r.name = j.value("name", "");
  r.destination = j.value("destination", "");
  r.prefix = j.value("prefix", "");
  r.service = j.value("service", "auto");
  r.tunnel_pid = j.value("tunnel_pid", 0);
  r.tunnel_start_time = j.value("tunnel_start_time", uint64_t{0});
  return r;
}

absl::Status WriteRecord(const std::string& path, const HostRecord& r) {
  std::error_code ec;
  std::filesystem::create_directories(
      std::filesystem::path(path).parent_path(), ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  nlohmann::json j = {{"name", r.name},
                      {"destination", r.destination},
                      {"prefix", r.prefix},
                      {"service", r.service},
                      {"tunnel_pid", r.tunnel_pid},
                      {"tunnel_start_time", r.tunnel_start_time}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out) return absl::InternalError("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<hi::ServiceMode> ParseService(const std::string& s) {
  if (s == "auto") return hi::ServiceMode::kAuto;
  if (s == "systemd") return hi::ServiceMode::kSystemd;
  if (s == "process") return hi::ServiceMode::kProcess;
  return absl::InvalidArgumentError(absl::StrCat(
      "--service '", s, "': expected auto, systemd or process"));
}

std::vector<std::string> SshOptions(const CommandEnv& env) {
  return SplitSshOptions(env.connection.ssh_opts.empty()
                             ? env.connection_env.ssh_opts
                             : env.connection.ssh_opts);
}

// The shared login the host's commands go through ($EMU_SSH_PERSIST).
absl::StatusOr<SshControl> Control(const CommandEnv& env) {
  return SshControlFromEnv(env.connection_env.ssh_persist,
                           env.connection_env.runtime_dir);
}

// sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxUnixSocketPath = 107;

// The reverse tunnel's control socket (SshNoDelayOptions).
std::string TunnelControlPath(const std::string& record_path) {
  return record_path + ".ctl";
}

// Whether the recorded reverse tunnel (an ssh process) still runs.
bool TunnelAlive(const HostRecord& r) {
  if (r.tunnel_pid <= 0) return false;
  deploy::ProcfsProcessTable table;
  std::optional<deploy::ProcessIdentity> id = table.Lookup(r.tunnel_pid);
  return id.has_value() &&
         deploy::IsRecordedProcess(*id, r.tunnel_start_time, "ssh");
}

absl::Status EndTunnel(HostRecord& r, absl::Duration timeout) {
  if (TunnelAlive(r)) {
    kill(r.tunnel_pid, SIGTERM);
    const absl::Time deadline = absl::Now() + timeout;
    while (TunnelAlive(r)) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat("ssh pid ", r.tunnel_pid, " did not exit"));
      }
      absl::SleepFor(kPoll);
    }
  }
  r.tunnel_pid = 0;
  r.tunnel_start_time = 0;
  return absl::OkStatus();
}

// Opens `ssh -N -R SOCKET:CONTROLLER HOST` (with a command through it for
// TCP_NODELAY) unless the recorded one runs,
// and waits (bounded) until its socket is on the host.
absl::StatusOr<bool> EnsureTunnel(CommandEnv& env, const HostArgs& a,
                                  const SshDestination& dest,
                                  const std::string& controller,
                                  const hi::Layout& layout,
                                  deploy::remote_host::RemoteHost& host,
                                  HostRecord& record,
                                  const std::string& record_path) {
  if (TunnelAlive(record)) return false;
  absl::StatusOr<std::string> local = SshForwardTarget(controller);
  if (!local.ok()) return local.status();
  // The tunnel's ssh is a master of its own (its control socket beside the
  // record) that runs `true` once: without a command on the connection,
  // sshd keeps Nagle on, and each call the agent makes through it waited
  // about 40 ms for a delayed ACK (SshNoDelayOptions). A path too long for
  // a unix socket goes without (slower calls, same function).
  const std::string control = TunnelControlPath(record_path);
  std::error_code ec;
  std::filesystem::remove(control, ec);  // a killed ssh's stale socket
  ProcessSpec spec;
  spec.argv = BuildSshReverseArgv(
      dest, SshOptions(env), layout.controller_socket(), *local,
      control.size() <= kMaxUnixSocketPath ? control : std::string());
  // The socket's directory must exist before ssh binds it.
  absl::StatusOr<deploy::remote_host::RunResult> mk =
      host.Run(absl::StrCat("mkdir -p -m 0755 ", ShellQuote(layout.run_dir())));
  if (!mk.ok()) return mk.status();
  const std::string log = record_path + ".ssh.log";
  absl::StatusOr<pid_t> pid = env.launcher->Spawn(spec, log);
  if (!pid.ok()) return pid.status();
  deploy::ProcfsProcessTable table;
  std::optional<deploy::ProcessIdentity> id = table.Lookup(*pid);
  record.tunnel_pid = *pid;
  record.tunnel_start_time = id ? id->start_time : 0;
  if (absl::Status w = WriteRecord(record_path, record); !w.ok()) return w;
  const absl::Time deadline = absl::Now() + absl::Seconds(a.timeout_s);
  while (true) {
    absl::StatusOr<deploy::remote_host::RunResult> r = host.Run(
        absl::StrCat("test -S ", ShellQuote(layout.controller_socket())));
    if (!r.ok()) return r.status();
    if (r->exit_code == 0) return true;
    if (!env.launcher->IsRunning(*pid)) {
      std::ifstream in(log);
      std::stringstream said;
      said << in.rdbuf();
      return absl::UnavailableError(absl::StrCat(
          "ssh -R ", layout.controller_socket(), " exited: ", said.str()));
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "no ", layout.controller_socket(), " on the host after ",
          a.timeout_s, " s (ssh -R, log ", log, ")"));
    }
    absl::SleepFor(kPoll);
  }
}

absl::Status WaitRegistered(CommandEnv& env, const std::string& name,
                            int timeout_s) {
  auto conn = env.Connect();
  if (!conn.ok()) return conn.status();
  ControllerConnection& c = **conn;
  const absl::Time deadline = absl::Now() + absl::Seconds(timeout_s);
  std::string last = "not listed";
  while (absl::Now() < deadline) {
    v1::ListHostsResponse hosts;
    grpc::Status s = c.stub().ListHosts(c.NewContext(kUnaryTimeout).get(),
                                        v1::ListHostsRequest(), &hosts);
    if (!s.ok()) return absl::UnavailableError(c.Describe(s, "ListHosts"));
    for (const v1::HostStatus& h : hosts.hosts()) {
      if (h.name() != name) continue;
      if (h.reachable()) return absl::OkStatus();
      last = "listed but unreachable: " + h.error();
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "the controller does not list host ", name, " as reachable after ",
      timeout_s, " s (", last, ")"));
}

// Deregisters the host (ControllerService.RemoveHost): the controller
// refuses, naming the labs, while labs have nodes there (unless `force`),
// and from then on refuses the old agent's registrations. A host the
// controller no longer knows is already deregistered: false (unchanged).
absl::StatusOr<bool> Deregister(CommandEnv& env, const std::string& name,
                                bool force, std::string* detail) {
  auto conn = env.Connect();
  if (!conn.ok()) return conn.status();
  ControllerConnection& c = **conn;
  v1::RemoveHostRequest request;
  request.set_host(name);
  request.set_force(force);
  v1::RemoveHostResponse response;
  grpc::Status s = c.stub().RemoveHost(c.NewContext(kUnaryTimeout).get(),
                                       request, &response);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    *detail = "the controller does not know " + name;
    return false;
  }
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        c.Describe(s, "RemoveHost"));
  }
  *detail = response.labs().empty()
                ? "removed from the controller; no lab used it"
                : absl::StrCat("removed from the controller (forced: ",
                               absl::StrJoin(response.labs(), ", "),
                               " read DEGRADED until brought down)");
  return true;
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Finish(CommandEnv& env, absl::string_view what,
           const std::vector<hi::StepReport>& report, const absl::Status& s) {
  *env.out << hi::FormatReport(report) << std::flush;
  if (!s.ok()) return env.Fail(absl::StrCat(what, ": ", s.message()));
  return kExitOk;
}

int RunAdd(CommandEnv& env, const HostArgs& a) {
  absl::StatusOr<SshDestination> dest = ParseSshDestination(a.destination);
  if (!dest.ok()) return env.Fail(dest.status());
  hi::AddPlan plan;
  plan.name = a.name.empty() ? dest->host : a.name;
  if (absl::Status n = CheckName("host", plan.name); !n.ok()) {
    return env.Fail(absl::StrCat(n.message(), " (give one with --name)"));
  }
  plan.address = a.address.empty() ? dest->host : a.address;
  absl::StatusOr<hi::ServiceMode> service = ParseService(a.service);
  if (!service.ok()) return env.Fail(service.status());
  plan.service = *service;
  plan.layout.prefix = a.prefix;
  if (!a.prefix.empty() && plan.service == hi::ServiceMode::kSystemd) {
    return env.Fail("--prefix installs outside systemd's paths: use "
                    "--service=process with it");
  }
  plan.controller = a.controller_address;
  if (!env.connection.ssh.empty() && plan.controller.empty()) {
    return env.Fail(
        "cluster add through --ssh needs --controller-address (what the "
        "new agent dials): the reverse tunnel starts at this machine");
  }
  absl::StatusOr<ControllerTarget> target =
      ResolveControllerTarget(env.connection, env.env_cluster);
  if (!target.ok()) return env.Fail(target.status());
  if (target->token.empty()) {
    return env.Fail("cluster add: no token for the controller (--token-file "
                    "or a cluster file): the agent needs it");
  }
  plan.token = target->token;
  const std::string pki_dir = a.pki_dir.empty() ? target->pki_dir : a.pki_dir;
  if (pki_dir.empty()) {
    return env.Fail("cluster add: no cluster CA: give --pki-dir (where "
                    "`emuctl cluster init` wrote ca.crt and ca.key)");
  }
  const common::pki::Paths ca = common::pki::ControllerPaths(pki_dir);
  absl::StatusOr<common::pki::Credentials> ca_creds =
      common::pki::ReadCredentials(ca.ca_cert, ca.ca_key);
  if (!ca_creds.ok()) return env.Fail(ca_creds.status());
  plan.ca = *ca_creds;
  absl::StatusOr<deploy::DaemonBinaries> bins =
      deploy::FindDaemonBinaries(a.bin_dir, env.self_exe, env.path_env);
  if (!bins.ok()) return env.Fail(bins.status());
  absl::StatusOr<std::string> agent = ReadWhole(bins->agent);
  if (!agent.ok()) return env.Fail(agent.status());
  plan.binaries = {{"emu-agent", std::move(*agent)}};
  plan.unit = deploy::systemd::kAgentUnit;

  const std::string record_path = RecordPath(a, plan.name);
  HostRecord record;
  if (absl::StatusOr<HostRecord> old = ReadRecord(record_path); old.ok()) {
    record = *old;
  }
  record.name = plan.name;
  record.destination = a.destination;
  record.prefix = a.prefix;
  record.service = a.service;
  if (absl::Status w = WriteRecord(record_path, record); !w.ok()) {
    return env.Fail(w);
  }
  absl::StatusOr<SshControl> control = Control(env);
  if (!control.ok()) return env.Fail(control.status());
  deploy::remote_host::SshRemoteHost host(env.launcher, *dest,
                                          SshOptions(env), absl::Minutes(10),
                                          *control);
  hi::Hooks hooks;
  hooks.ensure_tunnel = [&]() {
    return EnsureTunnel(env, a, *dest, target->address, plan.layout, host,
                        record, record_path);
  };
  hooks.wait_registered = [&] {
    return WaitRegistered(env, plan.name, a.timeout_s);
  };
  std::vector<hi::StepReport> report;
  *env.out << "adding " << plan.name << " (" << dest->text << ")\n";
  absl::Status s = hi::Add(host, plan, hooks, &report);
  return Finish(env, "cluster add " + plan.name, report, s);
}

int RunRemove(CommandEnv& env, const HostArgs& a) {
  if (absl::Status n = CheckName("host", a.name); !n.ok()) return env.Fail(n);
  const std::string record_path = RecordPath(a, a.name);
  absl::StatusOr<HostRecord> record = ReadRecord(record_path);
  if (absl::IsNotFound(record.status())) {
    // Not added from here (an --agents host, another machine's `cluster
    // add`): the controller forgets it; nothing is done on the host.
    std::string detail;
    absl::StatusOr<bool> gone = Deregister(env, a.name, a.force, &detail);
    if (!gone.ok()) {
      return env.Fail(absl::StrCat(record.status().message(),
                                   "; deregistering it: ",
                                   gone.status().message()));
    }
    if (!*gone) return env.Fail(absl::StrCat(record.status().message(),
                                             ", and the controller does not "
                                             "know host ", a.name));
    *env.out << a.name << ": " << detail << "\n"
             << "no record in " << record_path
             << ": nothing was stopped or removed on the host itself\n";
    return kExitOk;
  }
  if (!record.ok()) return env.Fail(record.status());
  absl::StatusOr<SshDestination> dest =
      ParseSshDestination(record->destination);
  if (!dest.ok()) return env.Fail(dest.status());
  hi::RemovePlan plan;
  plan.name = a.name;
  plan.layout.prefix = record->prefix;
  absl::StatusOr<hi::ServiceMode> service = ParseService(record->service);
  if (!service.ok()) return env.Fail(service.status());
  plan.service = *service;
  plan.force = a.force;
  absl::StatusOr<SshControl> control = Control(env);
  if (!control.ok()) return env.Fail(control.status());
  deploy::remote_host::SshRemoteHost host(env.launcher, *dest,
                                          SshOptions(env), absl::Minutes(10),
                                          *control);
  hi::Hooks hooks;
  hooks.drain = [&](std::string* detail) {
    return Deregister(env, a.name, a.force, detail);
  };
  hooks.close_tunnel = [&]() -> absl::StatusOr<bool> {
    const bool alive = TunnelAlive(*record);
    absl::Status s = EndTunnel(*record, absl::Seconds(10));
    if (!s.ok()) return s;
    return alive;
  };
  std::vector<hi::StepReport> report;
  *env.out << "removing " << a.name << " (" << dest->text << ")\n";
  absl::Status s = hi::Remove(host, plan, hooks, &report);
  if (s.ok()) {
    std::error_code ec;
    std::filesystem::remove(record_path, ec);
    std::filesystem::remove(record_path + ".ssh.log", ec);
    std::filesystem::remove(TunnelControlPath(record_path), ec);
  }
  return Finish(env, "cluster remove " + a.name, report, s);
}

}  // namespace

void AddClusterHostCommands(CLI::App& cluster, CommandEnv& env) {
  auto args = std::make_shared<HostArgs>();
  auto* add = cluster.add_subcommand(
      "add", "Make a machine an emu host over SSH (idempotent)");
  add->add_option("DESTINATION", args->destination,
                  "[user@]host[:port], as your ssh takes it")
      ->required();
  add->add_option("--name", args->name,
                  "The host's name in the cluster (default: the SSH host)");
  add->add_option("--address", args->address,
                  "The address its agent listens on, that the controller and "
                  "the other agents dial (default: the SSH host)");
  add->add_option("--controller-address", args->controller_address,
                  "HOST:PORT the agent dials to register; without it, it "
                  "registers through a reverse tunnel on the SSH connection");
  add->add_option("--pki-dir", args->pki_dir,
                  "The cluster CA's directory (default: the cluster file's)");
  add->add_option("--bin-dir", args->bin_dir,
                  "Where emu-agent is (default: beside emuctl, then $PATH)");
  add->add_option("--service", args->service,
                  "auto (systemd when it runs there), systemd or process")
      ->capture_default_str();
  add->add_option("--prefix", args->prefix,
                  "Install under this directory on the host (tests)");
  add->add_option("--state-dir", args->state_dir,
                  "Where emuctl records added hosts (default: "
                  "$XDG_STATE_HOME/emu/hosts)");
  add->add_option("--timeout", args->timeout_s,
                  "Seconds to wait for the tunnel and the registration")
      ->capture_default_str();
  add->footer(
      "Over your own ssh (ssh-agent, ~/.ssh/config, --ssh-opts/EMU_SSH_OPTS):\n"
      "checks Debian 12 and root (or sudo -n), installs missing Debian\n"
      "packages (apt; nothing when all are there), copies emu-agent to\n"
      "/usr/local/bin when its SHA-256 differs, writes /etc/emu/token,\n"
      "emu.env and pki/ (agent certificate from the cluster CA; keys 0600),\n"
      "starts emu-agent under systemd, or as a detached process with\n"
      "/run/emu/emu-agent.pid when the host has no systemd, and waits until\n"
      "the controller lists it. Each step prints changed or unchanged; a\n"
      "failure lists the steps done and not done. docs/cluster.md.\n\n"
      "Examples:\n"
      "  sudo emuctl cluster add root@10.0.0.12\n"
      "  sudo emuctl cluster add admin@lab-h3:2222 --name h3 "
      "--address 10.0.0.13");
  add->callback([&env, args] { env.exit_code = RunAdd(env, *args); });

  auto rargs = std::make_shared<HostArgs>();
  auto* remove = cluster.add_subcommand(
      "remove", "Drain a host added over SSH, stop its agent, remove emu");
  remove->add_option("NAME", rargs->name, "The host's name")->required();
  remove->add_flag("--force", rargs->force,
                   "Even while labs have nodes on the host: they read "
                   "DEGRADED until brought down; their namespaces on the "
                   "host are removed (emu-agent --cleanup)");
  remove->add_option("--state-dir", rargs->state_dir,
                     "Where `cluster add` recorded the host");
  remove->footer(
      "Deregisters the host from the controller (it leaves `emuctl hosts`;\n"
      "the controller refuses the old agent's certificate from then on, until\n"
      "`cluster add` issues a new one), refusing while a lab has nodes on\n"
      "the host, naming the labs (unless --force); then stops emu-agent,\n"
      "ends the reverse tunnel, and removes what `cluster add` wrote (not\n"
      "the Debian packages). A host with no record here (not added from\n"
      "this machine) is only deregistered. Administrators only.\n\n"
      "Example:\n"
      "  sudo emuctl cluster remove h3");
  remove->callback([&env, rargs] { env.exit_code = RunRemove(env, *rargs); });
}

}  // namespace emu::cli
