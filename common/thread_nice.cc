#include "common/thread_nice.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

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

absl::Status CheckNiceAllowed(int nice) {
  if (absl::Status s = CheckNice(nice); !s.ok()) return s;
  absl::Status result;
  std::thread probe([&result, nice] { result = SetThreadNice(gettid(), nice); });
  probe.join();
  return result;
}

}  // namespace emu
