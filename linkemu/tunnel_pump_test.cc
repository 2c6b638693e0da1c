// TunnelPump with socketpairs: a SOCK_SEQPACKET pair stands for each TAP
// (one read = one frame, as on a TAP) and a SOCK_STREAM pair for the TCP
// connection between two pumps. No root needed.
#include "linkemu/testing/read_frame.h"
#include "linkemu/tunnel_pump.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

// The EchoFn's reports.
class Echoes {
 public:
  void Add(TunnelPump::LinkId id,
           const absl::StatusOr<TunnelPump::EchoResult>& r) {
    absl::MutexLock lock(&mu_);
    seen_.emplace_back(id, r);
  }
  // The next report, waiting up to `timeout` for it.
  absl::StatusOr<TunnelPump::EchoResult> Next(
      absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto any = [&] { return next_ < seen_.size(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&any), timeout)) {
      return absl::InternalError("no echo report");
    }
    return seen_[next_++].second;
  }
  size_t count() {
    absl::MutexLock lock(&mu_);
    return seen_.size();
  }

 private:
  absl::Mutex mu_;
  size_t next_ = 0;
  std::vector<std::pair<TunnelPump::LinkId,
                        absl::StatusOr<TunnelPump::EchoResult>>>
      seen_;
};

// Reads exactly `n` bytes from the stream `fd` within 5 s ("" if not).
std::string ReadStream(int fd, size_t n) {
  std::string out;
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    int left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0 || poll(&p, 1, left) != 1) return "";
    char buf[256];
    ssize_t r = read(fd, buf, std::min(sizeof(buf), n - out.size()));
    if (r <= 0) return "";
    out.append(buf, r);
  }
  return out;
}

// The control frame at the start of `bytes` (which must be one).
TunnelControl ParseControl(const std::string& bytes) {
  TunnelControl got;
  int n = 0;
  auto used = ForEachTunnelFrame(
      bytes, [](absl::string_view) { ADD_FAILURE() << "a data frame"; },
      [&](const TunnelControl& c) {
        got = c;
        ++n;
      });
  EXPECT_TRUE(used.ok() && *used == bytes.size() && n == 1)
      << used.status() << " " << bytes.size();
  return got;
}

std::string Control(TunnelControlType type, uint64_t value) {
  std::string out(kTunnelControlFrameBytes, '\0');
  EncodeTunnelControl({type, value}, out.data());
  return out;
}

std::string DataFrame(const std::string& payload) {
  std::string out(kTunnelFrameHeaderBytes, '\0');
  EncodeTunnelFrameHeader(payload.size(), out.data());
  return out + payload;
}

class TunnelPumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = TunnelPump::Create(
        [this](TunnelPump::LinkId id, const absl::Status& s) { da_.Add(id, s); },
        FrameBatchIo::Mode::kAuto,
        [this](TunnelPump::LinkId id,
               const absl::StatusOr<TunnelPump::EchoResult>& r) {
          echoes_.Add(id, r);
        });
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

  // Pump a's link on a stream whose other end (*peer) is the test's.
  void AttachRaw(Pair* tap, TunnelPump::LinkId* id, int* peer) {
    *tap = SeqPair();
    close_.push_back(tap->mine);
    auto l = a_->AddLink(tap->theirs);
    ASSERT_TRUE(l.ok());
    *id = *l;
    int s[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    ASSERT_TRUE(a_->Attach(*id, s[0]).ok());
    *peer = s[1];
    close_.push_back(s[1]);
  }

  Disconnects da_, db_;
  Echoes echoes_;
  std::unique_ptr<TunnelPump> a_, b_;
  std::vector<int> close_;
};

// The pump's thread, and only it, takes the nice value asked for (raising
// it needs no privilege); a value out of range is refused by name.
TEST_F(TunnelPumpTest, SetNiceReachesThePumpsThread) {
  const pid_t tid = a_->thread_id();
  ASSERT_GT(tid, 0);
  EXPECT_NE(tid, gettid());
  const int before = getpriority(PRIO_PROCESS, 0);
  ASSERT_TRUE(a_->SetNice(std::min(before + 3, 19)).ok());
  errno = 0;
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(tid)),
            std::min(before + 3, 19));
  EXPECT_EQ(errno, 0);
  EXPECT_EQ(getpriority(PRIO_PROCESS, 0), before);  // the caller's own
  absl::Status bad = a_->SetNice(20);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("nice 20"), std::string::npos) << bad;
}

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

TEST_F(TunnelPumpTest, EchoesRoundTripThroughThePeerPumpAndNeverReachItsTap) {
  Pair ta, tb;
  TunnelPump::LinkId ia, ib;
  Join(&ta, &tb, &ia, &ib);
  ASSERT_TRUE(a_->ProbeRtt(ia, 8).ok());
  auto r = echoes_.Next();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, 8);
  EXPECT_GT(r->min_rtt, absl::ZeroDuration());
  EXPECT_LT(r->min_rtt, absl::Seconds(1));
  auto sb = b_->GetStats(ib);
  EXPECT_EQ(sb->echoes_answered, 8u);  // one at a time, none lost
  EXPECT_EQ(sb->tcp_to_tap_frames, 0u);
  EXPECT_EQ(a_->GetStats(ia)->tcp_to_tap_frames, 0u);
  EXPECT_EQ(ReadFrame(tb.mine, absl::Milliseconds(50)), "");
  EXPECT_EQ(ReadFrame(ta.mine, absl::Milliseconds(50)), "");
  // Data still crosses after it, both ways.
  ASSERT_EQ(write(ta.mine, "after", 5), 5);
  EXPECT_EQ(ReadFrame(tb.mine), "after");
  ASSERT_EQ(write(tb.mine, "back", 4), 4);
  EXPECT_EQ(ReadFrame(ta.mine), "back");
  EXPECT_EQ(a_->ProbeRtt(ia, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_->ProbeRtt(999, 1).code(), absl::StatusCode::kNotFound);
}

TEST_F(TunnelPumpTest, AnEchoRequestIsAnsweredWithItsValueOnTheStream) {
  Pair ta;
  TunnelPump::LinkId ia;
  int peer;
  AttachRaw(&ta, &ia, &peer);
  std::string req = DataFrame("x") +
                    Control(TunnelControlType::kEchoRequest, 0xfeedbeef12) +
                    DataFrame("y");
  ASSERT_EQ(write(peer, req.data(), req.size()), (ssize_t)req.size());
  TunnelControl c = ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
  EXPECT_EQ(c.type, TunnelControlType::kEchoReply);
  EXPECT_EQ(c.value, 0xfeedbeef12u);
  // The TAP saw the two data frames and nothing else.
  EXPECT_EQ(ReadFrame(ta.mine), "x");
  EXPECT_EQ(ReadFrame(ta.mine), "y");
  EXPECT_EQ(ReadFrame(ta.mine, absl::Milliseconds(50)), "");
  EXPECT_EQ(a_->GetStats(ia)->echoes_answered, 1u);
  EXPECT_EQ(a_->GetStats(ia)->tcp_to_tap_frames, 2u);
}

TEST_F(TunnelPumpTest, AProbeTimesThePeersAnswerAndSkipsRoundTripsBehindData) {
  Pair ta;
  TunnelPump::LinkId ia;
  int peer;
  AttachRaw(&ta, &ia, &peer);
  ASSERT_TRUE(a_->ProbeRtt(ia, 2).ok());
  // 1: a data frame crosses before the answer: not counted.
  TunnelControl c = ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
  ASSERT_EQ(c.type, TunnelControlType::kEchoRequest);
  std::string busy = DataFrame("busy") +
                     Control(TunnelControlType::kEchoReply, c.value);
  ASSERT_EQ(write(peer, busy.data(), busy.size()), (ssize_t)busy.size());
  EXPECT_EQ(ReadFrame(ta.mine), "busy");
  // 2: answered 30 ms late: counted, and at least that long.
  c = ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
  ASSERT_EQ(c.type, TunnelControlType::kEchoRequest);
  absl::SleepFor(absl::Milliseconds(30));  // the delay measured, not a wait
  std::string reply = Control(TunnelControlType::kEchoReply, c.value);
  ASSERT_EQ(write(peer, reply.data(), reply.size()), (ssize_t)reply.size());
  // A stale or unasked reply is ignored.
  reply = Control(TunnelControlType::kEchoReply, 12345);
  ASSERT_EQ(write(peer, reply.data(), reply.size()), (ssize_t)reply.size());
  // 3: answered at once: counted.
  c = ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
  ASSERT_EQ(c.type, TunnelControlType::kEchoRequest);
  reply = Control(TunnelControlType::kEchoReply, c.value);
  ASSERT_EQ(write(peer, reply.data(), reply.size()), (ssize_t)reply.size());
  auto r = echoes_.Next();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, 2);
  EXPECT_GT(r->min_rtt, absl::ZeroDuration());
  // The probe is over: no more requests.
  EXPECT_EQ(ReadStream(peer, 1), "");

  // One sample, answered 30 ms late: the figure covers the delay.
  ASSERT_TRUE(a_->ProbeRtt(ia, 1).ok());
  c = ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
  absl::SleepFor(absl::Milliseconds(30));  // the delay measured, not a wait
  reply = Control(TunnelControlType::kEchoReply, c.value);
  ASSERT_EQ(write(peer, reply.data(), reply.size()), (ssize_t)reply.size());
  r = echoes_.Next();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, 1);
  EXPECT_GE(r->min_rtt, absl::Milliseconds(30));
}

TEST_F(TunnelPumpTest, AProbeThatNeverSeesAnIdleRoundTripReportsWhy) {
  Pair ta;
  TunnelPump::LinkId ia;
  int peer;
  AttachRaw(&ta, &ia, &peer);
  ASSERT_TRUE(a_->ProbeRtt(ia, 1).ok());
  // Every answer behind a data frame: the attempts run out.
  for (int i = 0; i < TunnelPump::kEchoAttemptsPerSample; ++i) {
    TunnelControl c =
        ParseControl(ReadStream(peer, kTunnelControlFrameBytes));
    ASSERT_EQ(c.type, TunnelControlType::kEchoRequest) << i;
    std::string busy = DataFrame("busy") +
                       Control(TunnelControlType::kEchoReply, c.value);
    ASSERT_EQ(write(peer, busy.data(), busy.size()), (ssize_t)busy.size());
  }
  auto r = echoes_.Next();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("8 attempts"), absl::string_view::npos)
      << r.status();

  // Unanswered: the deadline ends it.
  absl::Time start = absl::Now();
  ASSERT_TRUE(a_->ProbeRtt(ia, 1).ok());
  r = echoes_.Next(TunnelPump::kEchoDeadline + absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("no idle echo round trip in 5s"),
            absl::string_view::npos)
      << r.status();
  EXPECT_GE(absl::Now() - start, TunnelPump::kEchoDeadline);

  // A probe whose connection goes is not reported; none without one.
  ASSERT_TRUE(a_->ProbeRtt(ia, 1).ok());
  a_->Detach(ia);
  EXPECT_EQ(a_->ProbeRtt(ia, 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(echoes_.count(), 2u);
}

TEST_F(TunnelPumpTest, AMalformedControlFrameIsAProtocolError) {
  Pair ta;
  TunnelPump::LinkId ia;
  int peer;
  AttachRaw(&ta, &ia, &peer);
  std::string bad = Control(TunnelControlType::kEchoRequest, 1);
  bad[kTunnelFrameHeaderBytes] = 9;  // no such type
  ASSERT_EQ(write(peer, bad.data(), bad.size()), (ssize_t)bad.size());
  ASSERT_TRUE(da_.WaitFor(1));
  EXPECT_EQ(da_.seen()[0].second.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(da_.seen()[0].second.message().find("unknown type 9"),
            absl::string_view::npos)
      << da_.seen()[0].second;
  EXPECT_EQ(ReadFrame(ta.mine, absl::Milliseconds(50)), "");
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
