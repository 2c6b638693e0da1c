// Converts errno values to absl::Status with the object named, once, at the
// OS boundary.
#ifndef EMU_COMMON_ERRNO_STATUS_H_
#define EMU_COMMON_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace emu {

// "what: strerror(err)" with a code that keeps retry meaning: EEXIST ->
// ALREADY_EXISTS, ENOENT/ESRCH/ENODEV -> NOT_FOUND, EPERM/EACCES ->
// PERMISSION_DENIED, EINVAL -> INVALID_ARGUMENT, EAGAIN/EBUSY -> UNAVAILABLE,
// anything else INTERNAL.
absl::Status ErrnoToStatus(int err, absl::string_view what);

}  // namespace emu

#endif  // EMU_COMMON_ERRNO_STATUS_H_
