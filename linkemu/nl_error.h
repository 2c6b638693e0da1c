// Converts libnl failures into absl::Status, once, at the netlink boundary.
//
// libnl folds the kernel's errno into its own NLE_* codes and drops the
// kernel's extended-ack text ("Specified qdisc kind is unknown"). An
// NlErrorCapture, installed on a socket for the duration of a request,
// records both, so the Status carries the real cause.
#ifndef EMU_LINKEMU_NL_ERROR_H_
#define EMU_LINKEMU_NL_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

struct nl_sock;

namespace emu::linkemu {

// "what: nl_geterror(nl_err)" with a code that keeps retry meaning:
// NLE_EXIST -> ALREADY_EXISTS; NLE_OBJ_NOTFOUND, NLE_NODEV -> NOT_FOUND;
// NLE_PERM, NLE_NOACCESS -> PERMISSION_DENIED; NLE_INVAL, NLE_RANGE,
// NLE_MISSING_ATTR -> INVALID_ARGUMENT; NLE_BUSY, NLE_AGAIN ->
// UNAVAILABLE; NLE_OPNOTSUPP -> UNIMPLEMENTED; else INTERNAL.
// `nl_err` may be negative (as libnl returns it) or positive.
absl::Status NlErrorToStatus(int nl_err, absl::string_view what);

// Records the kernel's errno and extended-ack message of the first error
// reply on `sock` while it lives (it enables NETLINK_EXT_ACK on the socket
// and installs libnl's error callback; the destructor restores libnl's
// default callback). libnl's own return codes are unchanged.
//
// Not thread-safe; the socket must not be used by another thread while a
// capture is installed (nl_sock is not thread-safe anyway). Does not own
// the socket.
class NlErrorCapture {
 public:
  explicit NlErrorCapture(nl_sock* sock);
  ~NlErrorCapture();
  NlErrorCapture(const NlErrorCapture&) = delete;
  NlErrorCapture& operator=(const NlErrorCapture&) = delete;

  // Forget what was recorded (before the next request).
  void Reset();
  int kernel_errno() const { return errno_; }          // 0 = none seen
  const std::string& kernel_message() const { return message_; }

  // The Status for a libnl failure `nl_err` (0 -> OK): when the kernel's
  // errno was recorded, "what: strerror(errno) (extack text)" with the code
  // of emu::ErrnoToStatus; otherwise NlErrorToStatus(nl_err, what).
  absl::Status ToStatus(int nl_err, absl::string_view what) const;

 private:
  friend struct NlErrorCaptureAccess;  // the libnl callback, in the .cc

  nl_sock* const sock_;
  int errno_ = 0;
  std::string message_;
};

}  // namespace emu::linkemu

#endif  // EMU_LINKEMU_NL_ERROR_H_
