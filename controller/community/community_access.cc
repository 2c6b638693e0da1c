#include "controller/community/community_access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace emu::controller::community {

std::string ExportName(const Export& e) {
  return absl::StrCat(e.owner, "/", e.name);
}

absl::Status MayAttach(absl::string_view caller, const Export& e) {
  auto named = [&](absl::string_view who) {
    return std::find(e.to.begin(), e.to.end(), who) != e.to.end();
  };
  if (!caller.empty() && (caller == e.owner || caller == kAdministrator ||
                          named(caller) || named(kEveryone))) {
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(
      "community endpoint ", ExportName(e),
      " does not exist or is not exported to ",
      caller.empty() ? "an anonymous caller" : caller));
}

}  // namespace emu::controller::community
