#include "linkemu/tcp_info.h"

// linux/tcp.h, not netinet/tcp.h: glibc's struct tcp_info stops before
// tcpi_min_rtt.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace emu::linkemu {

absl::StatusOr<absl::Duration> TcpMinRtt(int fd) {
  struct tcp_info info;
  std::memset(&info, 0, sizeof(info));
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) {
    const int err = errno;
    if (err == EOPNOTSUPP || err == ENOPROTOOPT || err == ENOTSOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("not a TCP socket (TCP_INFO: ", std::strerror(err), ")"));
    }
    return absl::UnavailableError(
        absl::StrCat("TCP_INFO: ", std::strerror(err)));
  }
  // Older kernels fill less; a minimum of ~0U means "no sample yet".
  if (len < offsetof(struct tcp_info, tcpi_min_rtt) + sizeof(info.tcpi_min_rtt)) {
    return absl::FailedPreconditionError(
        "this kernel's TCP_INFO has no minimum RTT (tcpi_min_rtt)");
  }
  if (info.tcpi_min_rtt == 0 || info.tcpi_min_rtt == UINT32_MAX) {
    return absl::FailedPreconditionError("no RTT sample on the connection yet");
  }
  return absl::Microseconds(info.tcpi_min_rtt);
}

}  // namespace emu::linkemu
