#include "controller/community/community_access.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "proto/topology_names.h"

namespace emu::controller::community {

std::string ExportName(const Export& e) {
  return absl::StrCat(e.owner, "/", e.name);
}

std::string AttachmentName(const emu::v1::Attachment& at) {
  return absl::StrCat(EndpointName(at.local()), "<->community:", at.endpoint());
}

absl::Status SplitEndpoint(absl::string_view endpoint, absl::string_view caller,
                           std::string* owner, std::string* name) {
  std::vector<std::string> parts = absl::StrSplit(endpoint, '/');
  if (parts.size() == 1) parts.insert(parts.begin(), std::string(caller));
  if (parts.size() != 2 || !emu::IsValidName(parts[0]) ||
      !emu::IsValidName(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "community endpoint \"", endpoint,
        "\": expected OWNER/NAME (or NAME for one's own export), each "
        "1-32 letters, digits, '-' or '_'"));
  }
  *owner = parts[0];
  *name = parts[1];
  return absl::OkStatus();
}

absl::Status MayAttach(absl::string_view caller, const Export& e) {
  auto named = [&](absl::string_view who) {
    return std::find(e.to.begin(), e.to.end(), who) != e.to.end();
  };
  if (!caller.empty() && (caller == e.owner || caller == kAdministrator ||
                          named(caller) || named(kEveryone))) {
    return absl::OkStatus();
  }
  return NotOffered(caller, e);
}

absl::Status NotOffered(absl::string_view caller, const Export& e) {
  return absl::NotFoundError(absl::StrCat(
      "community endpoint ", ExportName(e),
      " does not exist or is not exported to ",
      caller.empty() ? "an anonymous caller" : caller));
}

}  // namespace emu::controller::community
