// cluster.json: the record a running local cluster leaves in its state dir.
// `emuctl` reads it to find the controller and token; `emuctl local stop`
// reads it to know which processes it started (and may end). Written
// atomically (temp file + rename) so readers never see half a file.
//
// {"id": "local", "state": "running", "controller": "127.0.0.1:40123",
//  "controller_pid": 123, "controller_start_time": 456789,
//  "token_file": "/run/emu/local/token", "pki_dir": "/run/emu/local/pki",
//  "bridge": "emubr-local", ...,
//  "hosts": [{"name": "h1", "netns": "emuhost-local-h1", "veth": ...,
//             "address": "198.18.0.11:7471", "pid": 124, "start_time": ...,
//             "log": "/run/emu/local/logs/h1.log"}],
//  "logs": {"dir": ..., "controller": ..., "h1": ...}}
#ifndef EMU_DEPLOY_CLUSTER_FILE_H_
#define EMU_DEPLOY_CLUSTER_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::deploy {

inline constexpr char kClusterStateStarting[] = "starting";
inline constexpr char kClusterStateRunning[] = "running";

struct ClusterFileHost {
  std::string name;     // cluster host name ("h1")
  std::string netns;    // its namespace ("emuhost-local-h1")
  std::string veth;     // root-namespace veth end ("emuv-local-1")
  std::string address;  // the agent's "ip:port"
  int pid = 0;          // the agent's pid; 0 = not started
  // Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field
  // 22), so a reused pid is never mistaken for the agent. 0 = unknown.
  uint64_t start_time = 0;
  std::string log;  // the agent's log file
};

struct ClusterFile {
  std::string id;
  std::string state;  // kClusterStateStarting / kClusterStateRunning
  std::string state_dir;
  std::string controller;  // "127.0.0.1:PORT"; empty until it listens
  int controller_pid = 0;
  uint64_t controller_start_time = 0;
  std::string controller_log;
  std::string token_file;
  // "[user@]gateway[:port]": emuctl reaches this cluster through the
  // gateway's SSH (as `emuctl --ssh`); `controller`, `token_file` and
  // `pki_dir` are then as seen on the gateway (the token and ca.crt are
  // read over SSH). Empty: direct. Written by hand, never by local start.
  std::string ssh;
  // The cluster's certificates (common/pki: ca.crt, controller.*, agent-*),
  // so emuctl speaks TLS to the controller; empty: the daemons run with
  // --insecure_plaintext.
  std::string pki_dir;
  // The agents' --tunnel_carrier; empty: their default.
  std::string tunnel_carrier;
  // The agents' --tunnel_ssh_config (carrier ssh); empty: none.
  std::string tunnel_ssh_config;
  // `emuctl local start --metrics` / `--web`: the daemons serve /metrics
  // (the controller on loopback, each agent on its host address) and the
  // controller the web view, on ports they write to the layout's
  // *.metrics_port / controller.web_port files.
  bool metrics = false;
  bool web = false;
  // `emuctl local start --allow-host-commands`: the agents'
  // --allow_host_commands, kept for their restarts.
  bool allow_host_commands = false;
  // `emuctl local start --engine-threads / --engine-nice`: the agents'
  // --engine_threads (-1: not given, their default) and --engine_nice.
  int engine_threads = -1;
  int engine_nice = 0;
  std::string bridge;
  std::string subnet;
  std::string log_dir;
  std::string agent_binary;
  std::string controller_binary;
  // `emuctl local supervise` (restarts daemons that die); 0 = none.
  int supervisor_pid = 0;
  uint64_t supervisor_start_time = 0;
  std::string supervisor_binary;
  std::vector<ClusterFileHost> hosts;
};

// Pretty JSON, ending in '\n'.
std::string ClusterFileToJson(const ClusterFile& file);

// Parses what ClusterFileToJson wrote; unknown keys are ignored, missing ones
// stay default. INVALID_ARGUMENT naming `source` for malformed JSON or
// values of the wrong type.
absl::StatusOr<ClusterFile> ClusterFileFromJson(absl::string_view json,
                                                absl::string_view source);

// NOT_FOUND when `path` does not exist; other errors name the path.
absl::StatusOr<ClusterFile> ReadClusterFile(const std::string& path);

// Writes `path` (mode 0644: it holds no secret, only the token's path)
// through a temporary file and rename().
absl::Status WriteClusterFile(const std::string& path, const ClusterFile& file);

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_CLUSTER_FILE_H_
