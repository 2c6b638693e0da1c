// Carriers of a link between two emulated hosts, side by side: a plain veth
// pair joining the two host namespaces, kernel VXLAN over the hosts'
// network, and emu's TCP tunnel (two real agents, a lab with one
// cross-host link) on each of its carriers: plain, TLS and SSH (the agents
// restarted with --tunnel_carrier=plain, tls, then ssh; for ssh the bench
// runs a key-only sshd in the listening host's namespace and gives the
// agents an ssh_config with its key and pinned host key; OpenSSH's default
// cipher). Each is measured with iperf3: TCP goodput (one stream)
// and UDP with 64-byte payloads at full speed (-u -l 64 -b 0), reported as
// packets per second received. Prints a table and the issues' goals.
//
//   bazel run -c opt //bench:carrier_bench -- --seconds=5
//
// Runs as root. Everything it makes (bridge, host namespaces, veths, VXLAN
// devices, lab, agents, sshd and its keys in a temporary directory) carries
// its pid and is removed at the end; traffic
// stays inside its own namespaces (198.18.251.0/24, 10.98.0.0/16).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "bench/bench_commands.h"
#include "common/process_launcher.h"
#include "proto/topology_names.h"
#include "tests/integration/emulated_hosts.h"

ABSL_FLAG(int, seconds, 5, "Seconds per iperf3 run.");
ABSL_FLAG(std::vector<std::string>, carriers,
          std::vector<std::string>({"plain", "plain-syscall", "tls", "ssh",
                                    "ssh-aes"}),
          "Tunnel carriers to measure: plain, plain-syscall (TAP frames one "
          "read()/write() each, --frame_io=syscall), tls, ssh, ssh-aes.");

namespace {

using emu::bench::Ip;
using emu::bench::Ok;
using emu::bench::Run;

using Figures = emu::bench::IperfFigures;

// iperf3 from namespace `client` to `server_ip` served in `server`: TCP,
// then 64-byte UDP.
Figures Measure(const std::string& server, const std::string& client,
                const std::string& server_ip, int seconds) {
  Figures f;
  f.tcp_bps =
      emu::bench::Iperf3(server, client, server_ip, seconds, false).tcp_bps;
  f.udp_pps =
      emu::bench::Iperf3(server, client, server_ip, seconds, true).udp_pps;
  return f;
}

bool ApplyTunnelLab(emu::testing::EmulatedHosts& hosts, const std::string& lab,
                    int host) {
  emu::v1::ApplyLabRequest req;
  req.set_lab(lab);
  auto* node = req.add_nodes();
  node->set_name(host == 0 ? "n1" : "n2");
  auto* i = node->add_interfaces();
  i->set_name("eth1");
  i->add_addresses(host == 0 ? "10.98.3.1/24" : "10.98.3.2/24");
  auto* r = req.add_remote_links();
  r->mutable_link()->mutable_a()->set_node("n1");
  r->mutable_link()->mutable_a()->set_interface("eth1");
  r->mutable_link()->mutable_b()->set_node("n2");
  r->mutable_link()->mutable_b()->set_interface("eth1");
  r->set_local_is_a(host == 0);
  r->set_peer_host(hosts.HostName(1 - host));
  r->set_peer_address(hosts.TunnelAddress(1 - host));
  r->set_listen(host == 0);
  r->set_link_id(emu::LinkName(r->link()));
  grpc::ClientContext ctx;
  emu::AddAuthToken(&ctx, hosts.token());
  auto stub = hosts.Agent(host);
  auto reader = stub->ApplyLab(&ctx, req);
  emu::v1::ApplyLabEvent e;
  while (reader->Read(&e)) {
  }
  grpc::Status st = reader->Finish();
  if (!st.ok()) std::fprintf(stderr, "apply: %s\n", st.error_message().c_str());
  return st.ok();
}

bool TunnelUp(emu::testing::EmulatedHosts& hosts, const std::string& lab) {
  for (int host = 0; host < 2; ++host) {
    grpc::ClientContext ctx;
    emu::AddAuthToken(&ctx, hosts.token());
    emu::v1::ListResourcesRequest req;
    req.set_lab(lab);
    emu::v1::ListResourcesResponse resp;
    if (!hosts.Agent(host)->ListResources(&ctx, req, &resp).ok()) return false;
    bool up = false;
    for (const auto& r : resp.resources()) {
      if (r.kind() == emu::v1::OwnedResource::TUNNEL && r.state() == "up") {
        up = true;
      }
    }
    if (!up) return false;
  }
  return true;
}

// A key-only sshd in host `h`'s namespace (on its address, port 22) and an
// ssh_config for the agents with the key and the pinned host key, in `dir`.
// The sshd's pid, or -1 (printed why).
pid_t StartSshd(emu::testing::EmulatedHosts& hosts, int h,
                const std::string& dir, emu::ProcessLauncher& launcher) {
  for (const char* key : {"hostkey", "id"}) {
    if (!Ok(Run("", {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                     absl::StrCat(dir, "/", key)}),
            "ssh-keygen")) {
      return -1;
    }
  }
  std::filesystem::copy_file(dir + "/id.pub", dir + "/authorized_keys");
  std::ofstream(dir + "/sshd_config")
      << "ListenAddress " << hosts.Address(h) << "\nHostKey " << dir
      << "/hostkey\nAuthorizedKeysFile " << dir
      << "/authorized_keys\nPidFile none\nPasswordAuthentication no\n"
         "KbdInteractiveAuthentication no\nPermitRootLogin "
         "prohibit-password\nStrictModes no\nUsePAM no\n"
         "AllowTcpForwarding yes\n";
  std::string hostkey;
  std::getline(std::ifstream(dir + "/hostkey.pub"), hostkey);
  std::ofstream(dir + "/known_hosts") << hosts.Address(h) << " " << hostkey
                                      << "\n";
  std::ofstream(dir + "/ssh_config")
      << "Host *\n  User root\n  IdentityFile " << dir
      << "/id\n  IdentitiesOnly yes\n  UserKnownHostsFile " << dir
      << "/known_hosts\n  StrictHostKeyChecking yes\n";
  emu::ProcessSpec spec;
  spec.argv = {"/usr/sbin/sshd", "-D", "-e", "-f", dir + "/sshd_config"};
  spec.netns = hosts.HostNetns(h);
  spec.share_mounts = true;
  auto pid = launcher.Spawn(spec, dir + "/sshd.log");
  if (!pid.ok()) {
    std::fprintf(stderr, "sshd: %s\n", pid.status().ToString().c_str());
    return -1;
  }
  return *pid;
}

void DestroyLab(emu::testing::EmulatedHosts& hosts, const std::string& lab) {
  for (int host = 0; host < 2; ++host) {
    grpc::ClientContext ctx;
    emu::AddAuthToken(&ctx, hosts.token());
    emu::v1::DestroyLabRequest req;
    req.set_lab(lab);
    emu::v1::DestroyLabResponse resp;
    hosts.Agent(host)->DestroyLab(&ctx, req, &resp);
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int pid = getpid();
  emu::testing::EmulatedHosts hosts("cb", 2, "198.18.251");
  absl::Status s = hosts.Create();
  if (!s.ok()) {
    std::fprintf(stderr, "create hosts: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string ha = hosts.HostNetns(0), hb = hosts.HostNetns(1);

  // Plain veth joining the two host namespaces.
  const std::string va = absl::StrCat("cbva", pid), vb = absl::StrCat("cbvb", pid);
  bool ok = Ip({"link", "add", va, "netns", ha, "type", "veth", "peer", "name",
                vb, "netns", hb}) &&
            Ip({"-n", ha, "addr", "add", "10.98.1.1/24", "dev", va}) &&
            Ip({"-n", hb, "addr", "add", "10.98.1.2/24", "dev", vb}) &&
            Ip({"-n", ha, "link", "set", va, "up"}) &&
            Ip({"-n", hb, "link", "set", vb, "up"});
  // Kernel VXLAN over the hosts' network (eth0, through the bridge).
  for (int h = 0; h < 2 && ok; ++h) {
    std::string ns = hosts.HostNetns(h);
    ok = Ip({"-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "4242",
             "local", hosts.Address(h), "remote", hosts.Address(1 - h),
             "dstport", "4789", "dev", "eth0"}) &&
         Ip({"-n", ns, "addr", "add", absl::StrCat("10.98.2.", h + 1, "/24"),
             "dev", "vx0"}) &&
         Ip({"-n", ns, "link", "set", "vx0", "up"});
  }
  if (!ok) {
    std::fprintf(stderr, "setup failed\n");
    return 1;
  }

  struct Row {
    std::string name;
    Figures f;
  };
  std::vector<Row> rows;
  rows.push_back({"veth", Measure(hb, ha, "10.98.1.2", seconds)});
  rows.push_back({"vxlan", Measure(hb, ha, "10.98.2.2", seconds)});

  // The SSH carrier's sshd, where host 1 dials host 0 (which listens).
  emu::PosixProcessLauncher launcher;
  char dir_template[] = "/tmp/emu-carrier-bench.XXXXXX";
  const std::string ssh_dir = mkdtemp(dir_template);
  // sshd's privilege separation directory, removed again if made here.
  const bool made_run_sshd = std::filesystem::create_directories("/run/sshd");
  struct SshdCleanup {
    emu::PosixProcessLauncher& launcher;
    pid_t pid;
    std::string dir;
    bool made_run_sshd;
    ~SshdCleanup() {
      if (pid > 0) (void)launcher.Terminate(pid, absl::Seconds(2));
      std::filesystem::remove_all(dir);
      if (made_run_sshd) std::filesystem::remove("/run/sshd");
    }
  } sshd_cleanup{launcher, -1, ssh_dir, made_run_sshd};
  sshd_cleanup.pid = StartSshd(hosts, 0, ssh_dir, launcher);
  if (sshd_cleanup.pid < 0) return 1;

  // The TCP tunnel: a lab with one cross-host link, once per carrier.
  // "ssh-aes": the same with AES-128-GCM instead of OpenSSH's default
  // (chacha20-poly1305), which AES-NI makes cheaper; "plain-syscall": plain
  // with the agents moving TAP frames one system call each (the io_uring
  // batches' comparison).
  const std::vector<std::string> carriers = absl::GetFlag(FLAGS_carriers);
  for (size_t c = 0; c < carriers.size(); ++c) {
    const char* carrier = carriers[c].c_str();
    const std::string lab = absl::StrCat("cb", c, "x", pid);
    std::vector<std::string> args = {absl::StrCat(
        "--tunnel_carrier=", carriers[c].substr(0, carriers[c].find('-')))};
    if (absl::StartsWith(carriers[c], "ssh")) {
      args.push_back(absl::StrCat("--tunnel_ssh_config=", ssh_dir,
                                  "/ssh_config"));
    }
    if (carriers[c] == "ssh-aes") {
      args.push_back("--tunnel_ssh_options=Ciphers=aes128-gcm@openssh.com");
    }
    if (carriers[c] == "plain-syscall") args.push_back("--frame_io=syscall");
    ok = hosts.StartAgent(0, args).ok() && hosts.StartAgent(1, args).ok() &&
         ApplyTunnelLab(hosts, lab, 0) && ApplyTunnelLab(hosts, lab, 1);
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (ok && !TunnelUp(hosts, lab) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
    }
    ok = ok && TunnelUp(hosts, lab);
    if (!ok) {
      std::fprintf(stderr, "%s tunnel setup failed\n%s\n", carrier,
                   hosts.AgentLog(0).c_str());
      DestroyLab(hosts, lab);
      return 1;
    }
    std::string n1 = absl::StrCat("emu.", hosts.HostName(0), ".", lab, ".n1");
    std::string n2 = absl::StrCat("emu.", hosts.HostName(1), ".", lab, ".n2");
    rows.push_back({absl::StrCat("tunnel-", carrier),
                    Measure(n2, n1, "10.98.3.2", seconds)});
    DestroyLab(hosts, lab);
    for (int h = 0; h < 2; ++h) (void)hosts.KillAgent(h, SIGTERM);
  }

  std::printf("carrier        TCP Gbit/s   UDP 64B kpps received   (%d s "
              "each, 2 emulated hosts, load average %s at the end)\n",
              seconds, emu::bench::LoadAverage().c_str());
  for (const auto& r : rows) {
    std::printf("%-14s %10.2f   %10.0f\n", r.name.c_str(), r.f.tcp_bps / 1e9,
                r.f.udp_pps / 1e3);
  }
  auto row = [&](const std::string& name) -> const Figures* {
    for (const auto& r : rows) {
      if (r.name == name) return &r.f;
    }
    return nullptr;
  };
  const Figures& vx = *row("vxlan");
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  if (const Figures* tun = row("tunnel-plain")) {
    std::printf("goal tunnel TCP >= 5 Gbit/s: %.2f -> %s\n",
                tun->tcp_bps / 1e9, tun->tcp_bps >= 5e9 ? "met" : "NOT met");
    std::printf("goal tunnel 64B pps >= 0.8 x VXLAN (%.0f kpps): %.0f kpps "
                "(%.2f x) -> %s\n",
                0.8 * vx.udp_pps / 1e3, tun->udp_pps / 1e3,
                ratio(tun->udp_pps, vx.udp_pps),
                tun->udp_pps >= 0.8 * vx.udp_pps ? "met" : "NOT met");
    if (const Figures* sys = row("tunnel-plain-syscall")) {
      std::printf("io_uring batches / one call per frame: TCP %.2f x, 64B "
                  "pps %.2f x\n",
                  ratio(tun->tcp_bps, sys->tcp_bps),
                  ratio(tun->udp_pps, sys->udp_pps));
    }
    if (const Figures* tls = row("tunnel-tls")) {
      std::printf("goal TLS >= 0.7 x plain: TCP %.2f x, 64B pps %.2f x -> %s\n",
                  ratio(tls->tcp_bps, tun->tcp_bps),
                  ratio(tls->udp_pps, tun->udp_pps),
                  tls->tcp_bps >= 0.7 * tun->tcp_bps &&
                          tls->udp_pps >= 0.7 * tun->udp_pps
                      ? "met"
                      : "NOT met");
    }
    for (const char* name : {"tunnel-ssh", "tunnel-ssh-aes"}) {
      if (const Figures* ssh = row(name)) {
        std::printf("%s / plain: TCP %.2f x, 64B pps %.2f x\n", name,
                    ratio(ssh->tcp_bps, tun->tcp_bps),
                    ratio(ssh->udp_pps, tun->udp_pps));
      }
    }
  }
  return 0;
}
