// The engine's event loops on SOCK_SEQPACKET socket pairs: each read()
// returns one frame and each write() sends one, like a TAP, without root.
// Timing is checked only from below (a frame never leaves early); waits
// have deadlines.
#include "linkemu/impair/link_engine.h"

#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

using testing::HasSubstr;

// The node's side of a device and the engine's side.
struct Pair {
  int node = -1;
  int engine = -1;
};

Pair MakePair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  int big = 4 << 20;
  for (int fd : sv) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  }
  return Pair{sv[0], sv[1]};
}

absl::Time MonoNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

// One frame from `fd` within `timeout`, or nullopt.
std::optional<std::string> ReadFrame(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, absl::ToInt64Milliseconds(timeout)) <= 0) return std::nullopt;
  char buf[70000];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n <= 0) return std::nullopt;
  return std::string(buf, n);
}

class LinkEngineTest : public testing::Test {
 protected:
  void SetUp() override {
    auto e = LinkEngine::Create({});
    ASSERT_TRUE(e.ok()) << e.status();
    engine_ = std::move(*e);
    a_ = MakePair();
    b_ = MakePair();
  }
  void TearDown() override {
    engine_.reset();
    close(a_.node);
    close(b_.node);
  }
  LinkEngine::LinkId Add(const ImpairmentSpec& ab, const ImpairmentSpec& ba,
                         uint64_t seed = 1) {
    auto id = engine_->AddLink(a_.engine, b_.engine, ab, ba, seed);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }
  // Waits until `pred(stats)` holds, 10 s at most.
  template <typename Pred>
  LinkStats WaitStats(LinkEngine::LinkId id, Pred pred) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    std::optional<LinkStats> s;
    while (absl::Now() < deadline) {
      s = engine_->GetStats(id);
      if (s && pred(*s)) return *s;
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "stats condition not reached in 10 s";
    return s.value_or(LinkStats{});
  }

  std::unique_ptr<LinkEngine> engine_;
  Pair a_, b_;
};

TEST_F(LinkEngineTest, PassThroughBothWays) {
  LinkEngine::LinkId id = Add({}, {});
  ASSERT_EQ(write(a_.node, "hello b", 7), 7);
  EXPECT_EQ(ReadFrame(b_.node, absl::Seconds(5)), "hello b");
  ASSERT_EQ(write(b_.node, "hello a", 7), 7);
  EXPECT_EQ(ReadFrame(a_.node, absl::Seconds(5)), "hello a");
  LinkStats s = *engine_->GetStats(id);
  EXPECT_EQ(s.a_to_b.frames_in, 1u);
  EXPECT_EQ(s.a_to_b.frames_out, 1u);
  EXPECT_EQ(s.a_to_b.bytes_out, 7u);
  EXPECT_EQ(s.b_to_a.frames_out, 1u);
}

TEST_F(LinkEngineTest, LargeFramesCrossIntact) {
  Add({}, {});
  std::string big(65536 + 10, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  ASSERT_EQ(write(a_.node, big.data(), big.size()),
            static_cast<ssize_t>(big.size()));
  EXPECT_EQ(ReadFrame(b_.node, absl::Seconds(5)), big);
}

TEST_F(LinkEngineTest, DelayHoldsFramesAtLeastThatLongInOrder) {
  ImpairmentSpec d;
  d.delay_us = 30'000;
  Add(d, {});
  absl::Time sent = MonoNow();
  for (int i = 0; i < 20; ++i) {
    std::string f = "frame " + std::to_string(i);
    ASSERT_EQ(write(a_.node, f.data(), f.size()),
              static_cast<ssize_t>(f.size()));
  }
  for (int i = 0; i < 20; ++i) {
    auto f = ReadFrame(b_.node, absl::Seconds(5));
    ASSERT_TRUE(f.has_value()) << i;
    EXPECT_EQ(*f, "frame " + std::to_string(i));
    if (i == 0) {
      EXPECT_GE(MonoNow() - sent, absl::Milliseconds(30));
    }
  }
  // The other direction is not delayed and works meanwhile.
  ASSERT_EQ(write(b_.node, "back", 4), 4);
  EXPECT_EQ(ReadFrame(a_.node, absl::Seconds(5)), "back");
}

TEST_F(LinkEngineTest, RandomLossDropsItsShare) {
  ImpairmentSpec l;
  l.loss_percent = 30;
  LinkEngine::LinkId id = Add(l, {}, 1234);
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(write(a_.node, "x", 1), 1);
    if (i % 100 == 99) {
      WaitStats(id, [&](const LinkStats& s) {
        return s.a_to_b.frames_in == static_cast<uint64_t>(i + 1);
      });
    }
  }
  LinkStats s = WaitStats(id, [&](const LinkStats& s) {
    return s.a_to_b.frames_out + s.a_to_b.dropped_loss == n;
  });
  // 30 % of 2000 +/- 4 sigma (20.5).
  EXPECT_NEAR(static_cast<double>(s.a_to_b.dropped_loss), 600, 82);
  int received = 0;
  while (ReadFrame(b_.node, absl::Milliseconds(200))) ++received;
  EXPECT_EQ(received, static_cast<int>(s.a_to_b.frames_out));
}

TEST_F(LinkEngineTest, LiveUpdateAppliesToNewFrames) {
  ImpairmentSpec l;
  l.loss_percent = 100;
  LinkEngine::LinkId id = Add(l, {});
  ASSERT_EQ(write(a_.node, "lost", 4), 4);
  WaitStats(id, [](const LinkStats& s) { return s.a_to_b.dropped_loss == 1; });
  ASSERT_TRUE(engine_->Update(id, {}, {}).ok());
  ASSERT_EQ(write(a_.node, "kept", 4), 4);
  EXPECT_EQ(ReadFrame(b_.node, absl::Seconds(5)), "kept");
}

TEST_F(LinkEngineTest, UpdateKeepsQueuedFramesSchedule) {
  ImpairmentSpec d;
  d.delay_us = 200'000;
  LinkEngine::LinkId id = Add(d, {});
  absl::Time sent = MonoNow();
  ASSERT_EQ(write(a_.node, "slow", 4), 4);
  WaitStats(id, [](const LinkStats& s) { return s.a_to_b.backlog_frames == 1; });
  ASSERT_TRUE(engine_->Update(id, {}, {}).ok());
  ASSERT_EQ(write(a_.node, "fast", 4), 4);
  EXPECT_EQ(ReadFrame(b_.node, absl::Seconds(5)), "fast");
  EXPECT_EQ(ReadFrame(b_.node, absl::Seconds(5)), "slow");
  EXPECT_GE(MonoNow() - sent, absl::Milliseconds(200));
}

TEST_F(LinkEngineTest, BadSpecsAndUnknownLinks) {
  ImpairmentSpec bad;
  bad.duplicate_percent = 101;
  auto id = engine_->AddLink(a_.engine, b_.engine, {}, bad, 1);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(id.status().message()),
              HasSubstr("b_to_a: duplicate_percent 101"));
  // The devices were taken over and closed: the nodes see EOF.
  EXPECT_EQ(read(a_.node, nullptr, 0), 0);
  EXPECT_EQ(engine_->Update(99, {}, {}).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(engine_->GetStats(99).has_value());
  engine_->RemoveLink(99);
}

TEST_F(LinkEngineTest, RemoveLinkClosesTheDevicesAndDropsTheQueue) {
  ImpairmentSpec d;
  d.delay_us = 10'000'000;
  LinkEngine::LinkId id = Add(d, {});
  ASSERT_EQ(write(a_.node, "held", 4), 4);
  WaitStats(id, [](const LinkStats& s) { return s.a_to_b.backlog_frames == 1; });
  engine_->RemoveLink(id);
  EXPECT_FALSE(engine_->GetStats(id).has_value());
  char c;
  EXPECT_EQ(read(b_.node, &c, 1), 0);  // EOF: the engine's end is closed
}

TEST(LinkEngine, SeveralThreadsServeSeveralLinks) {
  LinkEngine::Options three;
  three.threads = 3;
  auto e = LinkEngine::Create(three);
  ASSERT_TRUE(e.ok());
  std::vector<std::pair<Pair, Pair>> links;
  for (int i = 0; i < 6; ++i) {
    Pair a = MakePair(), b = MakePair();
    ImpairmentSpec d;
    d.delay_us = 1000 * i;
    ASSERT_TRUE((*e)->AddLink(a.engine, b.engine, d, d, i).ok());
    links.push_back({a, b});
  }
  for (auto& [a, b] : links) {
    ASSERT_EQ(write(a.node, "ping", 4), 4);
    ASSERT_EQ(write(b.node, "pong", 4), 4);
  }
  for (auto& [a, b] : links) {
    EXPECT_EQ(ReadFrame(b.node, absl::Seconds(5)), "ping");
    EXPECT_EQ(ReadFrame(a.node, absl::Seconds(5)), "pong");
    close(a.node);
    close(b.node);
  }
  LinkEngine::Options none;
  none.threads = 0;
  EXPECT_EQ(LinkEngine::Create(none).status().code(),
            absl::StatusCode::kInvalidArgument);
  LinkEngine::Options too_nice;
  too_nice.nice = 20;
  EXPECT_EQ(LinkEngine::Create(too_nice).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Raising nice needs no privilege.
  LinkEngine::Options polite;
  polite.nice = 5;
  polite.threads = 2;
  EXPECT_TRUE(LinkEngine::Create(polite).ok());
}

}  // namespace
}  // namespace emu::linkemu
