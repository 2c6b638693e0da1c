#include "agent/capture/capture_session.h"

#include <pcap/pcap.h>
#include <stdio.h>

#include <atomic>
#include <string>

#include "agent/capture/testing/fake_packet_source.h"
#include "gtest/gtest.h"

namespace emu::agent::capture {
namespace {

// Frames in a pcapng stream, read by libpcap.
int CountFrames(const std::string& bytes) {
  FILE* f = fmemopen(const_cast<char*>(bytes.data()), bytes.size(), "r");
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_fopen_offline(f, err);
  if (p == nullptr) return -1;
  pcap_pkthdr* h;
  const u_char* d;
  int n = 0;
  while (pcap_next_ex(p, &h, &d) == 1) ++n;
  pcap_close(p);
  return n;
}

class CaptureSessionTest : public ::testing::Test {
 protected:
  std::unique_ptr<CaptureSession> Start(CaptureSession::Options options) {
    auto src = std::make_unique<FakePacketSource>(&shared_);
    source_ = src.get();
    options.poll = absl::Milliseconds(10);
    return std::make_unique<CaptureSession>(std::move(src), options,
                                            [this] { ++notified_; });
  }
  // Takes until the session ends (or the deadline passes).
  std::pair<std::string, CaptureSession::Chunk> Drain(CaptureSession& s) {
    std::string all;
    CaptureSession::Chunk c;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      c = s.Take(1 << 20);
      all += c.pcapng;
      if (c.ended) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return {all, c};
  }

  FakePacketSource::Shared shared_;
  FakePacketSource* source_ = nullptr;
  std::atomic<int> notified_{0};
};

TEST_F(CaptureSessionTest, EndsAfterMaxPacketsAndClosesTheSource) {
  CaptureSession::Options o;
  o.max_packets = 3;
  auto s = Start(o);
  for (int i = 0; i < 5; ++i) source_->Add(std::string(64, 'a' + i), absl::Now());
  auto [all, last] = Drain(*s);
  ASSERT_TRUE(last.ended);
  EXPECT_TRUE(last.status.ok()) << last.status;
  EXPECT_EQ(last.packets, 3u);
  EXPECT_EQ(CountFrames(all), 3);
  EXPECT_TRUE(shared_.closed);  // closed before the end is reported
  EXPECT_GT(notified_, 0);
}

TEST_F(CaptureSessionTest, FullQueueDropsAndCountsInsteadOfWaiting) {
  CaptureSession::Options o;
  // Room for the headers (under 100 bytes) and ten 1000-byte frames' blocks
  // (1032 bytes each), not eleven.
  o.queue_bytes = 100 + 10 * 1040;
  shared_.kernel_drops = 7;
  auto s = Start(o);
  for (int i = 0; i < 50; ++i) source_->Add(std::string(1000, 'x'), absl::Now());
  // Nobody reads: the thread must hand over all 50 anyway (queue or drop).
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (source_->Pending() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(source_->Pending(), 0u);
  s->Stop();
  auto [all, c] = Drain(*s);
  EXPECT_EQ(c.packets, 10u);
  EXPECT_EQ(c.dropped_by_emu, 40u);
  EXPECT_EQ(CountFrames(all), 10);
  EXPECT_EQ(c.dropped_by_kernel, 7u);
  EXPECT_TRUE(c.ended);
}

TEST_F(CaptureSessionTest, StopEndsOkAndClosesTheSource) {
  auto s = Start({});
  source_->Add("frame", absl::Now());
  s->Stop();
  EXPECT_TRUE(shared_.closed);
  auto [all, last] = Drain(*s);
  EXPECT_TRUE(last.ended);
  EXPECT_TRUE(last.status.ok());
  EXPECT_GE(CountFrames(all), 0);  // the headers at least: a valid stream
}

TEST_F(CaptureSessionTest, SourceFailureEndsWithItsStatus) {
  auto s = Start({});
  source_->Fail(absl::UnavailableError("interface went away"));
  auto [all, last] = Drain(*s);
  ASSERT_TRUE(last.ended);
  EXPECT_EQ(last.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CountFrames(all), 0);
}

TEST_F(CaptureSessionTest, TakeCutsWholeBlocks) {
  auto s = Start({});
  for (int i = 0; i < 20; ++i) source_->Add(std::string(500, 'y'), absl::Now());
  std::string all;
  uint64_t taken = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (taken < 20 && absl::Now() < deadline) {
    auto c = s->Take(1200);  // two frames' blocks at most (after the headers)
    EXPECT_LE(c.pcapng.size(), std::max<size_t>(1200, 600));
    all += c.pcapng;
    taken = c.packets;
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(taken, 20u);
  EXPECT_EQ(CountFrames(all), 20);
}

}  // namespace
}  // namespace emu::agent::capture
