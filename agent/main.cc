// emu-agent: one per physical host. Parses flags, builds the real OS
// implementations, recovers saved labs, serves AgentService.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_service.h"
#include "agent/barrier/barrier_session.h"
#include "agent/capture/pcap_source.h"
#include "agent/controller_registration.h"
#include "agent/guest/guest_manager.h"
#include "agent/guest/guest_service.h"
#include "agent/guest/image_store.h"
#include "agent/net/enter_namespace.h"
#include "agent/guest/qemu_driver.h"
#include "agent/net/host_probe.h"
#include "agent/node/node_sandbox.h"
#include "agent/node/segment_driver.h"
#include "agent/reconcile/lab_spec_store.h"
#include "agent/net/libnl_host_network.h"
#include "agent/net/namespace_processes.h"
#include "agent/reconcile/reconciler.h"
#include "agent/stats/lab_counters.h"
#include "agent/stats/libnl_counters.h"
#include "agent/stats/proc_usage.h"
#include "agent/net/resource_names.h"
#include "agent/impair/engine_links.h"
#include "linkemu/impair/base_latency.h"
#include "linkemu/impair/engine_path_probe.h"
#include "agent/tunnel/tunnel_manager.h"
#include "agent/metrics/agent_metrics.h"
#include "common/http/request_auth.h"
#include "common/metrics/metrics_endpoint.h"
#include "common/metrics/rpc_metrics.h"
#include "linkemu/tunnel_ssh.h"
#include "linkemu/impair/link_engine.h"
#include "agent/net/host_cleanup.h"
#include "common/auth.h"
#include "common/log.h"
#include "common/process_launcher.h"
#include "common/server_util.h"
#include "common/thread_nice.h"
#include "common/transport_security.h"
#include "common/thread_pool.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7471",
          "Address to serve AgentService on. Loopback by default: give the "
          "host's cluster address explicitly to let a remote controller in.");
ABSL_FLAG(std::string, host_name, "",
          "This host's name in the cluster ([A-Za-z0-9_-]); default: the "
          "machine's host name.");
ABSL_FLAG(std::string, state_dir, "/var/lib/emu/agent",
          "Where the agent keeps the desired state of its labs.");
ABSL_FLAG(std::string, token_file, "",
          "File holding the cluster's bearer token (mode 0600), the same "
          "as the controller's. Without it the agent uses (or generates, mode "
          "0600) --state_dir/token, which the controller must then be given; "
          "it never serves unauthenticated calls.");
ABSL_FLAG(std::string, port_file, "",
          "Write the bound port here once serving (for --listen=...:0).");
ABSL_FLAG(std::string, image_dir, "/var/lib/emu/images",
          "Guest images: <dir>/<image>/image.conf (deploy/images/).");
ABSL_FLAG(std::string, netns, "",
          "Serve the host whose network namespace is /run/netns/NAME: the "
          "agent enters it first thing (emuctl local start's emulated "
          "hosts). The namespace it was started in, the machine's, stays "
          "the one `emuctl image build` recipes run in: they download from "
          "Debian's archive, and an emulated host has no route out.");
ABSL_FLAG(std::string, guest_run_dir, "/run/emu/guests",
          "Where each QEMU guest keeps its sockets, pid file and logs.");
ABSL_FLAG(bool, guest_snapshots, true,
          "Start QEMU guests by restoring a snapshot of their image and shape "
          "(made once per machine by booting a template, kept in "
          "--guest_snapshot_dir) instead of booting each; false boots every "
          "guest cold (docs/guests.md, Snapshots).");
ABSL_FLAG(std::string, guest_snapshot_dir, "/var/lib/emu/snapshots",
          "Where guest snapshots live (<dir>/<16 hex>/: ram, state, meta); "
          "emu-agent --cleanup removes them.");
ABSL_FLAG(int, threads, 16, "Worker threads for blocking calls.");
ABSL_FLAG(int, engine_threads, 1,
          "Threads of the userspace impairment engine, which applies delay, "
          "loss, ... on same-host links where the kernel has no sch_netem "
          "or a link asks for it (docs/linkemu.md). 0: no engine; such "
          "links are then refused on this host.");
ABSL_FLAG(int, engine_nice, 0,
          "Nice value (-20..19) of the threads that send impaired frames: "
          "the userspace engine's and the tunnels' pump (a cross-host "
          "link's egress). Below 0 their departures keep their time on a "
          "busy host, where QEMU guests or builds compete for the cores "
          "(docs/linkemu.md, \"Late frames\"). 0 keeps the agent's own. "
          "Below 0 needs CAP_SYS_NICE; refused, the agent does not start.");
ABSL_FLAG(std::string, frame_io, "batch",
          "How the tunnels and the userspace engine move frames to and from "
          "TAPs: batch (io_uring, many frames per system call, where the "
          "kernel allows it; else as syscall) or syscall (one read/write "
          "per frame).");
ABSL_FLAG(std::string, controller, "",
          "Register with the controller at HOST:PORT and heartbeat to it "
          "(docs/cluster.md). Empty: wait to be listed in its --agents.");
ABSL_FLAG(std::string, advertise, "",
          "With --controller: the HOST:PORT the controller dials to reach "
          "this agent. Default: --listen's host with the bound port.");
ABSL_FLAG(std::string, tunnel_listen, "",
          "Address to accept TCP tunnels of cross-host links on (host:port). "
          "Default: --listen's host with port 7472 (if that port is taken, "
          "the agent runs without tunnels and says so). 'none': no tunnels.");

ABSL_FLAG(int32_t, vxlan_port, 4789,
          "UDP port of the kernel VXLAN devices of labs with carrier: vxlan "
          "(docs/tunnel.md, \"Kernel VXLAN\"): the same on every host of the "
          "cluster, open between them; plain UDP, for trusted networks only.");

ABSL_FLAG(std::string, tunnel_carrier, "",
          "What carries cross-host links between agents (docs/tunnel.md): "
          "'tls' (mutual TLS with the agents' certificates of the cluster "
          "CA; the default), 'plain' (clear TCP, for a trusted network; "
          "the default only with --insecure_plaintext) or 'ssh' (through "
          "this host's OpenSSH client to the peer's sshd, for networks where "
          "only SSH passes; the listener is then bound to 127.0.0.1 at the "
          "port of --tunnel_listen). Every agent of a cluster must use the "
          "same.");
ABSL_FLAG(std::string, tunnel_ssh_user, "",
          "--tunnel_carrier=ssh: the user to log in as on peers (ssh -l). "
          "Default: ssh's (ssh_config, else the agent's user).");
ABSL_FLAG(std::string, tunnel_ssh_key, "",
          "--tunnel_carrier=ssh: the private key (ssh -i, IdentitiesOnly). "
          "Default: ssh's (ssh_config, ~/.ssh/id_*).");
ABSL_FLAG(int, tunnel_ssh_port, 0,
          "--tunnel_carrier=ssh: the peers' sshd port (ssh -p). 0: ssh's "
          "default (ssh_config, else 22).");
ABSL_FLAG(std::string, tunnel_ssh_config, "",
          "--tunnel_carrier=ssh: an ssh_config file (ssh -F) instead of "
          "~/.ssh/config and /etc/ssh/ssh_config; per-peer Host blocks go "
          "there.");
ABSL_FLAG(std::vector<std::string>, tunnel_ssh_options, {},
          "--tunnel_carrier=ssh: more ssh options, comma-separated, each "
          "passed as `-o OPTION` (e.g. "
          "StrictHostKeyChecking=accept-new,Ciphers=aes128-gcm@openssh.com).");
ABSL_FLAG(std::string, tunnel_ssh_peers, "",
          "--tunnel_carrier=ssh: per peer host, the SSH destination when it "
          "is not the host of the peer's tunnel address: "
          "'h2=alice@gw2.example:2222,h3=10.1.0.3'.");
ABSL_FLAG(std::string, tunnel_ssh_command, "ssh",
          "--tunnel_carrier=ssh: the OpenSSH client to run.");

ABSL_FLAG(std::string, pki_dir, "/etc/emu/pki",
          "The cluster's certificates (docs/security.md): ca.crt, and this "
          "agent's agent-<host>.crt and agent-<host>.key (mode 0600), from "
          "`emuctl cluster cert`. Calls are accepted only from the "
          "controller's certificate (mutual TLS).");
ABSL_FLAG(bool, insecure_plaintext, false,
          "No TLS: serve and dial in plain text, accepting any caller "
          "holding the token. Only on a network you trust completely.");

ABSL_FLAG(absl::Duration, test_clock_offset, absl::ZeroDuration(),
          "For tests only: the barrier behaves as if this host's clock were "
          "this far ahead of the real one (e.g. 250ms, -40ms), to show that "
          "the controller's clock offset estimate keeps Tasks together.");
ABSL_FLAG(std::string, metrics, "",
          "Serve Prometheus metrics at http://ADDR/metrics (IPV4:PORT, e.g. "
          "127.0.0.1:9471; port 0 picks one). Empty: nothing listens. Callers "
          "send the cluster token as \"Authorization: Bearer TOKEN\" "
          "(docs/observability.md).");
ABSL_FLAG(std::string, metrics_port_file, "",
          "Write the bound --metrics port here (for --metrics=...:0).");
ABSL_FLAG(int, metrics_max_links_per_lab, 1000,
          "Per-link series of at most this many links of each lab in "
          "--metrics (14 series a link); the rest are counted in "
          "emu_link_series_omitted{lab}.");
ABSL_FLAG(bool, metrics_unauthenticated, false,
          "Serve --metrics without a token: only where every process that "
          "can reach the address may see lab names and counters "
          "(docs/security.md).");
ABSL_FLAG(bool, cleanup, false,
          "Do not serve: remove what an agent of --host_name owns on this "
          "machine (namespaces emu.<host>.*, the processes in them, the "
          "saved labs in --state_dir, the guest snapshots in "
          "--guest_snapshot_dir) and exit. Refused while an emu-agent "
          "with that --host_name runs.");
ABSL_FLAG(bool, allow_host_commands, false,
          "Run containerlab's `target: host` stage commands that a lab "
          "deployed by an administrator carries: as root, in this agent's "
          "own network namespace, outside every node (docs/security.md, "
          "\"Host commands\"). Off: such a command is refused, whatever "
          "the controller sent.");
ABSL_FLAG(bool, node_sandbox, true,
          "Run the commands of netns nodes (exec, exec: lines, experiment "
          "commands) in the node's own PID and mount namespaces with a "
          "network-only set of capabilities (docs/security.md). false runs "
          "them as root on this host, in the node's network namespace only.");

namespace {

int Fail(const std::string& msg) {
  std::fprintf(stderr, "emu-agent: %s\n", msg.c_str());
  return 1;
}

// --cleanup: the agent of `host` is dead and will not come back (a failed
// test, a removed host); its kernel objects must not outlive it.
int Cleanup(const std::string& host) {
  if (std::vector<pid_t> live = emu::agent::net::FindAgentProcesses(host);
      !live.empty()) {
    return Fail("cleanup of host " + host + " refused: emu-agent pid " +
                absl::StrJoin(live, ",") +
                " still serves it (stop it first; a running agent removes "
                "its labs with DestroyLab)");
  }
  emu::agent::net::LibnlHostNetwork net;
  emu::agent::net::ProcNamespaceProcesses procs;
  emu::agent::net::HostCleanupResult result =
      emu::agent::net::RemoveHostResources(host, &net, &procs, absl::Seconds(5));
  for (const std::string& name : result.removed_host_ends) {
    emu::Log("cleanup: deleted host interface ", name);
  }
  for (const std::string& ns : result.removed) {
    emu::Log("cleanup: deleted namespace ", ns);
  }
  absl::Status status = result.status;
  // The saved specs too: otherwise the next agent of this host would build
  // the labs again. Only when the state dir exists (Open would create it).
  const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (access(state_dir.c_str(), F_OK) == 0) {
    auto store = emu::agent::reconcile::LabSpecStore::Open(state_dir);
    auto labs = store.ok()
                    ? store->List()
                    : absl::StatusOr<std::vector<std::string>>(store.status());
    if (labs.ok()) {
      for (const std::string& lab : *labs) {
        absl::Status s = store->Remove(lab);
        if (s.ok()) {
          emu::Log("cleanup: removed saved lab ", lab, " from ", state_dir);
        } else if (status.ok()) {
          status = s;
        }
      }
    } else if (status.ok()) {
      status = labs.status();
    }
  }
  // Guest snapshots: a cache of this machine that the next guest makes
  // again; running guests keep the RAM they mapped.
  const int snapshots = emu::agent::guest::GuestManager::RemoveSnapshots(
      absl::GetFlag(FLAGS_guest_snapshot_dir));
  if (snapshots > 0) {
    emu::Log("cleanup: removed ", snapshots, " guest snapshots from ",
             absl::GetFlag(FLAGS_guest_snapshot_dir));
  }
  if (!status.ok())
    return Fail("cleanup of host " + host + ": " + status.ToString());
  emu::Log("cleanup of host ", host, ": done (", result.removed.size(),
           " namespaces removed)");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The agent forks only to exec at once: gRPC's fork handlers (which stop
  // and restart its threads around every fork, ~2 ms each here) buy nothing
  // and would delay every command. Read by gRPC at its initialisation.
  setenv("GRPC_ENABLE_FORK_SUPPORT", "false", /*overwrite=*/0);
  emu::SetDaemonUsage(
      "emu-agent: runs emulated nodes and links on this host.\n"
      "  emu-agent --host_name=h1 --listen=127.0.0.1:7471 "
      "--token_file=/etc/emu/token");
  absl::ParseCommandLine(argc, argv);
  emu::BlockTerminationSignals();
  if (geteuid() != 0) return Fail("must run as root (it creates namespaces)");
  // Bad values before anything is made, a nice the kernel refuses included
  // (tried on a thread of its own, which ends at once). 0 leaves the
  // threads' nice alone.
  const int engine_nice = absl::GetFlag(FLAGS_engine_nice);
  if (absl::Status s = engine_nice == 0 ? absl::OkStatus()
                                        : emu::CheckNiceAllowed(engine_nice);
      !s.ok()) {
    return Fail(absl::StrCat(
        "--engine_nice: ", s.message(),
        absl::IsPermissionDenied(s)
            ? " (below the current nice needs CAP_SYS_NICE or RLIMIT_NICE)"
            : ""));
  }
  // Before any thread: setns moves only the calling one.
  std::string started_netns;  // where image builds run; "" = here
  if (const std::string ns = absl::GetFlag(FLAGS_netns); !ns.empty()) {
    auto left = emu::agent::net::EnterNamespaceAtStart("/run/netns", ns);
    if (!left.ok()) return Fail(left.status().ToString());
    started_netns = *left;
  }

  std::string host = absl::GetFlag(FLAGS_host_name);
  if (absl::GetFlag(FLAGS_cleanup) && host.empty()) {
    // The machine's name is a guess here; removing the wrong host's labs is
    // not undoable.
    return Fail("--cleanup needs --host_name (the host whose labs to remove)");
  }
  if (host.empty()) {
    char buf[256] = {0};
    gethostname(buf, sizeof(buf) - 1);
    host = buf;
  }
  if (!emu::agent::net::IsValidName(host)) {
    return Fail("host name '" + host +
                "' is not valid: use 1-32 letters, digits, '-' or '_' "
                "(pass --host_name)");
  }
  if (absl::GetFlag(FLAGS_cleanup)) return Cleanup(host);
  // Secure by default (issue 9): the agent runs root commands, so without a
  // token file it generates one in its state directory instead of serving
  // anonymous callers.
  auto token = emu::LoadServerToken(absl::GetFlag(FLAGS_token_file),
                                    absl::GetFlag(FLAGS_state_dir) + "/token");
  if (!token.ok()) return Fail(token.status().ToString());
  auto transport = emu::LoadDaemonTransport(
      absl::GetFlag(FLAGS_pki_dir), emu::common::pki::Role::kAgent, host,
      absl::GetFlag(FLAGS_insecure_plaintext));
  if (!transport.ok()) return Fail(transport.status().ToString());
  if (transport->plaintext) {
    emu::Log("--insecure_plaintext: NO TLS, any caller with the token is "
             "served");
  }

  auto store = emu::agent::reconcile::LabSpecStore::Open(absl::GetFlag(FLAGS_state_dir));
  if (!store.ok()) return Fail(store.status().ToString());

  emu::agent::net::LibnlHostNetwork network;
  auto features = network.ProbeKernel();
  if (!features.ok()) return Fail("probe kernel: " + features.status().ToString());
  emu::agent::net::LinuxSystemInfo system;
  std::vector<emu::v1::NodeKind> kinds = {emu::v1::NODE_KIND_NETNS};
  const bool guests_possible = !system.FindOnPath("qemu-system-x86_64").empty() &&
                               system.Exists("/dev/net/tun");
  if (guests_possible) kinds.push_back(emu::v1::NODE_KIND_QEMU);
  // Shared L2 segments are Linux bridges inside the node's namespace.
  const std::vector<emu::v1::NodeKind> segment_kinds = {
      emu::v1::NODE_KIND_BRIDGE, emu::v1::NODE_KIND_SWITCH,
      emu::v1::NODE_KIND_HUB};
  if (features->bridge) {
    kinds.insert(kinds.end(), segment_kinds.begin(), segment_kinds.end());
  }
  emu::v1::Capabilities caps = emu::agent::net::BuildCapabilities(
      system, host, features->qdiscs, features->bridge, features->vxlan, kinds);
  caps.set_host_commands(absl::GetFlag(FLAGS_allow_host_commands));
  emu::Log("host ", host, ": qdiscs [", absl::StrJoin(features->qdiscs, ","),
           "], netem ", caps.netem() ? "yes" : "NO", ", kvm ",
           caps.kvm() ? "yes" : "no (" + caps.kvm_detail() + ")");

  // Cross-host links: the tunnel listener (before RecoverAll, which
  // re-creates saved tunnels).
  std::string tunnel_listen = absl::GetFlag(FLAGS_tunnel_listen);
  const bool tunnel_explicit = !tunnel_listen.empty();
  if (!tunnel_explicit) {
    std::string listen = absl::GetFlag(FLAGS_listen);
    tunnel_listen = listen.substr(0, listen.rfind(':')) + ":7472";
  }
  auto carrier = emu::agent::tunnel::ChooseTunnelCarrier(
      absl::GetFlag(FLAGS_tunnel_carrier),
      absl::GetFlag(FLAGS_insecure_plaintext));
  if (!carrier.ok()) return Fail(carrier.status().ToString());
  emu::linkemu::FrameBatchIo::Mode frame_io;
  if (absl::GetFlag(FLAGS_frame_io) == "batch") {
    frame_io = emu::linkemu::FrameBatchIo::Mode::kAuto;
  } else if (absl::GetFlag(FLAGS_frame_io) == "syscall") {
    frame_io = emu::linkemu::FrameBatchIo::Mode::kSyscalls;
  } else {
    return Fail(absl::StrCat("--frame_io=", absl::GetFlag(FLAGS_frame_io),
                             ": must be batch or syscall"));
  }
  emu::agent::tunnel::LinuxTapOpener taps;
  std::unique_ptr<emu::agent::tunnel::TunnelManager> tunnels;
  if (tunnel_listen != "none") {
    emu::agent::tunnel::TunnelManager::Options topts;
    topts.frame_io = frame_io;
    topts.listen_address = tunnel_listen;
    std::optional<emu::agent::tunnel::SshListen> ssh_listen;
    if (*carrier == emu::agent::tunnel::TunnelCarrier::kSsh) {
      auto l = emu::agent::tunnel::SshListenAddress(tunnel_listen);
      if (!l.ok()) return Fail("--tunnel_listen: " + l.status().ToString());
      ssh_listen = *l;
      topts.listen_address = l->bind;
      emu::linkemu::TunnelSshOptions ssh;
      ssh.command = absl::GetFlag(FLAGS_tunnel_ssh_command);
      ssh.user = absl::GetFlag(FLAGS_tunnel_ssh_user);
      ssh.identity_file = absl::GetFlag(FLAGS_tunnel_ssh_key);
      ssh.port = absl::GetFlag(FLAGS_tunnel_ssh_port);
      ssh.config_file = absl::GetFlag(FLAGS_tunnel_ssh_config);
      for (const auto& o : absl::GetFlag(FLAGS_tunnel_ssh_options)) {
        ssh.extra_args.insert(ssh.extra_args.end(), {"-o", o});
      }
      auto peers =
          emu::linkemu::ParseSshPeers(absl::GetFlag(FLAGS_tunnel_ssh_peers));
      if (!peers.ok()) return Fail(peers.status().ToString());
      ssh.peers = *std::move(peers);
      topts.ssh = std::make_shared<emu::linkemu::TunnelSsh>(std::move(ssh));
    }
    topts.token = *token;
    if (*carrier == emu::agent::tunnel::TunnelCarrier::kTls) {
      // The agent's certificate, even when its gRPC runs in plain text.
      auto certs = transport->plaintext
                       ? emu::LoadDaemonTransport(
                             absl::GetFlag(FLAGS_pki_dir),
                             emu::common::pki::Role::kAgent, host, false)
                       : transport;
      if (!certs.ok()) {
        return Fail("--tunnel_carrier=tls: " + certs.status().ToString());
      }
      auto tls = emu::linkemu::TunnelTls::Create(certs->ca_pem, certs->own);
      if (!tls.ok()) return Fail(tls.status().ToString());
      topts.tls = *std::move(tls);
    }
    auto t = emu::agent::tunnel::TunnelManager::Start(topts, &taps);
    if (t.ok()) {
      tunnels = *std::move(t);
      if (engine_nice != 0) {
        absl::Status s = tunnels->SetPumpNice(engine_nice);
        if (!s.ok()) return Fail(absl::StrCat("--engine_nice: ", s.message()));
      }
      caps.set_tunnel_address(
          ssh_listen.has_value()
              ? emu::agent::tunnel::AdvertisedSshAddress(*ssh_listen,
                                                         tunnels->address())
              : tunnels->address());
      caps.set_tunnel_carrier(
          std::string(emu::agent::tunnel::TunnelCarrierName(*carrier)));
      emu::Log("tunnels: listening on ", tunnels->address(), ", carrier ",
               emu::agent::tunnel::TunnelCarrierName(*carrier),
               ssh_listen.has_value()
                   ? absl::StrCat(" (peers reach it over ssh to ",
                                  caps.tunnel_address(), ")")
                   : "",
               *carrier == emu::agent::tunnel::TunnelCarrier::kPlain
                   ? " (NO TLS between agents)"
                   : "");
    } else if (tunnel_explicit) {
      return Fail(t.status().ToString());
    } else {
      emu::Log("tunnels: DISABLED, ", t.status().ToString(),
               " (pass --tunnel_listen)");
    }
  }

  // Same-host links whose conditions the kernel cannot (or should not)
  // apply: the userspace engine, two TAPs per link (before RecoverAll,
  // which re-creates them; the TAPs died with the previous agent).
  std::unique_ptr<emu::linkemu::LinkEngine> engine;
  if (absl::GetFlag(FLAGS_engine_threads) > 0) {
    emu::linkemu::LinkEngine::Options eopts;
    eopts.threads = absl::GetFlag(FLAGS_engine_threads);
    eopts.nice = engine_nice;
    eopts.io_mode = frame_io;
    auto e = emu::linkemu::LinkEngine::Create(eopts);
    if (e.ok()) {
      engine = *std::move(e);
    } else if (engine_nice != 0) {
      // Asked for explicitly: refused is a bad flag, not a missing feature.
      return Fail(absl::StrCat("--engine_nice: ", e.status().message()));
    } else {
      emu::Log("userspace engine: DISABLED, ", e.status().ToString());
    }
  }
  // The engine path's base latency (compensate: true), measured on a
  // scratch link of the engine the first time a lab asks for it.
  emu::linkemu::EngineTapPathProbe base_probe(engine.get());
  emu::linkemu::BaseLatency base_latency(&base_probe);
  emu::agent::impair::EngineLinks engine_links(
      engine.get(), &taps, engine != nullptr ? &base_latency : nullptr);
  caps.set_userspace_engine(engine != nullptr);
  emu::Log("userspace engine: ",
           engine != nullptr
               ? absl::StrCat(absl::GetFlag(FLAGS_engine_threads), " threads",
                              engine_nice != 0 ? ", nice " : "",
                              engine_nice != 0 ? absl::StrCat(engine_nice) : "")
               : std::string("none"));

  emu::PosixProcessLauncher launcher;
  // Barrier executors come from it (common/process_launcher.h, Prepare).
  if (absl::Status s = emu::PosixProcessLauncher::StartPrepareServer(); !s.ok()) {
    emu::Log("prepare server: ", s.message(), "; executors are forked here");
  }
  emu::agent::net::ProcNamespaceProcesses procs;
  emu::agent::reconcile::Reconciler reconciler(host, &network, &launcher, &procs, &*store,
                                    *features, tunnels.get(), &engine_links);
  reconciler.AllowHostCommands(absl::GetFlag(FLAGS_allow_host_commands));
  if (caps.host_commands()) {
    emu::Log("host commands: ON (--allow_host_commands): target: host stage "
             "commands of labs an administrator deploys run as root here");
  }
  {
    const int32_t port = absl::GetFlag(FLAGS_vxlan_port);
    if (port < 1 || port > 65535) {
      return Fail(absl::StrCat("--vxlan_port=", port, ": want 1..65535"));
    }
    reconciler.set_vxlan_port(static_cast<uint16_t>(port));
  }
  // QEMU guests (docs/guests.md): KVM only where it really works, else TCG.
  emu::agent::guest::GuestManager::Options gopts;
  gopts.run_dir = absl::GetFlag(FLAGS_guest_run_dir);
  gopts.image_root = absl::GetFlag(FLAGS_image_dir);
  gopts.kvm = caps.kvm();
  gopts.snapshots = absl::GetFlag(FLAGS_guest_snapshots);
  gopts.snapshot_dir = absl::GetFlag(FLAGS_guest_snapshot_dir);
  emu::agent::guest::GuestManager guests(host, &launcher, gopts);
  emu::agent::guest::QemuDriver qemu(host, &guests, &network);
  if (guests_possible) reconciler.AddDriver(&qemu);
  std::vector<std::unique_ptr<emu::agent::node::SegmentDriver>> segments;
  if (features->bridge) {
    for (emu::v1::NodeKind kind : segment_kinds) {
      segments.push_back(std::make_unique<emu::agent::node::SegmentDriver>(
          kind, host, &network, reconciler.netns_driver()));
      reconciler.AddDriver(segments.back().get());
    }
  }
  // Each netns node's sandbox (agent/node/node_sandbox.h), made before the
  // saved labs are recovered so their nodes get theirs.
  emu::agent::node::ProcSandboxHost sandbox_host;
  std::unique_ptr<emu::agent::node::LinuxNodeSandbox> sandbox;
  if (absl::GetFlag(FLAGS_node_sandbox)) {
    emu::agent::node::LinuxNodeSandbox::Options sopts;
    const std::string state_dir = absl::GetFlag(FLAGS_state_dir);
    sopts.log_path = state_dir + "/node-sandbox.log";
    // The agent's secrets and state, and the usual places of others'.
    for (const std::string& p :
         {state_dir, absl::GetFlag(FLAGS_pki_dir),
          absl::GetFlag(FLAGS_token_file), absl::GetFlag(FLAGS_tunnel_ssh_key),
          std::string("/etc/emu"), std::string("/var/lib/emu"),
          std::string("/root"), std::string("/home")}) {
      if (!p.empty() && p != "/") sopts.sandbox.masked_paths.push_back(p);
    }
    auto made = emu::agent::node::LinuxNodeSandbox::Create(&launcher, &sandbox_host,
                                                       std::move(sopts));
    if (!made.ok()) {
      emu::Log("node sandbox: ", made.status().message());
      return 2;
    }
    sandbox = *std::move(made);
    reconciler.netns_driver()->SetSandbox(sandbox.get());
  }
  emu::Log("node sandbox: ", sandbox != nullptr ? "on" : "OFF (--node_sandbox=false)");
  reconciler.RecoverAll([](const std::string& line) { emu::Log(line); });

  emu::ThreadPool pool(absl::GetFlag(FLAGS_threads));
  // emuctl capture and stats (docs/observability.md).
  emu::agent::capture::PcapOpener captures;
  emu::agent::stats::LibnlNamespaceCounters kernel_counters;
  emu::agent::stats::ProcProcessUsage process_usage;
  emu::agent::stats::LabCounterCollector counters(
      host, {&kernel_counters, &procs, &process_usage, &engine_links,
             tunnels.get()});
  emu::agent::guest::ImageStore images(
      host, &launcher,
      {.image_root = absl::GetFlag(FLAGS_image_dir),
       .build_netns = started_netns});
  emu::agent::AgentServiceImpl service(
      &reconciler, caps, *token, &pool,
      {&*store, &captures, &counters, &images});
  // Tasks: the controller dials this service to push barrier releases.
  emu::agent::barrier::NetnsTaskCommandRunner task_runner(
      host, &launcher, guests_possible ? &guests : nullptr, nullptr,
      sandbox.get());
  emu::agent::barrier::BarrierAgentServiceImpl barrier(
      host, *token, &task_runner, absl::GetFlag(FLAGS_test_clock_offset));
  emu::agent::guest::GuestServiceImpl guest_service(&reconciler, &guests, &*store,
                                             *token, &pool);
  // Prometheus metrics (opt-in): RPC latencies from every call, the rest
  // from collectors at scrape time (agent/metrics), per-link counters
  // from the same collector as GetLabStats.
  emu::metrics::Registry metrics;
  emu::metrics::RpcMetrics rpc_metrics(&metrics);
  emu::agent::metrics::AddAgentCollectors(
      &metrics, &*store, tunnels.get(), &engine_links, &counters,
      absl::GetFlag(FLAGS_metrics_max_links_per_lab));
  std::vector<std::unique_ptr<
      grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  if (!absl::GetFlag(FLAGS_metrics).empty()) {
    interceptors.push_back(rpc_metrics.InterceptorFactory());
  }
  int port = 0;
  auto server = emu::StartServer(absl::GetFlag(FLAGS_listen),
                                 {&service, &barrier, &guest_service},
                                 *transport, absl::GetFlag(FLAGS_port_file),
                                 &port, std::move(interceptors));
  if (!server.ok()) return Fail(server.status().ToString());
  std::unique_ptr<emu::http::Server> metrics_server;
  if (!absl::GetFlag(FLAGS_metrics).empty()) {
    auto m = emu::metrics::StartMetricsServer(
        absl::GetFlag(FLAGS_metrics), absl::GetFlag(FLAGS_metrics_port_file),
        &metrics,
        absl::GetFlag(FLAGS_metrics_unauthenticated)
            ? emu::http::Identify()
            : emu::http::ClusterTokenIdentify(*token));
    if (!m.ok()) return Fail(m.status().ToString());
    metrics_server = *std::move(m);
    emu::Log("metrics: ",
             emu::http::ServedUrl(absl::GetFlag(FLAGS_metrics),
                                  metrics_server->port(), "/metrics"),
             absl::GetFlag(FLAGS_metrics_unauthenticated)
                 ? " (NO token asked: --metrics_unauthenticated)"
                 : " (cluster token required)");
  }
  emu::Log("emu-agent ", host, " serving on ", absl::GetFlag(FLAGS_listen),
           " (port ", port, ")");
  std::unique_ptr<emu::agent::ControllerRegistration> registration;
  if (!absl::GetFlag(FLAGS_controller).empty()) {
    auto advertise = emu::agent::AdvertisedAddress(
        absl::GetFlag(FLAGS_listen), port, absl::GetFlag(FLAGS_advertise));
    if (!advertise.ok()) return Fail(advertise.status().ToString());
    emu::v1::RegisterRequest req;
    req.set_host(host);
    req.set_agent_address(*advertise);
    *req.mutable_capabilities() = caps;
    req.set_instance_id(emu::agent::NewInstanceId());
    registration = std::make_unique<emu::agent::ControllerRegistration>(
        absl::GetFlag(FLAGS_controller), *token, *transport, req,
        [](const std::string& line) { emu::Log(line); });
    registration->Start();
  }
  int sig = emu::WaitForTerminationSignal();
  emu::Log("signal ", sig, ": shutting down (labs stay; they are recovered "
           "on the next start)");
  registration.reset();
  metrics_server.reset();
  (*server)->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  return 0;
}
