// Carriers of a link between two emulated hosts, side by side: a plain veth
// pair joining the two host namespaces, kernel VXLAN over the hosts'
// network, and emu's TCP tunnel (two real agents, a lab with one
// cross-host link). Each is measured with iperf3: TCP goodput (one stream)
// and UDP with 64-byte payloads at full speed (-u -l 64 -b 0), reported as
// packets per second received. Prints a table and the two goals.
//
//   bazel run -c opt //bench:carrier_bench -- --seconds=5
//
// Runs as root. Everything it makes (bridge, host namespaces, veths, VXLAN
// devices, lab, agents) carries its pid and is removed at the end; traffic
// stays inside its own namespaces (198.18.251.0/24, 10.98.0.0/16).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/auth.h"
#include "bench/bench_commands.h"
#include "common/process_launcher.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "proto/topology_names.h"
#include "tests/integration/emulated_hosts.h"

ABSL_FLAG(int, seconds, 5, "Seconds per iperf3 run.");

namespace {

using emu::ProcessResult;
using emu::bench::Ip;
using emu::bench::Ok;
using emu::bench::Run;

struct Figures {
  double tcp_bps = 0;
  double udp_pps = 0;
};

// A JSON number at a path of keys, 0 if absent.
double Number(const google::protobuf::Struct& doc,
              std::vector<std::string> path) {
  const google::protobuf::Struct* s = &doc;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto it = s->fields().find(path[i]);
    if (it == s->fields().end()) return 0;
    s = &it->second.struct_value();
  }
  auto it = s->fields().find(path.back());
  return it == s->fields().end() ? 0 : it->second.number_value();
}

// iperf3 from namespace `client` to `server_ip` served in `server`.
Figures Measure(const std::string& server, const std::string& client,
                const std::string& server_ip, int seconds) {
  Figures f;
  for (bool udp : {false, true}) {
    if (!Ok(Run(server, {"iperf3", "-s", "-1", "-D"}), "iperf3 -s")) return f;
    std::vector<std::string> argv = {"iperf3", "-c", server_ip, "-t",
                                     absl::StrCat(seconds), "-J"};
    if (udp) {
      for (const char* a : {"-u", "-l", "64", "-b", "0"}) argv.push_back(a);
    }
    absl::StatusOr<ProcessResult> r;
    for (int attempt = 0; attempt < 20; ++attempt) {
      r = Run(client, argv, absl::Seconds(seconds + 30));
      if (r.ok() && r->exit_code == 0) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    if (!Ok(r, "iperf3 -c")) return f;
    google::protobuf::Struct doc;
    if (!google::protobuf::util::JsonStringToMessage(r->stdout_data, &doc)
             .ok()) {
      std::fprintf(stderr, "iperf3 output is not JSON\n");
      return f;
    }
    if (udp) {
      double packets = Number(doc, {"end", "sum", "packets"});
      double lost = Number(doc, {"end", "sum", "lost_packets"});
      double secs = Number(doc, {"end", "sum", "seconds"});
      f.udp_pps = secs > 0 ? (packets - lost) / secs : 0;
    } else {
      f.tcp_bps = Number(doc, {"end", "sum_received", "bits_per_second"});
    }
  }
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
  // The TCP tunnel: a lab with one cross-host link.
  const std::string lab = absl::StrCat("cb", pid);
  ok = ok && hosts.StartAgent(0).ok() && hosts.StartAgent(1).ok() &&
       ApplyTunnelLab(hosts, lab, 0) && ApplyTunnelLab(hosts, lab, 1);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (ok && !TunnelUp(hosts, lab) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ok = ok && TunnelUp(hosts, lab);
  if (!ok) {
    std::fprintf(stderr, "setup failed\n%s\n", hosts.AgentLog(0).c_str());
    DestroyLab(hosts, lab);
    return 1;
  }

  struct Row {
    const char* name;
    Figures f;
  };
  std::vector<Row> rows;
  rows.push_back({"veth", Measure(hb, ha, "10.98.1.2", seconds)});
  rows.push_back({"vxlan", Measure(hb, ha, "10.98.2.2", seconds)});
  std::string n1 = absl::StrCat("emu.", hosts.HostName(0), ".", lab, ".n1");
  std::string n2 = absl::StrCat("emu.", hosts.HostName(1), ".", lab, ".n2");
  rows.push_back({"tcp-tunnel", Measure(n2, n1, "10.98.3.2", seconds)});
  DestroyLab(hosts, lab);

  std::printf("carrier      TCP Gbit/s   UDP 64B kpps received   (%d s each, "
              "2 emulated hosts)\n", seconds);
  for (const auto& r : rows) {
    std::printf("%-12s %10.2f   %10.0f\n", r.name, r.f.tcp_bps / 1e9,
                r.f.udp_pps / 1e3);
  }
  const Figures& vx = rows[1].f;
  const Figures& tun = rows[2].f;
  std::printf("goal tunnel TCP >= 5 Gbit/s: %.2f -> %s\n", tun.tcp_bps / 1e9,
              tun.tcp_bps >= 5e9 ? "met" : "NOT met");
  std::printf("goal tunnel 64B pps >= VXLAN/2 (%.0f kpps): %.0f kpps -> %s\n",
              vx.udp_pps / 2e3, tun.udp_pps / 1e3,
              tun.udp_pps >= vx.udp_pps / 2 ? "met" : "NOT met");
  return 0;
}
