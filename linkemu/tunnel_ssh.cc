#include "linkemu/tunnel_ssh.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/errno_status.h"
#include "common/ssh_nodelay.h"

extern char** environ;

namespace emu::linkemu {
namespace {

// "host:port" / "[v6]:port" -> port; empty on a malformed address.
std::string PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "";
  std::string port = address.substr(colon + 1);
  int p;
  if (!absl::SimpleAtoi(port, &p) || p <= 0 || p > 65535) return "";
  return port;
}

std::string HostOf(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// "[user@]host[:port]" (host may be "[v6]") -> user, host, port.
absl::Status SplitDestination(absl::string_view dest, std::string* user,
                              std::string* host, std::string* port) {
  user->clear();
  port->clear();
  size_t at = dest.rfind('@');
  if (at != absl::string_view::npos) {
    *user = std::string(dest.substr(0, at));
    dest.remove_prefix(at + 1);
  }
  *host = std::string(dest);
  size_t colon = host->rfind(':');
  bool bracketed = !host->empty() && host->front() == '[';
  bool one_colon = colon != std::string::npos && host->find(':') == colon;
  if (colon != std::string::npos && (bracketed || one_colon)) {
    *port = host->substr(colon + 1);
    *host = host->substr(0, colon);
    int p;
    if (!absl::SimpleAtoi(*port, &p) || p <= 0 || p > 65535) {
      return absl::InvalidArgumentError("bad port");
    }
  }
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty() || (at != absl::string_view::npos && user->empty())) {
    return absl::InvalidArgumentError("want [user@]host[:port]");
  }
  return absl::OkStatus();
}

// The socketpair end that carries the tunnel, the ssh process on the other
// end, and its stderr.
class SshConnection : public TunnelConnection {
 public:
  SshConnection(int fd, pid_t pid, int err_fd, std::string what,
                std::string control_dir)
      : inner_(PlainConnection(fd)),
        pid_(pid),
        err_fd_(err_fd),
        what_(std::move(what)),
        control_dir_(std::move(control_dir)) {}

  ~SshConnection() override {
    inner_.reset();  // ssh reads the end of its stdin and exits by itself
    if (!reaped_) {
      kill(pid_, SIGTERM);
      if (!WaitExit(absl::Milliseconds(200))) {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
    close(err_fd_);
    if (!control_dir_.empty()) {
      // ssh removes its control socket when it exits; a killed one may not.
      unlink((control_dir_ + "/c").c_str());
      rmdir(control_dir_.c_str());
    }
  }

  int fd() const override { return inner_->fd(); }
  absl::StatusOr<size_t> Read(char* buf, size_t len) override {
    return inner_->Read(buf, len);
  }
  absl::StatusOr<size_t> Write(const char* data, size_t len) override {
    return inner_->Write(data, len);
  }
  std::string Describe() const override {
    return absl::StrCat(what_, " (pid ", pid_, ")");
  }

  absl::Status Explain(const absl::Status& failure) override {
    // A closed stream: ssh is exiting; give it a moment to say why.
    if (absl::StrContains(failure.message(), "closed")) {
      WaitExit(absl::Seconds(1));
    }
    std::string err = DrainStderr();
    std::string exit_text;
    if (reaped_) {
      exit_text = WIFEXITED(status_)
                      ? absl::StrCat("ssh exited with status ",
                                     WEXITSTATUS(status_))
                      : absl::StrCat("ssh killed by signal ",
                                     WTERMSIG(status_));
    }
    if (err.empty() && exit_text.empty()) {
      return absl::Status(failure.code(), absl::StrCat(failure.message(),
                                                       " (over ", what_, ")"));
    }
    std::string msg = absl::StrCat(
        what_, ": ", err.empty() ? exit_text : err,
        err.empty() || exit_text.empty() ? "" : absl::StrCat(" (", exit_text, ")"));
    // What only the peer's or this host's SSH configuration can fix: the
    // dialer retries at its slowest pace.
    if (absl::StrContains(err, "Permission denied") ||
        absl::StrContains(err, "Host key verification failed") ||
        absl::StrContains(err, "IDENTIFICATION HAS CHANGED")) {
      return absl::UnauthenticatedError(msg);
    }
    return absl::UnavailableError(msg);
  }

 private:
  // True once the process is reaped (within `timeout`).
  bool WaitExit(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (!reaped_) {
      pid_t r = waitpid(pid_, &status_, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_ = true;
        break;
      }
      if (absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return reaped_;
  }

  // ssh's error output so far, on one line (the last 512 bytes).
  std::string DrainStderr() {
    char buf[4096];
    while (true) {
      ssize_t n = read(err_fd_, buf, sizeof(buf));
      if (n > 0) {
        stderr_.append(buf, n);
        if (stderr_.size() > 4096) stderr_.erase(0, stderr_.size() - 4096);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;
    }
    std::vector<std::string> lines;
    for (absl::string_view l : absl::StrSplit(stderr_, '\n')) {
      l = absl::StripAsciiWhitespace(l);
      if (!l.empty()) lines.emplace_back(l);
    }
    std::string joined = absl::StrJoin(lines, "; ");
    if (joined.size() > 512) joined = joined.substr(joined.size() - 512);
    return joined;
  }

  std::unique_ptr<TunnelConnection> inner_;
  const pid_t pid_;
  const int err_fd_;
  const std::string what_;
  const std::string control_dir_;  // the master's socket's; empty: none
  bool reaped_ = false;
  int status_ = 0;
  std::string stderr_;
};

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ParseSshPeers(
    absl::string_view flag) {
  std::map<std::string, std::string> peers;
  for (absl::string_view entry :
       absl::StrSplit(flag, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::pair<std::string, std::string> kv =
        absl::StrSplit(entry, absl::MaxSplits('=', 1));
    std::string user, host, port;
    absl::Status s = kv.first.empty() || kv.second.empty()
                         ? absl::InvalidArgumentError("want HOST=[user@]host[:port]")
                         : SplitDestination(kv.second, &user, &host, &port);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tunnel_ssh_peers entry '", entry, "': ", s.message()));
    }
    if (!peers.emplace(kv.first, kv.second).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tunnel_ssh_peers: host '", kv.first, "' given twice"));
    }
  }
  return peers;
}

absl::StatusOr<std::vector<std::string>> SshArgv(
    const TunnelSshOptions& options, const std::string& peer_host,
    const std::string& peer_address, const std::string& control_path) {
  const std::string port = PortOf(peer_address);
  if (port.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tunnel address '", peer_address, "' of ", peer_host,
                     ": want host:port"));
  }
  std::string user = options.user;
  std::string host = HostOf(peer_address);
  std::string ssh_port = options.port > 0 ? absl::StrCat(options.port) : "";
  auto peer = options.peers.find(peer_host);
  if (peer != options.peers.end()) {
    std::string u, p;
    absl::Status s = SplitDestination(peer->second, &u, &host, &p);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ssh destination '", peer->second, "' of ", peer_host, ": ",
          s.message()));
    }
    if (!u.empty()) user = u;
    if (!p.empty()) ssh_port = p;
  }
  int64_t timeout = std::max<int64_t>(
      1, absl::ToInt64Seconds(options.connect_timeout));
  std::vector<std::string> argv = {
      options.command,
      "-T",  // no terminal: the channel carries bytes only
      "-o", "BatchMode=yes",
      "-o", absl::StrCat("ConnectTimeout=", timeout),
      // A silent peer ends ssh, hence the connection, in about 10 s.
      "-o", "ServerAliveInterval=3",
      "-o", "ServerAliveCountMax=3",
      "-o", "LogLevel=ERROR"};
  if (!control_path.empty()) {
    // sshd turns Nagle off (TCP_NODELAY) only on a connection where a
    // session runs a command, which a -W connection never does: each small
    // write sshd made waited for this side's delayed ACK (about 40 ms per
    // packet that followed another). So this ssh is a master of its own
    // (ControlPersist=no: it ends with the connection), and its
    // LocalCommand runs `true` through it once, in the background (ssh waits
    // for the shell only; the command's output must not reach the stream).
    std::vector<std::string> inner = {options.command, "-S", control_path,
                                      "-o", "ControlMaster=no", "-T"};
    if (!options.config_file.empty()) {
      inner.insert(inner.end(), {"-F", options.config_file});
    }
    if (!user.empty()) inner.insert(inner.end(), {"-l", user});
    inner.insert(inner.end(), {"--", host, "true"});
    const std::vector<std::string> master =
        SshNoDelayMasterOptions(control_path, inner);
    argv.insert(argv.end(), master.begin(), master.end());
  }
  if (!options.config_file.empty()) {
    argv.insert(argv.end(), {"-F", options.config_file});
  }
  if (!options.identity_file.empty()) {
    argv.insert(argv.end(),
                {"-i", options.identity_file, "-o", "IdentitiesOnly=yes"});
  }
  if (!user.empty()) argv.insert(argv.end(), {"-l", user});
  if (!ssh_port.empty()) argv.insert(argv.end(), {"-p", ssh_port});
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  argv.insert(argv.end(), {"-W", absl::StrCat("127.0.0.1:", port), "--", host});
  return argv;
}

TunnelSsh::TunnelSsh(TunnelSshOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<TunnelConnection>> TunnelSsh::Connect(
    const std::string& peer_host, const std::string& peer_address,
    absl::Duration io_timeout) const {
  // A private directory (0700) for the connection's control socket.
  std::string control_dir = "/tmp/emu-tssh-XXXXXX";
  if (mkdtemp(control_dir.data()) == nullptr) control_dir.clear();
  auto argv = SshArgv(options_, peer_host, peer_address,
                      control_dir.empty() ? "" : control_dir + "/c");
  if (!argv.ok()) {
    if (!control_dir.empty()) rmdir(control_dir.c_str());
    return argv.status();
  }
  const std::string& dest = argv->back();
  std::string user;
  for (size_t i = 0; i + 1 < argv->size(); ++i) {
    if ((*argv)[i] == "-l") user = (*argv)[i + 1];
  }
  const std::string what =
      absl::StrCat("ssh ", user.empty() ? "" : user + "@", dest, " -W ",
                   (*argv)[argv->size() - 3]);

  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
    return ErrnoToStatus(errno, absl::StrCat(what, ": socketpair"));
  }
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) {
    absl::Status s = ErrnoToStatus(errno, absl::StrCat(what, ": pipe"));
    close(sp[0]);
    close(sp[1]);
    return s;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, sp[1], 0);
  posix_spawn_file_actions_adddup2(&actions, sp[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The agent ignores SIGPIPE and its threads may block signals: ssh gets
  // the defaults. Its own process group: a signal to the agent's group
  // (Ctrl-C) is the agent's to handle, and the agent ends ssh itself.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
  std::vector<char*> cargv;
  for (auto& a : *argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &actions, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(sp[1]);
  close(err[1]);
  if (rc != 0) {
    close(sp[0]);
    close(err[0]);
    if (!control_dir.empty()) rmdir(control_dir.c_str());
    return absl::UnavailableError(absl::StrCat(
        "start ", options_.command, " for the tunnel to ", peer_host, ": ",
        std::strerror(rc)));
  }
  fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
  timeval tv = absl::ToTimeval(io_timeout);
  setsockopt(sp[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(sp[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  // Room for a pump batch (512 KiB) in the socketpair.
  int buf = 1 << 20;
  setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  return std::make_unique<SshConnection>(sp[0], pid, err[0], what,
                                         std::move(control_dir));
}

}  // namespace emu::linkemu
