// TcpMinRtt on real sockets: a loopback TCP connection has a minimum RTT
// once established; a socketpair (the SSH carrier's) has none.
#include "linkemu/tcp_info.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "linkemu/testing/loopback_listener.h"

namespace emu::linkemu {
namespace {

TEST(TcpMinRtt, AnEstablishedLoopbackConnectionHasOne) {
  int port = 0;
  int listener = testing::LoopbackListener(1, &port);
  ASSERT_GE(listener, 0);
  int client = testing::ConnectLoopback(port);
  ASSERT_GE(client, 0);
  int server = accept(listener, nullptr, nullptr);
  ASSERT_GE(server, 0);
  // The dialer's sample is its SYN's answer; the listener's, the ACK of its
  // SYN-ACK. Both are in by the time connect() and accept() return.
  for (int fd : {client, server}) {
    absl::StatusOr<absl::Duration> rtt = TcpMinRtt(fd);
    ASSERT_TRUE(rtt.ok()) << rtt.status();
    EXPECT_GT(*rtt, absl::ZeroDuration());
    EXPECT_LT(*rtt, absl::Seconds(1));
  }
  close(server);
  close(client);
  close(listener);
}

TEST(TcpMinRtt, ASocketpairIsRefusedByName) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  absl::StatusOr<absl::Duration> rtt = TcpMinRtt(sv[0]);
  EXPECT_EQ(rtt.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(rtt.status().message().find("not a TCP socket"), std::string::npos)
      << rtt.status();
  close(sv[0]);
  close(sv[1]);
  EXPECT_FALSE(TcpMinRtt(-1).ok());
}

}  // namespace
}  // namespace emu::linkemu
