#include "agent/barrier/executor_pool.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/thread_set.h"
#include "gtest/gtest.h"

namespace emu::agent::barrier {
namespace {

// A prepared process that records its node and whether it ran or was
// dropped (its process ended).
class RecordingProcess : public PreparedProcess {
 public:
  RecordingProcess(std::string node, std::atomic<int>* dropped)
      : node_(std::move(node)), dropped_(dropped) {}
  ~RecordingProcess() override {
    if (!ran_) ++*dropped_;
  }
  pid_t pid() const override { return 4242; }
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& command) override {
    ran_ = true;
    ProcessResult r;
    r.stdout_data = node_ + ":" + command.argv[0];
    return r;
  }

 private:
  const std::string node_;
  std::atomic<int>* const dropped_;
  bool ran_ = false;
};

struct Fixture {
  explicit Fixture(int depth = 1) : depth(depth) {}
  const int depth;
  ThreadSet threads;
  std::atomic<int> prepares{0};
  std::atomic<int> dropped{0};
  absl::Notification gate;  // preparations of "slow" wait for it
  std::shared_ptr<ExecutorPool> pool = std::make_shared<ExecutorPool>(
      [this](const std::string& node)
          -> absl::StatusOr<std::unique_ptr<PreparedProcess>> {
        ++prepares;
        if (node == "guest") return nullptr;
        if (node == "missing") return absl::NotFoundError("no netns");
        if (node == "slow") gate.WaitForNotification();
        return std::make_unique<RecordingProcess>(node, &dropped);
      },
      &threads, depth);
  ~Fixture() {
    if (!gate.HasBeenNotified()) gate.Notify();
    pool->Shutdown();
    threads.JoinAll();
  }
};

TEST(ExecutorPoolTest, WarmedNodesAreReadyAndRefilledAfterUse) {
  Fixture f;
  f.pool->Warm({"a", "b"});
  auto a = f.pool->Take("a", absl::Seconds(10));
  ASSERT_NE(a, nullptr);
  auto r = a->Run(ProcessSpec{{"true"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stdout_data, "a:true");
  // Taken: none left until a refill.
  EXPECT_EQ(f.pool->Take("a", absl::ZeroDuration()), nullptr);
  f.pool->Refill("a");
  EXPECT_NE(f.pool->Take("a", absl::Seconds(10)), nullptr);
  EXPECT_NE(f.pool->Take("b", absl::Seconds(10)), nullptr);
  // Refill of a node that has one ready or preparing prepares no second.
  f.pool->Refill("b");
  f.pool->Refill("b");
  ASSERT_TRUE(f.threads.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(f.prepares.load(), 4);
  const auto stats = f.pool->stats();
  EXPECT_EQ(stats.prepared, 4);
  EXPECT_EQ(stats.taken, 3);
  EXPECT_EQ(stats.missed, 1);
}

TEST(ExecutorPoolTest, TakeWaitsForTheOneBeingPrepared) {
  Fixture f;
  f.pool->Warm({"slow"});
  std::unique_ptr<PreparedProcess> got;
  ThreadSet taker;
  taker.Start([&] { got = f.pool->Take("slow", absl::Seconds(30)); });
  f.gate.Notify();
  taker.JoinAll();
  EXPECT_NE(got, nullptr);
  EXPECT_EQ(f.prepares.load(), 1);  // waited, did not prepare a second
}

TEST(ExecutorPoolTest, AwaitWarmWaitsForEveryNodesFirstPreparation) {
  Fixture f;
  f.pool->Warm({"a", "slow", "guest", "missing"});
  // "slow" is held: not warm yet, whatever the others did.
  EXPECT_FALSE(f.pool->AwaitWarm(absl::Milliseconds(100)));
  f.gate.Notify();
  // Ready or failed (guest, missing) all count as done.
  EXPECT_TRUE(f.pool->AwaitWarm(absl::Seconds(30)));
  EXPECT_NE(f.pool->Take("slow", absl::ZeroDuration()), nullptr);
  EXPECT_NE(f.pool->Take("a", absl::ZeroDuration()), nullptr);
}

TEST(ExecutorPoolTest, NodesWithoutExecutorsGiveNone) {
  Fixture f;
  f.pool->Warm({"guest", "missing"});
  ASSERT_TRUE(f.threads.WaitIdle(absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(f.pool->Take("guest", absl::Seconds(1)), nullptr);
  EXPECT_EQ(f.pool->Take("missing", absl::Seconds(1)), nullptr);
  EXPECT_EQ(f.pool->Take("never-warmed", absl::Seconds(1)), nullptr);
  EXPECT_EQ(f.pool->stats().failed, 1);
}

TEST(ExecutorPoolTest, ShutdownEndsReadyOnesAndPreparesNoMore) {
  Fixture f;
  f.pool->Warm({"a", "b"});
  ASSERT_TRUE(f.threads.WaitIdle(absl::Now() + absl::Seconds(10)));
  f.pool->Shutdown();
  EXPECT_EQ(f.dropped.load(), 2);
  f.pool->Refill("a");
  f.pool->Warm({"c"});
  EXPECT_EQ(f.pool->Take("a", absl::Seconds(1)), nullptr);
  EXPECT_EQ(f.prepares.load(), 2);
}

// Depth 2 (what barrier sessions use): two ready per node, so a Task that
// follows at once takes the second while the first's refill is still
// being prepared.
TEST(ExecutorPoolTest, DepthTwoKeepsASecondOneReady) {
  Fixture f(/*depth=*/2);
  f.pool->Warm({"a"});
  f.pool->Refill("a");  // (as after a first command: up to two)
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (f.pool->stats().prepared < 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(f.prepares.load(), 2);
  auto first = f.pool->Take("a", absl::ZeroDuration());
  ASSERT_NE(first, nullptr);
  // No refill yet: the second is ready at once.
  auto second = f.pool->Take("a", absl::ZeroDuration());
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(f.pool->Take("a", absl::ZeroDuration()), nullptr);
  f.pool->Refill("a");
  f.pool->Refill("a");  // tops up to two, no more
  while (f.pool->stats().prepared < 4 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(f.prepares.load(), 4);
  EXPECT_EQ(f.pool->stats().missed, 1);
}

}  // namespace
}  // namespace emu::agent::barrier
