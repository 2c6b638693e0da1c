// How emuctl finds and talks to the controller: resolving the target from
// flags, $EMU_CLUSTER or the local cluster's cluster.json; the channel, stub
// and per-call context (bearer token, deadline); and RPC errors turned into
// messages a person can act on.
#ifndef EMU_CLI_CONNECTION_H_
#define EMU_CLI_CONNECTION_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/ssh_tunnel.h"
#include "common/process_launcher.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"
#include "proto/controller.grpc.pb.h"

namespace emu::cli {

// The common flags of every verb that talks to the controller.
struct ConnectionFlags {
  std::string controller;      // --controller host:port
  std::string token_file;      // --token-file
  std::string cluster_file;    // --cluster
  std::string ssh;             // --ssh [user@]gateway[:port]
  std::string ssh_target;      // --ssh-target: the controller on the gateway
  std::string ssh_opts;        // --ssh-opts: extra ssh options
  std::string ssh_token_path;  // --ssh-token-path: token file on the gateway
  std::string ssh_ca_path;     // --ssh-ca-path: the cluster CA on the gateway
  std::string remote;          // --remote NAME
  std::string ca_file;         // --ca-file: the cluster CA (TLS)
  // The token itself, from $EMU_TOKEN (a user's token, `emuctl user add`);
  // --token-file wins over it, it wins over the cluster file's token.
  std::string token;
};

// The process environment that chooses a controller.
struct ConnectionEnv {
  std::string cluster;       // $EMU_CLUSTER
  std::string ssh;           // $EMU_SSH
  std::string ssh_opts;      // $EMU_SSH_OPTS
  std::string remotes_file;  // remotes.json; empty: no remotes
  std::string runtime_dir;   // for tunnel sockets: $XDG_RUNTIME_DIR or /tmp
  // $EMU_SSH_PERSIST: seconds to keep a shared SSH connection ("" 600,
  // "0": an ssh per command), see SshControl.
  std::string ssh_persist;
};

// How to reach a controller through an SSH gateway.
struct SshPlan {
  SshDestination destination;
  std::string target = kDefaultSshTarget;  // the controller, on the gateway
  std::vector<std::string> options;        // extra ssh options
  std::string token_path;                  // on the gateway; empty: none
  // The cluster CA the controller's certificate is checked against: a
  // remote's saved PEM, else read from ca_path on the gateway; neither:
  // plain text (a controller started with --insecure_plaintext).
  std::string ca_pem;
  std::string ca_path;
  std::string origin;  // "--ssh", "remote lab (FILE)", "$EMU_SSH"...
};

// Whether to go through SSH, in this order: --ssh, --remote NAME (both
// refused together, and either with --controller or --cluster); then
// --controller means a direct connection (nullopt), and --cluster FILE too
// unless FILE names an "ssh" gateway (ClusterFile::ssh: its controller,
// token file and pki_dir are on the gateway); then $EMU_SSH, $EMU_CLUSTER
// (likewise), the default remote, else direct.
// --ssh-target and --ssh-opts override a remote's target and $EMU_SSH_OPTS.
// Errors: INVALID_ARGUMENT for conflicting flags or a bad destination,
// NOT_FOUND for an unknown remote (naming the remotes file).
absl::StatusOr<std::optional<SshPlan>> ResolveSshPlan(
    const ConnectionFlags& flags, const ConnectionEnv& env);

// Where the controller is and how to authenticate.
struct ControllerTarget {
  std::string address;     // "127.0.0.1:40123"
  std::string token;       // empty: no authorization metadata
  std::string token_file;  // where the token came from, for messages
  std::string origin;      // "--controller" or "cluster file <path>"
  // Set when `address` is the local end of an SSH tunnel.
  std::string ssh_gateway;  // "root@gw (to 127.0.0.1:7470 there)"
  // The cluster CA (PEM) to check the controller's certificate against;
  // empty: plain text (a cluster started with --insecure-plaintext).
  std::string ca_pem;
  // The local cluster's certificates (cluster file "pki_dir"), for the
  // calls emuctl makes to agents as the controller (console, restart).
  std::string pki_dir;
};

// The default cluster file: /run/emu/local/cluster.json.
std::string DefaultClusterFile();

// Resolves the target. --controller wins (token from --token-file, if
// given). Otherwise the cluster file from --cluster, else `env_cluster`
// ($EMU_CLUSTER), else DefaultClusterFile(); --token-file overrides the
// file's token. NOT_FOUND "no emu cluster found: ..." when there is no such
// file; other errors name the file.
absl::StatusOr<ControllerTarget> ResolveControllerTarget(
    const ConnectionFlags& flags, absl::string_view env_cluster);

// One line (or two, with a hint) saying what went wrong with `call`.
// UNAVAILABLE when the controller could not be reached (`reached_server`
// false) names the address and suggests `emuctl local start`; UNAVAILABLE
// from the controller itself (an agent is down) is its own message;
// UNAUTHENTICATED names the token file, DEADLINE_EXCEEDED says the
// controller did not answer in time, RESOURCE_EXHAUSTED names emu's message
// size limit; the messages of INVALID_ARGUMENT,
// NOT_FOUND, ALREADY_EXISTS and FAILED_PRECONDITION are the server's own
// (they name the file:line or object); anything else is "call: CODE: msg".
std::string DescribeRpcError(const grpc::Status& status, absl::string_view call,
                             const ControllerTarget& target,
                             bool reached_server);

// A channel and stub to one controller, with the message size limits of
// common/grpc_limits.h. Thread-compatible; the stub is thread-safe.
class ControllerConnection {
 public:
  // With `tunnel`, calls go through it and the connection owns it: ssh is
  // ended only after the channel is gone.
  explicit ControllerConnection(ControllerTarget target,
                                std::unique_ptr<SshTunnel> tunnel = nullptr);

  // The channel, for the other services the controller serves (experiments).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  v1::ControllerService::StubInterface& stub() { return *stub_; }
  const ControllerTarget& target() const { return target_; }

  // A context carrying the token and a deadline `timeout` from now.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

  // DescribeRpcError for a call that just failed on this connection. A
  // channel that is READY after the call reached the controller, so an
  // UNAVAILABLE came from the controller, not from the transport.
  std::string Describe(const grpc::Status& status,
                       absl::string_view call) const;

  // Whether the channel is connected, i.e. a call that just failed reached
  // the controller (see Describe).
  bool Reached() const;

 private:
  // First, so that it outlives the channel that uses its socket.
  std::unique_ptr<SshTunnel> tunnel_;
  ControllerTarget target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ControllerService::StubInterface> stub_;
};

// Opens the connection the flags and environment ask for: through an SSH
// tunnel (ResolveSshPlan; token from --token-file, else from the gateway's
// --ssh-token-path; CA from --ca-file, else the remote's, else the
// gateway's --ssh-ca-path; one shared SSH login unless $EMU_SSH_PERSIST=0)
// or directly (ResolveControllerTarget).
absl::StatusOr<std::unique_ptr<ControllerConnection>> OpenConnection(
    const ConnectionFlags& flags, const ConnectionEnv& env,
    ProcessLauncher* launcher);

}  // namespace emu::cli

#endif  // EMU_CLI_CONNECTION_H_
