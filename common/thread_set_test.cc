#include "common/thread_set.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace emu {
namespace {

TEST(ThreadSetTest, JoinAllWaitsForEveryThread) {
  std::atomic<int> done{0};
  {
    ThreadSet threads;
    for (int i = 0; i < 20; ++i) {
      threads.Start([&done] {
        absl::SleepFor(absl::Milliseconds(5));
        ++done;
      });
    }
  }  // the destructor joins
  EXPECT_EQ(done.load(), 20);
}

TEST(ThreadSetTest, WaitIdleIsBoundedAndReportsRunningThreads) {
  ThreadSet threads;
  absl::Notification release;
  threads.Start([&release] { release.WaitForNotification(); });
  EXPECT_EQ(threads.running(), 1);
  EXPECT_FALSE(threads.WaitIdle(absl::Now() + absl::Milliseconds(20)));
  release.Notify();
  EXPECT_TRUE(threads.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(threads.running(), 0);
}

TEST(ThreadSetTest, StartReapsFinishedThreads) {
  ThreadSet threads;
  for (int i = 0; i < 200; ++i) threads.Start([] {});
  EXPECT_TRUE(threads.WaitIdle(absl::Now() + absl::Seconds(10)));
  threads.JoinAll();
  threads.Start([] {});  // usable after JoinAll
  threads.JoinAll();
  EXPECT_EQ(threads.running(), 0);
}

}  // namespace
}  // namespace emu
