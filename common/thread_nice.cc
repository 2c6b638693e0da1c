#include "common/thread_nice.h"

#include <sys/resource.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/errno_status.h"

namespace emu {

absl::Status CheckNice(int nice) {
  if (nice < -20 || nice > 19) {
    return absl::InvalidArgumentError(
        absl::StrCat("nice ", nice, " is outside -20..19"));
  }
  return absl::OkStatus();
}

absl::Status SetThreadNice(pid_t tid, int nice) {
  if (absl::Status s = CheckNice(nice); !s.ok()) return s;
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(tid), nice) != 0) {
    return ErrnoToStatus(errno, absl::StrCat("nice ", nice));
  }
  return absl::OkStatus();
}

}  // namespace emu
