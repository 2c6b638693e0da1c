// Who may do what to a lab: the verbs × roles table, written once as data.
//
//             view  exec  run  restart  shape  export  destroy  share
//   viewer     x
//   operator   x     x     x     x        x      x
//   owner      x     x     x     x        x      x       x        x
//   admin      x     x     x     x        x      x       x        x
//
// "view" is get, list, status and the plan views of a lab; "run" starts an
// experiment on it; "shape" changes a link's conditions (emuctl link set);
// "export" offers a segment or interface of a running lab to other users'
// labs, or withdraws it (emuctl community export/unexport). Deploying is always to the caller's own name (and their
// quota), so it is not a verb on another user's lab. docs/security.md shows
// the same table.
#ifndef EMU_CONTROLLER_USERS_PERMISSIONS_H_
#define EMU_CONTROLLER_USERS_PERMISSIONS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "proto/users.pb.h"

namespace emu::controller::users {

enum class Verb {
  kView,
  kExec,
  kRun,
  kRestart,
  kShape,
  kDestroy,
  kShare,
  kExport,
};
inline constexpr Verb kAllVerbs[] = {Verb::kView,    Verb::kExec,
                                     Verb::kRun,     Verb::kRestart,
                                     Verb::kShape,   Verb::kDestroy,
                                     Verb::kShare,   Verb::kExport};

// A caller's relation to one lab, weakest first.
enum class Role { kNone, kViewer, kOperator, kOwner, kAdmin };
inline constexpr Role kAllRoles[] = {Role::kNone, Role::kViewer,
                                     Role::kOperator, Role::kOwner,
                                     Role::kAdmin};

bool Allows(Role role, Verb verb);

// "view", "exec", ... as the table and the error messages say them.
absl::string_view VerbName(Verb verb);
// The words of an error: "view", "exec in", "run experiments on", ...
absl::string_view VerbPhrase(Verb verb);
absl::string_view RoleName(Role role);

// A share's role; kNone for ROLE_UNSPECIFIED.
Role FromProto(emu::v1::Role role);
// The stronger of two roles.
Role Stronger(Role a, Role b);

}  // namespace emu::controller::users

#endif  // EMU_CONTROLLER_USERS_PERMISSIONS_H_
