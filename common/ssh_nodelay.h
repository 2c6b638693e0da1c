// sshd turns Nagle off (TCP_NODELAY) only on a connection where a session
// runs a command; a connection that only forwards (-N -L/-R, -W) never
// does, and each small write then waits for the peer's delayed ACK (about
// 40 ms). The cure, shared by emuctl's SSH paths and the SSH link carrier:
// the ssh process is a control master of its own and, once connected, runs
// one command (`true`) through itself.
#ifndef EMU_COMMON_SSH_NODELAY_H_
#define EMU_COMMON_SSH_NODELAY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace emu {

// ssh options making the ssh a master at `control_path` (ControlPersist=no:
// it ends with the connection) whose LocalCommand runs `probe_argv` (an ssh
// through that master running `true`) in the background with its output
// nowhere: LocalCommand shares ssh's stdin and stdout, and ssh waits for the
// shell, not for the command. Every word is single-quoted for the shell and
// has its '%' doubled for ssh's token expansion.
std::vector<std::string> SshNoDelayMasterOptions(
    absl::string_view control_path, const std::vector<std::string>& probe_argv);

}  // namespace emu

#endif  // EMU_COMMON_SSH_NODELAY_H_
