#include "cli/ssh_tunnel.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
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

namespace emu::cli {
namespace {

// How often Open looks for the socket; ssh takes tens of ms at best.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
// sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxSocketPath = 107;
// Lines of ssh's log quoted in errors.
constexpr int kMessageLines = 5;
// Run through a new master so that sshd sets TCP_NODELAY on its end.
constexpr char kNoDelayCommand[] = "true";

void AppendDestination(const SshDestination& d,
                       const std::vector<std::string>& options,
                       std::vector<std::string>* argv) {
  if (d.port != 0) {
    argv->push_back("-p");
    argv->push_back(absl::StrCat(d.port));
  }
  argv->insert(argv->end(), options.begin(), options.end());
}

bool IsSocket(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool Connectable(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const bool ok =
      connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Whether something accepts connections on the unix socket `path` (a
// master's forward answers; a stale socket file refuses), as the kernel
// lists it: without connecting (see ListensOnUnixSocket).
bool Listening(const std::string& path) {
  std::ifstream in("/proc/net/unix");
  if (!in) return Connectable(path);
  std::stringstream text;
  text << in.rdbuf();
  return ListensOnUnixSocket(text.str(), path);
}

// FNV-1a, 64 bits, as 16 hex digits: a stable short name for a
// combination of gateway, target and options (socket paths are short).
std::string ShortHash(const std::vector<std::string>& parts) {
  uint64_t h = 14695981039346656037ull;
  for (const std::string& p : parts) {
    for (unsigned char c : p + '\n') {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return absl::StrCat(absl::Hex(h, absl::kZeroPad16));
}

std::string LastLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l = absl::StripAsciiWhitespace(line);
    if (!l.empty()) lines.emplace_back(l);
  }
  if (lines.size() > kMessageLines) {
    lines.erase(lines.begin(), lines.end() - kMessageLines);
  }
  return absl::StrJoin(lines, "; ");
}

// An exclusive flock on control.dir/lock, released when destroyed.
class DirLock {
 public:
  explicit DirLock(const std::string& dir)
      : fd_(open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC,
                 0600)) {
    if (fd_ >= 0) flock(fd_, LOCK_EX);
  }
  ~DirLock() {
    if (fd_ >= 0) close(fd_);  // releases the lock
  }

 private:
  int fd_;
};

}  // namespace

bool ListensOnUnixSocket(absl::string_view proc_net_unix,
                         absl::string_view path) {
  // "Num RefCount Protocol Flags Type St Inode Path": a listener has
  // __SO_ACCEPTCON (00010000) in Flags; Path is the rest of the line.
  for (absl::string_view line : absl::StrSplit(proc_net_unix, '\n')) {
    std::vector<absl::string_view> fields = absl::StrSplit(
        line, absl::MaxSplits(' ', 7), absl::SkipEmpty());
    if (fields.size() < 8 || fields[3] != "00010000") continue;
    if (absl::StripAsciiWhitespace(fields[7]) == path) return true;
  }
  return false;
}

std::string SshDestination::SshHost() const {
  return user.empty() ? host : absl::StrCat(user, "@", host);
}

absl::StatusOr<SshDestination> ParseSshDestination(absl::string_view text) {
  SshDestination d;
  d.text = std::string(text);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("SSH destination '", text, "': ", why,
                     " (expected [user@]gateway[:port])"));
  };
  if (text.empty()) return bad("empty");
  if (text[0] == '-') return bad("starts with '-'");
  absl::string_view rest = text;
  const size_t at = rest.rfind('@');
  if (at != absl::string_view::npos) {
    d.user = std::string(rest.substr(0, at));
    rest = rest.substr(at + 1);
    if (d.user.empty()) return bad("empty user");
  }
  absl::string_view port;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) return bad("no ']'");
    d.host = std::string(rest.substr(1, close - 1));
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return bad("junk after ']'");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    const size_t colon = rest.find(':');
    d.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
    if (port.empty()) return bad("empty port");
  } else {
    d.host = std::string(rest);  // a name, or a bare IPv6 address
  }
  if (d.host.empty()) return bad("empty host");
  if (!port.empty() &&
      (!absl::SimpleAtoi(port, &d.port) || d.port < 1 || d.port > 65535)) {
    return bad(absl::StrCat("bad port '", port, "'"));
  }
  for (char c : d.host + d.user) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return bad("contains a space");
    }
  }
  return d;
}

absl::StatusOr<std::string> SshForwardTarget(absl::string_view target) {
  absl::string_view t = target;
  if (absl::ConsumePrefix(&t, "unix:")) {
    // gRPC also writes "unix:///path".
    if (absl::StartsWith(t, "//")) t.remove_prefix(2);
  }
  if (absl::StartsWith(t, "/")) return std::string(t);
  const size_t colon = t.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(t.substr(colon + 1), &port) || port < 1 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SSH target '", target,
        "': expected the controller's address on the gateway, HOST:PORT "
        "(e.g. 127.0.0.1:7470) or unix:/run/emu/controller.sock"));
  }
  return std::string(t);
}

std::vector<std::string> SplitSshOptions(absl::string_view options) {
  return absl::StrSplit(options, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

std::string ShellQuote(absl::string_view s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

namespace {

// ssh -N with one forward (`direction` "-L" or "-R").
std::vector<std::string> BuildSshForwardArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view direction, absl::string_view forward,
    absl::string_view control_path) {
  std::vector<std::string> argv = {
      "ssh", "-N", "-o", "ExitOnForwardFailure=yes",
      // A socket left by an ssh that was killed must not block a new one.
      "-o", "StreamLocalBindUnlink=yes"};
  if (!control_path.empty()) {
    std::vector<std::string> nodelay =
        SshNoDelayOptions(control_path, destination.SshHost(), options);
    argv.insert(argv.end(), nodelay.begin(), nodelay.end());
  }
  AppendDestination(destination, options, &argv);
  // A dropped network ends ssh (and so the calls) in about 30 s instead of
  // the kernel's TCP timeout, unless the user's options say otherwise.
  argv.insert(argv.end(),
              {"-o", "ServerAliveInterval=10", std::string(direction),
               std::string(forward), destination.SshHost()});
  return argv;
}

}  // namespace

std::vector<std::string> SshNoDelayOptions(
    absl::string_view control_path, absl::string_view destination,
    const std::vector<std::string>& options) {
  std::vector<std::string> inner = {"ssh", "-S", std::string(control_path),
                                    "-o",
                                    "ControlMaster=no", "-T"};
  inner.insert(inner.end(), options.begin(), options.end());
  inner.insert(inner.end(), {std::string(destination), kNoDelayCommand});
  return SshNoDelayMasterOptions(control_path, inner);
}

std::vector<std::string> BuildSshTunnelArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view local_socket, absl::string_view forward_target,
    absl::string_view control_path) {
  return BuildSshForwardArgv(destination, options, "-L",
                             absl::StrCat(local_socket, ":", forward_target),
                             control_path);
}

std::vector<std::string> BuildSshReverseArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view remote_socket, absl::string_view local_target,
    absl::string_view control_path) {
  return BuildSshForwardArgv(destination, options, "-R",
                             absl::StrCat(remote_socket, ":", local_target),
                             control_path);
}

std::vector<std::string> BuildSshCommandArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view command) {
  std::vector<std::string> argv = {"ssh"};
  AppendDestination(destination, options, &argv);
  argv.insert(argv.end(), {destination.SshHost(), "--", std::string(command)});
  return argv;
}

std::string DefaultSshControlDir(absl::string_view runtime_dir) {
  if (!runtime_dir.empty()) return absl::StrCat(runtime_dir, "/emu-ssh");
  return absl::StrCat("/tmp/emu-ssh-", getuid());
}

absl::StatusOr<SshControl> SshControlFromEnv(absl::string_view persist,
                                             absl::string_view runtime_dir) {
  SshControl control;
  int seconds = 600;
  if (!persist.empty() &&
      (!absl::SimpleAtoi(persist, &seconds) || seconds < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EMU_SSH_PERSIST '", persist,
        "': expected seconds to keep the SSH connection (0: no reuse)"));
  }
  if (seconds == 0) return control;
  control.dir = DefaultSshControlDir(runtime_dir);
  control.persist = absl::Seconds(seconds);
  return control;
}

absl::Status PrepareSshControlDir(const SshControl& control) {
  if (mkdir(control.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, absl::StrCat("create ", control.dir));
  }
  struct stat st;
  if (lstat(control.dir.c_str(), &st) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("stat ", control.dir));
  }
  if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        control.dir,
        " must be a directory of this user's own with mode 0700 (it holds "
        "the SSH connection's sockets); remove it, or set EMU_SSH_PERSIST=0"));
  }
  return absl::OkStatus();
}

std::vector<std::string> SshControlOptions(const SshControl& control) {
  return {"-o", "ControlMaster=no", "-o",
          absl::StrCat("ControlPath=", control.ControlPath())};
}

std::vector<std::string> BuildSshMasterArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    const SshControl& control, absl::string_view log) {
  std::vector<std::string> argv = {
      "ssh", "-f", "-N", "-o", "ControlMaster=yes", "-o",
      absl::StrCat("ControlPath=", control.ControlPath()), "-o",
      absl::StrCat("ControlPersist=",
                   absl::ToInt64Seconds(control.persist)),
      "-o", "StreamLocalBindUnlink=yes", "-E", std::string(log)};
  AppendDestination(destination, options, &argv);
  argv.insert(argv.end(),
              {"-o", "ServerAliveInterval=10", destination.SshHost()});
  return argv;
}

std::vector<std::string> BuildSshMuxArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    const SshControl& control, absl::string_view op,
    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ssh"};
  AppendDestination(destination, options, &argv);
  argv.insert(argv.end(),
              {"-o", absl::StrCat("ControlPath=", control.ControlPath()), "-O",
               std::string(op)});
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(destination.SshHost());
  return argv;
}

std::string SshMasterLog(const SshDestination& destination,
                         const std::vector<std::string>& options,
                         const SshControl& control) {
  std::vector<std::string> parts = {destination.text};
  parts.insert(parts.end(), options.begin(), options.end());
  return absl::StrCat(control.dir, "/master-", ShortHash(parts), ".log");
}

bool SshMasterRunning(ProcessLauncher* launcher,
                      const SshDestination& destination,
                      const std::vector<std::string>& options,
                      const SshControl& control) {
  ProcessSpec spec;
  spec.argv = BuildSshMuxArgv(destination, options, control, "check", {});
  spec.timeout = absl::Seconds(10);
  absl::StatusOr<ProcessResult> r = launcher->Run(spec);
  return r.ok() && r->exit_code == 0;
}

namespace {

// EnsureSshMaster with the directory's lock held.
absl::Status EnsureSshMasterLocked(ProcessLauncher* launcher,
                                   const SshDestination& destination,
                                   const std::vector<std::string>& options,
                                   const SshControl& control,
                                   absl::Duration timeout) {
  if (SshMasterRunning(launcher, destination, options, control)) {
    return absl::OkStatus();
  }
  const std::string log = SshMasterLog(destination, options, control);
  // A new master's words only (ssh -E appends).
  std::error_code ec;
  std::filesystem::remove(log, ec);
  ProcessSpec spec;
  spec.argv = BuildSshMasterArgv(destination, options, control, log);
  spec.timeout = timeout;
  absl::StatusOr<ProcessResult> r = launcher->Run(spec);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("start ssh to ", destination.text, ": ",
                                     r.status().message()));
  }
  if (r->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("ssh to ", destination.text, ": no connection after ",
                     absl::FormatDuration(timeout), ": ", LastLines(log)));
  }
  if (r->exit_code != 0) {
    std::string said = LastLines(log);
    if (said.empty()) {
      said = std::string(absl::StripAsciiWhitespace(r->stderr_data));
    }
    return absl::UnavailableError(absl::StrCat(
        "ssh to ", destination.text, " exited before the tunnel was up",
        said.empty() ? std::string() : absl::StrCat(": ", said),
        "\nCheck that `ssh ", destination.SshHost(),
        " true` works without a prompt (emuctl's ssh has no terminal: use "
        "ssh-agent and a known host key)."));
  }
  // sshd turns Nagle's algorithm off (TCP_NODELAY) on a connection only
  // when a session on it runs a command (OpenSSH's
  // ssh_packet_set_interactive, called from do_exec; once per connection).
  // A master that carries nothing but forwards keeps Nagle on at sshd's
  // end: a reply written in two pieces waits for the client's delayed ACK,
  // and every gRPC call through the forward took about 40 ms more
  // (bench/remote_bench.sh). One command through the new master sets it
  // for the connection's life. Best effort: a failure here costs latency,
  // not correctness, and the master itself is up.
  ProcessSpec nodelay;
  std::vector<std::string> mux = options;
  const std::vector<std::string> control_options = SshControlOptions(control);
  mux.insert(mux.end(), control_options.begin(), control_options.end());
  nodelay.argv = BuildSshCommandArgv(destination, mux, kNoDelayCommand);
  nodelay.timeout = timeout;
  launcher->Run(nodelay).IgnoreError();
  return absl::OkStatus();
}

}  // namespace

absl::Status EnsureSshMaster(ProcessLauncher* launcher,
                             const SshDestination& destination,
                             const std::vector<std::string>& options,
                             const SshControl& control,
                             absl::Duration timeout) {
  if (absl::Status s = PrepareSshControlDir(control); !s.ok()) return s;
  DirLock lock(control.dir);
  return EnsureSshMasterLocked(launcher, destination, options, control,
                               timeout);
}

absl::StatusOr<std::string> ReadRemoteFile(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path,
    absl::string_view what, size_t max_bytes) {
  ProcessSpec spec;
  spec.argv = BuildSshCommandArgv(destination, options,
                                  absl::StrCat("cat -- ", ShellQuote(path)));
  spec.timeout = absl::Seconds(60);
  spec.max_output_bytes = max_bytes;
  absl::StatusOr<ProcessResult> r = launcher->Run(spec);
  if (!r.ok()) {
    return absl::Status(
        r.status().code(),
        absl::StrCat("ssh ", destination.text, ": ", r.status().message()));
  }
  if (r->exit_code != 0 ||
      absl::StripAsciiWhitespace(r->stdout_data).empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read ", what, " ", path, " on ", destination.text,
        " over SSH (exit ", r->exit_code, r->timed_out ? ", timed out" : "",
        "): ",
        r->exit_code == 0
            ? std::string("the file is empty")
            : std::string(absl::StripAsciiWhitespace(r->stderr_data))));
  }
  return std::move(r->stdout_data);
}

absl::StatusOr<std::string> ReadRemoteToken(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path) {
  absl::StatusOr<std::string> data =
      ReadRemoteFile(launcher, destination, options, path, "the token",
                     64 << 10);
  if (!data.ok()) return data.status();
  std::string token(absl::StripAsciiWhitespace(
      absl::string_view(*data).substr(0, data->find('\n'))));
  if (token.empty()) {
    return absl::UnavailableError(
        absl::StrCat("cannot read the token ", path, " on ", destination.text,
                     " over SSH: its first line is empty"));
  }
  return token;
}

SshTunnel::SshTunnel(ProcessLauncher* launcher, SshDestination destination,
                     std::string target, std::string dir)
    : launcher_(launcher),
      destination_(std::move(destination)),
      target_(std::move(target)),
      dir_(std::move(dir)),
      local_socket_(dir_ + "/controller.sock"),
      log_path_(dir_ + "/ssh.log") {}

absl::StatusOr<std::unique_ptr<SshTunnel>> SshTunnel::Open(
    ProcessLauncher* launcher, const SshTunnelOptions& options) {
  absl::StatusOr<std::string> forward = SshForwardTarget(options.target);
  if (!forward.ok()) return forward.status();
  if (!options.control.dir.empty()) {
    const SshControl& control = options.control;
    if (absl::Status s = PrepareSshControlDir(control); !s.ok()) return s;
    std::unique_ptr<SshTunnel> tunnel(new SshTunnel(
        launcher, options.destination, *forward, /*dir=*/""));
    std::vector<std::string> parts = {options.destination.text, *forward};
    parts.insert(parts.end(), options.ssh_options.begin(),
                 options.ssh_options.end());
    tunnel->local_socket_ =
        absl::StrCat(control.dir, "/fwd-", ShortHash(parts), ".sock");
    tunnel->log_path_ =
        SshMasterLog(options.destination, options.ssh_options, control);
    if (tunnel->local_socket_.size() > kMaxSocketPath) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tunnel socket path ", tunnel->local_socket_, " is longer than ",
          kMaxSocketPath,
          " bytes: set XDG_RUNTIME_DIR to a shorter directory"));
    }
    absl::Status started = tunnel->StartShared(options.ssh_options, control,
                                               options.connect_timeout);
    if (!started.ok()) return started;
    return tunnel;
  }
  std::string pattern =
      absl::StrCat(options.runtime_dir.empty() ? "/tmp" : options.runtime_dir,
                   "/emuctl-ssh-XXXXXX");
  // mkdtemp makes the directory 0700: only this user can use the socket,
  // which carries the caller's token-authenticated calls.
  if (mkdtemp(pattern.data()) == nullptr) {
    return ErrnoToStatus(errno,
                         absl::StrCat("create tunnel directory ", pattern));
  }
  std::unique_ptr<SshTunnel> tunnel(new SshTunnel(
      launcher, options.destination, *forward, std::move(pattern)));
  if (tunnel->local_socket_.size() > kMaxSocketPath) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tunnel socket path ", tunnel->local_socket_, " is longer than ",
        kMaxSocketPath, " bytes: set XDG_RUNTIME_DIR to a shorter directory"));
  }
  absl::Status started =
      tunnel->Start(options.ssh_options, options.connect_timeout);
  if (!started.ok()) return started;
  return tunnel;
}

absl::Status SshTunnel::Start(const std::vector<std::string>& ssh_options,
                              absl::Duration connect_timeout) {
  ProcessSpec spec;
  spec.argv =
      BuildSshTunnelArgv(destination_, ssh_options, local_socket_, target_,
                         /*control_path=*/dir_ + "/ctl");
  absl::StatusOr<pid_t> pid = launcher_->Spawn(spec, log_path_);
  if (!pid.ok()) {
    return absl::Status(pid.status().code(),
                        absl::StrCat("start ssh to ", destination_.text, ": ",
                                     pid.status().message()));
  }
  pid_ = *pid;
  const absl::Time deadline = absl::Now() + connect_timeout;
  while (!IsSocket(local_socket_)) {
    if (!launcher_->IsRunning(pid_)) {
      pid_ = -1;
      const std::string said = SshMessages();
      return absl::UnavailableError(absl::StrCat(
          "ssh to ", destination_.text, " exited before the tunnel to ",
          target_, " was up",
          said.empty() ? std::string() : absl::StrCat(": ", said),
          "\nCheck that `ssh ", destination_.SshHost(),
          " true` works without a prompt (emuctl's ssh has no terminal: use "
          "ssh-agent and a known host key)."));
    }
    if (absl::Now() >= deadline) {
      const std::string said = SshMessages();
      return absl::DeadlineExceededError(absl::StrCat(
          "ssh to ", destination_.text, ": no tunnel after ",
          absl::FormatDuration(connect_timeout),
          said.empty() ? std::string() : absl::StrCat(": ", said)));
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::OkStatus();
}

absl::Status SshTunnel::StartShared(
    const std::vector<std::string>& ssh_options, const SshControl& control,
    absl::Duration connect_timeout) {
  ssh_options_ = ssh_options;
  control_ = control;
  shared_ = true;
  // The common case: the master and its forward from an earlier call.
  if (Listening(local_socket_)) return absl::OkStatus();
  DirLock lock(control.dir);
  if (Listening(local_socket_)) return absl::OkStatus();
  if (absl::Status s = EnsureSshMasterLocked(launcher_, destination_,
                                             ssh_options, control,
                                             connect_timeout);
      !s.ok()) {
    if (absl::IsUnavailable(s)) {
      // Name the tunnel's target, as a failed `ssh -N -L` does.
      return absl::UnavailableError(absl::StrReplaceAll(
          s.message(), {{"before the tunnel was up",
                         absl::StrCat("before the tunnel to ", target_,
                                      " was up")}}));
    }
    return s;
  }
  ProcessSpec spec;
  spec.argv =
      BuildSshMuxArgv(destination_, ssh_options, control, "forward",
                      {"-L", absl::StrCat(local_socket_, ":", target_)});
  spec.timeout = connect_timeout;
  absl::StatusOr<ProcessResult> r = launcher_->Run(spec);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(
        "ssh to ", destination_.text, ": the forward to ", target_,
        " was refused: ", absl::StripAsciiWhitespace(r->stderr_data), " ",
        LastLines(log_path_)));
  }
  const absl::Time deadline = absl::Now() + connect_timeout;
  while (!Listening(local_socket_)) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "ssh to ", destination_.text, ": no tunnel after ",
          absl::FormatDuration(connect_timeout), ": ", LastLines(log_path_)));
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::OkStatus();
}

SshTunnel::~SshTunnel() {
  if (pid_ > 0) launcher_->Terminate(pid_, absl::Seconds(2)).IgnoreError();
  if (dir_.empty()) return;  // the master's forward stays
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SshTunnel::Describe() const {
  return absl::StrCat(destination_.text, " (to ", target_, " there)");
}

bool SshTunnel::Alive(absl::Duration grace) {
  if (shared_) {
    // The master exits on a dropped connection (ServerAliveInterval, or
    // the peer closing); a moment for it to notice.
    const absl::Time deadline = absl::Now() + grace;
    while (SshMasterRunning(launcher_, destination_, ssh_options_, control_)) {
      if (absl::Now() >= deadline) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }
  if (pid_ <= 0) return false;
  const absl::Time deadline = absl::Now() + grace;
  while (launcher_->IsRunning(pid_)) {
    if (absl::Now() >= deadline) return true;
    absl::SleepFor(kPollInterval);
  }
  pid_ = -1;
  return false;
}

std::string SshTunnel::SshMessages() const { return LastLines(log_path_); }

}  // namespace emu::cli
