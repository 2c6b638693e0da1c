// EnterNamespaceAtStart against the kernel: a child process (one thread)
// enters a namespace the test made and keeps a usable handle on the one it
// left; a process with threads is refused. Root; the namespace is removed.
#include "agent/net/enter_namespace.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace emu::agent::net {
namespace {

std::string Inode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino);
}

class EnterNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = absl::StrCat("emu-enter-test-", getpid());
    ASSERT_EQ(system(absl::StrCat("ip netns add ", name_).c_str()), 0);
  }
  void TearDown() override {
    system(absl::StrCat("ip netns del ", name_, " 2>/dev/null").c_str());
  }
  std::string name_;
};

TEST_F(EnterNamespaceTest, EntersAndKeepsTheOneItLeft) {
  const std::string target = Inode("/run/netns/" + name_);
  const std::string mine = Inode("/proc/self/ns/net");
  ASSERT_NE(target, mine);
  // In a forked child: gtest's process may not stay single-threaded, and
  // this one must keep its namespace. Exit code 0 = every check held.
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto left = EnterNamespaceAtStart("/run/netns", name_);
    if (!left.ok()) _exit(1);
    if (Inode("/proc/self/ns/net") != target) _exit(2);
    if (Inode(*left) != mine) _exit(3);  // the handle names the old one
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(EnterNamespaceTest, RefusesAProcessWithThreadsAndBadNames) {
  std::thread t([] { sleep(1); });
  auto r = EnterNamespaceAtStart("/run/netns", name_);
  t.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(EnterNamespaceAtStart("/run/netns", "../x").ok());
}

}  // namespace
}  // namespace emu::agent::net
