// A listening TCP socket on 127.0.0.1 and an ephemeral port, for tests
// that need a real peer (the tunnel's TCP, ssh -W's target).
#ifndef EMU_LINKEMU_TESTING_LOOPBACK_LISTENER_H_
#define EMU_LINKEMU_TESTING_LOOPBACK_LISTENER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace emu::linkemu::testing {

// The listening fd (its port in *port), or -1. `backlog` 0 makes a queue
// that fills with one connection: later SYNs go unanswered.
inline int LoopbackListener(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

// A connected socket to 127.0.0.1:`port` (blocking connect), or -1.
inline int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace emu::linkemu::testing

#endif  // EMU_LINKEMU_TESTING_LOOPBACK_LISTENER_H_
