// ProcessUsage from /proc/<pid>/stat (utime + stime) and /proc/<pid>/statm
// (resident pages). The parsers are pure so they are tested on text.
#ifndef EMU_AGENT_STATS_PROC_USAGE_H_
#define EMU_AGENT_STATS_PROC_USAGE_H_

#include "absl/strings/string_view.h"
#include "agent/stats/counter_reader.h"

namespace emu::agent::stats {

// utime + stime in clock ticks from the text of /proc/<pid>/stat (the
// command name in parentheses may hold spaces and parentheses).
absl::StatusOr<uint64_t> ParseStatCpuTicks(absl::string_view stat);
// Resident pages from the text of /proc/<pid>/statm.
absl::StatusOr<uint64_t> ParseStatmResidentPages(absl::string_view statm);

class ProcProcessUsage : public ProcessUsage {
 public:
  absl::StatusOr<ProcessSample> Read(pid_t pid) override;
};

}  // namespace emu::agent::stats

#endif  // EMU_AGENT_STATS_PROC_USAGE_H_
