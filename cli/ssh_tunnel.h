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

// sshd turns Nagle's algorithm off (TCP_NODELAY) on a connection only when
// a session on it runs a command (OpenSSH's ssh_packet_set_interactive,
// from do_exec; once per connection). An `ssh -N` or `ssh -W` connection
// never runs one, so a reply (or request) that sshd writes in two pieces
// waits for the peer's delayed ACK: about 40 ms per call. These options
// make the ssh process a master of its own at `control_path` (no
// ControlPersist: it ends with the process) and run `true` through it once,
// in the background, from ssh's LocalCommand (run after login, once the
// control socket listens):
//
//   -o ControlMaster=yes -o ControlPath=P -o ControlPersist=no
//   -o PermitLocalCommand=yes
//   -o LocalCommand=ssh -S P -o ControlMaster=no -T OPTIONS... DEST true ... &
//
// `options` are the user's (EMU_SSH_OPTS), so the inner ssh reads the same
// config. '%' in the path is escaped for ssh's token expansion.
std::vector<std::string> SshNoDelayOptions(
    absl::string_view control_path, absl::string_view destination,
    const std::vector<std::string>& options);

// ssh -N -o ExitOnForwardFailure=yes -o StreamLocalBindUnlink=yes
//     [SshNoDelayOptions(CONTROL)] [-p PORT] OPTIONS...
//     -o ServerAliveInterval=10 -L LOCAL:REMOTE [user@]host
// The user's OPTIONS come before emu's keep-alive so that theirs win (ssh
// keeps the first value of an option). With `control_path`, the
// connection gets TCP_NODELAY at sshd's end (SshNoDelayOptions).
std::vector<std::string> BuildSshTunnelArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view local_socket, absl::string_view forward_target,
    absl::string_view control_path = "");

// As BuildSshTunnelArgv with -R REMOTE:LOCAL: a reverse forward, so that
// programs on the host reach LOCAL (an address as seen here) through
// REMOTE (a socket path or port on the host).
std::vector<std::string> BuildSshReverseArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view remote_socket, absl::string_view local_target,
    absl::string_view control_path = "");

// Single-quoted for a POSIX shell (the remote one).
std::string ShellQuote(absl::string_view s);

// ssh [-p PORT] OPTIONS... [user@]host -- COMMAND, where COMMAND is one
// argument the remote shell runs.
std::vector<std::string> BuildSshCommandArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view command);

// Reads a file on the gateway (`ssh GATEWAY cat -- PATH`), at most
// `max_bytes`. `what` names it in errors ("the token", "the cluster CA"),
// which name the gateway and the path, with ssh's or cat's own message;
// an empty file is an error.
absl::StatusOr<std::string> ReadRemoteFile(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path,
    absl::string_view what, size_t max_bytes);

// Reads a token file on the gateway (ReadRemoteFile): its first line.
absl::StatusOr<std::string> ReadRemoteToken(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path);

// Connection reuse (OpenSSH's ControlMaster): one login per gateway,
// kept by a background ssh for `persist` after its last use, so repeated
// verbs (and `cluster add`'s commands) do not each pay a login. Its
// control socket and the forwards' sockets live in `dir` (0700, the
// user's own).
struct SshControl {
  std::string dir;  // empty: no reuse (an ssh per call, ended at exit)
  absl::Duration persist = absl::Minutes(10);
  // ssh expands %C: a hash of the local host, remote host, port and user.
  std::string ControlPath() const { return dir + "/cm-%C"; }
};

// Where the reuse sockets go: $XDG_RUNTIME_DIR/emu-ssh, else
// /tmp/emu-ssh-UID.
std::string DefaultSshControlDir(absl::string_view runtime_dir);

// The reuse settings from $EMU_SSH_PERSIST ("0": off; else seconds, default
// 600) and the runtime directory. INVALID_ARGUMENT for a bad value.
absl::StatusOr<SshControl> SshControlFromEnv(absl::string_view persist,
                                             absl::string_view runtime_dir);

// Makes `control.dir` (0700) or checks that it is this user's own and
// private (not a symlink, no group or other bits): the sockets in it carry
// the user's authenticated calls.
absl::Status PrepareSshControlDir(const SshControl& control);

// "-o ControlMaster=no -o ControlPath=P": a command through the master
// (BuildSshCommandArgv's options).
std::vector<std::string> SshControlOptions(const SshControl& control);

// ssh -f -N -o ControlMaster=yes -o ControlPath=P -o ControlPersist=Ns
//     -o StreamLocalBindUnlink=yes -E LOG [-p PORT] OPTIONS...
//     -o ServerAliveInterval=10 [user@]host: the background master.
std::vector<std::string> BuildSshMasterArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    const SshControl& control, absl::string_view log);

// ssh [-p PORT] OPTIONS... -o ControlPath=P -O OP ARGS... [user@]host: a
// request to the master ("check", "forward" with "-L", "exit").
std::vector<std::string> BuildSshMuxArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    const SshControl& control, absl::string_view op,
    const std::vector<std::string>& args);

// Whether a master for `destination` answers (ssh -O check).
// Whether `proc_net_unix` (the text of /proc/net/unix) lists a listening
// socket bound at `path`. Checking a master's forward this way opens no
// SSH channel (a connect to it would: one more channel open through ssh,
// sshd and the controller on every verb).
bool ListensOnUnixSocket(absl::string_view proc_net_unix,
                         absl::string_view path);

bool SshMasterRunning(ProcessLauncher* launcher,
                      const SshDestination& destination,
                      const std::vector<std::string>& options,
                      const SshControl& control);

// Starts the master unless one runs (under a lock in control.dir, so two
// emuctl at once make one), then runs `true` through a new master once:
// sshd sets TCP_NODELAY on a connection only when a session on it runs a
// command, and without it each call through a forward waits about 40 ms
// for a delayed ACK. UNAVAILABLE naming the gateway, with ssh's own
// words, when the login fails; DEADLINE_EXCEEDED after `timeout`.
absl::Status EnsureSshMaster(ProcessLauncher* launcher,
                             const SshDestination& destination,
                             const std::vector<std::string>& options,
                             const SshControl& control,
                             absl::Duration timeout);

// The master's log (ssh -E) for `destination` in control.dir.
std::string SshMasterLog(const SshDestination& destination,
                         const std::vector<std::string>& options,
                         const SshControl& control);

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
  // With control.dir: the forward is the master's and stays for the next
  // call (a socket in control.dir named by the gateway, target and
  // options); an emuctl that finds it answering starts no ssh at all.
  SshControl control;
};

// One running `ssh -N -L` (a master of its own at DIR/ctl that runs `true`
// once, SshNoDelayOptions, so that calls through it do not wait for
// delayed ACKs), or (with SshTunnelOptions::control) a forward of the
// shared master. Not thread-safe. The destructor ends its own ssh (by
// its pid) and removes the socket and its directory; a master's forward
// stays for the next call.
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
  // The master's forward: reuse it when it answers, else (re)make it.
  absl::Status StartShared(const std::vector<std::string>& ssh_options,
                           const SshControl& control,
                           absl::Duration connect_timeout);

  ProcessLauncher* launcher_;
  SshDestination destination_;
  std::string target_;
  std::string dir_;
  std::string local_socket_;
  std::string log_path_;
  pid_t pid_ = -1;
  // Set for a master's forward: Alive asks the master.
  std::vector<std::string> ssh_options_;
  SshControl control_;
  bool shared_ = false;
};

}  // namespace emu::cli

#endif  // EMU_CLI_SSH_TUNNEL_H_
