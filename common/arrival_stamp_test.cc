#include "common/arrival_stamp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace emu {
namespace {

int BoundUdp(sockaddr_in* addr) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    return -1;
  }
  socklen_t len = sizeof(*addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len);
  return fd;
}

TEST(ArrivalStamp, TheKernelsReceiveInstantOrNone) {
  sockaddr_in to{};
  int rx = BoundUdp(&to);
  sockaddr_in from{};
  int tx = BoundUdp(&from);
  ASSERT_GE(rx, 0);
  ASSERT_GE(tx, 0);
  char buf[16] = "probe";
  int64_t at = -1;
  // Nothing waiting: recvmsg's EAGAIN, no stamp.
  EXPECT_LT(RecvWithArrivalStamp(rx, buf, sizeof(buf), &at), 0);
  EXPECT_EQ(at, 0);
  // Without stamps on: the datagram, no stamp.
  ASSERT_EQ(sendto(tx, "a", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            1);
  pollfd p{rx, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(RecvWithArrivalStamp(rx, buf, sizeof(buf), &at), 1);
  EXPECT_EQ(at, 0);
  // With them: a realtime stamp between the send and the end of the read
  // (right after SO_TIMESTAMPNS is turned on the kernel may stamp at the
  // read itself: it enables receive stamps machine-wide a moment later).
  ASSERT_TRUE(EnableArrivalStamps(rx));
  const int64_t before = ArrivalClockNowNs();
  ASSERT_EQ(sendto(tx, "bc", 2, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
            2);
  ASSERT_EQ(poll(&p, 1, 2000), 1);
  EXPECT_EQ(RecvWithArrivalStamp(rx, buf, sizeof(buf), &at), 2);
  const int64_t read_at = ArrivalClockNowNs();
  EXPECT_GE(at, before);
  EXPECT_LE(at, read_at);
  close(rx);
  close(tx);
}

}  // namespace
}  // namespace emu
