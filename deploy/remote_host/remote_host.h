// A machine reached for administration (issue 9, `emuctl cluster add`):
// shell commands and file copies. The SSH implementation is
// ssh_remote_host.h; the fake for unit tests is testing/fake_remote_host.h.
#ifndef EMU_DEPLOY_REMOTE_HOST_REMOTE_HOST_H_
#define EMU_DEPLOY_REMOTE_HOST_REMOTE_HOST_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace emu::deploy::remote_host {

struct RunResult {
  int exit_code = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

class RemoteHost {
 public:
  virtual ~RemoteHost() = default;
  // "root@h2:2222", for messages.
  virtual std::string Describe() const = 0;
  // Runs `command` in the host's POSIX shell (as root through `sudo -n`
  // after UseSudo(true)). A command that runs and fails is not an error:
  // see exit_code. Errors: the host could not be reached (UNAVAILABLE,
  // naming it and saying why), or the command took too long.
  virtual absl::StatusOr<RunResult> Run(const std::string& command) = 0;
  // Writes `content` to `path` with `mode` (e.g. 0600), creating missing
  // parent directories (0755): through a temporary file in the same
  // directory, chmod before rename, so readers never see a partial file
  // or one with a wider mode.
  virtual absl::Status Copy(const std::string& content,
                            const std::string& path, int mode) = 0;
  // Whether commands run through `sudo -n` (the login is not root).
  virtual void UseSudo(bool sudo) = 0;
};

}  // namespace emu::deploy::remote_host

#endif  // EMU_DEPLOY_REMOTE_HOST_REMOTE_HOST_H_
