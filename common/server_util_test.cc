// Secure by default: the token a daemon uses when given none, and the
// permissions of its unix socket.
#include "common/server_util.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

using ::testing::HasSubstr;

class ServerUtilTest : public ::testing::Test {
 protected:
  ServerUtilTest() {
    char dir[] = "/tmp/server_util_test.XXXXXX";
    dir_ = mkdtemp(dir);
  }
  ~ServerUtilTest() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST_F(ServerUtilTest, NoTokenFileGeneratesAPrivateOneAndKeepsIt) {
  const std::string path = dir_ + "/state/deeper/token";
  absl::StatusOr<std::string> first = LoadServerToken("", path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 64u);  // 32 random bytes in hex
  EXPECT_EQ(Mode(path), 0600u);
  EXPECT_EQ(Mode(dir_ + "/state/deeper"), 0700u);
  // A restart uses the same token, so clients keep working.
  absl::StatusOr<std::string> again = LoadServerToken("", path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  // Two daemons never share a generated token by chance.
  absl::StatusOr<std::string> other = LoadServerToken("", dir_ + "/b/token");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);
}

TEST_F(ServerUtilTest, TokenFileWinsAndNothingIsGenerated) {
  const std::string given = dir_ + "/given";
  std::ofstream(given) << "abc\n";
  chmod(given.c_str(), 0600);
  absl::StatusOr<std::string> token = LoadServerToken(given, dir_ + "/gen");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(*token, "abc");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/gen"));
}

TEST_F(ServerUtilTest, NeverAnonymous) {
  EXPECT_FALSE(LoadServerToken("", "").ok());
  // A generated file someone widened is refused like any token file.
  const std::string path = dir_ + "/token";
  ASSERT_TRUE(LoadServerToken("", path).ok());
  chmod(path.c_str(), 0644);
  absl::StatusOr<std::string> token = LoadServerToken("", path);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr(path));
}

TEST_F(ServerUtilTest, GenerateRefusesAnExistingFileOrSymlink) {
  const std::string target = dir_ + "/elsewhere";
  std::ofstream(target) << "x";
  ASSERT_EQ(symlink(target.c_str(), (dir_ + "/token").c_str()), 0);
  EXPECT_FALSE(GenerateTokenFile(dir_ + "/token").ok());
  std::ifstream in(target);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "x");
}

TEST_F(ServerUtilTest, SecureUnixSocketIs0660) {
  const std::string path = dir_ + "/c.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  chmod(path.c_str(), 0777);
  // A group that does not exist leaves the group alone.
  ASSERT_TRUE(SecureUnixSocket(path, "no-such-group-emu-test").ok());
  EXPECT_EQ(Mode(path), 0660u);
  close(fd);
  EXPECT_FALSE(SecureUnixSocket(dir_ + "/missing", "").ok());
}

}  // namespace
}  // namespace emu
