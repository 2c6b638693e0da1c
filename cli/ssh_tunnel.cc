#include "cli/ssh_tunnel.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

namespace emu::cli {
namespace {

// How often Open looks for the socket; ssh takes tens of ms at best.
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
// sun_path holds 108 bytes with the terminating NUL.
constexpr size_t kMaxSocketPath = 107;
// Lines of ssh's log quoted in errors.
constexpr int kMessageLines = 5;

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

}  // namespace

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
    absl::string_view direction, absl::string_view forward) {
  std::vector<std::string> argv = {
      "ssh", "-N", "-o", "ExitOnForwardFailure=yes",
      // A socket left by an ssh that was killed must not block a new one.
      "-o", "StreamLocalBindUnlink=yes"};
  AppendDestination(destination, options, &argv);
  // A dropped network ends ssh (and so the calls) in about 30 s instead of
  // the kernel's TCP timeout, unless the user's options say otherwise.
  argv.insert(argv.end(),
              {"-o", "ServerAliveInterval=10", std::string(direction),
               std::string(forward), destination.SshHost()});
  return argv;
}

}  // namespace

std::vector<std::string> BuildSshTunnelArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view local_socket, absl::string_view forward_target) {
  return BuildSshForwardArgv(destination, options, "-L",
                             absl::StrCat(local_socket, ":", forward_target));
}

std::vector<std::string> BuildSshReverseArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view remote_socket, absl::string_view local_target) {
  return BuildSshForwardArgv(destination, options, "-R",
                             absl::StrCat(remote_socket, ":", local_target));
}

std::vector<std::string> BuildSshCommandArgv(
    const SshDestination& destination, const std::vector<std::string>& options,
    absl::string_view command) {
  std::vector<std::string> argv = {"ssh"};
  AppendDestination(destination, options, &argv);
  argv.insert(argv.end(), {destination.SshHost(), "--", std::string(command)});
  return argv;
}

absl::StatusOr<std::string> ReadRemoteToken(
    ProcessLauncher* launcher, const SshDestination& destination,
    const std::vector<std::string>& options, const std::string& path) {
  ProcessSpec spec;
  spec.argv = BuildSshCommandArgv(destination, options,
                                  absl::StrCat("cat -- ", ShellQuote(path)));
  spec.timeout = absl::Seconds(60);
  spec.max_output_bytes = 64 << 10;
  absl::StatusOr<ProcessResult> r = launcher->Run(spec);
  if (!r.ok()) {
    return absl::Status(
        r.status().code(),
        absl::StrCat("ssh ", destination.text, ": ", r.status().message()));
  }
  const std::string token(absl::StripAsciiWhitespace(
      r->stdout_data.substr(0, r->stdout_data.find('\n'))));
  if (r->exit_code != 0 || token.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot read the token ", path, " on ", destination.text,
        " over SSH (exit ", r->exit_code, r->timed_out ? ", timed out" : "",
        "): ",
        r->exit_code == 0
            ? std::string("the file is empty")
            : std::string(absl::StripAsciiWhitespace(r->stderr_data))));
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
      BuildSshTunnelArgv(destination_, ssh_options, local_socket_, target_);
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

SshTunnel::~SshTunnel() {
  if (pid_ > 0) launcher_->Terminate(pid_, absl::Seconds(2)).IgnoreError();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SshTunnel::Describe() const {
  return absl::StrCat(destination_.text, " (to ", target_, " there)");
}

bool SshTunnel::Alive(absl::Duration grace) {
  if (pid_ <= 0) return false;
  const absl::Time deadline = absl::Now() + grace;
  while (launcher_->IsRunning(pid_)) {
    if (absl::Now() >= deadline) return true;
    absl::SleepFor(kPollInterval);
  }
  pid_ = -1;
  return false;
}

std::string SshTunnel::SshMessages() const {
  std::ifstream in(log_path_);
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

}  // namespace emu::cli
