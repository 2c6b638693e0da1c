// Minimal timestamped logging to stderr for the daemons (Debian's Abseil has
// no absl/log). Daemons log one line per event; systemd or the local
// cluster's log files keep them.
#ifndef EMU_COMMON_LOG_H_
#define EMU_COMMON_LOG_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace emu {

// Thread-safe: one fprintf per line.
template <typename... Args>
void Log(const Args&... args) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3S ", absl::Now(), absl::UTCTimeZone()),
      args..., "\n");
  std::fputs(line.c_str(), stderr);
}

}  // namespace emu

#endif  // EMU_COMMON_LOG_H_
