#include "agent/stats/proc_usage.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace emu::agent::stats {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<uint64_t> ParseStatCpuTicks(absl::string_view stat) {
  // Fields after the command: state(3) ... utime(14) stime(15).
  size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("stat: no command field");
  }
  std::vector<absl::string_view> f =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  // f[0] is field 3 (state), so field N is f[N - 3].
  uint64_t utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtoi(f[11], &utime) ||
      !absl::SimpleAtoi(f[12], &stime)) {
    return absl::InvalidArgumentError("stat: no utime/stime fields");
  }
  return utime + stime;
}

absl::StatusOr<uint64_t> ParseStatmResidentPages(absl::string_view statm) {
  std::vector<absl::string_view> f =
      absl::StrSplit(statm, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  uint64_t pages = 0;
  if (f.size() < 2 || !absl::SimpleAtoi(f[1], &pages)) {
    return absl::InvalidArgumentError("statm: no resident field");
  }
  return pages;
}

absl::StatusOr<ProcessSample> ProcProcessUsage::Read(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid);
  EMU_ASSIGN_OR_RETURN(std::string stat, ReadFile(dir + "/stat"));
  EMU_ASSIGN_OR_RETURN(std::string statm, ReadFile(dir + "/statm"));
  EMU_ASSIGN_OR_RETURN(uint64_t ticks, ParseStatCpuTicks(stat));
  EMU_ASSIGN_OR_RETURN(uint64_t pages, ParseStatmResidentPages(statm));
  ProcessSample s;
  s.cpu_seconds = static_cast<double>(ticks) / sysconf(_SC_CLK_TCK);
  s.rss_bytes = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  return s;
}

}  // namespace emu::agent::stats
