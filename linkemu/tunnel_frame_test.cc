#include "linkemu/tunnel_frame.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "linkemu/tunnel_handshake.h"

namespace emu::linkemu {
namespace {

std::string Frame(const std::string& payload) {
  std::string out(kTunnelFrameHeaderBytes, '\0');
  EncodeTunnelFrameHeader(payload.size(), out.data());
  return out + payload;
}

TEST(TunnelFrameTest, HeaderIsBigEndianLength) {
  char h[4];
  EncodeTunnelFrameHeader(0x01020304, h);
  EXPECT_EQ(std::string(h, 4), std::string("\x01\x02\x03\x04", 4));
}

TEST(TunnelFrameTest, SplitsWholeFramesAndKeepsTheRest) {
  std::string stream = Frame("abc") + Frame(std::string(70000, 'x')) +
                       Frame("tail").substr(0, 6);
  std::vector<std::string> got;
  auto used = ForEachTunnelFrame(
      stream, [&](absl::string_view f) { got.emplace_back(f); });
  ASSERT_TRUE(used.ok()) << used.status();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "abc");
  EXPECT_EQ(got[1].size(), 70000u);
  EXPECT_EQ(*used, 4 + 3 + 4 + 70000u);
}

TEST(TunnelFrameTest, EveryByteBoundaryReassembles) {
  std::string stream = Frame("one") + Frame("second") + Frame("3");
  // Feed the stream in two pieces, split at every position.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    std::string buf = stream.substr(0, cut);
    std::vector<std::string> got;
    auto fn = [&](absl::string_view f) { got.emplace_back(f); };
    auto used = ForEachTunnelFrame(buf, fn);
    ASSERT_TRUE(used.ok());
    buf = buf.substr(*used) + stream.substr(cut);
    used = ForEachTunnelFrame(buf, fn);
    ASSERT_TRUE(used.ok());
    EXPECT_EQ(*used, buf.size()) << "cut " << cut;
    EXPECT_EQ(got, (std::vector<std::string>{"one", "second", "3"}))
        << "cut " << cut;
  }
}

TEST(TunnelFrameTest, ZeroAndOversizeLengthsAreProtocolErrors) {
  std::string zero(4, '\0');
  int calls = 0;
  auto used = ForEachTunnelFrame(Frame("ok") + zero,
                                 [&](absl::string_view) { ++calls; });
  EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);  // the frame before the bad one was delivered
  char big[4];
  EncodeTunnelFrameHeader(kMaxTunnelFrame + 1, big);
  used = ForEachTunnelFrame(std::string(big, 4), [](absl::string_view) {});
  EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument);
}

class HandshakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0);
    timeval tv{1, 0};
    setsockopt(fds_[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fds_[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
  }
  int fds_[2];
};

TEST_F(HandshakeTest, HelloRoundTrips) {
  TunnelHello hello{"lab1", "r1:eth1<->r2:eth1", "secret"};
  ASSERT_TRUE(SendAll(fds_[0], EncodeTunnelHello(hello)).ok());
  auto got = ReadTunnelHello(fds_[1]);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->lab, "lab1");
  EXPECT_EQ(got->link_id, "r1:eth1<->r2:eth1");
  EXPECT_EQ(got->token, "secret");
}

TEST_F(HandshakeTest, RepliesMapToStatusCodes) {
  struct Case {
    TunnelReplyCode code;
    absl::StatusCode want;
  } cases[] = {
      {TunnelReplyCode::kOk, absl::StatusCode::kOk},
      {TunnelReplyCode::kBadToken, absl::StatusCode::kUnauthenticated},
      {TunnelReplyCode::kUnknownLink, absl::StatusCode::kNotFound},
      {TunnelReplyCode::kBadRequest, absl::StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(SendAll(fds_[1], EncodeTunnelReply(c.code, "why")).ok());
    absl::Status s = ReadTunnelReply(fds_[0]);
    EXPECT_EQ(s.code(), c.want) << s;
    if (!s.ok()) {
      EXPECT_NE(s.message().find("why"), absl::string_view::npos);
    }
  }
}

TEST_F(HandshakeTest, RejectsForeignProtocol) {
  ASSERT_TRUE(SendAll(fds_[0], "GET / HTTP/1.1\r\n\r\n").ok());
  EXPECT_EQ(ReadTunnelHello(fds_[1]).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(HandshakeTest, TruncatedHelloIsUnavailable) {
  std::string hello = EncodeTunnelHello({"lab", "link", "tok"});
  ASSERT_TRUE(SendAll(fds_[0], hello.substr(0, hello.size() - 1)).ok());
  shutdown(fds_[0], SHUT_WR);
  EXPECT_EQ(ReadTunnelHello(fds_[1]).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals("a", ""));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace emu::linkemu
