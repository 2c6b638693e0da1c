#include "linkemu/tunnel_frame.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "linkemu/tunnel_handshake.h"

namespace emu::linkemu {
namespace {

std::string Frame(const std::string& payload) {
  std::string out(kTunnelFrameHeaderBytes, '\0');
  EncodeTunnelFrameHeader(payload.size(), out.data());
  return out + payload;
}

std::string Control(TunnelControlType type, uint64_t value) {
  std::string out(kTunnelControlFrameBytes, '\0');
  EncodeTunnelControl({type, value}, out.data());
  return out;
}

// Data frames only: a control frame fails the test.
absl::StatusOr<size_t> DataFrames(absl::string_view bytes,
                                  absl::FunctionRef<void(absl::string_view)> fn) {
  return ForEachTunnelFrame(bytes, fn, [](const TunnelControl& c) {
    ADD_FAILURE() << "control frame of type " << int(c.type);
  });
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
  auto used = DataFrames(
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
    auto used = DataFrames(buf, fn);
    ASSERT_TRUE(used.ok());
    buf = buf.substr(*used) + stream.substr(cut);
    used = DataFrames(buf, fn);
    ASSERT_TRUE(used.ok());
    EXPECT_EQ(*used, buf.size()) << "cut " << cut;
    EXPECT_EQ(got, (std::vector<std::string>{"one", "second", "3"}))
        << "cut " << cut;
  }
}

TEST(TunnelFrameTest, ZeroAndOversizeLengthsAreProtocolErrors) {
  std::string zero(4, '\0');
  int calls = 0;
  auto used = DataFrames(Frame("ok") + zero,
                                 [&](absl::string_view) { ++calls; });
  EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);  // the frame before the bad one was delivered
  char big[4];
  EncodeTunnelFrameHeader(kMaxTunnelFrame + 1, big);
  used = DataFrames(std::string(big, 4), [](absl::string_view) {});
  EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TunnelFrameTest, ControlFramesInterleaveWithDataInStreamOrder) {
  const uint64_t stamp = 0x0102030405060708;
  std::string stream = Frame("a") +
                       Control(TunnelControlType::kEchoRequest, stamp) +
                       Frame("b") + Control(TunnelControlType::kEchoReply, 7);
  EXPECT_EQ(stream.substr(4 + 1, kTunnelControlFrameBytes),
            std::string("\x80\x00\x00\x09\x01\x01\x02\x03\x04\x05\x06\x07"
                        "\x08",
                        13));
  // Split at every position: the same items, in order.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    std::vector<std::string> got;
    auto data = [&](absl::string_view f) { got.push_back(absl::StrCat("d:", f)); };
    auto control = [&](const TunnelControl& c) {
      got.push_back(absl::StrCat("c", int(c.type), ":", c.value));
    };
    std::string buf = stream.substr(0, cut);
    auto used = ForEachTunnelFrame(buf, data, control);
    ASSERT_TRUE(used.ok()) << used.status();
    buf = buf.substr(*used) + stream.substr(cut);
    used = ForEachTunnelFrame(buf, data, control);
    ASSERT_TRUE(used.ok()) << used.status();
    EXPECT_EQ(*used, buf.size());
    EXPECT_EQ(got, (std::vector<std::string>{"d:a", absl::StrCat("c1:", stamp),
                                             "d:b", "c2:7"}))
        << "cut " << cut;
  }
}

TEST(TunnelFrameTest, NoDataFrameLengthCarriesTheControlBit) {
  // The largest data frame and every length up to it leave the top bit
  // clear; the smallest word with it set is above every data length.
  char h[4];
  for (uint32_t len : {1u, 1500u, 65536u + 10u, uint32_t(kMaxTunnelFrame)}) {
    EncodeTunnelFrameHeader(len, h);
    EXPECT_EQ(static_cast<unsigned char>(h[0]) & 0x80, 0) << len;
  }
  EXPECT_GT(kTunnelControlFlag, kMaxTunnelFrame);
}

TEST(TunnelFrameTest, MalformedControlFramesAreProtocolErrors) {
  int data = 0, control = 0;
  auto on_data = [&](absl::string_view) { ++data; };
  auto on_control = [&](const TunnelControl&) { ++control; };
  // The control bit with another length (0, 8, 10, 1500).
  for (uint32_t len : {0u, 8u, 10u, 1500u}) {
    char h[4];
    EncodeTunnelFrameHeader(kTunnelControlFlag | len, h);
    auto used = ForEachTunnelFrame(Frame("ok") + std::string(h, 4) +
                                       std::string(len, 'x'),
                                   on_data, on_control);
    EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument) << len;
    EXPECT_NE(used.status().message().find("control frame of " +
                                           std::to_string(len) + " bytes"),
              absl::string_view::npos)
        << used.status();
  }
  // An unknown type (0, 3, 255).
  for (int type : {0, 3, 255}) {
    std::string c = Control(TunnelControlType::kEchoRequest, 1);
    c[kTunnelFrameHeaderBytes] = static_cast<char>(type);
    auto used = ForEachTunnelFrame(c, on_data, on_control);
    EXPECT_EQ(used.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(used.status().message().find(
                  absl::StrCat("unknown type ", type, " at stream offset +0")),
              absl::string_view::npos)
        << used.status();
  }
  EXPECT_EQ(control, 0);
  EXPECT_EQ(data, 4);  // each "ok" before a bad length word
  // An incomplete control frame waits for the rest.
  std::string c = Control(TunnelControlType::kEchoReply, 5);
  auto used = ForEachTunnelFrame(c.substr(0, 12), on_data, on_control);
  ASSERT_TRUE(used.ok());
  EXPECT_EQ(*used, 0u);
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

TEST_F(HandshakeTest, AnotherVersionIsRefusedNamingBoth) {
  // A version-1 agent's hello (no control frames): refused before any
  // frame, with one message naming both versions.
  std::string hello = EncodeTunnelHello({"lab", "link", "tok"});
  ASSERT_EQ(hello[6], static_cast<char>(kTunnelProtocolVersion));
  EXPECT_EQ(kTunnelProtocolVersion, 2);
  hello[6] = 1;
  ASSERT_TRUE(SendAll(fds_[0], hello).ok());
  absl::Status s = ReadTunnelHello(fds_[1]).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "tunnel handshake: the dialing agent speaks tunnel protocol "
            "version 1, this agent version 2: run the same emu release on "
            "both hosts");
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
