// How callers name labs: their own by the short name ("core"), another
// user's as OWNER/LAB ("alice/core"; "admin/core" for the cluster
// administrator's). Turns such a reference into the lab key the store and
// the agents use (emu::LabKey), and a stored lab back into the name a given
// caller would use.
#ifndef EMU_CONTROLLER_USERS_LAB_REF_H_
#define EMU_CONTROLLER_USERS_LAB_REF_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/auth.h"

namespace emu::controller::users {

struct LabRef {
  std::string owner;  // a user name, or "admin"
  std::string name;   // the owner's short name
  std::string key;    // emu::LabKey: "core" (admin's), "alice+core"
  // As the caller should see it: "core" for their own, else "owner/core".
  std::string display;
};

// The owner part of a key for `owner` ("admin" is the empty owner).
std::string KeyOwner(absl::string_view owner);
// The lab's owner as callers see it: "admin" for the empty owner.
std::string OwnerName(absl::string_view key_owner);
// Whose labs a caller's short names mean ("admin" for the cluster token).
std::string OwnLabsOwner(const Caller& caller);

// Parses "core" or "alice/core". INVALID_ARGUMENT naming the reference when
// a part is not a valid name.
absl::StatusOr<LabRef> ResolveLabRef(const Caller& caller,
                                     absl::string_view ref);
// The reference for a stored lab's key.
LabRef RefFromKey(const Caller& caller, absl::string_view key);

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_LAB_REF_H_
