// FrameBatchIo on SOCK_SEQPACKET pairs (one record per read, as a TAP gives
// one frame), through io_uring where this kernel has it and through system
// calls, which must behave alike.
#include "linkemu/frame_batch_io.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace emu::linkemu {
namespace {

class FrameBatchIoTest : public ::testing::TestWithParam<FrameBatchIo::Mode> {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, fds_), 0);
    int sndbuf = 4 << 20;  // room for every frame a test queues
    setsockopt(fds_[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
  }
  static std::string Frame(int i) {
    return std::string(10 + i * 37 % 1400, static_cast<char>('a' + i % 26));
  }
  int fds_[2];
};

TEST_P(FrameBatchIoTest, ReadsEveryFrameInOrderThenStops) {
  FrameBatchIo io(GetParam());
  if (GetParam() == FrameBatchIo::Mode::kSyscalls) {
    EXPECT_FALSE(io.batched());
  }
  std::printf("io_uring batches: %s\n", io.batched() ? "yes" : "no");
  constexpr int kFrames = 150;  // more than two full batches
  for (int i = 0; i < kFrames; ++i) {
    std::string f = Frame(i);
    ASSERT_EQ(write(fds_[0], f.data(), f.size()), static_cast<ssize_t>(f.size()));
  }
  std::vector<std::vector<char>> storage(FrameBatchIo::kMaxBatch,
                                         std::vector<char>(2048));
  std::vector<absl::Span<char>> bufs;
  for (auto& s : storage) bufs.emplace_back(s.data(), s.size());
  size_t lens[FrameBatchIo::kMaxBatch];
  std::vector<std::string> got;
  int calls = 0;
  int hint = 1;
  while (true) {
    FrameBatchIo::ReadResult r = io.ReadFrames(fds_[1], bufs, lens, hint);
    ++calls;
    EXPECT_EQ(r.error, 0);
    ASSERT_LE(r.slots, FrameBatchIo::kMaxBatch);
    for (int i = 0; i < r.slots; ++i) {
      if (lens[i] > 0) got.emplace_back(storage[i].data(), lens[i]);
    }
    if (r.frames == 0) break;
    hint = r.frames;
    ASSERT_LT(calls, 20);
  }
  ASSERT_EQ(got.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) EXPECT_EQ(got[i], Frame(i)) << i;
  // 150 frames in batches of at most 64: 3 calls with frames, 1 empty.
  EXPECT_EQ(calls, 4);
}

TEST_P(FrameBatchIoTest, StopsAtTheFirstReadThatFindsNoFrame) {
  FrameBatchIo io(GetParam());
  std::string f = Frame(3);
  ASSERT_GT(write(fds_[0], f.data(), f.size()), 0);
  std::vector<char> a(2048), b(2048);
  std::vector<absl::Span<char>> bufs = {absl::Span<char>(a.data(), a.size()),
                                        absl::Span<char>(b.data(), b.size())};
  size_t lens[2];
  FrameBatchIo::ReadResult r = io.ReadFrames(fds_[1], bufs, lens, 1);
  EXPECT_EQ(r.frames, 1);
  // The first round (1 read) was full, so one more read, which found none.
  EXPECT_EQ(r.slots, 2);
  EXPECT_EQ(lens[1], 0u);
  EXPECT_EQ(std::string(a.data(), lens[0]), f);
}

TEST_P(FrameBatchIoTest, WritesInOrderAcrossAutomaticSubmits) {
  FrameBatchIo io(GetParam());
  constexpr int kFrames = 100;  // more than kMaxBatch: one automatic submit
  std::vector<std::string> frames;
  for (int i = 0; i < kFrames; ++i) frames.push_back(Frame(i));
  for (const auto& f : frames) io.QueueWrite(fds_[0], f.data(), f.size());
  FrameBatchIo::WriteResult w = io.Submit();
  EXPECT_EQ(w.written, kFrames);
  EXPECT_EQ(w.refused, 0);
  EXPECT_EQ(io.queued(), 0);
  char buf[2048];
  for (int i = 0; i < kFrames; ++i) {
    ssize_t n = read(fds_[1], buf, sizeof(buf));
    ASSERT_GT(n, 0) << i;
    EXPECT_EQ(std::string(buf, n), frames[i]) << i;
  }
  EXPECT_EQ(io.Submit().written, 0);  // nothing queued, nothing counted
}

TEST_P(FrameBatchIoTest, RefusedWritesAreCountedAndTheRestWritten) {
  FrameBatchIo io(GetParam());
  int other[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, other), 0);
  close(other[1]);  // writes to other[0] fail (EPIPE)
  std::string f = Frame(1);
  io.QueueWrite(fds_[0], f.data(), f.size());
  io.QueueWrite(other[0], f.data(), f.size());
  io.QueueWrite(fds_[0], f.data(), f.size());
  FrameBatchIo::WriteResult w = io.Submit();
  EXPECT_EQ(w.written, 2);
  EXPECT_EQ(w.refused, 1);
  EXPECT_EQ(w.bytes, 2 * f.size());
  close(other[0]);
}

TEST_P(FrameBatchIoTest, AReadErrorIsReported) {
  FrameBatchIo io(GetParam());
  int fd = dup(fds_[1]);
  close(fd);  // a closed descriptor: EBADF
  std::vector<char> a(64);
  std::vector<absl::Span<char>> bufs = {absl::Span<char>(a.data(), a.size())};
  size_t lens[1];
  FrameBatchIo::ReadResult r = io.ReadFrames(fd, bufs, lens, 1);
  EXPECT_EQ(r.frames, 0);
  EXPECT_EQ(r.error, EBADF);
}

INSTANTIATE_TEST_SUITE_P(Modes, FrameBatchIoTest,
                         ::testing::Values(FrameBatchIo::Mode::kAuto,
                                           FrameBatchIo::Mode::kSyscalls),
                         [](const auto& info) {
                           return info.param == FrameBatchIo::Mode::kAuto
                                      ? std::string("Auto")
                                      : std::string("Syscalls");
                         });

}  // namespace
}  // namespace emu::linkemu
