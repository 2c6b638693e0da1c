// The SSH carrier of cross-host links (issue 9, docs/tunnel.md "SSH"): for
// networks where only SSH passes between hosts. The dialing agent runs the
// host's OpenSSH client,
//
//   ssh -T -o BatchMode=yes ... [-p PORT] [-i KEY] [-l USER] DEST -W 127.0.0.1:P
//
// with one end of a socketpair as its stdin and stdout: the other end is the
// tunnel's byte stream (a TunnelConnection like plain TCP, so the handshake
// and the pump do not change). The peer's sshd opens the -W channel to the
// peer agent's tunnel listener, which is bound to loopback with this
// carrier: nothing but the peer host's own processes (its sshd among them)
// reaches it. Who may dial is what SSH decides (the peer's authorized_keys,
// this host's known_hosts for the peer's host key); the cluster token in the
// hello is checked as on the other carriers.
//
// One ssh process per connection, owned by it: the destructor closes the
// socket and ends the process (SIGTERM, SIGKILL after 200 ms) and reaps it,
// and removes the connection's private directory (/tmp/emu-tssh-XXXXXX)
// that holds its control socket (SshArgv's `control_path`).
// An ssh that dies (killed, network gone, ServerAliveInterval noticing a
// silent peer within about 10 s) closes its end: the pump sees the end of
// the stream, and the manager re-dials with its usual backoff, which starts
// a new ssh.
//
// The ssh process is spawned with posix_spawn (safe in the agent's threads)
// and inherits the agent's network namespace, user and environment (HOME,
// so ~/.ssh/config and keys are the user's). Its stderr goes to a pipe this
// object reads when a handshake fails, so the error says why ssh gave up
// ("ssh root@198.18.0.12: Permission denied (publickey)").
//
// Thread-safe: Connect may run on several threads at once.
#ifndef EMU_LINKEMU_TUNNEL_SSH_H_
#define EMU_LINKEMU_TUNNEL_SSH_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "linkemu/tunnel_connection.h"

namespace emu::linkemu {

// How to reach peers over SSH. Defaults leave everything to ssh's own
// configuration (~/.ssh/config, /etc/ssh/ssh_config, default keys, port 22,
// the agent's user).
struct TunnelSshOptions {
  std::string command = "ssh";  // the client; looked up on PATH
  std::string user;             // -l USER; empty: ssh's default
  std::string identity_file;    // -i KEY (with IdentitiesOnly=yes)
  int port = 0;                 // -p PORT; 0: ssh's default (22)
  std::string config_file;      // -F FILE; empty: ssh's default files
  // More arguments before the destination ("-o", "Ciphers=...").
  std::vector<std::string> extra_args;
  // Per peer host: "[user@]host[:port]" that replaces the destination
  // derived from the peer's tunnel address (its host part).
  std::map<std::string, std::string> peers;
  // ssh's ConnectTimeout.
  absl::Duration connect_timeout = absl::Seconds(10);
};

// Parses the agent's --tunnel_ssh_peers: "h2=alice@gw2:2222,h3=10.0.0.3".
// INVALID_ARGUMENT naming the entry otherwise.
absl::StatusOr<std::map<std::string, std::string>> ParseSshPeers(
    absl::string_view flag);

// The ssh argv that carries a connection to the tunnel listener of
// `peer_host`, advertised at `peer_address` ("host:port", "[v6]:port"): the
// destination is the per-peer entry, else the address's host; the channel
// goes to 127.0.0.1:<port> on the peer. With `control_path`, ssh is also a
// master of its own there (ControlPersist=no) whose LocalCommand runs
// `true` through it once in the background: sshd sets TCP_NODELAY only on a
// connection that runs a command, and without it packets that follow
// another wait about 40 ms for a delayed ACK. INVALID_ARGUMENT for an
// address without a port.
absl::StatusOr<std::vector<std::string>> SshArgv(
    const TunnelSshOptions& options, const std::string& peer_host,
    const std::string& peer_address, const std::string& control_path = "");

class TunnelSsh {
 public:
  explicit TunnelSsh(TunnelSshOptions options);

  // Starts ssh towards `peer_host` and returns the connection at once (the
  // SSH handshake runs while the caller sends its hello; the first read
  // waits for it). The socket is blocking with `io_timeout` for reads and
  // writes. INVALID_ARGUMENT for a bad address, UNAVAILABLE when ssh cannot
  // be started.
  absl::StatusOr<std::unique_ptr<TunnelConnection>> Connect(
      const std::string& peer_host, const std::string& peer_address,
      absl::Duration io_timeout) const;

  const TunnelSshOptions& options() const { return options_; }

 private:
  const TunnelSshOptions options_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TUNNEL_SSH_H_
