#include "controller/users/token.h"

#include "gtest/gtest.h"

namespace emu::controller::users {
namespace {

TEST(TokenTest, IssuedTokenMatchesOnlyItsHash) {
  auto a = IssueToken("alice");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->token.rfind("emu1.alice.", 0), 0u) << a->token;
  EXPECT_EQ(a->hash.salt.size(), 16u);
  EXPECT_EQ(a->hash.digest.size(), 32u);
  // The secret is not kept: neither salt nor digest contains it.
  const std::string secret = a->token.substr(a->token.rfind('.') + 1);
  EXPECT_EQ(a->hash.digest.find(secret), std::string::npos);
  EXPECT_TRUE(TokenMatches(a->token, a->hash));

  auto b = IssueToken("alice");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a->token, b->token);
  EXPECT_NE(a->hash.salt, b->hash.salt);  // salted: same user, new salt
  EXPECT_FALSE(TokenMatches(a->token, b->hash));  // rotation: old fails
  EXPECT_FALSE(TokenMatches(b->token, a->hash));
}

TEST(TokenTest, AlteredOrForeignTokensDoNotMatch) {
  auto a = IssueToken("alice");
  ASSERT_TRUE(a.ok());
  std::string changed = a->token;
  changed.back() = changed.back() == '0' ? '1' : '0';
  EXPECT_FALSE(TokenMatches(changed, a->hash));
  EXPECT_FALSE(TokenMatches(a->token.substr(0, a->token.size() - 1), a->hash));
  EXPECT_FALSE(TokenMatches("", a->hash));
  EXPECT_FALSE(TokenMatches("0123456789abcdef", a->hash));
  EXPECT_FALSE(TokenMatches(a->token, TokenHash{}));
}

TEST(TokenTest, TokenUserReadsOnlyWellFormedTokens) {
  auto a = IssueToken("bob-2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(TokenUser(a->token), "bob-2");
  EXPECT_EQ(TokenUser("3f9a0c"), "");  // a cluster token
  EXPECT_EQ(TokenUser("emu1.bob.short"), "");
  EXPECT_EQ(TokenUser("emu1.a/b." + std::string(64, 'a')), "");
  EXPECT_EQ(TokenUser("emu2.bob." + std::string(64, 'a')), "");
}

}  // namespace
}  // namespace emu::controller::users
