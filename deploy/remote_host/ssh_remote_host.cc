#include "deploy/remote_host/ssh_remote_host.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace emu::deploy::remote_host {

using cli::ShellQuote;

SshRemoteHost::SshRemoteHost(ProcessLauncher* launcher,
                             cli::SshDestination destination,
                             std::vector<std::string> ssh_options,
                             absl::Duration timeout,
                             cli::SshControl control)
    : launcher_(launcher),
      destination_(std::move(destination)),
      ssh_options_(std::move(ssh_options)),
      timeout_(timeout),
      control_(std::move(control)) {}

std::string CopyCommand(const std::string& path, int mode) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  const std::string tmp = path + ".emu-tmp";
  return absl::StrCat("set -e; umask 077; mkdir -p -m 0755 ", ShellQuote(dir),
                      "; cat > ", ShellQuote(tmp), "; chmod ",
                      absl::StrFormat("%04o", mode), " ", ShellQuote(tmp),
                      "; mv -f ", ShellQuote(tmp), " ", ShellQuote(path));
}

absl::StatusOr<RunResult> SshRemoteHost::Run(const std::string& command) {
  return RunWithInput(command, "");
}

absl::Status SshRemoteHost::Copy(const std::string& content,
                                 const std::string& path, int mode) {
  absl::StatusOr<RunResult> r = RunWithInput(CopyCommand(path, mode), content);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(
        "copy to ", path, " on ", destination_.text, " failed (exit ",
        r->exit_code, "): ", absl::StripAsciiWhitespace(r->err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<RunResult> SshRemoteHost::RunWithInput(
    const std::string& command, const std::string& input) {
  const std::string remote =
      sudo_ ? absl::StrCat("sudo -n sh -c ", ShellQuote(command)) : command;
  ProcessSpec spec;
  // BatchMode: no password prompt can hang emuctl (it has no terminal).
  std::vector<std::string> options = ssh_options_;
  options.insert(options.end(), {"-o", "BatchMode=yes"});
  if (!control_.dir.empty()) {
    if (!master_ready_) {
      absl::Status up = cli::EnsureSshMaster(launcher_, destination_, options,
                                             control_, absl::Seconds(60));
      if (!up.ok()) return up;
      master_ready_ = true;
    }
    const std::vector<std::string> mux = cli::SshControlOptions(control_);
    options.insert(options.end(), mux.begin(), mux.end());
  }
  spec.argv = cli::BuildSshCommandArgv(destination_, options, remote);
  spec.stdin_data = input;
  spec.timeout = timeout_;
  absl::StatusOr<ProcessResult> p = launcher_->Run(spec);
  if (!p.ok()) {
    return absl::Status(p.status().code(),
                        absl::StrCat("ssh ", destination_.text, ": ",
                                     p.status().message()));
  }
  if (p->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("ssh ", destination_.text, ": `", command,
                     "` did not finish in ", absl::FormatDuration(timeout_)));
  }
  // 255 is ssh's own failure (connection, authentication, host key).
  if (p->exit_code == 255) {
    return absl::UnavailableError(
        absl::StrCat("ssh ", destination_.text, " failed: ",
                     absl::StripAsciiWhitespace(p->stderr_data),
                     "\nCheck that `ssh ", destination_.SshHost(),
                     " true` works without a prompt (ssh-agent, a known "
                     "host key)."));
  }
  return RunResult{p->exit_code, std::move(p->stdout_data),
                   std::move(p->stderr_data)};
}

}  // namespace emu::deploy::remote_host
