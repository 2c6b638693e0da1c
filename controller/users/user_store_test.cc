#include "controller/users/user_store.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace emu::controller::users {
namespace {

std::string UniquePath() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/user-store-", getpid(),
                      "-", counter++, ".db");
}

UserRecord Alice() {
  UserRecord r;
  r.user.set_name("alice");
  r.user.set_admin(false);
  r.user.mutable_quota()->set_nodes(10);
  r.user.mutable_quota()->set_labs(0);
  r.user.set_created_unix_us(1700000000000000);
  r.token.salt = std::string("\0salt\xff", 6);
  r.token.digest = std::string(32, '\x7f');
  return r;
}

TEST(UserStoreTest, UsersAndSharesSurviveReopening) {
  const std::string path = UniquePath();
  {
    auto store = SqliteUserStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->PutUser(Alice()).ok());
    UserRecord bob;
    bob.user.set_name("bob");
    bob.user.set_admin(true);
    bob.token.salt = "s";
    bob.token.digest = "d";
    ASSERT_TRUE((*store)->PutUser(bob).ok());
    ASSERT_TRUE(
        (*store)->PutShare({"alice+core", "bob", emu::v1::VIEWER}).ok());
    ASSERT_TRUE((*store)->PutShare({"alice+core", "*", emu::v1::OPERATOR}).ok());
    // Sharing again replaces the role.
    ASSERT_TRUE(
        (*store)->PutShare({"alice+core", "bob", emu::v1::OPERATOR}).ok());
  }
  auto store = SqliteUserStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  auto alice = (*store)->GetUser("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->user.quota().nodes(), 10u);
  EXPECT_TRUE(alice->user.quota().has_labs());  // labs=0 is not "no limit"
  EXPECT_FALSE(alice->user.quota().has_guests());
  EXPECT_EQ(alice->token.salt, Alice().token.salt);  // binary-safe
  EXPECT_EQ(alice->token.digest, Alice().token.digest);
  auto users = (*store)->ListUsers();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[1].user.name(), "bob");
  EXPECT_TRUE((*users)[1].user.admin());
  auto shares = (*store)->ListShares();
  ASSERT_TRUE(shares.ok());
  ASSERT_EQ(shares->size(), 2u);
  EXPECT_EQ((*shares)[0].grantee, "*");
  EXPECT_EQ((*shares)[1].grantee, "bob");
  EXPECT_EQ((*shares)[1].role, emu::v1::OPERATOR);
}

TEST(UserStoreTest, DeletingAUserTakesTheirSharesAlong) {
  auto store = SqliteUserStore::Open(UniquePath());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PutUser(Alice()).ok());
  ASSERT_TRUE((*store)->PutShare({"bob+x", "alice", emu::v1::VIEWER}).ok());
  ASSERT_TRUE((*store)->PutShare({"bob+x", "carol", emu::v1::VIEWER}).ok());
  auto removed = (*store)->DeleteUser("alice");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(*removed);
  EXPECT_TRUE(absl::IsNotFound((*store)->GetUser("alice").status()));
  auto shares = (*store)->ListShares();
  ASSERT_TRUE(shares.ok());
  ASSERT_EQ(shares->size(), 1u);
  EXPECT_EQ((*shares)[0].grantee, "carol");
  removed = (*store)->DeleteUser("alice");  // idempotent
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(*removed);
  auto gone = (*store)->DeleteShare("bob+x", "carol");
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(*gone);
  gone = (*store)->DeleteShare("bob+x", "carol");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(*gone);
}

TEST(UserStoreTest, SharesTheFileWithOtherTables) {
  // The controller keeps labs, runs and users in one --db file.
  const std::string path = UniquePath();
  auto a = SqliteUserStore::Open(path);
  auto b = SqliteUserStore::Open(path);  // tables already there: fine
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->PutUser(Alice()).ok());
  EXPECT_TRUE((*b)->GetUser("alice").ok());
}

TEST(UserStoreTest, UnopenableFileIsNamed) {
  auto s = SqliteUserStore::Open("/nonexistent-dir-emu/x/users.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent-dir-emu/x/users.db"),
            std::string::npos)
      << s.status();
}

}  // namespace
}  // namespace emu::controller::users
