#include "cli/remotes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::cli {
namespace {

using ::testing::HasSubstr;

class RemotesTest : public ::testing::Test {
 protected:
  RemotesTest()
      : dir_(absl::StrCat(::testing::TempDir(), "/remotes_test_", getpid(), "_",
                          counter_++)),
        path_(dir_ + "/emu/remotes.json") {}
  ~RemotesTest() override { std::filesystem::remove_all(dir_); }

  static inline int counter_ = 0;
  std::string dir_, path_;
};

TEST(RemotesFilePathTest, XdgThenHome) {
  EXPECT_EQ(RemotesFilePath("/x", "/home/u"), "/x/emu/remotes.json");
  EXPECT_EQ(RemotesFilePath("", "/home/u"), "/home/u/.config/emu/remotes.json");
  EXPECT_EQ(RemotesFilePath("", ""), "");
}

TEST_F(RemotesTest, MissingFileIsNoRemotes) {
  absl::StatusOr<Remotes> r = ReadRemotes(path_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->entries.empty());
  EXPECT_EQ(r->default_name, "");
}

TEST_F(RemotesTest, RoundTripPrivateFileInPrivateDirectory) {
  Remotes in;
  in.entries.push_back({"lab", "admin@gw:2222", "unix:/run/emu/c.sock",
                        "/var/lib/emu/controller/token"});
  in.entries.push_back({"b", "gw2", "", ""});
  in.default_name = "lab";
  ASSERT_TRUE(WriteRemotes(path_, in).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ + "/emu").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  absl::StatusOr<Remotes> out = ReadRemotes(path_);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->entries.size(), 2u);
  EXPECT_EQ(out->default_name, "lab");
  const Remote* lab = FindRemote(*out, "lab");
  ASSERT_NE(lab, nullptr);
  EXPECT_EQ(lab->destination, "admin@gw:2222");
  EXPECT_EQ(lab->target, "unix:/run/emu/c.sock");
  EXPECT_EQ(lab->token_path, "/var/lib/emu/controller/token");
  EXPECT_EQ(FindRemote(*out, "b")->target, "");
  EXPECT_EQ(FindRemote(*out, "nosuch"), nullptr);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(RemotesTest, BadFilesAreNamed) {
  std::filesystem::create_directories(dir_ + "/emu");
  for (const char* text :
       {"[1]", "{\"remotes\": 3}",
        "{\"remotes\": [{\"name\": \"a b\", "
        "\"destination\": \"gw\"}]}",
        "{\"remotes\": [{\"name\": \"a\"}]}", "{\"default\": 1}", "{"}) {
    std::ofstream(path_) << text;
    absl::StatusOr<Remotes> r = ReadRemotes(path_);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_THAT(r.status().message(), HasSubstr(path_)) << text;
  }
}

TEST(CheckRemoteNameTest, Rule) {
  EXPECT_TRUE(CheckRemoteName("lab-1.gw_2").ok());
  for (const char* bad : {"", "-x", ".x", "a/b", "a b", "a;b"}) {
    EXPECT_FALSE(CheckRemoteName(bad).ok()) << bad;
  }
  EXPECT_FALSE(CheckRemoteName(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace emu::cli
