// Looking up running processes by pid, so `emuctl local stop` can check that
// a pid recorded in cluster.json still belongs to the daemon it started
// before signalling it (pids are reused).
#ifndef EMU_DEPLOY_PROCESS_TABLE_H_
#define EMU_DEPLOY_PROCESS_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace emu::deploy {

struct ProcessIdentity {
  // Clock ticks after boot at which the process started (/proc/<pid>/stat
  // field 22). Together with the pid it names one process for the life of
  // the machine.
  uint64_t start_time = 0;
  std::vector<std::string> argv;
};

// Read-only view of the machine's processes. Implementations are
// thread-safe.
class ProcessTable {
 public:
  virtual ~ProcessTable() = default;
  // nullopt when there is no such process or it is a zombie.
  virtual std::optional<ProcessIdentity> Lookup(pid_t pid) = 0;
  // Every pid alive at the time of the call, ascending; Lookup may no
  // longer find some of them by the time it is asked.
  virtual std::vector<pid_t> List() = 0;
};

// ProcessTable on /proc. Stateless.
class ProcfsProcessTable : public ProcessTable {
 public:
  std::optional<ProcessIdentity> Lookup(pid_t pid) override;
  std::vector<pid_t> List() override;
};

// Field 22 (starttime) of a /proc/<pid>/stat line; nullopt when malformed or
// when the process is a zombie or dead (state Z, X or x). Handles command
// names containing spaces and parentheses.
std::optional<uint64_t> ParseProcStatStartTime(absl::string_view stat_line);

// Splits /proc/<pid>/cmdline (NUL-separated, usually NUL-terminated).
std::vector<std::string> SplitCmdline(absl::string_view cmdline);

// True when argv[0], or argv[1] for a script started through its
// interpreter ("/bin/sh /x/emu-agent ..."), has basename `binary_name`.
bool ArgvRunsBinary(const std::vector<std::string>& argv,
                    absl::string_view binary_name);

// True when `identity` is the process recorded as (`start_time`,
// `binary_name`). A recorded start_time of 0 (unknown) matches any.
bool IsRecordedProcess(const ProcessIdentity& identity, uint64_t start_time,
                       absl::string_view binary_name);

}  // namespace emu::deploy

#endif  // EMU_DEPLOY_PROCESS_TABLE_H_
