// Environment variables in a topology file's text, as containerlab expands
// them before reading the YAML: `${NAME}` is the variable's value, and
// `${NAME:=default}` (also `:-`) the default when the variable is unset or
// empty, `${NAME=default}` (also `-`) only when it is unset. A bare `$NAME`
// and anything else with a `$` stays as written, so shell text in exec
// lines keeps its own variables. docs/topology.md describes it for users.
//
// The variables are the user's, not the controller's: emuctl sends the
// values of the names a file uses (EnvNamesIn) with the file, and the
// controller looks them up there. Pure functions; thread-safe.
#ifndef EMU_CONTROLLER_TOPOLOGY_ENV_SUBST_H_
#define EMU_CONTROLLER_TOPOLOGY_ENV_SUBST_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace emu::controller::topology {

// The value of variable `name`, or nullopt when it is not set.
using EnvLookup =
    std::function<std::optional<std::string>(const std::string& name)>;

struct SubstitutedText {
  std::string text;
  // "FILE:LINE: ${NAME} is not set: ...", in file order.
  std::vector<std::string> warnings;
};

// Expands the variables of `content` (see above) with `lookup`; a null
// lookup has every variable unset. A variable without a default that is
// not set becomes "" with a warning, as in containerlab. INVALID_ARGUMENT
// "FILE:LINE: ${NAME}: ..." when a value holds a line break (every later
// message would name the wrong line) or the expanded text is larger than
// kMaxTopologyFileBytes.
absl::StatusOr<SubstitutedText> SubstituteEnv(absl::string_view content,
                                              absl::string_view file,
                                              const EnvLookup& lookup);

// The names `content` refers to as ${NAME...}, sorted, each once.
std::vector<std::string> EnvNamesIn(absl::string_view content);

}  // namespace emu::controller::topology

#endif  // EMU_CONTROLLER_TOPOLOGY_ENV_SUBST_H_
