// TcpMinRtt: the smallest round-trip time the kernel has measured on a TCP
// socket (TCP_INFO's tcpi_min_rtt, Linux 4.10 and later; a windowed
// minimum over net.ipv4.tcp_min_rtt_wlen, 300 s by default). A cross-host
// link's tunnel uses it as the base latency of the network between its two
// hosts (docs/linkemu.md, "Compensating the path's base latency"): the
// kernel takes its samples from ACKs, the three-way handshake's included,
// so a connection has one as soon as it is established, and no userspace
// wake-up is in it.
//
// Stateless; thread-safe.
#ifndef EMU_LINKEMU_TCP_INFO_H_
#define EMU_LINKEMU_TCP_INFO_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace emu::linkemu {

// The minimum RTT of TCP socket `fd`. FAILED_PRECONDITION when `fd` is not
// a TCP socket (the SSH carrier's socketpair) or the kernel has no sample
// yet; the errno otherwise.
absl::StatusOr<absl::Duration> TcpMinRtt(int fd);

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TCP_INFO_H_
