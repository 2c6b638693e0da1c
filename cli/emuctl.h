// The emuctl command line: builds the CLI11 app from the verb files, parses,
// runs the chosen verb and returns the process exit status. main.cc only
// fills EmuctlIo from the real process; tests call RunEmuctl directly.
#ifndef EMU_CLI_EMUCTL_H_
#define EMU_CLI_EMUCTL_H_

#include <iosfwd>
#include <string>
#include <vector>

#include "common/process_launcher.h"

namespace emu::cli {

// The process-wide inputs emuctl reads, so tests can replace them.
struct EmuctlIo {
  std::istream* in;
  std::ostream* out;
  std::ostream* err;
  std::string env_cluster;   // $EMU_CLUSTER
  std::string self_exe;      // /proc/self/exe
  std::string path_env;      // $PATH
  bool color = false;        // stdout is a colour terminal
  std::string env_ssh;       // $EMU_SSH: [user@]gateway[:port]
  std::string env_ssh_opts;  // $EMU_SSH_OPTS: extra ssh options
  // ${XDG_CONFIG_HOME:-~/.config}/emu/remotes.json; empty: no remotes.
  std::string remotes_file;
  std::string runtime_dir;  // SSH tunnel sockets; empty: /tmp
  // $EMU_SSH_PERSIST: seconds an SSH connection is kept for reuse; "0" (the
  // default here, for tests with fake launchers): none. main() passes the
  // variable as set, "" when unset (600 s).
  std::string env_ssh_persist = "0";
  // Starts ssh; nullptr: the real one (PosixProcessLauncher).
  ProcessLauncher* launcher = nullptr;
  std::string env_token;  // $EMU_TOKEN: a token (a user's), not a path
};

// args[0] is the program name. Returns the exit status: 0 ok, 1 failure,
// 2 bad usage, 124 exec timeout, or exec's command's own status.
int RunEmuctl(const std::vector<std::string>& args, const EmuctlIo& io);

}  // namespace emu::cli

#endif  // EMU_CLI_EMUCTL_H_
