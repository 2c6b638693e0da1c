#include "common/arrival_stamp.h"

#include <sys/socket.h>
#include <time.h>

#include <cstring>

namespace emu {

int64_t ArrivalClockNowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool EnableArrivalStamps(int fd) {
  int on = 1;
  return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) == 0;
}

ssize_t RecvWithArrivalStamp(int fd, void* buf, size_t len,
                             int64_t* arrival_ns) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + 64];
  iovec iov{buf, len};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  *arrival_ns = 0;
  const ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      *arrival_ns = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    }
  }
  return n;
}

}  // namespace emu
