#include "common/thread_nice.h"

#include <sys/resource.h>
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

}  // namespace
}  // namespace emu
