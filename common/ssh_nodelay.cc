#include "common/ssh_nodelay.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace emu {

std::vector<std::string> SshNoDelayMasterOptions(
    absl::string_view control_path,
    const std::vector<std::string>& probe_argv) {
  std::vector<std::string> quoted;
  for (const std::string& a : probe_argv) {
    quoted.push_back(absl::StrCat(
        "'", absl::StrReplaceAll(a, {{"'", "'\\''"}, {"%", "%%"}}), "'"));
  }
  return {"-o", "ControlMaster=yes",
          "-o", absl::StrCat("ControlPath=",
                             absl::StrReplaceAll(control_path, {{"%", "%%"}})),
          "-o", "ControlPersist=no",
          "-o", "PermitLocalCommand=yes",
          "-o", absl::StrCat("LocalCommand=", absl::StrJoin(quoted, " "),
                             " </dev/null >/dev/null 2>&1 &")};
}

}  // namespace emu
