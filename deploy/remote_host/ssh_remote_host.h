// RemoteHost over the user's own OpenSSH client (cli/ssh_tunnel.h builds
// the command lines, so ~/.ssh/config, ssh-agent, ProxyJump and
// known_hosts work as for `emuctl --ssh`). One ssh process per call; with
// an SshControl, every call goes through one shared login (ControlMaster),
// started at the first call.
#ifndef EMU_DEPLOY_REMOTE_HOST_SSH_REMOTE_HOST_H_
#define EMU_DEPLOY_REMOTE_HOST_SSH_REMOTE_HOST_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/ssh_tunnel.h"
#include "common/process_launcher.h"
#include "deploy/remote_host/remote_host.h"

namespace emu::deploy::remote_host {

// Thread-compatible.
class SshRemoteHost : public RemoteHost {
 public:
  // `launcher` must outlive this object.
  SshRemoteHost(ProcessLauncher* launcher, cli::SshDestination destination,
                std::vector<std::string> ssh_options,
                absl::Duration timeout = absl::Minutes(10),
                cli::SshControl control = {});

  std::string Describe() const override { return destination_.text; }
  absl::StatusOr<RunResult> Run(const std::string& command) override;
  absl::Status Copy(const std::string& content, const std::string& path,
                    int mode) override;
  void UseSudo(bool sudo) override { sudo_ = sudo; }

 private:
  absl::StatusOr<RunResult> RunWithInput(const std::string& command,
                                         const std::string& input);

  ProcessLauncher* launcher_;
  cli::SshDestination destination_;
  std::vector<std::string> ssh_options_;
  absl::Duration timeout_;
  cli::SshControl control_;
  bool master_ready_ = false;  // the shared login is up
  bool sudo_ = false;
};

// The shell command SshRemoteHost::Copy runs (content on its stdin).
std::string CopyCommand(const std::string& path, int mode);

}  // namespace emu::deploy::remote_host

#endif  // EMU_DEPLOY_REMOTE_HOST_SSH_REMOTE_HOST_H_
