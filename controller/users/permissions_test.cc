#include "controller/users/permissions.h"

#include <map>
#include <string>
#include <utility>

#include "gtest/gtest.h"

namespace emu::controller::users {
namespace {

// The table as docs/security.md states it, spelled out cell by cell: a
// change to the code's table that the documentation does not follow fails.
TEST(PermissionsTest, TableOfVerbsAndRoles) {
  const std::map<std::pair<Role, Verb>, bool> expected = {
      {{Role::kNone, Verb::kView}, false},
      {{Role::kNone, Verb::kExec}, false},
      {{Role::kNone, Verb::kRun}, false},
      {{Role::kNone, Verb::kRestart}, false},
      {{Role::kNone, Verb::kShape}, false},
      {{Role::kNone, Verb::kDestroy}, false},
      {{Role::kNone, Verb::kExport}, false},
      {{Role::kNone, Verb::kShare}, false},
      {{Role::kViewer, Verb::kView}, true},
      {{Role::kViewer, Verb::kExec}, false},
      {{Role::kViewer, Verb::kRun}, false},
      {{Role::kViewer, Verb::kRestart}, false},
      {{Role::kViewer, Verb::kShape}, false},
      {{Role::kViewer, Verb::kDestroy}, false},
      {{Role::kViewer, Verb::kExport}, false},
      {{Role::kViewer, Verb::kShare}, false},
      {{Role::kOperator, Verb::kView}, true},
      {{Role::kOperator, Verb::kExec}, true},
      {{Role::kOperator, Verb::kRun}, true},
      {{Role::kOperator, Verb::kRestart}, true},
      {{Role::kOperator, Verb::kShape}, true},
      {{Role::kOperator, Verb::kDestroy}, false},
      {{Role::kOperator, Verb::kExport}, true},
      {{Role::kOperator, Verb::kShare}, false},
      {{Role::kOwner, Verb::kView}, true},
      {{Role::kOwner, Verb::kExec}, true},
      {{Role::kOwner, Verb::kRun}, true},
      {{Role::kOwner, Verb::kRestart}, true},
      {{Role::kOwner, Verb::kShape}, true},
      {{Role::kOwner, Verb::kDestroy}, true},
      {{Role::kOwner, Verb::kExport}, true},
      {{Role::kOwner, Verb::kShare}, true},
      {{Role::kAdmin, Verb::kView}, true},
      {{Role::kAdmin, Verb::kExec}, true},
      {{Role::kAdmin, Verb::kRun}, true},
      {{Role::kAdmin, Verb::kRestart}, true},
      {{Role::kAdmin, Verb::kShape}, true},
      {{Role::kAdmin, Verb::kDestroy}, true},
      {{Role::kAdmin, Verb::kExport}, true},
      {{Role::kAdmin, Verb::kShare}, true},
  };
  size_t cells = 0;
  for (Role role : kAllRoles) {
    for (Verb verb : kAllVerbs) {
      auto it = expected.find({role, verb});
      ASSERT_NE(it, expected.end())
          << RoleName(role) << " x " << VerbName(verb) << " missing";
      EXPECT_EQ(Allows(role, verb), it->second)
          << RoleName(role) << " may " << VerbName(verb);
      ++cells;
    }
  }
  EXPECT_EQ(cells, expected.size());
}

TEST(PermissionsTest, SharesMapToRoles) {
  EXPECT_EQ(FromProto(emu::v1::VIEWER), Role::kViewer);
  EXPECT_EQ(FromProto(emu::v1::OPERATOR), Role::kOperator);
  EXPECT_EQ(FromProto(emu::v1::ROLE_UNSPECIFIED), Role::kNone);
  EXPECT_EQ(Stronger(Role::kViewer, Role::kOperator), Role::kOperator);
  EXPECT_EQ(Stronger(Role::kOwner, Role::kViewer), Role::kOwner);
  EXPECT_EQ(VerbPhrase(Verb::kExec), "exec in");
}

}  // namespace
}  // namespace emu::controller::users
