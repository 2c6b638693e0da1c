// The naming and address scheme of the embedded local cluster: which bridge,
// namespaces, veths, addresses, ports and files a cluster id owns. Pure, so
// start, stop and status agree on every name, and stop can recognise its own
// objects from the names alone.
//
// For id "local", 2 hosts and subnet 198.18.0.0/24:
//   bridge  emubr-local        198.18.0.1/24 (root namespace)
//   host 1  netns emuhost-local-h1, veth emuv-local-1 (root side, on the
//           bridge) <-> eth0 198.18.0.11/24 (inside), agent 198.18.0.11:7471,
//           host name "h1" ("<id>-h1" for other ids)
//   files   /run/emu/local/{token,cluster.json,controller.db,logs/,agents/}
#ifndef EMU_DEPLOY_LOCAL_CLUSTER_LAYOUT_H_
#define EMU_DEPLOY_LOCAL_CLUSTER_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::deploy {

inline constexpr char kDefaultStateRoot[] = "/run/emu";
inline constexpr char kDefaultClusterId[] = "local";
inline constexpr char kDefaultSubnet[] = "198.18.0.0/24";
inline constexpr int kDefaultHosts = 1;
inline constexpr int kMaxHosts = 99;
// Every agent listens on this port, each on its own host namespace address.
inline constexpr int kAgentPort = 7471;
// Longest cluster id: "emuv-<id>-<99>" must fit IFNAMSIZ-1 = 15 bytes.
inline constexpr size_t kMaxClusterIdLength = 7;
// The interface inside each host namespace (its "physical NIC").
inline constexpr char kHostNic[] = "eth0";

struct LocalClusterOptions {
  std::string id = kDefaultClusterId;
  int hosts = kDefaultHosts;
  std::string subnet = kDefaultSubnet;  // IPv4 CIDR, prefix length 8..24
  std::string state_root = kDefaultStateRoot;
  // No TLS between the daemons (`emuctl local start --insecure-plaintext`).
  bool insecure_plaintext = false;
  // The agents' --tunnel_carrier ("tls", "plain", "ssh"; empty: their
  // default, tls unless insecure_plaintext). docs/tunnel.md "The carrier".
  std::string tunnel_carrier;
  // With tunnel_carrier "ssh": the agents' --tunnel_ssh_config (an absolute
  // path; empty: ssh's default files). Each host then needs an sshd on its
  // address that takes the key this file names (docs/cluster.md).
  std::string tunnel_ssh_config;
  // Prometheus metrics on every daemon, the web view on the controller
  // (docs/observability.md); their ports go to the *_port files below.
  bool metrics = false;
  bool web = false;
  // The agents' --allow_host_commands: they run containerlab's `target:
  // host` stage commands of labs an administrator deploys, in the emulated
  // host's namespace (docs/security.md, "Host commands").
  bool allow_host_commands = false;
  // The agents' --engine_threads (0..64; -1: their default, 1) and
  // --engine_nice (-20..19), for hosts that share this machine's cores
  // with guests or builds (docs/linkemu.md, "Late frames").
  int engine_threads = -1;
  int engine_nice = 0;
};

// One emulated physical host: a network namespace with one agent.
struct LocalHostLayout {
  int index = 0;              // 1-based
  std::string name;           // cluster host name: "h1" / "<id>-h1"
  std::string netns;          // "emuhost-<id>-h1"
  std::string veth;           // root-namespace end on the bridge: "emuv-<id>-1"
  std::string address;        // "198.18.0.11" (on kHostNic inside netns)
  std::string cidr;           // "198.18.0.11/24"
  std::string agent_address;  // "198.18.0.11:7471"
  std::string state_dir;      // agent's --state_dir: "<dir>/agents/h1"
  std::string port_file;      // "<dir>/agents/h1.port"
  std::string metrics_port_file;  // "<dir>/agents/h1.metrics_port"
  std::string log_path;       // "<dir>/logs/h1.log"
};

struct LocalClusterLayout {
  std::string id;
  std::string subnet;  // normalised "198.18.0.0/24"
  int prefix_length = 0;
  std::string bridge;                // "emubr-<id>"
  std::string bridge_address;        // "198.18.0.1"
  std::string bridge_cidr;           // "198.18.0.1/24"
  std::string state_dir;             // "<state_root>/<id>"
  std::string token_file;            // "<dir>/token"
  std::string pki_dir;               // "<dir>/pki": CA and certificates
  std::string cluster_file;          // "<dir>/cluster.json"
  std::string log_dir;               // "<dir>/logs"
  std::string controller_log;        // "<dir>/logs/controller.log"
  std::string controller_port_file;  // "<dir>/controller.port"
  std::string controller_metrics_port_file;  // "<dir>/controller.metrics_port"
  std::string controller_web_port_file;      // "<dir>/controller.web_port"
  std::string controller_db;         // "<dir>/controller.db"
  std::vector<LocalHostLayout> hosts;
};

// Cluster ids are [a-z][a-z0-9]{0,6}: short enough for interface names, no
// '-' or '.', so names parse back uniquely. The error says why.
absl::Status ValidateClusterId(absl::string_view id);

// Computes every name and address. INVALID_ARGUMENT for a bad id, a host
// count outside 1..kMaxHosts, or a subnet that is not an IPv4 network
// address with prefix length 8..24.
absl::StatusOr<LocalClusterLayout> MakeLocalClusterLayout(
    const LocalClusterOptions& options);

// "<state_root>/<id>" and "<state_root>/<id>/cluster.json". No validation.
std::string ClusterStateDir(absl::string_view state_root, absl::string_view id);
std::string ClusterFilePath(absl::string_view state_root, absl::string_view id);

// Names owned by cluster `id`, recognised without knowing the host count.
std::string BridgeName(absl::string_view id);
// The host index when `netns` is "emuhost-<id>-h<N>" (N in 1..kMaxHosts).
std::optional<int> ParseHostNetns(absl::string_view id,
                                  absl::string_view netns);
// The host index when `ifname` is "emuv-<id>-<N>" (N in 1..kMaxHosts).
std::optional<int> ParseHostVeth(absl::string_view id,
                                 absl::string_view ifname);

// The cluster host name of host `index`: "h<index>" for the default id,
// "<id>-h<index>" otherwise. Its agent's node namespaces are
// "emu.<host name>.<lab>.<node>" (agent/resource_names.h).
std::string ClusterHostName(absl::string_view id, int index);
// The index when `host` is ClusterHostName(id, N) for N in 1..kMaxHosts.
std::optional<int> ParseClusterHostName(absl::string_view id,
                                        absl::string_view host);

// An IPv4 network "a.b.c.d/len".
struct Ipv4Net {
  uint32_t address = 0;  // host byte order
  int prefix_length = 0;
};
// Parses "a.b.c.d/len" (len 0..32) or "a.b.c.d" (/32). INVALID_ARGUMENT
// naming `text` otherwise.
absl::StatusOr<Ipv4Net> ParseIpv4Net(absl::string_view text);
std::string FormatIpv4(uint32_t address);
// True when the two networks share any address.
bool Overlaps(const Ipv4Net& a, const Ipv4Net& b);

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_LOCAL_CLUSTER_LAYOUT_H_
