#include "common/thread_nice.h"

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "gtest/gtest.h"

namespace emu {
namespace {

TEST(ThreadNice, RangeIsTheKernels) {
  EXPECT_TRUE(CheckNice(-20).ok());
  EXPECT_TRUE(CheckNice(19).ok());
  absl::Status s = CheckNice(20);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "nice 20 is outside -20..19");
  EXPECT_EQ(SetThreadNice(gettid(), -21).code(),
            absl::StatusCode::kInvalidArgument);
}

// Only the thread named takes it (raising needs no privilege).
TEST(ThreadNice, SetsOneThread) {
  const int before = getpriority(PRIO_PROCESS, 0);
  const int want = std::min(before + 2, 19);
  int got = 0;
  std::thread t([&] {
    ASSERT_TRUE(SetThreadNice(gettid(), want).ok());
    errno = 0;
    got = getpriority(PRIO_PROCESS, 0);
  });
  t.join();
  EXPECT_EQ(got, want);
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), before);
}

TEST(ThreadNice, CheckNiceAllowedLeavesEveryThreadAsItWas) {
  const int before = getpriority(PRIO_PROCESS, 0);
  EXPECT_TRUE(CheckNiceAllowed(std::min(before + 3, 19)).ok());
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), before);
  EXPECT_EQ(CheckNiceAllowed(25).code(), absl::StatusCode::kInvalidArgument);
}

// Without CAP_SYS_NICE (dropped from a child's effective set) and with no
// RLIMIT_NICE room, a value below the current one is refused, by the
// kernel, up front.
TEST(ThreadNice, CheckNiceAllowedFindsTheKernelsRefusal) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) _exit(10);
    data[CAP_TO_INDEX(CAP_SYS_NICE)].effective &= ~CAP_TO_MASK(CAP_SYS_NICE);
    if (syscall(SYS_capset, &header, data) != 0) _exit(11);
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_NICE, &none) != 0) _exit(12);
    const int now = getpriority(PRIO_PROCESS, 0);
    if (now <= -20) _exit(13);
    absl::Status s = CheckNiceAllowed(now - 1);
    if (s.code() != absl::StatusCode::kPermissionDenied) _exit(14);
    if (s.message().find("nice ") != 0) _exit(15);
    if (getpriority(PRIO_PROCESS, 0) != now) _exit(16);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 capget, 11 capset, 12 setrlimit, 13 nice -20 already, "
         "14 not refused, 15 message, 16 changed";
}

}  // namespace
}  // namespace emu
