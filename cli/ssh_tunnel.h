// emuctl over SSH: a tunnel from a local unix socket to the controller's
// address on a gateway, made by the user's own OpenSSH client (so ssh-agent,
// ~/.ssh/config, ProxyJump and known_hosts apply as the user set them), and
// one-shot remote commands on the same gateway (reading a token file).
#ifndef EMU_CLI_SSH_TUNNEL_H_
#define EMU_CLI_SSH_TUNNEL_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/process_launcher.h"

namespace emu::cli {

// The controller's default address as seen on the gateway.
inline constexpr char kDefaultSshTarget[] = "127.0.0.1:7470";

// "[user@]host[:port]" ("[v6]:port" for an IPv6 address with a port).
struct SshDestination {
  std::string user;  // empty: ssh's own default (~/.ssh/config, $USER)
  std::string host;  // a name, an address or a ~/.ssh/config alias
  int port = 0;      // 0: ssh's own default
  // "user@host" or "host", as ssh takes it.
  std::string SshHost() const;
  // As the user wrote it, for messages.
  std::string text;
};

// INVALID_ARGUMENT naming `text` when it is empty, has an empty user or
// host, a bad port, or starts with '-' (it would be read as an ssh option).
absl::StatusOr<SshDestination> ParseSshDestination(absl::string_view text);

// The other end of the tunnel, written for ssh's -L: "HOST:PORT" stays as
// is; "unix:/path" and "/path" become "/path" (a socket on the gateway).
// INVALID_ARGUMENT for anything else.
absl::StatusOr<std::string> SshForwardTarget(absl::string_view target);

// Splits EMU_SSH_OPTS / --ssh-opts on whitespace (no quoting: options with
// spaces belong in an ssh config file passed with -F).
std::vector<std::string> SplitSshOptions(absl::string_view options);

// ssh -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes [-p PORT]
//     OPTIONS... -o ServerAliveInterval=10 -L LOCAL:REMOTE [user@]host
// The user's OPTIONS come before emu's keep-alive so that theirs win (ssh
// keeps the first value of an option).
std::vector<std::string> BuildSshTunnelArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view local_socket, absl::string_view forward_target);

// ssh -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes [-p PORT]
//     OPTIONS... -o ServerAliveInterval=10 -R REMOTE:LOCAL [user@]host: a
// reverse forward, so that programs on the host reach LOCAL (an address
// as seen here) through REMOTE (a socket path or port on the host).
std::vector<std::string> BuildSshReverseArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view remote_socket, absl::string_view local_target);

// Single-quoted for a POSIX shell (the remote one).
std::string ShellQuote(absl::string_view s);

// ssh [-p PORT] OPTIONS... [user@]host -- COMMAND, where COMMAND is one
// argument the remote shell runs.
std::vector<std::string> BuildSshCommandArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view command);

// Reads a token file on the gateway (`ssh GATEWAY cat -- PATH`). Errors
// name the gateway and the path, with ssh's or cat's own message.
absl::StatusOr<std::string> ReadRemoteToken(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path);

struct SshTunnelOptions {
  SshDestination destination;
  std::string target = kDefaultSshTarget;  // on the gateway (--ssh-target)
  std::vector<std::string> ssh_options;    // EMU_SSH_OPTS / --ssh-opts
  // Where the tunnel's private directory (0700: socket and ssh's log) is
  // made: $XDG_RUNTIME_DIR, else /tmp. A unix socket path has at most 107
  // bytes, so not a deep test directory.
  std::string runtime_dir = "/tmp";
  // How long ssh may take to log in and open the forward.
  absl::Duration connect_timeout = absl::Seconds(30);
};

// One running `ssh -N -L`. Not thread-safe. The destructor ends ssh (by its
// pid) and removes the socket and its directory.
class SshTunnel {
 public:
  // Starts ssh and waits (bounded by connect_timeout) until the local socket
  // exists. UNAVAILABLE naming the gateway with ssh's own message when ssh
  // exits first (host key, authentication, forward refused);
  // DEADLINE_EXCEEDED when it takes too long (ssh is ended).
  static absl::StatusOr<std::unique_ptr<SshTunnel>> Open(
      ProcessLauncher* launcher, const SshTunnelOptions& options);
  ~SshTunnel();
  SshTunnel(const SshTunnel&) = delete;
  SshTunnel& operator=(const SshTunnel&) = delete;

  // "unix:/tmp/emuctl-ssh-XXXXXX/controller.sock", for gRPC.
  std::string address() const { return "unix:" + local_socket_; }
  const std::string& local_socket() const { return local_socket_; }
  // "root@gateway:2222 (to 127.0.0.1:7470 there)", for messages.
  std::string Describe() const;
  const SshDestination& destination() const { return destination_; }

  // Whether ssh is still running. Waits up to `grace` for it to exit, since a
  // call that just failed may see the socket close before ssh is reaped.
  bool Alive(absl::Duration grace = absl::ZeroDuration());
  // The last lines ssh wrote (its errors), trimmed; empty when none.
  std::string SshMessages() const;

 private:
  SshTunnel(ProcessLauncher* launcher, SshDestination destination,
            std::string target, std::string dir);
  absl::Status Start(const std::vector<std::string>& ssh_options,
                     absl::Duration connect_timeout);

  ProcessLauncher* launcher_;
  SshDestination destination_;
  std::string target_;
  std::string dir_;
  std::string local_socket_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace emu::cli

#endif  // EMU_CLI_SSH_TUNNEL_H_
