// Test helper: one frame read from a TAP-like frame device (a socketpair
// end in the tests), as the tunnel pump writes them.
#ifndef EMU_LINKEMU_TESTING_READ_FRAME_H_
#define EMU_LINKEMU_TESTING_READ_FRAME_H_

#include <poll.h>
#include <unistd.h>

#include <string>

#include "absl/time/time.h"
#include "linkemu/tunnel_frame.h"

namespace emu::linkemu {

// The next frame on `fd`, or "" when none arrives within `timeout`.
inline std::string ReadFrame(int fd,
                             absl::Duration timeout = absl::Seconds(5)) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, absl::ToInt64Milliseconds(timeout)) != 1) return "";
  std::string buf(kMaxTunnelFrame, '\0');
  ssize_t n = read(fd, buf.data(), buf.size());
  return n > 0 ? buf.substr(0, n) : "";
}

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_TESTING_READ_FRAME_H_
