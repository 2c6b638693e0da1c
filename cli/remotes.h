// emuctl's remotes: named SSH gateways (`emuctl remote add NAME
// [user@]gateway`), kept in ${XDG_CONFIG_HOME:-~/.config}/emu/remotes.json
// (mode 0600), so `emuctl --remote NAME VERB` or a default remote need no
// other flags.
#ifndef EMU_CLI_REMOTES_H_
#define EMU_CLI_REMOTES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::cli {

struct Remote {
  std::string name;
  std::string destination;  // [user@]gateway[:port]
  std::string target;       // the controller's address there; empty: default
  std::string token_path;   // token file on the gateway; empty: none
  // The cluster CA's certificate (PEM), saved by `remote add` (fetched over
  // SSH or from --ca-file): emuctl speaks TLS to the controller and checks
  // it; empty: plain text (a controller with --insecure_plaintext).
  std::string ca_pem;
};

struct Remotes {
  std::vector<Remote> entries;  // in the order they were added
  std::string default_name;     // empty: no default remote
};

// ${config_home}/emu/remotes.json, config_home being $XDG_CONFIG_HOME, else
// $HOME/.config. Empty when both are empty.
std::string RemotesFilePath(absl::string_view xdg_config_home,
                            absl::string_view home);

// A missing file is no remotes. Errors name the file (unreadable, bad JSON,
// a malformed entry).
absl::StatusOr<Remotes> ReadRemotes(const std::string& path);

// Writes atomically (temporary file, then rename), mode 0600, creating the
// parent directory (0700) when missing.
absl::Status WriteRemotes(const std::string& path, const Remotes& remotes);

// The entry named `name`, or nullptr.
const Remote* FindRemote(const Remotes& remotes, absl::string_view name);

// INVALID_ARGUMENT unless `name` is 1-64 of [A-Za-z0-9._-], not starting
// with '-' or '.'.
absl::Status CheckRemoteName(absl::string_view name);

}  // namespace emu::cli

#endif  // EMU_CLI_REMOTES_H_
