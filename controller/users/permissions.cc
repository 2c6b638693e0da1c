#include "controller/users/permissions.h"

namespace emu::controller::users {
namespace {

struct VerbRow {
  Verb verb;
  absl::string_view name;
  absl::string_view phrase;
  Role weakest;  // the weakest role allowed to do it
};

// THE table: every verb with the weakest role that may do it (each role
// may do what the ones before it may).
constexpr VerbRow kTable[] = {
    {Verb::kView, "view", "view", Role::kViewer},
    {Verb::kExec, "exec", "exec in", Role::kOperator},
    {Verb::kRun, "run", "run experiments on", Role::kOperator},
    {Verb::kRestart, "restart", "restart nodes of", Role::kOperator},
    {Verb::kShape, "shape", "change link conditions of", Role::kOperator},
    {Verb::kExport, "export", "change the community exports of",
     Role::kOperator},
    {Verb::kDestroy, "destroy", "destroy", Role::kOwner},
    {Verb::kShare, "share", "share", Role::kOwner},
};

const VerbRow& RowOf(Verb verb) {
  for (const VerbRow& row : kTable) {
    if (row.verb == verb) return row;
  }
  return kTable[0];  // unreachable: every Verb has a row
}

}  // namespace

bool Allows(Role role, Verb verb) {
  return static_cast<int>(role) >= static_cast<int>(RowOf(verb).weakest);
}

absl::string_view VerbName(Verb verb) { return RowOf(verb).name; }
absl::string_view VerbPhrase(Verb verb) { return RowOf(verb).phrase; }

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kOwner:
      return "owner";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

Role FromProto(emu::v1::Role role) {
  switch (role) {
    case emu::v1::VIEWER:
      return Role::kViewer;
    case emu::v1::OPERATOR:
      return Role::kOperator;
    default:
      return Role::kNone;
  }
}

Role Stronger(Role a, Role b) {
  return static_cast<int>(a) >= static_cast<int>(b) ? a : b;
}

}  // namespace emu::controller::users
