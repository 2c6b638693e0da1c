// TunnelPump with socketpairs: a SOCK_SEQPACKET pair stands for each TAP
// (one read = one frame, as on a TAP) and a SOCK_STREAM pair for the TCP
// connection between two pumps. No root needed.
#include "linkemu/testing/read_frame.h"
#include "linkemu/tunnel_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "linkemu/tunnel_frame.h"

namespace emu::linkemu {
namespace {

struct Pair {
  int mine = -1;    // the test's end (the "node" side of a TAP)
  int theirs = -1;  // handed to the pump
};

Pair SeqPair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
  // Room for many large frames in flight.
  int big = 4 << 20;
  for (int fd : fds) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  }
  return {fds[0], fds[1]};
}

// Reads one frame from a test-side TAP end, waiting up to `timeout`.
class Disconnects {
 public:
  void Add(TunnelPump::LinkId id, const absl::Status& s) {
    absl::MutexLock lock(&mu_);
    seen_.emplace_back(id, s);
  }
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return seen_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(5));
  }
  std::vector<std::pair<TunnelPump::LinkId, absl::Status>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<TunnelPump::LinkId, absl::Status>> seen_;
};

class TunnelPumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = TunnelPump::Create(
        [this](TunnelPump::LinkId id, const absl::Status& s) { da_.Add(id, s); });
    auto b = TunnelPump::Create(
        [this](TunnelPump::LinkId id, const absl::Status& s) { db_.Add(id, s); });
    ASSERT_TRUE(a.ok() && b.ok());
    a_ = *std::move(a);
    b_ = *std::move(b);
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    for (int fd : close_) close(fd);
  }
  // Two links (one per pump) joined by a stream socketpair.
  void Join(Pair* tap_a, Pair* tap_b, TunnelPump::LinkId* ia,
            TunnelPump::LinkId* ib) {
    *tap_a = SeqPair();
    *tap_b = SeqPair();
    close_.push_back(tap_a->mine);
    close_.push_back(tap_b->mine);
    auto la = a_->AddLink(tap_a->theirs);
    auto lb = b_->AddLink(tap_b->theirs);
    ASSERT_TRUE(la.ok() && lb.ok());
    *ia = *la;
    *ib = *lb;
    int s[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    ASSERT_TRUE(a_->Attach(*ia, s[0]).ok());
    ASSERT_TRUE(b_->Attach(*ib, s[1]).ok());
  }

  Disconnects da_, db_;
  std::unique_ptr<TunnelPump> a_, b_;
  std::vector<int> close_;
};

TEST_F(TunnelPumpTest, FramesCrossBothWaysIntactAndInOrder) {
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  std::vector<std::string> sent;
  for (int i = 0; i < 200; ++i) {
    // Sizes from tiny to a 64 KiB GSO-sized frame.
    std::string f(1 + (i * 331) % 65536, static_cast<char>('a' + i % 26));
    f[0] = static_cast<char>(i);
    sent.push_back(f);
    ASSERT_EQ(write(ta.mine, f.data(), f.size()), (ssize_t)f.size());
    if (i % 16 == 15) {
      for (int j = i - 15; j <= i; ++j) {
        ASSERT_EQ(ReadFrame(tb.mine), sent[j]) << "frame " << j;
      }
    }
  }
  // 200 is not a multiple of 16: the last frames are read here, before the
  // counters are (they were still in flight when only "back" was awaited).
  for (size_t j = sent.size() / 16 * 16; j < sent.size(); ++j) {
    ASSERT_EQ(ReadFrame(tb.mine), sent[j]) << "frame " << j;
  }
  ASSERT_EQ(write(tb.mine, "back", 4), 4);
  EXPECT_EQ(ReadFrame(ta.mine), "back");
  auto sa = a_->GetStats(ia);
  auto sb = b_->GetStats(ib);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(sa->tap_to_tcp_frames, 200u);
  EXPECT_EQ(sb->tcp_to_tap_frames, 200u);
  EXPECT_EQ(sb->tap_to_tcp_frames, 1u);
  EXPECT_TRUE(sa->connected);
}

absl::Time MonoNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

TEST_F(TunnelPumpTest, EgressDelayHoldsFramesBeforeFramingInOrder) {
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  ImpairmentSpec d;
  d.delay_us = 40'000;
  ASSERT_TRUE(a_->SetEgress(ia, d, 1).ok());
  absl::Time sent = MonoNow();
  for (int i = 0; i < 10; ++i) {
    std::string f = "f" + std::to_string(i);
    ASSERT_EQ(write(ta.mine, f.data(), f.size()), (ssize_t)f.size());
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(ReadFrame(tb.mine), "f" + std::to_string(i));
    if (i == 0) {
      EXPECT_GE(MonoNow() - sent, absl::Milliseconds(40));
    }
  }
  // The reverse direction has no egress spec of its own: undelayed.
  ASSERT_EQ(write(tb.mine, "back", 4), 4);
  EXPECT_EQ(ReadFrame(ta.mine), "back");
  auto sa = a_->GetStats(ia);
  ASSERT_TRUE(sa.has_value());
  EXPECT_EQ(sa->egress.frames_in, 10u);
  EXPECT_EQ(sa->egress.frames_out, 10u);
  EXPECT_EQ(sa->tap_to_tcp_frames, 10u);
}

TEST_F(TunnelPumpTest, EgressLossAndLiveChange) {
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  ImpairmentSpec l;
  l.loss_percent = 100;
  ASSERT_TRUE(a_->SetEgress(ia, l, 1).ok());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(write(ta.mine, "x", 1), 1);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (a_->GetStats(ia)->egress.dropped_loss < 5 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(a_->GetStats(ia)->egress.dropped_loss, 5u);
  ASSERT_TRUE(a_->SetEgress(ia, ImpairmentSpec{}, 99).ok());
  ASSERT_EQ(write(ta.mine, "kept", 4), 4);
  EXPECT_EQ(ReadFrame(tb.mine), "kept");
  EXPECT_EQ(a_->GetStats(ia)->egress.frames_out, 1u);
  l.loss_percent = 200;
  EXPECT_EQ(a_->SetEgress(ia, l, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->SetEgress(999, {}, 1).code(), absl::StatusCode::kNotFound);
}

TEST_F(TunnelPumpTest, ManyLinksShareOneLoopWithoutMixingFrames) {
  constexpr int kLinks = 20;
  std::vector<Pair> tas(kLinks), tbs(kLinks);
  for (int i = 0; i < kLinks; ++i) {
    TunnelPump::LinkId ia, ib;
    Join(&tas[i], &tbs[i], &ia, &ib);
  }
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < kLinks; ++i) {
      std::string f = "link" + std::to_string(i) + "/" + std::to_string(round);
      ASSERT_EQ(write(tas[i].mine, f.data(), f.size()), (ssize_t)f.size());
    }
  }
  for (int i = 0; i < kLinks; ++i) {
    for (int round = 0; round < 5; ++round) {
      EXPECT_EQ(ReadFrame(tbs[i].mine),
                "link" + std::to_string(i) + "/" + std::to_string(round));
    }
  }
}

TEST_F(TunnelPumpTest, BackpressureLosesNothingOnAStream) {
  // The reader stalls while far more than the high-water mark is written:
  // frames wait in the TAP (here: the seqpacket buffer), none is lost.
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  const std::string f(60000, 'z');
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 100; ++i) {
      if (write(ta.mine, f.data(), f.size()) != (ssize_t)f.size()) return;
      ++written;
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  int got = 0;
  while (got < 100) {
    std::string r = ReadFrame(tb.mine);
    if (r.empty()) break;
    ASSERT_EQ(r.size(), f.size());
    ++got;
  }
  writer.join();
  EXPECT_EQ(got, 100);
  EXPECT_EQ(written.load(), 100);
}

TEST_F(TunnelPumpTest, PeerCloseIsReportedAndTheLinkCanBeReattached) {
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  b_->RemoveLink(ib);  // closes b's end of the connection
  ASSERT_TRUE(da_.WaitFor(1));
  EXPECT_EQ(da_.seen()[0].first, ia);
  EXPECT_EQ(da_.seen()[0].second.code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(a_->GetStats(ia)->connected);
  EXPECT_TRUE(db_.seen().empty());  // RemoveLink does not report

  // While disconnected, frames from the TAP are dropped and counted.
  ASSERT_EQ(write(ta.mine, "lost", 4), 4);
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (a_->GetStats(ia)->dropped_disconnected == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(a_->GetStats(ia)->dropped_disconnected, 1u);

  // A new connection carries frames again.
  Pair tb2 = SeqPair();
  close_.push_back(tb2.mine);
  auto ib2 = b_->AddLink(tb2.theirs);
  ASSERT_TRUE(ib2.ok());
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ASSERT_TRUE(a_->Attach(ia, s[0]).ok());
  ASSERT_TRUE(b_->Attach(*ib2, s[1]).ok());
  ASSERT_EQ(write(ta.mine, "again", 5), 5);
  EXPECT_EQ(ReadFrame(tb2.mine), "again");
  EXPECT_EQ(a_->GetStats(ia)->connections, 2u);
}

TEST_F(TunnelPumpTest, GarbageOnTheStreamIsAProtocolError) {
  Pair ta = SeqPair();
  close_.push_back(ta.mine);
  auto ia = a_->AddLink(ta.theirs);
  ASSERT_TRUE(ia.ok());
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ASSERT_TRUE(a_->Attach(*ia, s[0]).ok());
  // A zero-length frame header.
  ASSERT_EQ(write(s[1], "\0\0\0\0", 4), 4);
  ASSERT_TRUE(da_.WaitFor(1));
  EXPECT_EQ(da_.seen()[0].second.code(), absl::StatusCode::kDataLoss);
  close(s[1]);
}

TEST_F(TunnelPumpTest, AttachToUnknownLinkClosesTheSocket) {
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  EXPECT_EQ(a_->Attach(12345, s[0]).code(), absl::StatusCode::kNotFound);
  char c;
  EXPECT_EQ(read(s[1], &c, 1), 0);  // EOF: the pump closed its end
  close(s[1]);
}

}  // namespace
}  // namespace emu::linkemu
