#include "controller/users/user_directory.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace emu::controller::users {
namespace {

constexpr char kClusterToken[] = "cluster-secret-0123456789";

std::string UniquePath() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/user-dir-", getpid(),
                      "-", counter++, ".db");
}

class UserDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = UniquePath();
    auto s = SqliteUserStore::Open(path_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    dir_ = std::make_unique<UserDirectory>(store_.get(), kClusterToken);
    admin_ = *dir_->Identify(kClusterToken);
  }

  // Adds `name` and returns the caller its token identifies.
  Caller Add(const std::string& name, bool admin = false) {
    emu::v1::AddUserRequest req;
    req.set_name(name);
    req.set_admin(admin);
    auto t = dir_->AddUser(admin_, req);
    EXPECT_TRUE(t.ok()) << t.status();
    tokens_[name] = t->token();
    auto c = dir_->Identify(t->token());
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }

  std::string path_;
  std::unique_ptr<SqliteUserStore> store_;
  std::unique_ptr<UserDirectory> dir_;
  Caller admin_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(UserDirectoryTest, IdentityFromTokens) {
  EXPECT_EQ(admin_.name, "admin");
  EXPECT_TRUE(admin_.admin);
  EXPECT_TRUE(admin_.cluster);
  Caller alice = Add("alice");
  EXPECT_EQ(alice.name, "alice");
  EXPECT_FALSE(alice.admin);
  EXPECT_FALSE(alice.cluster);
  Caller carol = Add("carol", /*admin=*/true);
  EXPECT_TRUE(carol.admin);
  EXPECT_FALSE(carol.cluster);

  for (const std::string& bad :
       {std::string(), std::string("nope"), std::string(kClusterToken) + "x",
        std::string("emu1.alice.") + std::string(64, '0')}) {
    auto c = dir_->Identify(bad);
    EXPECT_TRUE(absl::IsUnauthenticated(c.status())) << bad;
    // The refusal names no user: it does not tell who exists.
    EXPECT_EQ(c.status().message().find("alice"), std::string::npos);
  }
}

TEST_F(UserDirectoryTest, RotationAndRevocationStopTheOldTokenAtOnce) {
  Add("alice");
  const std::string first = tokens_["alice"];
  auto second = dir_->RotateToken(admin_, "alice");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(absl::IsUnauthenticated(dir_->Identify(first).status()));
  auto alice = dir_->Identify(second->token());
  ASSERT_TRUE(alice.ok());
  // A user may rotate their own token, not another's.
  Caller bob = Add("bob");
  EXPECT_TRUE(absl::IsPermissionDenied(
      dir_->RotateToken(bob, "alice").status()));
  auto third = dir_->RotateToken(*alice, "alice");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(absl::IsUnauthenticated(dir_->Identify(second->token()).status()));

  auto no_labs = [](const std::string&) -> absl::StatusOr<bool> {
    return false;
  };
  auto removed = dir_->RemoveUser(admin_, "alice", no_labs);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_TRUE(absl::IsUnauthenticated(dir_->Identify(third->token()).status()));
  // Idempotent.
  removed = dir_->RemoveUser(admin_, "alice", no_labs);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
}

TEST_F(UserDirectoryTest, OnlyAdministratorsManageUsers) {
  Caller bob = Add("bob");
  emu::v1::AddUserRequest req;
  req.set_name("mallory");
  auto s = dir_->AddUser(bob, req).status();
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_NE(s.message().find("bob is not an administrator"), std::string::npos);
  auto no_labs = [](const std::string&) -> absl::StatusOr<bool> {
    return false;
  };
  EXPECT_TRUE(absl::IsPermissionDenied(
      dir_->RemoveUser(bob, "bob", no_labs).status()));
  req.set_name("bob");
  EXPECT_TRUE(absl::IsAlreadyExists(dir_->AddUser(admin_, req).status()));
  req.set_name("admin");
  EXPECT_TRUE(absl::IsInvalidArgument(dir_->AddUser(admin_, req).status()));
  req.set_name("a.b");
  EXPECT_TRUE(absl::IsInvalidArgument(dir_->AddUser(admin_, req).status()));
  // A user with labs stays.
  auto has_labs = [](const std::string&) -> absl::StatusOr<bool> {
    return true;
  };
  auto busy = dir_->RemoveUser(admin_, "bob", has_labs).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(busy)) << busy;
  // Users see themselves only.
  Add("alice");
  auto mine = dir_->ListUsers(bob);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].name(), "bob");
  auto all = dir_->ListUsers(admin_);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(UserDirectoryTest, LabReferencesAndKeys) {
  Caller alice = Add("alice");
  auto own = dir_->Authorize(alice, "core", Verb::kDestroy);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->key, "alice+core");
  EXPECT_EQ(own->display, "core");
  EXPECT_EQ(own->owner, "alice");
  // The cluster administrator's own labs keep their plain key.
  auto admin_own = dir_->Authorize(admin_, "core", Verb::kView);
  ASSERT_TRUE(admin_own.ok());
  EXPECT_EQ(admin_own->key, "core");
  auto theirs = dir_->Authorize(admin_, "alice/core", Verb::kExec);
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(theirs->key, "alice+core");
  EXPECT_EQ(theirs->display, "alice/core");
  auto admins = dir_->Authorize(alice, "admin/core", Verb::kView);
  EXPECT_TRUE(absl::IsPermissionDenied(admins.status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dir_->Authorize(alice, "a/b/c", Verb::kView).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dir_->Authorize(alice, "x+y", Verb::kView).status()));
}

TEST_F(UserDirectoryTest, SharesGrantTheirRoleAndNoMore) {
  Caller alice = Add("alice");
  Caller bob = Add("bob");
  Add("carol");
  auto denied = dir_->Authorize(bob, "alice/core", Verb::kView).status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied));
  EXPECT_EQ(denied.message(), "lab alice/core: bob may not view it");
  // The same answer for a lab that does not exist.
  auto absent = dir_->Authorize(bob, "alice/nothing", Verb::kView).status();
  EXPECT_TRUE(absl::IsPermissionDenied(absent));

  ASSERT_TRUE(dir_->Share(alice, "core", "bob", emu::v1::VIEWER).ok());
  EXPECT_TRUE(dir_->Authorize(bob, "alice/core", Verb::kView).ok());
  auto exec = dir_->Authorize(bob, "alice/core", Verb::kExec).status();
  EXPECT_TRUE(absl::IsPermissionDenied(exec));
  EXPECT_EQ(exec.message(), "lab alice/core: bob may not exec in it");
  // A viewer may not share further, nor destroy.
  EXPECT_TRUE(absl::IsPermissionDenied(
      dir_->Share(bob, "alice/core", "carol", emu::v1::VIEWER)));
  EXPECT_TRUE(absl::IsPermissionDenied(
      dir_->Authorize(bob, "alice/core", Verb::kDestroy).status()));

  // "*" shares with everyone; the stronger role wins.
  ASSERT_TRUE(dir_->Share(alice, "core", "*", emu::v1::OPERATOR).ok());
  EXPECT_TRUE(dir_->Authorize(bob, "alice/core", Verb::kExec).ok());
  ASSERT_TRUE(dir_->Unshare(alice, "core", "*").ok());
  EXPECT_FALSE(dir_->Authorize(bob, "alice/core", Verb::kExec).ok());
  EXPECT_TRUE(dir_->Authorize(bob, "alice/core", Verb::kView).ok());
  auto gone = dir_->Unshare(alice, "core", "bob");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(*gone);
  EXPECT_FALSE(dir_->Authorize(bob, "alice/core", Verb::kView).ok());

  // Sharing needs a known grantee and a real role.
  EXPECT_TRUE(absl::IsNotFound(
      dir_->Share(alice, "core", "nobody", emu::v1::VIEWER)));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dir_->Share(alice, "core", "bob", emu::v1::ROLE_UNSPECIFIED)));
}

TEST_F(UserDirectoryTest, UsersAndSharesSurviveARestart) {
  Caller alice = Add("alice");
  Add("bob");
  ASSERT_TRUE(dir_->Share(alice, "core", "bob", emu::v1::VIEWER).ok());
  dir_.reset();
  store_.reset();
  auto reopened = SqliteUserStore::Open(path_);
  ASSERT_TRUE(reopened.ok());
  UserDirectory again(reopened->get(), kClusterToken);
  auto bob = again.Identify(tokens_["bob"]);
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_TRUE(again.Authorize(*bob, "alice/core", Verb::kView).ok());
}

}  // namespace
}  // namespace emu::controller::users
